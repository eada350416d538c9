//! Idempotent inbox consumer. For each delivery, in one transaction: record
//! `(consumer, message_id)` in the inbox (a duplicate is acked and skipped), apply the
//! handler's effect, commit — then ack. A failing message is retried through TTL retry
//! queues with growing back-off, then parked in `<queue>.parked` with its reason; it never
//! blocks the queue and is never dropped. When the database itself is down the delivery is
//! held and retried in place, so an outage does not park healthy messages.
//!
//! Deliveries are applied concurrently on `concurrency` lanes. A delivery's lane is chosen
//! by its handler's ordering key (by default the event's subject, i.e. the appeal), so
//! messages about one appeal are still applied one after another in delivery order, while
//! different appeals proceed in parallel. A lane applies the deliveries already waiting for it
//! together, up to `batch`, in one transaction: one inbox statement for all of them and one
//! commit (one disk flush); they are acked after that commit. When any of them fails, the
//! whole batch is rolled back and each of its deliveries takes the one-at-a-time path with
//! its retries, in order, so order and the retry/park rules are as for a single delivery.

use std::collections::HashSet;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use sqlx::PgConnection;
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;
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
    /// The broker user that published the message, as the broker validated it (AMQP
    /// `user_id`: RabbitMQ refuses a `user_id` other than the publishing connection's).
    /// `None` when the publisher did not set it.
    pub sender: Option<String>,
}

impl IncomingMessage {
    /// Takes the body out of `d` (only its acker is needed afterwards). `own_user` is the
    /// service's broker user: on a message it published itself (a retry) the original
    /// sender is in the header it wrote; on anyone else's, that header means nothing.
    fn from_delivery(d: &mut Delivery, own_user: &str) -> Self {
        let props = &d.properties;
        let mut headers = props.headers().clone().unwrap_or_default();
        let sender = match props.user_id().as_ref().map(|u| u.as_str()) {
            Some(user) if user == own_user => header_string(&headers, headers::SENDER),
            Some(user) => Some(user.to_owned()),
            None => None,
        };
        if headers.contains_key(headers::SENDER) {
            let mut kept = headers.inner().clone();
            kept.retain(|k, _| k.as_str() != headers::SENDER);
            headers = FieldTable::from(kept);
        }
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
            sender,
            body: std::mem::take(&mut d.data),
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
    /// A concurrent transaction got in the way (serialization failure, deadlock): retried
    /// at once in place a few times, then treated as transient.
    #[error("conflict: {0}")]
    Conflict(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        if crate::db::is_unavailable(&e) {
            HandlerError::Infrastructure(e.to_string())
        } else if crate::db::is_conflict(&e) {
            HandlerError::Conflict(e.to_string())
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

    /// Messages with the same key are applied one after another, in delivery order; `None`
    /// lets the message run on any lane. By default the subject of an event envelope (the
    /// appeal it is about), so per-appeal order holds without the handler saying so.
    fn ordering_key(&self, message: &IncomingMessage) -> Option<String> {
        envelope_subject(&message.body)
    }

    /// False when applying `message` would change nothing (an event this consumer binds to
    /// but has nothing to do with): it is then acknowledged without a transaction or an
    /// inbox row. Applying such a message never, once or twice is the same.
    fn concerns(&self, _message: &IncomingMessage) -> bool {
        true
    }

    /// Applies several new messages, in delivery order, in one transaction, for a handler
    /// that can do better than one after another (one statement for all of them). The
    /// default, `Ok(false)`, has the consumer call `handle` for each. An error rolls the
    /// whole batch back; each message is then applied on its own with `handle`, which
    /// must have the same effect.
    fn handle_batch(
        &self,
        _tx: &mut PgConnection,
        _messages: &[&IncomingMessage],
    ) -> impl Future<Output = Result<bool, HandlerError>> + Send {
        async { Ok(false) }
    }
}

/// The span of one received message, a child of the trace its headers carry; a handler
/// that applies a batch itself enters it for each message.
pub fn receive_span(queue: &str, message: &IncomingMessage) -> tracing::Span {
    let span = tracing::info_span!(
        "amqp.receive",
        otel.name = %format!("{} receive", message.message_type),
        otel.kind = "consumer",
        messaging.system = "rabbitmq",
        messaging.destination = %queue,
        messaging.message_id = %message.message_id,
        attempt = message.attempt,
    );
    telemetry::set_parent_from_amqp(&span, Some(&message.headers));
    span
}

/// Only the `subject` of a `bakylau.events.v1.Envelope` (prost skips the other fields,
/// so the payload is not copied).
#[derive(Clone, PartialEq, prost::Message)]
struct EnvelopeSubject {
    #[prost(string, tag = "5")]
    subject: String,
}

/// The subject of an event envelope, when `body` is one and has a subject.
pub fn envelope_subject(body: &[u8]) -> Option<String> {
    use prost::Message as _;
    EnvelopeSubject::decode(body)
        .ok()
        .map(|e| e.subject)
        .filter(|s| !s.is_empty())
}

pub struct Consumer<H> {
    pub spec: QueueSpec,
    pub pool: PgPool,
    pub broker: Broker,
    pub handler: Arc<H>,
    pub prefetch: u16,
    /// Deliveries applied at once (lanes); clamped to 1..=prefetch.
    pub concurrency: u16,
    /// Deliveries of one lane applied in one transaction at most.
    pub batch: u16,
    pub readiness: Arc<Readiness>,
    pub confirm_timeout: Duration,
    /// Name of the readiness link, e.g. `broker:intake.inbound`.
    pub link: &'static str,
}

/// Immediate re-applications of a message that hit a serialization failure or deadlock.
const CONFLICT_RETRIES: u32 = 3;

fn lane_of(key: &str, lanes: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % lanes as u64) as usize
}

enum Outcome {
    Applied,
    Duplicate,
    Retried,
    Parked,
}

impl<H: Handler> Consumer<H> {
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        this.readiness.set(this.link, false);
        while !shutdown.is_cancelled() {
            let Some(conn) = this.broker.connect(&this.spec.name, &shutdown).await else {
                break;
            };
            match this.clone().consume_until_broken(&conn, &shutdown).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::warn!(queue = %this.spec.name, error = %e, "consumer interrupted; reconnecting");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            let _ = conn.close(200, "bakylau consumer reconnect".into()).await;
        }
    }

    fn lanes(&self) -> usize {
        usize::from(self.concurrency.clamp(1, self.prefetch.max(1)))
    }

    async fn consume_until_broken(
        self: Arc<Self>,
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
        let lanes = self.lanes();
        let own_user = self.broker.user();
        tracing::info!(queue = %self.spec.name, lanes, "consuming");
        // A lane whose channel breaks stops the others and the dispatch below.
        let broken = shutdown.child_token();
        let mut senders = Vec::with_capacity(lanes);
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..lanes {
            // The broker holds back deliveries beyond `prefetch`, which bounds every lane.
            let (tx, rx) = mpsc::channel(usize::from(self.prefetch.max(1)));
            senders.push(tx);
            workers.spawn(self.clone().lane(publish_ch.clone(), rx, broken.clone()));
        }
        let mut round_robin = 0usize;
        let dispatched: Result<(), lapin::Error> = loop {
            let delivery = tokio::select! {
                _ = broken.cancelled() => break Ok(()),
                d = deliveries.next() => d,
            };
            let delivery = match delivery {
                None => break Ok(()),
                Some(Err(e)) => break Err(e),
                Some(Ok(d)) => d,
            };
            let mut delivery = delivery;
            let message = IncomingMessage::from_delivery(&mut delivery, &own_user);
            let lane = match self.handler.ordering_key(&message) {
                Some(key) => lane_of(&key, lanes),
                None => {
                    round_robin = round_robin.wrapping_add(1);
                    round_robin % lanes
                }
            };
            tokio::select! {
                _ = broken.cancelled() => break Ok(()),
                sent = senders[lane].send((delivery, message)) => if sent.is_err() { break Ok(()) },
            }
        };
        // Lanes finish the delivery in hand (acked or requeued) before the connection closes;
        // what they had not started is redelivered by the broker.
        broken.cancel();
        drop(senders);
        let mut lane_error = None;
        while let Some(joined) = workers.join_next().await {
            if let Ok(Err(e)) = joined {
                lane_error.get_or_insert(e);
            }
        }
        dispatched?;
        match lane_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Applies one lane's deliveries in order until its channel closes or `stop` fires.
    async fn lane(
        self: Arc<Self>,
        publish_ch: Channel,
        mut rx: mpsc::Receiver<(Delivery, IncomingMessage)>,
        stop: CancellationToken,
    ) -> Result<(), lapin::Error> {
        loop {
            let delivery = tokio::select! {
                biased;
                _ = stop.cancelled() => return Ok(()),
                d = rx.recv() => match d {
                    Some(d) => d,
                    None => return Ok(()),
                },
            };
            let mut waiting = vec![delivery];
            while waiting.len() < usize::from(self.batch.max(1)) {
                match rx.try_recv() {
                    Ok(d) => waiting.push(d),
                    Err(_) => break,
                }
            }
            if let Err(e) = self.process_waiting(&publish_ch, waiting, &stop).await {
                stop.cancel();
                return Err(e);
            }
        }
    }

    /// Applies `waiting` in one transaction; when that fails, each delivery goes the
    /// one-at-a-time way.
    async fn process_waiting(
        &self,
        publish_ch: &Channel,
        waiting: Vec<(Delivery, IncomingMessage)>,
        shutdown: &CancellationToken,
    ) -> Result<(), lapin::Error> {
        let (waiting, unconcerned): (Vec<_>, Vec<_>) = waiting
            .into_iter()
            .partition(|(_, message)| self.handler.concerns(message));
        for (delivery, _) in unconcerned {
            self.record("skipped", 0.0);
            delivery.ack(BasicAckOptions::default()).await?;
        }
        let done = if waiting.len() > 1 {
            let started = Instant::now();
            let outcomes = self.apply_together(&waiting).await;
            let seconds = started.elapsed().as_secs_f64() / outcomes.len().max(1) as f64;
            metrics::histogram!("bakylau_consumer_batch_size", "queue" => self.spec.name.clone())
                .record(outcomes.len() as f64);
            for (outcome, (delivery, _)) in outcomes.iter().zip(&waiting) {
                self.record(if *outcome { "applied" } else { "duplicate" }, seconds);
                delivery.ack(BasicAckOptions::default()).await?;
            }
            outcomes.len()
        } else {
            0
        };
        for (delivery, message) in waiting.into_iter().skip(done) {
            self.process(publish_ch, delivery, message, shutdown)
                .await?;
        }
        Ok(())
    }

    /// Applies `waiting` in one transaction: their inbox rows in one statement, then the
    /// effect of each message the inbox did not have: true for applied, false for a
    /// duplicate. No savepoints (two statements per message): when anything fails, the
    /// whole transaction is rolled back and the result is empty, so every message of the
    /// batch takes the one-at-a-time path, with its own retries and parking.
    async fn apply_together(&self, waiting: &[(Delivery, IncomingMessage)]) -> Vec<bool> {
        let committed: Result<Vec<bool>, HandlerError> = async {
            let mut tx = self.pool.begin().await?;
            let ids: Vec<&str> = waiting.iter().map(|(_, m)| m.message_id.as_str()).collect();
            // A message id twice in one batch (a republished outbox row) is inserted once.
            let mut new: HashSet<String> = sqlx::query_scalar(
                "INSERT INTO inbox (consumer, message_id) SELECT $1, unnest($2::text[]) \
                 ON CONFLICT DO NOTHING RETURNING message_id",
            )
            .bind(&self.spec.name)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
            let outcomes: Vec<bool> = waiting
                .iter()
                .map(|(_, message)| new.remove(&message.message_id))
                .collect();
            let fresh: Vec<&IncomingMessage> = waiting
                .iter()
                .zip(&outcomes)
                .filter(|(_, applied)| **applied)
                .map(|((_, message), _)| message)
                .collect();
            if fresh.len() < waiting.len() {
                tracing::debug!(queue = %self.spec.name, duplicates = waiting.len() - fresh.len(), "duplicate deliveries skipped");
            }
            if !fresh.is_empty() && !self.handler.handle_batch(&mut tx, &fresh).await? {
                for message in fresh {
                    self.handler
                        .handle(&mut tx, message)
                        .instrument(self.receive_span(message))
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(outcomes)
        }
        .await;
        committed.unwrap_or_else(|e| {
            tracing::debug!(queue = %self.spec.name, error = %e, "batch rolled back; applying its messages one at a time");
            Vec::new()
        })
    }

    fn record(&self, outcome: &'static str, seconds: f64) {
        metrics::counter!("bakylau_messages_consumed_total", "queue" => self.spec.name.clone(), "outcome" => outcome).increment(1);
        metrics::histogram!("bakylau_message_processing_seconds", "queue" => self.spec.name.clone())
            .record(seconds);
    }

    fn receive_span(&self, message: &IncomingMessage) -> tracing::Span {
        receive_span(&self.spec.name, message)
    }

    async fn process(
        &self,
        publish_ch: &Channel,
        delivery: Delivery,
        message: IncomingMessage,
        shutdown: &CancellationToken,
    ) -> Result<(), lapin::Error> {
        let span = self.receive_span(&message);
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
        self.record(label, started.elapsed().as_secs_f64());
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
        let mut conflicts = 0;
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
                Err(HandlerError::Conflict(reason)) if conflicts < CONFLICT_RETRIES => {
                    conflicts += 1;
                    tracing::debug!(queue = %self.spec.name, reason = %reason, "conflict with a concurrent transaction; applying again");
                }
                Err(HandlerError::Conflict(reason)) => {
                    return self.retry_or_park(publish_ch, message, &reason).await;
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
        let applied = self.apply_in(&mut tx, message).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Records the message in the inbox and applies it, unless the inbox had it already:
    /// true when applied, false for a duplicate.
    async fn apply_in(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
    ) -> Result<bool, HandlerError> {
        let inserted = sqlx::query(
            "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(&self.spec.name)
        .bind(&message.message_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tracing::debug!(queue = %self.spec.name, "duplicate delivery skipped");
            return Ok(false);
        }
        self.handler.handle(tx, message).await?;
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
            properties_of(message, headers, &self.broker.user()),
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
            properties_of(message, headers, &self.broker.user()),
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

/// The properties of a retried or parked copy: the original's, published as `own_user`
/// with the original sender in a header, so the retry is still known to be theirs.
fn properties_of(
    message: &IncomingMessage,
    mut headers: FieldTable,
    own_user: &str,
) -> BasicProperties {
    if let Some(sender) = &message.sender {
        headers.insert(headers::SENDER.into(), long_string(sender));
    }
    let mut props = BasicProperties::default()
        .with_message_id(message.message_id.as_str().into())
        .with_type(message.message_type.as_str().into())
        .with_user_id(own_user.into())
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
