//! Starts intake in-process against a fresh database and vhost, serving real gRPC on a
//! loopback port.
#![allow(dead_code)]

pub mod amqp;

use std::sync::Arc;
use std::time::Duration;

use bakylau_intake::settings::Settings;
use bakylau_platform::CancellationToken;
use bakylau_platform::health::Readiness;
use bakylau_proto::intake::v1 as pb;
use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use bakylau_testkit::TestEnv;
use tonic::transport::Channel;

pub struct Running {
    pub env: TestEnv,
    pub addr: String,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn client(&self) -> IntakeServiceClient<bakylau_testkit::auth::AuthChannel> {
        bakylau_testkit::auth::client(
            bakylau_testkit::auth::Role::Registrar,
            IntakeServiceClient::new,
            self.addr.clone(),
        )
        .await
        .expect("connect to intake")
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&format!(
                "{}?options=-csearch_path%3Dintake",
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
    s.grpc.max_message_bytes = 4 * 1024 * 1024;
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
    let task = tokio::spawn(bakylau_intake::run(
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

pub async fn wait_serving(addr: &str) {
    assert!(
        serving_within(addr, true, Duration::from_secs(30)).await,
        "intake did not become SERVING"
    );
}

/// True when the health probe (`""`) reports SERVING (or, with `serving` false, anything
/// else, including no answer) within `timeout`.
pub async fn serving_within(addr: &str, serving: bool, timeout: Duration) -> bool {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    bakylau_testkit::eventually(timeout, || async {
        let Ok(ch) = channel(addr).await else {
            return !serving;
        };
        let status = HealthClient::new(ch)
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status);
        status.is_ok_and(|s| s == ServingStatus::Serving as i32) == serving
    })
    .await
}

pub fn individual(serial: u32) -> pb::Applicant {
    pb::Applicant {
        party: Some(pb::applicant::Party::Individual(pb::Individual {
            iin: test_iin(serial),
            full_name: "Сапарова Айгерім".into(),
            phone: "+77015550000".into(),
            email: String::new(),
            address: "Талгар қ., Абай к-сі 1".into(),
        })),
    }
}

pub fn request(serial: u32, text: &str) -> pb::RegisterAppealRequest {
    pb::RegisterAppealRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        kind: pb::AppealKind::Application as i32,
        channel: pb::Channel::PaperInPerson as i32,
        language: pb::Language::Ru as i32,
        applicant: Some(individual(serial)),
        locality: Some(pb::Locality {
            kato: String::new(),
            region: "Алматинская".into(),
            district: "talgar".into(),
            rural_district: String::new(),
        }),
        subject: "Дорога".into(),
        text: text.into(),
        received_by: Some(pb::Officer {
            full_name: "Registrar One".into(),
            position: "chief specialist".into(),
        }),
        ..Default::default()
    }
}

pub async fn channel(addr: &str) -> Result<Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(addr.to_owned())?
        .connect()
        .await
}

/// A valid IIN for tests: born 1 Jan 1990, the serial varied until a check digit exists.
pub fn test_iin(serial: u32) -> String {
    (serial..)
        .find_map(|s| {
            bakylau_intake::domain::identity::with_check_digit(&format!("9001013{:04}", s % 10_000))
        })
        .expect("some serial has a check digit")
}
