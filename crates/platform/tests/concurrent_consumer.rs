//! The concurrent inbox consumer on the real Postgres and RabbitMQ: a redelivered message
//! is applied once, a poison message is parked while the others flow, deliveries really
//! overlap, and messages about one subject are still applied in the order they were sent.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bakylau_platform::broker::{
    self, Broker, Consumer, Handler, HandlerError, IncomingMessage, QueueSpec,
};
use bakylau_platform::health::Readiness;
use bakylau_proto::events::v1::Envelope;
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use prost::Message as _;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

const EVENT: &str = "test.happened";

/// A database and a vhost for one test, dropped after it.
struct Env {
    name: String,
    pool: PgPool,
    amqp_url: String,
}

impl Env {
    async fn new() -> Self {
        let name = format!("bakylau_pc_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
            .await
            .expect("postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
            .await
            .unwrap();
        bakylau_platform::db::migrate(&pool, "public", &sqlx::migrate::Migrator::DEFAULT)
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE applied (seq BIGSERIAL PRIMARY KEY, message_id TEXT NOT NULL, \
             subject TEXT NOT NULL, n INTEGER NOT NULL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        Self {
            amqp_url: format!("amqp://guest:guest@127.0.0.1:5672/{name}"),
            name,
            pool,
        }
    }
}

impl Env {
    /// A connection and a channel on this test's vhost, with `spec`'s queue declared.
    async fn publisher(&self, spec: &QueueSpec) -> (Connection, lapin::Channel) {
        let conn = Connection::connect(&self.amqp_url, ConnectionProperties::default())
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        broker::declare_exchanges(&ch).await.unwrap();
        broker::declare_queue(&ch, spec).await.unwrap();
        (conn, ch)
    }

    /// A consumer of `spec` on this test's database and vhost, 64 deliveries prefetched.
    fn consumer(
        &self,
        spec: &QueueSpec,
        handler: Arc<Recorder>,
        concurrency: u16,
        batch: u16,
    ) -> Consumer<Recorder> {
        Consumer {
            spec: spec.clone(),
            pool: self.pool.clone(),
            broker: Broker::new(self.amqp_url.clone(), "test"),
            handler,
            prefetch: 64,
            concurrency,
            batch,
            readiness: Arc::new(Readiness::new()),
            confirm_timeout: Duration::from_secs(10),
            link: "broker:test",
        }
    }
}

impl Drop for Env {
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
        let _ = Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.name])
            .output();
    }
}

/// Ready plus unacknowledged messages of a queue.
fn queue_messages(vhost: &str, queue: &str) -> Option<u64> {
    let out = Command::new("rabbitmqctl")
        .args(["-q", "list_queues", "-p", vhost, "name", "messages"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let mut cols = l.split_whitespace();
        (cols.next()? == queue).then(|| cols.next()?.parse().ok())?
    })
}

fn rabbitmqctl(args: &[&str]) {
    let out = Command::new("rabbitmqctl").args(args).output().unwrap();
    assert!(out.status.success(), "rabbitmqctl {args:?}");
}

/// A queue of `EVENT`s with one quick retry.
fn queue(name: &str) -> QueueSpec {
    QueueSpec::new(name)
        .bind(broker::EVENTS_EXCHANGE, EVENT)
        .retry_delays(&[100])
}

/// Records every message it applies; parks `poison`; takes a little while per message so
/// that deliveries overlap when the consumer runs them concurrently.
#[derive(Default)]
struct Recorder {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Apply batches in one statement (`handle_batch`) instead of one by one.
    whole_batches: bool,
    /// The numbers of each batch handed to `handle_batch`.
    batches: Mutex<Vec<Vec<i32>>>,
}

impl Handler for Recorder {
    async fn handle(
        &self,
        tx: &mut PgConnection,
        message: &IncomingMessage,
    ) -> Result<(), HandlerError> {
        let envelope = Envelope::decode(message.body.as_slice())
            .map_err(|e| HandlerError::Permanent(e.to_string()))?;
        if envelope.subject == "poison" {
            return Err(HandlerError::Permanent("poison".into()));
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        // Later messages of a subject get shorter pauses: run out of order, they would
        // overtake the earlier ones.
        let n: i32 = String::from_utf8_lossy(&envelope.payload).parse().unwrap();
        tokio::time::sleep(Duration::from_millis(2 + (40 - n.min(40)) as u64)).await;
        let result =
            sqlx::query("INSERT INTO applied (message_id, subject, n) VALUES ($1, $2, $3)")
                .bind(&message.message_id)
                .bind(&envelope.subject)
                .bind(n)
                .execute(&mut *tx)
                .await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result?;
        Ok(())
    }

    async fn handle_batch(
        &self,
        tx: &mut PgConnection,
        messages: &[&IncomingMessage],
    ) -> Result<bool, HandlerError> {
        if !self.whole_batches {
            return Ok(false);
        }
        let envelopes: Vec<Envelope> = messages
            .iter()
            .map(|m| Envelope::decode(m.body.as_slice()).unwrap())
            .collect();
        let numbers: Vec<i32> = envelopes
            .iter()
            .map(|e| String::from_utf8_lossy(&e.payload).parse().unwrap())
            .collect();
        self.batches.lock().unwrap().push(numbers.clone());
        if envelopes.iter().any(|e| e.subject == "poison") {
            return Err(HandlerError::Permanent("poison in the batch".into()));
        }
        let ids: Vec<&str> = messages.iter().map(|m| m.message_id.as_str()).collect();
        let subjects: Vec<&str> = envelopes.iter().map(|e| e.subject.as_str()).collect();
        sqlx::query(
            "INSERT INTO applied (message_id, subject, n) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::int[])",
        )
        .bind(&ids)
        .bind(&subjects)
        .bind(&numbers)
        .execute(&mut *tx)
        .await?;
        Ok(true)
    }
}

async fn publish(conn: &Connection, message_id: &str, subject: &str, n: i32) {
    let ch = conn.create_channel().await.unwrap();
    let body = Envelope {
        id: message_id.into(),
        r#type: EVENT.into(),
        subject: subject.into(),
        payload: n.to_string().into_bytes(),
        ..Default::default()
    }
    .encode_to_vec();
    ch.basic_publish(
        broker::EVENTS_EXCHANGE.into(),
        EVENT.into(),
        BasicPublishOptions::default(),
        &body,
        BasicProperties::default()
            .with_message_id(message_id.into())
            .with_delivery_mode(2),
    )
    .await
    .unwrap();
    ch.close(200, "published".into()).await.unwrap();
}

/// Until the queue holds nothing, neither ready nor unacknowledged.
async fn wait_until_drained(vhost: &str, queue: &str) {
    for _ in 0..600 {
        if queue_messages(vhost, queue) == Some(0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the queue did not drain");
}

/// Runs a one-lane consumer (batches of up to 32) until `rows` messages are applied and
/// the queue is empty, then stops it.
async fn consume_until_drained(env: &Env, spec: &QueueSpec, handler: Arc<Recorder>, rows: i64) {
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(env.consumer(spec, handler, 1, 32).run(shutdown.clone()));
    wait_for_rows(&env.pool, rows).await;
    wait_until_drained(&env.name, &spec.name).await;
    shutdown.cancel();
    running.await.unwrap();
}

/// The parked queue of `spec` holds `message_id`.
async fn assert_parked(ch: &lapin::Channel, spec: &QueueSpec, message_id: &str) {
    let parked = ch
        .basic_get(
            spec.parked_queue().as_str().into(),
            lapin::options::BasicGetOptions::default(),
        )
        .await
        .unwrap()
        .expect("the poison is parked");
    assert_eq!(
        parked.properties.message_id().as_ref().map(|m| m.as_str()),
        Some(message_id)
    );
}

async fn wait_for_rows(pool: &PgPool, n: i64) {
    for _ in 0..1200 {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM applied")
            .fetch_one(pool)
            .await
            .unwrap();
        if count >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} messages applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumer_applies_once_parks_poison_and_keeps_subject_order() {
    let env = Env::new().await;
    let spec = queue("test.events");
    let handler = Arc::new(Recorder::default());
    let shutdown = CancellationToken::new();
    let consumer = env.consumer(&spec, handler.clone(), 8, 8);
    let running = tokio::spawn(consumer.run(shutdown.clone()));

    // The consumer declares its queue too; it must exist before publishing.
    let (conn, ch) = env.publisher(&spec).await;

    // The poison message first: it must not hold up what follows.
    publish(&conn, "poison-1", "poison", 0).await;
    // 6 subjects × 20 messages, interleaved; then one message sent twice.
    let mut sent = 0;
    for n in 1..=20 {
        for s in 0..6 {
            publish(&conn, &format!("m-{s}-{n}"), &format!("subject-{s}"), n).await;
            sent += 1;
        }
    }
    publish(&conn, "twice", "subject-twice", 1).await;
    publish(&conn, "twice", "subject-twice", 1).await;
    sent += 1;
    wait_for_rows(&env.pool, sent).await;

    // The poison message is parked, with its reason.
    let parked = ch
        .basic_consume(
            spec.parked_queue().as_str().into(),
            "test-parked".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap()
        .next()
        .await
        .expect("a parked message")
        .unwrap();
    assert_eq!(
        parked.properties.message_id().as_ref().map(|m| m.as_str()),
        Some("poison-1")
    );
    parked.ack(BasicAckOptions::default()).await.unwrap();

    // The duplicate follows its original on the same lane; it has been handled once the
    // queue holds nothing, neither ready nor unacknowledged.
    wait_until_drained(&env.name, &spec.name).await;
    shutdown.cancel();
    running.await.unwrap();

    let twice: i64 = sqlx::query_scalar("SELECT count(*) FROM applied WHERE message_id = 'twice'")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(twice, 1, "a redelivered message is applied once");
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM applied")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(total, sent);

    // Per subject, applied (commit) order is the order sent.
    let rows: Vec<(String, i32)> = sqlx::query_as("SELECT subject, n FROM applied ORDER BY seq")
        .fetch_all(&env.pool)
        .await
        .unwrap();
    for s in 0..6 {
        let subject = format!("subject-{s}");
        let order: Vec<i32> = rows
            .iter()
            .filter(|(subj, _)| *subj == subject)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(order, (1..=20).collect::<Vec<_>>(), "{subject}");
    }
    assert!(
        handler.max_in_flight.load(Ordering::SeqCst) > 1,
        "deliveries were applied one at a time"
    );
}

/// One lane, and everything waiting before the consumer starts, so deliveries are applied
/// in batches: a poison message in the middle of a batch rolls the batch back, then every
/// message of it is applied on its own, once and in order, and the poison is parked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_inside_a_batch_leaves_the_others_applied_once_and_in_order() {
    let env = Env::new().await;
    let spec = queue("test.batch");
    let (conn, ch) = env.publisher(&spec).await;
    for n in 1..=12 {
        let subject = if n == 6 { "poison" } else { "s" };
        publish(&conn, &format!("b-{n}"), subject, n).await;
    }
    // The same message twice, both in one batch.
    publish(&conn, "b-13", "s", 13).await;
    publish(&conn, "b-13", "s", 13).await;

    consume_until_drained(&env, &spec, Arc::new(Recorder::default()), 12).await;

    let applied: Vec<i32> = sqlx::query_scalar("SELECT n FROM applied ORDER BY seq")
        .fetch_all(&env.pool)
        .await
        .unwrap();
    let expected: Vec<i32> = (1..=13).filter(|n| *n != 6).collect();
    assert_eq!(applied, expected, "each once, in the order sent");
    let inbox: Vec<String> =
        sqlx::query_scalar("SELECT message_id FROM inbox WHERE consumer = 'test.batch'")
            .fetch_all(&env.pool)
            .await
            .unwrap();
    assert_eq!(
        inbox.len(),
        12,
        "one inbox row per applied message: {inbox:?}"
    );
    assert!(
        !inbox.contains(&"b-6".to_owned()),
        "the poison left no inbox row"
    );
    assert_parked(&ch, &spec, "b-6").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_applies_new_messages_of_a_batch_at_once_or_one_by_one_after_a_failure() {
    let env = Env::new().await;
    let spec = queue("test.whole");
    let (conn, ch) = env.publisher(&spec).await;
    let handler = Arc::new(Recorder {
        whole_batches: true,
        ..Default::default()
    });
    let applied = || async {
        sqlx::query_scalar::<_, i32>("SELECT n FROM applied ORDER BY seq")
            .fetch_all(&env.pool)
            .await
            .unwrap()
    };

    // Waiting before the consumer starts, so they come as one batch; b-10 twice.
    for n in 1..=10 {
        publish(&conn, &format!("w-{n}"), "s", n).await;
    }
    publish(&conn, "w-10", "s", 10).await;
    consume_until_drained(&env, &spec, handler.clone(), 10).await;
    assert_eq!(applied().await, (1..=10).collect::<Vec<_>>());
    let batches = handler.batches.lock().unwrap().clone();
    assert!(
        batches.iter().any(|b| b.len() > 1),
        "several messages handed over at once: {batches:?}"
    );
    assert_eq!(
        batches.concat(),
        (1..=10).collect::<Vec<_>>(),
        "each new message once, in order, the duplicate left out"
    );

    // A batch with a poison: rolled back, then each applied on its own and the poison parked.
    for n in 11..=15 {
        let subject = if n == 13 { "poison" } else { "s" };
        publish(&conn, &format!("w-{n}"), subject, n).await;
    }
    consume_until_drained(&env, &spec, handler.clone(), 14).await;
    let expected: Vec<i32> = (1..=15).filter(|n| *n != 13).collect();
    assert_eq!(applied().await, expected, "the others once each, in order");
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE consumer = 'test.whole'")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(inbox, 14);
    assert_parked(&ch, &spec, "w-13").await;
}
