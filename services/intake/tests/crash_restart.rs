//! Intake killed with SIGKILL and restarted in the middle of a stream: no acknowledged
//! registration is lost or doubled, no outbox row is left behind, and a consumer that
//! deduplicates by message id sees each appeal's event exactly once.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command};
use std::time::Duration;

use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use bakylau_testkit::TestEnv;

fn spawn_intake(env: &TestEnv, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bakylau-intake"))
        .env("BAKYLAU_CONFIG_DIR", "/nonexistent")
        .envs(bakylau_testkit::auth::env("intake"))
        .env("BAKYLAU_INTAKE__DATABASE__URL", &env.database_url)
        .env("BAKYLAU_INTAKE__BROKER__URL", &env.amqp_url)
        .env("BAKYLAU_INTAKE__GRPC__LISTEN", format!("127.0.0.1:{port}"))
        .env("BAKYLAU_INTAKE__METRICS__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the intake binary")
}

#[tokio::test]
async fn sigkill_mid_stream_loses_and_doubles_nothing() {
    let env = TestEnv::new().await.unwrap();
    let mut tap = env.event_tap(&["appeal.registered"]).await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("http://127.0.0.1:{port}");
    let mut child = spawn_intake(&env, port);
    common::wait_serving(&addr).await;

    let writer_addr = addr.clone();
    let writer = tokio::spawn(async move {
        let mut acked = BTreeMap::new();
        for i in 0..120u32 {
            let req = common::request(500 + i, &format!("Обращение {i}: не вывозят мусор"));
            // A client retries with the same request_id until it gets an answer.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let attempt = async {
                    let mut c = bakylau_testkit::auth::client(
                        bakylau_testkit::auth::Role::Registrar,
                        IntakeServiceClient::new,
                        writer_addr.clone(),
                    )
                    .await
                    .ok()?;
                    c.register_appeal(req.clone()).await.ok()
                };
                if let Some(resp) = attempt.await {
                    acked.insert(req.request_id.clone(), resp.into_inner().appeal.unwrap().id);
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "intake never came back"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        acked
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("SIGKILL intake");
    child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut child = spawn_intake(&env, port);
    let acked = writer.await.unwrap();

    let events = tap.collect(acked.len() * 2, Duration::from_secs(20)).await;
    let mut by_message: BTreeMap<String, String> = BTreeMap::new();
    for e in &events {
        by_message.insert(e.message_id.clone(), e.envelope.subject.clone());
    }
    let mut per_appeal: BTreeMap<&str, usize> = BTreeMap::new();
    for subject in by_message.values() {
        *per_appeal.entry(subject.as_str()).or_default() += 1;
    }
    let acked_ids: BTreeSet<&str> = acked.values().map(String::as_str).collect();
    assert_eq!(acked_ids.len(), 120, "each request got its own appeal");
    for id in &acked_ids {
        assert_eq!(
            per_appeal.get(id).copied().unwrap_or(0),
            1,
            "appeal {id}: events after dedup"
        );
    }
    assert_eq!(
        per_appeal.len(),
        acked_ids.len(),
        "events for appeals no client saw acknowledged"
    );

    let pool = sqlx::PgPool::connect(&format!(
        "{}?options=-csearch_path%3Dintake",
        env.database_url
    ))
    .await
    .unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM appeals")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 120, "no appeal lost or doubled");
    assert_eq!(
        bakylau_platform::broker::outbox::pending_count(&pool)
            .await
            .unwrap(),
        0
    );
    let numbers: Vec<i64> = sqlx::query_scalar("SELECT reg_seq FROM appeals ORDER BY reg_seq")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        numbers,
        (1..=120).collect::<Vec<i64>>(),
        "numbers stay gap-free across a crash"
    );
    pool.close().await;
    let _ = child.kill();
    let _ = child.wait();
}
