//! The local stack that `deploy/local/up.sh` started: its processes (pid files in `.run/`),
//! their memory, their health, and restarting one to time its start-up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

pub struct Service {
    pub name: &'static str,
    pub grpc: String,
}

pub fn services() -> Vec<Service> {
    [
        ("intake", 50051),
        ("routing", 50052),
        ("control", 50053),
        ("reception", 50054),
        ("reporting", 50055),
    ]
    .into_iter()
    .map(|(name, port)| Service {
        name,
        grpc: format!("http://127.0.0.1:{port}"),
    })
    .collect()
}

pub struct Stack {
    pub repo: PathBuf,
    /// The release binaries up.sh started.
    pub bin_dir: PathBuf,
}

impl Stack {
    pub fn pid(&self, service: &str) -> Result<u32> {
        let file = self.repo.join(".run").join(format!("{service}.pid"));
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("{} (is the stack up? deploy/local/up.sh)", file.display()))?;
        Ok(text.trim().parse()?)
    }

    /// Resident memory of the service's process, in MiB.
    pub fn rss_mib(&self, service: &str) -> Result<f64> {
        rss_mib(self.pid(service)?)
    }

    /// Stops the service (SIGTERM, as Kubernetes does), starts it again as up.sh does and
    /// returns the time from exec to SERVING.
    pub async fn restart(&self, s: &Service) -> Result<Duration> {
        let pid = self.pid(s.name)?;
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
        let gone = Instant::now() + Duration::from_secs(20);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < gone {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.repo.join(".run/logs").join(format!("{}.log", s.name)))?;
        let started = Instant::now();
        let child = std::process::Command::new(self.bin_dir.join(format!("bakylau-{}", s.name)))
            .env("BAKYLAU_CONFIG_DIR", self.repo.join("config"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting bakylau-{}", s.name))?;
        std::fs::write(
            self.repo.join(".run").join(format!("{}.pid", s.name)),
            child.id().to_string(),
        )?;
        let deadline = started + Duration::from_secs(60);
        while Instant::now() < deadline {
            if serving(&s.grpc).await {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        bail!("{} did not become SERVING within 60 s", s.name)
    }
}

pub fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .context("no VmRSS")?
        .parse()?;
    Ok(kib / 1024.0)
}

pub async fn serving(addr: &str) -> bool {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(addr.to_owned()) else {
        return false;
    };
    let Ok(channel) = endpoint
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_millis(500))
        .connect()
        .await
    else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32)
}

/// Samples every service's RSS every 200 ms and keeps the highest.
pub struct PeakSampler {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Vec<f64>>,
}

impl PeakSampler {
    pub fn start(stack: &Stack, services: &[Service]) -> Result<Self> {
        let pids: Vec<u32> = services
            .iter()
            .map(|s| stack.pid(s.name))
            .collect::<Result<_>>()?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut peaks = vec![0.0f64; pids.len()];
            loop {
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    if let Ok(rss) = rss_mib(*pid) {
                        *peak = peak.max(rss);
                    }
                }
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
            peaks
        });
        Ok(Self { stop, task })
    }

    pub async fn stop(self) -> Vec<f64> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}
