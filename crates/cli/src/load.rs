//! `bakylau load`: registers realistic appeals through intake at a fixed rate or flat out,
//! with a progress bar and a summary (issue: performance). Every appeal it sends is real:
//! run it against a test stack, not a department's register.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use bakylau_load::{AppealFactory, LoadPlan};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::Global;
use crate::client;
use crate::output::{self, OutputFormat};

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Appeals per second; leave out to send as fast as intake takes them
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// How long to send, in seconds
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub duration: u64,
    /// Calls in flight at most
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seed of the appeal sequence (the same seed sends the same texts)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Include texts that are redirected by law or routed by hand, not only routable ones
    #[arg(long)]
    pub all_categories: bool,
}

pub async fn run(args: LoadArgs, g: &Global) -> Result<()> {
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        bail!("--rate must be a positive number of appeals per second");
    }
    if args.concurrency == 0 || args.duration == 0 {
        bail!("--concurrency and --duration must be at least 1");
    }
    let factory = if args.all_categories {
        AppealFactory::all(args.seed)?
    } else {
        AppealFactory::routable(args.seed)?
    };
    let intake = client::intake(&g.intake).await?;
    let bar = match g.output {
        OutputFormat::Text => ProgressBar::new(args.duration),
        OutputFormat::Json => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len}s  {msg}").expect("a valid template"),
    );
    let report = bakylau_load::run(
        intake,
        Arc::new(factory),
        LoadPlan {
            rate: args.rate,
            duration: Duration::from_secs(args.duration),
            concurrency: args.concurrency,
        },
        Arc::new(|_: &str, _| {}),
        |p| {
            bar.set_position(p.elapsed.as_secs().min(args.duration));
            let rate = p.accepted as f64 / p.elapsed.as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "sent {}  accepted {}  failed {}  {rate:.0}/s",
                p.sent, p.accepted, p.failed
            ));
        },
    )
    .await;
    bar.finish_and_clear();
    let failures = report
        .failed
        .iter()
        .map(|(code, n)| format!("{code}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    match g.output {
        OutputFormat::Text => {
            let rows = vec![
                vec![
                    "duration".into(),
                    format!("{:.1} s", report.elapsed.as_secs_f64()),
                ],
                vec!["sent".into(), report.sent.to_string()],
                vec!["accepted".into(), report.accepted.to_string()],
                vec![
                    "failed".into(),
                    if failures.is_empty() {
                        "0".into()
                    } else {
                        failures
                    },
                ],
                vec![
                    "accepted per second".into(),
                    format!("{:.1}", report.accepted_per_second()),
                ],
                vec![
                    "latency p50 / p95 / p99".into(),
                    format!(
                        "{:.1} / {:.1} / {:.1} ms",
                        report.percentile_ms(0.5),
                        report.percentile_ms(0.95),
                        report.percentile_ms(0.99)
                    ),
                ],
                vec!["calls started late".into(), report.late_starts.to_string()],
            ];
            output::print(&output::table(&["", "RegisterAppeal"], &rows))?;
        }
        OutputFormat::Json => output::print_json(&json!({
            "duration_s": report.elapsed.as_secs_f64(),
            "sent": report.sent,
            "accepted": report.accepted,
            "failed": report.failed,
            "accepted_per_second": report.accepted_per_second(),
            "latency_ms": {
                "p50": report.percentile_ms(0.5),
                "p95": report.percentile_ms(0.95),
                "p99": report.percentile_ms(0.99),
            },
            "late_starts": report.late_starts,
        }))?,
    }
    if report.accepted == 0 {
        bail!("intake accepted none of {} appeals", report.sent);
    }
    Ok(())
}
