//! TLS for gRPC (issue 10): a service serves TLS when given a certificate and key, and
//! demands client certificates from its CA (mutual TLS) when given one; its own calls to
//! other services use TLS when the address is `https://` or a CA is configured, and present
//! its certificate when one is configured. Without settings, plaintext (the local stack).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Settings(String),
    #[error("TLS: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// How this service serves TLS. Both `cert_file` and `key_file`, or neither.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerTlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, SEC1 or PKCS#1).
    pub key_file: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate signed by this CA (PEM).
    pub client_ca_file: Option<PathBuf>,
}

/// How this service calls others over TLS.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientTlsSettings {
    /// CA that signed the other services' certificates (PEM); without it, the system's
    /// roots.
    pub ca_file: Option<PathBuf>,
    /// This service's client certificate and key, for servers that demand mutual TLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Name expected in the server's certificate, when not the address's host.
    pub domain: Option<String>,
}

pub(crate) fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

fn identity(cert: Option<&PathBuf>, key: Option<&PathBuf>) -> Result<Option<Identity>, TlsError> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(Identity::from_pem(
            read_file("certificate", cert)?,
            read_file("private key", key)?,
        ))),
        (None, None) => Ok(None),
        _ => Err(TlsError::Settings(
            "cert_file and key_file go together".into(),
        )),
    }
}

/// The server's TLS configuration, or `None` for plaintext.
pub fn server_config(settings: &ServerTlsSettings) -> Result<Option<ServerTlsConfig>, TlsError> {
    let Some(identity) = identity(settings.cert_file.as_ref(), settings.key_file.as_ref())? else {
        if settings.client_ca_file.is_some() {
            return Err(TlsError::Settings(
                "client_ca_file (mutual TLS) needs cert_file and key_file".into(),
            ));
        }
        return Ok(None);
    };
    let mut config = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = &settings.client_ca_file {
        config = config.client_ca_root(Certificate::from_pem(read_file("client CA", ca)?));
    }
    Ok(Some(config))
}

/// Whether calls to `addr` go over TLS: an `https://` address, or a configured CA.
pub fn uses_tls(addr: &str, settings: &ClientTlsSettings) -> bool {
    addr.starts_with("https://") || settings.ca_file.is_some()
}

/// An endpoint for `addr` (`http://host:port` or `https://host:port`), with TLS per
/// [`uses_tls`]. An `http://` address with a CA configured is dialled as `https://`.
pub fn endpoint(addr: &str, settings: &ClientTlsSettings) -> Result<Endpoint, TlsError> {
    let tls = uses_tls(addr, settings);
    let addr = match addr.strip_prefix("http://") {
        Some(rest) if tls => format!("https://{rest}"),
        _ => addr.to_owned(),
    };
    let endpoint = Endpoint::from_shared(addr.clone())
        .map_err(|_| TlsError::Settings(format!("{addr:?} is not an address")))?
        .connect_timeout(Duration::from_secs(5));
    if !tls {
        return Ok(endpoint);
    }
    let mut config = ClientTlsConfig::new();
    config = match &settings.ca_file {
        Some(ca) => config.ca_certificate(Certificate::from_pem(read_file("CA", ca)?)),
        None => config.with_native_roots(),
    };
    if let Some(identity) = identity(settings.cert_file.as_ref(), settings.key_file.as_ref())? {
        config = config.identity(identity);
    }
    if let Some(domain) = &settings.domain {
        config = config.domain_name(domain.clone());
    }
    Ok(endpoint.tls_config(config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_settings_everything_is_plaintext() {
        assert!(
            server_config(&ServerTlsSettings::default())
                .unwrap()
                .is_none()
        );
        let plain = ClientTlsSettings::default();
        assert!(!uses_tls("http://intake:50051", &plain));
        assert!(uses_tls("https://intake:50051", &plain));
    }

    #[test]
    fn a_certificate_needs_its_key_and_mutual_tls_needs_both() {
        let half = ServerTlsSettings {
            cert_file: Some("server.pem".into()),
            ..Default::default()
        };
        assert!(matches!(server_config(&half), Err(TlsError::Settings(_))));
        let ca_only = ServerTlsSettings {
            client_ca_file: Some("ca.pem".into()),
            ..Default::default()
        };
        assert!(matches!(
            server_config(&ca_only),
            Err(TlsError::Settings(_))
        ));
    }

    #[test]
    fn a_missing_file_is_named() {
        let settings = ServerTlsSettings {
            cert_file: Some("/nonexistent/server.pem".into()),
            key_file: Some("/nonexistent/server.key".into()),
            client_ca_file: None,
        };
        let e = server_config(&settings).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/server.pem"), "{e}");
    }

    #[test]
    fn a_configured_ca_turns_an_http_address_into_tls() {
        let settings = ClientTlsSettings {
            ca_file: Some(
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/keys/tls/ca.pem").into(),
            ),
            ..Default::default()
        };
        let e = endpoint("http://127.0.0.1:50051", &settings).unwrap();
        assert_eq!(e.uri().scheme_str(), Some("https"));
    }
}
