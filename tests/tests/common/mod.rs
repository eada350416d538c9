//! All five services in-process against one fresh database (a schema each, as in
//! production) and one fresh vhost, serving real gRPC on loopback ports.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bakylau_platform::CancellationToken;
use bakylau_platform::config::{BrokerSettings, DatabaseSettings, MetricsSettings};
use bakylau_platform::health::Readiness;
use bakylau_proto::intake::v1 as pb;
use bakylau_testkit::TestEnv;
use tokio::net::TcpListener;
use tonic::transport::Channel;

pub struct Stack {
    pub env: TestEnv,
    pub intake: String,
    pub routing: String,
    pub control: String,
    pub reception: String,
    pub reporting: String,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = format!("http://{}", l.local_addr().unwrap());
    (l, addr)
}

fn platform(env: &TestEnv) -> (DatabaseSettings, BrokerSettings, MetricsSettings) {
    let database = DatabaseSettings {
        url: env.database_url.clone(),
        max_connections: 8,
        ..Default::default()
    };
    let broker = BrokerSettings {
        url: env.amqp_url.clone(),
        retry_delays_ms: vec![200, 400],
        ..Default::default()
    };
    (
        database,
        broker,
        MetricsSettings {
            listen: String::new(),
        },
    )
}

impl Stack {
    pub async fn start() -> Stack {
        let env = TestEnv::new().await.expect("test database and vhost");
        Self::start_in(env).await
    }

    pub async fn start_in(env: TestEnv) -> Stack {
        let (database, broker, metrics) = platform(&env);
        let shutdown = CancellationToken::new();
        let (intake_l, intake) = listener().await;
        let (routing_l, routing) = listener().await;
        let (control_l, control) = listener().await;
        let (reception_l, reception) = listener().await;
        let (reporting_l, reporting) = listener().await;
        let mut tasks = Vec::new();

        let mut s = bakylau_intake::settings::Settings::default();
        bakylau_testkit::auth::secure(&mut s.grpc);
        (s.database, s.broker, s.metrics) = (database.clone(), broker.clone(), metrics.clone());
        tasks.push(tokio::spawn(bakylau_intake::run(
            s,
            intake_l,
            shutdown.clone(),
            Arc::new(Readiness::new()),
        )));

        let mut s = bakylau_routing::settings::Settings::default();
        bakylau_testkit::auth::secure(&mut s.grpc);
        (s.database, s.broker, s.metrics) = (database.clone(), broker.clone(), metrics.clone());
        tasks.push(tokio::spawn(bakylau_routing::run(
            s,
            routing_l,
            shutdown.clone(),
            Arc::new(Readiness::new()),
        )));

        let mut s = bakylau_control::settings::Settings::default();
        bakylau_testkit::auth::secure(&mut s.grpc);
        (s.database, s.broker, s.metrics) = (database.clone(), broker.clone(), metrics.clone());
        s.control.notifier.intake_addr = intake.clone();
        tasks.push(tokio::spawn(bakylau_control::run(
            s,
            control_l,
            shutdown.clone(),
            Arc::new(Readiness::new()),
        )));

        let mut s = bakylau_reception::settings::Settings::default();
        bakylau_testkit::auth::secure(&mut s.grpc);
        (s.database, s.broker, s.metrics) = (database.clone(), broker.clone(), metrics.clone());
        s.reception.intake_addr = intake.clone();
        s.reception.control_addr = control.clone();
        // The next free slot may be days ahead (a test run in the evening); let the visitor
        // check in now, as reception's own tests do.
        s.reception.holding.check_in_opens_minutes = 60 * 24 * 60;
        tasks.push(tokio::spawn(bakylau_reception::run(
            s,
            reception_l,
            shutdown.clone(),
            Arc::new(Readiness::new()),
        )));

        let mut s = bakylau_reporting::settings::Settings::default();
        bakylau_testkit::auth::secure(&mut s.grpc);
        (s.database, s.broker, s.metrics) = (database, broker, metrics);
        tasks.push(tokio::spawn(bakylau_reporting::run(
            s,
            reporting_l,
            shutdown.clone(),
            Arc::new(Readiness::new()),
        )));

        let mut stack = Stack {
            env,
            intake,
            routing,
            control,
            reception,
            reporting,
            shutdown,
            tasks,
        };
        const NAMES: [&str; 5] = ["intake", "routing", "control", "reception", "reporting"];
        let addrs: Vec<String> = stack.addrs().iter().map(|a| a.to_string()).collect();
        for (i, addr) in addrs.iter().enumerate() {
            if !serving_within(addr, Duration::from_secs(90)).await {
                let task = stack.tasks.swap_remove(i);
                let state = if task.is_finished() {
                    match task.await {
                        Ok(Err(e)) => format!("it stopped: {e:#}"),
                        other => format!("it stopped: {other:?}"),
                    }
                } else {
                    "it is still starting".to_owned()
                };
                panic!("{} at {addr} did not become SERVING; {state}", NAMES[i]);
            }
        }
        stack
    }

    pub fn addrs(&self) -> [&str; 5] {
        [
            &self.intake,
            &self.routing,
            &self.control,
            &self.reception,
            &self.reporting,
        ]
    }

    pub async fn stop(self) -> TestEnv {
        self.shutdown.cancel();
        for t in self.tasks {
            match tokio::time::timeout(Duration::from_secs(15), t).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => panic!("a service stopped with an error: {e:#}"),
                Ok(Err(e)) => panic!("a service panicked: {e}"),
                Err(_) => panic!("a service did not stop within 15 s"),
            }
        }
        self.env
    }

    /// A pool on `schema` of the test database, to check a service's own records.
    pub async fn pool(&self, schema: &str) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&format!(
                "{}?options=-csearch_path%3D{schema}",
                self.env.database_url
            ))
            .await
            .expect("connect to the test database")
    }
}

pub async fn channel(addr: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(addr.to_owned())
        .expect("an address")
        .connect()
        .await
        .expect("connect")
}

/// A request as a person in `role` of `body` makes it.
pub fn as_caller<T>(message: T, user: &str, role: &str, body: Option<&str>) -> tonic::Request<T> {
    bakylau_testkit::auth::as_user(message, user, role, body)
}

pub async fn serving_within(addr: &str, timeout: Duration) -> bool {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    bakylau_testkit::eventually(timeout, || async {
        let Ok(endpoint) = tonic::transport::Endpoint::from_shared(addr.to_owned()) else {
            return false;
        };
        let Ok(ch) = endpoint.connect().await else {
            return false;
        };
        HealthClient::new(ch)
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32)
    })
    .await
}

/// A valid IIN (born 1 Jan 1990) that varies with `serial`.
pub fn valid_iin(serial: u32) -> String {
    (serial..)
        .find_map(|s| {
            bakylau_intake::domain::identity::with_check_digit(&format!("9001013{:04}", s % 10_000))
        })
        .expect("some serial has a check digit")
}

/// A road-repair complaint from Talgar (the district's akimat leads it), registered in
/// person.
pub fn road_complaint(iin: String) -> pb::RegisterAppealRequest {
    pb::RegisterAppealRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        kind: pb::AppealKind::Application as i32,
        channel: pb::Channel::PaperInPerson as i32,
        language: pb::Language::Ru as i32,
        applicant: Some(pb::Applicant {
            party: Some(pb::applicant::Party::Individual(pb::Individual {
                iin,
                full_name: "Сапарова Айгерім".into(),
                phone: "+77015550000".into(),
                email: String::new(),
                address: "Талгар, Абай 1".into(),
            })),
        }),
        locality: Some(pb::Locality {
            district: "talgar".into(),
            ..Default::default()
        }),
        subject: "Ремонт дороги".into(),
        text: "Прошу отремонтировать дорогу по улице Абая в городе Талгар: сплошные ямы, \
               разбитый асфальт, после дождя не проехать."
            .into(),
        received_by: Some(pb::Officer {
            full_name: "Registrar".into(),
            position: "specialist".into(),
        }),
        ..Default::default()
    }
}
