//! `bakylau audit …`: record-keeping audits per body and period (reg 10.1).

use anyhow::Result;
use bakylau_proto::control::v1 as pb;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::Global;
use crate::client;
use crate::control;
use crate::output::{self, OutputFormat};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check a body's appeals registered in a period: late registration, forwarding, answers, letters, reworks
    Run(RunArgs),
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
}
