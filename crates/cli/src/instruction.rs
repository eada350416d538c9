//! `bakylau instruction …`: instructions given on appeals and their control (reg 9, 8.4):
//! issue one, show it, list them, report progress, on-site checks, conclusions,
//! disciplinary proposals, completion. Talks to the control service's `InstructionService`.

use anyhow::Result;
use bakylau_proto::control::v1 as pb;
use bakylau_proto::control::v1::instruction_service_client::InstructionServiceClient;
use bakylau_proto::intake::v1 as intake_pb;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Global;
use crate::client;
use crate::error::Retryable;
use crate::localtime::{format_local, rfc3339_local};
use crate::output::{self, OutputFormat};

const ISSUERS: [&str; 7] = [
    "president",
    "state_counsellor",
    "presidential_administration",
    "presidential_appeals_control",
    "akim",
    "deputy_akim",
    "reception_official",
];
const MEASURES: [&str; 6] = [
    "remark",
    "reprimand",
    "severe_reprimand",
    "incomplete_compliance_warning",
    "demotion",
    "dismissal",
];

#[derive(Subcommand, Debug)]
pub enum InstructionCommand {
    /// Issue an instruction on one or more appeals and print its number
    Create(Box<CreateArgs>),
    /// Show one instruction in full, by number (INS-2026-0001) or id
    Show(KeyArg),
    /// List instructions, filtered by issuer, status, executor, appeal or overdue
    List(ListArgs),
    /// Record an executor's progress report
    Progress(ProgressArgs),
    /// On-site checks of execution (reg 9.3): plan one, record it done or cancelled
    #[command(subcommand)]
    Check(CheckCommand),
    /// Add a conclusion on the monitoring of the instruction (reg 9.7)
    Conclude(ConcludeArgs),
    /// Disciplinary proposals (reg 9.5): propose one, record what became of it
    #[command(subcommand)]
    Discipline(DisciplineCommand),
    /// Take the instruction off control as executed
    Complete(CompleteArgs),
    /// Extend the due date by a decision of the issuer or a head
    Extend(ExtendArgs),
}

#[derive(Args, Debug)]
pub struct ExtendArgs {
    /// Instruction number (INS-2026-0001) or id
    pub instruction: String,
    /// New due date, YYYY-MM-DD
    #[arg(
        long,
        value_name = "DATE",
        conflicts_with = "working_days",
        required_unless_present = "working_days"
    )]
    pub due: Option<String>,
    /// New deadline in working days from today
    #[arg(long, value_name = "N")]
    pub working_days: Option<u32>,
    /// The decision and its grounds
    #[arg(long)]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct KeyArg {
    /// Instruction number (INS-2026-0001) or id
    pub instruction: String,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Who gave the instruction
    #[arg(long, value_parser = ISSUERS)]
    pub issuer: String,
    /// Name and position of the official who gave it (required for reception_official)
    #[arg(long)]
    pub issuer_official: Option<String>,
    /// The issuer's document reference (outgoing number and date)
    #[arg(long)]
    pub issuer_reference: Option<String>,
    /// Short title
    #[arg(long)]
    pub title: String,
    /// Text of the instruction
    #[arg(long)]
    pub text: String,
    /// Lead executor (body code)
    #[arg(long, value_name = "BODY")]
    pub lead: String,
    /// Co-executor (body code); repeat for more
    #[arg(long = "co", value_name = "BODY")]
    pub co: Vec<String>,
    /// Appeal the instruction is given on: registration number (looked up in intake) or id; repeat for more
    #[arg(long = "appeal", value_name = "NUMBER|ID", required = true)]
    pub appeals: Vec<String>,
    /// Due date, YYYY-MM-DD (a day off moves to the next working day)
    #[arg(long, value_name = "DATE", conflicts_with = "working_days")]
    pub due: Option<String>,
    /// Deadline in working days from today [default: the service's policy]
    #[arg(long, value_name = "N")]
    pub working_days: Option<u32>,
    /// Where it came from, e.g. reception:<booking-id>
    #[arg(long)]
    pub source: Option<String>,
    /// Idempotency key: repeating the command with it issues nothing new [default: random]
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only instructions of this issuer
    #[arg(long, value_parser = ISSUERS)]
    pub issuer: Option<String>,
    /// Only this status
    #[arg(long, value_parser = ["open", "issued", "in_progress", "completed"])]
    pub status: Option<String>,
    /// Only instructions this body executes (lead or co-executor)
    #[arg(long, value_name = "BODY")]
    pub executor: Option<String>,
    /// Only overdue ones
    #[arg(long)]
    pub overdue: bool,
    /// Only instructions given on this appeal (id)
    #[arg(long, value_name = "ID")]
    pub appeal: Option<String>,
    /// Rows per page (at most 500)
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Continue from this page token
    #[arg(long)]
    pub page_token: Option<String>,
    /// Fetch every page
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct ProgressArgs {
    /// Instruction number (INS-2026-0001) or id
    pub instruction: String,
    /// What was done
    #[arg(long)]
    pub text: String,
    /// Reporting body (Department staff entering a paper report; an executor reports for its own)
    #[arg(long, value_name = "BODY")]
    pub body: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum CheckCommand {
    /// Plan an on-site check
    Plan(CheckPlanArgs),
    /// Record a planned check as done, with its findings
    Done(CheckResultArgs),
    /// Record a planned check as cancelled, with the reason
    Cancel(CheckResultArgs),
}

#[derive(Args, Debug)]
pub struct CheckPlanArgs {
    /// Instruction number (INS-2026-0001) or id
    pub instruction: String,
    /// Date of the check, YYYY-MM-DD
    #[arg(long = "on", value_name = "DATE")]
    pub on: String,
    /// Where: district or locality
    #[arg(long)]
    pub place: String,
    /// What is checked
    #[arg(long)]
    pub purpose: String,
}

#[derive(Args, Debug)]
pub struct CheckResultArgs {
    /// Instruction number (INS-2026-0001) or id
    pub instruction: String,
    /// Id of the check (see `instruction show`)
    #[arg(long = "check", value_name = "ID")]
    pub check: String,
    /// Findings of the check, or the reason it was cancelled
    #[arg(long)]
    pub findings: String,
    /// Date, YYYY-MM-DD [default: today]
    #[arg(long = "on", value_name = "DATE")]
    pub on: Option<String>,
}

#[derive(Args, Debug)]
pub struct ConcludeArgs {
    /// Instruction number (INS-2026-0001) or id
    pub instruction: String,
    /// Verdict of the conclusion
    #[arg(long, value_parser = ["executed", "partially_executed", "not_executed"])]
    pub outcome: String,
    /// Text of the conclusion
    #[arg(long)]
    pub text: String,
}

#[derive(Subcommand, Debug)]
pub enum DisciplineCommand {
    /// Propose disciplinary liability of an official
    Propose(ProposeArgs),
    /// Record a decision on a proposal: accepted, rejected, or the measure applied
    Decide(DecideArgs),
}

#[derive(Args, Debug)]
pub struct ProposeArgs {
    /// Instruction number (INS-2026-0001) or id
    pub instruction: String,
    /// Body the official works in
    #[arg(long, value_name = "BODY")]
    pub body: String,
    /// Official's position
    #[arg(long)]
    pub position: String,
    /// Official's name
    #[arg(long)]
    pub official_name: Option<String>,
    /// Grounds: what was executed poorly
    #[arg(long)]
    pub grounds: String,
    /// Proposed measure
    #[arg(long, value_parser = MEASURES)]
    pub measure: String,
}

#[derive(Args, Debug)]
pub struct DecideArgs {
    /// Instruction number (INS-2026-0001) or id
    pub instruction: String,
    /// Id of the proposal (see `instruction show`)
    #[arg(long, value_name = "ID")]
    pub proposal: String,
    /// accepted or rejected (a proposed one), applied (an accepted one)
    #[arg(long, value_parser = ["accepted", "rejected", "applied"])]
    pub decision: String,
    /// Date of the decision or of the order, YYYY-MM-DD [default: today]
    #[arg(long = "on", value_name = "DATE")]
    pub on: Option<String>,
    /// Note; the reason when rejected
    #[arg(long)]
    pub note: Option<String>,
    /// Measure actually applied [default: the proposed one]
    #[arg(long, value_parser = MEASURES)]
    pub measure: Option<String>,
    /// Order that applied the measure (required for applied)
    #[arg(long)]
    pub order: Option<String>,
}

#[derive(Args, Debug)]
pub struct CompleteArgs {
    /// Instruction number (INS-2026-0001) or id
    pub instruction: String,
    /// What was achieved
    #[arg(long)]
    pub note: String,
}

pub async fn run(cmd: InstructionCommand, g: &Global) -> Result<()> {
    match cmd {
        InstructionCommand::Create(args) => create(*args, g).await,
        InstructionCommand::List(args) => list(args, g).await,
        other => {
            let mut c = connect(g).await?;
            let r = |m| client::request(m, g);
            let instruction = match other {
                InstructionCommand::Show(a) => {
                    c.get_instruction(r(pb::GetInstructionRequest {
                        instruction_id: a.instruction,
                    }))
                    .await?
                }
                InstructionCommand::Progress(a) => {
                    c.report_progress(client::request(
                        pb::ReportProgressRequest {
                            instruction_id: a.instruction,
                            text: a.text,
                            body: a.body.unwrap_or_default(),
                        },
                        g,
                    ))
                    .await?
                }
                InstructionCommand::Check(CheckCommand::Plan(a)) => {
                    c.plan_check(client::request(
                        pb::PlanCheckRequest {
                            instruction_id: a.instruction,
                            planned_on: a.on,
                            place: a.place,
                            purpose: a.purpose,
                        },
                        g,
                    ))
                    .await?
                }
                InstructionCommand::Check(CheckCommand::Done(a)) => {
                    c.record_check_result(client::request(check_result(a, "done"), g))
                        .await?
                }
                InstructionCommand::Check(CheckCommand::Cancel(a)) => {
                    c.record_check_result(client::request(check_result(a, "cancelled"), g))
                        .await?
                }
                InstructionCommand::Conclude(a) => {
                    c.add_conclusion(client::request(
                        pb::AddConclusionRequest {
                            instruction_id: a.instruction,
                            outcome: a.outcome,
                            text: a.text,
                        },
                        g,
                    ))
                    .await?
                }
                InstructionCommand::Discipline(DisciplineCommand::Propose(a)) => {
                    c.propose_discipline(client::request(
                        pb::ProposeDisciplineRequest {
                            instruction_id: a.instruction,
                            body: a.body,
                            official_position: a.position,
                            official_name: a.official_name.unwrap_or_default(),
                            grounds: a.grounds,
                            proposed_measure: a.measure,
                        },
                        g,
                    ))
                    .await?
                }
                InstructionCommand::Discipline(DisciplineCommand::Decide(a)) => {
                    c.record_discipline_decision(client::request(
                        pb::RecordDisciplineDecisionRequest {
                            instruction_id: a.instruction,
                            proposal_id: a.proposal,
                            decision: a.decision,
                            decided_on: a.on.unwrap_or_default(),
                            note: a.note.unwrap_or_default(),
                            applied_measure: a.measure.unwrap_or_default(),
                            order_reference: a.order.unwrap_or_default(),
                        },
                        g,
                    ))
                    .await?
                }
                InstructionCommand::Complete(a) => {
                    c.complete_instruction(client::request(
                        pb::CompleteInstructionRequest {
                            instruction_id: a.instruction,
                            note: a.note,
                        },
                        g,
                    ))
                    .await?
                }
                InstructionCommand::Extend(a) => {
                    c.extend_instruction_deadline(client::request(
                        pb::ExtendInstructionDeadlineRequest {
                            instruction_id: a.instruction,
                            due_date: a.due.unwrap_or_default(),
                            working_days: a.working_days.unwrap_or_default(),
                            reason: a.reason,
                        },
                        g,
                    ))
                    .await?
                }
                InstructionCommand::Create(_) | InstructionCommand::List(_) => unreachable!(),
            }
            .into_inner();
            print_instruction(&instruction, g.output)
        }
    }
}

fn check_result(a: CheckResultArgs, outcome: &str) -> pb::RecordCheckResultRequest {
    pb::RecordCheckResultRequest {
        instruction_id: a.instruction,
        check_id: a.check,
        outcome: outcome.to_owned(),
        done_on: a.on.unwrap_or_default(),
        findings: a.findings,
    }
}

async fn connect(g: &Global) -> Result<InstructionServiceClient<client::Authed>> {
    Ok(InstructionServiceClient::new(
        client::channel("control", &g.control).await?,
    ))
}

/// Appeal ids for the request: ids as given, registration numbers looked up in intake.
async fn appeal_ids(keys: &[String], g: &Global) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut intake = None;
    for key in keys {
        let key = key.trim();
        if let Ok(id) = Uuid::parse_str(key) {
            ids.push(id.to_string());
            continue;
        }
        if intake.is_none() {
            intake = Some(client::intake(&g.intake).await?);
        }
        let Some(intake) = intake.as_mut() else {
            continue;
        };
        let appeal = intake
            .get_appeal(intake_pb::GetAppealRequest {
                key: Some(intake_pb::get_appeal_request::Key::RegistrationNumber(
                    key.to_owned(),
                )),
            })
            .await?
            .into_inner();
        ids.push(appeal.id);
    }
    Ok(ids)
}

pub fn create_request(args: &CreateArgs, appeal_ids: Vec<String>) -> pb::CreateInstructionRequest {
    pb::CreateInstructionRequest {
        request_id: args
            .request_id
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string()),
        issuer: args.issuer.clone(),
        issuer_official: args.issuer_official.clone().unwrap_or_default(),
        issuer_reference: args.issuer_reference.clone().unwrap_or_default(),
        title: args.title.clone(),
        text: args.text.clone(),
        lead_executor: args.lead.clone(),
        co_executors: args.co.clone(),
        appeal_ids,
        due_date: args.due.clone().unwrap_or_default(),
        working_days: args.working_days.unwrap_or_default(),
        source: args.source.clone().unwrap_or_default(),
    }
}

async fn create(args: CreateArgs, g: &Global) -> Result<()> {
    let ids = appeal_ids(&args.appeals, g).await?;
    let req = create_request(&args, ids);
    let request_id = req.request_id.clone();
    let mut c = connect(g).await?;
    let resp = c
        .create_instruction(client::request(req, g))
        .await
        .map_err(|status| match status.code() {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown => {
                Retryable {
                    status,
                    hint: format!(
                        "safe to repeat with --request-id {request_id}: it issues nothing twice"
                    ),
                }
                .into()
            }
            _ => anyhow::Error::new(status),
        })?
        .into_inner();
    let instruction = resp.instruction.unwrap_or_default();
    match g.output {
        OutputFormat::Text => {
            let mut text = String::new();
            if resp.replayed {
                text.push_str("(already issued by an earlier call with this request id)\n");
            }
            text.push_str(&instruction_text(&instruction));
            output::print(&text)
        }
        OutputFormat::Json => {
            let mut v = instruction_json(&instruction);
            v["replayed"] = json!(resp.replayed);
            output::print_json(&v)
        }
    }
}

async fn list(args: ListArgs, g: &Global) -> Result<()> {
    let req = pb::ListInstructionsRequest {
        issuer: args.issuer.clone().unwrap_or_default(),
        status: args.status.clone().unwrap_or_default(),
        executor: args.executor.clone().unwrap_or_default(),
        overdue_only: args.overdue,
        appeal_id: args.appeal.clone().unwrap_or_default(),
        page_size: args.limit,
        page_token: args.page_token.clone().unwrap_or_default(),
    };
    let mut c = connect(g).await?;
    let (items, next) = output::collect_pages(req.page_token.clone(), args.all, async |token| {
        let page = c
            .list_instructions(client::request(
                pb::ListInstructionsRequest {
                    page_token: token,
                    ..req.clone()
                },
                g,
            ))
            .await?
            .into_inner();
        Ok((page.instructions, page.next_page_token))
    })
    .await?;
    output::print_page(
        g.output,
        instructions_table(&items),
        || {
            json!({
                "instructions": items.iter().map(instruction_json).collect::<Vec<_>>(),
                "next_page_token": next,
            })
        },
        &next,
    )
}

fn print_instruction(i: &pb::Instruction, format: OutputFormat) -> Result<()> {
    match format {
        OutputFormat::Text => output::print(&instruction_text(i)),
        OutputFormat::Json => output::print_json(&instruction_json(i)),
    }
}

fn mark(i: &pb::Instruction) -> String {
    let mut status = i.status.clone();
    if i.overdue {
        status.push_str(", OVERDUE");
    }
    if i.completed_late {
        status.push_str(", late");
    }
    status
}

pub fn instructions_table(list: &[pb::Instruction]) -> String {
    if list.is_empty() {
        return "No instructions.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                i.number.clone(),
                format_local(i.issued_at.as_ref()),
                i.issuer.clone(),
                i.lead_executor.clone(),
                i.due_date.clone(),
                mark(i),
                output::truncate(&i.title, 50),
            ]
        })
        .collect();
    output::table(
        &[
            "NUMBER", "ISSUED", "ISSUER", "LEAD", "DUE", "STATUS", "TITLE",
        ],
        &rows,
    )
}

pub fn instruction_text(i: &pb::Instruction) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: &str| {
        if !v.is_empty() {
            s.push_str(&format!("{k:<18}{v}\n"));
        }
    };
    line("Instruction", &i.number);
    line("Id", &i.id);
    line("Issuer", &i.issuer);
    line("Issued by", &i.issuer_official);
    line("Reference", &i.issuer_reference);
    line("Issued", &format_local(i.issued_at.as_ref()));
    line("Status", &mark(i));
    let mut due = if i.working_days > 0 {
        format!("{} ({} working days)", i.due_date, i.working_days)
    } else {
        i.due_date.clone()
    };
    if i.extensions > 0 {
        due.push_str(&format!(", extended {} time(s)", i.extensions));
    }
    line("Due", &due);
    line("Lead executor", &i.lead_executor);
    line("Co-executors", &i.co_executors.join(", "));
    line("Appeals", &i.appeal_ids.join(", "));
    line("Source", &i.source);
    line("Title", &i.title);
    line("Text", &i.text);
    line("Completed", &format_local(i.completed_at.as_ref()));
    line("Result", &i.completion_note);
    if !i.progress_reports.is_empty() {
        s.push_str("\nProgress reports\n");
        for p in &i.progress_reports {
            s.push_str(&format!(
                "  {}  {}  {}\n",
                format_local(p.reported_at.as_ref()),
                p.body,
                p.text
            ));
        }
    }
    if !i.checks.is_empty() {
        s.push_str("\nOn-site checks\n");
        for c in &i.checks {
            s.push_str(&format!(
                "  {}  {} {}  {}: {}\n",
                c.id, c.planned_on, c.status, c.place, c.purpose
            ));
            if !c.findings.is_empty() {
                s.push_str(&format!("      {} {}\n", c.done_on, c.findings));
            }
        }
    }
    if !i.conclusions.is_empty() {
        s.push_str("\nConclusions\n");
        for c in &i.conclusions {
            s.push_str(&format!(
                "  {}  {}  {}\n",
                format_local(c.concluded_at.as_ref()),
                c.outcome,
                c.text
            ));
        }
    }
    if !i.disciplinary_proposals.is_empty() {
        s.push_str("\nDisciplinary proposals\n");
        for d in &i.disciplinary_proposals {
            s.push_str(&format!(
                "  {}  {} {}  {}, {} ({}): {}\n",
                d.id,
                d.proposed_on,
                d.status,
                d.body,
                d.official_position,
                d.proposed_measure,
                d.grounds
            ));
            if !d.decided_on.is_empty() {
                s.push_str(&format!(
                    "      decided {} {}\n",
                    d.decided_on, d.decision_note
                ));
            }
            if !d.applied_on.is_empty() {
                s.push_str(&format!(
                    "      applied {} {} by {}\n",
                    d.applied_on, d.applied_measure, d.order_reference
                ));
            }
        }
    }
    if !i.history.is_empty() {
        s.push_str("\nHistory\n");
        for h in &i.history {
            s.push_str(&format!(
                "  {}  {:<20} {}  {}\n",
                format_local(h.at.as_ref()),
                h.action,
                h.actor,
                h.note
            ));
        }
    }
    s
}

fn time(t: Option<&prost_types::Timestamp>) -> Value {
    t.and_then(rfc3339_local)
        .map(Value::from)
        .unwrap_or(Value::Null)
}

pub fn instruction_json(i: &pb::Instruction) -> Value {
    let mut v = json!({
        "id": i.id,
        "number": i.number,
        "issuer": i.issuer,
        "issuer_official": i.issuer_official,
        "issuer_reference": i.issuer_reference,
        "title": i.title,
        "text": i.text,
        "lead_executor": i.lead_executor,
        "co_executors": i.co_executors,
        "appeal_ids": i.appeal_ids,
        "status": i.status,
        "issued_at": time(i.issued_at.as_ref()),
        "due_date": i.due_date,
        "working_days": i.working_days,
        "overdue": i.overdue,
        "escalated": i.escalated,
        "extensions": i.extensions,
        "completed_at": time(i.completed_at.as_ref()),
        "completed_late": i.completed_late,
        "completion_note": i.completion_note,
        "source": i.source,
        "created_by": i.created_by,
    });
    add_children(&mut v, i);
    v
}

/// The reports, checks, conclusions, proposals and history of an instruction.
fn add_children(v: &mut Value, i: &pb::Instruction) {
    v["progress_reports"] = json!(
        i.progress_reports
            .iter()
            .map(|p| json!({
                "id": p.id, "body": p.body, "text": p.text, "reported_by": p.reported_by,
                "reported_at": time(p.reported_at.as_ref()),
            }))
            .collect::<Vec<_>>()
    );
    v["checks"] = json!(
        i.checks
            .iter()
            .map(|c| json!({
                "id": c.id, "status": c.status, "planned_on": c.planned_on, "place": c.place,
                "purpose": c.purpose, "planned_by": c.planned_by, "done_on": c.done_on,
                "findings": c.findings, "recorded_by": c.recorded_by,
            }))
            .collect::<Vec<_>>()
    );
    v["conclusions"] = json!(
        i.conclusions
            .iter()
            .map(|c| json!({
                "id": c.id, "outcome": c.outcome, "text": c.text, "author": c.author,
                "concluded_at": time(c.concluded_at.as_ref()),
            }))
            .collect::<Vec<_>>()
    );
    v["disciplinary_proposals"] = json!(
        i.disciplinary_proposals
            .iter()
            .map(|d| json!({
                "id": d.id, "body": d.body, "official_position": d.official_position,
                "official_name": d.official_name, "grounds": d.grounds,
                "proposed_measure": d.proposed_measure, "proposed_on": d.proposed_on,
                "proposed_by": d.proposed_by, "status": d.status, "decided_on": d.decided_on,
                "decision_note": d.decision_note, "decided_by": d.decided_by,
                "applied_measure": d.applied_measure, "applied_on": d.applied_on,
                "order_reference": d.order_reference,
            }))
            .collect::<Vec<_>>()
    );
    v["history"] = json!(
        i.history
            .iter()
            .map(|h| json!({
                "at": time(h.at.as_ref()), "actor": h.actor, "action": h.action, "note": h.note,
            }))
            .collect::<Vec<_>>()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: InstructionCommand,
    }

    fn parse(argv: &[&str]) -> InstructionCommand {
        let mut full = vec!["t"];
        full.extend_from_slice(argv);
        T::try_parse_from(full).unwrap().cmd
    }

    #[test]
    fn create_builds_the_request() {
        let InstructionCommand::Create(args) = parse(&[
            "create",
            "--issuer",
            "akim",
            "--title",
            "Road",
            "--text",
            "Repair",
            "--lead",
            "talgar",
            "--co",
            "karasay",
            "--appeal",
            "ALM-2026-000001",
            "--working-days",
            "10",
            "--request-id",
            "r-1",
        ]) else {
            panic!("not create")
        };
        let req = create_request(&args, vec!["id-1".into()]);
        assert_eq!(req.request_id, "r-1");
        assert_eq!(req.issuer, "akim");
        assert_eq!(req.co_executors, vec!["karasay"]);
        assert_eq!(req.working_days, 10);
        assert_eq!(req.appeal_ids, vec!["id-1"]);
    }

    #[test]
    fn unknown_issuers_and_both_deadlines_are_refused() {
        let base = [
            "create", "--title", "t", "--text", "x", "--lead", "b", "--appeal", "a",
        ];
        let mut argv = vec!["t"];
        argv.extend_from_slice(&base);
        argv.extend_from_slice(&["--issuer", "king"]);
        assert!(T::try_parse_from(&argv).is_err());
        let mut argv = vec!["t"];
        argv.extend_from_slice(&base);
        argv.extend_from_slice(&[
            "--issuer",
            "akim",
            "--due",
            "2026-05-01",
            "--working-days",
            "3",
        ]);
        assert!(T::try_parse_from(&argv).is_err());
    }

    #[test]
    fn text_shows_marks_and_sections() {
        let i = pb::Instruction {
            number: "INS-2026-0001".into(),
            status: "in_progress".into(),
            overdue: true,
            due_date: "2026-04-13".into(),
            working_days: 15,
            checks: vec![pb::InstructionCheck {
                id: "c1".into(),
                status: "planned".into(),
                planned_on: "2026-04-01".into(),
                place: "talgar".into(),
                purpose: "road".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = instruction_text(&i);
        assert!(text.contains("in_progress, OVERDUE"));
        assert!(text.contains("2026-04-13 (15 working days)"));
        assert!(text.contains("On-site checks"));
        let table = instructions_table(std::slice::from_ref(&i));
        assert!(table.starts_with("NUMBER"));
        assert_eq!(instruction_json(&i)["overdue"], json!(true));
    }
}
