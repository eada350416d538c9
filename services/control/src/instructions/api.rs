//! gRPC adapter: `bakylau.control.v1.InstructionService`. Reads the caller, validates the
//! request into domain values (INVALID_ARGUMENT naming each field), applies the change in
//! one transaction with the instruction row locked (change + history + outbox row), and
//! maps rule violations to FAILED_PRECONDITION and access to PERMISSION_DENIED.

use std::sync::Arc;

use bakylau_calendar::kz_date;
use bakylau_platform::broker::enqueue;
use bakylau_proto::control::v1 as pb;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use prost::Message as _;
use sqlx::{PgPool, Postgres, Transaction};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::domain::{
    self, CheckStatus, ConclusionOutcome, Deadline, DisciplineMeasure, DisciplineStatus,
    ExtensionError, FieldIssue, Issuer, NewInstructionInput, RuleError,
    Status as InstructionStatus,
};
use super::events::{self, Change};
use super::storage::{
    self, CheckRow, ConclusionRow, DisciplineRow, FullInstruction, InstructionRow, ListFilter,
    ProgressRow,
};
use super::{CalendarSource, InstructionSettings};
use crate::access::{Caller, Role, caller};
use crate::clock::Clock;

/// Who may issue instructions: Department staff, and other services (reception) as `system`.
const ISSUERS: &[Role] = &[Role::Registrar, Role::Controller, Role::Head, Role::System];
/// Who reports progress: the executor bodies, or Department staff entering a paper report.
const REPORTERS: &[Role] = &[
    Role::Executor,
    Role::Registrar,
    Role::Controller,
    Role::Head,
    Role::System,
];
/// Who controls execution: checks, conclusions, discipline, completion (reg 9.3 – 9.7).
const CONTROLLERS: &[Role] = &[Role::Controller, Role::Head];

pub struct InstructionApi {
    pub pool: PgPool,
    pub calendar: CalendarSource,
    pub clock: Arc<dyn Clock>,
    pub settings: InstructionSettings,
}

type Tx = Transaction<'static, Postgres>;

impl InstructionApi {
    /// Resolves and locks the instruction, after checking the caller's role and body.
    async fn begin(
        &self,
        key: &str,
        caller: &Caller,
        roles: &[Role],
        action: &str,
    ) -> Result<(Tx, FullInstruction), Status> {
        caller.require(roles, action)?;
        if key.trim().is_empty() {
            return Err(invalid(vec![FieldIssue::new(
                "instruction_id",
                "required",
                "required: the instruction's id or number",
            )]));
        }
        let mut tx = self.pool.begin().await.map_err(db_status)?;
        let id = storage::resolve(&mut tx, key)
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("no such instruction"))?;
        storage::lock(&mut tx, id).await.map_err(db_status)?;
        let full = storage::load(&mut tx, id)
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("no such instruction"))?;
        check_body(caller, &full.row)?;
        Ok((tx, full))
    }

    /// Writes the history entry and the event, commits and answers with the instruction.
    async fn finish(
        &self,
        mut tx: Tx,
        id: Uuid,
        change: Change<'_>,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<pb::Instruction>, Status> {
        storage::add_history(&mut tx, id, now, change.actor, change.code, note)
            .await
            .map_err(db_status)?;
        let full = storage::load(&mut tx, id)
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("no such instruction"))?;
        let today = kz_date(now);
        enqueue(&mut tx, &events::changed(&full, &change, today, now))
            .await
            .map_err(db_status)?;
        tx.commit().await.map_err(db_status)?;
        tracing::info!(
            instruction_id = %id,
            number = %full.row.number,
            change = change.code,
            "instruction changed"
        );
        Ok(Response::new(message(&full, today)))
    }

    async fn replay(&self, id: Uuid) -> Result<Response<pb::CreateInstructionResponse>, Status> {
        let mut conn = self.pool.acquire().await.map_err(db_status)?;
        let full = storage::load(&mut conn, id)
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("no such instruction"))?;
        Ok(Response::new(pb::CreateInstructionResponse {
            instruction: Some(message(&full, kz_date(self.clock.now()))),
            replayed: true,
        }))
    }
}

#[tonic::async_trait]
impl pb::instruction_service_server::InstructionService for InstructionApi {
    async fn create_instruction(
        &self,
        request: Request<pb::CreateInstructionRequest>,
    ) -> Result<Response<pb::CreateInstructionResponse>, Status> {
        let caller = caller(&request)?;
        caller.require(ISSUERS, "issue instructions")?;
        let req = request.into_inner();
        let request_id = Some(req.request_id.trim().to_owned()).filter(|r| !r.is_empty());
        if request_id.as_ref().is_some_and(|r| r.len() > 200) {
            return Err(invalid(vec![FieldIssue::new(
                "request_id",
                "too_long",
                "at most 200 characters",
            )]));
        }
        let request_bytes = req.encode_to_vec();
        if let Some(rid) = &request_id {
            let mut conn = self.pool.acquire().await.map_err(db_status)?;
            if let Some((id, same)) = storage::by_request_id(&mut conn, rid, &request_bytes)
                .await
                .map_err(db_status)?
            {
                return if same {
                    self.replay(id).await
                } else {
                    Err(reused())
                };
            }
        }
        let now = self.clock.now();
        let today = kz_date(now);
        let input = NewInstructionInput {
            issuer: req.issuer,
            issuer_official: req.issuer_official,
            issuer_reference: req.issuer_reference,
            title: req.title,
            text: req.text,
            lead_executor: req.lead_executor,
            co_executors: req.co_executors,
            appeal_ids: req.appeal_ids,
            due_date: req.due_date,
            working_days: req.working_days,
            source: req.source,
        };
        let new = domain::validate_new(
            &input,
            today,
            &self.calendar.current(),
            self.settings.default_working_days,
        )
        .map_err(invalid)?;
        let id = Uuid::now_v7();
        let mut tx = self.pool.begin().await.map_err(db_status)?;
        let created: Result<(), sqlx::Error> = async {
            let year = today.year();
            let sequence = storage::next_sequence(&mut tx, year).await?;
            storage::insert_instruction(
                &mut tx,
                &storage::NewRow {
                    id,
                    year,
                    sequence,
                    new: &new,
                    issued_at: now,
                    issued_on: today,
                    created_by: &caller.subject,
                    request_id: request_id.as_deref(),
                    request_bytes: &request_bytes,
                },
            )
            .await
        }
        .await;
        match created {
            Ok(()) => {}
            // A concurrent call with the same request_id won: answer with its instruction.
            Err(e) if is_unique_violation(&e) && request_id.is_some() => {
                drop(tx);
                let mut conn = self.pool.acquire().await.map_err(db_status)?;
                let rid = request_id.as_deref().unwrap_or_default();
                return match storage::by_request_id(&mut conn, rid, &request_bytes)
                    .await
                    .map_err(db_status)?
                {
                    Some((id, true)) => self.replay(id).await,
                    Some((_, false)) => Err(reused()),
                    None => Err(db_status(e)),
                };
            }
            Err(e) => return Err(db_status(e)),
        }
        metrics::counter!("bakylau_instructions_issued_total", "issuer" => new.issuer.as_str())
            .increment(1);
        let note = format!(
            "issuer {}, lead {}, due {}",
            new.issuer, new.lead_executor, new.due_date
        );
        let change = Change {
            code: "issued",
            body: &new.lead_executor,
            actor: &caller.subject,
            ..Default::default()
        };
        let response = self.finish(tx, id, change, &note, now).await?;
        Ok(Response::new(pb::CreateInstructionResponse {
            instruction: Some(response.into_inner()),
            replayed: false,
        }))
    }

    async fn get_instruction(
        &self,
        request: Request<pb::GetInstructionRequest>,
    ) -> Result<Response<pb::Instruction>, Status> {
        let caller = caller(&request)?;
        let key = request.into_inner().instruction_id;
        if key.trim().is_empty() {
            return Err(invalid(vec![FieldIssue::new(
                "instruction_id",
                "required",
                "required: the instruction's id or number",
            )]));
        }
        let mut conn = self.pool.acquire().await.map_err(db_status)?;
        let id = storage::resolve(&mut conn, &key)
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("no such instruction"))?;
        let full = storage::load(&mut conn, id)
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("no such instruction"))?;
        check_body(&caller, &full.row)?;
        Ok(Response::new(message(&full, kz_date(self.clock.now()))))
    }

    async fn list_instructions(
        &self,
        request: Request<pb::ListInstructionsRequest>,
    ) -> Result<Response<pb::ListInstructionsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let today = kz_date(self.clock.now());
        let mut issues = Vec::new();
        let limit = match req.page_size {
            0 => 50,
            1..=500 => i64::from(req.page_size),
            _ => {
                issues.push(FieldIssue::new("page_size", "out_of_range", "at most 500"));
                50
            }
        };
        let issuer = Some(req.issuer.trim())
            .filter(|s| !s.is_empty())
            .and_then(|s| {
                domain::code("issuer", s, Issuer::parse, Issuer::choices, &mut issues)
                    .map(|i| i.as_str().to_owned())
            });
        let (status, open_only) = match req.status.trim() {
            "" => (None, false),
            "open" => (None, true),
            s => match InstructionStatus::parse(s) {
                Some(st) => (Some(st.as_str().to_owned()), false),
                None => {
                    issues.push(FieldIssue::new(
                        "status",
                        "invalid",
                        format!("one of open, {}", InstructionStatus::choices()),
                    ));
                    (None, false)
                }
            },
        };
        let mut executor = Some(req.executor.trim().to_owned()).filter(|s| !s.is_empty());
        if let Some(e) = &executor
            && !domain::is_valid_body_code(e)
        {
            issues.push(FieldIssue::new("executor", "invalid", "not a body code"));
        }
        let appeal_id = match req.appeal_id.trim() {
            "" => None,
            s => match Uuid::parse_str(s) {
                Ok(id) => Some(id),
                Err(_) => {
                    issues.push(FieldIssue::new("appeal_id", "invalid", "not a UUID"));
                    None
                }
            },
        };
        let before = match req.page_token.trim() {
            "" => None,
            t => {
                let decoded = decode_token(t);
                if decoded.is_none() {
                    issues.push(FieldIssue::new(
                        "page_token",
                        "invalid",
                        "not a token this service issued",
                    ));
                }
                decoded
            }
        };
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        // An executor lists only its own body's instructions.
        if caller.role == Role::Executor {
            let own = caller.body.clone().unwrap_or_default();
            if executor.as_ref().is_some_and(|e| *e != own) {
                return Err(Status::permission_denied(
                    "an executor lists only its own body's instructions",
                ));
            }
            executor = Some(own);
        }
        let filter = ListFilter {
            issuer,
            status,
            open_only,
            executor,
            overdue_on: req.overdue_only.then_some(today),
            appeal_id,
            before,
            limit: limit + 1,
        };
        let mut rows = storage::list(&self.pool, &filter)
            .await
            .map_err(db_status)?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| encode_token(r.issued_at, r.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListInstructionsResponse {
            instructions: rows.iter().map(|r| summary(r, today)).collect(),
            next_page_token,
        }))
    }

    async fn report_progress(
        &self,
        request: Request<pb::ReportProgressRequest>,
    ) -> Result<Response<pb::Instruction>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut issues = Vec::new();
        let text = domain::text("text", &req.text, true, 10_000, &mut issues);
        let asked_body = req.body.trim().to_owned();
        if caller.role != Role::Executor && asked_body.is_empty() {
            issues.push(FieldIssue::new(
                "body",
                "required",
                "required: the executor body whose report this is",
            ));
        }
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let (mut tx, full) = self
            .begin(
                &req.instruction_id,
                &caller,
                REPORTERS,
                "report progress on instructions",
            )
            .await?;
        let body = if caller.role == Role::Executor {
            let own = caller.body.clone().unwrap_or_default();
            if !asked_body.is_empty() && asked_body != own {
                return Err(Status::permission_denied(
                    "an executor reports only for its own body",
                ));
            }
            own
        } else {
            if !full.row.is_executor(&asked_body) {
                return Err(invalid(vec![FieldIssue::new(
                    "body",
                    "not_an_executor",
                    "is not an executor of this instruction",
                )]));
            }
            asked_body
        };
        let status = domain::after_progress(full.row.status()).map_err(rule_status)?;
        let now = self.clock.now();
        let id = full.row.id;
        if status != full.row.status() {
            storage::set_status(&mut tx, id, status, now)
                .await
                .map_err(db_status)?;
        } else {
            storage::touch(&mut tx, id, now).await.map_err(db_status)?;
        }
        let report = ProgressRow {
            id: Uuid::now_v7(),
            body: body.clone(),
            text,
            reported_by: caller.subject.clone(),
            reported_at: now,
        };
        storage::insert_report(&mut tx, id, &report)
            .await
            .map_err(db_status)?;
        let change = Change {
            code: "progress_reported",
            body: &body,
            actor: &caller.subject,
            ..Default::default()
        };
        self.finish(tx, id, change, &format!("report by {body}"), now)
            .await
    }

    async fn plan_check(
        &self,
        request: Request<pb::PlanCheckRequest>,
    ) -> Result<Response<pb::Instruction>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut issues = Vec::new();
        let planned_on = domain::date("planned_on", &req.planned_on, &mut issues);
        if req.planned_on.trim().is_empty() {
            issues.push(FieldIssue::new(
                "planned_on",
                "required",
                "required: a date",
            ));
        }
        let place = domain::text("place", &req.place, true, 200, &mut issues);
        let purpose = domain::text("purpose", &req.purpose, true, 2_000, &mut issues);
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let planned_on = planned_on.unwrap_or_default();
        let (mut tx, full) = self
            .begin(
                &req.instruction_id,
                &caller,
                CONTROLLERS,
                "plan on-site checks",
            )
            .await?;
        if planned_on < full.row.issued_on {
            return Err(invalid(vec![FieldIssue::new(
                "planned_on",
                "too_early",
                format!("before the instruction was issued ({})", full.row.issued_on),
            )]));
        }
        domain::may_plan_check(full.row.status()).map_err(rule_status)?;
        let now = self.clock.now();
        let check = CheckRow {
            id: Uuid::now_v7(),
            status: CheckStatus::Planned.as_str().into(),
            planned_on,
            place: place.clone(),
            purpose,
            planned_by: caller.subject.clone(),
            done_on: None,
            findings: String::new(),
            recorded_by: String::new(),
        };
        let id = full.row.id;
        storage::insert_check(&mut tx, id, &check, now)
            .await
            .map_err(db_status)?;
        storage::touch(&mut tx, id, now).await.map_err(db_status)?;
        let change = Change {
            code: "check_planned",
            actor: &caller.subject,
            ..Default::default()
        };
        let note = format!("check {} on {planned_on}", check.id);
        self.finish(tx, id, change, &note, now).await
    }

    async fn record_check_result(
        &self,
        request: Request<pb::RecordCheckResultRequest>,
    ) -> Result<Response<pb::Instruction>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut issues = Vec::new();
        let check_id = uuid_field("check_id", &req.check_id, &mut issues);
        let outcome = match CheckStatus::parse(&req.outcome) {
            Some(o @ (CheckStatus::Done | CheckStatus::Cancelled)) => Some(o),
            _ => {
                issues.push(FieldIssue::new(
                    "outcome",
                    if req.outcome.trim().is_empty() {
                        "required"
                    } else {
                        "invalid"
                    },
                    "one of done, cancelled",
                ));
                None
            }
        };
        let findings = domain::text("findings", &req.findings, true, 20_000, &mut issues);
        let today = kz_date(self.clock.now());
        // Bounded below once the instruction is known.
        let done_on =
            domain::past_date("done_on", &req.done_on, today, NaiveDate::MIN, &mut issues);
        let (Some(check_id), Some(outcome)) = (check_id, outcome) else {
            return Err(invalid(issues));
        };
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let (mut tx, full) = self
            .begin(
                &req.instruction_id,
                &caller,
                CONTROLLERS,
                "record on-site checks",
            )
            .await?;
        if done_on < full.row.issued_on {
            return Err(invalid(vec![FieldIssue::new(
                "done_on",
                "too_early",
                format!("before the instruction was issued ({})", full.row.issued_on),
            )]));
        }
        let id = full.row.id;
        let check = storage::lock_check(&mut tx, id, check_id)
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("no such on-site check on this instruction"))?;
        let status = domain::check_result(check.status(), outcome).map_err(rule_status)?;
        let now = self.clock.now();
        storage::record_check(
            &mut tx,
            check_id,
            status,
            done_on,
            &findings,
            &caller.subject,
            now,
        )
        .await
        .map_err(db_status)?;
        storage::touch(&mut tx, id, now).await.map_err(db_status)?;
        let code = match status {
            CheckStatus::Cancelled => "check_cancelled",
            _ => "check_done",
        };
        let change = Change {
            code,
            actor: &caller.subject,
            ..Default::default()
        };
        let note = format!("check {check_id} {status} on {done_on}");
        self.finish(tx, id, change, &note, now).await
    }

    async fn add_conclusion(
        &self,
        request: Request<pb::AddConclusionRequest>,
    ) -> Result<Response<pb::Instruction>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut issues = Vec::new();
        let outcome = domain::code(
            "outcome",
            &req.outcome,
            ConclusionOutcome::parse,
            ConclusionOutcome::choices,
            &mut issues,
        );
        let text = domain::text("text", &req.text, true, 20_000, &mut issues);
        let Some(outcome) = outcome.filter(|_| issues.is_empty()) else {
            return Err(invalid(issues));
        };
        let (mut tx, full) = self
            .begin(
                &req.instruction_id,
                &caller,
                CONTROLLERS,
                "write conclusions",
            )
            .await?;
        let now = self.clock.now();
        let id = full.row.id;
        let conclusion = ConclusionRow {
            id: Uuid::now_v7(),
            outcome: outcome.as_str().into(),
            text,
            author: caller.subject.clone(),
            concluded_at: now,
        };
        storage::insert_conclusion(&mut tx, id, &conclusion)
            .await
            .map_err(db_status)?;
        storage::touch(&mut tx, id, now).await.map_err(db_status)?;
        let change = Change {
            code: "conclusion_added",
            conclusion_outcome: outcome.as_str(),
            actor: &caller.subject,
            ..Default::default()
        };
        self.finish(tx, id, change, &format!("conclusion: {outcome}"), now)
            .await
    }

    async fn propose_discipline(
        &self,
        request: Request<pb::ProposeDisciplineRequest>,
    ) -> Result<Response<pb::Instruction>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut issues = Vec::new();
        let body = domain::body("body", &req.body, &mut issues);
        let official_position = domain::text(
            "official_position",
            &req.official_position,
            true,
            300,
            &mut issues,
        );
        let official_name =
            domain::text("official_name", &req.official_name, false, 300, &mut issues);
        let grounds = domain::text("grounds", &req.grounds, true, 5_000, &mut issues);
        let measure = domain::code(
            "proposed_measure",
            &req.proposed_measure,
            DisciplineMeasure::parse,
            DisciplineMeasure::choices,
            &mut issues,
        );
        let Some(measure) = measure.filter(|_| issues.is_empty()) else {
            return Err(invalid(issues));
        };
        let (mut tx, full) = self
            .begin(
                &req.instruction_id,
                &caller,
                CONTROLLERS,
                "propose disciplinary liability",
            )
            .await?;
        let now = self.clock.now();
        let id = full.row.id;
        let proposal = DisciplineRow {
            id: Uuid::now_v7(),
            body: body.clone(),
            official_position,
            official_name,
            grounds,
            proposed_measure: measure.as_str().into(),
            proposed_on: kz_date(now),
            proposed_by: caller.subject.clone(),
            status: DisciplineStatus::Proposed.as_str().into(),
            decided_on: None,
            decision_note: String::new(),
            decided_by: String::new(),
            applied_measure: String::new(),
            applied_on: None,
            order_reference: String::new(),
        };
        storage::insert_discipline(&mut tx, id, &proposal, now)
            .await
            .map_err(db_status)?;
        storage::touch(&mut tx, id, now).await.map_err(db_status)?;
        let change = Change {
            code: "discipline_proposed",
            body: &body,
            discipline_measure: measure.as_str(),
            actor: &caller.subject,
            ..Default::default()
        };
        let note = format!(
            "proposal {} ({measure}) for an official of {body}",
            proposal.id
        );
        self.finish(tx, id, change, &note, now).await
    }

    async fn record_discipline_decision(
        &self,
        request: Request<pb::RecordDisciplineDecisionRequest>,
    ) -> Result<Response<pb::Instruction>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut issues = Vec::new();
        let proposal_id = uuid_field("proposal_id", &req.proposal_id, &mut issues);
        let decision = match DisciplineStatus::parse(&req.decision) {
            Some(d) if d != DisciplineStatus::Proposed => Some(d),
            _ => {
                issues.push(FieldIssue::new(
                    "decision",
                    if req.decision.trim().is_empty() {
                        "required"
                    } else {
                        "invalid"
                    },
                    "one of accepted, rejected, applied",
                ));
                None
            }
        };
        let today = kz_date(self.clock.now());
        let decided_on = domain::past_date(
            "decided_on",
            &req.decided_on,
            today,
            NaiveDate::MIN,
            &mut issues,
        );
        let rejected = decision == Some(DisciplineStatus::Rejected);
        let applied = decision == Some(DisciplineStatus::Applied);
        let note = domain::text("note", &req.note, rejected, 5_000, &mut issues);
        let applied_measure = match req.applied_measure.trim() {
            "" => None,
            m => domain::code(
                "applied_measure",
                m,
                DisciplineMeasure::parse,
                DisciplineMeasure::choices,
                &mut issues,
            ),
        };
        let order_reference = domain::text(
            "order_reference",
            &req.order_reference,
            applied,
            200,
            &mut issues,
        );
        let (Some(proposal_id), Some(decision)) = (proposal_id, decision) else {
            return Err(invalid(issues));
        };
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let (mut tx, full) = self
            .begin(
                &req.instruction_id,
                &caller,
                CONTROLLERS,
                "record disciplinary decisions",
            )
            .await?;
        let id = full.row.id;
        let mut proposal = storage::lock_discipline(&mut tx, id, proposal_id)
            .await
            .map_err(db_status)?
            .ok_or_else(|| {
                Status::not_found("no such disciplinary proposal on this instruction")
            })?;
        let status =
            domain::discipline_transition(proposal.status(), decision).map_err(rule_status)?;
        let earliest = proposal.decided_on.unwrap_or(proposal.proposed_on);
        if decided_on < earliest {
            return Err(invalid(vec![FieldIssue::new(
                "decided_on",
                "too_early",
                format!("before {earliest}"),
            )]));
        }
        proposal.status = status.as_str().into();
        if status == DisciplineStatus::Applied {
            proposal.applied_on = Some(decided_on);
            proposal.applied_measure = applied_measure
                .map(|m| m.as_str().to_owned())
                .unwrap_or_else(|| proposal.proposed_measure.clone());
            proposal.order_reference = order_reference;
        } else {
            proposal.decided_on = Some(decided_on);
            proposal.decision_note = note;
            proposal.decided_by = caller.subject.clone();
        }
        let now = self.clock.now();
        storage::update_discipline(&mut tx, &proposal)
            .await
            .map_err(db_status)?;
        storage::touch(&mut tx, id, now).await.map_err(db_status)?;
        let code = match status {
            DisciplineStatus::Accepted => "discipline_accepted",
            DisciplineStatus::Rejected => "discipline_rejected",
            _ => "discipline_applied",
        };
        let measure = if status == DisciplineStatus::Applied {
            proposal.applied_measure.clone()
        } else {
            proposal.proposed_measure.clone()
        };
        let change = Change {
            code,
            body: &proposal.body,
            discipline_measure: &measure,
            actor: &caller.subject,
            ..Default::default()
        };
        let note = format!("proposal {proposal_id} {status} on {decided_on}");
        self.finish(tx, id, change, &note, now).await
    }

    async fn extend_instruction_deadline(
        &self,
        request: Request<pb::ExtendInstructionDeadlineRequest>,
    ) -> Result<Response<pb::Instruction>, Status> {
        self.extend(request).await
    }

    async fn complete_instruction(
        &self,
        request: Request<pb::CompleteInstructionRequest>,
    ) -> Result<Response<pb::Instruction>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut issues = Vec::new();
        let note = domain::text("note", &req.note, true, 10_000, &mut issues);
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let (mut tx, full) = self
            .begin(
                &req.instruction_id,
                &caller,
                CONTROLLERS,
                "complete instructions",
            )
            .await?;
        domain::may_complete(full.row.status(), full.planned_checks()).map_err(rule_status)?;
        let now = self.clock.now();
        let today = kz_date(now);
        let id = full.row.id;
        storage::complete(&mut tx, id, now, today, &note)
            .await
            .map_err(db_status)?;
        let late = domain::completed_late(full.row.due_date, today);
        metrics::counter!("bakylau_instructions_completed_total", "late" => late.to_string())
            .increment(1);
        let change = Change {
            code: "completed",
            body: &full.row.lead_executor,
            actor: &caller.subject,
            ..Default::default()
        };
        let history = if late {
            format!("completed after the due date {}", full.row.due_date)
        } else {
            "completed in time".to_owned()
        };
        self.finish(tx, id, change, &history, now).await
    }
}

impl InstructionApi {
    async fn extend(
        &self,
        request: Request<pb::ExtendInstructionDeadlineRequest>,
    ) -> Result<Response<pb::Instruction>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let mut issues = Vec::new();
        let reason = domain::text("reason", &req.reason, true, 5_000, &mut issues);
        let date = domain::date("due_date", &req.due_date, &mut issues);
        let deadline = match (date, req.working_days) {
            (Some(_), n) if n > 0 => {
                issues.push(FieldIssue::new(
                    "working_days",
                    "conflict",
                    "give either due_date or working_days, not both",
                ));
                None
            }
            (Some(d), _) => Some(Deadline::Date(d)),
            (None, 0) if req.due_date.trim().is_empty() => {
                issues.push(FieldIssue::new(
                    "due_date",
                    "required",
                    "required: the new due date, or working_days",
                ));
                None
            }
            (None, 0) => None,
            (None, n) => Some(Deadline::WorkingDays(n)),
        };
        let Some(deadline) = deadline.filter(|_| issues.is_empty()) else {
            return Err(invalid(issues));
        };
        let (mut tx, full) = self
            .begin(
                &req.instruction_id,
                &caller,
                CONTROLLERS,
                "extend instruction deadlines",
            )
            .await?;
        let now = self.clock.now();
        let row = &full.row;
        let (due, days) = domain::extended_due(
            &self.calendar.current(),
            row.status(),
            row.due_date,
            kz_date(now),
            deadline,
        )
        .map_err(|e| match e {
            ExtensionError::Rule(r) => rule_status(r),
            ExtensionError::Invalid(i) => invalid(vec![i]),
        })?;
        storage::extend(&mut tx, row.id, due, days, now)
            .await
            .map_err(db_status)?;
        let note = format!("due {} -> {due}: {reason}", row.due_date);
        let change = Change {
            code: "deadline_extended",
            body: &row.lead_executor,
            actor: &caller.subject,
            ..Default::default()
        };
        self.finish(tx, row.id, change, &note, now).await
    }
}

/// An executor acts only on instructions its body executes.
fn check_body(caller: &Caller, row: &InstructionRow) -> Result<(), Status> {
    if caller.role == Role::Executor && !caller.body.as_deref().is_some_and(|b| row.is_executor(b))
    {
        return Err(Status::permission_denied(
            "your body is not an executor of this instruction",
        ));
    }
    Ok(())
}

fn uuid_field(field: &str, value: &str, issues: &mut Vec<FieldIssue>) -> Option<Uuid> {
    let parsed = Uuid::parse_str(value.trim()).ok();
    if parsed.is_none() {
        let code = if value.trim().is_empty() {
            "required"
        } else {
            "invalid"
        };
        issues.push(FieldIssue::new(field, code, "not an id (UUID)"));
    }
    parsed
}

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    events::timestamp(t)
}

fn date_text(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// The instruction without its children, as listings carry it.
pub fn summary(r: &InstructionRow, today: NaiveDate) -> pb::Instruction {
    pb::Instruction {
        id: r.id.to_string(),
        number: r.number.clone(),
        issuer: r.issuer.clone(),
        issuer_official: r.issuer_official.clone(),
        issuer_reference: r.issuer_reference.clone(),
        title: r.title.clone(),
        text: r.text.clone(),
        lead_executor: r.lead_executor.clone(),
        co_executors: r.co_executors.clone(),
        appeal_ids: r.appeal_ids.iter().map(ToString::to_string).collect(),
        status: r.status.clone(),
        issued_at: Some(ts(r.issued_at)),
        due_date: r.due_date.to_string(),
        working_days: r.working_days.unwrap_or_default().max(0) as u32,
        overdue: domain::is_overdue(r.status(), r.due_date, today),
        escalated: r.escalated_for == Some(r.due_date),
        completed_at: r.completed_at.map(ts),
        completed_late: r
            .completed_on
            .is_some_and(|on| domain::completed_late(r.due_date, on)),
        completion_note: r.completion_note.clone(),
        source: r.source.clone(),
        created_by: r.created_by.clone(),
        updated_at: Some(ts(r.updated_at)),
        extensions: r.extensions.max(0) as u32,
        ..Default::default()
    }
}

/// The full instruction.
pub fn message(full: &FullInstruction, today: NaiveDate) -> pb::Instruction {
    let mut m = summary(&full.row, today);
    m.progress_reports = full
        .reports
        .iter()
        .map(|p| pb::InstructionProgressReport {
            id: p.id.to_string(),
            body: p.body.clone(),
            text: p.text.clone(),
            reported_by: p.reported_by.clone(),
            reported_at: Some(ts(p.reported_at)),
        })
        .collect();
    m.checks = full
        .checks
        .iter()
        .map(|c| pb::InstructionCheck {
            id: c.id.to_string(),
            status: c.status.clone(),
            planned_on: c.planned_on.to_string(),
            place: c.place.clone(),
            purpose: c.purpose.clone(),
            planned_by: c.planned_by.clone(),
            done_on: date_text(c.done_on),
            findings: c.findings.clone(),
            recorded_by: c.recorded_by.clone(),
        })
        .collect();
    m.conclusions = full
        .conclusions
        .iter()
        .map(|c| pb::InstructionConclusion {
            id: c.id.to_string(),
            outcome: c.outcome.clone(),
            text: c.text.clone(),
            author: c.author.clone(),
            concluded_at: Some(ts(c.concluded_at)),
        })
        .collect();
    m.disciplinary_proposals = full
        .discipline
        .iter()
        .map(|d| pb::InstructionDisciplinaryProposal {
            id: d.id.to_string(),
            body: d.body.clone(),
            official_position: d.official_position.clone(),
            official_name: d.official_name.clone(),
            grounds: d.grounds.clone(),
            proposed_measure: d.proposed_measure.clone(),
            proposed_on: d.proposed_on.to_string(),
            proposed_by: d.proposed_by.clone(),
            status: d.status.clone(),
            decided_on: date_text(d.decided_on),
            decision_note: d.decision_note.clone(),
            applied_measure: d.applied_measure.clone(),
            applied_on: date_text(d.applied_on),
            order_reference: d.order_reference.clone(),
            decided_by: d.decided_by.clone(),
        })
        .collect();
    m.history = full
        .history
        .iter()
        .map(|h| pb::InstructionHistoryEntry {
            at: Some(ts(h.at)),
            actor: h.actor.clone(),
            action: h.action.clone(),
            note: h.note.clone(),
        })
        .collect();
    m
}

/// Page tokens: `<issued_at micros>_<id>` of the last row of the page.
fn encode_token(t: DateTime<Utc>, id: Uuid) -> String {
    format!("{}_{}", t.timestamp_micros(), id.simple())
}

fn decode_token(token: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, id) = token.split_once('_')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        Uuid::parse_str(id).ok()?,
    ))
}

/// INVALID_ARGUMENT naming every field, with `google.rpc.BadRequest` details.
pub fn invalid(issues: Vec<FieldIssue>) -> Status {
    let message = format!("invalid request: {}", domain::describe(&issues));
    bakylau_platform::grpc::invalid_argument(
        message,
        issues.iter().map(|i| (i.field.clone(), i.message.clone())),
    )
}

fn reused() -> Status {
    Status::already_exists("request_id: already used for a different instruction")
}

fn rule_status(e: RuleError) -> Status {
    Status::failed_precondition(e.to_string())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

fn db_status(e: sqlx::Error) -> Status {
    if let Some(status) = bakylau_platform::db::bad_input(&e) {
        return status;
    }
    if bakylau_platform::db::is_unavailable(&e) {
        tracing::warn!(error = %e, "database unavailable");
        Status::unavailable("instructions are temporarily unavailable; retry")
    } else {
        tracing::error!(error = %e, "database error");
        Status::internal("internal error")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::StatusExt as _;

    #[test]
    fn page_tokens_round_trip() {
        let t = DateTime::from_timestamp_micros(1_780_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(decode_token(&encode_token(t, id)), Some((t, id)));
        assert_eq!(decode_token("garbage"), None);
    }

    #[test]
    fn invalid_names_the_fields() {
        let s = invalid(vec![FieldIssue::new(
            "lead_executor",
            "required",
            "required",
        )]);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("lead_executor"));
        let details = s.get_error_details();
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            "lead_executor"
        );
    }
}
