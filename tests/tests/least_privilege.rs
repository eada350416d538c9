//! Least privilege, proved on the real servers: each service runs under a broker user with
//! exactly the permissions `deploy/k8s/base/rabbitmq/users.yaml` gives it (read from that
//! file, the one source the local stack's `deploy/local/lib.sh` copies) and a Postgres role
//! owning only its schema (as `deploy/local/lib.sh` `ensure_database` creates them). An appeal
//! still goes from registration to assignment; outside its grants a service is refused: no
//! consuming another's queue, no publishing another's events (topic permissions), no
//! declaring another's queues, no publishing to the integrators' exchange, no reading
//! another's schema.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use bakylau_platform::broker::{EVENTS_EXCHANGE, INBOUND_EXCHANGE, OUTBOUND_EXCHANGE};
use bakylau_proto::events::v1 as ev;
use bakylau_proto::intake::v1 as pb;
use bakylau_testkit::process::ServiceProcess;
use bakylau_testkit::{TestEnv, rabbitmqctl};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use prost::Message as _;
use sqlx::Connection as _;

const SERVICES: [&str; 5] = ["intake", "routing", "control", "reception", "reporting"];
const USERS_YAML: &str = include_str!("../../deploy/k8s/base/rabbitmq/users.yaml");
const LIB_SH: &str = include_str!("../../deploy/local/lib.sh");

// ------------------------------------------------------------------ the grants, as written

/// `configure`, `write`, `read` of a `Permission`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Permission {
    configure: String,
    write: String,
    read: String,
}

/// `exchange`, `write`, `read` of a `TopicPermission`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TopicPermission {
    exchange: String,
    write: String,
    read: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Grants {
    permission: Option<Permission>,
    topics: Vec<TopicPermission>,
}

/// A YAML scalar as the manifests write them: plain, '' or "" quoted (no escapes in "").
fn scalar(raw: &str) -> String {
    let raw = raw.trim();
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        assert!(
            !inner.contains('\\'),
            "users.yaml: write regexes in single quotes, not {raw}"
        );
        inner.to_owned()
    } else {
        raw.to_owned()
    }
}

/// The `Permission` and `TopicPermission` documents of users.yaml, by the user they name.
/// A line parser for the file's own shape (one key per line, `userReference:` then `name:`).
fn grants_in_users_yaml(text: &str) -> BTreeMap<String, Grants> {
    let mut out: BTreeMap<String, Grants> = BTreeMap::new();
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let doc = docs.last_mut().expect("a document");
            doc.push_str(line);
            doc.push('\n');
        }
    }
    for doc in docs {
        let mut kind = None;
        let mut user = None;
        let mut in_user_ref = false;
        let mut fields: BTreeMap<&str, String> = BTreeMap::new();
        for line in doc.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('#') || trimmed.is_empty() {
                continue;
            }
            let Some((key, value)) = trimmed.split_once(':') else {
                continue;
            };
            match key {
                "kind" if !line.starts_with(' ') => kind = Some(scalar(value)),
                "userReference" => in_user_ref = true,
                "name" if in_user_ref => {
                    user = Some(scalar(value));
                    in_user_ref = false;
                }
                "configure" | "write" | "read" | "exchange" => {
                    fields.insert(
                        match key {
                            "configure" => "configure",
                            "write" => "write",
                            "read" => "read",
                            _ => "exchange",
                        },
                        scalar(value),
                    );
                }
                _ => in_user_ref = false,
            }
        }
        let (Some(kind), Some(user)) = (kind, user) else {
            continue;
        };
        let field = |k: &str| {
            fields
                .get(k)
                .cloned()
                .unwrap_or_else(|| panic!("users.yaml: {kind} of {user} has no {k}"))
        };
        let grants = out.entry(user.clone()).or_default();
        match kind.as_str() {
            "Permission" => {
                assert!(
                    grants.permission.is_none(),
                    "users.yaml: two Permissions for {user}"
                );
                grants.permission = Some(Permission {
                    configure: field("configure"),
                    write: field("write"),
                    read: field("read"),
                });
            }
            "TopicPermission" => grants.topics.push(TopicPermission {
                exchange: field("exchange"),
                write: field("write"),
                read: field("read"),
            }),
            _ => {}
        }
    }
    for g in out.values_mut() {
        g.topics.sort();
    }
    out
}

/// The words of a shell line: single-quoted words literally, others split on spaces.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted.find('\'').expect("a closing quote");
            words.push(quoted[..end].to_owned());
            rest = quoted[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            words.push(rest[..end].to_owned());
            rest = rest[end..].trim_start();
        }
    }
    words
}

/// The `broker_permissions` and `broker_topic_permissions` lines of lib.sh, by user.
fn grants_in_lib_sh(text: &str) -> BTreeMap<String, Grants> {
    let mut out: BTreeMap<String, Grants> = BTreeMap::new();
    for line in text.lines() {
        let words = shell_words(line);
        match words.first().map(String::as_str) {
            Some("broker_permissions") => {
                assert_eq!(words.len(), 5, "lib.sh: {line}");
                let g = out.entry(words[1].clone()).or_default();
                assert!(g.permission.is_none(), "lib.sh: two permissions: {line}");
                g.permission = Some(Permission {
                    configure: words[2].clone(),
                    write: words[3].clone(),
                    read: words[4].clone(),
                });
            }
            Some("broker_topic_permissions") => {
                assert_eq!(words.len(), 5, "lib.sh: {line}");
                out.entry(words[1].clone())
                    .or_default()
                    .topics
                    .push(TopicPermission {
                        exchange: words[2].clone(),
                        write: words[3].clone(),
                        read: words[4].clone(),
                    });
            }
            _ => {}
        }
    }
    for g in out.values_mut() {
        g.topics.sort();
    }
    out
}

fn service_grants() -> BTreeMap<String, Grants> {
    let all = grants_in_users_yaml(USERS_YAML);
    for svc in SERVICES {
        let g = all
            .get(svc)
            .unwrap_or_else(|| panic!("users.yaml grants {svc} nothing"));
        assert!(
            g.permission.is_some(),
            "users.yaml: no Permission for {svc}"
        );
        assert!(
            g.topics.iter().any(|t| t.exchange == EVENTS_EXCHANGE),
            "users.yaml: no TopicPermission for {svc} on {EVENTS_EXCHANGE}: it could publish any \
             event"
        );
    }
    all.into_iter()
        .filter(|(user, _)| SERVICES.contains(&user.as_str()))
        .collect()
}

#[test]
fn the_local_stack_grants_what_kubernetes_grants() {
    let k8s = service_grants();
    let local = grants_in_lib_sh(LIB_SH);
    for svc in SERVICES {
        assert_eq!(
            local.get(svc),
            k8s.get(svc),
            "deploy/local/lib.sh ensure_broker_users and deploy/k8s/base/rabbitmq/users.yaml \
             differ for {svc}: keep the regexes character for character the same"
        );
    }
    assert_eq!(
        local.keys().collect::<Vec<_>>(),
        k8s.keys().collect::<Vec<_>>(),
        "lib.sh grants other users than users.yaml's services"
    );
}

// ------------------------------------------------------------------ live: broker users

/// The services' broker users in one test's vhost, with users.yaml's grants; deleted after.
struct BrokerUsers {
    /// service → (user, amqp URL)
    users: BTreeMap<&'static str, (String, String)>,
}

impl BrokerUsers {
    fn create(env: &TestEnv, grants: &BTreeMap<String, Grants>) -> anyhow::Result<Self> {
        let users: BTreeMap<&'static str, (String, String)> = SERVICES
            .iter()
            .map(|svc| {
                let user = format!("{}_{svc}", env.name);
                let password = uuid::Uuid::new_v4().simple().to_string();
                let url = format!("amqp://{user}:{password}@127.0.0.1:5672/{}", env.name);
                (*svc, (user, url))
            })
            .collect();
        let created = Self { users };
        // rabbitmqctl starts an Erlang VM per call (about a second): one thread per service.
        std::thread::scope(|scope| {
            let jobs: Vec<_> = SERVICES
                .iter()
                .map(|svc| {
                    let (user, url) = &created.users[svc];
                    let password = url
                        .trim_start_matches("amqp://")
                        .split_once('@')
                        .and_then(|(info, _)| info.split_once(':'))
                        .map(|(_, p)| p.to_owned())
                        .expect("a password in the URL");
                    let g = &grants[*svc];
                    let vhost = env.name.as_str();
                    scope.spawn(move || -> anyhow::Result<()> {
                        rabbitmqctl(&["add_user", user, &password])?;
                        let p = g.permission.as_ref().expect("a Permission");
                        rabbitmqctl(&[
                            "set_permissions",
                            "-p",
                            vhost,
                            user,
                            &p.configure,
                            &p.write,
                            &p.read,
                        ])?;
                        for t in &g.topics {
                            rabbitmqctl(&[
                                "set_topic_permissions",
                                "-p",
                                vhost,
                                user,
                                &t.exchange,
                                &t.write,
                                &t.read,
                            ])?;
                        }
                        Ok(())
                    })
                })
                .collect();
            jobs.into_iter()
                .try_for_each(|j| j.join().expect("rabbitmqctl thread"))
        })?;
        Ok(created)
    }

    fn url(&self, svc: &str) -> &str {
        &self.users[svc].1
    }
}

impl Drop for BrokerUsers {
    fn drop(&mut self) {
        for (user, _) in self.users.values() {
            let _ = rabbitmqctl(&["delete_user", user]);
        }
    }
}

// ------------------------------------------------------------------ live: database roles

/// A login role per service owning only its schema in the test database, as
/// deploy/local/lib.sh `ensure_database` makes them; dropped after.
struct DatabaseRoles {
    database: String,
    roles: BTreeMap<&'static str, String>,
}

impl DatabaseRoles {
    async fn create(env: &TestEnv) -> anyhow::Result<Self> {
        let mut admin = sqlx::PgConnection::connect(&env.database_url).await?;
        let roles: BTreeMap<&'static str, String> = SERVICES
            .iter()
            .map(|svc| (*svc, format!("{}_{svc}", env.name)))
            .collect();
        let created = Self {
            database: env.name.clone(),
            roles,
        };
        for (svc, role) in &created.roles {
            for statement in [
                format!("CREATE ROLE {role} LOGIN"),
                format!("CREATE SCHEMA IF NOT EXISTS {svc} AUTHORIZATION {role}"),
                format!("REVOKE ALL ON SCHEMA {svc} FROM PUBLIC"),
            ] {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut admin)
                    .await?;
            }
        }
        Ok(created)
    }

    fn url(&self, svc: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:5432/{}",
            self.roles[svc], self.database
        )
    }
}

impl Drop for DatabaseRoles {
    fn drop(&mut self) {
        let roles: Vec<&str> = self.roles.values().map(String::as_str).collect();
        let roles = roles.join(", ");
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-q", "-d"])
            .arg(&self.database)
            .arg("-c")
            .arg(format!("DROP OWNED BY {roles}"))
            .arg("-c")
            .arg(format!("DROP ROLE IF EXISTS {roles}"))
            .output();
    }
}

// ------------------------------------------------------------------ live: helpers

fn is_access_refused(e: &lapin::Error) -> bool {
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(p) if p.get_id() == 403)
}

/// What the broker answered to a publish with confirms: `Ok(())` when it took the message.
async fn publish(
    conn: &Connection,
    exchange: &str,
    key: &str,
    user: &str,
) -> Result<(), lapin::Error> {
    let ch = conn.create_channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    let confirm = ch
        .basic_publish(
            exchange.into(),
            key.into(),
            BasicPublishOptions::default(),
            b"not an event: a permission probe",
            BasicProperties::default().with_user_id(user.into()),
        )
        .await?;
    match tokio::time::timeout(Duration::from_secs(10), confirm).await {
        Ok(confirmation) => {
            let confirmation = confirmation?;
            assert!(
                confirmation.is_ack(),
                "{user}: publish of {key} on {exchange} was neither acked nor refused"
            );
            let _ = ch.close(200, "probe done".into()).await;
            Ok(())
        }
        Err(_) => panic!("{user}: no confirm for {key} on {exchange} within 10 s"),
    }
}

fn assert_refused<T: std::fmt::Debug>(what: &str, r: Result<T, lapin::Error>) {
    match r {
        Err(e) if is_access_refused(&e) => {}
        other => panic!("{what}: expected ACCESS_REFUSED, got {other:?}"),
    }
}

/// Every routing key a service publishes on `bakylau.events`, from its code.
fn own_event_types(svc: &str) -> Vec<&'static str> {
    match svc {
        "intake" => vec![
            bakylau_intake::events::APPEAL_REGISTERED,
            bakylau_intake::events::APPEAL_DECLINED,
        ],
        "routing" => vec![
            bakylau_routing::events::APPEAL_ROUTED,
            bakylau_routing::events::APPEAL_REDIRECTED,
            bakylau_routing::events::APPEAL_NEEDS_MANUAL_ROUTING,
        ],
        "control" => {
            use bakylau_control::events as e;
            use bakylau_control::instructions::events as i;
            vec![
                e::APPEAL_ASSIGNED,
                e::APPEAL_EXTENDED,
                e::APPEAL_ANSWER_SUBMITTED,
                e::APPEAL_RETURNED_FOR_REWORK,
                e::APPEAL_CLOSED,
                e::APPEAL_OVERDUE,
                e::APPEAL_DEADLINE_APPROACHING,
                e::APPLICANT_NOTIFIED,
                i::ISSUED,
                i::PROGRESSED,
                i::COMPLETED,
                i::OVERDUE,
            ]
        }
        "reception" => {
            use bakylau_reception::events as e;
            vec![
                e::BOOKED,
                e::CANCELLED,
                e::RESCHEDULED,
                e::CHECKED_IN,
                e::NO_SHOW,
                e::HELD,
                e::REMINDER_DUE,
            ]
        }
        "reporting" => vec![bakylau_reporting::spikes::SPIKE_DETECTED],
        _ => unreachable!(),
    }
}

// ------------------------------------------------------------------ live: the test

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_service_works_under_its_own_grants_and_is_refused_outside_them() {
    let env = TestEnv::new().await.expect("test database and vhost");
    let grants = service_grants();
    let roles = DatabaseRoles::create(&env).await.expect("database roles");
    let users = BrokerUsers::create(&env, &grants).expect("broker users");
    {
        // The shared exchanges exist before anyone publishes (services declare them too).
        let guest = env.amqp().await.unwrap();
        let ch = guest.create_channel().await.unwrap();
        bakylau_platform::broker::declare_exchanges(&ch)
            .await
            .unwrap();
        let _ = guest.close(200, "declared".into()).await;
    }
    let connect = |svc: &'static str| {
        let url = users.url(svc).to_owned();
        async move {
            Connection::connect(&url, ConnectionProperties::default())
                .await
                .unwrap_or_else(|e| panic!("{svc} connects with its own user: {e}"))
        }
    };
    let user = |svc: &str| users.users[svc].0.clone();

    // Every event type in a service's code may be published by it (to no queue yet: they
    // end in bakylau.unrouted), and intake's status updates to senders on bakylau.outbound.
    for svc in SERVICES {
        let conn = connect(svc).await;
        for key in own_event_types(svc) {
            publish(&conn, EVENTS_EXCHANGE, key, &user(svc))
                .await
                .unwrap_or_else(|e| panic!("{svc} may publish {key}: {e}"));
        }
        let _ = conn.close(200, "done".into()).await;
    }
    let intake_conn = connect("intake").await;
    for event in bakylau_intake::domain::outbound::FORWARDED_EVENTS {
        let key = format!("eotinish.{event}");
        publish(&intake_conn, OUTBOUND_EXCHANGE, &key, &user("intake"))
            .await
            .unwrap_or_else(|e| panic!("intake may publish {key} to senders: {e}"));
    }

    // The five services as processes, each with its own broker user and database role.
    let logs = std::env::temp_dir().join(format!("bakylau-lp-{}", env.name));
    std::fs::create_dir_all(&logs).unwrap();
    let ports = bakylau_testkit::private::free_ports(SERVICES.len()).expect("free ports");
    let addr = |svc: &str| {
        let i = SERVICES.iter().position(|s| *s == svc).unwrap();
        format!("http://127.0.0.1:{}", ports[i])
    };
    let mut processes = Vec::new();
    for (i, svc) in SERVICES.iter().enumerate() {
        let up = svc.to_uppercase();
        let mut vars = vec![
            (format!("BAKYLAU_{up}__DATABASE__URL"), roles.url(svc)),
            (
                format!("BAKYLAU_{up}__DATABASE__MAX_CONNECTIONS"),
                "4".into(),
            ),
            (
                format!("BAKYLAU_{up}__BROKER__URL"),
                users.url(svc).to_owned(),
            ),
            (
                format!("BAKYLAU_{up}__GRPC__LISTEN"),
                format!("127.0.0.1:{}", ports[i]),
            ),
            (
                format!("BAKYLAU_{up}__METRICS__LISTEN"),
                "127.0.0.1:0".into(),
            ),
            ("RUST_LOG".into(), "info,lapin=warn,sqlx=warn".into()),
        ];
        match *svc {
            "reception" => {
                vars.push((
                    "BAKYLAU_RECEPTION__RECEPTION__INTAKE_ADDR".into(),
                    addr("intake"),
                ));
                vars.push((
                    "BAKYLAU_RECEPTION__RECEPTION__CONTROL_ADDR".into(),
                    addr("control"),
                ));
            }
            "control" => vars.push((
                "BAKYLAU_CONTROL__CONTROL__NOTIFIER__INTAKE_ADDR".into(),
                addr("intake"),
            )),
            _ => {}
        }
        processes.push(ServiceProcess::spawn(svc, &vars, &logs).expect("service starts"));
    }
    for svc in SERVICES {
        assert!(
            common::serving_within(&addr(svc), Duration::from_secs(90)).await,
            "{svc} did not become SERVING under its own grants; its log:\n{}",
            processes
                .iter()
                .find(|p| p.service == svc)
                .map(|p| p.output())
                .unwrap_or_default()
        );
    }

    // An appeal goes through: intake → routing → control, each publishing its own events.
    let mut tap = env.event_tap(&["appeal.assigned"]).await.unwrap();
    let mut intake = bakylau_testkit::auth::wrap(
        bakylau_testkit::auth::Role::Registrar,
        pb::intake_service_client::IntakeServiceClient::new,
        common::channel(&addr("intake")).await,
    );
    let appeal = intake
        .register_appeal(common::road_complaint(common::valid_iin(29)))
        .await
        .expect("registered")
        .into_inner()
        .appeal
        .expect("an appeal");
    let assigned = tap.next(Duration::from_secs(60)).await.unwrap_or_else(|| {
        let logs: Vec<String> = processes
            .iter()
            .map(|p| format!("--- {}\n{}", p.service, p.output()))
            .collect();
        panic!("no appeal.assigned within 60 s; logs:\n{}", logs.join("\n"))
    });
    let assigned = ev::AppealAssigned::decode(assigned.envelope.payload.as_slice()).unwrap();
    assert_eq!(assigned.appeal_id, appeal.id);
    assert_eq!(assigned.lead_executor, "akimat.talgar");

    // Refusals, each on a fresh channel (the broker closes a channel it refuses).
    let routing = connect("routing").await;
    let ch = routing.create_channel().await.unwrap();
    assert_refused(
        "routing consumes intake.inbound",
        ch.basic_consume(
            "intake.inbound".into(),
            "thief".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await,
    );
    assert_refused(
        "routing forges appeal.registered (topic permission)",
        publish(
            &routing,
            EVENTS_EXCHANGE,
            bakylau_intake::events::APPEAL_REGISTERED,
            &user("routing"),
        )
        .await,
    );
    assert_refused(
        "routing forges appeal.assigned (topic permission)",
        publish(
            &routing,
            EVENTS_EXCHANGE,
            bakylau_control::events::APPEAL_ASSIGNED,
            &user("routing"),
        )
        .await,
    );
    assert_refused(
        "routing publishes a status update to senders",
        publish(
            &routing,
            OUTBOUND_EXCHANGE,
            "eotinish.appeal.routed",
            &user("routing"),
        )
        .await,
    );
    let ch = routing.create_channel().await.unwrap();
    assert_refused(
        "routing declares control.x",
        ch.queue_declare(
            "control.x".into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await,
    );
    // Its own queue it may declare, but not bind to events it does not consume.
    let ch = routing.create_channel().await.unwrap();
    ch.queue_declare(
        "routing.x".into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("routing declares a queue of its own");
    assert_refused(
        "routing binds its queue to appeal.closed (topic permission, read)",
        ch.queue_bind(
            "routing.x".into(),
            EVENTS_EXCHANGE.into(),
            "appeal.closed".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await,
    );

    assert_refused(
        "intake publishes on bakylau.inbound (only integrators do)",
        publish(
            &intake_conn,
            INBOUND_EXCHANGE,
            "appeal.submit.eotinish",
            &user("intake"),
        )
        .await,
    );
    assert_refused(
        "intake forges appeal.routed (topic permission)",
        publish(
            &intake_conn,
            EVENTS_EXCHANGE,
            bakylau_routing::events::APPEAL_ROUTED,
            &user("intake"),
        )
        .await,
    );
    let reporting = connect("reporting").await;
    assert_refused(
        "reporting forges appeal.closed (topic permission)",
        publish(
            &reporting,
            EVENTS_EXCHANGE,
            bakylau_control::events::APPEAL_CLOSED,
            &user("reporting"),
        )
        .await,
    );
    for conn in [routing, intake_conn, reporting] {
        let _ = conn.close(200, "done".into()).await;
    }

    // Postgres: each role reads its own schema, never the next service's.
    for (i, svc) in SERVICES.iter().enumerate() {
        let other = SERVICES[(i + 1) % SERVICES.len()];
        let mut db = sqlx::PgConnection::connect(&roles.url(svc)).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {svc}.outbox"
        )))
        .execute(&mut db)
        .await
        .unwrap_or_else(|e| panic!("{svc} reads its own outbox: {e}"));
        let refused = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {other}.outbox"
        )))
        .execute(&mut db)
        .await
        .expect_err("another service's schema is closed");
        assert!(
            refused
                .to_string()
                .contains(&format!("permission denied for schema {other}")),
            "{svc} reading {other}.outbox: {refused}"
        );
        let _ = db.close().await;
    }

    drop(processes);
    drop(users);
    drop(roles);
}
