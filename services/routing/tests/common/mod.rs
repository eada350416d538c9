//! Starts routing (and, for end-to-end tests, intake) in-process against a fresh database
//! and vhost, serving real gRPC on loopback ports; publishes `appeal.registered` events
//! the way intake's outbox relay does.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bakylau_platform::CancellationToken;
use bakylau_platform::health::Readiness;
use bakylau_proto::events::v1 as ev;
use bakylau_proto::routing::v1::routing_service_client::RoutingServiceClient;
use bakylau_routing::settings::Settings;
use bakylau_testkit::TestEnv;
use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use prost::Message as _;

pub struct Running {
    pub env: TestEnv,
    pub addr: String,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn client(&self) -> RoutingServiceClient<bakylau_testkit::auth::AuthChannel> {
        bakylau_testkit::auth::client(
            bakylau_testkit::auth::Role::Controller,
            RoutingServiceClient::new,
            self.addr.clone(),
        )
        .await
        .expect("connect to routing")
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&format!(
                "{}?options=-csearch_path%3Drouting",
                self.env.database_url
            ))
            .await
            .expect("connect to test database")
    }

    pub async fn stop(self) -> TestEnv {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        self.env
    }
}

pub fn settings_for(env: &TestEnv) -> Settings {
    let mut s = Settings::default();
    bakylau_testkit::auth::secure(&mut s.grpc);
    s.database.url = env.database_url.clone();
    s.broker.url = env.amqp_url.clone();
    s.broker.retry_delays_ms = vec![200, 400];
    s.metrics.listen = String::new();
    s
}

pub async fn start() -> Running {
    let env = TestEnv::new().await.expect("test database and vhost");
    let settings = settings_for(&env);
    start_with(env, settings).await
}

pub async fn start_with(env: TestEnv, settings: Settings) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bakylau_routing::run(
        settings,
        listener,
        shutdown.clone(),
        Arc::new(Readiness::new()),
    ));
    wait_serving(&addr).await;
    Running {
        env,
        addr,
        shutdown,
        task,
    }
}

/// Starts intake in the same database and vhost; returns its address and stopper.
pub async fn start_intake(
    env: &TestEnv,
) -> (
    String,
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let mut s = bakylau_intake::settings::Settings::default();
    bakylau_testkit::auth::secure(&mut s.grpc);
    s.database.url = env.database_url.clone();
    s.broker.url = env.amqp_url.clone();
    s.broker.retry_delays_ms = vec![200, 400];
    s.metrics.listen = String::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bakylau_intake::run(
        s,
        listener,
        shutdown.clone(),
        Arc::new(Readiness::new()),
    ));
    wait_serving(&addr).await;
    (addr, shutdown, task)
}

pub async fn wait_serving(addr: &str) {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let ok = bakylau_testkit::eventually(Duration::from_secs(60), || async {
        let Ok(ch) = tonic::transport::Endpoint::from_shared(addr.to_owned())
            .unwrap()
            .connect()
            .await
        else {
            return false;
        };
        HealthClient::new(ch)
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32)
    })
    .await;
    assert!(ok, "{addr} did not become SERVING");
}

/// An `appeal.registered` payload as intake would send it.
pub fn registered(text: &str, district: &str, applicant_ref: &str) -> ev::AppealRegistered {
    let id = uuid::Uuid::now_v7();
    let now = chrono::Utc::now();
    ev::AppealRegistered {
        appeal_id: id.to_string(),
        registration_number: format!("ALM-2026-{}", &id.simple().to_string()[24..]),
        registered_at: Some(prost_types::Timestamp {
            seconds: now.timestamp(),
            nanos: 0,
        }),
        received_at: Some(prost_types::Timestamp {
            seconds: now.timestamp(),
            nanos: 0,
        }),
        kind: "complaint".into(),
        channel: "electronic".into(),
        language: "ru".into(),
        applicant_type: "individual".into(),
        applicant_ref: applicant_ref.into(),
        locality: Some(ev::Locality {
            kato: String::new(),
            region: "Алматинская область".into(),
            district: district.into(),
            rural_district: String::new(),
        }),
        subject: String::new(),
        text: text.into(),
        office: "ALM".into(),
        signature_status: "valid".into(),
        ..Default::default()
    }
}

/// Publishes `e` on `bakylau.events` under `message_id`, persistent, like the outbox relay.
pub async fn publish(env: &TestEnv, e: &ev::AppealRegistered, message_id: &str) {
    let envelope = ev::Envelope {
        id: message_id.to_owned(),
        r#type: "appeal.registered".into(),
        occurred_at: e.registered_at,
        producer: "intake".into(),
        subject: e.appeal_id.clone(),
        payload: e.encode_to_vec(),
        payload_type: "bakylau.events.v1.AppealRegistered".into(),
    };
    let conn = env.amqp().await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    bakylau_platform::broker::declare_exchanges(&ch)
        .await
        .unwrap();
    ch.basic_publish(
        "bakylau.events".into(),
        "appeal.registered".into(),
        BasicPublishOptions::default(),
        &envelope.encode_to_vec(),
        BasicProperties::default()
            .with_content_type("application/x-protobuf".into())
            .with_type("appeal.registered".into())
            .with_message_id(message_id.into())
            .with_delivery_mode(2),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let _ = conn.close(200, "published".into()).await;
}

/// Adds the identity metadata a registrar's client sends.
pub fn as_registrar<T>(message: T, user: &str) -> tonic::Request<T> {
    bakylau_testkit::auth::as_user(message, user, "registrar", None)
}

/// Waits until routing has a decision for the appeal (polling; the consumer is async).
pub async fn wait_decided(
    client: &mut RoutingServiceClient<bakylau_testkit::auth::AuthChannel>,
    appeal_id: &str,
) -> bakylau_proto::routing::v1::RoutingDecision {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = client
            .get_routing(bakylau_proto::routing::v1::GetRoutingRequest {
                appeal_id: appeal_id.to_owned(),
                registration_number: String::new(),
            })
            .await;
        match r {
            Ok(r) => return r.into_inner(),
            Err(s)
                if s.code() == tonic::Code::NotFound && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(s) => panic!("appeal {appeal_id} was not routed: {s}"),
        }
    }
}

/// Decodes an event payload.
pub fn payload<M: prost::Message + Default>(e: &bakylau_testkit::SeenEvent) -> M {
    M::decode(e.envelope.payload.as_slice()).unwrap()
}

/// Whether routing's inbox holds at least `n` message ids within 20 s.
pub async fn inbox_reaches(pool: &sqlx::PgPool, n: i64) -> bool {
    bakylau_testkit::eventually(Duration::from_secs(20), || async {
        let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
            .fetch_one(pool)
            .await
            .unwrap_or(0);
        seen >= n
    })
    .await
}
