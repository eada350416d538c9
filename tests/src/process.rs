//! Services as separate processes, from the binaries `cargo test --workspace` builds next
//! to the test binary: for what only a real process shows (its own telemetry, its logs,
//! SIGTERM and `kill -9`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/bakylau-<service>`.
pub fn binary(service: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test> → target/<profile>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow::anyhow!("test binary has no target folder"))?;
    let path = dir.join(format!("bakylau-{service}"));
    anyhow::ensure!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (it builds every service)",
        path.display()
    );
    Ok(path)
}

pub struct ServiceProcess {
    pub service: String,
    pub log: PathBuf,
    child: Child,
}

impl ServiceProcess {
    /// Starts `bakylau-<service>` with `env` (and no config folder, so only compiled defaults
    /// and `env` apply), its stdout and stderr to `<log_dir>/<service>.log`.
    pub fn spawn(service: &str, env: &[(String, String)], log_dir: &Path) -> anyhow::Result<Self> {
        let log = log_dir.join(format!("{service}.log"));
        let file = std::fs::File::create(&log)?;
        let child = Command::new(binary(service)?)
            .env("BAKYLAU_CONFIG_DIR", log_dir)
            // Trusts the test key (tests/keys) unless `env` says otherwise.
            .envs(crate::auth::env(service))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()?;
        Ok(Self {
            service: service.to_owned(),
            log,
            child,
        })
    }

    /// Starts `bakylau-<service>` as [`ServiceProcess::spawn`] does, appending to
    /// `<log_dir>/<log_name>.log`: replicas and restarts of one service keep separate,
    /// complete logs.
    pub fn spawn_as(
        service: &str,
        log_name: &str,
        env: &[(String, String)],
        log_dir: &Path,
    ) -> anyhow::Result<Self> {
        let log = log_dir.join(format!("{log_name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = Command::new(binary(service)?)
            .env("BAKYLAU_CONFIG_DIR", log_dir)
            // Trusts the test key (tests/keys) unless `env` says otherwise.
            .envs(crate::auth::env(service))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()?;
        Ok(Self {
            service: service.to_owned(),
            log,
            child,
        })
    }

    /// `kill -9`: no shutdown hook runs, as when a node dies.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, as Kubernetes stops a pod; waits up to `grace` for the process to exit.
    pub fn terminate(&mut self, grace: Duration) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let end = Instant::now() + grace;
        while Instant::now() < end {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// What the process wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
