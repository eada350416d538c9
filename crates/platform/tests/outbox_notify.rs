//! Services may share one database, each in its own schema; a row written to one schema's
//! outbox wakes that schema's relay only, not every relay in the database.

use std::time::Duration;

use bakylau_platform::broker::{OutboxMessage, enqueue};
use bakylau_platform::config::DatabaseSettings;
use bakylau_platform::db;
use sqlx::postgres::{PgListener, PgPool};
use sqlx::{Connection as _, PgConnection};

/// A database of its own for one test, dropped at the end.
struct Scratch {
    admin: PgConnection,
    name: String,
    settings: DatabaseSettings,
}

impl Scratch {
    async fn new() -> Self {
        let name = format!("bakylau_on_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect("postgres://postgres@127.0.0.1:5432/postgres")
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let settings = DatabaseSettings {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            ..Default::default()
        };
        Self {
            admin,
            name,
            settings,
        }
    }

    /// A pool on `schema`, with the platform's tables (outbox, inbox) migrated.
    async fn schema(&self, schema: &str) -> PgPool {
        let pool = db::connect(&self.settings, schema).await.unwrap();
        db::migrate(&pool, schema, &sqlx::migrate::Migrator::DEFAULT)
            .await
            .unwrap();
        pool
    }

    async fn drop(mut self) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut self.admin)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn an_outbox_row_notifies_its_own_schema_only() {
    let scratch = Scratch::new().await;
    let first = scratch.schema("first").await;
    let second = scratch.schema("second").await;
    let mut first_listener = PgListener::connect_with(&first).await.unwrap();
    first_listener.listen("bakylau_outbox:first").await.unwrap();
    let mut second_listener = PgListener::connect_with(&second).await.unwrap();
    second_listener
        .listen("bakylau_outbox:second")
        .await
        .unwrap();

    let mut tx = first.begin().await.unwrap();
    let message = OutboxMessage::reply("nowhere", "c1", "test.reply", "text/plain", vec![1]);
    enqueue(&mut tx, &message).await.unwrap();
    tx.commit().await.unwrap();

    let woken = tokio::time::timeout(Duration::from_secs(5), first_listener.recv())
        .await
        .expect("the first schema's relay is woken")
        .unwrap();
    assert_eq!(woken.channel(), "bakylau_outbox:first");
    let stray = tokio::time::timeout(Duration::from_millis(500), second_listener.recv()).await;
    assert!(stray.is_err(), "the second schema's relay was woken too");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&second)
        .await
        .unwrap();
    assert_eq!(rows, 0);

    drop((first_listener, second_listener));
    first.close().await;
    second.close().await;
    scratch.drop().await;
}

#[tokio::test]
async fn messages_enqueued_together_keep_their_order_and_headers() {
    let scratch = Scratch::new().await;
    let pool = scratch.schema("batch").await;
    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    listener.listen("bakylau_outbox:batch").await.unwrap();

    let messages: Vec<OutboxMessage> = (0..3u8)
        .map(|i| {
            let mut m =
                OutboxMessage::reply("nowhere", &format!("c{i}"), "t", "text/plain", vec![i]);
            m.headers.insert("n".into(), i.to_string());
            m
        })
        .collect();
    let mut tx = pool.begin().await.unwrap();
    bakylau_platform::broker::enqueue_all(&mut tx, &[])
        .await
        .unwrap();
    bakylau_platform::broker::enqueue_all(&mut tx, &messages)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let rows: Vec<(uuid::Uuid, Option<String>, serde_json::Value, Vec<u8>)> = sqlx::query_as(
        "SELECT message_id, correlation_id, headers, payload FROM outbox ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected: Vec<_> = messages
        .iter()
        .map(|m| {
            (
                m.message_id,
                m.correlation_id.clone(),
                serde_json::json!({ "n": m.headers["n"] }),
                m.payload.clone(),
            )
        })
        .collect();
    assert_eq!(rows, expected);
    let woken = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("the relay is woken")
        .unwrap();
    assert_eq!(woken.channel(), "bakylau_outbox:batch");

    drop(listener);
    pool.close().await;
    scratch.drop().await;
}
