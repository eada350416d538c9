//! `bakylau audit …`: record-keeping audits per body and period (reg 10.1), and the access
//! log every service keeps of personal-data reads and changes (issue 10).

use anyhow::Result;
use bakylau_proto::audit::v1 as log_pb;
use bakylau_proto::audit::v1::audit_log_client::AuditLogClient;
use bakylau_proto::control::v1 as pb;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::Global;
use crate::client;
use crate::control;
use crate::localtime;
use crate::output::{self, OutputFormat};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check a body's appeals registered in a period: late registration, forwarding, answers, letters, reworks
    Run(RunArgs),
    /// Who read personal data or changed what, when and from where, newest first (auditor)
    Log(LogArgs),
}

/// The service whose access log to read.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Service {
    Intake,
    Routing,
    Control,
    Reception,
    Reporting,
}

#[derive(Args, Debug)]
pub struct LogArgs {
    /// Whose log: each service keeps its own
    #[arg(long, value_enum, default_value = "intake")]
    pub service: Service,
    /// Only calls by this token subject
    #[arg(long, value_name = "SUBJECT")]
    pub subject: Option<String>,
    /// Only calls that read or changed this id (appeal id, registration number, booking id)
    #[arg(long, value_name = "ID")]
    pub target: Option<String>,
    /// Only this method (`GetAppeal` or its full path)
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,
    /// Only reads of personal data, or only changes
    #[arg(long, value_parser = ["read", "change"])]
    pub access: Option<String>,
    /// From this moment (local time `2026-03-20 09:15`, a date, or RFC 3339)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Before this moment
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Records per page (at most 500)
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Continue from an earlier page
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Body code to audit [default: every body]
    #[arg(long = "for-body", value_name = "BODY")]
    pub for_body: Option<String>,
    /// First registration day, YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Last registration day, YYYY-MM-DD, included
    #[arg(long, value_name = "DATE")]
    pub to: String,
}

pub async fn run(cmd: AuditCommand, g: &Global) -> Result<()> {
    match cmd {
        AuditCommand::Log(a) => log(a, g).await,
        AuditCommand::Run(a) => {
            let mut c = control::connect(g).await?;
            let r = c
                .run_audit(client::request(
                    pb::RunAuditRequest {
                        body: a.for_body.unwrap_or_default(),
                        from: a.from,
                        to: a.to,
                    },
                    g,
                ))
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Text => output::print(&report_text(&r)),
                OutputFormat::Json => output::print_json(&json!({
                    "body": r.body, "from": r.from, "to": r.to,
                    "appeals_checked": r.appeals_checked,
                    "counts": r.counts.iter().map(|c| json!({"check": c.check, "count": c.count})).collect::<Vec<_>>(),
                    "findings": r.findings.iter().map(|f| json!({
                        "appeal_id": f.appeal_id, "registration_number": f.registration_number,
                        "body": f.body, "check": f.check, "detail": f.detail,
                    })).collect::<Vec<_>>(),
                })),
            }
        }
    }
}

async fn log(a: LogArgs, g: &Global) -> Result<()> {
    let (name, addr) = match a.service {
        Service::Intake => ("intake", &g.intake),
        Service::Routing => ("routing", &g.routing),
        Service::Control => ("control", &g.control),
        Service::Reception => ("reception", &g.reception),
        Service::Reporting => ("reporting", &g.reporting),
    };
    let moment = |t: Option<String>, flag: &str| {
        t.map(|t| localtime::parse_moment(&t, flag).map(localtime::timestamp))
            .transpose()
    };
    let request = log_pb::ListAuditRecordsRequest {
        subject: a.subject.unwrap_or_default(),
        target: a.target.unwrap_or_default(),
        method: a.method.unwrap_or_default(),
        access: a.access.unwrap_or_default(),
        since: moment(a.since, "--since")?,
        until: moment(a.until, "--until")?,
        page_size: a.limit,
        page_token: a.page_token.unwrap_or_default(),
    };
    let mut c = AuditLogClient::new(client::channel(name, addr).await?);
    let r = c
        .list_audit_records(client::request(request, g))
        .await?
        .into_inner();
    output::print_page(
        g.output,
        log_table(&r.records),
        || {
            json!({
                "records": r.records.iter().map(log_json).collect::<Vec<_>>(),
                "next_page_token": r.next_page_token,
            })
        },
        &r.next_page_token,
    )
}

fn log_table(records: &[log_pb::AuditRecord]) -> String {
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                localtime::format_local(r.at.as_ref()),
                format!("{} ({})", r.subject, r.role),
                r.method.rsplit('/').next().unwrap_or_default().to_owned(),
                r.access.clone(),
                output::truncate(&r.targets.join(" "), 60),
                r.outcome.clone(),
                if r.forwarded_for.is_empty() {
                    r.peer.clone()
                } else {
                    format!("{} via {}", r.forwarded_for, r.peer)
                },
            ]
        })
        .collect();
    output::table(
        &["WHEN", "WHO", "METHOD", "ACCESS", "WHAT", "RESULT", "FROM"],
        &rows,
    )
}

fn log_json(r: &log_pb::AuditRecord) -> serde_json::Value {
    json!({
        "seq": r.seq,
        "at": r.at.as_ref().and_then(localtime::rfc3339_local),
        "subject": r.subject, "role": r.role, "body": r.body,
        "method": r.method, "access": r.access,
        "target_kind": r.target_kind, "targets": r.targets,
        "outcome": r.outcome, "peer": r.peer, "forwarded_for": r.forwarded_for,
        "trace_id": r.trace_id,
    })
}

pub fn report_text(r: &pb::AuditReport) -> String {
    let mut s = format!(
        "Record-keeping audit (reg 10.1): {}, registered {} .. {}\nAppeals checked: {}\n\n",
        if r.body.is_empty() {
            "all bodies"
        } else {
            &r.body
        },
        r.from,
        r.to,
        r.appeals_checked
    );
    let counts: Vec<Vec<String>> = r
        .counts
        .iter()
        .map(|c| vec![c.check.replace('_', " "), c.count.to_string()])
        .collect();
    s.push_str(&output::table(&["CHECK", "FINDINGS"], &counts));
    if !r.findings.is_empty() {
        let rows: Vec<Vec<String>> = r
            .findings
            .iter()
            .map(|f| {
                vec![
                    f.registration_number.clone(),
                    f.body.clone(),
                    f.check.clone(),
                    f.detail.clone(),
                ]
            })
            .collect();
        s.push('\n');
        s.push_str(&output::table(
            &["NUMBER", "BODY", "CHECK", "DETAIL"],
            &rows,
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_lists_counts_and_findings() {
        let r = pb::AuditReport {
            body: "ALM-EDU".into(),
            from: "2026-03-01".into(),
            to: "2026-03-31".into(),
            appeals_checked: 4,
            counts: vec![pb::AuditCheckCount {
                check: "forwarded_late".into(),
                count: 1,
            }],
            findings: vec![pb::AuditFinding {
                registration_number: "ALM-2026-000202".into(),
                body: "ALM-EDU".into(),
                check: "forwarded_late".into(),
                detail: "7 working days".into(),
                ..Default::default()
            }],
            generated_at: None,
        };
        let t = report_text(&r);
        assert!(t.contains("Appeals checked: 4"));
        assert!(t.contains("forwarded late"));
        assert!(t.contains("ALM-2026-000202"));
    }

    #[test]
    fn the_access_log_says_who_what_and_from_where() {
        let r = log_pb::AuditRecord {
            subject: "controller-1".into(),
            role: "controller".into(),
            method: "/bakylau.intake.v1.IntakeService/GetAppeal".into(),
            access: "read".into(),
            targets: vec!["ALM-2026-000007".into()],
            outcome: "OK".into(),
            peer: "10.0.0.5:41000".into(),
            forwarded_for: "192.0.2.9".into(),
            ..Default::default()
        };
        let t = log_table(std::slice::from_ref(&r));
        assert!(t.contains("controller-1 (controller)"));
        assert!(t.contains("GetAppeal"));
        assert!(t.contains("ALM-2026-000007"));
        assert!(t.contains("192.0.2.9 via 10.0.0.5:41000"));
        assert_eq!(log_json(&r)["targets"][0], "ALM-2026-000007");
    }
}
