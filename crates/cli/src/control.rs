//! `bakylau control …`: deadlines, answers and their review, extensions, timelines and
//! letters (reg 5.3 – 5.6).

use anyhow::{Context as _, Result};
use bakylau_proto::control::v1 as pb;
use bakylau_proto::control::v1::control_service_client::ControlServiceClient;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::Global;
use crate::client;
use crate::localtime;
use crate::output::{self, OutputFormat};

#[derive(Subcommand, Debug)]
pub enum ControlCommand {
    /// List open assignments by due date (executors see their own body's)
    Due(DueArgs),
    /// List overdue assignments
    Overdue(DueArgs),
    /// Show one appeal's assignment, deadline and latest answer
    Show(ShowArgs),
    /// Submit the lead executor's answer (text, measures taken, attachments)
    Answer(AnswerArgs),
    /// Review a submitted answer: accept it or return it for rework
    Review(ReviewArgs),
    /// Head's sign-off of an accepted answer under the akim's control
    SignOff(SignOffArgs),
    /// Place an appeal under the akim's control, or remove it
    AkimControl(AkimControlArgs),
    /// Extend the deadline once by a head's reasoned decision (at most 2 months in all)
    Extend(ExtendArgs),
    /// Show every step of an appeal: who, when, what
    Timeline(ShowArgs),
    /// List letters to applicants (coupon, redirection, extension, answer)
    Letters(LettersArgs),
    /// Print one letter in full
    Letter(LetterArgs),
    /// Show the deadline policy: working days per kind, extensions, notices, reminders
    Policy,
    /// Change the deadline policy (a head's decision; every change is logged)
    SetPolicy(SetPolicyArgs),
}

#[derive(Args, Debug)]
pub struct SetPolicyArgs {
    /// Answer period of one appeal kind, KIND=DAYS (repeatable), e.g. complaint=15
    #[arg(long = "days", value_name = "KIND=DAYS")]
    pub days: Vec<String>,
    /// Answer period of kinds not listed, in working days
    #[arg(long, value_name = "DAYS")]
    pub default_days: Option<u32>,
    /// Reminders before the deadline, in working days, e.g. 3,1
    #[arg(long, value_delimiter = ',', value_name = "DAYS")]
    pub reminders: Option<Vec<u32>>,
    /// Period for rework when the controller sets no date, in working days
    #[arg(long, value_name = "DAYS")]
    pub rework_days: Option<u32>,
    /// Longest total period after an extension, in months from registration
    #[arg(long, value_name = "MONTHS")]
    pub max_months: Option<u32>,
    /// Why the policy changes (the decision)
    #[arg(long)]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct DueArgs {
    /// Only this body's assignments (lead or co-executor)
    #[arg(long = "for-body", value_name = "BODY")]
    pub for_body: Option<String>,
    /// Only assignments due on or before this day, YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    pub before: Option<String>,
    /// How many per page (1-500)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: u32,
    /// Fetch every page
    #[arg(long, conflicts_with = "page_token")]
    pub all: bool,
    /// Continue from the page token printed by a previous list
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Appeal id (UUID) or registration number
    pub appeal: String,
}

#[derive(Args, Debug)]
pub struct AnswerArgs {
    /// Appeal id (UUID) or registration number
    pub appeal: String,
    /// The answer text
    #[arg(long, conflicts_with = "text_file")]
    pub text: Option<String>,
    /// Read the answer text from this file
    #[arg(long, value_name = "PATH")]
    pub text_file: Option<std::path::PathBuf>,
    /// Measures taken on the appeal
    #[arg(long, default_value = "")]
    pub measures: String,
    /// Attach a file (repeatable)
    #[arg(long = "attach", value_name = "PATH")]
    pub attach: Vec<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct ReviewArgs {
    /// Appeal id (UUID) or registration number
    pub appeal: String,
    /// Accept the answer (the appeal closes, or waits for the head's sign-off)
    #[arg(long, conflicts_with = "rework")]
    pub accept: bool,
    /// Return the answer for rework
    #[arg(long, requires = "remarks")]
    pub rework: bool,
    /// Remarks to the executor (required for rework)
    #[arg(long)]
    pub remarks: Option<String>,
    /// New due date for the rework, YYYY-MM-DD [default: the policy's period]
    #[arg(long, value_name = "DATE")]
    pub due: Option<String>,
}

#[derive(Args, Debug)]
pub struct SignOffArgs {
    /// Appeal id (UUID) or registration number
    pub appeal: String,
    /// Return for rework instead of signing off
    #[arg(long, requires = "remarks")]
    pub reject: bool,
    /// Remarks (required when rejecting)
    #[arg(long)]
    pub remarks: Option<String>,
    /// New due date for the rework, YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    pub due: Option<String>,
}

#[derive(Args, Debug)]
pub struct AkimControlArgs {
    /// Appeal id (UUID) or registration number
    pub appeal: String,
    /// Remove from the akim's control instead of placing under it
    #[arg(long)]
    pub off: bool,
    /// Note for the timeline
    #[arg(long, default_value = "")]
    pub note: String,
}

#[derive(Args, Debug)]
pub struct ExtendArgs {
    /// Appeal id (UUID) or registration number
    pub appeal: String,
    /// New due date, YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Reason of the head's decision
    #[arg(long)]
    pub reason: String,
    /// Number and date of the decision
    #[arg(long, default_value = "")]
    pub decision: String,
}

#[derive(Args, Debug)]
pub struct LettersArgs {
    /// Only the letters of this appeal (id or registration number)
    #[arg(long)]
    pub appeal: Option<String>,
    /// Only this kind: registration_coupon, redirection, extension, answer
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this delivery state: stored, sent, failed, no_address
    #[arg(long)]
    pub delivery: Option<String>,
    /// How many per page (1-500)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: u32,
    /// Fetch every page
    #[arg(long, conflicts_with = "page_token")]
    pub all: bool,
    /// Continue from the page token printed by a previous list
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
}

#[derive(Args, Debug)]
pub struct LetterArgs {
    /// Letter id
    pub id: String,
}

pub type Control = ControlServiceClient<client::Authed>;

pub async fn connect(g: &Global) -> Result<Control> {
    let ch = client::channel("control", &g.control).await?;
    Ok(ControlServiceClient::new(ch)
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024))
}

/// A UUID is used as is; anything else is looked up as a registration number.
pub async fn resolve(c: &mut Control, g: &Global, appeal: &str) -> Result<String> {
    if uuid::Uuid::parse_str(appeal.trim()).is_ok() {
        return Ok(appeal.trim().to_owned());
    }
    let a = c
        .get_assignment(client::request(
            pb::GetAssignmentRequest {
                appeal_id: String::new(),
                registration_number: appeal.trim().to_owned(),
            },
            g,
        ))
        .await?
        .into_inner();
    Ok(a.appeal_id)
}

pub async fn run(cmd: ControlCommand, g: &Global) -> Result<()> {
    let mut c = connect(g).await?;
    match cmd {
        ControlCommand::Due(a) => due(&mut c, g, a, false).await,
        ControlCommand::Overdue(a) => due(&mut c, g, a, true).await,
        ControlCommand::Show(a) => {
            let id = resolve(&mut c, g, &a.appeal).await?;
            let x = c
                .get_assignment(client::request(
                    pb::GetAssignmentRequest {
                        appeal_id: id,
                        registration_number: String::new(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            print_assignment(g, &x)
        }
        ControlCommand::Answer(a) => {
            let id = resolve(&mut c, g, &a.appeal).await?;
            let text = match (&a.text, &a.text_file) {
                (Some(t), _) => t.clone(),
                (None, Some(p)) => std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?,
                (None, None) => {
                    return Err(crate::error::usage("give --text or --text-file"));
                }
            };
            let mut attachments = Vec::new();
            for p in &a.attach {
                let content =
                    std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                attachments.push(pb::AnswerAttachment {
                    name: p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "attachment".into()),
                    media_type: media_type(p),
                    content,
                });
            }
            let x = c
                .submit_answer(client::request(
                    pb::SubmitAnswerRequest {
                        appeal_id: id,
                        text,
                        measures_taken: a.measures,
                        attachments,
                    },
                    g,
                ))
                .await?
                .into_inner();
            print_assignment(g, &x)
        }
        ControlCommand::Review(a) => {
            if !a.accept && !a.rework {
                return Err(crate::error::usage("give --accept or --rework"));
            }
            let id = resolve(&mut c, g, &a.appeal).await?;
            let x = c
                .review_answer(client::request(
                    pb::ReviewAnswerRequest {
                        appeal_id: id,
                        accept: a.accept,
                        remarks: a.remarks.unwrap_or_default(),
                        new_due_date: a.due.unwrap_or_default(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            print_assignment(g, &x)
        }
        ControlCommand::SignOff(a) => {
            let id = resolve(&mut c, g, &a.appeal).await?;
            let x = c
                .sign_off(client::request(
                    pb::SignOffRequest {
                        appeal_id: id,
                        approve: !a.reject,
                        remarks: a.remarks.unwrap_or_default(),
                        new_due_date: a.due.unwrap_or_default(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            print_assignment(g, &x)
        }
        ControlCommand::AkimControl(a) => {
            let id = resolve(&mut c, g, &a.appeal).await?;
            let x = c
                .set_akim_control(client::request(
                    pb::SetAkimControlRequest {
                        appeal_id: id,
                        under_control: !a.off,
                        note: a.note,
                    },
                    g,
                ))
                .await?
                .into_inner();
            print_assignment(g, &x)
        }
        ControlCommand::Extend(a) => {
            let id = resolve(&mut c, g, &a.appeal).await?;
            let x = c
                .extend_deadline(client::request(
                    pb::ExtendDeadlineRequest {
                        appeal_id: id,
                        new_due_date: a.to,
                        reason: a.reason,
                        decided_by: a.decision,
                    },
                    g,
                ))
                .await?
                .into_inner();
            print_assignment(g, &x)
        }
        ControlCommand::Timeline(a) => {
            let id = resolve(&mut c, g, &a.appeal).await?;
            let t = c
                .get_timeline(client::request(pb::GetTimelineRequest { appeal_id: id }, g))
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Text => output::print(&timeline_text(&t)),
                OutputFormat::Json => output::print_json(&timeline_json(&t)),
            }
        }
        ControlCommand::Letters(a) => {
            let appeal = match &a.appeal {
                Some(x) => resolve(&mut c, g, x).await?,
                None => String::new(),
            };
            let req = pb::ListLettersRequest {
                appeal_id: appeal,
                kind: a.kind.unwrap_or_default(),
                delivery: a.delivery.unwrap_or_default(),
                page_size: a.limit,
                page_token: a.page_token.unwrap_or_default(),
            };
            let (letters, next) =
                output::collect_pages(req.page_token.clone(), a.all, async |token| {
                    let page = c
                        .list_letters(client::request(
                            pb::ListLettersRequest {
                                page_token: token,
                                ..req.clone()
                            },
                            g,
                        ))
                        .await?
                        .into_inner();
                    Ok((page.letters, page.next_page_token))
                })
                .await?;
            output::print_page(
                g.output,
                letters_table(&letters),
                || json!({ "letters": letters.iter().map(letter_json).collect::<Vec<_>>(), "next_page_token": next }),
                &next,
            )
        }
        ControlCommand::Policy => {
            let p = c
                .get_policy(client::request(pb::GetPolicyRequest {}, g))
                .await?
                .into_inner();
            print_policy(g, &p)
        }
        ControlCommand::SetPolicy(a) => {
            let mut p = c
                .get_policy(client::request(pb::GetPolicyRequest {}, g))
                .await?
                .into_inner();
            apply_policy_changes(&mut p, &a)?;
            let p = c
                .update_policy(client::request(
                    pb::UpdatePolicyRequest {
                        policy: Some(p),
                        reason: a.reason.clone(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            print_policy(g, &p)
        }
        ControlCommand::Letter(a) => {
            let l = c
                .get_letter(client::request(pb::GetLetterRequest { id: a.id }, g))
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Text => output::print(&format!(
                    "Letter {} ({}, {}) for {}\nWritten {}  due by {}  delivery {}\nSubject: {}\n\n{}",
                    l.id,
                    l.kind,
                    l.language,
                    l.registration_number,
                    ts(&l.created_at),
                    dash(&l.due_by),
                    l.delivery,
                    l.subject,
                    l.body
                )),
                OutputFormat::Json => output::print_json(&letter_json(&l)),
            }
        }
    }
}

async fn due(c: &mut Control, g: &Global, a: DueArgs, overdue_only: bool) -> Result<()> {
    let req = pb::ListDueRequest {
        body: a.for_body.unwrap_or_default(),
        due_before: a.before.unwrap_or_default(),
        overdue_only,
        page_size: a.limit,
        page_token: a.page_token.unwrap_or_default(),
    };
    let (items, next) = output::collect_pages(req.page_token.clone(), a.all, async |token| {
        let page = c
            .list_due(client::request(
                pb::ListDueRequest {
                    page_token: token,
                    ..req.clone()
                },
                g,
            ))
            .await?
            .into_inner();
        Ok((page.assignments, page.next_page_token))
    })
    .await?;
    output::print_page(
        g.output,
        assignments_table(&items),
        || json!({ "assignments": items.iter().map(assignment_json).collect::<Vec<_>>(), "next_page_token": next }),
        &next,
    )
}

/// Applies the command line's changes to the current policy.
pub fn apply_policy_changes(p: &mut pb::Policy, a: &SetPolicyArgs) -> Result<()> {
    for kd in &a.days {
        let (kind, days) = kd
            .split_once('=')
            .ok_or_else(|| crate::error::usage(format!("--days {kd:?}: expected KIND=DAYS")))?;
        let days: u32 = days
            .trim()
            .parse()
            .map_err(|_| crate::error::usage(format!("--days {kd:?}: DAYS is not a number")))?;
        let kind = kind.trim().to_owned();
        match p.days_per_kind.iter_mut().find(|k| k.kind == kind) {
            Some(k) => k.working_days = days,
            None => p.days_per_kind.push(pb::KindDays {
                kind,
                working_days: days,
            }),
        }
    }
    if let Some(d) = a.default_days {
        p.default_working_days = d;
    }
    if let Some(r) = &a.reminders {
        p.reminder_working_days = r.clone();
    }
    if let Some(d) = a.rework_days {
        p.rework_working_days = d;
    }
    if let Some(m) = a.max_months {
        p.max_total_months = m;
    }
    Ok(())
}

fn print_policy(g: &Global, p: &pb::Policy) -> Result<()> {
    match g.output {
        OutputFormat::Text => {
            let rows: Vec<Vec<String>> = p
                .days_per_kind
                .iter()
                .map(|k| vec![k.kind.clone(), k.working_days.to_string()])
                .collect();
            output::print(&format!(
                "{}Other kinds: {} working days
Extension: at most {} time(s), {} months in all from registration; applicant told within {} working days
Redirection: applicant told within {} working days
Reminders: {:?} working days before the deadline
Rework period: {} working days
Forwarding late after: {} working days
Changed {} by {}
",
                output::table(&["KIND", "WORKING DAYS"], &rows),
                p.default_working_days,
                p.max_extensions,
                p.max_total_months,
                p.extension_notice_working_days,
                p.redirect_notice_working_days,
                p.reminder_working_days,
                p.rework_working_days,
                p.forwarding_working_days,
                ts(&p.updated_at),
                p.updated_by
            ))
        }
        OutputFormat::Json => output::print_json(&json!({
            "days_per_kind": p.days_per_kind.iter().map(|k| (k.kind.clone(), k.working_days)).collect::<std::collections::BTreeMap<_, _>>(),
            "default_working_days": p.default_working_days,
            "max_total_months": p.max_total_months,
            "max_extensions": p.max_extensions,
            "extension_notice_working_days": p.extension_notice_working_days,
            "redirect_notice_working_days": p.redirect_notice_working_days,
            "reminder_working_days": p.reminder_working_days,
            "rework_working_days": p.rework_working_days,
            "forwarding_working_days": p.forwarding_working_days,
            "updated_by": p.updated_by,
        })),
    }
}

fn media_type(p: &std::path::Path) -> String {
    match p
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("pdf") => "application/pdf",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("txt") => "text/plain",
        Some("doc") => "application/msword",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => "application/octet-stream",
    }
    .to_owned()
}

fn dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

pub fn ts(t: &Option<prost_types::Timestamp>) -> String {
    localtime::format_local(t.as_ref())
}

fn print_assignment(g: &Global, a: &pb::Assignment) -> Result<()> {
    match g.output {
        OutputFormat::Text => output::print(&assignment_text(a)),
        OutputFormat::Json => output::print_json(&assignment_json(a)),
    }
}

pub fn assignment_text(a: &pb::Assignment) -> String {
    let mut s = format!(
        "Appeal {}  ({})\nStatus: {}{}{}\nKind: {}  language: {}  registered: {}\nLead executor: {}\n",
        a.registration_number,
        a.appeal_id,
        a.status,
        if a.overdue { "  OVERDUE" } else { "" },
        if a.akim_control {
            "  under the akim's control"
        } else {
            ""
        },
        dash(&a.kind),
        dash(&a.language),
        dash(&a.registered_on),
        dash(&a.lead_executor),
    );
    if !a.co_executors.is_empty() {
        s.push_str(&format!("Co-executors: {}\n", a.co_executors.join(", ")));
    }
    if !a.redirected_to.is_empty() {
        s.push_str(&format!("Redirected to: {}\n", a.redirected_to));
    }
    if !a.due_date.is_empty() {
        s.push_str(&format!(
            "Due: {} ({} working days; first due {}){}  working days left: {}\n",
            a.due_date,
            a.working_days,
            dash(&a.initial_due_date),
            if a.extended { ", extended" } else { "" },
            a.working_days_left
        ));
    }
    if a.rework_count > 0 {
        s.push_str(&format!(
            "Returned for rework: {} time(s)\n",
            a.rework_count
        ));
    }
    if let Some(ans) = &a.answer {
        s.push_str(&format!(
            "\nAnswer v{} by {} ({}), {}; review: {}\n{}\n",
            ans.version,
            ans.author,
            ans.body,
            ts(&ans.submitted_at),
            ans.review,
            ans.text
        ));
        if !ans.measures_taken.is_empty() {
            s.push_str(&format!("Measures taken: {}\n", ans.measures_taken));
        }
        for f in &ans.attachments {
            s.push_str(&format!(
                "  attachment {} ({}, {})\n",
                f.name,
                f.media_type,
                output::human_size(f.size_bytes)
            ));
        }
        if !ans.remarks.is_empty() {
            s.push_str(&format!(
                "Remarks of {}: {}\n",
                ans.reviewed_by, ans.remarks
            ));
        }
    }
    s
}

pub fn assignment_json(a: &pb::Assignment) -> Value {
    json!({
        "appeal_id": a.appeal_id,
        "registration_number": a.registration_number,
        "status": a.status,
        "kind": a.kind,
        "language": a.language,
        "registered_on": a.registered_on,
        "lead_executor": a.lead_executor,
        "co_executors": a.co_executors,
        "due_date": a.due_date,
        "initial_due_date": a.initial_due_date,
        "working_days": a.working_days,
        "working_days_left": a.working_days_left,
        "overdue": a.overdue,
        "extended": a.extended,
        "akim_control": a.akim_control,
        "rework_count": a.rework_count,
        "redirected_to": a.redirected_to,
        "answer": a.answer.as_ref().map(|x| json!({
            "version": x.version,
            "text": x.text,
            "measures_taken": x.measures_taken,
            "author": x.author,
            "body": x.body,
            "review": x.review,
            "remarks": x.remarks,
            "attachments": x.attachments.iter().map(|f| json!({
                "name": f.name, "media_type": f.media_type, "size_bytes": f.size_bytes, "sha256": f.sha256
            })).collect::<Vec<_>>(),
        })),
    })
}

pub fn assignments_table(list: &[pb::Assignment]) -> String {
    if list.is_empty() {
        return "No assignments.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.registration_number.clone(),
                a.due_date.clone(),
                a.working_days_left.to_string(),
                a.status.clone(),
                a.lead_executor.clone(),
                [
                    if a.overdue { "overdue" } else { "" },
                    if a.extended { "extended" } else { "" },
                    if a.akim_control { "akim" } else { "" },
                ]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(","),
            ]
        })
        .collect();
    output::table(
        &["NUMBER", "DUE", "DAYS LEFT", "STATUS", "LEAD", "MARKS"],
        &rows,
    )
}

pub fn timeline_text(t: &pb::Timeline) -> String {
    let rows: Vec<Vec<String>> = t
        .entries
        .iter()
        .map(|e| {
            vec![
                ts(&e.at),
                e.actor.clone(),
                e.action.clone(),
                output::truncate(&e.note, 100),
            ]
        })
        .collect();
    format!(
        "Timeline of {} ({})\n{}",
        t.registration_number,
        t.appeal_id,
        output::table(&["WHEN", "WHO", "WHAT", "NOTE"], &rows)
    )
}

pub fn timeline_json(t: &pb::Timeline) -> Value {
    json!({
        "appeal_id": t.appeal_id,
        "registration_number": t.registration_number,
        "entries": t.entries.iter().map(|e| json!({
            "at": e.at.as_ref().and_then(localtime::from_timestamp).map(|t| t.to_rfc3339()),
            "actor": e.actor, "action": e.action, "note": e.note,
        })).collect::<Vec<_>>(),
    })
}

pub fn letters_table(list: &[pb::Letter]) -> String {
    if list.is_empty() {
        return "No letters.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|l| {
            vec![
                l.id.clone(),
                l.registration_number.clone(),
                l.kind.clone(),
                l.language.clone(),
                ts(&l.created_at),
                l.delivery.clone(),
                output::truncate(&l.subject, 60),
            ]
        })
        .collect();
    output::table(
        &[
            "ID", "NUMBER", "KIND", "LANG", "WRITTEN", "DELIVERY", "SUBJECT",
        ],
        &rows,
    )
}

pub fn letter_json(l: &pb::Letter) -> Value {
    json!({
        "id": l.id, "appeal_id": l.appeal_id, "registration_number": l.registration_number,
        "kind": l.kind, "language": l.language, "subject": l.subject, "body": l.body,
        "created_at": l.created_at.as_ref().and_then(localtime::from_timestamp).map(|t| t.to_rfc3339()),
        "due_by": l.due_by, "delivery": l.delivery, "last_error": l.last_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: ControlCommand,
    }

    #[test]
    fn rework_needs_remarks() {
        assert!(T::try_parse_from(["t", "review", "ALM-2026-000001", "--rework"]).is_err());
        assert!(
            T::try_parse_from([
                "t",
                "review",
                "ALM-2026-000001",
                "--rework",
                "--remarks",
                "incomplete"
            ])
            .is_ok()
        );
        assert!(
            T::try_parse_from(["t", "review", "X", "--accept", "--rework", "--remarks", "r"])
                .is_err()
        );
    }

    #[test]
    fn policy_changes_apply_to_the_current_policy() {
        let T { cmd } = T::try_parse_from([
            "t",
            "set-policy",
            "--days",
            "complaint=10",
            "--days",
            "request=5",
            "--reminders",
            "5,2,1",
            "--reason",
            "order 7",
        ])
        .unwrap();
        let ControlCommand::SetPolicy(a) = cmd else {
            panic!("parsed {cmd:?}")
        };
        let mut p = pb::Policy {
            days_per_kind: vec![pb::KindDays {
                kind: "complaint".into(),
                working_days: 15,
            }],
            default_working_days: 15,
            ..Default::default()
        };
        apply_policy_changes(&mut p, &a).unwrap();
        assert_eq!(p.days_per_kind.len(), 2);
        assert_eq!(p.days_per_kind[0].working_days, 10);
        assert_eq!(p.reminder_working_days, vec![5, 2, 1]);
        assert_eq!(p.default_working_days, 15);
        let bad = SetPolicyArgs {
            days: vec!["complaint".into()],
            default_days: None,
            reminders: None,
            rework_days: None,
            max_months: None,
            reason: "x".into(),
        };
        assert!(apply_policy_changes(&mut p, &bad).is_err());
    }

    #[test]
    fn the_table_shows_marks() {
        let a = pb::Assignment {
            registration_number: "ALM-2026-000001".into(),
            due_date: "2026-04-13".into(),
            status: "assigned".into(),
            lead_executor: "ALM-ROADS".into(),
            overdue: true,
            extended: true,
            working_days_left: -2,
            ..Default::default()
        };
        let t = assignments_table(&[a]);
        assert!(t.contains("overdue,extended"));
        assert!(t.contains("-2"));
    }
}
