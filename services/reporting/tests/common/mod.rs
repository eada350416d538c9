//! Starts reporting in-process against a fresh database and vhost, and publishes synthetic
//! events (built with bakylau-proto types) to that vhost's `bakylau.events`.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bakylau_platform::CancellationToken;
use bakylau_platform::health::Readiness;
use bakylau_proto::events::v1 as ev;
use bakylau_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use bakylau_reporting::settings::Settings;
use bakylau_testkit::TestEnv;
use chrono::{DateTime, Utc};
use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use prost::{Message, Name};

pub struct Running {
    pub env: TestEnv,
    pub addr: String,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    publisher: lapin::Channel,
    _conn: lapin::Connection,
}

impl Running {
    pub async fn client(&self) -> ReportingServiceClient<bakylau_testkit::auth::AuthChannel> {
        bakylau_testkit::auth::client(
            bakylau_testkit::auth::Role::Controller,
            ReportingServiceClient::new,
            self.addr.clone(),
        )
        .await
        .expect("connect to reporting")
        .max_decoding_message_size(64 * 1024 * 1024)
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&format!(
                "{}?options=-csearch_path%3Dreporting",
                self.env.database_url
            ))
            .await
            .expect("connect to test database")
    }

    /// Publishes an envelope as a producer's outbox relay would (message id = envelope id).
    pub async fn publish(&self, envelope: &ev::Envelope) {
        self.publish_with_id(envelope, &envelope.id).await;
    }

    pub async fn publish_with_id(&self, envelope: &ev::Envelope, message_id: &str) {
        let confirm = self
            .publisher
            .basic_publish(
                "bakylau.events".into(),
                envelope.r#type.as_str().into(),
                BasicPublishOptions::default(),
                &envelope.encode_to_vec(),
                BasicProperties::default()
                    .with_message_id(message_id.into())
                    .with_type(envelope.r#type.as_str().into())
                    .with_content_type("application/x-protobuf".into())
                    .with_delivery_mode(2),
            )
            .await
            .expect("publish");
        confirm.await.expect("confirm");
    }

    /// Events stored so far.
    pub async fn stored(&self, pool: &sqlx::PgPool) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(pool)
            .await
            .unwrap_or(0)
    }

    pub async fn wait_stored(&self, pool: &sqlx::PgPool, n: i64) {
        assert!(
            bakylau_testkit::eventually(Duration::from_secs(60), || async {
                self.stored(pool).await >= n
            })
            .await,
            "reporting did not store {n} events (has {})",
            self.stored(pool).await
        );
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
    s.reporting.spike_interval_secs = 0;
    s
}

pub async fn start() -> Running {
    let env = TestEnv::new().await.expect("test database and vhost");
    let settings = settings_for(&env);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bakylau_reporting::run(
        settings,
        listener,
        shutdown.clone(),
        Arc::new(Readiness::new()),
    ));
    wait_serving(&addr).await;
    let conn = env.amqp().await.expect("amqp");
    let publisher = conn.create_channel().await.expect("channel");
    publisher
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    Running {
        env,
        addr,
        shutdown,
        task,
        publisher,
        _conn: conn,
    }
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
    assert!(ok, "reporting did not become SERVING");
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }
}

pub fn envelope<M: Message + Name>(
    event_type: &str,
    subject: &str,
    at: DateTime<Utc>,
    m: &M,
) -> ev::Envelope {
    ev::Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.into(),
        occurred_at: Some(ts(at)),
        producer: "test".into(),
        subject: subject.into(),
        payload: m.encode_to_vec(),
        payload_type: M::full_name(),
    }
}

pub struct Appeal<'a> {
    pub id: &'a str,
    pub number: &'a str,
    pub district: &'a str,
    pub rural: &'a str,
    pub kind: &'a str,
    pub channel: &'a str,
    pub repeated: bool,
    pub collective: bool,
    pub text: &'a str,
    pub at: DateTime<Utc>,
}

impl Default for Appeal<'_> {
    fn default() -> Self {
        Self {
            id: "a",
            number: "ALM-2026-000001",
            district: "talgar",
            rural: "",
            kind: "application",
            channel: "electronic",
            repeated: false,
            collective: false,
            text: "Прошу отремонтировать дорогу",
            at: at("2026-03-10T05:00:00Z"),
        }
    }
}

pub fn registered(a: &Appeal) -> ev::Envelope {
    envelope(
        "appeal.registered",
        a.id,
        a.at,
        &ev::AppealRegistered {
            appeal_id: a.id.into(),
            registration_number: a.number.into(),
            registered_at: Some(ts(a.at)),
            received_at: Some(ts(a.at)),
            kind: a.kind.into(),
            channel: a.channel.into(),
            language: "ru".into(),
            collective: a.collective,
            repeated_of_appeal_id: if a.repeated {
                "earlier".into()
            } else {
                String::new()
            },
            locality: Some(ev::Locality {
                kato: String::new(),
                region: "almaty_region".into(),
                district: a.district.into(),
                rural_district: a.rural.into(),
            }),
            subject: String::new(),
            text: a.text.into(),
            ..Default::default()
        },
    )
}

pub fn routed(id: &str, category: &str, body: &str, at: DateTime<Utc>) -> ev::Envelope {
    envelope(
        "appeal.routed",
        id,
        at,
        &ev::AppealRouted {
            appeal_id: id.into(),
            category: category.into(),
            lead_executor: body.into(),
            ..Default::default()
        },
    )
}

pub fn assigned(id: &str, body: &str, due: &str, at: DateTime<Utc>) -> ev::Envelope {
    envelope(
        "appeal.assigned",
        id,
        at,
        &ev::AppealAssigned {
            appeal_id: id.into(),
            lead_executor: body.into(),
            due_date: due.into(),
            ..Default::default()
        },
    )
}

pub fn status(event_type: &str, id: &str, body: &str, at: DateTime<Utc>) -> ev::Envelope {
    envelope(
        event_type,
        id,
        at,
        &ev::AppealStatusChanged {
            appeal_id: id.into(),
            status: event_type.trim_start_matches("appeal.").into(),
            body: body.into(),
            ..Default::default()
        },
    )
}

pub fn instruction(
    event_type: &str,
    id: &str,
    executor: &str,
    due: &str,
    at: DateTime<Utc>,
) -> ev::Envelope {
    envelope(
        event_type,
        id,
        at,
        &ev::InstructionChanged {
            instruction_id: id.into(),
            number: format!("П-{id}"),
            issuer: "akim".into(),
            status: event_type.trim_start_matches("instruction.").into(),
            executors: vec![executor.into()],
            due_date: due.into(),
            ..Default::default()
        },
    )
}

pub fn reception(
    event_type: &str,
    booking: &str,
    district: &str,
    at: DateTime<Utc>,
) -> ev::Envelope {
    envelope(
        event_type,
        booking,
        at,
        &ev::ReceptionChanged {
            reception_id: "r1".into(),
            booking_id: booking.into(),
            official_id: "akim".into(),
            format: "in_person".into(),
            status: event_type.trim_start_matches("reception.").into(),
            starts_at: Some(ts(at)),
            district: district.into(),
            ..Default::default()
        },
    )
}

/// A period request.
pub fn period(from: &str, to: &str) -> Option<bakylau_proto::reporting::v1::Period> {
    Some(bakylau_proto::reporting::v1::Period {
        from_date: from.into(),
        to_date: to.into(),
    })
}

/// A small month of work in March 2026 (Asia/Almaty), through every kind of event:
/// talgar 2 appeals (1 repeated), ile 2 (1 collective, one re-routed), kegen 1 (never
/// routed); akimat.talgar answers one on time and one late (overdue, returned for rework),
/// akimat.ile answers on time; an instruction to akimat.talgar goes overdue; a reception is
/// booked and held in talgar; one event of a type reporting does not know.
pub async fn publish_march(r: &Running) -> i64 {
    let mut events = vec![
        registered(&Appeal {
            id: "a1",
            number: "ALM-2026-000001",
            district: "talgar",
            at: at("2026-03-02T05:00:00Z"),
            ..Default::default()
        }),
        routed(
            "a1",
            "roads_transport.road_repair",
            "akimat.talgar",
            at("2026-03-02T06:00:00Z"),
        ),
        assigned(
            "a1",
            "akimat.talgar",
            "2026-03-20",
            at("2026-03-02T07:00:00Z"),
        ),
        status(
            "appeal.answer_submitted",
            "a1",
            "akimat.talgar",
            at("2026-03-10T07:00:00Z"),
        ),
        status(
            "appeal.closed",
            "a1",
            "akimat.talgar",
            at("2026-03-12T07:00:00Z"),
        ),
        registered(&Appeal {
            id: "a2",
            number: "ALM-2026-000002",
            district: "talgar",
            repeated: true,
            kind: "complaint",
            at: at("2026-03-03T05:00:00Z"),
            ..Default::default()
        }),
        routed(
            "a2",
            "roads_transport",
            "akimat.talgar",
            at("2026-03-03T06:00:00Z"),
        ),
        assigned(
            "a2",
            "akimat.talgar",
            "2026-03-20",
            at("2026-03-03T07:00:00Z"),
        ),
        status(
            "appeal.overdue",
            "a2",
            "akimat.talgar",
            at("2026-03-21T01:00:00Z"),
        ),
        status(
            "appeal.answer_submitted",
            "a2",
            "akimat.talgar",
            at("2026-03-25T07:00:00Z"),
        ),
        status(
            "appeal.returned_for_rework",
            "a2",
            "akimat.talgar",
            at("2026-03-26T07:00:00Z"),
        ),
        status(
            "appeal.answer_submitted",
            "a2",
            "akimat.talgar",
            at("2026-03-28T07:00:00Z"),
        ),
        status(
            "appeal.closed",
            "a2",
            "akimat.talgar",
            at("2026-03-30T07:00:00Z"),
        ),
        registered(&Appeal {
            id: "a3",
            number: "ALM-2026-000003",
            district: "ile",
            collective: true,
            channel: "paper_post",
            text: "Нет воды",
            at: at("2026-03-04T05:00:00Z"),
            ..Default::default()
        }),
        routed(
            "a3",
            "housing_utilities.water_supply",
            "akimat.ile",
            at("2026-03-04T06:00:00Z"),
        ),
        assigned("a3", "akimat.ile", "2026-03-24", at("2026-03-04T07:00:00Z")),
        status(
            "appeal.answer_submitted",
            "a3",
            "akimat.ile",
            at("2026-03-15T07:00:00Z"),
        ),
        status(
            "appeal.closed",
            "a3",
            "akimat.ile",
            at("2026-03-16T07:00:00Z"),
        ),
        registered(&Appeal {
            id: "a4",
            number: "ALM-2026-000004",
            district: "ile",
            at: at("2026-03-05T05:00:00Z"),
            ..Default::default()
        }),
        routed(
            "a4",
            "roads_transport",
            "akimat.ile",
            at("2026-03-05T06:00:00Z"),
        ),
        routed(
            "a4",
            "housing_utilities",
            "dept.energy_housing",
            at("2026-03-05T08:00:00Z"),
        ),
        registered(&Appeal {
            id: "a5",
            number: "ALM-2026-000005",
            district: "kegen",
            at: at("2026-03-06T05:00:00Z"),
            ..Default::default()
        }),
        instruction(
            "instruction.issued",
            "i1",
            "akimat.talgar",
            "2026-03-15",
            at("2026-03-05T05:00:00Z"),
        ),
        instruction(
            "instruction.overdue",
            "i1",
            "akimat.talgar",
            "2026-03-15",
            at("2026-03-16T01:00:00Z"),
        ),
        instruction(
            "instruction.completed",
            "i1",
            "akimat.talgar",
            "2026-03-15",
            at("2026-03-20T05:00:00Z"),
        ),
        reception(
            "reception.booked",
            "b1",
            "talgar",
            at("2026-03-07T05:00:00Z"),
        ),
        reception("reception.held", "b1", "talgar", at("2026-03-14T05:00:00Z")),
    ];
    let mut unknown = envelope(
        "something.new",
        "x",
        at("2026-03-07T05:00:00Z"),
        &ev::AppealRouted::default(),
    );
    unknown.payload_type = "bakylau.events.v1.SomethingNew".into();
    events.push(unknown);
    for e in &events {
        r.publish(e).await;
    }
    events.len() as i64
}
