//! Sends appeals at a fixed rate (open loop: a slow server does not slow the sender down,
//! so latency is not hidden) or flat out with a fixed number of callers (closed loop).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use hdrhistogram::Histogram;
use tokio::sync::Semaphore;

use crate::AppealFactory;

#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Appeals per second; `None` sends as fast as `concurrency` callers can.
    pub rate: Option<f64>,
    pub duration: Duration,
    /// Calls in flight at most.
    pub concurrency: usize,
}

/// What happened so far, for a progress display.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub elapsed: Duration,
    pub sent: u64,
    pub accepted: u64,
    pub failed: u64,
}

#[derive(Debug)]
pub struct LoadReport {
    pub elapsed: Duration,
    pub sent: u64,
    pub accepted: u64,
    /// Failures by gRPC code name.
    pub failed: BTreeMap<String, u64>,
    /// Call latency of accepted registrations, in microseconds.
    pub latency_us: Histogram<u64>,
    /// Calls a fixed rate could not start on time because `concurrency` were in flight.
    pub late_starts: u64,
}

impl LoadReport {
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    pub fn accepted_per_second(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Told of each acknowledged registration: its appeal id and when its call started.
pub type OnAccepted = Arc<dyn Fn(&str, Instant) + Send + Sync>;

struct Shared {
    sent: u64,
    accepted: u64,
    failed: BTreeMap<String, u64>,
    latency_us: Histogram<u64>,
}

/// Runs `plan` against `client`. `on_accepted(appeal_id, started)` is called for every
/// registration intake acknowledged, with the moment its call started; `on_progress` about
/// every second.
pub async fn run<T>(
    client: IntakeServiceClient<T>,
    factory: Arc<AppealFactory>,
    plan: LoadPlan,
    on_accepted: OnAccepted,
    mut on_progress: impl FnMut(&Progress),
) -> LoadReport
where
    // Any transport: a plain channel, or one whose calls carry a bearer token.
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + 'static,
    T::Error: Into<tonic::codegen::StdError>,
    T::Future: Send,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let shared = Arc::new(Mutex::new(Shared {
        sent: 0,
        accepted: 0,
        failed: BTreeMap::new(),
        latency_us: Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds"),
    }));
    let permits = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let start = Instant::now();
    let end = start + plan.duration;
    let mut late_starts = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_progress = start + Duration::from_secs(1);
    let mut n = 0u64;
    while Instant::now() < end {
        if let Some(rate) = plan.rate {
            let due = start + Duration::from_secs_f64(n as f64 / rate.max(0.001));
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
        }
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if plan.rate.is_some() {
                    late_starts += 1;
                }
                permits.clone().acquire_owned().await.expect("never closed")
            }
        };
        let request = factory.appeal(n);
        n += 1;
        let mut client = client.clone();
        let tally = shared.clone();
        let on_accepted = on_accepted.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let reply = client.register_appeal(request).await;
            let took = started.elapsed();
            let mut s = tally.lock().expect("not poisoned");
            s.sent += 1;
            match reply {
                Ok(r) => {
                    s.accepted += 1;
                    let _ = s.latency_us.record(took.as_micros().max(1) as u64);
                    drop(s);
                    let id = r.into_inner().appeal.map(|a| a.id).unwrap_or_default();
                    on_accepted(&id, started);
                }
                Err(status) => {
                    *s.failed.entry(format!("{:?}", status.code())).or_default() += 1;
                }
            }
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(1);
            on_progress(&snapshot(&shared, start));
        }
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    on_progress(&snapshot(&shared, start));
    let s = Arc::try_unwrap(shared)
        .ok()
        .expect("every call finished")
        .into_inner()
        .expect("not poisoned");
    LoadReport {
        elapsed,
        sent: s.sent,
        accepted: s.accepted,
        failed: s.failed,
        latency_us: s.latency_us,
        late_starts,
    }
}

fn snapshot(shared: &Mutex<Shared>, start: Instant) -> Progress {
    let s = shared.lock().expect("not poisoned");
    Progress {
        elapsed: start.elapsed(),
        sent: s.sent,
        accepted: s.accepted,
        failed: s.failed.values().sum(),
    }
}
