//! RabbitMQ: connections that come back after a broker restart, the shared topology,
//! publishing with confirms, the transactional outbox relay and the idempotent inbox
//! consumer with bounded, backed-off retries and a parking queue.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::health::Readiness;
use crate::tls::{TlsError, read_file};

pub mod consumer;
pub mod outbox;

pub use consumer::{Consumer, Handler, HandlerError, IncomingMessage, receive_span};
pub use outbox::{OutboxMessage, OutboxRelay, enqueue, enqueue_all};

/// Domain events, routing key = event type.
pub const EVENTS_EXCHANGE: &str = "bakylau.events";
/// Appeals from other government systems (the inbound contract).
pub const INBOUND_EXCHANGE: &str = "bakylau.inbound";
/// Status updates back to the systems that sent appeals.
pub const OUTBOUND_EXCHANGE: &str = "bakylau.outbound";
/// Where failed messages go to be parked in `<queue>.parked`.
pub const DEAD_LETTER_EXCHANGE: &str = "bakylau.dlx";
/// Alternate exchange of `bakylau.events`: an event no queue is bound to yet is kept here
/// rather than returned to the publisher and retried forever.
pub const UNROUTED_EXCHANGE: &str = "bakylau.unrouted";

pub const CONTENT_TYPE_PROTOBUF: &str = "application/x-protobuf";
pub const CONTENT_TYPE_CLOUDEVENTS: &str = "application/cloudevents+json";

/// Header names this platform adds to messages.
pub mod headers {
    pub const ATTEMPT: &str = "x-bakylau-attempt";
    pub const LAST_ERROR: &str = "x-bakylau-last-error";
    pub const PARK_REASON: &str = "x-bakylau-park-reason";
    pub const PARKED_AT: &str = "x-bakylau-parked-at";
    pub const ORIGINAL_ROUTING_KEY: &str = "x-bakylau-original-routing-key";
    pub const ORIGINAL_EXCHANGE: &str = "x-bakylau-original-exchange";
    /// The broker user that first published a message, kept by the consumer when it
    /// republishes it for a retry (and trusted only on messages the service itself
    /// published: see `IncomingMessage::sender`).
    pub const SENDER: &str = "x-bakylau-sender";
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("broker nacked the message")]
    Nacked,
    #[error("message was unroutable (returned by the broker)")]
    Unroutable,
    #[error("no publisher confirm within {0:?}")]
    Timeout(Duration),
}

/// TLS to the broker, used for `amqps://` URLs (an `amqp://` URL stays plaintext). The
/// broker's certificate must chain to the system's roots or to `ca_file`, and name the
/// URL's host.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BrokerTlsSettings {
    /// CA (PEM) that signed the broker's certificate, trusted besides the system's roots.
    pub ca_file: Option<PathBuf>,
    /// This service's client certificate (PEM) and key (PEM, PKCS#8, SEC1 or PKCS#1), for
    /// a broker that demands them (mutual TLS). Both or neither.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl BrokerTlsSettings {
    /// lapin's TLS configuration: the files read once, here, so a missing file stops the
    /// service at start rather than at every reconnect.
    pub fn config(&self) -> Result<OwnedTLSConfig, TlsError> {
        let cert_chain = match &self.ca_file {
            Some(ca) => Some(
                String::from_utf8(read_file("CA", ca)?)
                    .map_err(|_| TlsError::Settings("the CA file is not PEM (not UTF-8)".into()))?,
            ),
            None => None,
        };
        let identity = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Some(OwnedIdentity::PKCS8 {
                pem: read_file("certificate", cert)?,
                key: read_file("private key", key)?,
            }),
            (None, None) => None,
            _ => {
                return Err(TlsError::Settings(
                    "cert_file and key_file go together".into(),
                ));
            }
        };
        Ok(OwnedTLSConfig {
            identity,
            cert_chain,
        })
    }
}

/// The AMQP frame size the services ask for unless configured otherwise
/// (`broker.frame_max`).
pub const DEFAULT_FRAME_MAX: u32 = 16_384;

/// Where and how to reach the broker. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    url: String,
    service: &'static str,
    tls: Arc<OwnedTLSConfig>,
    frame_max: u32,
}

impl Broker {
    /// A broker at `url`; an `amqps://` URL trusts the system's roots only (see
    /// [`Broker::with_tls`]).
    pub fn new(url: impl Into<String>, service: &'static str) -> Self {
        Self {
            url: url.into(),
            service,
            tls: Arc::default(),
            frame_max: DEFAULT_FRAME_MAX,
        }
    }

    /// The broker of `settings`: its URL with the password put in, and its TLS settings.
    pub fn from_settings(
        settings: &crate::config::BrokerSettings,
        service: &'static str,
    ) -> Result<Self, crate::config::ConfigError> {
        Ok(Self::new(settings.effective_url()?, service)
            .with_tls(settings.tls.config()?)
            .with_frame_max(settings.frame_max))
    }

    /// Asks the broker for frames of at most `frame_max` bytes, unless the URL names its own.
    pub fn with_frame_max(mut self, frame_max: u32) -> Self {
        self.frame_max = frame_max;
        self
    }

    /// Uses `tls` for `amqps://` URLs.
    pub fn with_tls(mut self, tls: OwnedTLSConfig) -> Self {
        self.tls = Arc::new(tls);
        self
    }

    /// The broker user this service connects as (`guest` when the URL names none).
    pub fn user(&self) -> String {
        self.url
            .parse::<lapin::uri::AMQPUri>()
            .map(|u| u.authority.userinfo.username)
            .unwrap_or_else(|_| "guest".into())
    }

    /// One connection attempt: TLS per the URL's scheme (`amqps://`) with this broker's
    /// TLS settings.
    pub async fn try_connect(&self, purpose: &str) -> Result<Connection, lapin::Error> {
        let props = ConnectionProperties::default().with_connection_name(LongString::from(
            format!("bakylau-{}:{purpose}", self.service),
        ));
        let mut uri: lapin::uri::AMQPUri = self
            .url
            .parse()
            .map_err(|e: String| lapin::Error::from(std::io::Error::other(e)))?;
        uri.query.frame_max.get_or_insert(self.frame_max);
        let runtime = lapin::runtime::default_runtime()?;
        Connection::connect_uri_with_config(uri, props, (*self.tls).clone(), runtime).await
    }

    /// Connects, retrying with capped exponential back-off until it succeeds or `shutdown`
    /// fires (then `None`). Each long-lived component owns its connection and calls this
    /// again when the connection drops: that is how it recovers from a broker restart.
    pub async fn connect(&self, purpose: &str, shutdown: &CancellationToken) -> Option<Connection> {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.try_connect(purpose).await {
                Ok(conn) => return Some(conn),
                Err(e) => {
                    tracing::warn!(purpose, error = %e, retry_in_ms = delay.as_millis() as u64, "broker unreachable");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(3));
        }
    }
}

/// Declares the exchanges every service relies on. Idempotent; all services declare them
/// with the same arguments.
pub async fn declare_exchanges(ch: &Channel) -> Result<(), lapin::Error> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.exchange_declare(
        UNROUTED_EXCHANGE.into(),
        ExchangeKind::Fanout,
        durable,
        FieldTable::default(),
    )
    .await?;
    let mut unrouted_args = FieldTable::default();
    unrouted_args.insert("x-queue-type".into(), long_string("quorum"));
    ch.queue_declare(
        UNROUTED_EXCHANGE.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        unrouted_args,
    )
    .await?;
    ch.queue_bind(
        UNROUTED_EXCHANGE.into(),
        UNROUTED_EXCHANGE.into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut events_args = FieldTable::default();
    events_args.insert("alternate-exchange".into(), long_string(UNROUTED_EXCHANGE));
    ch.exchange_declare(
        EVENTS_EXCHANGE.into(),
        ExchangeKind::Topic,
        durable,
        events_args.clone(),
    )
    .await?;
    ch.exchange_declare(
        INBOUND_EXCHANGE.into(),
        ExchangeKind::Topic,
        durable,
        FieldTable::default(),
    )
    .await?;
    // A status update for a sender that has not bound its queue yet waits in
    // `bakylau.unrouted` for an operator instead of being lost or retried forever.
    ch.exchange_declare(
        OUTBOUND_EXCHANGE.into(),
        ExchangeKind::Topic,
        durable,
        events_args,
    )
    .await?;
    ch.exchange_declare(
        DEAD_LETTER_EXCHANGE.into(),
        ExchangeKind::Direct,
        durable,
        FieldTable::default(),
    )
    .await?;
    Ok(())
}

/// A consuming service's queue: `<service>.<purpose>`, quorum, with its retry queues and
/// its parking queue.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    pub name: String,
    /// `(exchange, binding key)` pairs.
    pub bindings: Vec<(String, String)>,
    /// Back-off before each retry; one retry queue per step. After the last, parked.
    pub retry_delays_ms: Vec<u64>,
    /// Deliveries after which the broker itself dead-letters a message that keeps crashing
    /// its consumer before the ack (a safety net under the retries above).
    pub delivery_limit: u32,
}

impl QueueSpec {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            bindings: Vec::new(),
            retry_delays_ms: vec![1_000, 5_000, 30_000],
            delivery_limit: 20,
        }
    }

    pub fn bind(mut self, exchange: &str, key: &str) -> Self {
        self.bindings.push((exchange.into(), key.into()));
        self
    }

    pub fn retry_delays(mut self, delays_ms: &[u64]) -> Self {
        self.retry_delays_ms = delays_ms.to_vec();
        self
    }

    pub fn parked_queue(&self) -> String {
        format!("{}.parked", self.name)
    }

    pub fn retry_queue(&self, step: usize) -> String {
        format!("{}.retry.{}", self.name, step + 1)
    }
}

/// Declares the queue, its bindings, its retry queues (TTL, dead-lettered back to the
/// queue through the default exchange) and `<queue>.parked` bound to `bakylau.dlx`.
pub async fn declare_queue(ch: &Channel, spec: &QueueSpec) -> Result<(), lapin::Error> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    args.insert(
        "x-dead-letter-exchange".into(),
        long_string(DEAD_LETTER_EXCHANGE),
    );
    args.insert("x-dead-letter-routing-key".into(), long_string(&spec.name));
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(spec.delivery_limit as i32),
    );
    ch.queue_declare(spec.name.as_str().into(), durable, args)
        .await?;
    for (exchange, key) in &spec.bindings {
        ch.queue_bind(
            spec.name.as_str().into(),
            exchange.as_str().into(),
            key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    for (step, delay) in spec.retry_delays_ms.iter().enumerate() {
        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), long_string("quorum"));
        args.insert(
            "x-message-ttl".into(),
            AMQPValue::LongLongInt(*delay as i64),
        );
        args.insert("x-dead-letter-exchange".into(), long_string(""));
        args.insert("x-dead-letter-routing-key".into(), long_string(&spec.name));
        ch.queue_declare(spec.retry_queue(step).as_str().into(), durable, args)
            .await?;
    }
    let mut parked_args = FieldTable::default();
    parked_args.insert("x-queue-type".into(), long_string("quorum"));
    ch.queue_declare(spec.parked_queue().as_str().into(), durable, parked_args)
        .await?;
    ch.queue_bind(
        spec.parked_queue().as_str().into(),
        DEAD_LETTER_EXCHANGE.into(),
        spec.name.as_str().into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    Ok(())
}

/// A channel in confirm mode.
pub async fn confirm_channel(conn: &Connection) -> Result<Channel, lapin::Error> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(ch)
}

/// Publishes persistently and mandatorily, and waits for the broker's confirm: only an ack
/// without a returned message counts as delivered.
pub async fn publish_confirmed(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
    payload: &[u8],
    properties: BasicProperties,
    timeout: Duration,
) -> Result<(), PublishError> {
    let confirm = ch
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            payload,
            properties.with_delivery_mode(2),
        )
        .await?;
    match tokio::time::timeout(timeout, confirm).await {
        Err(_) => Err(PublishError::Timeout(timeout)),
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok(Confirmation::Ack(None))) => Ok(()),
        Ok(Ok(Confirmation::Ack(Some(_)))) => Err(PublishError::Unroutable),
        Ok(Ok(Confirmation::Nack(_))) => Err(PublishError::Nacked),
        // A channel without confirm mode: never assume delivery.
        Ok(Ok(Confirmation::NotRequested)) => Err(PublishError::Nacked),
    }
}

pub(crate) fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

pub(crate) fn header_string(headers: &FieldTable, key: &str) -> Option<String> {
    headers
        .inner()
        .get(key)
        .and_then(crate::telemetry::amqp_string)
}

pub(crate) fn header_u32(headers: &FieldTable, key: &str) -> Option<u32> {
    match headers.inner().get(key)? {
        AMQPValue::LongInt(v) => u32::try_from(*v).ok(),
        AMQPValue::LongUInt(v) => Some(*v),
        AMQPValue::LongLongInt(v) => u32::try_from(*v).ok(),
        AMQPValue::ShortInt(v) => u32::try_from(*v).ok(),
        AMQPValue::ShortUInt(v) => Some(u32::from(*v)),
        other => crate::telemetry::amqp_string(other)?.parse().ok(),
    }
}

pub(crate) fn short(s: &str) -> ShortString {
    ShortString::from(s)
}

/// Sets `up` on the readiness link while a component holds a live connection.
pub(crate) struct LinkGuard {
    readiness: Arc<Readiness>,
    name: &'static str,
}

impl LinkGuard {
    pub(crate) fn up(readiness: Arc<Readiness>, name: &'static str) -> Self {
        readiness.set(name, true);
        Self { readiness, name }
    }
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        self.readiness.set(self.name, false);
    }
}

pub(crate) fn string_headers(map: &HashMap<String, String>) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in map {
        table.insert(k.as_str().into(), long_string(v));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_the_convention() {
        let spec = QueueSpec::new("routing.registered").bind(EVENTS_EXCHANGE, "appeal.registered");
        assert_eq!(spec.parked_queue(), "routing.registered.parked");
        assert_eq!(spec.retry_queue(0), "routing.registered.retry.1");
        assert_eq!(spec.bindings.len(), 1);
    }

    #[test]
    fn numeric_headers_are_read_from_any_integer_type() {
        let mut t = FieldTable::default();
        t.insert("a".into(), AMQPValue::LongInt(3));
        t.insert("b".into(), long_string("4"));
        t.insert("c".into(), AMQPValue::LongInt(-1));
        assert_eq!(header_u32(&t, "a"), Some(3));
        assert_eq!(header_u32(&t, "b"), Some(4));
        assert_eq!(header_u32(&t, "c"), None);
        assert_eq!(header_u32(&t, "missing"), None);
    }
}
