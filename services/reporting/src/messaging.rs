//! AMQP adapter: every event on `bakylau.events` (`#`) is stored in the service's own event
//! store and applied to the projections, all in the consumer's transaction (which also
//! records the inbox row, so a redelivered message is counted once).

use bakylau_platform::broker::{
    EVENTS_EXCHANGE, Handler, HandlerError, IncomingMessage, QueueSpec,
};
use bakylau_proto::events::v1::Envelope;
use chrono::Utc;
use prost::Message as _;
use sqlx::PgConnection;

use crate::domain::event;
use crate::projection;

pub const EVENTS_QUEUE: &str = "reporting.events";

pub fn events_queue(retry_delays_ms: &[u64]) -> QueueSpec {
    QueueSpec::new(EVENTS_QUEUE)
        .bind(EVENTS_EXCHANGE, "#")
        .retry_delays(retry_delays_ms)
}

pub struct EventsHandler;

impl Handler for EventsHandler {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
    ) -> Result<(), HandlerError> {
        let envelope = Envelope::decode(message.body.as_slice()).map_err(|e| {
            HandlerError::Permanent(format!("not a bakylau.events.v1.Envelope: {e}"))
        })?;
        let event_type = if envelope.r#type.is_empty() {
            message.routing_key.clone()
        } else {
            envelope.r#type.clone()
        };
        // The envelope id is the message id; fall back to the AMQP one.
        let message_id = if envelope.id.is_empty() {
            message.message_id.clone()
        } else {
            envelope.id.clone()
        };
        let now = Utc::now();
        let fact =
            event::decode(&envelope, now).map_err(|e| HandlerError::Permanent(e.to_string()))?;
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
        let stored =
            projection::store_event(tx, &message_id, &envelope, occurred_at, &message.body).await?;
        if !stored {
            tracing::debug!(message_id = %message_id, "event already stored; skipped");
            return Ok(());
        }
        if let Some(fact) = &fact {
            projection::apply(tx, fact).await?;
        }
        metrics::counter!("bakylau_reporting_events_consumed_total", "type" => event_type.clone())
            .increment(1);
        let lag = (now - occurred_at).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::gauge!("bakylau_reporting_projection_lag_seconds").set(lag);
        tracing::debug!(event_type = %event_type, subject = %envelope.subject, projected = fact.is_some(), "event consumed");
        Ok(())
    }
}
