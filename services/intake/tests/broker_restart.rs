//! RabbitMQ stopped and started in the middle of a stream of registrations: every
//! registered appeal's event is delivered after recovery. Alone in its test binary because
//! it stops the machine's broker.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use bakylau_testkit::rabbitmqctl;

#[tokio::test]
async fn every_registration_is_announced_after_a_broker_restart() {
    let svc = common::start().await;
    let tap = svc.env.event_tap(&["appeal.registered"]).await.unwrap();
    let queue = tap.queue.clone();
    drop(tap);
    let addr = svc.addr.clone();
    let writer = tokio::spawn(async move {
        let mut client = bakylau_testkit::auth::client(
            bakylau_testkit::auth::Role::Registrar,
            IntakeServiceClient::new,
            addr,
        )
        .await
        .unwrap();
        let mut ids = BTreeSet::new();
        for i in 0..60u32 {
            let req = common::request(300 + i, &format!("Обращение {i}: нет воды в доме"));
            // Registration needs only Postgres: it goes on while the broker is down.
            let resp = client
                .register_appeal(req)
                .await
                .expect("registration while broker is down")
                .into_inner();
            ids.insert(resp.appeal.unwrap().id);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ids
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    rabbitmqctl(&["stop_app"]).expect("stop RabbitMQ");
    assert!(
        common::serving_within(&svc.addr, false, Duration::from_secs(10)).await,
        "health stays SERVING with the broker gone"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    rabbitmqctl(&["start_app"]).expect("start RabbitMQ");
    rabbitmqctl(&["await_startup"]).expect("RabbitMQ back");
    let registered = writer.await.unwrap();
    assert!(
        common::serving_within(&svc.addr, true, Duration::from_secs(30)).await,
        "health does not come back after the broker does"
    );

    let mut tap = svc.env.reopen_tap(&queue).await.unwrap();
    let events = tap
        .collect(registered.len() + 10, Duration::from_secs(30))
        .await;
    let announced: BTreeSet<String> = events.iter().map(|e| e.envelope.subject.clone()).collect();
    let missing: Vec<_> = registered.difference(&announced).collect();
    assert!(
        missing.is_empty(),
        "{} of {} registrations were never announced",
        missing.len(),
        registered.len()
    );
    let pool = svc.pool().await;
    assert_eq!(
        bakylau_platform::broker::outbox::pending_count(&pool)
            .await
            .unwrap(),
        0
    );
    svc.stop().await;
}
