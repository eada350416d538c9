//! The steps of an appeal in control, each one transaction: state change, timeline entry,
//! scheduled jobs, letters and outbox events commit together (nothing lost or doubled).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bakylau_calendar::{Calendar, kz_date, kz_offset};
use bakylau_platform::broker::{OutboxMessage, enqueue, enqueue_all};
use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::calendar_store::CalendarStore;
use crate::clock::Clock;
use crate::domain::deadline::{self, ExtensionRequest};
use crate::domain::letters::{self, LetterKind};
use crate::domain::policy::Policy;
use crate::domain::status::{self, Status};
use crate::events::{self, StatusMark};
use crate::settings::ControlSettings;
use crate::storage::{self, AppealRow, NewAttachment};

/// Actor name of automatic steps.
pub const SYSTEM: &str = "system";

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Precondition(String),
    #[error("{0}")]
    Denied(String),
    #[error("calendar: {0}")]
    Calendar(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

pub fn invalid(field: &str, message: impl Into<String>) -> ControlError {
    ControlError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl From<status::TransitionError> for ControlError {
    fn from(e: status::TransitionError) -> Self {
        ControlError::Precondition(e.to_string())
    }
}

/// What every step needs.
pub struct Control {
    pub pool: PgPool,
    pub calendar: Arc<CalendarStore>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<ControlSettings>,
}

fn parse_status(a: &AppealRow) -> Status {
    Status::parse(&a.status).unwrap_or(Status::Registered)
}

fn fmt_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "-".into())
}

/// What the consumed events applied in one transaction share: the policy, read once; the
/// appeal rows, created and locked together up front and kept as the events save them;
/// the events they publish, written with one statement by `finish`.
#[derive(Default)]
pub struct Consumed {
    policy: Option<Policy>,
    appeals: HashMap<Uuid, AppealRow>,
    outbox: Vec<OutboxMessage>,
}

impl Consumed {
    /// Creates and locks the rows of the appeals the events are about, at once.
    pub async fn lock(&mut self, conn: &mut PgConnection, ids: &[Uuid]) -> Result<(), sqlx::Error> {
        self.appeals
            .extend(storage::lock_or_create_all(conn, ids).await?);
        Ok(())
    }

    /// The appeal's row, locked; give it back with `saved` once it is saved.
    async fn appeal(
        &mut self,
        conn: &mut PgConnection,
        id: Uuid,
    ) -> Result<AppealRow, sqlx::Error> {
        match self.appeals.remove(&id) {
            Some(a) => Ok(a),
            None => storage::lock_or_create(conn, id).await,
        }
    }

    /// `a` as it now is in the database (a row changed but not saved is not given back).
    fn saved(&mut self, a: AppealRow) {
        self.appeals.insert(a.appeal_id, a);
    }

    async fn policy(
        &mut self,
        control: &Control,
        conn: &mut PgConnection,
    ) -> Result<Policy, sqlx::Error> {
        if let Some(p) = &self.policy {
            return Ok(p.clone());
        }
        let p = control.policy(conn).await?;
        self.policy = Some(p.clone());
        Ok(p)
    }

    /// Publishes `message` after the commit, in the trace of the event being applied.
    fn publish(&mut self, message: OutboxMessage) {
        self.outbox.push(message.in_current_trace());
    }

    pub async fn finish(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        enqueue_all(conn, &self.outbox).await
    }
}

impl Control {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn today(&self) -> NaiveDate {
        kz_date(self.now())
    }

    pub fn cal(&self) -> Arc<Calendar> {
        self.calendar.get()
    }

    pub async fn policy(&self, conn: &mut PgConnection) -> Result<Policy, sqlx::Error> {
        Ok(storage::policy(conn, &self.settings.policy).await?.policy)
    }

    // --- consumed events -----------------------------------------------------------------

    /// `appeal.registered`: keeps what letters and audits need, and writes the coupon letter.
    pub async fn on_registered(
        &self,
        conn: &mut PgConnection,
        e: &ev::AppealRegistered,
        id: Uuid,
        out: &mut Consumed,
    ) -> Result<(), ControlError> {
        let now = self.now();
        let mut a = out.appeal(conn, id).await?;
        a.registration_number = e.registration_number.clone();
        if !e.kind.is_empty() {
            a.kind = e.kind.clone();
        }
        a.language = if e.language.is_empty() {
            "ru".into()
        } else {
            e.language.clone()
        };
        a.channel = e.channel.clone();
        a.office = e.office.clone();
        a.received_at = e.received_at.as_ref().and_then(from_ts);
        let registered_at = e.registered_at.as_ref().and_then(from_ts);
        if registered_at.is_some() {
            a.registered_at = registered_at;
            a.registered_on = registered_at.map(kz_date);
        }
        if let Some(x) = &e.external {
            a.external_source = Some(x.source.clone());
            a.external_id = Some(x.external_id.clone());
        }
        let note = format!("{} via {}", a.registration_number, a.channel);
        storage::save_noting(
            conn,
            &a,
            a.registered_at.unwrap_or(now),
            storage::Note {
                actor: "intake",
                action: "registered",
                text: &note,
            },
        )
        .await?;
        // An anonymous applicant has no address to write to; a redelivered registration
        // gets no second coupon.
        let anonymous = e.anonymous || e.applicant_type == "anonymous";
        if !anonymous {
            let registered_at = a
                .registered_at
                .unwrap_or(now)
                .with_timezone(&kz_offset())
                .format("%Y-%m-%d %H:%M")
                .to_string();
            let fields = BTreeMap::from([
                ("registration_number", a.registration_number.clone()),
                ("registered_at", registered_at),
                ("office", a.office.clone()),
            ]);
            let due_by = a.registered_on.or(Some(kz_date(now)));
            if let Some(m) = self
                .write_letter(
                    conn,
                    &a,
                    LetterKind::RegistrationCoupon,
                    &fields,
                    due_by,
                    now,
                )
                .await?
            {
                out.publish(m);
            }
        }
        out.saved(a);
        Ok(())
    }

    /// `appeal.routed`: (re)assigns the lead and co-executors with the policy deadline.
    pub async fn on_routed(
        &self,
        conn: &mut PgConnection,
        e: &ev::AppealRouted,
        id: Uuid,
        out: &mut Consumed,
    ) -> Result<(), ControlError> {
        let now = self.now();
        let cal = self.cal();
        let policy = out.policy(self, conn).await?;
        let mut a = out.appeal(conn, id).await?;
        if a.registration_number.is_empty() {
            a.registration_number = e.registration_number.clone();
        }
        if a.kind.is_empty() {
            a.kind = e.kind.clone();
        }
        if a.channel.is_empty() && !e.language.is_empty() {
            // `appeal.registered` not seen (yet): take the language routing passes on.
            a.language = e.language.clone();
            a.channel = e.channel.clone();
        }
        if a.registered_at.is_none() {
            a.registered_at = e.registered_at.as_ref().and_then(from_ts);
            a.registered_on = a.registered_at.map(kz_date);
        }
        if a.external_source.is_none()
            && let Some(x) = &e.external
        {
            a.external_source = Some(x.source.clone());
            a.external_id = Some(x.external_id.clone());
        }
        // Deliveries can overtake each other on retry: never let an older routing decision
        // replace a newer one.
        let sequence = i32::try_from(e.sequence).unwrap_or(i32::MAX);
        if sequence > 0 && sequence < a.routing_sequence {
            storage::add_timeline(
                conn,
                id,
                now,
                &e.decided_by,
                "routing_ignored",
                &format!(
                    "decision {sequence} is older than the applied decision {}",
                    a.routing_sequence
                ),
            )
            .await?;
            return Ok(());
        }
        let next = match status::route(parse_status(&a)) {
            Ok(s) => s,
            Err(err) => {
                storage::add_timeline(
                    conn,
                    id,
                    now,
                    &e.decided_by,
                    "routing_ignored",
                    &err.to_string(),
                )
                .await?;
                return Ok(());
            }
        };
        if e.lead_executor.trim().is_empty() {
            return Err(invalid("lead_executor", "empty"));
        }
        let reassigned = a.lead_body.is_some();
        let mut co: Vec<String> = Vec::new();
        for body in &e.co_executors {
            if body != &e.lead_executor && !body.trim().is_empty() && !co.contains(body) {
                co.push(body.clone());
            }
        }
        storage::reassign(conn, id, &e.lead_executor, &co, &e.decided_by, now).await?;
        let registered_on = *a.registered_on.get_or_insert(kz_date(now));
        let working_days = policy.working_days_for(&a.kind);
        // The period runs from registration whoever answers; an extension stays in force.
        let due = if a.extensions > 0 {
            a.due_date.unwrap_or(registered_on)
        } else {
            deadline::due_date(&cal, registered_on, working_days)
                .map_err(|e| ControlError::Calendar(e.to_string()))?
        };
        a.status = next.as_str().into();
        a.routing_sequence = a.routing_sequence.max(sequence);
        a.lead_body = Some(e.lead_executor.clone());
        a.co_bodies = co;
        a.category = e.category.clone();
        a.routed_at = a.routed_at.or(Some(now));
        a.assigned_at = Some(now);
        a.working_days = Some(working_days as i32);
        a.initial_due_date = a.initial_due_date.or(Some(due));
        a.due_date = Some(due);
        a.overdue = kz_date(now) > due;
        a.redirected_at = None;
        a.redirected_to = None;
        let co_note = if a.co_bodies.is_empty() {
            String::new()
        } else {
            format!(", co-executors {}", a.co_bodies.join(", "))
        };
        let note = format!(
            "lead {}{co_note}; category {}; due {due} ({working_days} working days)",
            e.lead_executor, e.category
        );
        storage::save_noting(
            conn,
            &a,
            now,
            storage::Note {
                actor: &e.decided_by,
                action: if reassigned { "reassigned" } else { "assigned" },
                text: &note,
            },
        )
        .await?;
        self.reschedule(conn, &cal, &policy, &a, now).await?;
        out.publish(events::assigned(&a, now, reassigned));
        out.saved(a);
        Ok(())
    }

    /// `appeal.redirected`: outside the office's competence; the applicant is told
    /// within the policy's working days (APPK art. 65).
    pub async fn on_redirected(
        &self,
        conn: &mut PgConnection,
        e: &ev::AppealRedirected,
        id: Uuid,
        out: &mut Consumed,
    ) -> Result<(), ControlError> {
        let now = self.now();
        let cal = self.cal();
        let policy = out.policy(self, conn).await?;
        let mut a = out.appeal(conn, id).await?;
        if a.registration_number.is_empty() {
            a.registration_number = e.registration_number.clone();
        }
        if a.registered_at.is_none() {
            a.registered_at = e.registered_at.as_ref().and_then(from_ts);
            a.registered_on = a.registered_at.map(kz_date);
        }
        if parse_status(&a) == Status::Closed {
            storage::add_timeline(
                conn,
                id,
                now,
                SYSTEM,
                "redirect_ignored",
                "the appeal is closed",
            )
            .await?;
            return Ok(());
        }
        storage::end_assignments(conn, id, now).await?;
        storage::cancel_jobs(conn, id, now).await?;
        a.status = Status::Redirected.as_str().into();
        a.redirected_at = a.redirected_at.or(Some(now));
        a.redirected_to = Some(e.to_body.clone());
        a.lead_body = None;
        a.co_bodies.clear();
        a.due_date = None;
        a.overdue = false;
        storage::save(conn, &a).await?;
        storage::add_timeline(
            conn,
            id,
            now,
            "routing",
            "redirected",
            &format!("to {} ({})", e.to_body, e.reason_code),
        )
        .await?;
        let language = crate::domain::letter_language(&a.language);
        let explanation = if language == "kk" && !e.explanation_kk.is_empty() {
            e.explanation_kk.clone()
        } else if !e.explanation_ru.is_empty() {
            e.explanation_ru.clone()
        } else {
            e.explanation_kk.clone()
        };
        let fields = BTreeMap::from([
            ("registration_number", a.registration_number.clone()),
            ("registered_on", fmt_date(a.registered_on)),
            ("to_body", e.to_body.clone()),
            ("explanation", explanation),
        ]);
        // Routing states the date (3 working days from registration, APPK art. 65); count
        // it here when it does not.
        let due_by = crate::domain::parse_date(&e.notify_by).or_else(|| {
            cal.add_working_days_lenient(
                a.registered_on.unwrap_or(kz_date(now)),
                policy.redirect_notice_working_days,
            )
            .ok()
        });
        if let Some(m) = self
            .write_letter(conn, &a, LetterKind::Redirection, &fields, due_by, now)
            .await?
        {
            out.publish(m);
        }
        out.saved(a);
        Ok(())
    }

    // --- commands ------------------------------------------------------------------------

    /// The lead executor's answer (reg 5.4).
    #[allow(clippy::too_many_arguments)]
    pub async fn submit_answer(
        &self,
        id: Uuid,
        author: &str,
        author_body: &str,
        text: &str,
        measures_taken: &str,
        attachments: Vec<(String, String, Vec<u8>)>,
    ) -> Result<AppealRow, ControlError> {
        if text.trim().is_empty() {
            return Err(invalid("text", "the answer text is required"));
        }
        if text.chars().count() > 100_000 {
            return Err(invalid("text", "at most 100000 characters"));
        }
        let mut total = 0usize;
        let mut files = Vec::with_capacity(attachments.len());
        for (i, (name, media_type, content)) in attachments.into_iter().enumerate() {
            let field = format!("attachments[{i}]");
            if name.trim().is_empty() || name.len() > 255 {
                return Err(invalid(&format!("{field}.name"), "1..255 characters"));
            }
            if content.is_empty() {
                return Err(invalid(&format!("{field}.content"), "empty file"));
            }
            if content.len() > self.settings.max_attachment_bytes {
                return Err(invalid(
                    &format!("{field}.content"),
                    format!(
                        "{} bytes exceeds the limit of {} bytes",
                        content.len(),
                        self.settings.max_attachment_bytes
                    ),
                ));
            }
            total += content.len();
            files.push(NewAttachment {
                name,
                media_type: if media_type.is_empty() {
                    "application/octet-stream".into()
                } else {
                    media_type
                },
                sha256: hex::encode(Sha256::digest(&content)),
                content,
            });
        }
        if total > self.settings.max_answer_bytes {
            return Err(invalid(
                "attachments",
                format!(
                    "{total} bytes in all exceeds the limit of {} bytes",
                    self.settings.max_answer_bytes
                ),
            ));
        }
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        let mut a = storage::lock(&mut tx, id)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("appeal {id}")))?;
        if a.lead_body.as_deref() != Some(author_body) {
            return Err(ControlError::Denied(format!(
                "only the lead executor's body may answer appeal {}",
                a.registration_number
            )));
        }
        let next = status::submit_answer(parse_status(&a))?;
        let version = storage::latest_answer(&mut tx, id)
            .await?
            .map(|x| x.version + 1)
            .unwrap_or(1);
        storage::insert_answer(
            &mut tx,
            id,
            version,
            author_body,
            author,
            text,
            measures_taken,
            now,
            &files,
        )
        .await?;
        a.status = next.as_str().into();
        a.first_answered_at = a.first_answered_at.or(Some(now));
        storage::save(&mut tx, &a).await?;
        storage::add_timeline(
            &mut tx,
            id,
            now,
            author,
            "answer_submitted",
            &format!(
                "answer v{version} by {author_body}, {} attachment(s)",
                files.len()
            ),
        )
        .await?;
        enqueue(
            &mut tx,
            &events::status_changed(
                &a,
                &StatusMark {
                    event_type: events::APPEAL_ANSWER_SUBMITTED,
                    at: now,
                    actor: author,
                    note: &format!("answer v{version}"),
                    answer_text: "",
                    previous_due_date: None,
                },
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(a)
    }

    /// A controller's review (reg 5.5, 5.6): accept (closing, or waiting for the head's
    /// sign-off under the akim's control) or return for rework.
    pub async fn review(
        &self,
        id: Uuid,
        reviewer: &str,
        accept: bool,
        remarks: &str,
        new_due: Option<NaiveDate>,
    ) -> Result<AppealRow, ControlError> {
        if !accept && remarks.trim().is_empty() {
            return Err(invalid("remarks", "a return for rework needs remarks"));
        }
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        let a = storage::lock(&mut tx, id)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("appeal {id}")))?;
        let next = status::review(parse_status(&a), accept, a.akim_control)?;
        let answer = storage::latest_answer(&mut tx, id)
            .await?
            .ok_or_else(|| ControlError::Precondition("no answer to review".into()))?;
        let a = match next {
            Status::Closed => {
                storage::set_review(&mut tx, answer.id, "accepted", remarks, reviewer, now).await?;
                storage::add_timeline(&mut tx, id, now, reviewer, "accepted", remarks).await?;
                self.close(&mut tx, a, &answer, reviewer, now).await?
            }
            Status::AwaitingSignOff => {
                storage::set_review(&mut tx, answer.id, "accepted", remarks, reviewer, now).await?;
                let mut a = a;
                a.status = next.as_str().into();
                storage::save(&mut tx, &a).await?;
                storage::add_timeline(
                    &mut tx,
                    id,
                    now,
                    reviewer,
                    "accepted",
                    "under the akim's control: waiting for the head's sign-off",
                )
                .await?;
                a
            }
            _ => {
                storage::set_review(&mut tx, answer.id, "returned", remarks, reviewer, now).await?;
                self.return_for_rework(&mut tx, a, reviewer, remarks, new_due, now)
                    .await?
            }
        };
        tx.commit().await?;
        Ok(a)
    }

    /// The head's sign-off of an accepted answer under the akim's control (reg 5.4).
    pub async fn sign_off(
        &self,
        id: Uuid,
        head: &str,
        approve: bool,
        remarks: &str,
        new_due: Option<NaiveDate>,
    ) -> Result<AppealRow, ControlError> {
        if !approve && remarks.trim().is_empty() {
            return Err(invalid("remarks", "a return for rework needs remarks"));
        }
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        let a = storage::lock(&mut tx, id)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("appeal {id}")))?;
        let next = status::sign_off(parse_status(&a), approve)?;
        let answer = storage::latest_answer(&mut tx, id)
            .await?
            .ok_or_else(|| ControlError::Precondition("no answer to sign off".into()))?;
        let a = if next == Status::Closed {
            storage::set_signed_off(&mut tx, answer.id, head, now).await?;
            storage::add_timeline(&mut tx, id, now, head, "signed_off", remarks).await?;
            self.close(&mut tx, a, &answer, head, now).await?
        } else {
            storage::set_review(&mut tx, answer.id, "returned", remarks, head, now).await?;
            self.return_for_rework(&mut tx, a, head, remarks, new_due, now)
                .await?
        };
        tx.commit().await?;
        Ok(a)
    }

    pub async fn set_akim_control(
        &self,
        id: Uuid,
        actor: &str,
        under_control: bool,
        note: &str,
    ) -> Result<AppealRow, ControlError> {
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        let mut a = storage::lock(&mut tx, id)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("appeal {id}")))?;
        if parse_status(&a) == Status::Closed {
            return Err(ControlError::Precondition("the appeal is closed".into()));
        }
        if a.akim_control != under_control {
            a.akim_control = under_control;
            storage::save(&mut tx, &a).await?;
            storage::add_timeline(
                &mut tx,
                id,
                now,
                actor,
                if under_control {
                    "placed_under_akim_control"
                } else {
                    "removed_from_akim_control"
                },
                note,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(a)
    }

    /// One extension by a head's reasoned decision (APPK art. 76); the applicant gets a
    /// letter at once.
    pub async fn extend(
        &self,
        id: Uuid,
        head: &str,
        new_due: NaiveDate,
        reason: &str,
        decision: &str,
    ) -> Result<AppealRow, ControlError> {
        let now = self.now();
        let cal = self.cal();
        let mut tx = self.pool.begin().await?;
        let policy = self.policy(&mut tx).await?;
        let mut a = storage::lock(&mut tx, id)
            .await?
            .ok_or_else(|| ControlError::NotFound(format!("appeal {id}")))?;
        status::extend(parse_status(&a))?;
        let (Some(registered_on), Some(current_due)) = (a.registered_on, a.due_date) else {
            return Err(ControlError::Precondition(
                "the appeal has no deadline".into(),
            ));
        };
        if reason.trim().is_empty() {
            return Err(invalid("reason", "an extension needs a reasoned decision"));
        }
        deadline::check_extension(
            &cal,
            &policy,
            &ExtensionRequest {
                registered_on,
                current_due,
                extensions_so_far: a.extensions.max(0) as u32,
                new_due,
                reason,
            },
        )
        .map_err(|e| ControlError::Precondition(e.to_string()))?;
        a.due_date = Some(new_due);
        a.extensions += 1;
        a.extended_at = Some(now);
        a.overdue = kz_date(now) > new_due;
        storage::save(&mut tx, &a).await?;
        self.reschedule(&mut tx, &cal, &policy, &a, now).await?;
        let note = if decision.trim().is_empty() {
            format!("{current_due} -> {new_due}: {reason}")
        } else {
            format!("{current_due} -> {new_due} by decision {decision}: {reason}")
        };
        storage::add_timeline(&mut tx, id, now, head, "extended", &note).await?;
        enqueue(
            &mut tx,
            &events::status_changed(
                &a,
                &StatusMark {
                    event_type: events::APPEAL_EXTENDED,
                    at: now,
                    actor: head,
                    note: reason,
                    answer_text: "",
                    previous_due_date: Some(current_due),
                },
            ),
        )
        .await?;
        let fields = BTreeMap::from([
            ("registration_number", a.registration_number.clone()),
            ("due_date", new_due.to_string()),
            ("previous_due_date", current_due.to_string()),
            ("reason", reason.to_owned()),
        ]);
        let due_by = cal
            .add_working_days_lenient(kz_date(now), policy.extension_notice_working_days)
            .ok();
        if let Some(m) = self
            .write_letter(&mut tx, &a, LetterKind::Extension, &fields, due_by, now)
            .await?
        {
            enqueue(&mut tx, &m).await?;
        }
        tx.commit().await?;
        Ok(a)
    }

    // --- shared steps --------------------------------------------------------------------

    async fn close(
        &self,
        tx: &mut PgConnection,
        mut a: AppealRow,
        answer: &storage::AnswerRow,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AppealRow, ControlError> {
        a.status = Status::Closed.as_str().into();
        a.closed_at = Some(now);
        storage::save(tx, &a).await?;
        storage::cancel_jobs(tx, a.appeal_id, now).await?;
        storage::add_timeline(
            tx,
            a.appeal_id,
            now,
            actor,
            "closed",
            &format!("answer v{} sent to the applicant", answer.version),
        )
        .await?;
        enqueue(
            tx,
            &events::status_changed(
                &a,
                &StatusMark {
                    event_type: events::APPEAL_CLOSED,
                    at: now,
                    actor,
                    note: "",
                    answer_text: &answer.text,
                    previous_due_date: None,
                },
            ),
        )
        .await?;
        let fields = BTreeMap::from([
            ("registration_number", a.registration_number.clone()),
            ("registered_on", fmt_date(a.registered_on)),
            ("answer", answer.text.clone()),
            (
                "measures_taken",
                if answer.measures_taken.trim().is_empty() {
                    "-".to_owned()
                } else {
                    answer.measures_taken.clone()
                },
            ),
            ("lead_body", answer.body.clone()),
        ]);
        if let Some(m) = self
            .write_letter(tx, &a, LetterKind::Answer, &fields, Some(kz_date(now)), now)
            .await?
        {
            enqueue(tx, &m).await?;
        }
        Ok(a)
    }

    async fn return_for_rework(
        &self,
        tx: &mut PgConnection,
        mut a: AppealRow,
        actor: &str,
        remarks: &str,
        new_due: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<AppealRow, ControlError> {
        let cal = self.cal();
        let policy = self.policy(tx).await?;
        let due = deadline::rework_due(&cal, kz_date(now), new_due, policy.rework_working_days)
            .map_err(|m| invalid("new_due_date", m))?;
        let previous = a.due_date;
        a.status = Status::ReturnedForRework.as_str().into();
        a.rework_count += 1;
        a.due_date = Some(due);
        a.overdue = false;
        storage::save(tx, &a).await?;
        self.reschedule(tx, &cal, &policy, &a, now).await?;
        storage::add_timeline(
            tx,
            a.appeal_id,
            now,
            actor,
            "returned_for_rework",
            &format!("due {due}: {remarks}"),
        )
        .await?;
        enqueue(
            tx,
            &events::status_changed(
                &a,
                &StatusMark {
                    event_type: events::APPEAL_RETURNED_FOR_REWORK,
                    at: now,
                    actor,
                    note: remarks,
                    answer_text: "",
                    previous_due_date: previous,
                },
            ),
        )
        .await?;
        Ok(a)
    }

    /// Replaces the appeal's pending reminder and escalation jobs with ones for its
    /// current due date.
    async fn reschedule(
        &self,
        tx: &mut PgConnection,
        cal: &Calendar,
        policy: &Policy,
        a: &AppealRow,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let mut jobs = Vec::new();
        if let Some(due) = a.due_date {
            let today = kz_date(now);
            for n in policy.reminders() {
                if let Some(day) = deadline::reminder_date(cal, due, n, today) {
                    jobs.push(storage::NewJob {
                        kind: "reminder",
                        fire_at: deadline::kz_instant(day, deadline::REMINDER_HOUR),
                        payload: serde_json::json!({ "due_date": due.to_string(), "working_days_left": n }),
                    });
                }
            }
            jobs.push(storage::NewJob {
                kind: "overdue",
                fire_at: deadline::overdue_at(due),
                payload: serde_json::json!({ "due_date": due.to_string() }),
            });
        }
        storage::replace_jobs(tx, a.appeal_id, now, &jobs).await
    }

    /// Renders and stores a letter, and gives the `applicant.notified` to publish. Nothing
    /// happens for a kind sent once per appeal that the appeal already has.
    async fn write_letter(
        &self,
        tx: &mut PgConnection,
        a: &AppealRow,
        kind: LetterKind,
        fields: &BTreeMap<&str, String>,
        due_by: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<Option<OutboxMessage>, ControlError> {
        let letter = letters::render(kind, &a.language, fields)
            .map_err(|e| ControlError::Precondition(e.to_string()))?;
        let id = Uuid::now_v7();
        let note = format!("{} letter ({}) {id}", kind.as_str(), letter.language);
        let stored = storage::insert_letter(
            tx,
            &storage::NewLetter {
                id,
                appeal: a.appeal_id,
                kind: kind.as_str(),
                language: letter.language,
                subject: &letter.subject,
                body: &letter.body,
                at: now,
                due_by,
                once: kind.once_per_appeal(),
                note: storage::Note {
                    actor: SYSTEM,
                    action: "letter_written",
                    text: &note,
                },
            },
        )
        .await?;
        if !stored {
            return Ok(None);
        }
        metrics::counter!("control_letters_written_total", "kind" => kind.as_str()).increment(1);
        Ok(Some(events::applicant_notified(
            a,
            id,
            kind.as_str(),
            letter.language,
            now,
            due_by,
        )))
    }

    /// Fires one claimed job inside the scheduler's transaction; returns the outcome.
    pub async fn fire_job(
        &self,
        tx: &mut PgConnection,
        job: &storage::JobRow,
        now: DateTime<Utc>,
    ) -> Result<&'static str, ControlError> {
        let Some(mut a) = storage::lock(tx, job.subject).await? else {
            return Ok("skipped");
        };
        let due = job
            .payload
            .0
            .get("due_date")
            .and_then(|v| v.as_str())
            .and_then(crate::domain::parse_date);
        // A job for an earlier due date, or an appeal no longer running, does nothing.
        if !parse_status(&a).is_open() || a.due_date.is_none() || a.due_date != due {
            return Ok("skipped");
        }
        match job.kind.as_str() {
            // After downtime past the deadline a "days left" reminder would mislead; the
            // escalation says it all.
            "reminder" if due.is_some_and(|d| kz_date(now) > d) => Ok("stale"),
            "reminder" => {
                let left = job
                    .payload
                    .0
                    .get("working_days_left")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0) as u32;
                storage::add_timeline(
                    tx,
                    a.appeal_id,
                    now,
                    SYSTEM,
                    "reminder",
                    &format!("{left} working day(s) left until {}", fmt_date(a.due_date)),
                )
                .await?;
                enqueue(tx, &events::deadline_approaching(&a, now, left)).await?;
                metrics::counter!("control_reminders_total").increment(1);
                Ok("fired")
            }
            "overdue" => {
                a.overdue = true;
                storage::save(tx, &a).await?;
                storage::add_timeline(
                    tx,
                    a.appeal_id,
                    now,
                    SYSTEM,
                    "overdue",
                    &format!("due {} passed; escalated", fmt_date(a.due_date)),
                )
                .await?;
                enqueue(
                    tx,
                    &events::status_changed(
                        &a,
                        &StatusMark {
                            event_type: events::APPEAL_OVERDUE,
                            at: now,
                            actor: SYSTEM,
                            note: "",
                            answer_text: "",
                            previous_due_date: None,
                        },
                    ),
                )
                .await?;
                metrics::counter!("control_escalations_total").increment(1);
                Ok("fired")
            }
            other => {
                tracing::warn!(job = job.id, kind = other, "unknown job kind");
                Ok("skipped")
            }
        }
    }
}

pub fn from_ts(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)
}
