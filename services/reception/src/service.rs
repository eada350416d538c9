//! The reception's flows: each validates with the pure domain, then changes state and writes
//! its events to the outbox in one transaction. Calls to intake and control happen before
//! that transaction, with deterministic request ids, so a retry never registers twice.

use std::collections::HashSet;
use std::sync::Arc;

use bakylau_calendar::Calendar;
use bakylau_platform::broker::outbox;
use bakylau_platform::personal_data::PersonalDataVault;
use bakylau_proto::control::v1 as control;
use bakylau_proto::intake::v1 as intake;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::booking::{Action, BookingStatus, OutcomeKind, TransitionError, transition};
use crate::domain::identity::{is_phone, validate_iin};
use crate::domain::monitor::{self, Stats};
use crate::domain::official::{Official, OfficialKind};
use crate::domain::prescreen::{self, EarlierAppeal, EarlierLookup, EarlierStatus, PreScreening};
use crate::domain::schedule::{
    Leave, Refusal, Schedule, Session, SlotDef, WeeklyHours, parse_slot_id, slot_id,
};
use crate::domain::{FieldIssue, Language, describe, is_code};
use crate::downstream::{Caller, Downstream, DownstreamError};
use crate::events::{self, Extra};
use crate::settings::ReceptionSettings;
use crate::storage::{self, BookingRow, MinutesRow, NotificationRow, OutcomeRow, WaitingRow};
use crate::time::{day_start, local_date, to_local, to_utc};

#[derive(Debug, thiserror::Error)]
pub enum ReceptionError {
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldIssue>),
    #[error("{0}")]
    NotFound(String),
    /// The request is valid but the state does not allow it (a taken slot, a wrong status).
    #[error("{0}")]
    Precondition(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error(transparent)]
    Downstream(#[from] DownstreamError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

type Result<T, E = ReceptionError> = std::result::Result<T, E>;

fn invalid(field: &str, message: impl Into<String>) -> ReceptionError {
    ReceptionError::Invalid(vec![FieldIssue::new(field, message)])
}

fn check(issues: Vec<FieldIssue>) -> Result<()> {
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ReceptionError::Invalid(issues))
    }
}

fn transition_error(e: TransitionError) -> ReceptionError {
    ReceptionError::Precondition(e.to_string())
}

fn refusal_error(e: Refusal) -> ReceptionError {
    invalid("slot_id", e.to_string())
}

/// The visitor as given in a request.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    pub full_name: String,
    pub iin: String,
    pub phone: String,
    pub organisation: String,
}

impl Visitor {
    fn check(&self, issues: &mut Vec<FieldIssue>) {
        let name = self.full_name.trim();
        if name.is_empty() {
            issues.push(FieldIssue::new("visitor.full_name", "required"));
        } else if name.chars().count() > 300 || name.chars().any(char::is_control) {
            issues.push(FieldIssue::new(
                "visitor.full_name",
                "at most 300 printable characters",
            ));
        }
        if let Err(e) = validate_iin(self.iin.trim()) {
            issues.push(FieldIssue::new("visitor.iin", format!("IIN {e}")));
        }
        if !is_phone(&self.phone) {
            issues.push(FieldIssue::new(
                "visitor.phone",
                "required, like +7XXXXXXXXXX (confirmation and reminders go there)",
            ));
        }
        if self.organisation.chars().count() > 300 {
            issues.push(FieldIssue::new(
                "visitor.organisation",
                "at most 300 characters",
            ));
        }
    }
}

/// What a person asks about, common to a booking and a waiting-list entry.
#[derive(Debug, Clone, Default)]
pub struct Issue {
    pub text: String,
    pub category: String,
    pub language: String,
    pub district: String,
}

impl Issue {
    fn check(&self, issues: &mut Vec<FieldIssue>) {
        let text = self.text.trim();
        if text.is_empty() {
            issues.push(FieldIssue::new(
                "issue",
                "required: the issue the visitor brings",
            ));
        } else if text.chars().count() > 5_000 {
            issues.push(FieldIssue::new("issue", "at most 5000 characters"));
        }
        if !self.category.is_empty() && !is_code(&self.category) {
            issues.push(FieldIssue::new(
                "category",
                "taxonomy code like housing_utilities.heating",
            ));
        }
        if Language::parse(&self.language).is_none() {
            issues.push(FieldIssue::new(
                "language",
                format!("required: {}", Language::choices()),
            ));
        }
        if !self.district.is_empty() && !is_code(&self.district) {
            issues.push(FieldIssue::new("district", "district code like talgar"));
        }
    }
}

pub struct NewBooking {
    pub request_id: String,
    pub slot_id: String,
    pub visitor: Visitor,
    pub issue: Issue,
    pub earlier_appeal: String,
    pub participants: Vec<String>,
}

pub struct Booked {
    pub booking: BookingRow,
    pub outcomes: Vec<OutcomeRow>,
    pub pre_screening: PreScreening,
    /// Officials the pre-screening names (suggested or taking part).
    pub suggested: Vec<Official>,
    pub replayed: bool,
}

/// A slot with whether it is free.
pub struct SlotView {
    pub slot: SlotDef,
    pub free: bool,
}

pub struct OutcomeInput {
    pub kind: String,
    pub note: String,
    pub appeal: Option<intake_details::Appeal>,
    pub instruction: Option<intake_details::Instruction>,
}

/// Details of the appeal or instruction an outcome creates.
pub mod intake_details {
    #[derive(Debug, Clone, Default)]
    pub struct Appeal {
        pub kind: String,
        pub subject: String,
        pub text: String,
        pub district: String,
        pub language: String,
        pub address: String,
    }

    #[derive(Debug, Clone, Default)]
    pub struct Instruction {
        pub text: String,
        pub executors: Vec<String>,
        pub due_date: String,
        pub appeal_ids: Vec<String>,
    }
}

pub struct MinutesView {
    pub minutes: MinutesRow,
    pub visitors: u32,
    pub held: u32,
    pub no_shows: u32,
}

pub struct MonitorRow {
    pub official: Official,
    pub stats: Stats,
}

pub struct Monitoring {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub officials: Vec<MonitorRow>,
    pub bodies: Vec<(String, Stats)>,
    pub now: DateTime<Utc>,
}

pub struct Reception {
    pub pool: PgPool,
    pub calendar: Arc<Calendar>,
    pub settings: Arc<ReceptionSettings>,
    pub downstream: Downstream,
    /// Seals and opens visitors' personal data in `bookings` and `waiting_list`.
    pub vault: Arc<PersonalDataVault>,
}

/// What a sweep of [`seal_visitors`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SealSweep {
    /// Plain rows (from before migration 1002) sealed.
    pub sealed: u64,
    /// Rows under a retired key sealed again under the current one.
    pub resealed: u64,
    /// Rows whose sealed visitor did not open (a key missing from the settings): left as
    /// they are, and reported.
    pub unopened: u64,
}

/// Seals the visitors still stored plain and, with `reseal`, re-seals those sealed under a
/// retired key. In batches, each in its own transaction, rows locked with `SKIP LOCKED`:
/// replicas starting together share the work, and a restart resumes where it stopped.
pub async fn seal_visitors(
    pool: &PgPool,
    vault: &PersonalDataVault,
    reseal: bool,
    batch: i64,
) -> Result<SealSweep, sqlx::Error> {
    let mut done = SealSweep::default();
    let current = reseal.then(|| vault.current_key_id());
    for table in storage::VisitorTable::ALL {
        let mut unopened: Vec<Uuid> = Vec::new();
        loop {
            let mut tx = pool.begin().await?;
            let rows = storage::rows_to_seal(&mut tx, table, current, &unopened, batch).await?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let plain = row.visitor.visitor_sealed.is_none();
                match row.visitor.open(vault, row.id) {
                    Ok(visitor) => {
                        let sealed = storage::SealedVisitor::new(vault, row.id, &visitor);
                        storage::store_sealed_visitor(&mut tx, table, row.id, &sealed).await?;
                        if plain {
                            done.sealed += 1;
                        } else {
                            done.resealed += 1;
                        }
                    }
                    Err(e) => {
                        // The error names the row and the key, never the content.
                        tracing::error!(table = table.name(), error = %e, "visitor not re-sealed");
                        unopened.push(row.id);
                        done.unopened += 1;
                    }
                }
            }
            tx.commit().await?;
        }
    }
    Ok(done)
}

/// Erases the visitors of bookings and waiting-list entries older than
/// `personal_data_days` (0 keeps them); the number erased.
pub async fn erase_expired_visitors(
    pool: &PgPool,
    personal_data_days: u32,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    if personal_data_days == 0 {
        return Ok(0);
    }
    let cutoff = now - chrono::Duration::days(i64::from(personal_data_days));
    let mut erased = 0;
    for table in storage::VisitorTable::ALL {
        loop {
            match storage::erase_visitors_before(pool, table, cutoff, batch).await? {
                0 => break,
                n => erased += n,
            }
        }
    }
    Ok(erased)
}

/// Longest window of a slot listing or a monitoring report, days.
const MAX_WINDOW_DAYS: i64 = 366;

impl Reception {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn official(&self, conn: &mut PgConnection, id: &str, field: &str) -> Result<Official> {
        if id.trim().is_empty() {
            return Err(invalid(field, "required"));
        }
        storage::official(conn, id.trim())
            .await?
            .ok_or_else(|| ReceptionError::NotFound(format!("{field}: no official {}", id.trim())))
    }

    // ---- officials -------------------------------------------------------------------

    pub async fn save_official(&self, o: Official) -> Result<Official> {
        check(o.check())?;
        let mut tx = self.pool.begin().await?;
        if !o.supervisor_id.is_empty()
            && storage::official(&mut tx, &o.supervisor_id)
                .await?
                .is_none()
        {
            return Err(invalid("official.supervisor_id", "no such official"));
        }
        storage::save_official(&mut tx, &o, storage::SOURCE_API, false).await?;
        tx.commit().await?;
        tracing::info!(official = %o.id, "official saved");
        Ok(o)
    }

    pub async fn get_official(&self, id: &str) -> Result<Official> {
        let mut conn = self.pool.acquire().await?;
        self.official(&mut conn, id, "id").await
    }

    pub async fn list_officials(
        &self,
        body: &str,
        topic: &str,
        include_inactive: bool,
    ) -> Result<Vec<Official>> {
        let all = storage::officials(&self.pool, include_inactive).await?;
        Ok(all
            .into_iter()
            .filter(|o| body.is_empty() || o.body == body)
            .filter(|o| topic.is_empty() || crate::domain::official::covers(&o.topics, topic))
            .collect())
    }

    // ---- schedules -------------------------------------------------------------------

    pub async fn schedule(&self, official_id: &str) -> Result<Schedule> {
        let mut conn = self.pool.acquire().await?;
        let o = self.official(&mut conn, official_id, "official_id").await?;
        Ok(storage::schedule(&mut conn, &o.id).await?)
    }

    /// Changes an official's schedule under a row lock, validated by `edit`.
    async fn edit_schedule(
        &self,
        official_id: &str,
        edit: impl FnOnce(&mut Schedule) -> Result<()>,
    ) -> Result<Schedule> {
        let mut tx = self.pool.begin().await?;
        let o = self.official(&mut tx, official_id, "official_id").await?;
        let mut schedule = storage::schedule_for_update(&mut tx, &o.id).await?;
        edit(&mut schedule)?;
        storage::save_schedule(&mut tx, &o.id, &schedule, false).await?;
        tx.commit().await?;
        tracing::info!(official = %o.id, "schedule changed");
        Ok(schedule)
    }

    pub async fn set_schedule(
        &self,
        official_id: &str,
        weekly: Vec<WeeklyHours>,
        publish_days_ahead: u32,
    ) -> Result<Schedule> {
        self.edit_schedule(official_id, |s| {
            s.weekly = weekly;
            s.publish_days_ahead = publish_days_ahead;
            check(s.check_weekly())
        })
        .await
    }

    pub async fn add_session(&self, official_id: &str, mut session: Session) -> Result<Schedule> {
        let mut conn = self.pool.acquire().await?;
        for (i, o) in session.travelling_officials.iter().enumerate() {
            if is_code(o) && storage::official(&mut conn, o).await?.is_none() {
                return Err(invalid(
                    &format!("session.travelling_officials[{i}]"),
                    "no such official",
                ));
            }
        }
        drop(conn);
        let today = local_date(self.now());
        session.id = Uuid::now_v7();
        self.edit_schedule(official_id, |s| {
            check(s.check_session(&session, today))?;
            s.sessions.push(session);
            s.sessions.sort_by_key(|x| (x.date, x.start));
            Ok(())
        })
        .await
    }

    pub async fn remove_session(&self, official_id: &str, session_id: &str) -> Result<Schedule> {
        let id =
            Uuid::parse_str(session_id.trim()).map_err(|_| invalid("session_id", "not a UUID"))?;
        self.edit_schedule(official_id, |s| {
            let before = s.sessions.len();
            s.sessions.retain(|x| x.id != id);
            if s.sessions.len() == before {
                return Err(ReceptionError::NotFound(
                    "session_id: no such session".into(),
                ));
            }
            Ok(())
        })
        .await
    }

    pub async fn add_leave(&self, official_id: &str, mut leave: Leave) -> Result<Schedule> {
        if leave.to < leave.from {
            return Err(invalid("leave.to", "must not be before leave.from"));
        }
        if leave.reason.chars().count() > 500 {
            return Err(invalid("leave.reason", "at most 500 characters"));
        }
        leave.id = Uuid::now_v7();
        self.edit_schedule(official_id, |s| {
            s.leaves.push(leave);
            s.leaves.sort_by_key(|l| l.from);
            Ok(())
        })
        .await
    }

    pub async fn remove_leave(&self, official_id: &str, leave_id: &str) -> Result<Schedule> {
        let id = Uuid::parse_str(leave_id.trim()).map_err(|_| invalid("leave_id", "not a UUID"))?;
        self.edit_schedule(official_id, |s| {
            let before = s.leaves.len();
            s.leaves.retain(|x| x.id != id);
            if s.leaves.len() == before {
                return Err(ReceptionError::NotFound("leave_id: no such leave".into()));
            }
            Ok(())
        })
        .await
    }

    /// Published slots of an official in `[from, to)` (defaults: now to the horizon).
    pub async fn slots(
        &self,
        official_id: &str,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        free_only: bool,
    ) -> Result<Vec<SlotView>> {
        let mut conn = self.pool.acquire().await?;
        let o = self.official(&mut conn, official_id, "official_id").await?;
        let schedule = storage::schedule(&mut conn, &o.id).await?;
        let now = self.now();
        let horizon_end = day_start(schedule.horizon(local_date(now)) + Duration::days(1));
        let from = from.unwrap_or(now);
        let to = to.unwrap_or(horizon_end).min(horizon_end);
        if to <= from {
            return Ok(Vec::new());
        }
        if to - from > Duration::days(MAX_WINDOW_DAYS) {
            return Err(invalid(
                "to",
                format!("the window is at most {MAX_WINDOW_DAYS} days"),
            ));
        }
        let taken: HashSet<DateTime<Utc>> = storage::taken_starts(&mut conn, &o.id, from, to)
            .await?
            .into_iter()
            .collect();
        Ok(schedule
            .slots_between(local_date(from), local_date(to), self.calendar.as_ref())
            .into_iter()
            .filter(|s| {
                let at = to_utc(s.starts_at);
                at >= from && at < to
            })
            .map(|slot| {
                // A slot that has begun is no longer free, even if nobody took it.
                let at = to_utc(slot.starts_at);
                let free = at > now && !taken.contains(&at);
                SlotView { slot, free }
            })
            .filter(|v| v.free || !free_only)
            .collect())
    }

    // ---- pre-screening and booking --------------------------------------------------

    async fn lookup_earlier(&self, key: &str, caller: &Caller) -> EarlierLookup {
        let key = key.trim();
        if key.is_empty() {
            return EarlierLookup::NotGiven;
        }
        match self.downstream.appeal(key, caller).await {
            Ok(None) => EarlierLookup::NotFound,
            Ok(Some(a)) => {
                let closed = storage::appeal_closed_at(&self.pool, &a.id)
                    .await
                    .ok()
                    .flatten();
                let status = if a.status == intake::AppealStatus::Declined as i32 {
                    EarlierStatus::Declined
                } else if closed.is_some() {
                    EarlierStatus::Answered
                } else {
                    EarlierStatus::InProgress
                };
                EarlierLookup::Found(EarlierAppeal {
                    appeal_id: a.id,
                    registration_number: a.registration_number,
                    status,
                    subject: a.subject,
                    registered_at: a
                        .registered_at
                        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)),
                })
            }
            Err(e) => {
                metrics::counter!("reception_downstream_errors_total", "service" => "intake")
                    .increment(1);
                tracing::warn!(error = %e, "earlier appeal could not be looked up");
                EarlierLookup::Unknown(e.to_string())
            }
        }
    }

    pub async fn pre_screen(
        &self,
        official_id: &str,
        category: &str,
        district: &str,
        earlier: &str,
        caller: &Caller,
    ) -> Result<(PreScreening, Vec<Official>)> {
        if !category.is_empty() && !is_code(category) {
            return Err(invalid(
                "category",
                "taxonomy code like housing_utilities.heating",
            ));
        }
        let mut conn = self.pool.acquire().await?;
        let official = self.official(&mut conn, official_id, "official_id").await?;
        drop(conn);
        self.screen(&official, category, district, earlier, caller)
            .await
    }

    async fn screen(
        &self,
        official: &Official,
        category: &str,
        district: &str,
        earlier: &str,
        caller: &Caller,
    ) -> Result<(PreScreening, Vec<Official>)> {
        let all = storage::officials(&self.pool, false).await?;
        let lookup = self.lookup_earlier(earlier, caller).await;
        let screening = prescreen::pre_screen(
            official,
            Some(category).filter(|c| !c.is_empty()),
            Some(district).filter(|d| !d.is_empty()),
            &all,
            lookup,
        );
        // The officials the screening names, for the answer to show them.
        let suggested = all
            .into_iter()
            .filter(|o| {
                screening.suggested.contains(&o.id) || screening.participants.contains(&o.id)
            })
            .collect();
        Ok((screening, suggested))
    }

    pub async fn book(&self, req: NewBooking, caller: &Caller) -> Result<Booked> {
        let mut issues = Vec::new();
        let request_id = req.request_id.trim().to_owned();
        if request_id.len() > 200 {
            issues.push(FieldIssue::new("request_id", "at most 200 characters"));
        }
        let slot = parse_slot_id(&req.slot_id);
        if slot.is_none() {
            issues.push(FieldIssue::new(
                "slot_id",
                "required: a slot id like akim.talgar@2026-12-02T10:20 (from ListSlots)",
            ));
        }
        req.visitor.check(&mut issues);
        req.issue.check(&mut issues);
        if req.earlier_appeal.chars().count() > 100 {
            issues.push(FieldIssue::new(
                "earlier_appeal",
                "a registration number or appeal id",
            ));
        }
        if req.participants.len() > 10 {
            issues.push(FieldIssue::new("participants", "at most 10"));
        }
        check(issues)?;
        let Some((official_id, at)) = slot else {
            return Err(invalid("slot_id", "required"));
        };

        let mut conn = self.pool.acquire().await?;
        if !request_id.is_empty()
            && let Some(existing) =
                storage::booking_by_request(&mut conn, &self.vault, &request_id).await?
        {
            return self.replay(existing, &req.slot_id, caller).await;
        }
        let official = self.official(&mut conn, &official_id, "slot_id").await?;
        if !official.active {
            return Err(invalid(
                "slot_id",
                format!("{} does not receive visitors now", official.id),
            ));
        }
        for (i, p) in req.participants.iter().enumerate() {
            if p == &official.id || storage::official(&mut conn, p).await?.is_none() {
                return Err(invalid(
                    &format!("participants[{i}]"),
                    "another official's id",
                ));
            }
        }
        let schedule = storage::schedule(&mut conn, &official.id).await?;
        drop(conn);
        let slot = schedule
            .bookable(at, to_local(self.now()), self.calendar.as_ref())
            .map_err(refusal_error)?;
        let (pre_screening, suggested) = self
            .screen(
                &official,
                &req.issue.category,
                &req.issue.district,
                &req.earlier_appeal,
                caller,
            )
            .await?;

        let row = BookingRow {
            id: Uuid::now_v7(),
            request_id: Some(request_id).filter(|r| !r.is_empty()),
            official_id: official.id.clone(),
            body: official.body.clone(),
            starts_at: to_utc(slot.starts_at),
            minutes: slot.minutes as i32,
            format: slot.format.as_str().into(),
            kind: slot.kind.as_str().into(),
            venue: Json(slot.venue.clone()),
            session_id: slot.session_id,
            status: BookingStatus::Booked.as_str().into(),
            visitor_name: req.visitor.full_name.trim().into(),
            visitor_iin: req.visitor.iin.trim().into(),
            visitor_phone: req.visitor.phone.trim().into(),
            visitor_organisation: req.visitor.organisation.trim().into(),
            issue: req.issue.text.trim().into(),
            category: req.issue.category.clone(),
            earlier_appeal: req.earlier_appeal.trim().into(),
            participants: req.participants.clone(),
            language: req.issue.language.trim().into(),
            district: req.issue.district.clone(),
            booked_at: self.now(),
            booked_by: caller.name(),
            checked_in_at: None,
            finished_at: None,
            cancel_reason: String::new(),
            waiting_list_entry_id: None,
        };
        let mut tx = self.pool.begin().await?;
        let Some(booking) = storage::insert_booking(&mut tx, &self.vault, &row).await? else {
            drop(tx);
            // Either the same request again (a retry that raced itself) or the slot is taken.
            if let Some(request_id) = &row.request_id {
                let mut conn = self.pool.acquire().await?;
                if let Some(existing) =
                    storage::booking_by_request(&mut conn, &self.vault, request_id).await?
                {
                    return self.replay(existing, &req.slot_id, caller).await;
                }
            }
            metrics::counter!("reception_booking_conflicts_total").increment(1);
            return Err(ReceptionError::Precondition(format!(
                "slot_id: the slot {} is already booked; choose another slot or join the waiting list",
                slot_id(&official.id, slot.starts_at)
            )));
        };
        outbox::enqueue(
            &mut tx,
            &events::changed(events::BOOKED, &booking, &official, Extra::default()),
        )
        .await?;
        notify(&mut tx, &booking, &official, "confirmation").await?;
        tx.commit().await?;
        metrics::counter!("reception_bookings_total", "format" => booking.format.clone(), "kind" => booking.kind.clone(), "via" => "direct").increment(1);
        tracing::info!(booking = %booking.id, official = %official.id, starts_at = %booking.starts_at, "booked");
        Ok(Booked {
            booking,
            outcomes: Vec::new(),
            pre_screening,
            suggested,
            replayed: false,
        })
    }

    async fn replay(&self, existing: BookingRow, slot: &str, caller: &Caller) -> Result<Booked> {
        if slot_id(&existing.official_id, to_local(existing.starts_at)) != slot.trim() {
            return Err(ReceptionError::AlreadyExists(
                "request_id: already used for a booking of another slot".into(),
            ));
        }
        let mut conn = self.pool.acquire().await?;
        let official = self
            .official(&mut conn, &existing.official_id, "slot_id")
            .await?;
        let outcomes = storage::outcomes(&mut conn, &[existing.id]).await?;
        drop(conn);
        let (pre_screening, suggested) = self
            .screen(
                &official,
                &existing.category,
                &existing.district,
                &existing.earlier_appeal,
                caller,
            )
            .await?;
        Ok(Booked {
            booking: existing,
            outcomes,
            pre_screening,
            suggested,
            replayed: true,
        })
    }

    pub async fn booking(&self, id: &str) -> Result<(BookingRow, Vec<OutcomeRow>)> {
        let id = parse_id(id, "id")?;
        let mut conn = self.pool.acquire().await?;
        let b = storage::booking(&mut conn, &self.vault, id)
            .await?
            .ok_or_else(|| ReceptionError::NotFound("no such booking".into()))?;
        let outcomes = storage::outcomes(&mut conn, &[id]).await?;
        Ok((b, outcomes))
    }

    pub async fn bookings(
        &self,
        filter: &storage::BookingFilter,
    ) -> Result<(Vec<BookingRow>, Vec<OutcomeRow>)> {
        let rows = storage::bookings(&self.pool, &self.vault, filter).await?;
        let ids: Vec<Uuid> = rows.iter().map(|b| b.id).collect();
        let mut conn = self.pool.acquire().await?;
        let outcomes = storage::outcomes(&mut conn, &ids).await?;
        Ok((rows, outcomes))
    }

    /// Locks a booking and its official for a change in `tx`.
    async fn locked(&self, tx: &mut PgConnection, id: Uuid) -> Result<(BookingRow, Official)> {
        let b = storage::booking_for_update(tx, &self.vault, id)
            .await?
            .ok_or_else(|| ReceptionError::NotFound("booking_id: no such booking".into()))?;
        let o = self.official(tx, &b.official_id, "booking_id").await?;
        Ok((b, o))
    }

    pub async fn cancel(&self, id: &str, reason: &str) -> Result<(BookingRow, Vec<OutcomeRow>)> {
        let id = parse_id(id, "booking_id")?;
        if reason.chars().count() > 1_000 {
            return Err(invalid("reason", "at most 1000 characters"));
        }
        let mut tx = self.pool.begin().await?;
        let (b, official) = self.locked(&mut tx, id).await?;
        let status = status_of(&b)?;
        transition(
            status,
            Action::Cancel,
            to_local(b.starts_at),
            to_local(self.now()),
            &self.settings.holding,
        )
        .map_err(transition_error)?;
        let cancelled = storage::set_status(
            &mut tx,
            &self.vault,
            id,
            BookingStatus::Cancelled.as_str(),
            Some(reason.trim()),
        )
        .await?;
        outbox::enqueue(
            &mut tx,
            &events::changed(events::CANCELLED, &cancelled, &official, Extra::default()),
        )
        .await?;
        notify(&mut tx, &cancelled, &official, "cancelled").await?;
        let filled = self
            .fill_from_waiting_list(&mut tx, &cancelled, &official)
            .await?;
        tx.commit().await?;
        metrics::counter!("reception_cancellations_total").increment(1);
        tracing::info!(booking = %id, refilled_by = ?filled, "booking cancelled");
        Ok((cancelled, Vec::new()))
    }

    /// Gives the slot `freed` left to the first person waiting for that official and day.
    async fn fill_from_waiting_list(
        &self,
        tx: &mut PgConnection,
        freed: &BookingRow,
        official: &Official,
    ) -> Result<Option<Uuid>> {
        if freed.starts_at <= self.now() {
            return Ok(None);
        }
        let Some(w) =
            storage::first_waiting(tx, &self.vault, &official.id, local_date(freed.starts_at))
                .await?
        else {
            return Ok(None);
        };
        let row = BookingRow {
            id: Uuid::now_v7(),
            request_id: Some(format!("waiting-list:{}", w.id)),
            status: BookingStatus::Booked.as_str().into(),
            visitor_name: w.visitor_name.clone(),
            visitor_iin: w.visitor_iin.clone(),
            visitor_phone: w.visitor_phone.clone(),
            visitor_organisation: w.visitor_organisation.clone(),
            issue: w.issue.clone(),
            category: w.category.clone(),
            earlier_appeal: String::new(),
            participants: Vec::new(),
            language: w.language.clone(),
            district: w.district.clone(),
            booked_at: self.now(),
            booked_by: "waiting-list".into(),
            checked_in_at: None,
            finished_at: None,
            cancel_reason: String::new(),
            waiting_list_entry_id: Some(w.id),
            ..freed.clone()
        };
        let Some(booking) = storage::insert_booking(tx, &self.vault, &row).await? else {
            return Ok(None);
        };
        storage::mark_waiting_booked(tx, w.id, booking.id).await?;
        outbox::enqueue(
            tx,
            &events::changed(events::BOOKED, &booking, official, Extra::default()),
        )
        .await?;
        notify(tx, &booking, official, "waitlist_booked").await?;
        metrics::counter!("reception_bookings_total", "format" => booking.format.clone(), "kind" => booking.kind.clone(), "via" => "waiting_list").increment(1);
        Ok(Some(booking.id))
    }

    pub async fn reschedule(
        &self,
        id: &str,
        new_slot: &str,
    ) -> Result<(BookingRow, Vec<OutcomeRow>)> {
        let id = parse_id(id, "booking_id")?;
        let (official_id, at) = parse_slot_id(new_slot).ok_or_else(|| {
            invalid(
                "slot_id",
                "required: a slot id like akim.talgar@2026-12-02T10:20",
            )
        })?;
        let mut tx = self.pool.begin().await?;
        let (b, official) = self.locked(&mut tx, id).await?;
        if official_id != b.official_id {
            return Err(invalid(
                "slot_id",
                "a booking moves only to another slot of the same official; cancel and book anew",
            ));
        }
        let now = to_local(self.now());
        transition(
            status_of(&b)?,
            Action::Reschedule,
            to_local(b.starts_at),
            now,
            &self.settings.holding,
        )
        .map_err(transition_error)?;
        let schedule = storage::schedule(&mut tx, &official.id).await?;
        let slot = schedule
            .bookable(at, now, self.calendar.as_ref())
            .map_err(refusal_error)?;
        if to_utc(slot.starts_at) == b.starts_at {
            return Err(invalid("slot_id", "the booking is already in that slot"));
        }
        let moved = match storage::move_booking(&mut tx, &self.vault, id, &slot).await {
            Ok(m) => m,
            Err(e) if storage::is_unique_violation(&e) => {
                metrics::counter!("reception_booking_conflicts_total").increment(1);
                return Err(ReceptionError::Precondition(format!(
                    "slot_id: the slot {} is already booked",
                    new_slot.trim()
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let extra = Extra {
            previous_starts_at: Some(b.starts_at),
            ..Default::default()
        };
        outbox::enqueue(
            &mut tx,
            &events::changed(events::RESCHEDULED, &moved, &official, extra),
        )
        .await?;
        notify(&mut tx, &moved, &official, "rescheduled").await?;
        self.fill_from_waiting_list(&mut tx, &b, &official).await?;
        tx.commit().await?;
        tracing::info!(booking = %id, starts_at = %moved.starts_at, "booking rescheduled");
        Ok((moved, Vec::new()))
    }

    pub async fn join_waiting_list(
        &self,
        request_id: &str,
        official_id: &str,
        from: &str,
        to: &str,
        visitor: Visitor,
        issue: Issue,
    ) -> Result<(WaitingRow, u32)> {
        let mut issues = Vec::new();
        let today = local_date(self.now());
        let from_date = crate::domain::schedule::parse_date(from);
        let to_date = crate::domain::schedule::parse_date(to);
        match (from_date, to_date) {
            (None, _) => issues.push(FieldIssue::new("from", "required: YYYY-MM-DD")),
            (_, None) => issues.push(FieldIssue::new("to", "required: YYYY-MM-DD")),
            (Some(f), Some(t)) if t < f => {
                issues.push(FieldIssue::new("to", "must not be before from"))
            }
            (_, Some(t)) if t < today => issues.push(FieldIssue::new("to", "in the past")),
            _ => {}
        }
        if request_id.len() > 200 {
            issues.push(FieldIssue::new("request_id", "at most 200 characters"));
        }
        visitor.check(&mut issues);
        issue.check(&mut issues);
        check(issues)?;
        let (Some(from_date), Some(to_date)) = (from_date, to_date) else {
            return Err(invalid("from", "required"));
        };
        // Nobody waits for days that still have free slots: they book one.
        let free = self
            .slots(
                official_id,
                Some(day_start(from_date)),
                Some(day_start(to_date + Duration::days(1))),
                true,
            )
            .await?;
        if let Some(first) = free.first() {
            return Err(ReceptionError::Precondition(format!(
                "from: {} free slot(s) in those days, the first {}; book one instead",
                free.len(),
                slot_id(official_id.trim(), first.slot.starts_at)
            )));
        }
        let mut tx = self.pool.begin().await?;
        let official = self.official(&mut tx, official_id, "official_id").await?;
        let row = WaitingRow {
            id: Uuid::now_v7(),
            request_id: Some(if request_id.trim().is_empty() {
                Uuid::now_v7().to_string()
            } else {
                request_id.trim().to_owned()
            }),
            official_id: official.id.clone(),
            from_date: from_date.max(today),
            to_date,
            visitor_name: visitor.full_name.trim().into(),
            visitor_iin: visitor.iin.trim().into(),
            visitor_phone: visitor.phone.trim().into(),
            visitor_organisation: visitor.organisation.trim().into(),
            issue: issue.text.trim().into(),
            category: issue.category,
            language: issue.language.trim().into(),
            district: issue.district,
            status: "waiting".into(),
            booking_id: None,
            joined_at: self.now(),
        };
        let entry = storage::insert_waiting(&mut tx, &self.vault, &row).await?;
        tx.commit().await?;
        let position = self
            .waiting_list(&official.id)
            .await?
            .into_iter()
            .find(|(w, _)| w.id == entry.id)
            .map(|(_, p)| p)
            .unwrap_or(0);
        metrics::counter!("reception_waiting_list_joined_total").increment(1);
        tracing::info!(entry = %entry.id, official = %official.id, "joined the waiting list");
        Ok((entry, position))
    }

    /// The waiting list with positions (1 = next; 0 for entries already served).
    pub async fn waiting_list(&self, official_id: &str) -> Result<Vec<(WaitingRow, u32)>> {
        let rows = storage::waiting_list(
            &self.pool,
            &self.vault,
            official_id.trim(),
            local_date(self.now()),
        )
        .await?;
        let mut position = 0;
        Ok(rows
            .into_iter()
            .map(|w| {
                let p = if w.status == "waiting" {
                    position += 1;
                    position
                } else {
                    0
                };
                (w, p)
            })
            .collect())
    }

    // ---- holding ---------------------------------------------------------------------

    async fn simple_transition(
        &self,
        id: &str,
        action: Action<'_>,
        event_type: &str,
    ) -> Result<(BookingRow, Vec<OutcomeRow>)> {
        let id = parse_id(id, "booking_id")?;
        let mut tx = self.pool.begin().await?;
        let (b, official) = self.locked(&mut tx, id).await?;
        let next = transition(
            status_of(&b)?,
            action,
            to_local(b.starts_at),
            to_local(self.now()),
            &self.settings.holding,
        )
        .map_err(transition_error)?;
        let changed = storage::set_status(&mut tx, &self.vault, id, next.as_str(), None).await?;
        outbox::enqueue(
            &mut tx,
            &events::changed(event_type, &changed, &official, Extra::default()),
        )
        .await?;
        let outcomes = storage::outcomes(&mut tx, &[id]).await?;
        tx.commit().await?;
        Ok((changed, outcomes))
    }

    pub async fn check_in(&self, id: &str) -> Result<(BookingRow, Vec<OutcomeRow>)> {
        let r = self
            .simple_transition(id, Action::CheckIn, events::CHECKED_IN)
            .await?;
        metrics::counter!("reception_check_ins_total").increment(1);
        Ok(r)
    }

    pub async fn mark_no_show(&self, id: &str) -> Result<(BookingRow, Vec<OutcomeRow>)> {
        let r = self
            .simple_transition(id, Action::NoShow, events::NO_SHOW)
            .await?;
        metrics::counter!("reception_no_shows_total").increment(1);
        Ok(r)
    }

    pub async fn record_outcome(
        &self,
        id: &str,
        input: OutcomeInput,
        caller: &Caller,
    ) -> Result<(BookingRow, Vec<OutcomeRow>)> {
        let booking_id = parse_id(id, "booking_id")?;
        let kind = OutcomeKind::parse(&input.kind)
            .ok_or_else(|| invalid("outcome", format!("required: {}", OutcomeKind::choices())))?;
        if input.note.chars().count() > 10_000 {
            return Err(invalid("note", "at most 10000 characters"));
        }
        let (b, outcomes) = self.booking(id).await?;
        let mut conn = self.pool.acquire().await?;
        let official = self
            .official(&mut conn, &b.official_id, "booking_id")
            .await?;
        drop(conn);
        let already: Vec<OutcomeKind> = outcomes
            .iter()
            .filter_map(|o| OutcomeKind::parse(&o.kind))
            .collect();
        let now = to_local(self.now());
        match transition(
            status_of(&b)?,
            Action::Outcome(kind, &already),
            to_local(b.starts_at),
            now,
            &self.settings.holding,
        ) {
            // A retry of an outcome already recorded answers with the booking as it is.
            Err(TransitionError::DuplicateOutcome(_)) => return Ok((b, outcomes)),
            Err(e) => return Err(transition_error(e)),
            Ok(_) => {}
        }
        let mut outcome = OutcomeRow {
            booking_id,
            kind: kind.as_str().into(),
            note: input.note.trim().into(),
            appeal_id: String::new(),
            registration_number: String::new(),
            instruction_id: String::new(),
            recorded_at: self.now(),
            recorded_by: caller.name(),
            appeal_closed_at: None,
        };
        match kind {
            OutcomeKind::Explained => {}
            OutcomeKind::AppealRegistered => {
                let details = input.appeal.unwrap_or_default();
                let request = self.appeal_request(&b, &official, &details)?;
                let registered = self.downstream.register_appeal(request, caller).await.inspect_err(|_| {
                    metrics::counter!("reception_downstream_errors_total", "service" => "intake").increment(1);
                })?;
                let appeal = registered.appeal.unwrap_or_default();
                outcome.appeal_id = appeal.id;
                outcome.registration_number = appeal.registration_number;
            }
            OutcomeKind::InstructionGiven => {
                let details = input.instruction.unwrap_or_default();
                let appeal_ids: Vec<String> = details
                    .appeal_ids
                    .iter()
                    .cloned()
                    .chain(outcomes.iter().map(|o| o.appeal_id.clone()))
                    .filter(|a| !a.is_empty())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let request = instruction_request(&b, &official, &details, appeal_ids, kind)?;
                let created = self.downstream.create_instruction(request, caller).await.inspect_err(|_| {
                    metrics::counter!("reception_downstream_errors_total", "service" => "control").increment(1);
                })?;
                let instruction = created.instruction.unwrap_or_default();
                outcome.instruction_id = instruction.id;
                if outcome.note.is_empty() {
                    outcome.note = format!("instruction {}", instruction.number);
                }
            }
        }

        let mut tx = self.pool.begin().await?;
        let (b, official) = self.locked(&mut tx, booking_id).await?;
        let current = storage::outcomes(&mut tx, &[booking_id]).await?;
        let already: Vec<OutcomeKind> = current
            .iter()
            .filter_map(|o| OutcomeKind::parse(&o.kind))
            .collect();
        let next = match transition(
            status_of(&b)?,
            Action::Outcome(kind, &already),
            to_local(b.starts_at),
            now,
            &self.settings.holding,
        ) {
            Err(TransitionError::DuplicateOutcome(_)) => return Ok((b, current)),
            Err(e) => return Err(transition_error(e)),
            Ok(next) => next,
        };
        storage::insert_outcome(&mut tx, &outcome).await?;
        let held =
            storage::set_status(&mut tx, &self.vault, booking_id, next.as_str(), None).await?;
        let all = storage::outcomes(&mut tx, &[booking_id]).await?;
        let extra = Extra {
            outcome: kind.as_str().into(),
            appeal_ids: all
                .iter()
                .map(|o| o.appeal_id.clone())
                .filter(|a| !a.is_empty())
                .collect(),
            instruction_id: outcome.instruction_id.clone(),
            previous_starts_at: None,
        };
        outbox::enqueue(
            &mut tx,
            &events::changed(events::HELD, &held, &official, extra),
        )
        .await?;
        tx.commit().await?;
        metrics::counter!("reception_outcomes_total", "outcome" => kind.as_str()).increment(1);
        tracing::info!(booking = %booking_id, outcome = kind.as_str(), appeal = %outcome.registration_number, instruction = %outcome.instruction_id, "outcome recorded");
        Ok((held, all))
    }

    fn appeal_request(
        &self,
        b: &BookingRow,
        official: &Official,
        d: &intake_details::Appeal,
    ) -> Result<intake::RegisterAppealRequest> {
        let mut issues = Vec::new();
        let kind = match d.kind.trim() {
            "application" => intake::AppealKind::Application,
            "report" => intake::AppealKind::Report,
            "feedback" => intake::AppealKind::Feedback,
            "proposal" => intake::AppealKind::Proposal,
            "request" => intake::AppealKind::Request,
            "complaint" => intake::AppealKind::Complaint,
            _ => {
                issues.push(FieldIssue::new(
                    "appeal.kind",
                    "required: application, report, feedback, proposal, request or complaint",
                ));
                intake::AppealKind::Unspecified
            }
        };
        let language = match if d.language.is_empty() {
            b.language.as_str()
        } else {
            d.language.trim()
        } {
            "kk" => intake::Language::Kk,
            "ru" => intake::Language::Ru,
            "en" => intake::Language::En,
            _ => {
                issues.push(FieldIssue::new("appeal.language", "kk, ru or en"));
                intake::Language::Unspecified
            }
        };
        let district = if d.district.is_empty() {
            b.district.clone()
        } else {
            d.district.trim().to_owned()
        };
        if district.is_empty() {
            issues.push(FieldIssue::new(
                "appeal.district",
                "required: the district the appeal concerns (the booking has none)",
            ));
        }
        let text = if d.text.trim().is_empty() {
            b.issue.clone()
        } else {
            d.text.trim().to_owned()
        };
        check(issues)?;
        let earlier = b.earlier_appeal.trim();
        Ok(intake::RegisterAppealRequest {
            // Deterministic: a retry after a lost answer or a crash registers nothing new.
            request_id: format!("reception:{}:appeal_registered", b.id),
            kind: kind as i32,
            channel: intake::Channel::Reception as i32,
            language: language as i32,
            applicant: Some(intake::Applicant {
                party: Some(intake::applicant::Party::Individual(intake::Individual {
                    iin: b.visitor_iin.clone(),
                    full_name: b.visitor_name.clone(),
                    phone: b.visitor_phone.clone(),
                    email: String::new(),
                    address: d.address.trim().to_owned(),
                })),
            }),
            repeated_of: if looks_like_registration_number(earlier) {
                earlier.to_owned()
            } else {
                String::new()
            },
            addressee: if official.kind == OfficialKind::Akim {
                "akim".into()
            } else {
                official.body.clone()
            },
            locality: Some(intake::Locality {
                kato: String::new(),
                region: self.settings.region.clone(),
                district,
                rural_district: String::new(),
            }),
            subject: d.subject.trim().to_owned(),
            text,
            // Fixed by the check-in, so a retry sends the same request (intake compares).
            received_at: Some(events::timestamp(b.checked_in_at.unwrap_or(b.booked_at))),
            received_by: Some(intake::Officer {
                full_name: official.full_name.clone(),
                position: official.position.clone(),
            }),
            ..Default::default()
        })
    }

    pub async fn record_minutes(
        &self,
        official_id: &str,
        date: &str,
        text: &str,
        attendees: Vec<String>,
        caller: &Caller,
    ) -> Result<MinutesView> {
        let mut issues = Vec::new();
        let date_parsed = crate::domain::schedule::parse_date(date);
        if date_parsed.is_none() {
            issues.push(FieldIssue::new("date", "required: YYYY-MM-DD"));
        } else if date_parsed.is_some_and(|d| d > local_date(self.now())) {
            issues.push(FieldIssue::new(
                "date",
                "minutes are for a reception held, not a future one",
            ));
        }
        if text.trim().is_empty() {
            issues.push(FieldIssue::new("text", "required"));
        } else if text.chars().count() > 50_000 {
            issues.push(FieldIssue::new("text", "at most 50000 characters"));
        }
        if attendees.len() > 100
            || attendees
                .iter()
                .any(|a| a.trim().is_empty() || a.chars().count() > 300)
        {
            issues.push(FieldIssue::new(
                "attendees",
                "up to 100 names of at most 300 characters",
            ));
        }
        check(issues)?;
        let Some(date) = date_parsed else {
            return Err(invalid("date", "required"));
        };
        let mut tx = self.pool.begin().await?;
        let official = self.official(&mut tx, official_id, "official_id").await?;
        let minutes = storage::save_minutes(
            &mut tx,
            &MinutesRow {
                official_id: official.id.clone(),
                reception_date: date,
                text: text.trim().into(),
                attendees: attendees.iter().map(|a| a.trim().to_owned()).collect(),
                recorded_by: caller.name(),
                recorded_at: self.now(),
            },
        )
        .await?;
        tx.commit().await?;
        self.minutes_view(minutes).await
    }

    pub async fn minutes(&self, official_id: &str, date: &str) -> Result<MinutesView> {
        let date = crate::domain::schedule::parse_date(date)
            .ok_or_else(|| invalid("date", "required: YYYY-MM-DD"))?;
        let mut conn = self.pool.acquire().await?;
        let official = self.official(&mut conn, official_id, "official_id").await?;
        let m = storage::minutes(&mut conn, &official.id, date)
            .await?
            .ok_or_else(|| ReceptionError::NotFound("no minutes for that reception".into()))?;
        drop(conn);
        self.minutes_view(m).await
    }

    async fn minutes_view(&self, minutes: MinutesRow) -> Result<MinutesView> {
        let filter = storage::BookingFilter {
            official_id: Some(minutes.official_id.clone()),
            from: Some(day_start(minutes.reception_date)),
            to: Some(day_start(minutes.reception_date + Duration::days(1))),
            status: None,
            after: None,
            limit: 10_000,
        };
        let rows = storage::bookings(&self.pool, &self.vault, &filter).await?;
        let count =
            |s: BookingStatus| rows.iter().filter(|b| b.status == s.as_str()).count() as u32;
        Ok(MinutesView {
            visitors: rows.iter().filter(|b| b.status != "cancelled").count() as u32,
            held: count(BookingStatus::Held),
            no_shows: count(BookingStatus::NoShow),
            minutes,
        })
    }

    // ---- monitoring ------------------------------------------------------------------

    pub async fn monitor(
        &self,
        from: &str,
        to: &str,
        body: &str,
        official_id: &str,
    ) -> Result<Monitoring> {
        let now = self.now();
        let today = local_date(now);
        let parse = |s: &str, field: &str, default: NaiveDate| -> Result<NaiveDate> {
            if s.trim().is_empty() {
                Ok(default)
            } else {
                crate::domain::schedule::parse_date(s).ok_or_else(|| invalid(field, "YYYY-MM-DD"))
            }
        };
        let from = parse(from, "from", today - Duration::days(30))?;
        let to = parse(to, "to", today + Duration::days(30))?;
        if to < from {
            return Err(invalid("to", "must not be before from"));
        }
        if (to - from).num_days() > MAX_WINDOW_DAYS {
            return Err(invalid(
                "to",
                format!("the window is at most {MAX_WINDOW_DAYS} days"),
            ));
        }
        let officials: Vec<Official> = storage::officials(&self.pool, false)
            .await?
            .into_iter()
            .filter(|o| body.is_empty() || o.body == body)
            .filter(|o| official_id.is_empty() || o.id == official_id)
            .collect();
        let counts = storage::status_counts(
            &self.pool,
            day_start(from),
            day_start(to + Duration::days(1)),
        )
        .await?;
        let mut rows = Vec::new();
        for official in officials {
            let mut stats = Stats::default();
            for (_, status, n) in counts.iter().filter(|(o, _, _)| o == &official.id) {
                if let Some(s) = BookingStatus::parse(status) {
                    stats.count(s, *n as u32);
                }
            }
            let (free, next) = self.free_slots(&official.id, now).await?;
            stats.free_slots = free;
            stats.next_free = next;
            rows.push(MonitorRow { official, stats });
        }
        let bodies = monitor::by_body(rows.iter().map(|r| (r.official.body.as_str(), &r.stats)))
            .into_iter()
            .collect();
        Ok(Monitoring {
            from,
            to,
            officials: rows,
            bodies,
            now,
        })
    }

    /// Free published slots of an official from `now`: count and the first one (local).
    pub async fn free_slots(
        &self,
        official_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(u32, Option<chrono::NaiveDateTime>)> {
        let mut conn = self.pool.acquire().await?;
        let schedule = storage::schedule(&mut conn, official_id).await?;
        let today = local_date(now);
        let horizon = schedule.horizon(today);
        let slots = schedule.slots_between(today, horizon, self.calendar.as_ref());
        let taken: HashSet<chrono::NaiveDateTime> = storage::taken_starts(
            &mut conn,
            official_id,
            now,
            day_start(horizon + Duration::days(1)),
        )
        .await?
        .into_iter()
        .map(to_local)
        .collect();
        Ok(monitor::free_slots(&slots, &taken, to_local(now)))
    }

    pub async fn notifications(
        &self,
        booking_id: &str,
        limit: u32,
    ) -> Result<Vec<NotificationRow>> {
        let id = if booking_id.trim().is_empty() {
            None
        } else {
            Some(parse_id(booking_id, "booking_id")?)
        };
        let limit = if limit == 0 { 100 } else { limit.min(1_000) };
        Ok(storage::notifications(&self.pool, &self.vault, id, i64::from(limit)).await?)
    }

    /// Stores reminders for visits due within `reminder_hours_before`; returns how many.
    pub async fn send_reminders(&self) -> Result<usize> {
        let until = self.now() + Duration::hours(i64::from(self.settings.reminder_hours_before));
        let mut tx = self.pool.begin().await?;
        let due = storage::due_reminders(&mut tx, &self.vault, until, 200).await?;
        for b in &due {
            let Some(official) = storage::official(&mut tx, &b.official_id).await? else {
                continue;
            };
            if notify(&mut tx, b, &official, "reminder").await? {
                outbox::enqueue(
                    &mut tx,
                    &events::changed(events::REMINDER_DUE, b, &official, Extra::default()),
                )
                .await?;
            }
        }
        tx.commit().await?;
        if !due.is_empty() {
            metrics::counter!("reception_reminders_total").increment(due.len() as u64);
        }
        Ok(due.len())
    }
}

fn parse_id(id: &str, field: &str) -> Result<Uuid> {
    Uuid::parse_str(id.trim()).map_err(|_| invalid(field, "required: a booking id (UUID)"))
}

fn status_of(b: &BookingRow) -> Result<BookingStatus> {
    BookingStatus::parse(&b.status).ok_or_else(|| {
        ReceptionError::Precondition(format!("the booking has an unknown status {}", b.status))
    })
}

/// `ALM-2026-000123`.
fn looks_like_registration_number(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && (2..=16).contains(&parts[0].len())
        && parts[0]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && parts[1].len() == 4
        && parts[1].bytes().all(|b| b.is_ascii_digit())
        && !parts[2].is_empty()
        && parts[2].bytes().all(|b| b.is_ascii_digit())
}

fn instruction_request(
    b: &BookingRow,
    official: &Official,
    d: &intake_details::Instruction,
    appeal_ids: Vec<String>,
    kind: OutcomeKind,
) -> Result<control::CreateInstructionRequest> {
    let mut issues = Vec::new();
    if d.text.trim().is_empty() {
        issues.push(FieldIssue::new(
            "instruction.text",
            "required: what is to be done",
        ));
    } else if d.text.chars().count() > 10_000 {
        issues.push(FieldIssue::new(
            "instruction.text",
            "at most 10000 characters",
        ));
    }
    if d.executors.is_empty() {
        issues.push(FieldIssue::new(
            "instruction.executors",
            "required: body codes of the executors",
        ));
    }
    for (i, e) in d.executors.iter().enumerate() {
        if !is_code(e) {
            issues.push(FieldIssue::new(
                format!("instruction.executors[{i}]"),
                "a body code like akimat.talgar",
            ));
        }
    }
    if !d.due_date.is_empty() && crate::domain::schedule::parse_date(&d.due_date).is_none() {
        issues.push(FieldIssue::new("instruction.due_date", "YYYY-MM-DD"));
    }
    for (i, a) in d.appeal_ids.iter().enumerate() {
        if Uuid::parse_str(a).is_err() {
            issues.push(FieldIssue::new(
                format!("instruction.appeal_ids[{i}]"),
                "an appeal id (UUID)",
            ));
        }
    }
    check(issues)?;
    let issuer = match official.kind {
        OfficialKind::Akim => "akim",
        OfficialKind::DeputyAkim => "deputy_akim",
        OfficialKind::PresidentialAssistant => "presidential_appeals_control",
        _ => "reception_official",
    };
    Ok(control::CreateInstructionRequest {
        request_id: format!("{}:{}", b.id, kind.as_str()),
        issuer: issuer.into(),
        issuer_official: format!("{}, {}", official.full_name, official.position),
        issuer_reference: String::new(),
        title: format!(
            "Instruction given at the reception of {} on {}",
            official.position,
            local_date(b.starts_at)
        ),
        text: d.text.trim().into(),
        lead_executor: d.executors[0].clone(),
        co_executors: d.executors[1..].to_vec(),
        appeal_ids,
        due_date: d.due_date.trim().into(),
        working_days: 0,
        source: format!("reception:{}", b.id),
    })
}

/// Stores a notification to the visitor. Text names the reception, never the visitor.
async fn notify(
    tx: &mut PgConnection,
    b: &BookingRow,
    official: &Official,
    kind: &str,
) -> Result<bool> {
    let local = to_local(b.starts_at);
    let venue = &b.venue.0;
    let place = [
        venue.room.as_str(),
        venue.place.as_str(),
        venue.link.as_str(),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(", ");
    let when = local.format("%d.%m.%Y %H:%M");
    let what = match kind {
        "confirmation" => "Қабылдауға жазылу расталды / Запись на приём подтверждена",
        "waitlist_booked" => {
            "Күту тізімінен қабылдауға жазылдыңыз / Вы записаны на приём из листа ожидания"
        }
        "rescheduled" => "Қабылдау уақыты өзгерді / Время приёма изменено",
        "cancelled" => "Қабылдауға жазылу жойылды / Запись на приём отменена",
        _ => "Қабылдау туралы еске салу / Напоминание о приёме",
    };
    let text = format!(
        "{what}: {when}, {}{}. № {}",
        official.position,
        if place.is_empty() {
            String::new()
        } else {
            format!(", {place}")
        },
        b.id
    );
    // Notifications are stored when they are due: the sweep makes reminders in time.
    let due_at = Utc::now();
    Ok(storage::insert_notification(
        tx,
        &NotificationRow {
            id: Uuid::now_v7(),
            booking_id: b.id,
            kind: kind.into(),
            phone: b.visitor_phone.clone(),
            text,
            slot_start: b.starts_at,
            due_at,
            created_at: Utc::now(),
        },
    )
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_numbers_are_recognised() {
        assert!(looks_like_registration_number("ALM-2026-000123"));
        assert!(!looks_like_registration_number(
            "0190b1c2-0000-7000-8000-000000000000"
        ));
        assert!(!looks_like_registration_number("alm-2026-1"));
    }

    #[test]
    fn visitors_and_issues_are_checked_field_by_field() {
        let mut issues = Vec::new();
        Visitor {
            full_name: " ".into(),
            iin: "123".into(),
            phone: "8701".into(),
            organisation: String::new(),
        }
        .check(&mut issues);
        Issue {
            text: String::new(),
            category: "Bad".into(),
            language: "de".into(),
            district: String::new(),
        }
        .check(&mut issues);
        let fields: Vec<_> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "visitor.full_name",
                "visitor.iin",
                "visitor.phone",
                "issue",
                "category",
                "language"
            ]
        );
    }
}
