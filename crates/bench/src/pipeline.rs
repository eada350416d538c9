//! The pipeline end to end: appeals registered through intake's gRPC, watched until control
//! publishes `appeal.assigned` (registered, routed, deadline set, all durable). Counts every
//! acknowledged registration: assigned exactly once, lost, or doubled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use bakylau_load::{AppealFactory, LoadPlan, LoadReport};
use bakylau_proto::events::v1 as ev;
use futures::StreamExt;
use hdrhistogram::Histogram;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use prost::Message as _;

/// Outcomes of routing that end an appeal's way before an assignment.
const OTHER_OUTCOMES: &[&str] = &["appeal.redirected", "appeal.needs_manual_routing"];

#[derive(Default)]
struct Ledger {
    started: HashMap<String, Instant>,
    assigned: HashMap<String, (Instant, u32)>,
    other_outcomes: u64,
    first_sent: Option<Instant>,
    last_assigned: Option<Instant>,
}

pub struct PipelineResult {
    pub load: LoadReport,
    pub assigned: u64,
    pub doubled: u64,
    pub lost: u64,
    pub other_outcomes: u64,
    /// Appeals assigned per second, from the first call to the last assignment.
    pub throughput: f64,
    /// Register call start → `appeal.assigned` seen, in microseconds.
    pub latency_us: Histogram<u64>,
}

/// Sends `plan` and waits up to `drain` after it for the last assignments.
pub async fn run(
    amqp_url: &str,
    intake_addr: &str,
    plan: LoadPlan,
    seed: u64,
    drain: Duration,
    mut progress: impl FnMut(&str),
) -> Result<PipelineResult> {
    let conn = Connection::connect(amqp_url, ConnectionProperties::default())
        .await
        .context("connecting to RabbitMQ")?;
    let ch = conn.create_channel().await?;
    ch.basic_qos(1000, BasicQosOptions::default()).await?;
    let queue = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    for key in ["appeal.assigned"].iter().chain(OTHER_OUTCOMES) {
        ch.queue_bind(
            queue.name().as_str().into(),
            bakylau_platform::broker::EVENTS_EXCHANGE.into(),
            (*key).into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    }
    let mut consumer = ch
        .basic_consume(
            queue.name().as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let tap = {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            while let Some(Ok(d)) = consumer.next().await {
                let seen = Instant::now();
                let _ = d.ack(BasicAckOptions::default()).await;
                let Ok(env) = ev::Envelope::decode(d.data.as_slice()) else {
                    continue;
                };
                let mut l = ledger.lock().expect("not poisoned");
                if env.r#type == "appeal.assigned" {
                    let Ok(a) = ev::AppealAssigned::decode(env.payload.as_slice()) else {
                        continue;
                    };
                    let entry = l.assigned.entry(a.appeal_id).or_insert((seen, 0));
                    entry.1 += 1;
                    l.last_assigned = Some(seen);
                } else {
                    l.other_outcomes += 1;
                }
            }
        })
    };

    let authorization: tonic::metadata::MetadataValue<tonic::metadata::Ascii> =
        format!("Bearer {}", bench_token()?)
            .parse()
            .context("the token is not valid metadata")?;
    let intake =
        bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient::with_interceptor(
            tonic::transport::Endpoint::from_shared(intake_addr.to_owned())?
                .connect()
                .await
                .context("connecting to intake")?,
            move |mut r: tonic::Request<()>| {
                r.metadata_mut()
                    .insert("authorization", authorization.clone());
                Ok(r)
            },
        );
    let factory = Arc::new(AppealFactory::routable(seed)?);
    let on_accepted = {
        let ledger = ledger.clone();
        Arc::new(move |id: &str, started: Instant| {
            let mut l = ledger.lock().expect("not poisoned");
            l.first_sent = Some(l.first_sent.map_or(started, |f| f.min(started)));
            l.started.insert(id.to_owned(), started);
        })
    };
    let duration = plan.duration;
    let load = bakylau_load::run(intake, factory, plan, on_accepted, |p| {
        progress(&format!(
            "  {:>3}/{}s sent {} accepted {} failed {}",
            p.elapsed.as_secs(),
            duration.as_secs(),
            p.sent,
            p.accepted,
            p.failed
        ))
    })
    .await;

    // Wait for the stragglers: until every accepted appeal has an outcome or the drain ends.
    let drain_end = Instant::now() + drain;
    loop {
        let (done, total) = {
            let l = ledger.lock().expect("not poisoned");
            let done = l.assigned.len() as u64 + l.other_outcomes;
            (done, l.started.len() as u64)
        };
        if done >= total || Instant::now() >= drain_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tap.abort();
    let _ = conn.close(200, "benchmark done".into()).await;

    let l = ledger.lock().expect("not poisoned");
    let mut latency_us = Histogram::new_with_bounds(1, 600_000_000, 3)?;
    let mut assigned = 0u64;
    let mut doubled = 0u64;
    for (id, started) in &l.started {
        if let Some((seen, count)) = l.assigned.get(id) {
            assigned += 1;
            doubled += u64::from(count.saturating_sub(1));
            let _ = latency_us.record(seen.duration_since(*started).as_micros().max(1) as u64);
        }
    }
    let lost = (l.started.len() as u64).saturating_sub(assigned + l.other_outcomes);
    let throughput = match (l.first_sent, l.last_assigned) {
        (Some(first), Some(last)) if last > first => {
            assigned as f64 / last.duration_since(first).as_secs_f64()
        }
        _ => 0.0,
    };
    Ok(PipelineResult {
        load,
        assigned,
        doubled,
        lost,
        other_outcomes: l.other_outcomes,
        throughput,
        latency_us,
    })
}

/// The registrar token the benchmark registers with: `BAKYLAU_TOKEN`, else one minted from
/// the local dev key that `deploy/local/up.sh` writes and exports.
fn bench_token() -> Result<String> {
    if let Ok(t) = std::env::var("BAKYLAU_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_owned());
    }
    let key = std::env::var("BAKYLAU_DEV_SIGNING_KEY")
        .context("set BAKYLAU_TOKEN, or BAKYLAU_DEV_SIGNING_KEY (deploy/local/up.sh)")?;
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let minter = bakylau_platform::auth::TokenMinter::from_file(
        std::path::Path::new(&key),
        Some(var("BAKYLAU_DEV_KEY_ID", "bakylau-local-1")),
        &var("BAKYLAU_DEV_ISSUER", "bakylau-local"),
        &var("BAKYLAU_AUDIENCE", "bakylau"),
    )?;
    Ok(minter.mint(
        "bench",
        bakylau_platform::auth::Role::Registrar,
        None,
        None,
        Duration::from_secs(4 * 3600),
    )?)
}
