//! Status updates for the government system an appeal came from (the inbound contract in
//! DESIGN.md): each later status change of an external appeal goes back to its sender on
//! `bakylau.outbound`, routing key `<source-name>.appeal.<status>`, as a CloudEvents JSON
//! document carrying the sender's `external_id`, so a national portal never shows a stale
//! status. Pure: the AMQP adapter only decodes, calls this and enqueues.

use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, Utc};
use prost::Message as _;
use serde_json::{Value, json};

use super::inbound::reply_document;

/// Event types whose news the sender receives.
pub const FORWARDED_EVENTS: &[&str] = &[
    "appeal.routed",
    "appeal.redirected",
    "appeal.assigned",
    "appeal.extended",
    "appeal.closed",
];

/// One document for one sender.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub routing_key: String,
    pub message_type: String,
    pub document: Value,
}

/// Why an event could not be turned into a status update; the message is parked with it.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OutboundError {
    #[error("not a bakylau.events.v1.Envelope: {0}")]
    Envelope(String),
    #[error("payload of {event_type} is not a {expected}: {detail}")]
    Payload {
        event_type: String,
        expected: &'static str,
        detail: String,
    },
}

/// `urn:kz:eotinish` → `eotinish`: the last segment of the CloudEvents `source`, reduced to
/// the characters a routing-key word may hold. `None` for a source with nothing left.
pub fn source_name(source: &str) -> Option<String> {
    let last = source
        .trim()
        .trim_end_matches(['/', ':'])
        .rsplit([':', '/'])
        .next()
        .unwrap_or_default();
    let name: String = last
        .chars()
        .filter_map(|c| {
            let c = c.to_ascii_lowercase();
            (c.is_ascii_alphanumeric() || c == '-' || c == '_').then_some(c)
        })
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The update to send for `envelope`, or `None` when the appeal did not come from another
/// system (or the event is not one senders receive).
pub fn status_update(
    envelope: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<StatusUpdate>, OutboundError> {
    let env = ev::Envelope::decode(envelope).map_err(|e| OutboundError::Envelope(e.to_string()))?;
    let Some(status) = env.r#type.strip_prefix("appeal.") else {
        return Ok(None);
    };
    if !FORWARDED_EVENTS.contains(&env.r#type.as_str()) {
        return Ok(None);
    }
    let (external, data) = match env.r#type.as_str() {
        "appeal.routed" => {
            let e: ev::AppealRouted = decode(&env)?;
            let data = json!({
                "appeal_id": e.appeal_id,
                "registration_number": e.registration_number,
                "category": e.category,
                "executor": e.lead_executor,
                "co_executors": e.co_executors,
            });
            (e.external, data)
        }
        "appeal.redirected" => {
            let e: ev::AppealRedirected = decode(&env)?;
            let data = json!({
                "appeal_id": e.appeal_id,
                "registration_number": e.registration_number,
                "to_body": e.to_body,
                "reason": e.reason_code,
                "explanation_kk": e.explanation_kk,
                "explanation_ru": e.explanation_ru,
            });
            (e.external, data)
        }
        "appeal.assigned" => {
            let e: ev::AppealAssigned = decode(&env)?;
            let data = json!({
                "appeal_id": e.appeal_id,
                "registration_number": e.registration_number,
                "executor": e.lead_executor,
                "co_executors": e.co_executors,
                "due_date": e.due_date,
                "working_days": e.working_days,
            });
            (e.external, data)
        }
        _ => {
            let e: ev::AppealStatusChanged = decode(&env)?;
            let mut data = json!({
                "appeal_id": e.appeal_id,
                "registration_number": e.registration_number,
                "executor": e.body,
                "due_date": e.due_date,
                "note": e.note,
            });
            if env.r#type == "appeal.closed" {
                data["answer_text"] = Value::String(e.answer_text);
            }
            (e.external, data)
        }
    };
    let Some(external) = external.filter(|x| !x.external_id.is_empty()) else {
        return Ok(None);
    };
    let Some(name) = source_name(&external.source) else {
        return Ok(None);
    };
    let mut data = data;
    data["external_id"] = Value::String(external.external_id.clone());
    data["status"] = Value::String(status.to_owned());
    let message_type = format!("kz.bakylau.appeal.{status}");
    Ok(Some(StatusUpdate {
        routing_key: format!("{name}.appeal.{status}"),
        document: reply_document(&message_type, &external.external_id, data, now),
        message_type,
    }))
}

fn decode<M: prost::Message + prost::Name + Default>(
    env: &ev::Envelope,
) -> Result<M, OutboundError> {
    M::decode(env.payload.as_slice()).map_err(|e| OutboundError::Payload {
        event_type: env.r#type.clone(),
        expected: std::any::type_name::<M>()
            .rsplit("::")
            .next()
            .unwrap_or("message"),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope<M: prost::Message + prost::Name>(event_type: &str, payload: &M) -> Vec<u8> {
        ev::Envelope {
            id: uuid::Uuid::now_v7().to_string(),
            r#type: event_type.into(),
            occurred_at: None,
            producer: "test".into(),
            subject: "a1".into(),
            payload: payload.encode_to_vec(),
            payload_type: M::full_name(),
        }
        .encode_to_vec()
    }

    fn external() -> Option<ev::ExternalReference> {
        Some(ev::ExternalReference {
            source: "urn:kz:eotinish".into(),
            external_id: "EO-1".into(),
        })
    }

    #[test]
    fn source_names_are_routing_key_words() {
        assert_eq!(source_name("urn:kz:eotinish").as_deref(), Some("eotinish"));
        assert_eq!(
            source_name("https://e-otinish.gov.kz/").as_deref(),
            Some("e-otinishgovkz")
        );
        assert_eq!(source_name("  ").as_deref(), None);
        assert_eq!(source_name("urn:kz:ЕО").as_deref(), None);
    }

    #[test]
    fn a_routed_external_appeal_goes_back_to_its_sender() {
        let routed = ev::AppealRouted {
            appeal_id: "a1".into(),
            registration_number: "ALM-2026-000001".into(),
            category: "housing.heating".into(),
            lead_executor: "district.talgar".into(),
            external: external(),
            ..Default::default()
        };
        let u = status_update(&envelope("appeal.routed", &routed), Utc::now())
            .unwrap()
            .unwrap();
        assert_eq!(u.routing_key, "eotinish.appeal.routed");
        assert_eq!(u.message_type, "kz.bakylau.appeal.routed");
        assert_eq!(u.document["type"], "kz.bakylau.appeal.routed");
        assert_eq!(u.document["subject"], "EO-1");
        assert_eq!(u.document["data"]["external_id"], "EO-1");
        assert_eq!(u.document["data"]["executor"], "district.talgar");
        assert_eq!(u.document["data"]["status"], "routed");
    }

    #[test]
    fn a_closed_appeal_carries_the_answer() {
        let closed = ev::AppealStatusChanged {
            appeal_id: "a1".into(),
            status: "closed".into(),
            answer_text: "Ремонт выполнен".into(),
            external: external(),
            ..Default::default()
        };
        let u = status_update(&envelope("appeal.closed", &closed), Utc::now())
            .unwrap()
            .unwrap();
        assert_eq!(u.routing_key, "eotinish.appeal.closed");
        assert_eq!(u.document["data"]["answer_text"], "Ремонт выполнен");
    }

    #[test]
    fn appeals_registered_here_and_other_events_send_nothing() {
        let own = ev::AppealAssigned {
            appeal_id: "a1".into(),
            ..Default::default()
        };
        assert_eq!(
            status_update(&envelope("appeal.assigned", &own), Utc::now()),
            Ok(None)
        );
        let overdue = ev::AppealStatusChanged {
            external: external(),
            ..Default::default()
        };
        assert_eq!(
            status_update(&envelope("appeal.overdue", &overdue), Utc::now()),
            Ok(None)
        );
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(matches!(
            status_update(b"\xff\xff\xff", Utc::now()),
            Err(OutboundError::Envelope(_))
        ));
        let bad = ev::Envelope {
            r#type: "appeal.routed".into(),
            payload: vec![0xff, 0xff, 0xff],
            ..Default::default()
        }
        .encode_to_vec();
        assert!(matches!(
            status_update(&bad, Utc::now()),
            Err(OutboundError::Payload { .. })
        ));
    }
}
