//! AMQP adapter: `appeal.registered` on queue `routing.appeals`. The platform's consumer
//! records the message id in the inbox in the same transaction, so a redelivery is skipped;
//! the engine also skips an appeal it has already decided (a replay under a new id).
//! Appeals of one district are decided one after another (they are each other's
//! near-duplicate candidates); districts are decided in parallel.

use std::sync::Arc;

use bakylau_platform::broker::{
    EVENTS_EXCHANGE, Handler, HandlerError, IncomingMessage, QueueSpec, receive_span,
};
use bakylau_proto::events::v1 as ev;
use prost::Message as _;
use sqlx::PgConnection;

use crate::engine::{Engine, EngineError, Registered};
use crate::events::APPEAL_REGISTERED;

pub const APPEALS_QUEUE: &str = "routing.appeals";

pub fn appeals_queue(retry_delays_ms: &[u64]) -> QueueSpec {
    QueueSpec::new(APPEALS_QUEUE)
        .bind(EVENTS_EXCHANGE, APPEAL_REGISTERED)
        .retry_delays(retry_delays_ms)
}

pub struct RegisteredHandler {
    pub engine: Arc<Engine>,
}

/// Decodes the envelope of an `appeal.registered` event.
pub fn decode_registered(body: &[u8]) -> Result<ev::AppealRegistered, String> {
    let envelope = ev::Envelope::decode(body).map_err(|e| format!("not an event envelope: {e}"))?;
    if envelope.r#type != APPEAL_REGISTERED {
        return Err(format!("unexpected event type {:?}", envelope.r#type));
    }
    ev::AppealRegistered::decode(envelope.payload.as_slice())
        .map_err(|e| format!("payload is not AppealRegistered: {e}"))
}

impl Handler for RegisteredHandler {
    /// The district, else the applicant, else the appeal: an appeal decided concurrently
    /// with its near-duplicate would not see it.
    fn ordering_key(&self, message: &IncomingMessage) -> Option<String> {
        let e = decode_registered(&message.body).ok()?;
        let district = e.locality.map(|l| l.district).unwrap_or_default();
        [district, e.applicant_ref, e.appeal_id]
            .into_iter()
            .find(|k| !k.is_empty())
    }

    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
    ) -> Result<(), HandlerError> {
        let event = decode_registered(&message.body).map_err(HandlerError::Permanent)?;
        let batch = [Registered {
            event: &event,
            span: tracing::Span::current(),
        }];
        self.engine
            .route_registered(tx, &batch)
            .await
            .map_err(failure)
    }

    /// The waiting deliveries of a lane decided together (one statement per kind of row);
    /// any failure, such as one unreadable event, sends them one by one.
    async fn handle_batch(
        &self,
        tx: &mut PgConnection,
        messages: &[&IncomingMessage],
    ) -> Result<bool, HandlerError> {
        let events = messages
            .iter()
            .map(|m| decode_registered(&m.body))
            .collect::<Result<Vec<_>, _>>()
            .map_err(HandlerError::Permanent)?;
        let batch: Vec<Registered<'_>> = events
            .iter()
            .zip(messages)
            .map(|(event, m)| Registered {
                event,
                span: receive_span(APPEALS_QUEUE, m),
            })
            .collect();
        self.engine
            .route_registered(tx, &batch)
            .await
            .map_err(failure)?;
        Ok(true)
    }
}

fn failure(e: EngineError) -> HandlerError {
    match e {
        EngineError::BadEvent(reason) => HandlerError::Permanent(reason),
        EngineError::Db(e) => e.into(),
        EngineError::Storage(crate::storage::StorageError::Db(e)) => e.into(),
        e => HandlerError::Transient(e.to_string()),
    }
}
