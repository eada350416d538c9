//! gRPC adapter: `bakylau.reception.v1.ReceptionService`. Converts messages to the domain
//! and back, and maps errors to status codes that name the field at fault.

use std::sync::Arc;

use bakylau_platform::audit;
use bakylau_proto::reception::v1 as pb;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::official::{Official, OfficialKind};
use crate::domain::prescreen::{EarlierLookup, PreScreening};
use crate::domain::schedule::{
    Leave, Schedule, Session, WeeklyHours, parse_date, parse_time, slot_id,
};
use crate::domain::{FieldIssue, Format, ReceptionKind, Venue, describe};
use crate::downstream::{Caller, DownstreamError};
use crate::events::timestamp;
use crate::service::{
    Issue, MinutesView, NewBooking, OutcomeInput, Reception, ReceptionError, Visitor,
    intake_details,
};
use crate::storage::{BookingFilter, BookingRow, OutcomeRow, WaitingRow};
use crate::time::to_local;

pub struct ReceptionApi {
    pub reception: Arc<Reception>,
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl pb::reception_service_server::ReceptionService for ReceptionApi {
    async fn list_officials(
        &self,
        request: Request<pb::ListOfficialsRequest>,
    ) -> Reply<pb::ListOfficialsResponse> {
        let r = request.into_inner();
        let officials = self
            .reception
            .list_officials(r.body.trim(), r.topic.trim(), r.include_inactive)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListOfficialsResponse {
            officials: officials.iter().map(official_message).collect(),
        }))
    }

    async fn get_official(&self, request: Request<pb::GetOfficialRequest>) -> Reply<pb::Official> {
        let o = self
            .reception
            .get_official(&request.into_inner().id)
            .await
            .map_err(status)?;
        Ok(Response::new(official_message(&o)))
    }

    async fn save_official(
        &self,
        request: Request<pb::SaveOfficialRequest>,
    ) -> Reply<pb::Official> {
        let o = request
            .into_inner()
            .official
            .ok_or_else(|| invalid(vec![FieldIssue::new("official", "required")]))?;
        let kind = OfficialKind::parse(&o.kind).ok_or_else(|| {
            invalid(vec![FieldIssue::new(
                "official.kind",
                format!("required: {}", OfficialKind::choices()),
            )])
        })?;
        let official = Official {
            id: o.id.trim().into(),
            full_name: o.full_name,
            position: o.position,
            kind,
            body: o.body.trim().into(),
            district: o.district.trim().into(),
            topics: o.topics.iter().map(|t| t.trim().to_owned()).collect(),
            supervisor_id: o.supervisor_id.trim().into(),
            active: o.active,
        };
        let saved = self
            .reception
            .save_official(official)
            .await
            .map_err(status)?;
        Ok(Response::new(official_message(&saved)))
    }

    async fn get_schedule(&self, request: Request<pb::GetScheduleRequest>) -> Reply<pb::Schedule> {
        let id = request.into_inner().official_id;
        let s = self.reception.schedule(&id).await.map_err(status)?;
        Ok(Response::new(schedule_message(id.trim(), &s)))
    }

    async fn set_schedule(&self, request: Request<pb::SetScheduleRequest>) -> Reply<pb::Schedule> {
        let r = request.into_inner();
        let mut issues = Vec::new();
        let weekly: Vec<WeeklyHours> = r
            .weekly
            .iter()
            .enumerate()
            .filter_map(|(i, w)| weekly_of(w, &format!("weekly[{i}]"), &mut issues))
            .collect();
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let s = self
            .reception
            .set_schedule(&r.official_id, weekly, r.publish_days_ahead)
            .await
            .map_err(status)?;
        Ok(Response::new(schedule_message(r.official_id.trim(), &s)))
    }

    async fn add_session(&self, request: Request<pb::AddSessionRequest>) -> Reply<pb::Schedule> {
        let r = request.into_inner();
        let s = r.session.unwrap_or_default();
        let mut issues = Vec::new();
        let date = parse_date(&s.date);
        if date.is_none() {
            issues.push(FieldIssue::new("session.date", "required: YYYY-MM-DD"));
        }
        let (start, end) = hours(&s.start, &s.end, "session", &mut issues);
        let format = enum_of(
            &s.format,
            Format::parse,
            Format::choices,
            "session.format",
            &mut issues,
        );
        let kind = kind_of(&s.kind, "session.kind", &mut issues);
        let (Some(date), Some(start), Some(end), Some(format), Some(kind)) =
            (date, start, end, format, kind)
        else {
            return Err(invalid(issues));
        };
        let session = Session {
            id: Uuid::nil(),
            date,
            start,
            end,
            slot_minutes: s.slot_minutes,
            format,
            kind,
            venue: venue_of(s.venue),
            travelling_officials: s
                .travelling_officials
                .iter()
                .map(|t| t.trim().to_owned())
                .collect(),
            note: s.note.trim().into(),
        };
        let schedule = self
            .reception
            .add_session(&r.official_id, session)
            .await
            .map_err(status)?;
        Ok(Response::new(schedule_message(
            r.official_id.trim(),
            &schedule,
        )))
    }

    async fn remove_session(
        &self,
        request: Request<pb::RemoveSessionRequest>,
    ) -> Reply<pb::Schedule> {
        let r = request.into_inner();
        let s = self
            .reception
            .remove_session(&r.official_id, &r.session_id)
            .await
            .map_err(status)?;
        Ok(Response::new(schedule_message(r.official_id.trim(), &s)))
    }

    async fn add_leave(&self, request: Request<pb::AddLeaveRequest>) -> Reply<pb::Schedule> {
        let r = request.into_inner();
        let l = r.leave.unwrap_or_default();
        let (Some(from), Some(to)) = (parse_date(&l.from), parse_date(&l.to)) else {
            let field = if parse_date(&l.from).is_none() {
                "leave.from"
            } else {
                "leave.to"
            };
            return Err(invalid(vec![FieldIssue::new(
                field,
                "required: YYYY-MM-DD",
            )]));
        };
        let leave = Leave {
            id: Uuid::nil(),
            from,
            to,
            reason: l.reason.trim().into(),
        };
        let s = self
            .reception
            .add_leave(&r.official_id, leave)
            .await
            .map_err(status)?;
        Ok(Response::new(schedule_message(r.official_id.trim(), &s)))
    }

    async fn remove_leave(&self, request: Request<pb::RemoveLeaveRequest>) -> Reply<pb::Schedule> {
        let r = request.into_inner();
        let s = self
            .reception
            .remove_leave(&r.official_id, &r.leave_id)
            .await
            .map_err(status)?;
        Ok(Response::new(schedule_message(r.official_id.trim(), &s)))
    }

    async fn list_slots(
        &self,
        request: Request<pb::ListSlotsRequest>,
    ) -> Reply<pb::ListSlotsResponse> {
        let r = request.into_inner();
        let mut issues = Vec::new();
        let from = r.from.and_then(|t| from_ts(&t, "from", &mut issues));
        let to = r.to.and_then(|t| from_ts(&t, "to", &mut issues));
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let slots = self
            .reception
            .slots(&r.official_id, from, to, r.free_only)
            .await
            .map_err(status)?;
        let official_id = r.official_id.trim();
        Ok(Response::new(pb::ListSlotsResponse {
            slots: slots
                .iter()
                .map(|v| pb::Slot {
                    id: slot_id(official_id, v.slot.starts_at),
                    official_id: official_id.into(),
                    starts_at: Some(timestamp(crate::time::to_utc(v.slot.starts_at))),
                    minutes: v.slot.minutes,
                    format: v.slot.format.as_str().into(),
                    free: v.free,
                    kind: v.slot.kind.as_str().into(),
                    venue: Some(venue_message(&v.slot.venue)),
                    session_id: v.slot.session_id.map(|s| s.to_string()).unwrap_or_default(),
                })
                .collect(),
        }))
    }

    async fn pre_screen(&self, request: Request<pb::PreScreenRequest>) -> Reply<pb::PreScreening> {
        let caller = Caller::of(&request);
        let r = request.into_inner();
        let (p, suggested) = self
            .reception
            .pre_screen(
                &r.official_id,
                r.category.trim(),
                "",
                &r.earlier_appeal,
                &caller,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(screening_message(&p, &suggested)))
    }

    async fn book(&self, request: Request<pb::BookRequest>) -> Reply<pb::BookResponse> {
        let caller = Caller::of(&request);
        let r = request.into_inner();
        let booked = self
            .reception
            .book(
                NewBooking {
                    request_id: r.request_id,
                    slot_id: r.slot_id,
                    visitor: visitor_of(r.visitor),
                    issue: Issue {
                        text: r.issue,
                        category: r.category.trim().into(),
                        language: r.language,
                        district: r.district.trim().into(),
                    },
                    earlier_appeal: r.earlier_appeal,
                    participants: r.participants.iter().map(|p| p.trim().to_owned()).collect(),
                },
                &caller,
            )
            .await
            .map_err(status)?;
        let id = booked.booking.id;
        let response = Response::new(pb::BookResponse {
            booking: Some(booking_message(&booked.booking, &booked.outcomes)),
            pre_screening: Some(screening_message(&booked.pre_screening, &booked.suggested)),
            replayed: booked.replayed,
        });
        Ok(audit::about(response, "booking", [id]))
    }

    async fn get_booking(&self, request: Request<pb::GetBookingRequest>) -> Reply<pb::Booking> {
        let (b, o) = self
            .reception
            .booking(&request.into_inner().id)
            .await
            .map_err(status)?;
        Ok(booking_reply(&b, &o))
    }

    async fn list_bookings(
        &self,
        request: Request<pb::ListBookingsRequest>,
    ) -> Reply<pb::ListBookingsResponse> {
        let r = request.into_inner();
        let mut issues = Vec::new();
        let date = if r.date.trim().is_empty() {
            None
        } else {
            let d = parse_date(&r.date);
            if d.is_none() {
                issues.push(FieldIssue::new("date", "YYYY-MM-DD"));
            }
            d
        };
        if !r.status.is_empty() && crate::domain::booking::BookingStatus::parse(&r.status).is_none()
        {
            issues.push(FieldIssue::new(
                "status",
                crate::domain::booking::BookingStatus::choices(),
            ));
        }
        let limit = match r.page_size {
            0 => 100,
            n if n > 1_000 => {
                issues.push(FieldIssue::new("page_size", "at most 1000"));
                100
            }
            n => i64::from(n),
        };
        let after = if r.page_token.is_empty() {
            None
        } else {
            let t = decode_token(&r.page_token);
            if t.is_none() {
                issues.push(FieldIssue::new("page_token", "not a token from this API"));
            }
            t
        };
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let filter = BookingFilter {
            official_id: Some(r.official_id.trim().to_owned()).filter(|o| !o.is_empty()),
            from: date.map(crate::time::day_start),
            to: date.map(|d| crate::time::day_start(d + chrono::Duration::days(1))),
            status: Some(r.status.trim().to_owned()).filter(|s| !s.is_empty()),
            after,
            limit: limit + 1,
        };
        let (mut rows, outcomes) = self.reception.bookings(&filter).await.map_err(status)?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|b| encode_token(b.starts_at, b.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let response = Response::new(pb::ListBookingsResponse {
            bookings: rows.iter().map(|b| booking_message(b, &outcomes)).collect(),
            next_page_token,
        });
        Ok(audit::about(response, "booking", rows.iter().map(|b| b.id)))
    }

    async fn cancel(&self, request: Request<pb::CancelRequest>) -> Reply<pb::Booking> {
        let r = request.into_inner();
        let (b, o) = self
            .reception
            .cancel(&r.booking_id, &r.reason)
            .await
            .map_err(status)?;
        Ok(booking_reply(&b, &o))
    }

    async fn reschedule(&self, request: Request<pb::RescheduleRequest>) -> Reply<pb::Booking> {
        let r = request.into_inner();
        let (b, o) = self
            .reception
            .reschedule(&r.booking_id, &r.slot_id)
            .await
            .map_err(status)?;
        Ok(booking_reply(&b, &o))
    }

    async fn join_waiting_list(
        &self,
        request: Request<pb::JoinWaitingListRequest>,
    ) -> Reply<pb::WaitingListEntry> {
        let r = request.into_inner();
        let (w, position) = self
            .reception
            .join_waiting_list(
                &r.request_id,
                &r.official_id,
                &r.from,
                &r.to,
                visitor_of(r.visitor),
                Issue {
                    text: r.issue,
                    category: r.category.trim().into(),
                    language: r.language,
                    district: r.district.trim().into(),
                },
            )
            .await
            .map_err(status)?;
        Ok(Response::new(waiting_message(&w, position)))
    }

    async fn list_waiting_list(
        &self,
        request: Request<pb::ListWaitingListRequest>,
    ) -> Reply<pb::ListWaitingListResponse> {
        let r = request.into_inner();
        let entries = self
            .reception
            .waiting_list(&r.official_id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListWaitingListResponse {
            entries: entries
                .iter()
                .map(|(w, p)| waiting_message(w, *p))
                .collect(),
        }))
    }

    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Reply<pb::ListNotificationsResponse> {
        let r = request.into_inner();
        let rows = self
            .reception
            .notifications(&r.booking_id, r.limit)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: rows
                .iter()
                .map(|n| pb::Notification {
                    id: n.id.to_string(),
                    booking_id: n.booking_id.to_string(),
                    kind: n.kind.clone(),
                    phone: n.phone.clone(),
                    text: n.text.clone(),
                    due_at: Some(timestamp(n.due_at)),
                    created_at: Some(timestamp(n.created_at)),
                })
                .collect(),
        }))
    }

    async fn check_in(&self, request: Request<pb::CheckInRequest>) -> Reply<pb::Booking> {
        let (b, o) = self
            .reception
            .check_in(&request.into_inner().booking_id)
            .await
            .map_err(status)?;
        Ok(booking_reply(&b, &o))
    }

    async fn mark_no_show(&self, request: Request<pb::MarkNoShowRequest>) -> Reply<pb::Booking> {
        let (b, o) = self
            .reception
            .mark_no_show(&request.into_inner().booking_id)
            .await
            .map_err(status)?;
        Ok(booking_reply(&b, &o))
    }

    async fn record_outcome(
        &self,
        request: Request<pb::RecordOutcomeRequest>,
    ) -> Reply<pb::Booking> {
        let caller = Caller::of(&request);
        let r = request.into_inner();
        let input = OutcomeInput {
            kind: r.outcome,
            note: r.note,
            appeal: r.appeal.map(|a| intake_details::Appeal {
                kind: a.kind,
                subject: a.subject,
                text: a.text,
                district: a.district,
                language: a.language,
                address: a.address,
            }),
            instruction: r.instruction.map(|i| intake_details::Instruction {
                text: i.text,
                executors: i.executors.iter().map(|e| e.trim().to_owned()).collect(),
                due_date: i.due_date,
                appeal_ids: i.appeal_ids.iter().map(|a| a.trim().to_owned()).collect(),
            }),
        };
        let (b, o) = self
            .reception
            .record_outcome(&r.booking_id, input, &caller)
            .await
            .map_err(status)?;
        Ok(booking_reply(&b, &o))
    }

    async fn record_minutes(
        &self,
        request: Request<pb::RecordMinutesRequest>,
    ) -> Reply<pb::Minutes> {
        let caller = Caller::of(&request);
        let r = request.into_inner();
        let m = self
            .reception
            .record_minutes(&r.official_id, &r.date, &r.text, r.attendees, &caller)
            .await
            .map_err(status)?;
        Ok(Response::new(minutes_message(&m)))
    }

    async fn get_minutes(&self, request: Request<pb::GetMinutesRequest>) -> Reply<pb::Minutes> {
        let r = request.into_inner();
        let m = self
            .reception
            .minutes(&r.official_id, &r.date)
            .await
            .map_err(status)?;
        Ok(Response::new(minutes_message(&m)))
    }

    async fn monitor(&self, request: Request<pb::MonitorRequest>) -> Reply<pb::MonitorResponse> {
        let r = request.into_inner();
        let m = self
            .reception
            .monitor(&r.from, &r.to, r.body.trim(), r.official_id.trim())
            .await
            .map_err(status)?;
        let stats = |s: &crate::domain::monitor::Stats| pb::ReceptionStats {
            scheduled: s.scheduled,
            held: s.held,
            no_shows: s.no_shows,
            cancelled: s.cancelled,
            pending: s.pending,
            free_slots: s.free_slots,
            days_to_next_free_slot: s
                .days_to_next_free(to_local(m.now))
                .map_or(-1, |d| d as i32),
            next_free_slot: s.next_free.map(|t| timestamp(crate::time::to_utc(t))),
        };
        Ok(Response::new(pb::MonitorResponse {
            officials: m
                .officials
                .iter()
                .map(|r| pb::OfficialStats {
                    official_id: r.official.id.clone(),
                    full_name: r.official.full_name.clone(),
                    body: r.official.body.clone(),
                    stats: Some(stats(&r.stats)),
                })
                .collect(),
            bodies: m
                .bodies
                .iter()
                .map(|(body, s)| pb::BodyStats {
                    body: body.clone(),
                    stats: Some(stats(s)),
                })
                .collect(),
            from: m.from.to_string(),
            to: m.to.to_string(),
        }))
    }
}

// ---- conversions -------------------------------------------------------------------

fn official_message(o: &Official) -> pb::Official {
    pb::Official {
        id: o.id.clone(),
        full_name: o.full_name.clone(),
        position: o.position.clone(),
        kind: o.kind.as_str().into(),
        body: o.body.clone(),
        district: o.district.clone(),
        topics: o.topics.clone(),
        supervisor_id: o.supervisor_id.clone(),
        active: o.active,
    }
}

fn venue_of(v: Option<pb::Venue>) -> Venue {
    let v = v.unwrap_or_default();
    Venue {
        room: v.room.trim().into(),
        link: v.link.trim().into(),
        place: v.place.trim().into(),
        district: v.district.trim().into(),
    }
}

fn venue_message(v: &Venue) -> pb::Venue {
    pb::Venue {
        room: v.room.clone(),
        link: v.link.clone(),
        place: v.place.clone(),
        district: v.district.clone(),
    }
}

fn hhmm(t: chrono::NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

fn schedule_message(official_id: &str, s: &Schedule) -> pb::Schedule {
    pb::Schedule {
        official_id: official_id.into(),
        weekly: s
            .weekly
            .iter()
            .map(|w| pb::WeeklyHours {
                weekday: w.weekday,
                start: hhmm(w.start),
                end: hhmm(w.end),
                slot_minutes: w.slot_minutes,
                format: w.format.as_str().into(),
                kind: w.kind.as_str().into(),
                venue: Some(venue_message(&w.venue)),
            })
            .collect(),
        sessions: s
            .sessions
            .iter()
            .map(|x| pb::Session {
                id: x.id.to_string(),
                date: x.date.to_string(),
                start: hhmm(x.start),
                end: hhmm(x.end),
                slot_minutes: x.slot_minutes,
                format: x.format.as_str().into(),
                kind: x.kind.as_str().into(),
                venue: Some(venue_message(&x.venue)),
                travelling_officials: x.travelling_officials.clone(),
                note: x.note.clone(),
            })
            .collect(),
        leaves: s
            .leaves
            .iter()
            .map(|l| pb::Leave {
                id: l.id.to_string(),
                from: l.from.to_string(),
                to: l.to.to_string(),
                reason: l.reason.clone(),
            })
            .collect(),
        publish_days_ahead: s.publish_days_ahead,
    }
}

fn enum_of<T>(
    value: &str,
    parse: fn(&str) -> Option<T>,
    choices: fn() -> String,
    field: &str,
    issues: &mut Vec<FieldIssue>,
) -> Option<T> {
    let parsed = parse(value);
    if parsed.is_none() {
        issues.push(FieldIssue::new(field, format!("required: {}", choices())));
    }
    parsed
}

/// The reception kind; personal when not given.
fn kind_of(value: &str, field: &str, issues: &mut Vec<FieldIssue>) -> Option<ReceptionKind> {
    if value.trim().is_empty() {
        Some(ReceptionKind::Personal)
    } else {
        enum_of(
            value,
            ReceptionKind::parse,
            ReceptionKind::choices,
            field,
            issues,
        )
    }
}

fn hours(
    start: &str,
    end: &str,
    field: &str,
    issues: &mut Vec<FieldIssue>,
) -> (Option<chrono::NaiveTime>, Option<chrono::NaiveTime>) {
    let s = parse_time(start);
    let e = parse_time(end);
    if s.is_none() {
        issues.push(FieldIssue::new(format!("{field}.start"), "required: HH:MM"));
    }
    if e.is_none() {
        issues.push(FieldIssue::new(format!("{field}.end"), "required: HH:MM"));
    }
    (s, e)
}

fn weekly_of(
    w: &pb::WeeklyHours,
    field: &str,
    issues: &mut Vec<FieldIssue>,
) -> Option<WeeklyHours> {
    let (start, end) = hours(&w.start, &w.end, field, issues);
    let format = enum_of(
        &w.format,
        Format::parse,
        Format::choices,
        &format!("{field}.format"),
        issues,
    );
    let kind = kind_of(&w.kind, &format!("{field}.kind"), issues);
    Some(WeeklyHours {
        weekday: w.weekday,
        start: start?,
        end: end?,
        slot_minutes: w.slot_minutes,
        format: format?,
        kind: kind?,
        venue: venue_of(w.venue.clone()),
    })
}

fn visitor_of(v: Option<pb::Visitor>) -> Visitor {
    let v = v.unwrap_or_default();
    Visitor {
        full_name: v.full_name,
        iin: v.iin,
        phone: v.phone,
        organisation: v.organisation,
    }
}

/// The officials with `ids`, in that order.
fn resolve(ids: &[String], officials: &[Official]) -> Vec<pb::Official> {
    ids.iter()
        .filter_map(|id| officials.iter().find(|o| &o.id == id))
        .map(official_message)
        .collect()
}

fn screening_message(p: &PreScreening, officials: &[Official]) -> pb::PreScreening {
    let earlier = match &p.earlier {
        EarlierLookup::NotGiven => None,
        EarlierLookup::Found(a) => Some(pb::EarlierAppeal {
            appeal_id: a.appeal_id.clone(),
            registration_number: a.registration_number.clone(),
            status: a.status.as_str().into(),
            subject: a.subject.clone(),
            registered_at: a.registered_at.map(timestamp),
            note: String::new(),
        }),
        EarlierLookup::NotFound => Some(pb::EarlierAppeal {
            status: "not_found".into(),
            ..Default::default()
        }),
        EarlierLookup::Unknown(why) => Some(pb::EarlierAppeal {
            status: "unknown".into(),
            note: why.clone(),
            ..Default::default()
        }),
    };
    pb::PreScreening {
        within_topics: p.within_topics,
        suggested_officials: resolve(&p.suggested, officials),
        suggested_participants: resolve(&p.participants, officials),
        earlier_appeal: earlier,
        notes: p.notes.clone(),
    }
}

/// A booking as the answer of a call, named for the audit log.
fn booking_reply(b: &BookingRow, outcomes: &[OutcomeRow]) -> Response<pb::Booking> {
    audit::about(
        Response::new(booking_message(b, outcomes)),
        "booking",
        [b.id],
    )
}

pub fn booking_message(b: &BookingRow, outcomes: &[OutcomeRow]) -> pb::Booking {
    pb::Booking {
        id: b.id.to_string(),
        slot_id: slot_id(&b.official_id, to_local(b.starts_at)),
        status: b.status.clone(),
        official_id: b.official_id.clone(),
        starts_at: Some(timestamp(b.starts_at)),
        minutes: b.minutes.max(0) as u32,
        format: b.format.clone(),
        kind: b.kind.clone(),
        venue: Some(venue_message(&b.venue.0)),
        visitor: Some(pb::Visitor {
            full_name: b.visitor_name.clone(),
            iin: b.visitor_iin.clone(),
            phone: b.visitor_phone.clone(),
            organisation: b.visitor_organisation.clone(),
        }),
        issue: b.issue.clone(),
        category: b.category.clone(),
        earlier_appeal: b.earlier_appeal.clone(),
        participants: b.participants.clone(),
        language: b.language.clone(),
        district: b.district.clone(),
        outcomes: outcomes
            .iter()
            .filter(|o| o.booking_id == b.id)
            .map(|o| pb::Outcome {
                kind: o.kind.clone(),
                note: o.note.clone(),
                appeal_id: o.appeal_id.clone(),
                registration_number: o.registration_number.clone(),
                instruction_id: o.instruction_id.clone(),
                recorded_at: Some(timestamp(o.recorded_at)),
                recorded_by: o.recorded_by.clone(),
            })
            .collect(),
        booked_at: Some(timestamp(b.booked_at)),
        checked_in_at: b.checked_in_at.map(timestamp),
        cancel_reason: b.cancel_reason.clone(),
        waiting_list_entry_id: b
            .waiting_list_entry_id
            .map(|i| i.to_string())
            .unwrap_or_default(),
        session_id: b.session_id.map(|i| i.to_string()).unwrap_or_default(),
    }
}

fn waiting_message(w: &WaitingRow, position: u32) -> pb::WaitingListEntry {
    pb::WaitingListEntry {
        id: w.id.to_string(),
        official_id: w.official_id.clone(),
        from: w.from_date.to_string(),
        to: w.to_date.to_string(),
        status: w.status.clone(),
        booking_id: w.booking_id.map(|b| b.to_string()).unwrap_or_default(),
        position,
        joined_at: Some(timestamp(w.joined_at)),
    }
}

fn minutes_message(m: &MinutesView) -> pb::Minutes {
    pb::Minutes {
        official_id: m.minutes.official_id.clone(),
        date: m.minutes.reception_date.to_string(),
        text: m.minutes.text.clone(),
        attendees: m.minutes.attendees.clone(),
        recorded_by: m.minutes.recorded_by.clone(),
        recorded_at: Some(timestamp(m.minutes.recorded_at)),
        visitors: m.visitors,
        held: m.held,
        no_shows: m.no_shows,
    }
}

fn from_ts(
    t: &prost_types::Timestamp,
    field: &str,
    issues: &mut Vec<FieldIssue>,
) -> Option<DateTime<Utc>> {
    let parsed = u32::try_from(t.nanos)
        .ok()
        .and_then(|n| DateTime::from_timestamp(t.seconds, n));
    if parsed.is_none() {
        issues.push(FieldIssue::new(field, "not a valid timestamp"));
    }
    parsed
}

fn encode_token(at: DateTime<Utc>, id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}|{id}", at.timestamp_micros()))
}

fn decode_token(token: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (micros, id) = text.split_once('|')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        Uuid::parse_str(id).ok()?,
    ))
}

/// `INVALID_ARGUMENT` naming every field at fault, also as `google.rpc.BadRequest`.
pub fn invalid(issues: Vec<FieldIssue>) -> Status {
    let message = format!("invalid request: {}", describe(&issues));
    bakylau_platform::grpc::invalid_argument(
        message,
        issues.iter().map(|i| (i.field.clone(), i.message.clone())),
    )
}

fn status(e: ReceptionError) -> Status {
    match e {
        ReceptionError::Invalid(issues) => invalid(issues),
        ReceptionError::NotFound(m) => Status::not_found(m),
        ReceptionError::Precondition(m) => Status::failed_precondition(m),
        ReceptionError::AlreadyExists(m) => Status::already_exists(m),
        ReceptionError::Downstream(d) => match d {
            DownstreamError::NotConfigured(_) => Status::failed_precondition(d.to_string()),
            DownstreamError::Unavailable { .. } => Status::unavailable(format!(
                "{d}; retry: the same outcome will not be recorded twice"
            )),
            // Reception's own token was refused: a deployment fault, not the caller's.
            DownstreamError::Refused { service, status }
                if status.code() == tonic::Code::Unauthenticated =>
            {
                tracing::error!(
                    service,
                    reason = status.message(),
                    "service identity refused"
                );
                Status::internal(format!(
                    "{service} did not accept reception's service identity"
                ))
            }
            DownstreamError::Refused { service, status } => {
                Status::new(status.code(), format!("{service}: {}", status.message()))
            }
            DownstreamError::Address(..) | DownstreamError::NoIdentity(_) => {
                Status::failed_precondition(d.to_string())
            }
        },
        ReceptionError::Db(e) => {
            if let Some(status) = bakylau_platform::db::bad_input(&e) {
                status
            } else if bakylau_platform::db::is_unavailable(&e) {
                tracing::warn!(error = %e, "database unavailable");
                Status::unavailable("reception is temporarily unavailable; retry")
            } else {
                tracing::error!(error = %e, "database error");
                Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::local_date;
    use tonic::Code;
    use tonic_types::StatusExt as _;

    #[test]
    fn page_tokens_round_trip() {
        let at = DateTime::from_timestamp(1_790_000_000, 123_000).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(decode_token(&encode_token(at, id)), Some((at, id)));
        assert_eq!(decode_token("garbage"), None);
    }

    #[test]
    fn invalid_names_the_fields() {
        let s = invalid(vec![FieldIssue::new("slot_id", "in the past")]);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("slot_id: in the past"));
        let details = s.get_error_details();
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            "slot_id"
        );
    }

    #[test]
    fn local_dates_are_kazakh() {
        let t = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        assert_eq!(local_date(t), to_local(t).date());
    }
}
