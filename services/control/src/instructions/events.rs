//! `instruction.issued|progressed|completed|overdue` events (`InstructionChanged`, subject =
//! instruction id), built from the stored instruction inside the changing transaction.
//! Only codes, ids, dates and counts: no instruction text, no official's name.

use bakylau_platform::broker::OutboxMessage;
use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, NaiveDate, Utc};

use super::domain::{self, CheckStatus, DisciplineStatus};
use super::storage::FullInstruction;

pub const PRODUCER: &str = "control";
pub const ISSUED: &str = "instruction.issued";
pub const PROGRESSED: &str = "instruction.progressed";
pub const COMPLETED: &str = "instruction.completed";
pub const OVERDUE: &str = "instruction.overdue";

/// What one change adds to the event beyond the instruction's state.
#[derive(Debug, Clone, Default)]
pub struct Change<'a> {
    /// `issued`, `progress_reported`, `check_done`, ... (see the proto).
    pub code: &'a str,
    pub body: &'a str,
    pub conclusion_outcome: &'a str,
    pub discipline_measure: &'a str,
    pub actor: &'a str,
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// The event type a change travels as.
pub fn event_type(change: &str) -> &'static str {
    match change {
        "issued" => ISSUED,
        "completed" => COMPLETED,
        "overdue" => OVERDUE,
        _ => PROGRESSED,
    }
}

pub fn changed(
    full: &FullInstruction,
    change: &Change<'_>,
    today: NaiveDate,
    at: DateTime<Utc>,
) -> OutboxMessage {
    let r = &full.row;
    let payload = ev::InstructionChanged {
        instruction_id: r.id.to_string(),
        number: r.number.clone(),
        issuer: r.issuer.clone(),
        status: r.status.clone(),
        executors: r.executors(),
        due_date: r.due_date.to_string(),
        appeal_ids: r.appeal_ids.iter().map(ToString::to_string).collect(),
        change: change.code.to_owned(),
        lead_executor: r.lead_executor.clone(),
        issued_at: Some(timestamp(r.issued_at)),
        completed_at: r.completed_at.map(timestamp),
        overdue: domain::is_overdue(r.status(), r.due_date, today),
        completed_late: r
            .completed_on
            .is_some_and(|on| domain::completed_late(r.due_date, on)),
        source: r.source.clone(),
        body: change.body.to_owned(),
        title: r.title.clone(),
        progress_reports: full.reports.len() as u32,
        checks_done: full
            .checks
            .iter()
            .filter(|c| c.status() == CheckStatus::Done)
            .count() as u32,
        conclusions: full.conclusions.len() as u32,
        discipline_proposals: full.discipline.len() as u32,
        discipline_applied: full
            .discipline
            .iter()
            .filter(|d| d.status() == DisciplineStatus::Applied)
            .count() as u32,
        conclusion_outcome: change.conclusion_outcome.to_owned(),
        discipline_measure: change.discipline_measure.to_owned(),
        occurred_at: Some(timestamp(at)),
        actor: change.actor.to_owned(),
    };
    OutboxMessage::event(
        PRODUCER,
        event_type(change.code),
        &r.id.to_string(),
        at,
        &payload,
    )
}
