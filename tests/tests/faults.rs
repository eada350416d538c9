//! Faults under load (issue 9). Appeals stream into intake at a steady rate while, one after
//! another: each service is killed with `kill -9` and started again; RabbitMQ's application
//! is stopped and started (`stop_app` / `start_app`), then the whole node is restarted;
//! PostgreSQL is restarted; poison messages are put into two consumers' queues; a second
//! replica of every service joins. Afterwards the services' own databases must show every
//! registration the client saw acknowledged assigned exactly once, no event applied twice,
//! no outbox row unpublished, nothing left in a queue, and only the poison parked.
//!
//! Everything runs on a private PostgreSQL cluster and a private RabbitMQ node (other tests
//! use the shared ones meanwhile), with the services as real processes from the target
//! folder (`cargo test --workspace` builds them; `deploy/local/faults.sh` runs the long form).
//!
//! Knobs (environment): `BAKYLAU_FAULTS_RATE` appeals/s (15: a debug build on a
//! small CI machine), `BAKYLAU_FAULTS_PHASE_SECS`
//! load per fault (8), `BAKYLAU_FAULTS_OUTAGE_SECS` how long a killed service or stopped
//! server stays down (2), `BAKYLAU_FAULTS_REPLICAS` replicas of each service from the start
//! (1; the last phase adds one more of each).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bakylau_load::{AppealFactory, LoadPlan};
use bakylau_proto::events::v1 as ev;
use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use bakylau_testkit::private::{PrivatePostgres, PrivateRabbit, free_port};
use bakylau_testkit::process::ServiceProcess;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::AMQPValue;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use prost::Message as _;
use sqlx::PgPool;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const SERVICES: [&str; 5] = ["intake", "routing", "control", "reception", "reporting"];
const DATABASE: &str = "bakylau";
/// The poison messages and the queues they are put into.
const POISON_PERMANENT_QUEUE: &str = "routing.appeals";
const POISON_TRANSIENT_QUEUE: &str = "control.appeals";
/// Retry back-off of every consumer in this suite (shorter than production's, same shape).
const RETRY_DELAYS_MS: &str = "200,400,800";

struct Knobs {
    rate: f64,
    phase: Duration,
    outage: Duration,
    replicas: usize,
    /// How long a fault may take to recover before the suite fails.
    recovery_limit: Duration,
}

fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Knobs {
    fn from_env() -> Self {
        Self {
            rate: knob("BAKYLAU_FAULTS_RATE", 15.0),
            phase: Duration::from_secs_f64(knob("BAKYLAU_FAULTS_PHASE_SECS", 8.0)),
            outage: Duration::from_secs_f64(knob("BAKYLAU_FAULTS_OUTAGE_SECS", 2.0)),
            replicas: knob("BAKYLAU_FAULTS_REPLICAS", 1usize).max(1),
            recovery_limit: Duration::from_secs_f64(knob("BAKYLAU_FAULTS_RECOVERY_SECS", 90.0)),
        }
    }
}

/// The one place gRPC clients are built (a bearer token goes here when calls need one).
fn grpc_channel(addr: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(addr.to_owned())
        .expect("a valid address")
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(10))
        .connect_lazy()
}

async fn serving(addr: &str) -> bool {
    let mut health = HealthClient::new(grpc_channel(addr));
    let request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    matches!(
        tokio::time::timeout(Duration::from_secs(1), health.check(request)).await,
        Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32
    )
}

struct Replica {
    service: &'static str,
    index: usize,
    addr: String,
    process: Option<ServiceProcess>,
}

/// The services as processes on the private servers.
struct Fleet {
    // Dropped first: the services stop before the servers they use.
    replicas: Vec<Replica>,
    pg: PrivatePostgres,
    mq: PrivateRabbit,
    logs: PathBuf,
}

impl Fleet {
    fn env(&self, service: &str, addr: &str) -> Vec<(String, String)> {
        let p = format!("BAKYLAU_{}__", service.to_uppercase());
        let intake = self.first_addr("intake");
        let control = self.first_addr("control");
        let mut env = vec![
            (format!("{p}DATABASE__URL"), self.pg.url(DATABASE)),
            (format!("{p}DATABASE__MAX_CONNECTIONS"), "8".into()),
            (format!("{p}BROKER__URL"), self.mq.amqp_url()),
            (
                format!("{p}BROKER__RETRY_DELAYS_MS"),
                RETRY_DELAYS_MS.into(),
            ),
            (
                format!("{p}GRPC__LISTEN"),
                addr.trim_start_matches("http://").into(),
            ),
            (format!("{p}METRICS__LISTEN"), "127.0.0.1:0".into()),
            // Per-appeal info logs of ten processes would cost this small machine's CPU.
            ("RUST_LOG".into(), "warn".into()),
        ];
        match service {
            // The load comes from one client: lift intake's per-caller registration limit.
            "intake" => env.push((format!("{p}INTAKE__REGISTER_RATE__PER_SECOND"), "0".into())),
            "control" => env.push((format!("{p}CONTROL__NOTIFIER__INTAKE_ADDR"), intake)),
            "reception" => {
                env.push((format!("{p}RECEPTION__INTAKE_ADDR"), intake));
                env.push((format!("{p}RECEPTION__CONTROL_ADDR"), control));
            }
            _ => {}
        }
        env
    }

    fn first_addr(&self, service: &str) -> String {
        self.replicas
            .iter()
            .find(|r| r.service == service)
            .map(|r| r.addr.clone())
            .unwrap_or_default()
    }

    fn add_replica(&mut self, service: &'static str) -> usize {
        let index = self
            .replicas
            .iter()
            .filter(|r| r.service == service)
            .count();
        // Below the ephemeral range (free_port), and none another replica already has.
        let addr = loop {
            let addr = format!("http://127.0.0.1:{}", free_port().expect("a port"));
            if self.replicas.iter().all(|r| r.addr != addr) {
                break addr;
            }
        };
        self.replicas.push(Replica {
            service,
            index,
            addr,
            process: None,
        });
        self.replicas.len() - 1
    }

    fn spawn(&mut self, i: usize) {
        let r = &self.replicas[i];
        let env = self.env(r.service, &r.addr);
        let name = format!("{}-{}", r.service, r.index);
        let p = ServiceProcess::spawn_as(r.service, &name, &env, &self.logs)
            .unwrap_or_else(|e| panic!("starting {name}: {e:#}"));
        self.replicas[i].process = Some(p);
    }

    fn kill9(&mut self, service: &str) -> Vec<usize> {
        let mut killed = Vec::new();
        for (i, r) in self.replicas.iter_mut().enumerate() {
            if r.service == service
                && let Some(p) = r.process.as_mut()
            {
                p.kill9();
                r.process = None;
                killed.push(i);
            }
        }
        killed
    }

    async fn all_serving(&self) -> bool {
        for r in &self.replicas {
            if !serving(&r.addr).await {
                return false;
            }
        }
        true
    }

    async fn wait_serving(&self, limit: Duration) {
        let end = Instant::now() + limit;
        while !self.all_serving().await {
            if Instant::now() > end {
                let down: Vec<String> = {
                    let mut v = Vec::new();
                    for r in &self.replicas {
                        if !serving(&r.addr).await {
                            v.push(format!("{}-{}", r.service, r.index));
                        }
                    }
                    v
                };
                panic!(
                    "not SERVING after {limit:?}: {down:?}; logs in {}",
                    self.logs.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Every registration the client saw acknowledged, with when it was acknowledged.
#[derive(Default)]
struct Ledger {
    acked: Vec<(String, Instant)>,
    sent: u64,
    failed: u64,
}

struct Phase {
    fault: String,
    down_for: Option<Duration>,
    recovered_in: Option<Duration>,
    sent: u64,
    acked: u64,
    failed: u64,
}

/// Appeals at `rate` until the task is aborted; acknowledged ones go into the ledger, the
/// counts of calls made and refused about every second.
async fn load(intake: String, rate: f64, seed: u64, ledger: Arc<Mutex<Ledger>>) {
    let client = IntakeServiceClient::new(bakylau_testkit::auth::authed(
        grpc_channel(&intake),
        bakylau_testkit::auth::Role::Registrar,
    ));
    let factory = Arc::new(AppealFactory::routable(seed).expect("the corpus loads"));
    let on_accepted = {
        let ledger = ledger.clone();
        Arc::new(move |id: &str, _started: Instant| {
            ledger
                .lock()
                .expect("not poisoned")
                .acked
                .push((id.to_owned(), Instant::now()));
        })
    };
    let plan = LoadPlan {
        rate: Some(rate),
        // Ended by the suite when the last fault has been measured.
        duration: Duration::from_secs(24 * 3600),
        concurrency: 64,
    };
    bakylau_load::run(client, factory, plan, on_accepted, |p| {
        let mut l = ledger.lock().expect("not poisoned");
        l.sent = p.sent;
        l.failed = p.failed;
    })
    .await;
}

/// Pools on each service's schema of the private database.
struct Schemas {
    pool: PgPool,
}

impl Schemas {
    async fn connect(pg: &PrivatePostgres) -> Self {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(2))
            .connect(&pg.url(DATABASE))
            .await
            .expect("the private database");
        Self { pool }
    }

    /// Whether one of `ids` is assigned in control and its `appeal.assigned` applied by
    /// reporting: the whole way through the pipeline works.
    async fn any_through(&self, ids: &[String]) -> bool {
        if ids.is_empty() {
            return false;
        }
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT 1 FROM control.assignments a
                 JOIN reporting.events e ON e.subject = a.appeal_id::text
                                        AND e.event_type = 'appeal.assigned'
                 WHERE a.lead AND a.appeal_id = ANY($1::uuid[]))",
        )
        .bind(ids)
        .fetch_one(&self.pool)
        .await
        .unwrap_or(false)
    }

    async fn pending_outbox(&self) -> Result<BTreeMap<&'static str, i64>, sqlx::Error> {
        let mut out = BTreeMap::new();
        for s in SERVICES {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {s}.outbox WHERE sent_at IS NULL AND abandoned_at IS NULL"
            )))
            .fetch_one(&self.pool)
            .await?;
            out.insert(s, n);
        }
        Ok(out)
    }
}

/// Waits, after a fault was undone at `restored`, until every replica serves and an appeal
/// acknowledged after `restored` has gone all the way through.
async fn recovery(
    fleet: &Fleet,
    db: &Schemas,
    ledger: &Arc<Mutex<Ledger>>,
    restored: Instant,
    limit: Duration,
) -> Option<Duration> {
    let end = restored + limit;
    loop {
        let ids: Vec<String> = {
            let l = ledger.lock().expect("not poisoned");
            l.acked
                .iter()
                .rev()
                .take_while(|(_, at)| *at > restored)
                .map(|(id, _)| id.clone())
                .collect()
        };
        if fleet.all_serving().await && db.any_through(&ids).await {
            return Some(restored.elapsed());
        }
        if Instant::now() > end {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ts(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

fn envelope(kind: &str, subject: &str, payload: Vec<u8>) -> ev::Envelope {
    ev::Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: kind.into(),
        occurred_at: Some(ts(chrono::Utc::now())),
        producer: "faults-suite".into(),
        subject: subject.into(),
        payload,
        ..Default::default()
    }
}

/// Two well-formed envelopes whose payloads break their consumer's rules, put straight into
/// the consumers' queues:
/// - routing: `appeal.registered` whose appeal id is not a UUID, a permanent fault: parked
///   at once;
/// - control: `appeal.routed` registered in 2099, a year the working-day calendar does not
///   cover (reg 5.3 counts the period in working days): transient, since an operator may
///   load that year, so retried with back-off and then parked.
async fn inject_poison(amqp_url: &str) {
    let conn = Connection::connect(amqp_url, ConnectionProperties::default())
        .await
        .expect("the private broker");
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let registered = ev::AppealRegistered {
        appeal_id: "poison-not-a-uuid".into(),
        registration_number: "POISON-0001".into(),
        registered_at: Some(ts(chrono::Utc::now())),
        ..Default::default()
    };
    let far = chrono::DateTime::parse_from_rfc3339("2099-06-01T05:00:00Z")
        .unwrap()
        .to_utc();
    let poison_id = uuid::Uuid::now_v7().to_string();
    let routed = ev::AppealRouted {
        appeal_id: poison_id.clone(),
        registration_number: "POISON-0002".into(),
        category: "roads_transport.road_repair".into(),
        lead_executor: "akimat.talgar".into(),
        decided_by: "rule:faults-suite".into(),
        kind: "application".into(),
        registered_at: Some(ts(far)),
        sequence: 1,
        ..Default::default()
    };
    for (queue, env) in [
        (
            POISON_PERMANENT_QUEUE,
            envelope(
                "appeal.registered",
                "poison-not-a-uuid",
                registered.encode_to_vec(),
            ),
        ),
        (
            POISON_TRANSIENT_QUEUE,
            envelope("appeal.routed", &poison_id, routed.encode_to_vec()),
        ),
    ] {
        let props = BasicProperties::default()
            .with_message_id(env.id.as_str().into())
            .with_type(env.r#type.as_str().into())
            .with_content_type(bakylau_platform::broker::CONTENT_TYPE_PROTOBUF.into())
            .with_delivery_mode(2);
        // The default exchange delivers to the queue named by the routing key.
        let confirm = ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &env.encode_to_vec(),
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack(), "poison for {queue} confirmed");
    }
    let _ = conn.close(200, "poison injected".into()).await;
}

fn depth(depths: &[(String, u64)], queue: &str) -> u64 {
    depths
        .iter()
        .find(|(q, _)| q == queue)
        .map(|(_, n)| *n)
        .unwrap_or(0)
}

/// Takes the parked messages of `queue` and returns their park reasons and attempts.
async fn parked(amqp_url: &str, queue: &str) -> Vec<(String, u32)> {
    let conn = Connection::connect(amqp_url, ConnectionProperties::default())
        .await
        .expect("the private broker");
    let ch = conn.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(msg) = ch
        .basic_get(queue.into(), BasicGetOptions::default())
        .await
        .unwrap()
    {
        let headers = msg
            .delivery
            .properties
            .headers()
            .clone()
            .unwrap_or_default();
        let get = |k: &str| headers.inner().get(k).cloned();
        let reason = get(bakylau_platform::broker::headers::PARK_REASON)
            .and_then(|v| bakylau_platform::telemetry::amqp_string(&v))
            .unwrap_or_default();
        let attempt = match get(bakylau_platform::broker::headers::ATTEMPT) {
            Some(AMQPValue::LongInt(n)) => n as u32,
            Some(AMQPValue::LongUInt(n)) => n,
            Some(AMQPValue::ShortInt(n)) => n as u32,
            Some(AMQPValue::ShortUInt(n)) => u32::from(n),
            Some(AMQPValue::LongLongInt(n)) => n as u32,
            Some(other) => bakylau_platform::telemetry::amqp_string(&other)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            None => 0,
        };
        msg.delivery.ack(BasicAckOptions::default()).await.unwrap();
        out.push((reason, attempt));
    }
    let _ = conn.close(200, "parked read".into()).await;
    out
}

fn fmt_secs(d: Option<Duration>) -> String {
    d.map_or("—".into(), |d| format!("{:.1} s", d.as_secs_f64()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pipeline_recovers_from_every_fault_under_load() {
    let knobs = Knobs::from_env();
    let started = Instant::now();
    // Both servers boot at once: RabbitMQ takes seconds on a busy machine.
    let (pg, mq) = tokio::join!(
        tokio::task::spawn_blocking(PrivatePostgres::start),
        tokio::task::spawn_blocking(PrivateRabbit::start)
    );
    let pg = pg.unwrap().expect("a private PostgreSQL cluster");
    let mut mq = Some(mq.unwrap().expect("a private RabbitMQ node"));
    pg.create_database(DATABASE).await.unwrap();
    let logs =
        std::env::temp_dir().join(format!("bakylau-faults-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&logs).unwrap();
    eprintln!(
        "faults: private postgres :{}, rabbitmq {} :{}, service logs in {}",
        pg.port,
        mq.as_ref().unwrap().node,
        mq.as_ref().unwrap().port,
        logs.display()
    );
    let mut fleet = Fleet {
        pg,
        mq: mq.take().unwrap(),
        logs,
        replicas: Vec::new(),
    };
    for _ in 0..knobs.replicas {
        for s in SERVICES {
            fleet.add_replica(s);
        }
    }
    // Intake first: the others call it. Replicas of one service start together, so they
    // also race on their migrations.
    for i in 0..fleet.replicas.len() {
        fleet.spawn(i);
    }
    fleet.wait_serving(Duration::from_secs(120)).await;
    let db = Schemas::connect(&fleet.pg).await;
    eprintln!(
        "faults: stack up after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let intake_addr = fleet.first_addr("intake");
    let amqp_url = fleet.mq.amqp_url();
    let mut phases: Vec<Phase> = Vec::new();
    let faults: Vec<String> = ["steady (no fault)"]
        .into_iter()
        .map(String::from)
        .chain(SERVICES.iter().map(|s| format!("kill -9 {s}")))
        .chain(
            [
                "rabbitmq stop_app/start_app",
                "rabbitmq full restart",
                "postgresql restart",
                "poison messages",
                "second replica of each service",
            ]
            .map(String::from),
        )
        .collect();

    let load_task = tokio::spawn(load(intake_addr.clone(), knobs.rate, 7, ledger.clone()));
    let counts = |ledger: &Arc<Mutex<Ledger>>| {
        let l = ledger.lock().unwrap();
        let acked = l.acked.len() as u64;
        // `sent` and `failed` come from the last progress report (at most a second old).
        (l.sent.max(acked + l.failed), acked, l.failed)
    };
    for fault in &faults {
        let phase_started = Instant::now();
        let before = counts(&ledger);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let injected = Instant::now();
        let mut down_for = None;
        // Undo the fault; `restored` is when the system was given back what it needs.
        let restored = match fault.as_str() {
            "steady (no fault)" => Instant::now(),
            f if f.starts_with("kill -9 ") => {
                let service = f.trim_start_matches("kill -9 ");
                let killed = fleet.kill9(service);
                tokio::time::sleep(knobs.outage).await;
                for i in killed {
                    fleet.spawn(i);
                }
                down_for = Some(injected.elapsed());
                Instant::now()
            }
            "rabbitmq stop_app/start_app" => {
                tokio::task::block_in_place(|| fleet.mq.stop_app()).expect("stop_app");
                tokio::time::sleep(knobs.outage).await;
                tokio::task::block_in_place(|| fleet.mq.start_app()).expect("start_app");
                down_for = Some(injected.elapsed());
                Instant::now()
            }
            "rabbitmq full restart" => {
                tokio::task::block_in_place(|| fleet.mq.stop()).expect("rabbitmqctl stop");
                tokio::time::sleep(knobs.outage).await;
                // Booting takes seconds; the load keeps running on the other workers.
                tokio::task::block_in_place(|| fleet.mq.start_again())
                    .expect("RabbitMQ starts again");
                down_for = Some(injected.elapsed());
                Instant::now()
            }
            "postgresql restart" => {
                tokio::task::block_in_place(|| fleet.pg.stop()).expect("pg_ctl stop");
                tokio::time::sleep(knobs.outage).await;
                tokio::task::block_in_place(|| fleet.pg.start_again()).expect("pg_ctl start");
                down_for = Some(injected.elapsed());
                Instant::now()
            }
            "poison messages" => {
                inject_poison(&amqp_url).await;
                Instant::now()
            }
            "second replica of each service" => {
                for s in SERVICES {
                    let i = fleet.add_replica(s);
                    fleet.spawn(i);
                }
                Instant::now()
            }
            other => unreachable!("{other}"),
        };
        let mut recovered_in = recovery(&fleet, &db, &ledger, restored, knobs.recovery_limit).await;
        if fault == "poison messages" {
            // Recovered once both are parked (the flow went on meanwhile, checked above).
            let end = restored + knobs.recovery_limit;
            loop {
                let d = fleet.mq.queue_depths().unwrap_or_default();
                if depth(&d, &format!("{POISON_PERMANENT_QUEUE}.parked")) >= 1
                    && depth(&d, &format!("{POISON_TRANSIENT_QUEUE}.parked")) >= 1
                {
                    recovered_in = recovered_in.map(|r| r.max(restored.elapsed()));
                    break;
                }
                if Instant::now() > end {
                    recovered_in = None;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        // Each phase lasts at least its time; a slow recovery lengthens it.
        tokio::time::sleep_until((phase_started + knobs.phase).into()).await;
        let after = counts(&ledger);
        let phase = Phase {
            fault: fault.clone(),
            down_for,
            recovered_in,
            sent: after.0 - before.0,
            acked: after.1 - before.1,
            failed: after.2 - before.2,
        };
        eprintln!(
            "faults: {:<32} down {:>7} recovered in {:>7}  sent {} acked {} failed {}",
            phase.fault,
            fmt_secs(phase.down_for),
            fmt_secs(phase.recovered_in),
            phase.sent,
            phase.acked,
            phase.failed
        );
        assert!(
            phase.recovered_in.is_some(),
            "{fault}: not recovered within {:?}; logs in {}",
            knobs.recovery_limit,
            fleet.logs.display()
        );
        phases.push(phase);
    }

    load_task.abort();
    let _ = load_task.await;
    let (sent, _, failed) = counts(&ledger);
    // Drain: every acknowledged appeal reaches its outcome, outboxes and queues empty.
    let acked: Vec<String> = ledger
        .lock()
        .unwrap()
        .acked
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    let unique: HashSet<&String> = acked.iter().collect();
    assert_eq!(
        unique.len(),
        acked.len(),
        "two acknowledgements named one appeal"
    );
    let drain_started = Instant::now();
    let settled = bakylau_testkit::eventually(Duration::from_secs(120), || async {
        let outcomes: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM routing.decisions d
              WHERE d.appeal_id = ANY($1::uuid[])
                AND (d.outcome <> 'routed' OR EXISTS (
                     SELECT 1 FROM reporting.events e
                      WHERE e.subject = d.appeal_id::text AND e.event_type = 'appeal.assigned'))",
        )
        .bind(&acked)
        .fetch_one(&db.pool)
        .await
        .unwrap_or(0);
        let outbox_empty = db
            .pending_outbox()
            .await
            .is_ok_and(|p| p.values().all(|n| *n == 0));
        let queues_empty = fleet.mq.queue_depths().is_ok_and(|d| {
            d.iter()
                .filter(|(q, _)| !q.ends_with(".parked"))
                .all(|(_, n)| *n == 0)
        });
        outcomes as usize >= acked.len() && outbox_empty && queues_empty
    })
    .await;
    eprintln!(
        "faults: drained in {:.1} s (settled: {settled})",
        drain_started.elapsed().as_secs_f64()
    );

    // The verdict, from the services' own databases.
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT id::text, 1::bigint FROM intake.appeals WHERE id = ANY($1::uuid[])")
            .bind(&acked)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let in_intake: HashSet<String> = rows.into_iter().map(|(id, _)| id).collect();
    let decisions: HashMap<String, (i64, String)> = sqlx::query_as::<_, (String, i64, String)>(
        "SELECT appeal_id::text, count(*), min(outcome) FROM routing.decisions
          WHERE appeal_id = ANY($1::uuid[]) GROUP BY appeal_id",
    )
    .bind(&acked)
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(id, n, o)| (id, (n, o)))
    .collect();
    let leads: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT appeal_id::text, count(*) FROM control.assignments
          WHERE lead AND appeal_id = ANY($1::uuid[]) GROUP BY appeal_id",
    )
    .bind(&acked)
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    // Reporting keeps every event it applied under its message id; one appeal's event of
    // one type twice means an event was applied twice (or published twice under new ids).
    let reporting: HashMap<(String, String), i64> = sqlx::query_as::<_, (String, String, i64)>(
        "SELECT subject, event_type, count(*) FROM reporting.events
          WHERE subject = ANY($1) GROUP BY subject, event_type",
    )
    .bind(&acked)
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(s, t, n)| ((s, t), n))
    .collect();
    let (mut assigned, mut elsewhere, mut lost, mut doubled) = (0u64, 0u64, 0u64, 0u64);
    let mut examples: Vec<String> = Vec::new();
    for id in &acked {
        let decision = decisions.get(id);
        let lead = leads.get(id).copied().unwrap_or(0);
        let seen = |t: &str| {
            reporting
                .get(&(id.clone(), t.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        let twice = decision.is_some_and(|(n, _)| *n > 1)
            || lead > 1
            || ["appeal.registered", "appeal.routed", "appeal.assigned"]
                .iter()
                .any(|t| seen(t) > 1);
        let complete = in_intake.contains(id)
            && seen("appeal.registered") == 1
            && match decision {
                Some((1, outcome)) if outcome == "routed" => {
                    lead == 1 && seen("appeal.routed") == 1 && seen("appeal.assigned") == 1
                }
                Some((1, _)) => true,
                _ => false,
            };
        if twice {
            doubled += 1;
        }
        if !complete && !twice {
            lost += 1;
            if examples.len() < 5 {
                examples.push(format!(
                    "{id}: intake {} decision {decision:?} lead {lead} reporting reg/routed/assigned {}/{}/{}",
                    in_intake.contains(id),
                    seen("appeal.registered"),
                    seen("appeal.routed"),
                    seen("appeal.assigned")
                ));
            }
        }
        if complete && !twice {
            if lead == 1 {
                assigned += 1;
            } else {
                elsewhere += 1;
            }
        }
    }
    let outbox = db.pending_outbox().await.unwrap();
    let depths = fleet.mq.queue_depths().unwrap();
    let stuck: Vec<&(String, u64)> = depths
        .iter()
        .filter(|(q, n)| !q.ends_with(".parked") && *n > 0)
        .collect();
    let parked_total: u64 = depths
        .iter()
        .filter(|(q, _)| q.ends_with(".parked"))
        .map(|(_, n)| n)
        .sum();
    let parked_routing = parked(&amqp_url, &format!("{POISON_PERMANENT_QUEUE}.parked")).await;
    let parked_control = parked(&amqp_url, &format!("{POISON_TRANSIENT_QUEUE}.parked")).await;

    let mut table = String::new();
    table.push_str(&format!(
        "\nFaults under load: {:.0} appeals/s, {:.0} s of load per fault, outages of {:.0} s, {} replica(s) of each service (+1 in the last phase)\n\n",
        knobs.rate,
        knobs.phase.as_secs_f64(),
        knobs.outage.as_secs_f64(),
        knobs.replicas
    ));
    table.push_str("| fault | down for | recovered in | sent | acknowledged | calls failed |\n|---|---|---|---|---|---|\n");
    for p in &phases {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            p.fault,
            fmt_secs(p.down_for),
            fmt_secs(p.recovered_in),
            p.sent,
            p.acked,
            p.failed
        ));
    }
    table.push_str(&format!(
        "\n| faults injected | appeals sent | refused | acknowledged | assigned | routed to a registrar/redirected | lost | doubled | parked | outbox left | queued left |\n|---|---|---|---|---|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} | {} | {} | {} (poison: {}) | {} | {} |\n",
        phases.len() - 1,
        sent,
        failed,
        acked.len(),
        assigned,
        elsewhere,
        lost,
        doubled,
        parked_total,
        2,
        outbox.values().sum::<i64>(),
        stuck.iter().map(|(_, n)| n).sum::<u64>(),
    ));
    table.push_str(&format!(
        "\nrecovered in = from the fault undone (process started, server back) until every replica is SERVING and an appeal acknowledged after that is assigned by control and applied by reporting; calls failed = registrations the client saw refused (never counted as acknowledged). Total {:.0} s.\n",
        started.elapsed().as_secs_f64()
    ));
    println!("{table}");
    if let Ok(path) = std::env::var("BAKYLAU_FAULTS_TABLE") {
        std::fs::write(path, &table).unwrap();
    }

    assert!(
        settled,
        "the pipeline did not settle; logs in {}",
        fleet.logs.display()
    );
    assert_eq!(lost, 0, "acknowledged but not assigned: {examples:#?}");
    assert_eq!(doubled, 0, "assigned or applied twice");
    assert_eq!(assigned + elsewhere, acked.len() as u64);
    assert!(assigned > 0, "nothing was assigned");
    assert!(
        outbox.values().all(|n| *n == 0),
        "outbox rows left: {outbox:?}"
    );
    assert!(stuck.is_empty(), "messages left in queues: {stuck:?}");
    assert_eq!(
        parked_total, 2,
        "only the two poison messages are parked: {depths:?}"
    );
    assert_eq!(parked_routing.len(), 1, "routing parked the bad appeal id");
    assert!(
        parked_routing[0].0.contains("not a UUID"),
        "routing's park reason: {:?}",
        parked_routing[0]
    );
    assert_eq!(parked_control.len(), 1, "control parked the uncovered year");
    assert_eq!(
        parked_control[0].1,
        RETRY_DELAYS_MS.split(',').count() as u32,
        "control retried the transient failure once per back-off step before parking it: {:?}",
        parked_control[0]
    );
    assert!(
        parked_control[0].0.starts_with("gave up after 3 retries"),
        "control's park reason: {:?}",
        parked_control[0]
    );
}
