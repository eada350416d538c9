//! AMQP adapter: every event on `bakylau.events` (`#`) is stored in the service's own event
//! store and applied to the projections, all in the consumer's transaction (which also
//! records the inbox row, so a redelivered message is counted once). A batch of events
//! is stored in one statement and its roll-up changes are summed and written once.

use bakylau_platform::broker::{
    EVENTS_EXCHANGE, Handler, HandlerError, IncomingMessage, QueueSpec, receive_span,
};
use bakylau_proto::events::v1::Envelope;
use chrono::{DateTime, Utc};
use prost::Message as _;
use sqlx::PgConnection;
use tracing::Instrument as _;

use crate::domain::event::{self, Occurred};
use crate::domain::rollup::Rollups;
use crate::projection::{self, NewEvent};

pub const EVENTS_QUEUE: &str = "reporting.events";

pub fn events_queue(retry_delays_ms: &[u64]) -> QueueSpec {
    QueueSpec::new(EVENTS_QUEUE)
        .bind(EVENTS_EXCHANGE, "#")
        .retry_delays(retry_delays_ms)
}

pub struct EventsHandler;

/// One delivery, decoded.
struct Received<'m> {
    message: &'m IncomingMessage,
    envelope: Envelope,
    event_type: String,
    /// The envelope id, or the AMQP message id when the envelope has none.
    message_id: String,
    /// None for an event the reports do not use (it is stored all the same).
    fact: Option<Occurred>,
    occurred_at: DateTime<Utc>,
}

fn receive(message: &IncomingMessage, now: DateTime<Utc>) -> Result<Received<'_>, HandlerError> {
    let envelope = Envelope::decode(message.body.as_slice())
        .map_err(|e| HandlerError::Permanent(format!("not a bakylau.events.v1.Envelope: {e}")))?;
    let event_type = if envelope.r#type.is_empty() {
        message.routing_key.clone()
    } else {
        envelope.r#type.clone()
    };
    let message_id = if envelope.id.is_empty() {
        message.message_id.clone()
    } else {
        envelope.id.clone()
    };
    let fact = event::decode(&envelope, now).map_err(|e| HandlerError::Permanent(e.to_string()))?;
    let occurred_at = fact.as_ref().map_or_else(
        || {
            envelope
                .occurred_at
                .as_ref()
                .and_then(event::to_utc)
                .unwrap_or(now)
        },
        |f| f.at,
    );
    Ok(Received {
        message,
        envelope,
        event_type,
        message_id,
        fact,
        occurred_at,
    })
}

impl EventsHandler {
    /// Stores and applies `messages` in order; `spans` gives each its own receive span
    /// (the consumer makes it when it hands over one message).
    async fn apply(
        &self,
        tx: &mut PgConnection,
        messages: &[&IncomingMessage],
        spans: bool,
    ) -> Result<(), HandlerError> {
        let now = Utc::now();
        let received = messages
            .iter()
            .map(|m| receive(m, now))
            .collect::<Result<Vec<_>, _>>()?;
        let events: Vec<NewEvent<'_>> = received
            .iter()
            .map(|r| NewEvent {
                message_id: &r.message_id,
                envelope: &r.envelope,
                occurred_at: r.occurred_at,
                raw: &r.message.body,
            })
            .collect();
        let mut stored = projection::store_events(tx, &events).await?;
        let mut rollups = Rollups::default();
        for r in &received {
            let span = if spans {
                receive_span(EVENTS_QUEUE, r.message)
            } else {
                tracing::Span::none()
            };
            if !stored.remove(&r.message_id) {
                span.in_scope(
                    || tracing::debug!(message_id = %r.message_id, "event already stored; skipped"),
                );
                continue;
            }
            if let Some(fact) = &r.fact {
                projection::apply(tx, fact, &mut rollups)
                    .instrument(span.clone())
                    .await?;
            }
            metrics::counter!("bakylau_reporting_events_consumed_total", "type" => r.event_type.clone())
                .increment(1);
            let lag = (now - r.occurred_at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::gauge!("bakylau_reporting_projection_lag_seconds").set(lag);
            span.in_scope(|| tracing::debug!(event_type = %r.event_type, subject = %r.envelope.subject, projected = r.fact.is_some(), "event consumed"));
        }
        projection::write_rollups(tx, &rollups).await?;
        Ok(())
    }
}

impl Handler for EventsHandler {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
    ) -> Result<(), HandlerError> {
        self.apply(tx, &[message], false).await
    }

    async fn handle_batch(
        &self,
        tx: &mut PgConnection,
        messages: &[&IncomingMessage],
    ) -> Result<bool, HandlerError> {
        self.apply(tx, messages, true).await?;
        Ok(true)
    }
}
