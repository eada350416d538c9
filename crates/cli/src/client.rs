//! Connections to the services. Each service gets one function here as its subcommands
//! are added (intake now; routing, control, reception, reporting later).

use std::time::Duration;

use std::sync::OnceLock;

use anyhow::Result;
use bakylau_platform::tls::ClientTlsSettings;
use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::error::{Unreachable, usage};

/// Appeals carry attachments up to 25 MB in all; leave room for encoding overhead.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline of one call; the server sees it and stops work past it.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The caller's bearer token (`BAKYLAU_TOKEN` or `--token-file`), set once at start.
static TOKEN: OnceLock<MetadataValue<Ascii>> = OnceLock::new();

/// Sets the token every call carries; an error when it is not valid metadata.
pub fn set_token(token: &str) -> Result<()> {
    let value: MetadataValue<Ascii> = format!("Bearer {}", token.trim())
        .parse()
        .map_err(|_| usage("the token has characters a token cannot have"))?;
    let _ = TOKEN.set(value);
    Ok(())
}

/// TLS for every connection (`--tls-ca`, `--tls-cert`, `--tls-key`), set once at start.
static TLS: OnceLock<ClientTlsSettings> = OnceLock::new();

pub fn set_tls(g: &crate::Global) {
    let _ = TLS.set(ClientTlsSettings {
        ca_file: g.tls_ca.clone(),
        cert_file: g.tls_cert.clone(),
        key_file: g.tls_key.clone(),
        domain: None,
    });
}

/// Puts the caller's bearer token on every call of a client.
#[derive(Debug, Clone, Copy)]
pub struct Bearer;

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = TOKEN.get() {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

/// A channel whose calls carry the caller's token.
pub type Authed = InterceptedService<Channel, Bearer>;

pub type Intake = IntakeServiceClient<Authed>;

pub async fn intake(addr: &str) -> Result<Intake> {
    let channel = channel("intake", addr).await?;
    Ok(IntakeServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

/// A channel to `service` at `addr` with the usual timeouts, its calls carrying the token.
pub async fn channel(service: &'static str, addr: &str) -> Result<Authed> {
    let channel = connect(service, addr, CONNECT_TIMEOUT, CALL_TIMEOUT).await?;
    Ok(InterceptedService::new(channel, Bearer))
}

/// A request to a service. Who is calling is the bearer token's (verified by the service),
/// which the channel adds; nothing in the request itself names the caller.
pub fn request<T>(message: T, _g: &crate::Global) -> tonic::Request<T> {
    tonic::Request::new(message)
}

/// A channel to `service` at `addr`; a failure to connect is an [`Unreachable`].
pub async fn connect(
    service: &'static str,
    addr: &str,
    connect_timeout: Duration,
    call_timeout: Duration,
) -> Result<Channel> {
    let uri = normalize_addr(addr);
    let tls = TLS.get_or_init(ClientTlsSettings::default);
    if tonic::transport::Endpoint::from_shared(uri.clone()).is_err() {
        return Err(usage(format!(
            "--{service}: {addr:?} is not an address like http://127.0.0.1:50051"
        )));
    }
    let endpoint = bakylau_platform::tls::endpoint(&uri, tls)
        .map_err(|e| usage(format!("--{service}: {e}")))?
        .connect_timeout(connect_timeout)
        .timeout(call_timeout);
    endpoint.connect().await.map_err(|e| {
        Unreachable {
            service,
            addr: uri,
            detail: connect_failure(&e),
        }
        .into()
    })
}

/// `127.0.0.1:50051` → `http://127.0.0.1:50051`; an address with a scheme is kept.
pub fn normalize_addr(addr: &str) -> String {
    let addr = addr.trim().trim_end_matches('/');
    if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    }
}

/// The innermost cause of a failed connect, in plain words where we know it.
fn connect_failure(e: &tonic::transport::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    let mut last = e.to_string();
    while let Some(next) = cause.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::TimedOut => return "timed out".into(),
                _ => {}
            }
        }
        last = next.to_string();
        cause = next;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_a_scheme() {
        assert_eq!(normalize_addr("127.0.0.1:50051"), "http://127.0.0.1:50051");
        assert_eq!(
            normalize_addr("http://intake:50051/"),
            "http://intake:50051"
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_reported_as_unreachable() {
        // Bind and drop a listener to find a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let err = intake(&addr).await.unwrap_err();
        let u = err.downcast_ref::<Unreachable>().expect("unreachable");
        assert_eq!(u.addr, format!("http://127.0.0.1:{port}"));
        assert_eq!(u.detail, "connection refused");
    }
}
