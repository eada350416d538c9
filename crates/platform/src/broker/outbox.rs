//! Transactional outbox: a state change and its messages commit in one Postgres
//! transaction; the relay publishes pending rows with publisher confirms and marks a row
//! sent only after the broker acked it. A crash between publish and mark republishes the
//! row with the same `message_id`, which consumers deduplicate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lapin::{BasicProperties, Channel};
use prost::Message as _;
use sqlx::postgres::{PgListener, PgPool};
use sqlx::{PgConnection, Row};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::{
    CONTENT_TYPE_PROTOBUF, EVENTS_EXCHANGE, LinkGuard, PublishError, confirm_channel,
    declare_exchanges, short, string_headers,
};
use crate::health::Readiness;
use crate::telemetry;

/// Notifications are per database, and the services may share one: each schema's outbox
/// notifies its own channel, `bakylau_outbox:<schema>`, so a relay wakes only for its rows.
const NOTIFY_CHANNEL_PREFIX: &str = "bakylau_outbox:";
/// A reply to a sender's `reply_to` queue that stays unroutable this many times is given
/// up: the sender's queue is gone, and the outcome is on `bakylau.events` anyway.
const REPLY_ATTEMPTS: i32 = 5;

/// One message to publish after the current transaction commits.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub message_id: Uuid,
    pub exchange: String,
    pub routing_key: String,
    pub message_type: String,
    pub content_type: String,
    pub correlation_id: Option<String>,
    /// Extra string headers (the trace context is added by `enqueue`).
    pub headers: HashMap<String, String>,
    pub payload: Vec<u8>,
}

impl OutboxMessage {
    /// A domain event on `bakylau.events`, wrapped in the common envelope.
    pub fn event<M: prost::Name>(
        producer: &str,
        event_type: &str,
        subject: &str,
        occurred_at: DateTime<Utc>,
        payload: &M,
    ) -> Self {
        let message_id = Uuid::now_v7();
        let envelope = bakylau_proto::events::v1::Envelope {
            id: message_id.to_string(),
            r#type: event_type.to_owned(),
            occurred_at: Some(prost_types::Timestamp {
                seconds: occurred_at.timestamp(),
                nanos: occurred_at.timestamp_subsec_nanos() as i32,
            }),
            producer: producer.to_owned(),
            subject: subject.to_owned(),
            payload: payload.encode_to_vec(),
            payload_type: M::full_name(),
        };
        Self::stored_event(message_id, event_type, envelope.encode_to_vec())
    }

    /// An already encoded event envelope, published again under its original message id
    /// (consumers that saw it skip it).
    pub fn stored_event(message_id: Uuid, event_type: &str, envelope: Vec<u8>) -> Self {
        Self {
            message_id,
            exchange: EVENTS_EXCHANGE.to_owned(),
            routing_key: event_type.to_owned(),
            message_type: event_type.to_owned(),
            content_type: CONTENT_TYPE_PROTOBUF.to_owned(),
            correlation_id: None,
            headers: HashMap::new(),
            payload: envelope,
        }
    }

    /// A direct reply to a sender's `reply_to` queue, through the default exchange.
    pub fn reply(
        reply_to: &str,
        correlation_id: &str,
        message_type: &str,
        content_type: &str,
        payload: Vec<u8>,
    ) -> Self {
        Self {
            message_id: Uuid::now_v7(),
            exchange: String::new(),
            routing_key: reply_to.to_owned(),
            message_type: message_type.to_owned(),
            content_type: content_type.to_owned(),
            correlation_id: Some(correlation_id.to_owned()),
            headers: HashMap::new(),
            payload,
        }
    }
}

/// Writes `message` into the outbox inside the caller's transaction and wakes the relay
/// when that transaction commits.
pub async fn enqueue(conn: &mut PgConnection, message: &OutboxMessage) -> Result<(), sqlx::Error> {
    let mut headers = message.headers.clone();
    headers.extend(telemetry::current_trace_context());
    write_rows(conn, &[(message, headers)]).await
}

/// Writes several messages with one statement, in order. Each keeps the headers it has: a
/// handler applying a batch makes each message inside the span of the delivery it answers
/// and calls [`OutboxMessage::in_current_trace`] there, so each trace goes on.
pub async fn enqueue_all(
    conn: &mut PgConnection,
    messages: &[OutboxMessage],
) -> Result<(), sqlx::Error> {
    let rows: Vec<_> = messages.iter().map(|m| (m, m.headers.clone())).collect();
    write_rows(conn, &rows).await
}

impl OutboxMessage {
    /// Adds the trace context of the current span (`enqueue` does this itself).
    pub fn in_current_trace(mut self) -> Self {
        self.headers.extend(telemetry::current_trace_context());
        self
    }
}

async fn write_rows(
    conn: &mut PgConnection,
    rows: &[(&OutboxMessage, HashMap<String, String>)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&OutboxMessage) -> &String| -> Vec<&str> {
        rows.iter().map(|(m, _)| f(m).as_str()).collect()
    };
    // One round trip: the rows and one notification (delivered only on commit).
    sqlx::query(
        "WITH rows AS (INSERT INTO outbox (message_id, exchange, routing_key, message_type, \
         content_type, correlation_id, headers, payload) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::jsonb[], $8::bytea[]) RETURNING 1) \
         SELECT pg_notify($9 || current_schema(), '') WHERE EXISTS (SELECT FROM rows)",
    )
    .bind(rows.iter().map(|(m, _)| m.message_id).collect::<Vec<_>>())
    .bind(column(|m| &m.exchange))
    .bind(column(|m| &m.routing_key))
    .bind(column(|m| &m.message_type))
    .bind(column(|m| &m.content_type))
    .bind(
        rows.iter()
            .map(|(m, _)| m.correlation_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|(_, h)| sqlx::types::Json(h))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.iter()
            .map(|(m, _)| m.payload.as_slice())
            .collect::<Vec<_>>(),
    )
    .bind(NOTIFY_CHANNEL_PREFIX)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("broker connection lost")]
    Disconnected,
}

/// Publishes the outbox. Several replicas may run at once: rows are claimed with
/// `FOR UPDATE SKIP LOCKED`.
pub struct OutboxRelay {
    pub pool: PgPool,
    pub broker: super::Broker,
    pub readiness: Arc<Readiness>,
    pub batch: u32,
    pub confirm_timeout: Duration,
    /// Sent rows older than this are deleted.
    pub retention: Duration,
}

impl OutboxRelay {
    pub async fn run(self, shutdown: CancellationToken) {
        let wake = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(listen_for_notifications(
            self.pool.clone(),
            wake.clone(),
            shutdown.clone(),
        ));
        self.readiness.set("broker:outbox", false);
        while !shutdown.is_cancelled() {
            let Some(conn) = self.broker.connect("outbox", &shutdown).await else {
                break;
            };
            let channel = match confirm_channel(&conn).await {
                Ok(ch) => ch,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: cannot open a confirm channel");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if let Err(e) = declare_exchanges(&channel).await {
                tracing::warn!(error = %e, "outbox: cannot declare exchanges");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            let _link = LinkGuard::up(self.readiness.clone(), "broker:outbox");
            if let Err(e) = self
                .publish_until_broken(&conn, &channel, &wake, &shutdown)
                .await
            {
                tracing::warn!(error = %e, "outbox relay interrupted; reconnecting");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let _ = conn.close(200, "bakylau outbox reconnect".into()).await;
        }
    }

    async fn publish_until_broken(
        &self,
        conn: &lapin::Connection,
        channel: &Channel,
        wake: &tokio::sync::Notify,
        shutdown: &CancellationToken,
    ) -> Result<(), RelayError> {
        let mut last_cleanup = std::time::Instant::now();
        loop {
            let published = self.publish_batch(channel).await?;
            if last_cleanup.elapsed() > Duration::from_secs(60) {
                self.delete_old_sent_rows().await;
                last_cleanup = std::time::Instant::now();
            }
            if published == self.batch as usize {
                continue;
            }
            if !conn.status().connected() || !channel.status().connected() {
                return Err(RelayError::Disconnected);
            }
            tokio::select! {
                _ = shutdown.cancelled() => {
                    // One last pass, so what was committed before SIGTERM goes out.
                    self.publish_batch(channel).await?;
                    return Ok(());
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    /// Publishes up to one batch; returns how many rows it took.
    async fn publish_batch(&self, channel: &Channel) -> Result<usize, RelayError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id, message_id, exchange, routing_key, message_type, content_type, \
             correlation_id, headers, payload, attempts FROM outbox \
             WHERE sent_at IS NULL AND abandoned_at IS NULL \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(i64::from(self.batch))
        .fetch_all(&mut *tx)
        .await?;
        let taken = rows.len();
        let mut confirms = Vec::with_capacity(taken);
        let mut broker_error = None;
        for row in &rows {
            let id: i64 = row.get("id");
            let headers: sqlx::types::Json<HashMap<String, String>> = row.get("headers");
            let routing_key: String = row.get("routing_key");
            let message_type: String = row.get("message_type");
            let span = tracing::info_span!(
                "amqp.publish",
                otel.name = %format!("{routing_key} publish"),
                otel.kind = "producer",
                messaging.system = "rabbitmq",
                messaging.destination = %row.get::<String, _>("exchange"),
                messaging.message_id = %row.get::<Uuid, _>("message_id"),
            );
            telemetry::set_parent_from_map(&span, &headers.0);
            let mut amqp_headers = string_headers(&headers.0);
            telemetry::inject_amqp(&span, &mut amqp_headers);
            let mut props = BasicProperties::default()
                .with_message_id(short(&row.get::<Uuid, _>("message_id").to_string()))
                .with_content_type(short(&row.get::<String, _>("content_type")))
                .with_type(short(&message_type))
                .with_app_id(short(&format!("bakylau-{}", self.broker.service)))
                .with_timestamp(Utc::now().timestamp() as u64)
                .with_headers(amqp_headers);
            if let Some(cid) = row.get::<Option<String>, _>("correlation_id") {
                props = props.with_correlation_id(short(&cid));
            }
            let exchange: String = row.get("exchange");
            let payload: Vec<u8> = row.get("payload");
            let publish = channel
                .basic_publish(
                    exchange.as_str().into(),
                    routing_key.as_str().into(),
                    lapin::options::BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &payload,
                    props.with_delivery_mode(2),
                )
                .instrument(span)
                .await;
            match publish {
                Ok(confirm) => confirms.push((
                    id,
                    exchange.is_empty(),
                    row.get::<i32, _>("attempts"),
                    confirm,
                )),
                Err(e) => {
                    broker_error = Some(e);
                    break;
                }
            }
        }
        let mut sent = Vec::new();
        let mut failed: Vec<(i64, bool, String)> = Vec::new();
        for (id, is_reply, attempts, confirm) in confirms {
            let outcome = match tokio::time::timeout(self.confirm_timeout, confirm).await {
                Err(_) => Err(PublishError::Timeout(self.confirm_timeout)),
                Ok(Err(e)) => Err(PublishError::Broker(e)),
                Ok(Ok(lapin::Confirmation::Ack(None))) => Ok(()),
                Ok(Ok(lapin::Confirmation::Ack(Some(_)))) => Err(PublishError::Unroutable),
                Ok(Ok(_)) => Err(PublishError::Nacked),
            };
            match outcome {
                Ok(()) => sent.push(id),
                Err(e) => {
                    let give_up = is_reply
                        && matches!(e, PublishError::Unroutable)
                        && attempts + 1 >= REPLY_ATTEMPTS;
                    failed.push((id, give_up, e.to_string()));
                }
            }
        }
        if !sent.is_empty() {
            sqlx::query(
                "UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
            )
            .bind(&sent)
            .execute(&mut *tx)
            .await?;
            metrics::counter!("bakylau_outbox_published_total").increment(sent.len() as u64);
        }
        for (id, give_up, error) in &failed {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, \
                 abandoned_at = CASE WHEN $3 THEN now() END WHERE id = $1",
            )
            .bind(id)
            .bind(error)
            .bind(give_up)
            .execute(&mut *tx)
            .await?;
            tracing::warn!(outbox_id = id, error = %error, abandoned = give_up, "outbox message not confirmed");
        }
        tx.commit().await?;
        if !failed.is_empty() {
            metrics::counter!("bakylau_outbox_failed_total").increment(failed.len() as u64);
        }
        if let Some(e) = broker_error {
            return Err(e.into());
        }
        // A count per batch would cost a scan under load; every few seconds is enough.
        if metrics_due() {
            self.record_backlog().await;
        }
        Ok(taken)
    }

    async fn record_backlog(&self) {
        if let Ok(n) = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await
        {
            metrics::gauge!("bakylau_outbox_backlog").set(n as f64);
        }
    }

    async fn delete_old_sent_rows(&self) {
        let cutoff = Utc::now()
            - chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::days(7));
        if let Err(e) = sqlx::query("DELETE FROM outbox WHERE sent_at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "outbox clean-up failed");
        }
    }
}

fn metrics_due() -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = Utc::now().timestamp() as u64;
    let last = LAST.load(Ordering::Relaxed);
    if now >= last + 5 {
        LAST.store(now, Ordering::Relaxed);
        true
    } else {
        false
    }
}

async fn listen_for_notifications(
    pool: PgPool,
    wake: Arc<tokio::sync::Notify>,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let channel = match sqlx::query_scalar::<_, String>("SELECT $1 || current_schema()")
            .bind(NOTIFY_CHANNEL_PREFIX)
            .fetch_one(&pool)
            .await
        {
            Ok(channel) => channel,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if listener.listen(&channel).await.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                n = listener.recv() => match n {
                    Ok(_) => wake.notify_one(),
                    Err(_) => break,
                },
            }
        }
    }
}

/// Unsent rows, for tests and diagnostics.
pub async fn pending_count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL")
        .fetch_one(pool)
        .await
}
