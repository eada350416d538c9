//! Starts control in-process against a fresh database and vhost, serving real gRPC on a
//! loopback port, with a clock the test moves.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bakylau_control::clock::ManualClock;
use bakylau_control::settings::Settings;
use bakylau_platform::CancellationToken;
use bakylau_platform::health::Readiness;
use bakylau_proto::control::v1::control_service_client::ControlServiceClient;
use bakylau_proto::events::v1 as ev;
use bakylau_testkit::TestEnv;
use chrono::{DateTime, TimeZone, Utc};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use prost::Message as _;

pub const WAIT: Duration = Duration::from_secs(60);

pub struct Running {
    pub addr: String,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn client(&self) -> ControlServiceClient<bakylau_testkit::auth::AuthChannel> {
        bakylau_testkit::auth::client(
            bakylau_testkit::auth::Role::Controller,
            ControlServiceClient::new,
            self.addr.clone(),
        )
        .await
        .expect("connect to control")
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(20), self.task).await;
    }
}

pub fn settings_for(env: &TestEnv) -> Settings {
    let mut s = Settings::default();
    bakylau_testkit::auth::secure(&mut s.grpc);
    s.database.url = env.database_url.clone();
    s.broker.url = env.amqp_url.clone();
    s.broker.retry_delays_ms = vec![200, 400];
    s.metrics.listen = String::new();
    s.control.scheduler.poll_ms = 100;
    s.control.scheduler.refresh_secs = 1;
    s
}

/// 18 March 2026, 11:00 in Kazakhstan (UTC+5): a Wednesday before Nauryz.
pub fn march_18() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 18, 6, 0, 0).unwrap()
}

pub async fn start(env: &TestEnv, settings: Settings, clock: Arc<ManualClock>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bakylau_control::run_with_clock(
        settings,
        listener,
        shutdown.clone(),
        Arc::new(Readiness::new()),
        clock,
    ));
    let ok = bakylau_testkit::eventually(WAIT, || async {
        bakylau_testkit::auth::client(
            bakylau_testkit::auth::Role::Controller,
            ControlServiceClient::new,
            addr.clone(),
        )
        .await
        .is_ok()
    })
    .await;
    assert!(ok, "control did not start");
    wait_queue(env, "control.appeals").await;
    Running {
        addr,
        shutdown,
        task,
    }
}

/// Waits until the consumer declared its queue, so published events are not unrouted.
pub async fn wait_queue(env: &TestEnv, queue: &str) {
    let ok = bakylau_testkit::eventually(WAIT, || async {
        let Ok(conn) = env.amqp().await else {
            return false;
        };
        let Ok(ch) = conn.create_channel().await else {
            return false;
        };
        let found = ch
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .is_ok();
        let _ = conn.close(200, "checked".into()).await;
        found
    })
    .await;
    assert!(ok, "queue {queue} was not declared");
}

/// Publishes an event envelope on `bakylau.events` as another service would.
pub async fn publish<M: prost::Name>(env: &TestEnv, event_type: &str, subject: &str, payload: &M) {
    let id = uuid::Uuid::now_v7().to_string();
    let envelope = ev::Envelope {
        id: id.clone(),
        r#type: event_type.to_owned(),
        occurred_at: Some(ts(Utc::now())),
        producer: "test".into(),
        subject: subject.to_owned(),
        payload: payload.encode_to_vec(),
        payload_type: M::full_name(),
    };
    let conn = env.amqp().await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    bakylau_platform::broker::declare_exchanges(&ch)
        .await
        .unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let confirm = ch
        .basic_publish(
            bakylau_platform::broker::EVENTS_EXCHANGE.into(),
            event_type.into(),
            BasicPublishOptions::default(),
            &envelope.encode_to_vec(),
            BasicProperties::default()
                .with_message_id(id.as_str().into())
                .with_type(event_type.into())
                .with_content_type("application/x-protobuf".into())
                .with_delivery_mode(2),
        )
        .await
        .unwrap();
    confirm.await.unwrap();
    let _ = conn.close(200, "published".into()).await;
}

pub fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }
}

pub fn registered(
    id: &str,
    number: &str,
    at: DateTime<Utc>,
    language: &str,
) -> ev::AppealRegistered {
    ev::AppealRegistered {
        appeal_id: id.to_owned(),
        registration_number: number.to_owned(),
        registered_at: Some(ts(at)),
        received_at: Some(ts(at)),
        kind: "complaint".into(),
        channel: "electronic".into(),
        language: language.into(),
        applicant_type: "individual".into(),
        office: "ALM".into(),
        ..Default::default()
    }
}

pub fn routed(
    id: &str,
    number: &str,
    at: DateTime<Utc>,
    lead: &str,
    co: &[&str],
) -> ev::AppealRouted {
    ev::AppealRouted {
        appeal_id: id.to_owned(),
        registration_number: number.to_owned(),
        category: "roads".into(),
        confidence: 0.9,
        lead_executor: lead.to_owned(),
        co_executors: co.iter().map(|s| (*s).to_owned()).collect(),
        decided_by: "rule:roads".into(),
        kind: "complaint".into(),
        registered_at: Some(ts(at)),
        ..Default::default()
    }
}

/// A request carrying the caller's identity.
pub fn as_user<T>(msg: T, user: &str, role: &str, body: Option<&str>) -> tonic::Request<T> {
    bakylau_testkit::auth::as_user(msg, user, role, body)
}

/// Waits until the appeal exists with the given status.
/// Publishes the appeal's registration (in `language`, on 18 March) and its routing to
/// `lead` alone, and waits until control has assigned it.
pub async fn register_and_route(
    env: &TestEnv,
    client: &mut ControlServiceClient<bakylau_testkit::auth::AuthChannel>,
    id: &str,
    number: &str,
    language: &str,
    lead: &str,
) -> bakylau_proto::control::v1::Assignment {
    publish(
        env,
        "appeal.registered",
        id,
        &registered(id, number, march_18(), language),
    )
    .await;
    publish(
        env,
        "appeal.routed",
        id,
        &routed(id, number, march_18(), lead, &[]),
    )
    .await;
    wait_status(client, id, "assigned").await
}

pub async fn wait_status(
    client: &mut ControlServiceClient<bakylau_testkit::auth::AuthChannel>,
    id: &str,
    status: &str,
) -> bakylau_proto::control::v1::Assignment {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = None;
    loop {
        let got = client
            .get_assignment(as_user(
                bakylau_proto::control::v1::GetAssignmentRequest {
                    appeal_id: id.to_owned(),
                    registration_number: String::new(),
                },
                "controller-1",
                "controller",
                None,
            ))
            .await;
        if let Ok(r) = got {
            let a = r.into_inner();
            if a.status == status {
                return a;
            }
            last = Some(a);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "appeal {id} never reached {status}: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A test database pool on control's schema.
pub async fn pool(env: &TestEnv) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&format!(
            "{}?options=-csearch_path%3Dcontrol",
            env.database_url
        ))
        .await
        .expect("connect to test database")
}
