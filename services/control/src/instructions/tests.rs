//! Instructions against the real Postgres and RabbitMQ: the gRPC service served on a
//! loopback port over a fresh database (control's migrations), the outbox relay publishing
//! to a fresh vhost, and the overdue sweep run twice at once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bakylau_calendar::{Calendar, kz_date};
use bakylau_platform::broker::{Broker, OutboxRelay};
use bakylau_platform::config::{DatabaseSettings, GrpcSettings};
use bakylau_platform::health::Readiness;
use bakylau_platform::{CancellationToken, db, grpc};
use bakylau_proto::control::v1 as pb;
use bakylau_proto::control::v1::instruction_service_client::InstructionServiceClient;
use bakylau_proto::events::v1 as ev;
use bakylau_testkit::TestEnv;
use chrono::Utc;
use prost::Message as _;
use tonic::{Code, Request};
use tonic_types::StatusExt;
use uuid::Uuid;

use super::{CalendarSource, InstructionSettings, grpc_service_with, sweep};
use crate::clock::{Clock, ManualClock};

struct Harness {
    env: TestEnv,
    pool: sqlx::PgPool,
    addr: String,
    calendar: Arc<Calendar>,
    /// The service's clock: now, until a test moves it.
    clock: Arc<ManualClock>,
    shutdown: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Harness {
    async fn start() -> Self {
        let env = TestEnv::new().await.expect("test database and vhost");
        let settings = DatabaseSettings {
            url: env.database_url.clone(),
            ..DatabaseSettings::default()
        };
        let pool = db::connect(&settings, crate::SERVICE)
            .await
            .expect("connect");
        db::migrate(&pool, crate::SERVICE, &crate::MIGRATIONS)
            .await
            .expect("migrate");
        let calendar = Arc::new(Calendar::embedded().expect("calendar"));
        let shutdown = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let mut grpc_settings = GrpcSettings::default();
        bakylau_testkit::auth::secure(&mut grpc_settings);
        let (router, _reporter) = grpc::router(grpc::ServiceFrame {
            settings: &grpc_settings,
            name: bakylau_proto::service_names::CONTROL,
            policy: crate::policy::POLICY,
            pool: &pool,
            shutdown: &shutdown,
            guard: Default::default(),
        })
        .await
        .expect("router");
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let router = router.add_service(grpc_service_with(
            pool.clone(),
            CalendarSource::Fixed(calendar.clone()),
            clock.clone(),
            InstructionSettings::default(),
        ));
        tokio::spawn(grpc::serve(router, listener, shutdown.clone()));
        let relay = OutboxRelay {
            pool: pool.clone(),
            broker: Broker::new(env.amqp_url.clone(), crate::SERVICE),
            readiness: Arc::new(Readiness::new()),
            batch: 100,
            confirm_timeout: Duration::from_secs(10),
            retention: Duration::from_secs(3600),
        };
        tokio::spawn(relay.run(shutdown.clone()));
        Self {
            env,
            pool,
            addr,
            calendar,
            clock,
            shutdown,
        }
    }

    async fn client(&self) -> InstructionServiceClient<bakylau_testkit::auth::AuthChannel> {
        for _ in 0..50 {
            if let Ok(c) = bakylau_testkit::auth::client(
                bakylau_testkit::auth::Role::Controller,
                InstructionServiceClient::new,
                self.addr.clone(),
            )
            .await
            {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the instruction service did not start");
    }
}

/// A request from `user` with `role` (and `body` for an executor).
fn r<T>(message: T, role: &str, body: Option<&str>) -> Request<T> {
    bakylau_testkit::auth::as_user(message, &format!("u-{role}"), role, body)
}

fn controller<T>(m: T) -> Request<T> {
    r(m, "controller", None)
}

fn create(issuer: &str, lead: &str, co: &[&str]) -> pb::CreateInstructionRequest {
    pb::CreateInstructionRequest {
        request_id: Uuid::new_v4().to_string(),
        issuer: issuer.into(),
        title: "Road repair in Talgar".into(),
        text: "Consider the collective complaints about the road and report the measures.".into(),
        lead_executor: lead.into(),
        co_executors: co.iter().map(|c| (*c).to_owned()).collect(),
        appeal_ids: vec![Uuid::now_v7().to_string()],
        working_days: 10,
        ..Default::default()
    }
}

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn numbers_are_gap_free_and_creation_is_idempotent() {
    let h = Harness::start().await;
    let client = h.client().await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let mut c = client.clone();
        tasks.push(tokio::spawn(async move {
            let lead = format!("body_{}", i % 3);
            c.create_instruction(controller(create("akim", &lead, &[])))
                .await
                .expect("created")
                .into_inner()
        }));
    }
    let mut numbers = HashSet::new();
    for t in tasks {
        let resp = t.await.unwrap();
        assert!(!resp.replayed);
        numbers.insert(resp.instruction.unwrap().number);
    }
    let year = kz_date(Utc::now()).format("%Y").to_string();
    let expected: HashSet<String> = (1..=12).map(|n| format!("INS-{year}-{n:04}")).collect();
    assert_eq!(numbers, expected);

    // A retry answers with the same instruction; the same key with other content is refused.
    let mut c = client.clone();
    let req = create("president", "akim_office.roads", &["talgar"]);
    let first = c
        .create_instruction(controller(req.clone()))
        .await
        .unwrap()
        .into_inner();
    let again = c
        .create_instruction(controller(req.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(
        first.instruction.as_ref().unwrap().id,
        again.instruction.as_ref().unwrap().id
    );
    assert_eq!(
        again.instruction.unwrap().number,
        format!("INS-{year}-0013")
    );
    let mut other = req.clone();
    other.title = "Something else".into();
    let e = c.create_instruction(controller(other)).await.unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM instructions")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(count, 13);
}

#[tokio::test]
async fn bad_requests_name_the_field_and_access_is_checked() {
    let h = Harness::start().await;
    let mut c = h.client().await;
    let bad = pb::CreateInstructionRequest {
        issuer: "king".into(),
        lead_executor: String::new(),
        appeal_ids: vec!["not-a-uuid".into()],
        due_date: "2020-01-01".into(),
        working_days: 0,
        ..create("akim", "x", &[])
    };
    let e = c.create_instruction(controller(bad)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let named = fields(&e);
    for f in ["issuer", "lead_executor", "appeal_ids[0]", "due_date"] {
        assert!(named.contains(&f.to_owned()), "{f} not in {named:?}");
    }
    // Only Department staff (and services) issue instructions.
    let e = c
        .create_instruction(r(create("akim", "talgar", &[]), "analyst", None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // Calls without a token are refused for every RPC in tests/tests/auth_matrix.rs (this
    // client adds a controller's token to every call).
    // The reception service issues one as `system`, by working days, from a reception.
    let from_reception = pb::CreateInstructionRequest {
        issuer: "reception_official".into(),
        issuer_official: "Deputy akim of the region".into(),
        source: "reception:booking-1".into(),
        ..create("akim", "talgar", &[])
    };
    let made = c
        .create_instruction(r(from_reception, "system", None))
        .await
        .unwrap()
        .into_inner()
        .instruction
        .unwrap();
    assert_eq!(made.source, "reception:booking-1");
    assert_eq!(made.working_days, 10);
    let due = chrono::NaiveDate::parse_from_str(&made.due_date, "%Y-%m-%d").unwrap();
    assert_eq!(
        h.calendar.working_days_between(kz_date(Utc::now()), due),
        10
    );
    assert!(h.calendar.is_working_day(due));
    // An executor of another body neither sees nor reports on it.
    let e = c
        .get_instruction(r(
            pb::GetInstructionRequest {
                instruction_id: made.number.clone(),
            },
            "executor",
            Some("karasay"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = c
        .report_progress(r(
            pb::ReportProgressRequest {
                instruction_id: made.id.clone(),
                text: "done".into(),
                body: String::new(),
            },
            "executor",
            Some("karasay"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = c
        .get_instruction(controller(pb::GetInstructionRequest {
            instruction_id: "INS-1999-0001".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}

#[tokio::test]
async fn an_instruction_lives_its_whole_life_with_events() {
    let h = Harness::start().await;
    let mut tap = h
        .env
        .event_tap(&["instruction.*"])
        .await
        .expect("event tap");
    let mut c = h.client().await;
    let made = c
        .create_instruction(controller(create(
            "presidential_administration",
            "akim_office.roads",
            &["talgar"],
        )))
        .await
        .unwrap()
        .into_inner()
        .instruction
        .unwrap();
    let id = made.id.clone();
    assert_eq!(made.status, "issued");
    assert_eq!(made.history.len(), 1);

    // The co-executor reports; the instruction is in progress.
    let i = c
        .report_progress(r(
            pb::ReportProgressRequest {
                instruction_id: made.number.clone(),
                text: "Survey of the road done; repair scheduled.".into(),
                body: String::new(),
            },
            "executor",
            Some("talgar"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(i.status, "in_progress");
    assert_eq!(i.progress_reports[0].body, "talgar");
    // A controller enters a paper report of the lead, naming the body.
    let e = c
        .report_progress(controller(pb::ReportProgressRequest {
            instruction_id: id.clone(),
            text: "Paper report".into(),
            body: "karasay".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), vec!["body"]);

    // An on-site check (reg 9.3) blocks completion until it has a result.
    let today = kz_date(Utc::now()).to_string();
    let i = c
        .plan_check(controller(pb::PlanCheckRequest {
            instruction_id: id.clone(),
            planned_on: today.clone(),
            place: "talgar".into(),
            purpose: "Check the repaired section".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    let check_id = i.checks[0].id.clone();
    assert_eq!(i.checks[0].status, "planned");
    let complete = pb::CompleteInstructionRequest {
        instruction_id: id.clone(),
        note: "Road repaired".into(),
    };
    let e = c
        .complete_instruction(controller(complete.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let e = c
        .plan_check(r(
            pb::PlanCheckRequest {
                instruction_id: id.clone(),
                planned_on: today.clone(),
                place: "talgar".into(),
                purpose: "x".into(),
            },
            "executor",
            Some("talgar"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let i = c
        .record_check_result(controller(pb::RecordCheckResultRequest {
            instruction_id: id.clone(),
            check_id: check_id.clone(),
            outcome: "done".into(),
            done_on: String::new(),
            findings: "Repair done on 2 km of 3; drainage missing.".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(i.checks[0].status, "done");
    assert_eq!(i.checks[0].done_on, today);
    let e = c
        .record_check_result(controller(pb::RecordCheckResultRequest {
            instruction_id: id.clone(),
            check_id,
            outcome: "cancelled".into(),
            done_on: String::new(),
            findings: "again".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);

    // Conclusion (reg 9.7) and a disciplinary proposal tracked to its measure (reg 9.5).
    c.add_conclusion(controller(pb::AddConclusionRequest {
        instruction_id: id.clone(),
        outcome: "partially_executed".into(),
        text: "Drainage not done in time.".into(),
    }))
    .await
    .unwrap();
    let i = c
        .propose_discipline(controller(pb::ProposeDisciplineRequest {
            instruction_id: id.clone(),
            body: "talgar".into(),
            official_position: "Head of the housing department".into(),
            official_name: "Official A".into(),
            grounds: "Drainage works not organised".into(),
            proposed_measure: "reprimand".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    let proposal = i.disciplinary_proposals[0].id.clone();
    let decide = |decision: &str| pb::RecordDisciplineDecisionRequest {
        instruction_id: id.clone(),
        proposal_id: proposal.clone(),
        decision: decision.into(),
        order_reference: "Order 12-k".into(),
        ..Default::default()
    };
    let e = c
        .record_discipline_decision(controller(decide("applied")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    c.record_discipline_decision(controller(decide("accepted")))
        .await
        .unwrap();
    let i = c
        .record_discipline_decision(controller(decide("applied")))
        .await
        .unwrap()
        .into_inner();
    let p = &i.disciplinary_proposals[0];
    assert_eq!(p.status, "applied");
    assert_eq!(p.applied_measure, "reprimand");
    assert_eq!(p.order_reference, "Order 12-k");
    assert_eq!(p.decided_on, today);

    let i = c
        .complete_instruction(controller(complete.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(i.status, "completed");
    assert!(!i.completed_late);
    assert!(!i.overdue);
    let e = c
        .report_progress(r(
            pb::ReportProgressRequest {
                instruction_id: id.clone(),
                text: "late".into(),
                body: String::new(),
            },
            "executor",
            Some("talgar"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let actions: Vec<&str> = i.history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "issued",
            "progress_reported",
            "check_planned",
            "check_done",
            "conclusion_added",
            "discipline_proposed",
            "discipline_accepted",
            "discipline_applied",
            "completed",
        ]
    );

    // Every change reached the broker, in order, about this instruction.
    let seen = tap.collect(9, Duration::from_secs(30)).await;
    let kinds: Vec<(String, String)> = seen
        .iter()
        .map(|s| {
            assert_eq!(s.envelope.subject, id);
            let payload = ev::InstructionChanged::decode(s.envelope.payload.as_slice()).unwrap();
            (s.envelope.r#type.clone(), payload.change)
        })
        .collect();
    assert_eq!(kinds.len(), 9, "{kinds:?}");
    assert_eq!(kinds[0], ("instruction.issued".into(), "issued".into()));
    assert_eq!(kinds[1].0, "instruction.progressed");
    assert_eq!(
        kinds[8],
        ("instruction.completed".into(), "completed".into())
    );
    let last = ev::InstructionChanged::decode(seen[8].envelope.payload.as_slice()).unwrap();
    assert_eq!(last.executors, vec!["akim_office.roads", "talgar"]);
    assert_eq!(last.checks_done, 1);
    assert_eq!(last.discipline_applied, 1);
    assert_eq!(last.conclusions, 1);
}

#[tokio::test]
async fn listings_filter_page_and_keep_executors_to_their_body() {
    let h = Harness::start().await;
    let mut c = h.client().await;
    for (issuer, lead, co) in [
        ("akim", "talgar", vec![]),
        ("akim", "karasay", vec!["talgar"]),
        ("president", "karasay", vec![]),
        ("state_counsellor", "konaev", vec![]),
        ("akim", "konaev", vec![]),
    ] {
        c.create_instruction(controller(create(issuer, lead, &co)))
            .await
            .unwrap();
    }
    let list =
        |req: pb::ListInstructionsRequest, role: &'static str, body: Option<&'static str>| {
            let mut c = c.clone();
            async move { c.list_instructions(r(req, role, body)).await }
        };
    let by_talgar = list(
        pb::ListInstructionsRequest {
            executor: "talgar".into(),
            ..Default::default()
        },
        "controller",
        None,
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(by_talgar.instructions.len(), 2);
    let akim = list(
        pb::ListInstructionsRequest {
            issuer: "akim".into(),
            status: "open".into(),
            ..Default::default()
        },
        // Analysts see no instructions (their texts may name applicants): policy.rs.
        "controller",
        None,
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(akim.instructions.len(), 3);
    // An executor gets only its own body's, and may not ask for another's.
    let own = list(Default::default(), "executor", Some("karasay"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.instructions.len(), 2);
    let e = list(
        pb::ListInstructionsRequest {
            executor: "talgar".into(),
            ..Default::default()
        },
        "executor",
        Some("karasay"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // Pages of two, newest first, cover all five once.
    let mut token = String::new();
    let mut ids = Vec::new();
    loop {
        let page = list(
            pb::ListInstructionsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
            "head",
            None,
        )
        .await
        .unwrap()
        .into_inner();
        ids.extend(page.instructions.into_iter().map(|i| i.number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 5);
    // Overdue: none yet; then one whose due date has passed.
    sqlx::query("UPDATE instructions SET due_date = $1 WHERE lead_executor = 'talgar'")
        .bind(kz_date(Utc::now()) - chrono::Duration::days(3))
        .execute(&h.pool)
        .await
        .unwrap();
    let overdue = list(
        pb::ListInstructionsRequest {
            overdue_only: true,
            ..Default::default()
        },
        "controller",
        None,
    )
    .await
    .unwrap()
    .into_inner();
    assert_eq!(overdue.instructions.len(), 1);
    assert!(overdue.instructions[0].overdue);
    let e = list(
        pb::ListInstructionsRequest {
            status: "lost".into(),
            page_token: "???".into(),
            ..Default::default()
        },
        "controller",
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&e), vec!["status", "page_token"]);
}

#[tokio::test]
async fn two_sweeps_at_once_escalate_each_overdue_instruction_once() {
    let h = Harness::start().await;
    let mut tap = h.env.event_tap(&["instruction.overdue"]).await.unwrap();
    let mut c = h.client().await;
    const N: usize = 25;
    for i in 0..N {
        c.create_instruction(controller(create("akim", &format!("body_{i}"), &[])))
            .await
            .unwrap();
    }
    // One more that is completed: never escalated.
    let done = c
        .create_instruction(controller(create("akim", "talgar", &[])))
        .await
        .unwrap()
        .into_inner()
        .instruction
        .unwrap();
    c.complete_instruction(controller(pb::CompleteInstructionRequest {
        instruction_id: done.id,
        note: "done".into(),
    }))
    .await
    .unwrap();
    let today = kz_date(Utc::now());
    let past = today - chrono::Duration::days(5);
    sqlx::query("UPDATE instructions SET due_date = $1")
        .bind(past)
        .execute(&h.pool)
        .await
        .unwrap();

    let (a, b) = tokio::join!(
        sweep::sweep_once(&h.pool, &h.calendar, Utc::now(), 4),
        sweep::sweep_once(&h.pool, &h.calendar, Utc::now(), 4),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a + b, N, "sweeps escalated {a} + {b}");
    assert_eq!(
        sweep::sweep_once(&h.pool, &h.calendar, Utc::now(), 4)
            .await
            .unwrap(),
        0
    );

    let payloads: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE message_type = 'instruction.overdue'")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    let subjects: HashSet<String> = payloads
        .iter()
        .map(|p| ev::Envelope::decode(p.as_slice()).unwrap().subject)
        .collect();
    assert_eq!(payloads.len(), N);
    assert_eq!(subjects.len(), N);

    // A new due date that passes again is a new overdue state: escalated once more.
    let one: Uuid = sqlx::query_scalar(
        "UPDATE instructions SET due_date = $1 WHERE lead_executor = 'body_0' RETURNING id",
    )
    .bind(past + chrono::Duration::days(1))
    .fetch_one(&h.pool)
    .await
    .unwrap();
    assert_eq!(
        sweep::sweep_once(&h.pool, &h.calendar, Utc::now(), 4)
            .await
            .unwrap(),
        1
    );
    let shown = c
        .get_instruction(controller(pb::GetInstructionRequest {
            instruction_id: one.to_string(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(shown.overdue && shown.escalated);
    assert_eq!(
        shown
            .history
            .iter()
            .filter(|e| e.action == "overdue")
            .count(),
        2
    );

    // The events reach the broker.
    let seen = tap.collect(N + 1, Duration::from_secs(30)).await;
    assert_eq!(seen.len(), N + 1);
    let first = ev::InstructionChanged::decode(seen[0].envelope.payload.as_slice()).unwrap();
    assert_eq!(first.change, "overdue");
    assert!(first.overdue);
    sweep::refresh_gauges(&h.pool, today).await.unwrap();
    let (open, overdue) = super::storage::open_and_overdue(&h.pool, today)
        .await
        .unwrap();
    assert_eq!((open, overdue), (N as i64, N as i64));
}

#[tokio::test]
async fn the_clock_makes_an_instruction_overdue_and_the_sweep_escalates_it_once() {
    let h = Harness::start().await;
    let mut c = h.client().await;
    let made = c
        .create_instruction(controller(pb::CreateInstructionRequest {
            working_days: 2,
            ..create("state_counsellor", "talgar", &[])
        }))
        .await
        .unwrap()
        .into_inner()
        .instruction
        .unwrap();
    assert!(!made.overdue);
    assert_eq!(
        sweep::sweep_once(&h.pool, &h.calendar, h.clock.now(), 10)
            .await
            .unwrap(),
        0
    );
    // Three weeks later the two working days are long gone.
    h.clock.advance(chrono::Duration::days(21));
    let get = pb::GetInstructionRequest {
        instruction_id: made.id.clone(),
    };
    let shown = c
        .get_instruction(controller(get.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(shown.overdue && !shown.escalated);
    let listed = c
        .list_instructions(controller(pb::ListInstructionsRequest {
            overdue_only: true,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.instructions.len(), 1);
    for _ in 0..2 {
        sweep::sweep_once(&h.pool, &h.calendar, h.clock.now(), 10)
            .await
            .unwrap();
    }
    let shown = c
        .get_instruction(controller(get))
        .await
        .unwrap()
        .into_inner();
    assert!(shown.escalated);
    let overdue: Vec<_> = shown
        .history
        .iter()
        .filter(|e| e.action == "overdue")
        .collect();
    assert_eq!(overdue.len(), 1);
    assert!(
        overdue[0].note.contains("working day"),
        "{}",
        overdue[0].note
    );

    // The head extends it: in time again; once the new date passes, escalated again.
    let extend = pb::ExtendInstructionDeadlineRequest {
        instruction_id: made.number.clone(),
        working_days: 5,
        reason: "Decision of the deputy akim: contractor replaced".into(),
        ..Default::default()
    };
    let e = c
        .extend_instruction_deadline(r(extend.clone(), "executor", Some("talgar")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = c
        .extend_instruction_deadline(controller(pb::ExtendInstructionDeadlineRequest {
            due_date: made.due_date.clone(),
            working_days: 0,
            ..extend.clone()
        }))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), vec!["due_date"]);
    let extended = c
        .extend_instruction_deadline(r(extend, "head", None))
        .await
        .unwrap()
        .into_inner();
    assert!(!extended.overdue && !extended.escalated);
    assert_eq!(extended.extensions, 1);
    assert!(extended.due_date > made.due_date);
    h.clock.advance(chrono::Duration::days(21));
    assert_eq!(
        sweep::sweep_once(&h.pool, &h.calendar, h.clock.now(), 10)
            .await
            .unwrap(),
        1
    );
    let done = c
        .complete_instruction(controller(pb::CompleteInstructionRequest {
            instruction_id: made.id,
            note: "Done late".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(done.completed_late && !done.overdue);
}

#[tokio::test]
async fn the_control_service_serves_instructions_and_escalates_them() {
    let env = TestEnv::new().await.expect("test database and vhost");
    let mut tap = env.event_tap(&["instruction.*"]).await.unwrap();
    let mut settings = crate::settings::Settings::default();
    settings.database.url = env.database_url.clone();
    settings.broker.url = env.amqp_url.clone();
    settings.broker.retry_delays_ms = vec![200, 400];
    settings.metrics.listen = String::new();
    settings.control.instructions.sweep_interval_secs = 1;
    bakylau_testkit::auth::secure(&mut settings.grpc);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(crate::run_with_clock(
        settings,
        listener,
        shutdown.clone(),
        Arc::new(Readiness::new()),
        clock.clone(),
    ));
    let mut client = None;
    for _ in 0..300 {
        if let Ok(c) = bakylau_testkit::auth::client(
            bakylau_testkit::auth::Role::Controller,
            InstructionServiceClient::new,
            addr.clone(),
        )
        .await
        {
            client = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut c = client.expect("control serves gRPC");
    let made = c
        .create_instruction(r(
            pb::CreateInstructionRequest {
                working_days: 2,
                ..create("presidential_appeals_control", "talgar", &["karasay"])
            },
            "registrar",
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .instruction
        .unwrap();
    let issued = tap
        .next(Duration::from_secs(60))
        .await
        .expect("issued event");
    assert_eq!(issued.envelope.r#type, "instruction.issued");
    assert_eq!(issued.envelope.subject, made.id);
    assert_eq!(issued.envelope.producer, "control");
    // The service's own sweep escalates once the clock passes the due date.
    clock.advance(chrono::Duration::days(21));
    let overdue = tap
        .next(Duration::from_secs(60))
        .await
        .expect("overdue event");
    assert_eq!(overdue.envelope.r#type, "instruction.overdue");
    assert_eq!(overdue.envelope.subject, made.id);
    let payload = ev::InstructionChanged::decode(overdue.envelope.payload.as_slice()).unwrap();
    assert_eq!(payload.executors, vec!["talgar", "karasay"]);
    assert!(payload.overdue);
    // Escalated once, however many rounds the sweep runs.
    assert!(tap.next(Duration::from_secs(3)).await.is_none());
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(20), task).await;
}
