//! Layered configuration: compiled defaults < `config/<service>.toml` < environment
//! `BAKYLAU_<SERVICE>__SECTION__KEY`. Secrets come only from the environment or from files
//! named by `*_file` keys, never from the repository.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("secret file {path}: {source}")]
    SecretFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Reads the settings of `service` (e.g. `intake`) over the compiled `defaults`.
/// The folder of the files is `BAKYLAU_CONFIG_DIR`, or `./config`.
pub fn load<T>(service: &str, defaults: &T) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned,
{
    let dir = std::env::var_os("BAKYLAU_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("config"));
    load_from(service, defaults, &dir)
}

pub fn load_from<T>(service: &str, defaults: &T, dir: &Path) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned,
{
    let prefix = format!("BAKYLAU_{}", service.to_uppercase());
    let settings = config::Config::builder()
        .add_source(config::Config::try_from(defaults)?)
        .add_source(config::File::from(dir.join(format!("{service}.toml"))).required(false))
        .add_source(
            config::Environment::with_prefix(&prefix)
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("broker.retry_delays_ms")
                .try_parsing(true),
        )
        .build()?;
    Ok(settings.try_deserialize()?)
}

/// Postgres settings. The password is taken from `password_file` when set, so Kubernetes
/// secrets mounted as files never pass through the environment or the repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    pub url: String,
    pub password_file: Option<PathBuf>,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "postgres://postgres@127.0.0.1:5432/bakylau".into(),
            password_file: None,
            max_connections: 16,
            min_connections: 1,
            acquire_timeout_ms: 5_000,
        }
    }
}

impl DatabaseSettings {
    pub fn password(&self) -> Result<Option<String>, ConfigError> {
        read_secret(self.password_file.as_deref())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BrokerSettings {
    /// `amqp://user:pass@host:5672/vhost`; credentials from the environment in production.
    pub url: String,
    pub password_file: Option<PathBuf>,
    /// Unacknowledged deliveries a consumer holds at once.
    pub prefetch: u16,
    /// Deliveries a consumer applies at once (messages about one appeal stay in order);
    /// at most `prefetch`.
    pub concurrency: u16,
    /// Deliveries waiting on one lane that are applied in one transaction at most.
    pub consumer_batch: u16,
    /// Back-off before each retry of a failed message; after the last one it is parked.
    pub retry_delays_ms: Vec<u64>,
    /// Messages the outbox relay publishes per batch.
    pub relay_batch: u32,
    pub confirm_timeout_ms: u64,
    /// Largest AMQP frame asked of the broker (bytes; larger messages go in several frames).
    /// lapin keeps two buffers of 32 frames per connection, so RabbitMQ's 128 KiB default
    /// would hold 8 MiB per connection; 16 KiB holds 1 MiB. A `frame_max` in the URL wins.
    pub frame_max: u32,
    /// TLS for an `amqps://` URL: an extra CA, and a client certificate for mutual TLS.
    pub tls: crate::broker::BrokerTlsSettings,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        Self {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            password_file: None,
            prefetch: 256,
            concurrency: 16,
            consumer_batch: 32,
            retry_delays_ms: vec![1_000, 5_000, 30_000],
            relay_batch: 256,
            confirm_timeout_ms: 10_000,
            frame_max: crate::broker::DEFAULT_FRAME_MAX,
            tls: Default::default(),
        }
    }
}

impl BrokerSettings {
    /// The URL with the password from `password_file` put in, when one is configured.
    pub fn effective_url(&self) -> Result<String, ConfigError> {
        match read_secret(self.password_file.as_deref())? {
            None => Ok(self.url.clone()),
            Some(password) => Ok(with_password(&self.url, &password)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct GrpcSettings {
    pub listen: String,
    /// Largest request a client may send, in bytes.
    pub max_message_bytes: usize,
    /// Server-side ceiling on any call's time, whatever deadline the client gave.
    pub request_timeout_ms: u64,
    /// How callers' bearer tokens are verified (required; see `auth`).
    pub auth: crate::auth::AuthSettings,
    /// This service's own token for calls to other services.
    pub identity: crate::auth::IdentitySettings,
    /// TLS for this server (mutual TLS with `client_ca_file`); plaintext when unset.
    pub tls: crate::tls::ServerTlsSettings,
    /// TLS for this service's calls to other services.
    pub client_tls: crate::tls::ClientTlsSettings,
}

impl GrpcSettings {
    pub fn with_listen(listen: &str) -> Self {
        Self {
            listen: listen.into(),
            max_message_bytes: 32 * 1024 * 1024,
            request_timeout_ms: 30_000,
            auth: Default::default(),
            identity: Default::default(),
            tls: Default::default(),
            client_tls: Default::default(),
        }
    }
}

impl Default for GrpcSettings {
    fn default() -> Self {
        Self::with_listen("127.0.0.1:50051")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsSettings {
    /// Prometheus scrape endpoint (`/metrics`); empty disables it.
    pub listen: String,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9101".into(),
        }
    }
}

pub(crate) fn read_secret(path: Option<&Path>) -> Result<Option<String>, ConfigError> {
    let Some(path) = path else { return Ok(None) };
    std::fs::read_to_string(path)
        .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_owned()))
        .map_err(|source| ConfigError::SecretFile {
            path: path.to_owned(),
            source,
        })
}

/// Puts `password` into the userinfo of a URL like `scheme://user@host/...`.
fn with_password(url: &str, password: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split(':').next().unwrap_or_default();
    let encoded: String = password
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{scheme}://{user}:{encoded}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(default)]
    struct Sample {
        name: String,
        broker: BrokerSettings,
    }

    impl Default for Sample {
        fn default() -> Self {
            Self {
                name: "compiled".into(),
                broker: BrokerSettings::default(),
            }
        }
    }

    #[test]
    fn file_overrides_defaults_and_env_overrides_file() {
        let dir = std::env::temp_dir().join(format!("bakylau-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("sampletest.toml"),
            "name = \"from-file\"\n[broker]\nprefetch = 7\n",
        )
        .unwrap();
        let loaded: Sample = load_from("sampletest", &Sample::default(), &dir).unwrap();
        assert_eq!(loaded.name, "from-file");
        assert_eq!(loaded.broker.prefetch, 7);
        assert_eq!(loaded.broker.relay_batch, 256);

        // SAFETY: the variable name is unique to this test.
        unsafe { std::env::set_var("BAKYLAU_SAMPLEENV__BROKER__PREFETCH", "9") };
        unsafe { std::env::set_var("BAKYLAU_SAMPLEENV__BROKER__RETRY_DELAYS_MS", "10,20") };
        std::fs::copy(dir.join("sampletest.toml"), dir.join("sampleenv.toml")).unwrap();
        let loaded: Sample = load_from("sampleenv", &Sample::default(), &dir).unwrap();
        assert_eq!(loaded.broker.prefetch, 9);
        assert_eq!(loaded.broker.retry_delays_ms, vec![10, 20]);
        assert_eq!(loaded.name, "from-file");
    }

    #[test]
    fn password_is_put_into_the_url_percent_encoded() {
        assert_eq!(
            with_password("amqp://intake@rmq:5672/%2f", "p@ss:w"),
            "amqp://intake:p%40ss%3Aw@rmq:5672/%2f"
        );
        assert_eq!(with_password("amqp://rmq:5672", "x"), "amqp://rmq:5672");
    }

    #[test]
    fn missing_secret_file_is_an_error_naming_it() {
        let s = DatabaseSettings {
            password_file: Some("/nonexistent/secret".into()),
            ..Default::default()
        };
        let err = s.password().unwrap_err().to_string();
        assert!(err.contains("/nonexistent/secret"), "{err}");
    }
}
