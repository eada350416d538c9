//! Events as the read model sees them: decoded from the envelope by `payload_type` into the
//! few facts the projections need. Unknown payload types are kept (stored raw) and ignored.

use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Almaty;
use prost::{Message, Name};

use super::reference::top_category;

#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    pub appeal_id: String,
    pub registration_number: String,
    pub registered_at: DateTime<Utc>,
    pub kind: String,
    pub channel: String,
    pub language: String,
    pub region: String,
    pub district: String,
    pub rural_district: String,
    pub kato: String,
    pub collective: bool,
    pub repeated: bool,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    Registered(Registered),
    /// Declined at pre-review; only when it was registered first is there an appeal.
    Declined {
        appeal_id: String,
    },
    Routed {
        appeal_id: String,
        registration_number: String,
        /// Top-level category code.
        category: String,
        subcategory: String,
        body: String,
    },
    Redirected {
        appeal_id: String,
        to_body: String,
    },
    NeedsManualRouting {
        appeal_id: String,
    },
    Assigned {
        appeal_id: String,
        body: String,
        due_date: Option<NaiveDate>,
    },
    /// `appeal.extended|answer_submitted|returned_for_rework|closed|overdue`.
    Status {
        appeal_id: String,
        mark: StatusMark,
        body: String,
        due_date: Option<NaiveDate>,
    },
    Instruction {
        instruction_id: String,
        number: String,
        issuer: String,
        mark: InstructionMark,
        executors: Vec<String>,
        due_date: Option<NaiveDate>,
        appeal_ids: Vec<String>,
        /// Control's own verdict on a completion after the due date.
        completed_late: bool,
    },
    Reception {
        key: String,
        official_id: String,
        format: String,
        mark: ReceptionMark,
        district: String,
        /// Body of the official who receives, when the reception service names it.
        body: String,
        starts_at: Option<DateTime<Utc>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMark {
    Extended,
    AnswerSubmitted,
    ReturnedForRework,
    Closed,
    Overdue,
}

impl StatusMark {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusMark::Extended => "extended",
            StatusMark::AnswerSubmitted => "answer_submitted",
            StatusMark::ReturnedForRework => "returned_for_rework",
            StatusMark::Closed => "closed",
            StatusMark::Overdue => "overdue",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstructionMark {
    Issued,
    Progressed,
    Completed,
    Overdue,
}

impl InstructionMark {
    pub fn as_str(self) -> &'static str {
        match self {
            InstructionMark::Issued => "issued",
            InstructionMark::Progressed => "progressed",
            InstructionMark::Completed => "completed",
            InstructionMark::Overdue => "overdue",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceptionMark {
    Booked,
    Cancelled,
    Held,
}

impl ReceptionMark {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceptionMark::Booked => "booked",
            ReceptionMark::Cancelled => "cancelled",
            ReceptionMark::Held => "held",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload of {payload_type} does not decode: {reason}")]
    Payload {
        payload_type: String,
        reason: String,
    },
    #[error("{event_type}: {reason}")]
    Missing { event_type: String, reason: String },
}

/// An event at a moment: the envelope's `occurred_at` (or the fallback when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Occurred {
    pub at: DateTime<Utc>,
    pub fact: Fact,
}

/// The local (Asia/Almaty) calendar day of a moment: reports count by the Department's day.
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Almaty).date_naive()
}

pub fn to_utc(ts: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(0))
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

fn decode_as<M: Message + Name + Default>(payload: &[u8]) -> Result<M, DecodeError> {
    M::decode(payload).map_err(|e| DecodeError::Payload {
        payload_type: M::full_name(),
        reason: e.to_string(),
    })
}

fn require(event_type: &str, id: &str, what: &str) -> Result<(), DecodeError> {
    if id.trim().is_empty() {
        Err(DecodeError::Missing {
            event_type: event_type.to_owned(),
            reason: format!("{what} is empty"),
        })
    } else {
        Ok(())
    }
}

/// The fact an envelope carries; `Ok(None)` for types the projections do not use (the
/// event is still kept in the event store).
pub fn decode(
    envelope: &ev::Envelope,
    fallback_at: DateTime<Utc>,
) -> Result<Option<Occurred>, DecodeError> {
    let at = envelope
        .occurred_at
        .as_ref()
        .and_then(to_utc)
        .unwrap_or(fallback_at);
    let t = envelope.r#type.as_str();
    let p = envelope.payload.as_slice();
    let fact = match envelope.payload_type.as_str() {
        x if x == ev::AppealRegistered::full_name() => {
            let m: ev::AppealRegistered = decode_as(p)?;
            require(t, &m.appeal_id, "appeal_id")?;
            let loc = m.locality.unwrap_or_default();
            Fact::Registered(Registered {
                registered_at: m.registered_at.as_ref().and_then(to_utc).unwrap_or(at),
                appeal_id: m.appeal_id,
                registration_number: m.registration_number,
                kind: m.kind,
                channel: m.channel,
                language: m.language,
                region: loc.region,
                district: loc.district,
                rural_district: loc.rural_district,
                kato: loc.kato,
                collective: m.collective,
                repeated: !m.repeated_of_appeal_id.is_empty()
                    || !m.repeated_of_registration_number.is_empty(),
                subject: m.subject,
                text: m.text,
            })
        }
        x if x == ev::AppealDeclined::full_name() => {
            let m: ev::AppealDeclined = decode_as(p)?;
            if m.appeal_id.is_empty() {
                // Never registered: nothing in the register to count.
                return Ok(None);
            }
            Fact::Declined {
                appeal_id: m.appeal_id,
            }
        }
        x if x == ev::AppealRouted::full_name() => {
            let m: ev::AppealRouted = decode_as(p)?;
            require(t, &m.appeal_id, "appeal_id")?;
            Fact::Routed {
                appeal_id: m.appeal_id,
                registration_number: m.registration_number,
                category: top_category(&m.category).to_owned(),
                subcategory: m.category,
                body: m.lead_executor,
            }
        }
        x if x == ev::AppealRedirected::full_name() => {
            let m: ev::AppealRedirected = decode_as(p)?;
            require(t, &m.appeal_id, "appeal_id")?;
            Fact::Redirected {
                appeal_id: m.appeal_id,
                to_body: m.to_body,
            }
        }
        x if x == ev::AppealNeedsManualRouting::full_name() => {
            let m: ev::AppealNeedsManualRouting = decode_as(p)?;
            require(t, &m.appeal_id, "appeal_id")?;
            Fact::NeedsManualRouting {
                appeal_id: m.appeal_id,
            }
        }
        x if x == ev::AppealAssigned::full_name() => {
            let m: ev::AppealAssigned = decode_as(p)?;
            require(t, &m.appeal_id, "appeal_id")?;
            Fact::Assigned {
                appeal_id: m.appeal_id,
                body: m.lead_executor,
                due_date: date(&m.due_date),
            }
        }
        x if x == ev::AppealStatusChanged::full_name() => {
            let m: ev::AppealStatusChanged = decode_as(p)?;
            require(t, &m.appeal_id, "appeal_id")?;
            // The routing key says which mark; the status field is the fallback.
            let mark = status_mark(t).or_else(|| status_mark(&format!("appeal.{}", m.status)));
            let Some(mark) = mark else { return Ok(None) };
            Fact::Status {
                appeal_id: m.appeal_id,
                mark,
                body: m.body,
                due_date: date(&m.due_date),
            }
        }
        x if x == ev::InstructionChanged::full_name() => {
            let m: ev::InstructionChanged = decode_as(p)?;
            require(t, &m.instruction_id, "instruction_id")?;
            let mark = match t {
                "instruction.issued" => InstructionMark::Issued,
                "instruction.progressed" => InstructionMark::Progressed,
                "instruction.completed" => InstructionMark::Completed,
                "instruction.overdue" => InstructionMark::Overdue,
                _ => return Ok(None),
            };
            Fact::Instruction {
                instruction_id: m.instruction_id,
                number: m.number,
                issuer: m.issuer,
                mark,
                executors: m.executors,
                due_date: date(&m.due_date),
                appeal_ids: m.appeal_ids,
                completed_late: m.completed_late,
            }
        }
        x if x == ev::ReceptionChanged::full_name() => {
            let m: ev::ReceptionChanged = decode_as(p)?;
            let key = if m.booking_id.is_empty() {
                m.reception_id.clone()
            } else {
                m.booking_id.clone()
            };
            require(t, &key, "booking_id and reception_id")?;
            let mark = match t {
                "reception.booked" => ReceptionMark::Booked,
                "reception.cancelled" => ReceptionMark::Cancelled,
                "reception.held" => ReceptionMark::Held,
                _ => return Ok(None),
            };
            Fact::Reception {
                key,
                official_id: m.official_id,
                format: m.format,
                mark,
                district: m.district,
                body: m.body,
                starts_at: m.starts_at.as_ref().and_then(to_utc),
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Occurred { at, fact }))
}

fn status_mark(event_type: &str) -> Option<StatusMark> {
    Some(match event_type {
        "appeal.extended" => StatusMark::Extended,
        "appeal.answer_submitted" => StatusMark::AnswerSubmitted,
        "appeal.returned_for_rework" => StatusMark::ReturnedForRework,
        "appeal.closed" => StatusMark::Closed,
        "appeal.overdue" => StatusMark::Overdue,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope<M: Message + Name>(t: &str, m: &M) -> ev::Envelope {
        ev::Envelope {
            id: "0195-test".into(),
            r#type: t.into(),
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_780_000_000,
                nanos: 0,
            }),
            producer: "test".into(),
            subject: "a1".into(),
            payload: m.encode_to_vec(),
            payload_type: M::full_name(),
        }
    }

    #[test]
    fn registered_is_decoded_with_repeat_and_locality() {
        let m = ev::AppealRegistered {
            appeal_id: "a1".into(),
            registration_number: "ALM-2026-000001".into(),
            kind: "complaint".into(),
            collective: true,
            repeated_of_registration_number: "ALM-2026-000000".into(),
            locality: Some(ev::Locality {
                district: "talgar".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let got = decode(&envelope("appeal.registered", &m), Utc::now())
            .unwrap()
            .unwrap();
        let Fact::Registered(r) = got.fact else {
            panic!("not registered")
        };
        assert!(r.repeated && r.collective);
        assert_eq!(r.district, "talgar");
        // No registered_at: the envelope's time.
        assert_eq!(r.registered_at.timestamp(), 1_780_000_000);
    }

    #[test]
    fn routed_keeps_the_top_category() {
        let m = ev::AppealRouted {
            appeal_id: "a1".into(),
            category: "housing_utilities.heating".into(),
            lead_executor: "akimat.talgar".into(),
            ..Default::default()
        };
        let got = decode(&envelope("appeal.routed", &m), Utc::now())
            .unwrap()
            .unwrap();
        assert!(
            matches!(got.fact, Fact::Routed { ref category, .. } if category == "housing_utilities")
        );
    }

    #[test]
    fn status_mark_comes_from_the_type() {
        let m = ev::AppealStatusChanged {
            appeal_id: "a1".into(),
            status: "whatever".into(),
            ..Default::default()
        };
        let got = decode(&envelope("appeal.returned_for_rework", &m), Utc::now())
            .unwrap()
            .unwrap();
        assert!(matches!(
            got.fact,
            Fact::Status {
                mark: StatusMark::ReturnedForRework,
                ..
            }
        ));
    }

    #[test]
    fn unknown_types_are_ignored_and_garbage_is_an_error() {
        let mut e = envelope("something.new", &ev::AppealRouted::default());
        e.payload_type = "bakylau.events.v1.SomethingNew".into();
        assert_eq!(decode(&e, Utc::now()), Ok(None));
        let mut bad = envelope("appeal.routed", &ev::AppealRouted::default());
        bad.payload = vec![0xff, 0xff, 0xff];
        assert!(matches!(
            decode(&bad, Utc::now()),
            Err(DecodeError::Payload { .. })
        ));
        let empty = envelope("appeal.routed", &ev::AppealRouted::default());
        assert!(matches!(
            decode(&empty, Utc::now()),
            Err(DecodeError::Missing { .. })
        ));
    }

    #[test]
    fn local_day_is_almaty() {
        // 20:00 UTC is the next day in Almaty (UTC+5).
        let t = DateTime::parse_from_rfc3339("2026-03-01T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(local_day(t), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
    }
}
