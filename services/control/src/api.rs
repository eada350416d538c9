//! gRPC adapter: `bakylau.control.v1.ControlService`. Checks the caller, converts messages
//! to the domain and back, and maps errors to status codes that name the field at fault.

use std::collections::BTreeMap;
use std::sync::Arc;

use bakylau_calendar::{Calendar, DayKind, kz_date};
use bakylau_platform::audit as audit_log;
use bakylau_proto::control::v1 as pb;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::access::{Caller, Role, caller};
use crate::calendar_store;
use crate::domain::audit::{self, AppealFacts, Check, Notice};
use crate::domain::calendar_data::{HolidayRow, TransferRow};
use crate::domain::deadline;
use crate::domain::parse_date;
use crate::domain::policy::Policy;
use crate::events::timestamp;
use crate::storage::{self, AppealRow, DueFilter, LetterFilter};
use crate::workflow::{Control, ControlError};

/// Who may edit the working-day calendar.
const CALENDAR_EDITORS: &[Role] = &[Role::Controller, Role::Head, Role::System];

pub struct ControlApi {
    pub control: Arc<Control>,
}

pub fn invalid(field: &str, message: &str) -> Status {
    bakylau_platform::grpc::invalid_argument(format!("{field}: {message}"), [(field, message)])
}

fn db_status(e: sqlx::Error) -> Status {
    if let Some(status) = bakylau_platform::db::bad_input(&e) {
        return status;
    }
    if bakylau_platform::db::is_unavailable(&e) {
        tracing::warn!(error = %e, "database unavailable");
        Status::unavailable("control is temporarily unavailable; retry")
    } else {
        tracing::error!(error = %e, "database error");
        Status::internal("internal error")
    }
}

impl From<ControlError> for Status {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::NotFound(what) => Status::not_found(format!("{what} not found")),
            ControlError::Invalid { field, message } => invalid(&field, &message),
            ControlError::Precondition(m) => Status::failed_precondition(m),
            ControlError::Denied(m) => Status::permission_denied(m),
            ControlError::Calendar(m) => Status::failed_precondition(format!("calendar: {m}")),
            ControlError::Db(e) => db_status(e),
        }
    }
}

fn appeal_id(field: &str, s: &str) -> Result<Uuid, Status> {
    if s.trim().is_empty() {
        return Err(invalid(field, "required"));
    }
    Uuid::parse_str(s.trim()).map_err(|_| invalid(field, "not a UUID"))
}

fn date_field(field: &str, s: &str) -> Result<Option<NaiveDate>, Status> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    match parse_date(s) {
        Some(d) if deadline::plausible(d) => Ok(Some(d)),
        Some(_) => Err(invalid(field, "date out of range 2000..2100")),
        None => Err(invalid(field, "expected an ISO date YYYY-MM-DD")),
    }
}

fn required_date(field: &str, s: &str) -> Result<NaiveDate, Status> {
    date_field(field, s)?.ok_or_else(|| invalid(field, "required"))
}

fn date_str(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// Executors see only appeals their body leads or co-executes.
fn may_see(c: &Caller, a: &AppealRow) -> bool {
    match c.role {
        Role::Executor => {
            let body = c.body.as_deref().unwrap_or("");
            a.lead_body.as_deref() == Some(body) || a.co_bodies.iter().any(|b| b == body)
        }
        _ => true,
    }
}

fn denied_other_body() -> Status {
    Status::permission_denied("this appeal is not assigned to your body")
}

impl ControlApi {
    fn assignment(&self, a: &AppealRow, answer: Option<pb::Answer>) -> pb::Assignment {
        let cal = self.control.cal();
        let today = self.control.today();
        pb::Assignment {
            appeal_id: a.appeal_id.to_string(),
            registration_number: a.registration_number.clone(),
            status: a.status.clone(),
            lead_executor: a.lead_body.clone().unwrap_or_default(),
            co_executors: a.co_bodies.clone(),
            due_date: date_str(a.due_date),
            // Past due counts even if the escalation job has not run yet.
            overdue: a.overdue
                || (a.closed_at.is_none()
                    && a.status != "redirected"
                    && a.due_date.is_some_and(|due| today > due)),
            extended: a.extensions > 0,
            kind: a.kind.clone(),
            language: a.language.clone(),
            registered_on: date_str(a.registered_on),
            working_days: a.working_days.unwrap_or(0).max(0) as u32,
            akim_control: a.akim_control,
            rework_count: a.rework_count.max(0) as u32,
            working_days_left: a
                .due_date
                .filter(|_| a.closed_at.is_none())
                .map(|due| deadline::working_days_left(&cal, today, due) as i32)
                .unwrap_or(0),
            assigned_at: a.assigned_at.map(timestamp),
            closed_at: a.closed_at.map(timestamp),
            answer,
            redirected_to: a.redirected_to.clone().unwrap_or_default(),
            initial_due_date: date_str(a.initial_due_date),
        }
    }

    /// The assignment with its answer, named for the audit log.
    async fn answered(&self, a: &AppealRow) -> Result<Response<pb::Assignment>, Status> {
        let response = Response::new(self.with_answer(a).await?);
        Ok(audit_log::about_appeals(
            response,
            [(a.appeal_id, &a.registration_number)],
        ))
    }

    async fn with_answer(&self, a: &AppealRow) -> Result<pb::Assignment, Status> {
        let mut conn = self.control.pool.acquire().await.map_err(db_status)?;
        let answer = storage::latest_answer(&mut conn, a.appeal_id)
            .await
            .map_err(db_status)?;
        drop(conn);
        let answer = match answer {
            Some(x) => {
                let files = storage::attachments_of(&self.control.pool, x.id)
                    .await
                    .map_err(db_status)?;
                Some(pb::Answer {
                    version: x.version.max(0) as u32,
                    text: x.text,
                    measures_taken: x.measures_taken,
                    author: x.author,
                    body: x.body,
                    submitted_at: Some(timestamp(x.submitted_at)),
                    attachments: files
                        .into_iter()
                        .map(|f| pb::AttachmentInfo {
                            name: f.name,
                            media_type: f.media_type,
                            size_bytes: f.size_bytes.max(0) as u64,
                            sha256: f.sha256,
                        })
                        .collect(),
                    review: x.review,
                    remarks: x.remarks,
                    reviewed_by: x.reviewed_by.unwrap_or_default(),
                })
            }
            None => None,
        };
        Ok(self.assignment(a, answer))
    }

    async fn load_visible(&self, c: &Caller, id: Uuid) -> Result<AppealRow, Status> {
        let a = storage::get(&self.control.pool, id)
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found(format!("appeal {id} not found")))?;
        if !may_see(c, &a) {
            return Err(denied_other_body());
        }
        Ok(a)
    }

    fn calendar_year(&self, cal: &Calendar, year: i32) -> pb::CalendarYear {
        let covered = cal.years().any(|y| y == year);
        let holidays = cal
            .holidays_in(year)
            .into_iter()
            .map(|h| pb::Holiday {
                date: h.date.to_string(),
                name_kk: h.name.kk,
                name_ru: h.name.ru,
                name_en: h.name.en,
                religious: h.religious,
                provisional: h.provisional,
                note: h.note.unwrap_or_default(),
            })
            .collect();
        let transfers = cal
            .transfers_in(year)
            .into_iter()
            .map(|t| pb::Transfer {
                day_off: t.day_off.to_string(),
                working_day: t.working_day.to_string(),
                decree: t.decree,
            })
            .collect();
        let special_days = cal
            .special_days_in(year)
            .into_iter()
            .map(|(date, kind)| {
                let (name, description) = match &kind {
                    DayKind::Holiday { name, religious } => (
                        "holiday",
                        format!(
                            "{}{}",
                            name.en,
                            if *religious { " (religious)" } else { "" }
                        ),
                    ),
                    DayKind::MovedDayOff { holiday, name } => (
                        "moved_day_off",
                        format!("day off for {} ({holiday})", name.en),
                    ),
                    DayKind::TransferredDayOff {
                        working_day,
                        decree,
                    } => (
                        "transferred_day_off",
                        format!("worked on {working_day} instead; {decree}"),
                    ),
                    DayKind::TransferredWorkingDay { day_off, decree } => (
                        "transferred_working_day",
                        format!("instead of {day_off}; {decree}"),
                    ),
                    DayKind::Working => ("working", String::new()),
                    DayKind::Weekend => ("weekend", String::new()),
                };
                pb::SpecialDay {
                    date: date.to_string(),
                    kind: name.into(),
                    working: kind.is_working(),
                    description,
                }
            })
            .collect();
        let working_days = match (
            NaiveDate::from_ymd_opt(year - 1, 12, 31),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) {
            (Some(a), Some(b)) if covered => cal.working_days_between(a, b).max(0) as u32,
            _ => 0,
        };
        pb::CalendarYear {
            year,
            covered,
            holidays,
            transfers,
            special_days,
            working_days,
            covered_years: cal.years().collect(),
        }
    }

    /// Runs a calendar edit in one transaction with its change-log entry; the in-memory
    /// calendar is replaced only after the commit.
    async fn edit_calendar<F>(
        &self,
        c: &Caller,
        year: i32,
        action: &str,
        detail: String,
        reason: &str,
        edit: F,
    ) -> Result<pb::CalendarYear, Status>
    where
        F: for<'c> FnOnce(
            &'c mut sqlx::PgConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<(), Status>> + Send + 'c>,
        >,
    {
        c.require(
            &[Role::Controller, Role::Head, Role::System],
            "edit the calendar",
        )?;
        let now = self.control.now();
        let mut tx = self.control.pool.begin().await.map_err(db_status)?;
        edit(&mut tx).await?;
        let (version, cal) =
            calendar_store::finish_edit(&mut tx, now, &c.subject, action, &detail, reason)
                .await
                .map_err(|e| match e {
                    calendar_store::CalendarStoreError::Db(e) => db_status(e),
                    calendar_store::CalendarStoreError::Invalid(e) => invalid(
                        "calendar",
                        &format!("the edit makes the calendar invalid: {e}"),
                    ),
                })?;
        tx.commit().await.map_err(db_status)?;
        tracing::info!(action, version, user = %c.subject, "calendar edited");
        let out = self.calendar_year(&cal, year);
        self.control.calendar.replace(version, cal);
        Ok(out)
    }
}

fn policy_to_pb(p: &Policy, at: DateTime<Utc>, by: &str) -> pb::Policy {
    pb::Policy {
        days_per_kind: p
            .days_per_kind
            .iter()
            .map(|(k, d)| pb::KindDays {
                kind: k.clone(),
                working_days: *d,
            })
            .collect(),
        default_working_days: p.default_working_days,
        max_total_months: p.max_total_months,
        max_extensions: p.max_extensions,
        extension_notice_working_days: p.extension_notice_working_days,
        redirect_notice_working_days: p.redirect_notice_working_days,
        reminder_working_days: p.reminder_working_days.clone(),
        rework_working_days: p.rework_working_days,
        forwarding_working_days: p.forwarding_working_days,
        updated_at: Some(timestamp(at)),
        updated_by: by.to_owned(),
    }
}

fn page_size(n: u32) -> i64 {
    match n {
        0 => 50,
        n => i64::from(n.min(500)),
    }
}

#[tonic::async_trait]
impl pb::control_service_server::ControlService for ControlApi {
    async fn get_assignment(
        &self,
        request: Request<pb::GetAssignmentRequest>,
    ) -> Result<Response<pb::Assignment>, Status> {
        let c = caller(&request)?;
        let req = request.into_inner();
        let a = if !req.appeal_id.trim().is_empty() {
            self.load_visible(&c, appeal_id("appeal_id", &req.appeal_id)?)
                .await?
        } else if !req.registration_number.trim().is_empty() {
            let a = storage::find_by_number(&self.control.pool, req.registration_number.trim())
                .await
                .map_err(db_status)?
                .ok_or_else(|| Status::not_found("no appeal with that registration number"))?;
            if !may_see(&c, &a) {
                return Err(denied_other_body());
            }
            a
        } else {
            return Err(invalid(
                "appeal_id",
                "appeal_id or registration_number is required",
            ));
        };
        self.answered(&a).await
    }

    async fn list_due(
        &self,
        request: Request<pb::ListDueRequest>,
    ) -> Result<Response<pb::ListAssignmentsResponse>, Status> {
        let c = caller(&request)?;
        let req = request.into_inner();
        let body = match (c.role, req.body.trim()) {
            (Role::Executor, "") => c.body.clone(),
            (Role::Executor, b) if Some(b) != c.body.as_deref() => {
                return Err(Status::permission_denied(
                    "an executor lists only its own body's assignments",
                ));
            }
            (_, "") => None,
            (_, b) => Some(b.to_owned()),
        };
        let after = if req.page_token.is_empty() {
            None
        } else {
            let (d, id) = req
                .page_token
                .split_once('_')
                .ok_or_else(|| invalid("page_token", "malformed"))?;
            Some((
                parse_date(d).ok_or_else(|| invalid("page_token", "malformed"))?,
                Uuid::parse_str(id).map_err(|_| invalid("page_token", "malformed"))?,
            ))
        };
        let limit = page_size(req.page_size);
        let rows = storage::list_due(
            &self.control.pool,
            &DueFilter {
                body,
                due_before: date_field("due_before", &req.due_before)?,
                overdue_only: req.overdue_only,
                today: self.control.today(),
                after,
                limit: limit + 1,
            },
        )
        .await
        .map_err(db_status)?;
        let more = rows.len() as i64 > limit;
        let rows = &rows[..rows.len().min(limit as usize)];
        let next_page_token = match (more, rows.last()) {
            (true, Some(last)) => format!("{}_{}", date_str(last.due_date), last.appeal_id),
            _ => String::new(),
        };
        let response = Response::new(pb::ListAssignmentsResponse {
            assignments: rows.iter().map(|a| self.assignment(a, None)).collect(),
            next_page_token,
        });
        Ok(audit_log::about_appeals(
            response,
            rows.iter().map(|a| (a.appeal_id, &a.registration_number)),
        ))
    }

    async fn submit_answer(
        &self,
        request: Request<pb::SubmitAnswerRequest>,
    ) -> Result<Response<pb::Assignment>, Status> {
        let c = caller(&request)?;
        if c.role != Role::Executor {
            return Err(Status::permission_denied(
                "only the lead executor's body submits answers",
            ));
        }
        let req = request.into_inner();
        let id = appeal_id("appeal_id", &req.appeal_id)?;
        let files = req
            .attachments
            .into_iter()
            .map(|a| (a.name, a.media_type, a.content))
            .collect();
        let a = self
            .control
            .submit_answer(
                id,
                &c.subject,
                c.body.as_deref().unwrap_or(""),
                &req.text,
                &req.measures_taken,
                files,
            )
            .await?;
        tracing::info!(appeal_id = %id, registration_number = %a.registration_number, "answer submitted");
        self.answered(&a).await
    }

    async fn review_answer(
        &self,
        request: Request<pb::ReviewAnswerRequest>,
    ) -> Result<Response<pb::Assignment>, Status> {
        let c = caller(&request)?;
        c.require(&[Role::Controller, Role::Head], "review answers")?;
        let req = request.into_inner();
        let id = appeal_id("appeal_id", &req.appeal_id)?;
        let new_due = date_field("new_due_date", &req.new_due_date)?;
        let a = self
            .control
            .review(id, &c.subject, req.accept, &req.remarks, new_due)
            .await?;
        tracing::info!(appeal_id = %id, accept = req.accept, status = %a.status, "answer reviewed");
        self.answered(&a).await
    }

    async fn sign_off(
        &self,
        request: Request<pb::SignOffRequest>,
    ) -> Result<Response<pb::Assignment>, Status> {
        let c = caller(&request)?;
        c.require(&[Role::Head], "sign off answers")?;
        let req = request.into_inner();
        let id = appeal_id("appeal_id", &req.appeal_id)?;
        let new_due = date_field("new_due_date", &req.new_due_date)?;
        let a = self
            .control
            .sign_off(id, &c.subject, req.approve, &req.remarks, new_due)
            .await?;
        self.answered(&a).await
    }

    async fn set_akim_control(
        &self,
        request: Request<pb::SetAkimControlRequest>,
    ) -> Result<Response<pb::Assignment>, Status> {
        let c = caller(&request)?;
        c.require(
            &[Role::Head, Role::Controller],
            "place appeals under the akim's control",
        )?;
        let req = request.into_inner();
        let id = appeal_id("appeal_id", &req.appeal_id)?;
        let a = self
            .control
            .set_akim_control(id, &c.subject, req.under_control, &req.note)
            .await?;
        self.answered(&a).await
    }

    async fn extend_deadline(
        &self,
        request: Request<pb::ExtendDeadlineRequest>,
    ) -> Result<Response<pb::Assignment>, Status> {
        let c = caller(&request)?;
        c.require(
            &[Role::Head],
            "extend deadlines (a head's reasoned decision)",
        )?;
        let req = request.into_inner();
        let id = appeal_id("appeal_id", &req.appeal_id)?;
        let new_due = required_date("new_due_date", &req.new_due_date)?;
        if req.reason.trim().is_empty() {
            return Err(invalid("reason", "an extension needs a reasoned decision"));
        }
        let a = self
            .control
            .extend(id, &c.subject, new_due, &req.reason, &req.decided_by)
            .await?;
        tracing::info!(appeal_id = %id, due = %new_due, "deadline extended");
        self.answered(&a).await
    }

    async fn get_timeline(
        &self,
        request: Request<pb::GetTimelineRequest>,
    ) -> Result<Response<pb::Timeline>, Status> {
        let c = caller(&request)?;
        let id = appeal_id("appeal_id", &request.get_ref().appeal_id)?;
        let a = self.load_visible(&c, id).await?;
        let rows = storage::timeline(&self.control.pool, id)
            .await
            .map_err(db_status)?;
        let key = [(a.appeal_id, a.registration_number.clone())];
        let response = Response::new(pb::Timeline {
            appeal_id: id.to_string(),
            registration_number: a.registration_number,
            entries: rows
                .into_iter()
                .map(|r| pb::TimelineEntry {
                    at: Some(timestamp(r.at)),
                    actor: r.actor,
                    action: r.action,
                    note: r.note,
                })
                .collect(),
        });
        Ok(audit_log::about_appeals(response, key))
    }

    async fn list_letters(
        &self,
        request: Request<pb::ListLettersRequest>,
    ) -> Result<Response<pb::ListLettersResponse>, Status> {
        let c = caller(&request)?;
        let req = request.into_inner();
        let appeal = if req.appeal_id.trim().is_empty() {
            if c.role == Role::Executor {
                return Err(Status::permission_denied(
                    "an executor lists letters of one of its appeals: give appeal_id",
                ));
            }
            None
        } else {
            let id = appeal_id("appeal_id", &req.appeal_id)?;
            self.load_visible(&c, id).await?;
            Some(id)
        };
        let before = if req.page_token.is_empty() {
            None
        } else {
            let (t, id) = req
                .page_token
                .split_once('_')
                .ok_or_else(|| invalid("page_token", "malformed"))?;
            Some((
                DateTime::parse_from_rfc3339(t)
                    .map_err(|_| invalid("page_token", "malformed"))?
                    .with_timezone(&Utc),
                Uuid::parse_str(id).map_err(|_| invalid("page_token", "malformed"))?,
            ))
        };
        let limit = page_size(req.page_size);
        let rows = storage::list_letters(
            &self.control.pool,
            &LetterFilter {
                appeal,
                kind: Some(req.kind.trim().to_owned()).filter(|k| !k.is_empty()),
                delivery: Some(req.delivery.trim().to_owned()).filter(|k| !k.is_empty()),
                before,
                limit: limit + 1,
            },
        )
        .await
        .map_err(db_status)?;
        let more = rows.len() as i64 > limit;
        let rows: Vec<_> = rows.into_iter().take(limit as usize).collect();
        let next_page_token = match (more, rows.last()) {
            (true, Some(l)) => format!(
                "{}_{}",
                l.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                l.id
            ),
            _ => String::new(),
        };
        let ids: Vec<String> = rows
            .iter()
            .flat_map(|l| [l.id.to_string(), l.appeal_id.to_string()])
            .collect();
        let response = Response::new(pb::ListLettersResponse {
            letters: rows.into_iter().map(letter_pb).collect(),
            next_page_token,
        });
        Ok(audit_log::about(response, "letter", ids))
    }

    async fn get_letter(
        &self,
        request: Request<pb::GetLetterRequest>,
    ) -> Result<Response<pb::Letter>, Status> {
        let c = caller(&request)?;
        let id = appeal_id("id", &request.get_ref().id)?;
        let l = storage::get_letter(&self.control.pool, id)
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("no such letter"))?;
        self.load_visible(&c, l.appeal_id).await?;
        let ids = [l.id.to_string(), l.appeal_id.to_string()];
        Ok(audit_log::about(Response::new(letter_pb(l)), "letter", ids))
    }

    async fn get_calendar(
        &self,
        request: Request<pb::GetCalendarRequest>,
    ) -> Result<Response<pb::CalendarYear>, Status> {
        caller(&request)?;
        let year = match request.get_ref().year {
            0 => self.control.today().year(),
            y if (2000..=2100).contains(&y) => y,
            _ => return Err(invalid("year", "must be 2000..2100")),
        };
        Ok(Response::new(self.calendar_year(&self.control.cal(), year)))
    }

    async fn add_holiday(
        &self,
        request: Request<pb::AddHolidayRequest>,
    ) -> Result<Response<pb::CalendarYear>, Status> {
        let c = caller(&request)?;
        c.require(CALENDAR_EDITORS, "edit the calendar")?;
        let req = request.into_inner();
        let h = req.holiday.ok_or_else(|| invalid("holiday", "required"))?;
        let date = required_date("holiday.date", &h.date)?;
        for (field, v) in [
            ("holiday.name_kk", &h.name_kk),
            ("holiday.name_ru", &h.name_ru),
            ("holiday.name_en", &h.name_en),
        ] {
            if v.trim().is_empty() {
                return Err(invalid(field, "required"));
            }
        }
        let row = HolidayRow {
            date,
            name_kk: h.name_kk.trim().to_owned(),
            name_ru: h.name_ru.trim().to_owned(),
            name_en: h.name_en.trim().to_owned(),
            religious: h.religious,
            provisional: h.provisional,
            note: Some(h.note.trim().to_owned()).filter(|n| !n.is_empty()),
        };
        let detail = format!("{date} {}", row.name_en);
        let out = self
            .edit_calendar(
                &c,
                date.year(),
                "add_holiday",
                detail,
                &req.reason,
                move |tx| {
                    Box::pin(async move {
                        calendar_store::insert_holiday(tx, &row)
                            .await
                            .map_err(db_status)
                    })
                },
            )
            .await?;
        Ok(Response::new(out))
    }

    async fn remove_holiday(
        &self,
        request: Request<pb::RemoveHolidayRequest>,
    ) -> Result<Response<pb::CalendarYear>, Status> {
        let c = caller(&request)?;
        c.require(CALENDAR_EDITORS, "edit the calendar")?;
        let req = request.into_inner();
        let date = required_date("date", &req.date)?;
        let out = self
            .edit_calendar(
                &c,
                date.year(),
                "remove_holiday",
                date.to_string(),
                &req.reason,
                move |tx| {
                    Box::pin(async move {
                        if calendar_store::delete_holiday(tx, date)
                            .await
                            .map_err(db_status)?
                        {
                            Ok(())
                        } else {
                            Err(Status::not_found(format!("no holiday on {date}")))
                        }
                    })
                },
            )
            .await?;
        Ok(Response::new(out))
    }

    async fn add_transfer(
        &self,
        request: Request<pb::AddTransferRequest>,
    ) -> Result<Response<pb::CalendarYear>, Status> {
        let c = caller(&request)?;
        c.require(CALENDAR_EDITORS, "edit the calendar")?;
        let req = request.into_inner();
        let t = req
            .transfer
            .ok_or_else(|| invalid("transfer", "required"))?;
        let row = TransferRow {
            day_off: required_date("transfer.day_off", &t.day_off)?,
            working_day: required_date("transfer.working_day", &t.working_day)?,
            decree: t.decree.trim().to_owned(),
        };
        if row.decree.is_empty() {
            return Err(invalid("transfer.decree", "cite the decree"));
        }
        let detail = format!(
            "{} off, {} worked ({})",
            row.day_off, row.working_day, row.decree
        );
        let year = row.day_off.year();
        let out = self
            .edit_calendar(&c, year, "add_transfer", detail, &req.reason, move |tx| {
                Box::pin(async move {
                    calendar_store::insert_transfer(tx, &row)
                        .await
                        .map_err(db_status)
                })
            })
            .await?;
        Ok(Response::new(out))
    }

    async fn remove_transfer(
        &self,
        request: Request<pb::RemoveTransferRequest>,
    ) -> Result<Response<pb::CalendarYear>, Status> {
        let c = caller(&request)?;
        c.require(CALENDAR_EDITORS, "edit the calendar")?;
        let req = request.into_inner();
        let day_off = required_date("day_off", &req.day_off)?;
        let out = self
            .edit_calendar(
                &c,
                day_off.year(),
                "remove_transfer",
                day_off.to_string(),
                &req.reason,
                move |tx| {
                    Box::pin(async move {
                        if calendar_store::delete_transfer(tx, day_off)
                            .await
                            .map_err(db_status)?
                        {
                            Ok(())
                        } else {
                            Err(Status::not_found(format!("no transfer of {day_off}")))
                        }
                    })
                },
            )
            .await?;
        Ok(Response::new(out))
    }

    async fn compute_deadline(
        &self,
        request: Request<pb::ComputeDeadlineRequest>,
    ) -> Result<Response<pb::ComputeDeadlineResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let from = required_date("from", &req.from)?;
        let cal = self.control.cal();
        if req.working_days > 366 {
            return Err(invalid("working_days", "at most 366"));
        }
        let deadline = cal
            .add_working_days(from, req.working_days)
            .map_err(|e| Status::failed_precondition(format!("calendar: {e}")))?;
        let between = match date_field("to", &req.to)? {
            Some(to) => cal
                .try_working_days_between(from, to)
                .map_err(|e| Status::failed_precondition(format!("calendar: {e}")))?,
            None => 0,
        };
        Ok(Response::new(pb::ComputeDeadlineResponse {
            deadline: deadline.to_string(),
            working_days_between: between,
        }))
    }

    async fn list_calendar_changes(
        &self,
        request: Request<pb::ListCalendarChangesRequest>,
    ) -> Result<Response<pb::ListCalendarChangesResponse>, Status> {
        caller(&request)?;
        let limit = page_size(request.get_ref().limit);
        let rows = storage::changes(&self.control.pool, limit)
            .await
            .map_err(db_status)?;
        Ok(Response::new(pb::ListCalendarChangesResponse {
            changes: rows
                .into_iter()
                .map(|r| pb::CalendarChange {
                    at: Some(timestamp(r.at)),
                    actor: r.actor,
                    action: format!("{}.{}", r.target, r.action),
                    detail: r.detail,
                    reason: r.reason,
                })
                .collect(),
        }))
    }

    async fn get_policy(
        &self,
        request: Request<pb::GetPolicyRequest>,
    ) -> Result<Response<pb::Policy>, Status> {
        caller(&request)?;
        let mut conn = self.control.pool.acquire().await.map_err(db_status)?;
        let p = storage::policy(&mut conn, &self.control.settings.policy)
            .await
            .map_err(db_status)?;
        Ok(Response::new(policy_to_pb(
            &p.policy,
            p.updated_at,
            &p.updated_by,
        )))
    }

    async fn update_policy(
        &self,
        request: Request<pb::UpdatePolicyRequest>,
    ) -> Result<Response<pb::Policy>, Status> {
        let c = caller(&request)?;
        c.require(&[Role::Head, Role::System], "change the deadline policy")?;
        let req = request.into_inner();
        let p = req.policy.ok_or_else(|| invalid("policy", "required"))?;
        if req.reason.trim().is_empty() {
            return Err(invalid("reason", "say why the policy changes"));
        }
        let mut days_per_kind = BTreeMap::new();
        for k in &p.days_per_kind {
            days_per_kind.insert(k.kind.clone(), k.working_days);
        }
        let policy = Policy {
            days_per_kind,
            default_working_days: p.default_working_days,
            max_total_months: p.max_total_months,
            max_extensions: p.max_extensions,
            extension_notice_working_days: p.extension_notice_working_days,
            redirect_notice_working_days: p.redirect_notice_working_days,
            reminder_working_days: p.reminder_working_days,
            rework_working_days: p.rework_working_days,
            forwarding_working_days: p.forwarding_working_days,
        };
        policy
            .validate()
            .map_err(|e| invalid(&format!("policy.{}", e.field), &e.message))?;
        let now = self.control.now();
        let mut tx = self.control.pool.begin().await.map_err(db_status)?;
        let old = storage::policy(&mut tx, &self.control.settings.policy)
            .await
            .map_err(db_status)?;
        storage::save_policy(&mut tx, &policy, &c.subject, now)
            .await
            .map_err(db_status)?;
        let detail = format!(
            "{} -> {}",
            serde_json::to_string(&old.policy).unwrap_or_default(),
            serde_json::to_string(&policy).unwrap_or_default()
        );
        storage::log_change(
            &mut tx,
            now,
            &c.subject,
            "policy",
            "update",
            &detail,
            &req.reason,
        )
        .await
        .map_err(db_status)?;
        tx.commit().await.map_err(db_status)?;
        Ok(Response::new(policy_to_pb(&policy, now, &c.subject)))
    }

    async fn run_audit(
        &self,
        request: Request<pb::RunAuditRequest>,
    ) -> Result<Response<pb::AuditReport>, Status> {
        let c = caller(&request)?;
        c.require(
            &[
                Role::Controller,
                Role::Head,
                Role::Auditor,
                Role::Analyst,
                Role::System,
            ],
            "run record-keeping audits",
        )?;
        let req = request.into_inner();
        let from = required_date("from", &req.from)?;
        let to = required_date("to", &req.to)?;
        if to < from {
            return Err(invalid("to", "before from"));
        }
        if (to - from).num_days() > 400 {
            return Err(invalid("to", "a period of at most 400 days"));
        }
        let body = Some(req.body.trim()).filter(|b| !b.is_empty());
        let pool = &self.control.pool;
        let rows = storage::for_audit(pool, body, from, to)
            .await
            .map_err(db_status)?;
        let ids: Vec<Uuid> = rows.iter().map(|a| a.appeal_id).collect();
        let letters = storage::letters_of(pool, &ids).await.map_err(db_status)?;
        let mut conn = pool.acquire().await.map_err(db_status)?;
        let policy = storage::policy(&mut conn, &self.control.settings.policy)
            .await
            .map_err(db_status)?
            .policy;
        drop(conn);
        let cal = self.control.cal();
        let today = self.control.today();
        let mut counts: BTreeMap<Check, u32> = Check::ALL.iter().map(|c| (*c, 0)).collect();
        let mut findings = Vec::new();
        for a in &rows {
            let facts = audit_facts(&cal, &policy, a, &letters);
            for f in audit::audit_appeal(&cal, &policy, today, &facts) {
                *counts.entry(f.check).or_default() += 1;
                findings.push(pb::AuditFinding {
                    appeal_id: a.appeal_id.to_string(),
                    registration_number: a.registration_number.clone(),
                    body: a
                        .lead_body
                        .clone()
                        .or_else(|| a.redirected_to.clone())
                        .unwrap_or_default(),
                    check: f.check.as_str().into(),
                    detail: f.detail,
                });
            }
        }
        metrics::counter!("control_audits_total").increment(1);
        Ok(Response::new(pb::AuditReport {
            body: body.unwrap_or_default().to_owned(),
            from: from.to_string(),
            to: to.to_string(),
            appeals_checked: rows.len() as u32,
            counts: counts
                .into_iter()
                .map(|(check, count)| pb::AuditCheckCount {
                    check: check.as_str().into(),
                    count,
                })
                .collect(),
            findings,
            generated_at: Some(timestamp(self.control.now())),
        }))
    }
}

fn letter_pb(l: storage::LetterRow) -> pb::Letter {
    pb::Letter {
        id: l.id.to_string(),
        appeal_id: l.appeal_id.to_string(),
        registration_number: l.registration_number,
        kind: l.kind,
        language: l.language,
        subject: l.subject,
        body: l.body,
        created_at: Some(timestamp(l.created_at)),
        due_by: date_str(l.due_by),
        delivery: l.delivery,
        sent_at: l.sent_at.map(timestamp),
        last_error: l.last_error.unwrap_or_default(),
    }
}

/// What the audit needs of one appeal, from its row and letters.
fn audit_facts(
    cal: &Calendar,
    policy: &Policy,
    a: &AppealRow,
    letters: &[storage::LetterRow],
) -> AppealFacts {
    let forwarded = match (a.routed_at, a.redirected_at) {
        (Some(r), Some(d)) => Some(r.min(d)),
        (r, d) => r.or(d),
    };
    let mut notices = Vec::new();
    let mut owe = |kind: &str, due_by: NaiveDate, since: DateTime<Utc>| {
        let letter = letters
            .iter()
            .filter(|l| {
                l.appeal_id == a.appeal_id
                    && l.kind == kind
                    && l.created_at >= since - chrono::Duration::seconds(1)
            })
            .min_by_key(|l| l.created_at);
        notices.push(Notice {
            kind: kind.to_owned(),
            due_by,
            written_on: letter.map(|l| kz_date(l.created_at)),
            failed: letter.is_some_and(|l| l.delivery == "failed"),
        });
    };
    if let Some(at) = a.redirected_at {
        let due = cal
            .add_working_days_lenient(kz_date(at), policy.redirect_notice_working_days)
            .unwrap_or(kz_date(at));
        owe("redirection", due, at);
    }
    if let Some(at) = a.extended_at {
        let due = cal
            .add_working_days_lenient(kz_date(at), policy.extension_notice_working_days)
            .unwrap_or(kz_date(at));
        owe("extension", due, at);
    }
    if let Some(at) = a.closed_at {
        owe("answer", kz_date(at), at);
    }
    AppealFacts {
        received_on: a.received_at.map(kz_date),
        registered_on: a.registered_on,
        forwarded_on: forwarded.map(kz_date),
        due_date: a
            .due_date
            .filter(|_| a.redirected_at.is_none() || a.lead_body.is_some()),
        closed_on: a.closed_at.map(kz_date),
        rework_count: a.rework_count.max(0) as u32,
        notices,
    }
}
