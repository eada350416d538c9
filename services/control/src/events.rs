//! Control's domain events, built from appeal rows. No personal data: ids, registration
//! numbers, bodies and dates; the answer text only in `appeal.closed` (it is what the
//! applicant receives, and reporting analyses it).

use bakylau_platform::broker::OutboxMessage;
use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, NaiveDate, Utc};

use crate::storage::AppealRow;

pub const PRODUCER: &str = "control";
pub const APPEAL_ASSIGNED: &str = "appeal.assigned";
pub const APPEAL_EXTENDED: &str = "appeal.extended";
pub const APPEAL_ANSWER_SUBMITTED: &str = "appeal.answer_submitted";
pub const APPEAL_RETURNED_FOR_REWORK: &str = "appeal.returned_for_rework";
pub const APPEAL_CLOSED: &str = "appeal.closed";
pub const APPEAL_OVERDUE: &str = "appeal.overdue";
pub const APPEAL_DEADLINE_APPROACHING: &str = "appeal.deadline_approaching";
pub const APPLICANT_NOTIFIED: &str = "applicant.notified";

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn external(a: &AppealRow) -> Option<ev::ExternalReference> {
    match (&a.external_source, &a.external_id) {
        (Some(source), Some(external_id)) => Some(ev::ExternalReference {
            source: source.clone(),
            external_id: external_id.clone(),
        }),
        _ => None,
    }
}

pub fn assigned(a: &AppealRow, at: DateTime<Utc>, reassigned: bool) -> OutboxMessage {
    let payload = ev::AppealAssigned {
        appeal_id: a.appeal_id.to_string(),
        registration_number: a.registration_number.clone(),
        lead_executor: a.lead_body.clone().unwrap_or_default(),
        co_executors: a.co_bodies.clone(),
        due_date: date(a.due_date),
        working_days: a.working_days.unwrap_or_default().max(0) as u32,
        external: external(a),
        assigned_at: Some(timestamp(at)),
        reassigned,
        kind: a.kind.clone(),
        registered_on: date(a.registered_on),
    };
    OutboxMessage::event(PRODUCER, APPEAL_ASSIGNED, &payload.appeal_id, at, &payload)
}

/// A status mark; `event_type`'s last word is the status.
pub struct StatusMark<'a> {
    pub event_type: &'static str,
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub note: &'a str,
    pub answer_text: &'a str,
    pub previous_due_date: Option<NaiveDate>,
}

pub fn status_changed(a: &AppealRow, m: &StatusMark<'_>) -> OutboxMessage {
    let status = m
        .event_type
        .rsplit('.')
        .next()
        .unwrap_or(m.event_type)
        .to_owned();
    let payload = ev::AppealStatusChanged {
        appeal_id: a.appeal_id.to_string(),
        registration_number: a.registration_number.clone(),
        status,
        body: a.lead_body.clone().unwrap_or_default(),
        due_date: date(a.due_date),
        note: m.note.to_owned(),
        answer_text: m.answer_text.to_owned(),
        external: external(a),
        at: Some(timestamp(m.at)),
        actor: m.actor.to_owned(),
        rework_count: a.rework_count.max(0) as u32,
        previous_due_date: date(m.previous_due_date),
        akim_control: a.akim_control,
    };
    OutboxMessage::event(PRODUCER, m.event_type, &payload.appeal_id, m.at, &payload)
}

pub fn deadline_approaching(a: &AppealRow, at: DateTime<Utc>, days_left: u32) -> OutboxMessage {
    let payload = ev::DeadlineApproaching {
        appeal_id: a.appeal_id.to_string(),
        registration_number: a.registration_number.clone(),
        body: a.lead_body.clone().unwrap_or_default(),
        due_date: date(a.due_date),
        working_days_left: days_left,
    };
    OutboxMessage::event(
        PRODUCER,
        APPEAL_DEADLINE_APPROACHING,
        &payload.appeal_id,
        at,
        &payload,
    )
}

pub fn applicant_notified(
    a: &AppealRow,
    letter_id: uuid::Uuid,
    kind: &str,
    language: &str,
    at: DateTime<Utc>,
    due_by: Option<NaiveDate>,
) -> OutboxMessage {
    let payload = ev::ApplicantNotified {
        letter_id: letter_id.to_string(),
        appeal_id: a.appeal_id.to_string(),
        registration_number: a.registration_number.clone(),
        letter_kind: kind.to_owned(),
        language: language.to_owned(),
        created_at: Some(timestamp(at)),
        due_by: date(due_by),
    };
    OutboxMessage::event(
        PRODUCER,
        APPLICANT_NOTIFIED,
        &payload.appeal_id,
        at,
        &payload,
    )
}
