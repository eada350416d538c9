//! AMQP adapter: the inbound contract for other government systems (reg 8.5, 8.6). Each
//! submission on `bakylau.inbound` is registered (or declined) in the consumer's
//! transaction; the answer goes to the sender's `reply_to` and, as an event, to
//! `bakylau.events`. The same `(source, external_id)` gets the same answer again.

use std::sync::Arc;

use bakylau_platform::broker::{
    CONTENT_TYPE_CLOUDEVENTS, CONTENT_TYPE_PROTOBUF, EVENTS_EXCHANGE, Handler, HandlerError,
    INBOUND_EXCHANGE, IncomingMessage, OUTBOUND_EXCHANGE, OutboxMessage, QueueSpec, enqueue,
};
use bakylau_proto::intake::v1 as pb;
use chrono::Utc;
use prost::Message as _;
use sqlx::PgConnection;

use crate::domain::inbound::{
    DECLINED_TYPE, REGISTERED_TYPE, Rejection, Submission, parse_cloudevent, prefix_fields,
    reply_document,
};
use crate::domain::outbound;
use crate::domain::{Channel, FieldIssue};
use crate::events;
use crate::register::{RegisterError, Registrar};
use crate::storage::{self, ExternalOutcome};

pub const INBOUND_QUEUE: &str = "intake.inbound";

pub fn inbound_queue(retry_delays_ms: &[u64]) -> QueueSpec {
    QueueSpec::new(INBOUND_QUEUE)
        .bind(INBOUND_EXCHANGE, "appeal.submit.#")
        .retry_delays(retry_delays_ms)
}

pub const STATUS_QUEUE: &str = "intake.status";

/// Status changes of appeals, forwarded to the systems they came from.
pub fn status_queue(retry_delays_ms: &[u64]) -> QueueSpec {
    outbound::FORWARDED_EVENTS
        .iter()
        .fold(QueueSpec::new(STATUS_QUEUE), |spec, key| {
            spec.bind(EVENTS_EXCHANGE, key)
        })
        .retry_delays(retry_delays_ms)
}

/// Turns an appeal's status event into a CloudEvents document on `bakylau.outbound` for the
/// system it came from; events about appeals registered here pass without effect.
pub struct StatusHandler;

impl Handler for StatusHandler {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
    ) -> Result<(), HandlerError> {
        let update = outbound::status_update(&message.body, Utc::now())
            .map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let Some(update) = update else {
            return Ok(());
        };
        let payload = serde_json::to_vec(&update.document)
            .map_err(|e| HandlerError::Permanent(e.to_string()))?;
        let message = OutboxMessage {
            message_id: uuid::Uuid::now_v7(),
            exchange: OUTBOUND_EXCHANGE.to_owned(),
            routing_key: update.routing_key,
            message_type: update.message_type,
            content_type: CONTENT_TYPE_CLOUDEVENTS.to_owned(),
            correlation_id: None,
            headers: Default::default(),
            payload,
        };
        enqueue(tx, &message).await?;
        metrics::counter!("bakylau_outbound_status_total").increment(1);
        Ok(())
    }

    /// Most appeals are registered here and have nobody outside to tell: their events are
    /// acknowledged without touching the database. What cannot be read goes to `handle`,
    /// which parks it with the reason.
    fn concerns(&self, message: &IncomingMessage) -> bool {
        !matches!(outbound::status_update(&message.body, Utc::now()), Ok(None))
    }
}

pub struct InboundHandler {
    pub registrar: Arc<Registrar>,
    pub max_bytes: usize,
    /// Which broker user may publish as which source (empty: not enforced).
    pub senders: Arc<crate::policy::InboundSenders>,
}

impl Handler for InboundHandler {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
    ) -> Result<(), HandlerError> {
        let parsed = decode_inbound(
            message.content_type.as_deref(),
            &message.body,
            self.max_bytes,
        )
        .map_err(HandlerError::Permanent)?;
        let source = match &parsed {
            Ok(s) => &s.source,
            Err(r) => &r.source,
        };
        // Neither registered nor declined (no reply to a sender posing as another).
        crate::policy::may_publish(&self.senders, message.sender.as_deref(), source)
            .map_err(HandlerError::Permanent)?;
        match parsed {
            Ok(submission) => self.submit(tx, message, submission).await,
            Err(rejection) => self.decline(tx, message, rejection).await,
        }
    }
}

impl InboundHandler {
    async fn submit(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
        s: Submission,
    ) -> Result<(), HandlerError> {
        if let Some(outcome) = storage::external_outcome(tx, &s.source, &s.external_id).await? {
            tracing::info!(external_outcome = %outcome.event_type, "repeated external submission answered again");
            return answer_again(tx, message, &s.event_id, &outcome).await;
        }
        let prefix = if message.content_type.as_deref().is_some_and(|c| {
            c.trim()
                .to_ascii_lowercase()
                .starts_with(CONTENT_TYPE_PROTOBUF)
        }) {
            "appeal."
        } else {
            "data."
        };
        let (source, external_id, event_id) =
            (s.source.clone(), s.external_id.clone(), s.event_id.clone());
        // Pre-review finds most problems; registration may find one more (an unknown
        // `repeated_of`). Either way the sender gets a decline naming the fields.
        let registered = match self.registrar.prepare(s.appeal) {
            Ok(prepared) => self.registrar.register_in(tx, &prepared, None, None).await,
            Err(e) => Err(e),
        };
        let registration = match registered {
            Ok(r) => {
                r.report();
                r
            }
            Err(RegisterError::Invalid(issues)) => {
                let rejection = Rejection {
                    event_id,
                    source,
                    external_id,
                    issues: prefix_fields(issues, prefix),
                };
                return self.decline(tx, message, rejection).await;
            }
            Err(RegisterError::Db(e)) => return Err(e.into()),
            Err(e) => return Err(HandlerError::Transient(e.to_string())),
        };
        let r = &registration.record;
        let event = registration
            .event
            .ok_or_else(|| HandlerError::Transient("registration wrote no event".into()))?;
        let (reply_type, data) = if r.status == "declined" {
            (
                DECLINED_TYPE,
                serde_json::json!({
                    "external_id": external_id,
                    "appeal_id": r.id.to_string(),
                    "registration_number": r.registration_number,
                    "reasons": r.decline_reasons.0,
                }),
            )
        } else {
            (
                REGISTERED_TYPE,
                serde_json::json!({
                    "external_id": external_id,
                    "appeal_id": r.id.to_string(),
                    "registration_number": r.registration_number,
                    "registered_at": r.registered_at.to_rfc3339(),
                }),
            )
        };
        let reply = reply_document(reply_type, &external_id, data, Utc::now());
        let outcome = ExternalOutcome {
            appeal_id: Some(r.id),
            event_id: event.message_id,
            event_type: event.message_type.clone(),
            event_payload: event.payload.clone(),
            reply_type: reply_type.to_owned(),
            reply_payload: serde_json::to_vec(&reply)
                .map_err(|e| HandlerError::Transient(e.to_string()))?,
        };
        storage::record_external_outcome(tx, &source, &external_id, &outcome).await?;
        send_reply(tx, message, &event_id, &outcome).await
    }

    async fn decline(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
        r: Rejection,
    ) -> Result<(), HandlerError> {
        tracing::info!(reasons = r.issues.len(), "external submission declined");
        metrics::counter!("bakylau_inbound_declined_total").increment(1);
        let event = events::declined_unregistered(&r.source, &r.external_id, &r.issues);
        enqueue(tx, &event).await?;
        let reply = reply_document(
            DECLINED_TYPE,
            &r.external_id,
            serde_json::json!({ "external_id": r.external_id, "reasons": r.issues }),
            Utc::now(),
        );
        let outcome = ExternalOutcome {
            appeal_id: None,
            event_id: event.message_id,
            event_type: event.message_type.clone(),
            event_payload: event.payload.clone(),
            reply_type: DECLINED_TYPE.to_owned(),
            reply_payload: serde_json::to_vec(&reply)
                .map_err(|e| HandlerError::Transient(e.to_string()))?,
        };
        // Keyed only when the sender gave both parts of the key.
        if !r.source.is_empty() && !r.external_id.is_empty() {
            storage::record_external_outcome(tx, &r.source, &r.external_id, &outcome).await?;
        }
        send_reply(tx, message, &r.event_id, &outcome).await
    }
}

/// A repeat: the stored event again with its original message id (consumers that saw it
/// skip it), and the stored reply again.
async fn answer_again(
    tx: &mut PgConnection,
    message: &IncomingMessage,
    event_id: &str,
    o: &ExternalOutcome,
) -> Result<(), HandlerError> {
    let event = OutboxMessage::stored_event(o.event_id, &o.event_type, o.event_payload.clone());
    enqueue(tx, &event).await?;
    send_reply(tx, message, event_id, o).await
}

async fn send_reply(
    tx: &mut PgConnection,
    message: &IncomingMessage,
    event_id: &str,
    o: &ExternalOutcome,
) -> Result<(), HandlerError> {
    if let Some(reply_to) = message.reply_to.as_deref().filter(|r| !r.is_empty()) {
        let correlation = message
            .correlation_id
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| event_id.to_owned());
        let reply = OutboxMessage::reply(
            reply_to,
            &correlation,
            &o.reply_type,
            CONTENT_TYPE_CLOUDEVENTS,
            o.reply_payload.clone(),
        );
        enqueue(tx, &reply).await?;
    }
    Ok(())
}

/// Reads one inbound message by its AMQP content type. `Err` is the park reason for a
/// message that cannot be answered at all (too large, unknown content type, not JSON or
/// not the protobuf); `Ok(Err)` is a readable submission to decline with its reasons.
/// Media types compare case-insensitively and ignore parameters (RFC 9110 §8.3.1).
pub fn decode_inbound(
    content_type: Option<&str>,
    body: &[u8],
    max_bytes: usize,
) -> Result<Result<Submission, Rejection>, String> {
    if body.len() > max_bytes {
        return Err(format!(
            "message of {} bytes exceeds the limit of {max_bytes} bytes (intake.max_inbound_bytes)",
            body.len()
        ));
    }
    let media_type = content_type.map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    match media_type.as_deref() {
        Some(CONTENT_TYPE_PROTOBUF) => parse_protobuf(body),
        // No content type: the contract's default form, CloudEvents JSON.
        None | Some("" | CONTENT_TYPE_CLOUDEVENTS | "application/json") => parse_cloudevent(body),
        Some(_) => Err(format!(
            "unsupported content type {:?}; use {CONTENT_TYPE_CLOUDEVENTS} or {CONTENT_TYPE_PROTOBUF}",
            content_type
                .unwrap_or_default()
                .chars()
                .take(80)
                .collect::<String>()
        )),
    }
}

/// The protobuf form of the contract, `bakylau.intake.v1.SubmitAppeal`.
pub fn parse_protobuf(body: &[u8]) -> Result<Result<Submission, Rejection>, String> {
    let msg = pb::SubmitAppeal::decode(body)
        .map_err(|e| format!("body is not a bakylau.intake.v1.SubmitAppeal: {e}"))?;
    let mut appeal = crate::api::new_appeal(msg.appeal.unwrap_or_default());
    appeal.channel = Some(Channel::External);
    appeal.source = msg.source.clone();
    if appeal.received_at.is_none() {
        appeal.received_at = msg
            .time
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32));
    }
    let mut issues = Vec::new();
    if msg.id.trim().is_empty() {
        issues.push(FieldIssue::new("id", "required", "required: message id"));
    }
    if msg.source.trim().is_empty() {
        issues.push(FieldIssue::new(
            "source",
            "required",
            "required: sending system",
        ));
    }
    if appeal.external_id.trim().is_empty() {
        issues.push(FieldIssue::new(
            "appeal.external_id",
            "required",
            "required: external_id",
        ));
    }
    let external_id = appeal.external_id.clone();
    if issues.is_empty() {
        Ok(Ok(Submission {
            event_id: msg.id,
            source: msg.source,
            external_id,
            appeal,
        }))
    } else {
        Ok(Err(Rejection {
            event_id: msg.id,
            source: msg.source,
            external_id,
            issues,
        }))
    }
}
