//! Reception's domain events (`ReceptionChanged`), built from booking rows. Ids, codes and
//! times only: no name, IIN, phone or issue text of the visitor.

use bakylau_platform::broker::OutboxMessage;
use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, Utc};

use crate::domain::official::Official;
use crate::storage::BookingRow;
use crate::time::local_date;

pub const PRODUCER: &str = "reception";
pub const BOOKED: &str = "reception.booked";
pub const CANCELLED: &str = "reception.cancelled";
pub const RESCHEDULED: &str = "reception.rescheduled";
pub const CHECKED_IN: &str = "reception.checked_in";
pub const NO_SHOW: &str = "reception.no_show";
pub const HELD: &str = "reception.held";
pub const REMINDER_DUE: &str = "reception.reminder_due";

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// `<official_id>/<YYYY-MM-DD>`: one official's reception on one day.
pub fn reception_id(official_id: &str, starts_at: DateTime<Utc>) -> String {
    format!("{official_id}/{}", local_date(starts_at))
}

/// Extra facts some events carry.
#[derive(Default)]
pub struct Extra {
    pub outcome: String,
    pub appeal_ids: Vec<String>,
    pub instruction_id: String,
    pub previous_starts_at: Option<DateTime<Utc>>,
}

pub fn changed(
    event_type: &str,
    b: &BookingRow,
    official: &Official,
    extra: Extra,
) -> OutboxMessage {
    let payload = ev::ReceptionChanged {
        reception_id: reception_id(&b.official_id, b.starts_at),
        booking_id: b.id.to_string(),
        official_id: b.official_id.clone(),
        format: b.format.clone(),
        status: b.status.clone(),
        starts_at: Some(timestamp(b.starts_at)),
        district: if b.district.is_empty() {
            official.district.clone()
        } else {
            b.district.clone()
        },
        appeal_ids: extra.appeal_ids,
        body: b.body.clone(),
        kind: b.kind.clone(),
        outcome: extra.outcome,
        instruction_id: extra.instruction_id,
        category: b.category.clone(),
        official_kind: official.kind.as_str().to_owned(),
        previous_starts_at: extra.previous_starts_at.map(timestamp),
        waiting_list_entry_id: b
            .waiting_list_entry_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        session_id: b.session_id.map(|id| id.to_string()).unwrap_or_default(),
        participants: b.participants.clone(),
        minutes: b.minutes.max(0) as u32,
    };
    OutboxMessage::event(
        PRODUCER,
        event_type,
        &b.id.to_string(),
        Utc::now(),
        &payload,
    )
}
