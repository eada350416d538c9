//! AMQP adapter: the appeals control follows. Queue `control.appeals` takes
//! `appeal.registered`, `appeal.routed` and `appeal.redirected`; the platform's consumer
//! records each message id in the inbox in the same transaction as the effect.

use std::sync::Arc;

use bakylau_platform::broker::{
    EVENTS_EXCHANGE, Handler, HandlerError, IncomingMessage, QueueSpec, receive_span,
};
use bakylau_proto::events::v1 as ev;
use prost::Message as _;
use sqlx::PgConnection;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::workflow::{Consumed, Control, ControlError};

pub const APPEALS_QUEUE: &str = "control.appeals";
pub const CONSUMED: [&str; 3] = ["appeal.registered", "appeal.routed", "appeal.redirected"];

pub fn appeals_queue(retry_delays_ms: &[u64]) -> QueueSpec {
    CONSUMED
        .iter()
        .fold(QueueSpec::new(APPEALS_QUEUE), |q, key| {
            q.bind(EVENTS_EXCHANGE, key)
        })
        .retry_delays(retry_delays_ms)
}

pub struct AppealsHandler {
    pub control: Arc<Control>,
}

fn permanent(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Permanent(e.to_string())
}

fn appeal_id(s: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(s).map_err(|_| permanent(format!("appeal_id {s:?} is not a UUID")))
}

impl From<ControlError> for HandlerError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::Db(e) => e.into(),
            // A year missing from the calendar may be added by an operator: retry, then park.
            ControlError::Calendar(m) => HandlerError::Transient(m),
            other => HandlerError::Permanent(other.to_string()),
        }
    }
}

/// A consumed event, read.
enum Event {
    Registered(ev::AppealRegistered),
    Routed(ev::AppealRouted),
    Redirected(ev::AppealRedirected),
}

impl Event {
    fn read(message: &IncomingMessage) -> Result<(Self, Uuid), HandlerError> {
        let envelope = ev::Envelope::decode(message.body.as_slice())
            .map_err(|e| permanent(format!("not an event envelope: {e}")))?;
        let kind = if envelope.r#type.is_empty() {
            message.message_type.as_str()
        } else {
            envelope.r#type.as_str()
        };
        let payload = envelope.payload.as_slice();
        let (event, id) = match kind {
            "appeal.registered" => {
                let e = ev::AppealRegistered::decode(payload).map_err(permanent)?;
                let id = appeal_id(&e.appeal_id)?;
                (Event::Registered(e), id)
            }
            "appeal.routed" => {
                let e = ev::AppealRouted::decode(payload).map_err(permanent)?;
                let id = appeal_id(&e.appeal_id)?;
                (Event::Routed(e), id)
            }
            "appeal.redirected" => {
                let e = ev::AppealRedirected::decode(payload).map_err(permanent)?;
                let id = appeal_id(&e.appeal_id)?;
                (Event::Redirected(e), id)
            }
            other => return Err(permanent(format!("unexpected event type {other:?}"))),
        };
        Ok((event, id))
    }
}

impl AppealsHandler {
    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &Event,
        id: Uuid,
        out: &mut Consumed,
    ) -> Result<(), HandlerError> {
        match event {
            Event::Registered(e) => {
                tracing::info!(appeal_id = %id, registration_number = %e.registration_number, "registered");
                self.control.on_registered(tx, e, id, out).await?;
            }
            Event::Routed(e) => {
                tracing::info!(appeal_id = %id, registration_number = %e.registration_number, lead = %e.lead_executor, "assigning");
                self.control.on_routed(tx, e, id, out).await?;
            }
            Event::Redirected(e) => {
                tracing::info!(appeal_id = %id, registration_number = %e.registration_number, "redirected");
                self.control.on_redirected(tx, e, id, out).await?;
            }
        }
        Ok(())
    }
}

impl Handler for AppealsHandler {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
    ) -> Result<(), HandlerError> {
        let (event, id) = Event::read(message)?;
        let mut out = Consumed::default();
        self.apply(tx, &event, id, &mut out).await?;
        Ok(out.finish(tx).await?)
    }

    /// The waiting deliveries of a lane applied together: their appeal rows locked at
    /// once, the policy read once, their events written with one statement. Any failure,
    /// such as one unreadable event, sends them one by one.
    async fn handle_batch(
        &self,
        tx: &mut PgConnection,
        messages: &[&IncomingMessage],
    ) -> Result<bool, HandlerError> {
        let events = messages
            .iter()
            .map(|m| Event::read(m))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Consumed::default();
        let ids: Vec<Uuid> = events.iter().map(|(_, id)| *id).collect();
        out.lock(tx, &ids).await?;
        for ((event, id), message) in events.iter().zip(messages) {
            self.apply(tx, event, *id, &mut out)
                .instrument(receive_span(APPEALS_QUEUE, message))
                .await?;
        }
        out.finish(tx).await?;
        Ok(true)
    }
}
