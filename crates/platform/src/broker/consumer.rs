//! Idempotent inbox consumer. For each delivery, in one transaction: record
//! `(consumer, message_id)` in the inbox (a duplicate is acked and skipped), apply the
//! handler's effect, commit — then ack. A failing message is retried through TTL retry
//! queues with growing back-off, then parked in `<queue>.parked` with its reason; it never
//! blocks the queue and is never dropped. When the database itself is down the delivery is
//! held and retried in place, so an outage does not park healthy messages.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use sqlx::PgConnection;
use sqlx::postgres::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    Broker, DEAD_LETTER_EXCHANGE, LinkGuard, QueueSpec, confirm_channel, declare_exchanges,
    declare_queue, header_string, header_u32, headers, long_string, publish_confirmed,
};
use crate::health::Readiness;
use crate::telemetry;

/// A received message, as handlers see it.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    /// AMQP `message_id`; a fresh id when the sender set none (such a message is not
    /// deduplicated here: its handler must be idempotent on its own business key).
    pub message_id: String,
    /// Event or message type: the AMQP `type`, else the original routing key.
    pub message_type: String,
    pub routing_key: String,
    pub exchange: String,
    pub content_type: Option<String>,
    pub correlation_id: Option<String>,
    pub reply_to: Option<String>,
    pub headers: FieldTable,
    pub body: Vec<u8>,
    /// 0 on the first try; counts this platform's retries.
    pub attempt: u32,
}

impl IncomingMessage {
    fn from_delivery(d: &Delivery) -> Self {
        let props = &d.properties;
        let headers = props.headers().clone().unwrap_or_default();
        let routing_key = header_string(&headers, headers::ORIGINAL_ROUTING_KEY)
            .unwrap_or_else(|| d.routing_key.as_str().to_owned());
        let exchange = header_string(&headers, headers::ORIGINAL_EXCHANGE)
            .unwrap_or_else(|| d.exchange.as_str().to_owned());
        let message_id = props
            .message_id()
            .as_ref()
            .map(|m| m.as_str().to_owned())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Self {
            message_id,
            message_type: props
                .kind()
                .as_ref()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_else(|| routing_key.clone()),
            routing_key,
            exchange,
            content_type: props.content_type().as_ref().map(|c| c.as_str().to_owned()),
            correlation_id: props
                .correlation_id()
                .as_ref()
                .map(|c| c.as_str().to_owned()),
            reply_to: props.reply_to().as_ref().map(|r| r.as_str().to_owned()),
            attempt: header_u32(&headers, headers::ATTEMPT).unwrap_or(0),
            headers,
            body: d.data.clone(),
        }
    }

    pub fn header(&self, key: &str) -> Option<String> {
        header_string(&self.headers, key)
    }
}

/// Why a handler could not apply a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The message can never be applied (unparseable, unknown type): park it now.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Might work later: retry with back-off, then park.
    #[error("transient: {0}")]
    Transient(String),
    /// The database is unreachable: hold the message and retry in place.
    #[error("infrastructure: {0}")]
    Infrastructure(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        if crate::db::is_unavailable(&e) {
            HandlerError::Infrastructure(e.to_string())
        } else {
            HandlerError::Transient(e.to_string())
        }
    }
}

/// Applies one message's effect inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

pub struct Consumer<H> {
    pub spec: QueueSpec,
    pub pool: PgPool,
    pub broker: Broker,
    pub handler: Arc<H>,
    pub prefetch: u16,
    pub readiness: Arc<Readiness>,
    pub confirm_timeout: Duration,
    /// Name of the readiness link, e.g. `broker:intake.inbound`.
    pub link: &'static str,
}

enum Outcome {
    Applied,
    Duplicate,
    Retried,
    Parked,
}

impl<H: Handler> Consumer<H> {
    pub async fn run(self, shutdown: CancellationToken) {
        self.readiness.set(self.link, false);
        while !shutdown.is_cancelled() {
            let Some(conn) = self.broker.connect(&self.spec.name, &shutdown).await else {
                break;
            };
            match self.consume_until_broken(&conn, &shutdown).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(queue = %self.spec.name, error = %e, "consumer interrupted; reconnecting");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            let _ = conn.close(200, "bakylau consumer reconnect".into()).await;
        }
    }

    async fn consume_until_broken(
        &self,
        conn: &lapin::Connection,
        shutdown: &CancellationToken,
    ) -> Result<(), lapin::Error> {
        let consume_ch = conn.create_channel().await?;
        declare_exchanges(&consume_ch).await?;
        declare_queue(&consume_ch, &self.spec).await?;
        consume_ch
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let publish_ch = confirm_channel(conn).await?;
        let mut deliveries = consume_ch
            .basic_consume(
                self.spec.name.as_str().into(),
                format!("bakylau-{}", self.spec.name).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let _link = LinkGuard::up(self.readiness.clone(), self.link);
        tracing::info!(queue = %self.spec.name, "consuming");
        loop {
            let delivery = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                d = deliveries.next() => d,
            };
            let delivery = match delivery {
                None => return Ok(()),
                Some(Err(e)) => return Err(e),
                Some(Ok(d)) => d,
            };
            self.process(&publish_ch, delivery, shutdown).await?;
        }
    }

    async fn process(
        &self,
        publish_ch: &Channel,
        delivery: Delivery,
        shutdown: &CancellationToken,
    ) -> Result<(), lapin::Error> {
        let message = IncomingMessage::from_delivery(&delivery);
        let span = tracing::info_span!(
            "amqp.receive",
            otel.name = %format!("{} receive", message.message_type),
            otel.kind = "consumer",
            messaging.system = "rabbitmq",
            messaging.destination = %self.spec.name,
            messaging.message_id = %message.message_id,
            attempt = message.attempt,
        );
        telemetry::set_parent_from_amqp(&span, Some(&message.headers));
        let started = Instant::now();
        let outcome = self
            .apply_with_retries_in_place(publish_ch, &message, shutdown)
            .instrument(span)
            .await;
        let label = match &outcome {
            Ok(Outcome::Applied) => "applied",
            Ok(Outcome::Duplicate) => "duplicate",
            Ok(Outcome::Retried) => "retried",
            Ok(Outcome::Parked) => "parked",
            Err(_) => "requeued",
        };
        metrics::counter!("bakylau_messages_consumed_total", "queue" => self.spec.name.clone(), "outcome" => label).increment(1);
        metrics::histogram!("bakylau_message_processing_seconds", "queue" => self.spec.name.clone())
            .record(started.elapsed().as_secs_f64());
        match outcome {
            Ok(_) => {
                delivery.ack(BasicAckOptions::default()).await?;
            }
            Err(reason) => {
                // Neither applied nor safely moved: give it back to the broker.
                tracing::warn!(queue = %self.spec.name, reason = %reason, "message requeued");
                delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await?;
            }
        }
        Ok(())
    }

    async fn apply_with_retries_in_place(
        &self,
        publish_ch: &Channel,
        message: &IncomingMessage,
        shutdown: &CancellationToken,
    ) -> Result<Outcome, String> {
        let mut delay = Duration::from_millis(200);
        loop {
            match self.apply_once(message).await {
                Ok(true) => return Ok(Outcome::Applied),
                Ok(false) => return Ok(Outcome::Duplicate),
                Err(HandlerError::Infrastructure(reason)) => {
                    self.readiness.set("postgres", false);
                    tracing::warn!(queue = %self.spec.name, reason = %reason, "database unavailable; holding message");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err("shutting down".into()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(HandlerError::Permanent(reason)) => {
                    return self.park(publish_ch, message, &reason).await;
                }
                Err(HandlerError::Transient(reason)) => {
                    return self.retry_or_park(publish_ch, message, &reason).await;
                }
            }
        }
    }

    /// True when applied, false when it was a duplicate.
    async fn apply_once(&self, message: &IncomingMessage) -> Result<bool, HandlerError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&self.spec.name)
        .bind(&message.message_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.commit().await?;
            tracing::debug!(queue = %self.spec.name, "duplicate delivery skipped");
            return Ok(false);
        }
        self.handler.handle(&mut tx, message).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn retry_or_park(
        &self,
        publish_ch: &Channel,
        message: &IncomingMessage,
        reason: &str,
    ) -> Result<Outcome, String> {
        let step = message.attempt as usize;
        if step >= self.spec.retry_delays_ms.len() {
            return self
                .park(
                    publish_ch,
                    message,
                    &format!("gave up after {} retries: {reason}", step),
                )
                .await;
        }
        let mut headers = forwarded_headers(message);
        headers.insert(headers::ATTEMPT.into(), AMQPValue::LongInt(step as i32 + 1));
        headers.insert(
            headers::LAST_ERROR.into(),
            long_string(&truncate(reason, 500)),
        );
        tracing::warn!(queue = %self.spec.name, attempt = step + 1, reason = %reason, "message failed; retrying later");
        publish_confirmed(
            publish_ch,
            "",
            &self.spec.retry_queue(step),
            &message.body,
            properties_of(message, headers),
            self.confirm_timeout,
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(Outcome::Retried)
    }

    async fn park(
        &self,
        publish_ch: &Channel,
        message: &IncomingMessage,
        reason: &str,
    ) -> Result<Outcome, String> {
        let mut headers = forwarded_headers(message);
        headers.insert(
            headers::PARK_REASON.into(),
            long_string(&truncate(reason, 2000)),
        );
        headers.insert(
            headers::PARKED_AT.into(),
            long_string(&chrono::Utc::now().to_rfc3339()),
        );
        tracing::error!(queue = %self.spec.name, reason = %reason, "message parked");
        publish_confirmed(
            publish_ch,
            DEAD_LETTER_EXCHANGE,
            &self.spec.name,
            &message.body,
            properties_of(message, headers),
            self.confirm_timeout,
        )
        .await
        .map_err(|e| e.to_string())?;
        metrics::counter!("bakylau_messages_parked_total", "queue" => self.spec.name.clone())
            .increment(1);
        Ok(Outcome::Parked)
    }
}

/// The message's headers plus where it first came from, which a retry or park through
/// another exchange would otherwise lose.
fn forwarded_headers(message: &IncomingMessage) -> FieldTable {
    let mut headers = message.headers.clone();
    headers.insert(
        headers::ORIGINAL_ROUTING_KEY.into(),
        long_string(&message.routing_key),
    );
    headers.insert(
        headers::ORIGINAL_EXCHANGE.into(),
        long_string(&message.exchange),
    );
    headers
}

fn properties_of(message: &IncomingMessage, headers: FieldTable) -> BasicProperties {
    let mut props = BasicProperties::default()
        .with_message_id(message.message_id.as_str().into())
        .with_type(message.message_type.as_str().into())
        .with_headers(headers);
    if let Some(ct) = &message.content_type {
        props = props.with_content_type(ct.as_str().into());
    }
    if let Some(cid) = &message.correlation_id {
        props = props.with_correlation_id(cid.as_str().into());
    }
    if let Some(reply_to) = &message.reply_to {
        props = props.with_reply_to(reply_to.as_str().into());
    }
    props
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("қазақ", 3), "қ…");
        assert_eq!(truncate("abc", 5), "abc");
    }

    #[test]
    fn lost_connections_are_infrastructure_errors() {
        let e: HandlerError = sqlx::Error::PoolTimedOut.into();
        assert!(matches!(e, HandlerError::Infrastructure(_)));
        let e: HandlerError = sqlx::Error::RowNotFound.into();
        assert!(matches!(e, HandlerError::Transient(_)));
    }
}
