//! Starts reception (and, for end-to-end tests, intake) in-process against a fresh database
//! and vhost, serving real gRPC on loopback ports.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bakylau_platform::CancellationToken;
use bakylau_platform::health::Readiness;
use bakylau_proto::reception::v1 as pb;
use bakylau_proto::reception::v1::reception_service_client::ReceptionServiceClient;
use bakylau_reception::settings::Settings;
use bakylau_testkit::TestEnv;
use tonic::transport::Channel;

pub type Client = ReceptionServiceClient<bakylau_testkit::auth::AuthChannel>;

pub struct Running {
    pub addr: String,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn client(&self) -> Client {
        bakylau_testkit::auth::wrap(
            bakylau_testkit::auth::Role::Controller,
            ReceptionServiceClient::new,
            channel(&self.addr).await.expect("connect to reception"),
        )
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

pub fn settings_for(env: &TestEnv) -> Settings {
    let mut s = Settings::default();
    bakylau_testkit::auth::secure(&mut s.grpc);
    s.database.url = env.database_url.clone();
    s.database.max_connections = 20;
    s.broker.url = env.amqp_url.clone();
    s.broker.retry_delays_ms = vec![200, 400];
    s.metrics.listen = String::new();
    // Slots are in the future, so tests hold receptions "early": check-in opens and
    // no-shows may be marked any time within the publication horizon.
    s.reception.holding.check_in_opens_minutes = 60 * 24 * 60;
    s.reception.holding.no_show_after_minutes = -60 * 24 * 60;
    s.reception.sweep_interval_ms = 1_000;
    s
}

pub async fn start(env: &TestEnv) -> Running {
    start_with(settings_for(env)).await
}

pub async fn start_with(settings: Settings) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bakylau_reception::run(
        settings,
        listener,
        shutdown.clone(),
        Arc::new(Readiness::new()),
    ));
    wait_serving(&addr).await;
    Running {
        addr,
        shutdown,
        task,
    }
}

/// Starts intake on the same database (its own schema) and vhost.
pub async fn start_intake(env: &TestEnv) -> Running {
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
    Running {
        addr,
        shutdown,
        task,
    }
}

/// Starts the real control service on the same database (its own schema) and vhost.
pub async fn start_control(env: &TestEnv) -> Running {
    let mut s = bakylau_control::settings::Settings::default();
    bakylau_testkit::auth::secure(&mut s.grpc);
    s.database.url = env.database_url.clone();
    s.broker.url = env.amqp_url.clone();
    s.broker.retry_delays_ms = vec![200, 400];
    s.metrics.listen = String::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bakylau_control::run(
        s,
        listener,
        shutdown.clone(),
        Arc::new(Readiness::new()),
    ));
    wait_serving(&addr).await;
    Running {
        addr,
        shutdown,
        task,
    }
}

pub async fn wait_serving(addr: &str) {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let up = bakylau_testkit::eventually(Duration::from_secs(60), || async {
        let Ok(ch) = channel(addr).await else {
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
    assert!(up, "{addr} did not become SERVING");
}

pub async fn channel(addr: &str) -> Result<Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(addr.to_owned())?
        .connect()
        .await
}

pub async fn pool(env: &TestEnv) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&format!(
            "{}?options=-csearch_path%3Dreception",
            env.database_url
        ))
        .await
        .expect("connect to test database")
}

pub const OFFICIAL: &str = "test.health_head";

/// An official who receives every day of the week 09:00-18:00 in 30-minute slots, so a
/// free slot exists whatever day the test runs (days off of the calendar still have none).
pub async fn setup_official(client: &mut Client, id: &str) {
    client
        .save_official(pb::SaveOfficialRequest {
            official: Some(pb::Official {
                id: id.into(),
                full_name: "Test Official".into(),
                position: "Head of the Department of Health".into(),
                kind: "subdivision_head".into(),
                body: "dept.health".into(),
                district: String::new(),
                topics: vec!["health".into()],
                supervisor_id: "deputy_akim.social".into(),
                active: true,
            }),
        })
        .await
        .expect("save official");
    client
        .set_schedule(pb::SetScheduleRequest {
            official_id: id.into(),
            weekly: (1..=7)
                .map(|weekday| pb::WeeklyHours {
                    weekday,
                    start: "09:00".into(),
                    end: "18:00".into(),
                    slot_minutes: 30,
                    format: "in_person".into(),
                    kind: "personal".into(),
                    venue: Some(pb::Venue {
                        room: "Room 1".into(),
                        ..Default::default()
                    }),
                })
                .collect(),
            publish_days_ahead: 30,
        })
        .await
        .expect("set schedule");
}

/// Free slots starting at least 15 minutes from now, so none begins while a test uses it.
pub async fn free_slots(client: &mut Client, official: &str) -> Vec<pb::Slot> {
    let soon = chrono::Utc::now().timestamp() + 15 * 60;
    client
        .list_slots(pb::ListSlotsRequest {
            official_id: official.into(),
            free_only: true,
            ..Default::default()
        })
        .await
        .expect("list slots")
        .into_inner()
        .slots
        .into_iter()
        .filter(|s| s.starts_at.as_ref().is_some_and(|t| t.seconds > soon))
        .collect()
}

/// A valid IIN: born 1 Jan 1990, the serial varied until a check digit exists.
pub fn iin(serial: u32) -> String {
    (serial..)
        .find_map(|s| {
            bakylau_reception::domain::identity::with_check_digit(&format!(
                "9001013{:04}",
                s % 10_000
            ))
        })
        .expect("some serial has a check digit")
}

pub fn book_request(slot_id: &str, serial: u32) -> pb::BookRequest {
    pb::BookRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        slot_id: slot_id.into(),
        visitor: Some(pb::Visitor {
            full_name: "Сапарова Айгерім".into(),
            iin: iin(serial),
            phone: "+77015550000".into(),
            organisation: String::new(),
        }),
        issue: "Не хватает мест в больнице".into(),
        category: "health.hospital_care".into(),
        earlier_appeal: String::new(),
        participants: Vec::new(),
        language: "ru".into(),
        district: "talgar".into(),
    }
}

/// The field names of a `google.rpc.BadRequest` in an INVALID_ARGUMENT status.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}
