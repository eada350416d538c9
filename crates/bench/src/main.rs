//! `bakylau-bench`: one run, one table. Measures this machine's raw limits with the
//! services' own drivers, then the running stack (deploy/local/up.sh): pipeline throughput
//! from RegisterAppeal to `appeal.assigned`, the ratio to what the raw limits allow, latency
//! at a fixed rate, memory and start-up of each service, and whether every acknowledged
//! registration was assigned exactly once. It measures; it asserts nothing.

mod cost;
mod pipeline;
mod raw;
mod stack;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use bakylau_load::LoadPlan;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "bakylau-bench", about = "Benchmark of the local Bakylau stack")]
struct Args {
    /// Repository root (for .run/ pid files and config/)
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Where the release binaries are (default: $CARGO_TARGET_DIR/release, else
    /// <repo>/target/release)
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Postgres for the raw commit test (a scratch table is created and dropped)
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/bakylau?sslmode=disable"
    )]
    postgres: String,
    /// RabbitMQ for the raw test and the event tap
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp: String,
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    intake: String,
    /// Seconds of each raw measurement
    #[arg(long, default_value_t = 10)]
    raw_seconds: u64,
    /// Sessions of the raw commit test (a service's pool size)
    #[arg(long, default_value_t = 16)]
    pg_connections: u32,
    /// Seconds of sustained flat-out load
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Calls in flight during flat-out load
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Fixed rate of the latency run, appeals per second
    #[arg(long, default_value_t = 200.0)]
    latency_rate: f64,
    /// Seconds of the latency run
    #[arg(long, default_value_t = 30)]
    latency_seconds: u64,
    /// Do not restart services to time their start-up
    #[arg(long)]
    skip_startup: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let repo = args.repo.canonicalize()?;
    let bin_dir = args.bin_dir.clone().unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("target"))
            .join("release")
    });
    let stack = stack::Stack { repo, bin_dir };
    let services = stack::services();
    for s in &services {
        if !stack::serving(&s.grpc).await {
            bail!(
                "{} is not serving at {}; run deploy/local/up.sh first",
                s.name,
                s.grpc
            );
        }
    }
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut row = |what: &str, value: String, target: &str| {
        eprintln!("  {what}: {value}");
        rows.push((what.to_owned(), value, target.to_owned()));
    };

    eprintln!("raw limits ({} s each)", args.raw_seconds);
    let raw_seconds = Duration::from_secs(args.raw_seconds);
    let commits = raw::postgres_commits(&args.postgres, args.pg_connections, raw_seconds).await?;
    row(
        &format!(
            "Postgres durable commits/s ({} sessions)",
            args.pg_connections
        ),
        format!("{commits:.0}"),
        "",
    );
    let messages = raw::rabbitmq_messages(&args.amqp, 256, raw_seconds).await?;
    row(
        "RabbitMQ persistent msgs/s (quorum, confirm + consume)",
        format!("{messages:.0}"),
        "",
    );
    let cost = cost::per_appeal();
    let limit = (commits / cost.commits).min(messages / cost.messages);
    row(
        "commits / messages per appeal (from the code)",
        format!("{:.2} / {}", cost.commits, cost.messages),
        "",
    );
    row(
        "pipeline limit from the raw figures, appeals/s",
        format!("{limit:.0}"),
        "",
    );

    row(
        "appeals already in routing's 30-day near-duplicate window",
        raw::appeals_in_duplicate_window(&args.postgres)
            .await?
            .to_string(),
        "",
    );

    let mut idle = Vec::new();
    for s in &services {
        idle.push(stack.rss_mib(s.name)?);
    }

    eprintln!("pipeline flat out for {} s", args.duration);
    let peak = stack::PeakSampler::start(&stack, &services)?;
    let flat = pipeline::run(
        &args.amqp,
        &args.intake,
        LoadPlan {
            rate: None,
            duration: Duration::from_secs(args.duration),
            concurrency: args.concurrency,
        },
        1,
        Duration::from_secs(120),
        |p| eprintln!("{p}"),
    )
    .await?;
    let peaks = peak.stop().await;
    row(
        "pipeline appeals/s, register → assigned",
        format!("{:.0}", flat.throughput),
        "≥ 2000",
    );
    row(
        "ratio pipeline / limit",
        format!("{:.2}", flat.throughput / limit.max(1e-9)),
        "≥ 0.6",
    );
    row(
        "acknowledged / assigned once / other outcome",
        format!(
            "{} / {} / {}",
            flat.load.accepted, flat.assigned, flat.other_outcomes
        ),
        "",
    );
    row(
        "lost / doubled",
        format!("{} / {}", flat.lost, flat.doubled),
        "0 / 0",
    );
    row(
        "registration failures",
        flat.load.failed_total().to_string(),
        "0",
    );

    eprintln!(
        "latency at {} appeals/s for {} s",
        args.latency_rate, args.latency_seconds
    );
    let fixed = pipeline::run(
        &args.amqp,
        &args.intake,
        LoadPlan {
            rate: Some(args.latency_rate),
            duration: Duration::from_secs(args.latency_seconds),
            concurrency: 512,
        },
        2,
        Duration::from_secs(60),
        |p| eprintln!("{p}"),
    )
    .await?;
    let q = |p: f64| fixed.latency_us.value_at_quantile(p) as f64 / 1000.0;
    row(
        &format!(
            "latency register → assigned at {}/s, p50 / p95 / p99 ms",
            args.latency_rate
        ),
        format!("{:.0} / {:.0} / {:.0}", q(0.5), q(0.95), q(0.99)),
        "p99 ≤ 100",
    );
    row(
        "latency run not assigned at the end / doubled",
        format!("{} / {}", fixed.lost, fixed.doubled),
        "0 / 0",
    );
    for (i, s) in services.iter().enumerate() {
        row(
            &format!("{} RSS idle / peak under load, MiB", s.name),
            format!("{:.1} / {:.1}", idle[i], peaks[i]),
            "≤ 30 / ≤ 150",
        );
    }
    if !args.skip_startup {
        for s in &services {
            let took = stack.restart(s).await?;
            row(
                &format!("{} start → SERVING, ms", s.name),
                format!("{:.0}", took.as_secs_f64() * 1000.0),
                "≤ 1000",
            );
        }
    }

    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    println!("| {:w0$} | {:>w1$} | target |", "measure", "value");
    println!("|{}|{}|--------|", "-".repeat(w0 + 2), "-".repeat(w1 + 2));
    for (what, value, target) in rows {
        println!(
            "| {what}{} | {}{value} | {target} |",
            " ".repeat(w0 - what.chars().count()),
            " ".repeat(w1 - value.chars().count())
        );
    }
    Ok(())
}
