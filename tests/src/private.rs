//! A private PostgreSQL cluster and a private RabbitMQ node, for tests that stop, restart or
//! break the database and the broker. Other people's tests use the machine's shared
//! servers at the same time, so those are never touched: each instance here has its own
//! data folder, ports and (for Postgres) unix socket folder, and is removed on drop.
//!
//! PostgreSQL refuses to run as root, so the cluster runs as the `postgres` OS user
//! (`runuser`). The RabbitMQ node runs the server scripts directly with its own `HOME`
//! (so its own Erlang cookie), node name, ports and folders.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};

/// A free loopback TCP port; see [`free_ports`].
pub fn free_port() -> anyhow::Result<u16> {
    Ok(free_ports(1)?[0])
}

/// `n` distinct loopback ports, free when asked, all held open while they are chosen (so
/// none is handed out twice) and taken below the kernel's ephemeral range: an outgoing
/// connection (a service's to Postgres or RabbitMQ) takes an ephemeral port, and took a
/// replica's port between its choice and its bind ("Address already in use").
pub fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let (low, high) = (10_000u32, ephemeral_start.clamp(12_000, 65_000));
    let mut held = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    for _ in 0..100_000 {
        if ports.len() == n {
            return Ok(ports);
        }
        let port = low + (uuid::Uuid::new_v4().as_u128() % u128::from(high - low)) as u32;
        let port = port as u16;
        if !ports.contains(&port)
            && let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port))
        {
            held.push(listener);
            ports.push(port);
        }
    }
    bail!("no {n} free ports between {low} and {high}")
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The newest `/usr/lib/postgresql/<version>/bin`.
fn postgres_bin() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("/usr/lib/postgresql (is PostgreSQL installed?)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, p)| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .context("no PostgreSQL server binaries under /usr/lib/postgresql")
}

/// A PostgreSQL cluster of its own: `initdb` into a temporary folder, its own port and
/// socket folder, trust authentication on loopback, superuser `postgres`.
pub struct PrivatePostgres {
    pub port: u16,
    root: PathBuf,
    bin: PathBuf,
    /// Serves TLS (`ssl = on`) with the certificate and key copied into `root`.
    tls: bool,
}

impl PrivatePostgres {
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(None)
    }

    /// A cluster that also serves TLS with `cert_file` and `key_file` (PEM; copied into
    /// its folder and given to the `postgres` user, as PostgreSQL demands of a key file).
    pub fn start_with_tls(cert_file: &Path, key_file: &Path) -> anyhow::Result<Self> {
        Self::start_with(Some((cert_file, key_file)))
    }

    fn start_with(tls: Option<(&Path, &Path)>) -> anyhow::Result<Self> {
        let bin = postgres_bin()?;
        let port = free_port()?;
        let root =
            std::env::temp_dir().join(format!("bakylau-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&root)?;
        if let Some((cert, key)) = tls {
            std::fs::copy(cert, root.join("server.pem"))
                .with_context(|| format!("copying {}", cert.display()))?;
            std::fs::copy(key, root.join("server.key"))
                .with_context(|| format!("copying {}", key.display()))?;
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(
                root.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )?;
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(root.join("server.pem"))
                .arg(root.join("server.key")))?;
        }
        // The cluster's folders belong to the `postgres` user, which must be able to reach them.
        run(Command::new("chown").arg("postgres:postgres").arg(&root))?;
        let pg = Self {
            port,
            root,
            bin,
            tls: tls.is_some(),
        };
        pg.as_postgres(&pg.bin.join("initdb"))
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(pg.data())
            .stdout(Stdio::null())
            .status()
            .context("initdb")?
            .success()
            .then_some(())
            .context("initdb failed")?;
        std::fs::create_dir_all(pg.sockets())?;
        run(Command::new("chown")
            .arg("postgres:postgres")
            .arg(pg.sockets()))?;
        pg.pg_ctl(&["start"])?;
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn sockets(&self) -> PathBuf {
        self.root.join("sock")
    }

    pub fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    fn as_postgres(&self, program: &Path) -> Command {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c.current_dir(&self.root);
        c
    }

    fn pg_ctl(&self, action: &[&str]) -> anyhow::Result<()> {
        // Ten services with two replicas each keep pools open: room for them and the checks.
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=500",
            self.port,
            self.sockets().display()
        );
        if self.tls {
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                self.root.join("server.pem").display(),
                self.root.join("server.key").display()
            ));
        }
        let mut cmd = self.as_postgres(&self.bin.join("pg_ctl"));
        cmd.arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log_file())
            .args(["-o", &options, "-w", "-t", "60"])
            .args(action);
        run(&mut cmd)?;
        Ok(())
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub async fn create_database(&self, name: &str) -> anyhow::Result<()> {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres")).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        Ok(())
    }

    /// Fast shutdown (clients are disconnected, as in a real restart), then start again.
    pub fn restart(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["-m", "fast", "restart"])
    }

    pub fn stop(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["-m", "fast", "stop"])
    }

    pub fn start_again(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["start"])
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

const RABBITMQ_SCRIPTS: &str = "/usr/lib/rabbitmq/bin";

/// A TLS listener for a [`PrivateRabbit`]: the server's certificate, key and the CA its
/// clients' certificates must chain to (PEM files, copied into the node's folder so the
/// Erlang node can read them whoever owns the originals).
#[derive(Debug, Clone)]
pub struct RabbitTls {
    pub ca_file: PathBuf,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Mutual TLS: refuse clients without a certificate from `ca_file`.
    pub require_client_cert: bool,
}

/// A RabbitMQ node of its own: unique node name, its own AMQP and distribution ports,
/// folders and Erlang cookie, no plugins. Managed with `rabbitmqctl -n <node>`.
pub struct PrivateRabbit {
    pub node: String,
    pub port: u16,
    /// The `amqps://` port, when started with [`PrivateRabbit::start_with_tls`].
    pub tls_port: Option<u16>,
    dist_port: u16,
    root: PathBuf,
    server: Option<Child>,
}

impl PrivateRabbit {
    /// Starts the node and waits until it accepts work.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(None)
    }

    /// Starts the node with a TLS listener besides the plaintext one.
    pub fn start_with_tls(tls: &RabbitTls) -> anyhow::Result<Self> {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<&RabbitTls>) -> anyhow::Result<Self> {
        let root =
            std::env::temp_dir().join(format!("bakylau-mq-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(root.join("mnesia"))?;
        std::fs::create_dir_all(root.join("log"))?;
        let [port, dist_port, spare_port] = free_ports(3)?[..] else {
            unreachable!("free_ports gives as many as asked")
        };
        std::fs::write(root.join("enabled_plugins"), "[].\n")?;
        let mut conf = format!("listeners.tcp.1 = 127.0.0.1:{port}\n");
        let mut tls_port = None;
        if let Some(tls) = tls {
            let p = spare_port;
            let dir = root.join("tls");
            std::fs::create_dir_all(&dir)?;
            let copy = |from: &Path, name: &str| -> anyhow::Result<PathBuf> {
                let to = dir.join(name);
                std::fs::copy(from, &to).with_context(|| format!("copying {}", from.display()))?;
                Ok(to)
            };
            let ca = copy(&tls.ca_file, "ca.pem")?;
            let cert = copy(&tls.cert_file, "server.pem")?;
            let key = copy(&tls.key_file, "server.key")?;
            conf.push_str(&format!(
                "listeners.ssl.1 = 127.0.0.1:{p}\n\
                 ssl_options.cacertfile = {}\n\
                 ssl_options.certfile = {}\n\
                 ssl_options.keyfile = {}\n\
                 ssl_options.verify = verify_peer\n\
                 ssl_options.fail_if_no_peer_cert = {}\n",
                ca.display(),
                cert.display(),
                key.display(),
                tls.require_client_cert
            ));
            tls_port = Some(p);
        }
        std::fs::write(root.join("rabbitmq.conf"), conf)?;
        // An empty env file, so the machine's /etc/rabbitmq/rabbitmq-env.conf (which names
        // the shared node) does not apply.
        std::fs::write(root.join("rabbitmq-env.conf"), "")?;
        let cookie = root.join(".erlang.cookie");
        std::fs::write(&cookie, uuid::Uuid::new_v4().simple().to_string())?;
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o400))?;
        }
        let mut mq = Self {
            node: format!(
                "bakylau-faults-{}@localhost",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
            port,
            tls_port,
            dist_port,
            root,
            server: None,
        };
        mq.boot()?;
        Ok(mq)
    }

    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// `amqps://…` on the TLS listener, when there is one.
    pub fn amqps_url(&self) -> Option<String> {
        self.tls_port
            .map(|p| format!("amqps://guest:guest@127.0.0.1:{p}/%2f"))
    }

    fn env(&self, c: &mut Command) {
        let r = &self.root;
        c.current_dir(r)
            .env("HOME", r)
            .env("RABBITMQ_CONF_ENV_FILE", r.join("rabbitmq-env.conf"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", r.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", r.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", r.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", r.join("rabbitmq.conf"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1");
    }

    /// `rabbitmqctl -n <node> args…`.
    pub fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut c = Command::new(Path::new(RABBITMQ_SCRIPTS).join("rabbitmqctl"));
        self.env(&mut c);
        c.arg("-n").arg(&self.node).args(args);
        run(&mut c)
    }

    fn boot(&mut self) -> anyhow::Result<()> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("server.out"))?;
        let mut c = Command::new(Path::new(RABBITMQ_SCRIPTS).join("rabbitmq-server"));
        self.env(&mut c);
        c.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
        self.server = Some(c.spawn().context("starting rabbitmq-server")?);
        self.await_running(Duration::from_secs(120))
    }

    /// Waits until the node's application runs (after a boot or `start_app`).
    fn await_running(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let end = Instant::now() + timeout;
        loop {
            // The node is not registered with epmd for the first second or so, and
            // `await_startup` fails at once until it is.
            if self.ctl(&["await_startup", "--timeout", "30"]).is_ok() {
                return Ok(());
            }
            if let Some(server) = self.server.as_mut()
                && let Ok(Some(status)) = server.try_wait()
            {
                bail!(
                    "rabbitmq-server exited ({status}): {}",
                    std::fs::read_to_string(self.root.join("server.out")).unwrap_or_default()
                );
            }
            ensure!(
                Instant::now() < end,
                "RabbitMQ node {} did not start",
                self.node
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// `rabbitmqctl stop_app`: the broker closes every connection; the Erlang node stays.
    pub fn stop_app(&self) -> anyhow::Result<()> {
        self.ctl(&["stop_app"]).map(drop)
    }

    pub fn start_app(&mut self) -> anyhow::Result<()> {
        self.ctl(&["start_app"])?;
        self.await_running(Duration::from_secs(60))
    }

    /// Stops the whole node (`rabbitmqctl stop`) and waits for its process to end.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        self.ctl(&["stop"])?;
        if let Some(mut server) = self.server.take() {
            let end = Instant::now() + Duration::from_secs(30);
            while Instant::now() < end {
                if matches!(server.try_wait(), Ok(Some(_))) {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = server.kill();
            let _ = server.wait();
        }
        Ok(())
    }

    /// A node started again on the same folders keeps its durable queues and messages.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        self.boot()
    }

    /// `(queue, messages ready + unacknowledged)` of every queue in `/`.
    pub fn queue_depths(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let out = self.ctl(&[
            "-q",
            "list_queues",
            "name",
            "messages",
            "--no-table-headers",
        ])?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                let name = parts.next()?.to_owned();
                let n = parts.next()?.parse().ok()?;
                Some((name, n))
            })
            .collect())
    }
}

impl Drop for PrivateRabbit {
    fn drop(&mut self) {
        if self.server.is_some() {
            let _ = self.ctl(&["stop"]);
        }
        if let Some(mut server) = self.server.take() {
            let end = Instant::now() + Duration::from_secs(15);
            while Instant::now() < end && !matches!(server.try_wait(), Ok(Some(_))) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
