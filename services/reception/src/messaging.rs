//! Consumer of `appeal.closed` (from control): remembers answered appeals so pre-screening
//! can say an earlier appeal is answered, and marks the reception outcomes that raised them.

use bakylau_platform::broker::consumer::Handler;
use bakylau_platform::broker::{EVENTS_EXCHANGE, HandlerError, IncomingMessage, QueueSpec};
use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, Utc};
use prost::Message as _;
use sqlx::PgConnection;

use crate::storage;

pub const APPEAL_CLOSED: &str = "appeal.closed";

pub fn closed_queue(retry_delays_ms: &[u64]) -> QueueSpec {
    QueueSpec::new("reception.appeal_closed")
        .bind(EVENTS_EXCHANGE, APPEAL_CLOSED)
        .retry_delays(retry_delays_ms)
}

pub struct AppealClosedHandler;

impl Handler for AppealClosedHandler {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
    ) -> Result<(), HandlerError> {
        let envelope = ev::Envelope::decode(message.body.as_slice())
            .map_err(|e| HandlerError::Permanent(format!("not an event envelope: {e}")))?;
        if envelope.r#type != APPEAL_CLOSED {
            return Err(HandlerError::Permanent(format!(
                "unexpected event type {}",
                envelope.r#type
            )));
        }
        let closed = ev::AppealStatusChanged::decode(envelope.payload.as_slice())
            .map_err(|e| HandlerError::Permanent(format!("not an AppealStatusChanged: {e}")))?;
        let appeal_id = if closed.appeal_id.is_empty() {
            envelope.subject.clone()
        } else {
            closed.appeal_id.clone()
        };
        if appeal_id.is_empty() {
            return Err(HandlerError::Permanent(
                "appeal.closed without an appeal id".into(),
            ));
        }
        let at = envelope
            .occurred_at
            .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
            .unwrap_or_else(Utc::now);
        let marked =
            storage::record_closed_appeal(tx, &appeal_id, &closed.registration_number, at).await?;
        if marked > 0 {
            tracing::info!(appeal = %appeal_id, registration_number = %closed.registration_number, "appeal raised at a reception was answered");
        }
        Ok(())
    }
}
