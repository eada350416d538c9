//! Test support shared by the services' integration tests and the end-to-end suite. Each
//! test gets its own Postgres database and RabbitMQ vhost on the machine's real servers,
//! so tests run in parallel without seeing each other.

pub mod auth;
pub mod otlp;
pub mod private;
pub mod process;

use std::process::Command;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use prost::Message as _;
use sqlx::Connection as _;

/// Writes a sealing key for `personal_data.sealing_key_file` (32 bytes of `byte`, base64)
/// to `dir/name`, for tests that rotate keys.
pub fn sealing_key_file(dir: &std::path::Path, name: &str, byte: u8) -> std::path::PathBuf {
    use base64::Engine as _;
    let path = dir.join(name);
    std::fs::write(
        &path,
        base64::engine::general_purpose::STANDARD.encode([byte; 32]),
    )
    .expect("write the sealing key file");
    path
}

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database and a vhost that exist for one test and are dropped after it.
pub struct TestEnv {
    pub name: String,
    pub database_url: String,
    pub amqp_url: String,
    vhost: String,
}

impl TestEnv {
    pub async fn new() -> anyhow::Result<Self> {
        let name = format!("bakylau_t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(PG_ADMIN_URL).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        rabbitmqctl(&["add_vhost", &name])?;
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"])?;
        Ok(Self {
            database_url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            amqp_url: format!("amqp://guest:guest@127.0.0.1:5672/{name}"),
            vhost: name.clone(),
            name,
        })
    }

    pub async fn amqp(&self) -> anyhow::Result<Connection> {
        Ok(Connection::connect(&self.amqp_url, ConnectionProperties::default()).await?)
    }

    /// A queue bound to `bakylau.events` (declared here if needed) with `keys`, to watch
    /// what a service publishes.
    pub async fn event_tap(&self, keys: &[&str]) -> anyhow::Result<EventTap> {
        let conn = self.amqp().await?;
        let ch = conn.create_channel().await?;
        bakylau_platform::broker::declare_exchanges(&ch).await?;
        let queue = format!("test.tap.{}", uuid::Uuid::new_v4().simple());
        ch.queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
        for key in keys {
            ch.queue_bind(
                queue.as_str().into(),
                bakylau_platform::broker::EVENTS_EXCHANGE.into(),
                (*key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
        conn.close(200, "tap declared".into()).await?;
        self.reopen_tap(&queue).await
    }

    /// Consumes a tap queue on a new connection; also after a broker restart.
    pub async fn reopen_tap(&self, queue: &str) -> anyhow::Result<EventTap> {
        let conn = self.amqp().await?;
        let ch = conn.create_channel().await?;
        let consumer = ch
            .basic_consume(
                queue.into(),
                "tap".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(EventTap {
            _conn: conn,
            consumer,
            queue: queue.to_owned(),
        })
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-q",
                "-c",
            ])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
        let _ = rabbitmqctl(&["delete_vhost", &self.vhost]);
    }
}

/// A broker user of its own with every permission on one test's vhost, deleted after it:
/// to tell publishers apart (AMQP `user_id` is checked against the connection's user).
pub struct BrokerUser {
    pub name: String,
    /// `amqp://name:password@127.0.0.1:5672/<vhost>`.
    pub url: String,
}

impl TestEnv {
    pub fn broker_user(&self, prefix: &str) -> anyhow::Result<BrokerUser> {
        let name = format!(
            "{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let password = uuid::Uuid::new_v4().simple().to_string();
        rabbitmqctl(&["add_user", &name, &password])?;
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            &self.vhost,
            &name,
            ".*",
            ".*",
            ".*",
        ])?;
        Ok(BrokerUser {
            url: format!("amqp://{name}:{password}@127.0.0.1:5672/{}", self.vhost),
            name,
        })
    }
}

impl Drop for BrokerUser {
    fn drop(&mut self) {
        let _ = rabbitmqctl(&["delete_user", &self.name]);
    }
}

pub fn rabbitmqctl(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("rabbitmqctl").args(args).output()?;
    if !out.status.success() {
        anyhow::bail!(
            "rabbitmqctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A decoded event seen on `bakylau.events`.
#[derive(Debug, Clone)]
pub struct SeenEvent {
    pub message_id: String,
    pub envelope: bakylau_proto::events::v1::Envelope,
}

pub struct EventTap {
    _conn: Connection,
    consumer: lapin::Consumer,
    pub queue: String,
}

impl EventTap {
    /// The next event within `timeout`, or `None`.
    pub async fn next(&mut self, timeout: Duration) -> Option<SeenEvent> {
        let delivery = tokio::time::timeout(timeout, self.consumer.next())
            .await
            .ok()??
            .ok()?;
        delivery.ack(BasicAckOptions::default()).await.ok()?;
        let envelope =
            bakylau_proto::events::v1::Envelope::decode(delivery.data.as_slice()).ok()?;
        Some(SeenEvent {
            message_id: delivery
                .properties
                .message_id()
                .as_ref()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
            envelope,
        })
    }

    /// Collects events until `n` arrived or `timeout` passed without one.
    pub async fn collect(&mut self, n: usize, idle_timeout: Duration) -> Vec<SeenEvent> {
        let mut seen = Vec::new();
        while seen.len() < n {
            match self.next(idle_timeout).await {
                Some(e) => seen.push(e),
                None => break,
            }
        }
        seen
    }
}

/// Waits until `f` returns true, polling every 100 ms, for at most `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
