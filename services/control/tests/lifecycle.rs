//! End to end on the real broker and database: `appeal.registered` + `appeal.routed`
//! envelopes → assigned with the right deadline → answer → returned for rework → answer →
//! accepted → closed, with the letters stored and the timeline complete.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bakylau_control::clock::ManualClock;
use bakylau_proto::control::v1 as pb;
use bakylau_proto::events::v1 as ev;
use bakylau_testkit::TestEnv;
use common::*;
use prost::Message as _;
use tonic::Code;

fn answer(id: &str, text: &str) -> pb::SubmitAnswerRequest {
    pb::SubmitAnswerRequest {
        appeal_id: id.to_owned(),
        text: text.to_owned(),
        measures_taken: "Жол жөнделді".into(),
        attachments: vec![pb::AnswerAttachment {
            name: "act.pdf".into(),
            media_type: "application/pdf".into(),
            content: b"%PDF-1.4 act of works".to_vec(),
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_routed_answered_reworked_accepted_closed() {
    let env = TestEnv::new().await.unwrap();
    let clock = Arc::new(ManualClock::new(march_18()));
    let running = start(&env, settings_for(&env), clock.clone()).await;
    let mut tap = env
        .event_tap(&[
            "appeal.assigned",
            "appeal.answer_submitted",
            "appeal.returned_for_rework",
            "appeal.closed",
            "applicant.notified",
        ])
        .await
        .unwrap();
    let mut client = running.client().await;
    let id = uuid::Uuid::now_v7().to_string();
    let number = "ALM-2026-000101";

    publish(
        &env,
        "appeal.registered",
        &id,
        &registered(&id, number, march_18(), "kk"),
    )
    .await;
    publish(
        &env,
        "appeal.routed",
        &id,
        &routed(&id, number, march_18(), "ALM-ROADS", &["TALGAR-AKIMAT"]),
    )
    .await;

    // 15 working days from Wednesday 18 March 2026 across Nauryz (21-25 March off).
    let a = wait_status(&mut client, &id, "assigned").await;
    assert_eq!(a.due_date, "2026-04-13");
    assert_eq!(a.initial_due_date, "2026-04-13");
    assert_eq!(a.working_days, 15);
    assert_eq!(a.lead_executor, "ALM-ROADS");
    assert_eq!(a.co_executors, vec!["TALGAR-AKIMAT".to_string()]);
    assert_eq!(a.language, "kk");

    // A co-executor may read but not answer; the lead body answers.
    let denied = client
        .submit_answer(as_user(
            answer(&id, "x"),
            "u-2",
            "executor",
            Some("TALGAR-AKIMAT"),
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    clock.advance(chrono::Duration::days(6));
    let a = client
        .submit_answer(as_user(
            answer(&id, "Жол учаскесі жөнделді."),
            "exec-1",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.status, "answer_submitted");
    let ans = a.answer.unwrap();
    assert_eq!(ans.version, 1);
    assert_eq!(ans.attachments.len(), 1);
    assert_eq!(ans.attachments[0].size_bytes, 21);

    // An executor cannot review; a controller returns it with remarks and a new date.
    let e = client
        .review_answer(as_user(
            pb::ReviewAnswerRequest {
                appeal_id: id.clone(),
                accept: true,
                ..Default::default()
            },
            "exec-1",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = client
        .review_answer(as_user(
            pb::ReviewAnswerRequest {
                appeal_id: id.clone(),
                accept: false,
                remarks: String::new(),
                new_due_date: String::new(),
            },
            "ctl-1",
            "controller",
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let a = client
        .review_answer(as_user(
            pb::ReviewAnswerRequest {
                appeal_id: id.clone(),
                accept: false,
                remarks: "Мерзімі мен көлемін көрсетіңіз".into(),
                new_due_date: "2026-04-08".into(),
            },
            "ctl-1",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.status, "returned_for_rework");
    assert_eq!(a.due_date, "2026-04-08");
    assert_eq!(a.rework_count, 1);

    clock.advance(chrono::Duration::days(2));
    let a = client
        .submit_answer(as_user(
            answer(
                &id,
                "Жол учаскесі 2026 жылдың 1 сәуіріне дейін толық жөнделді.",
            ),
            "exec-1",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.answer.unwrap().version, 2);
    let a = client
        .review_answer(as_user(
            pb::ReviewAnswerRequest {
                appeal_id: id.clone(),
                accept: true,
                ..Default::default()
            },
            "ctl-1",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.status, "closed");
    assert!(a.closed_at.is_some());

    // Nothing more after closing.
    let e = client
        .submit_answer(as_user(
            answer(&id, "again"),
            "exec-1",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);

    // Letters: the coupon and the answer, in Kazakh.
    let letters = client
        .list_letters(as_user(
            pb::ListLettersRequest {
                appeal_id: id.clone(),
                ..Default::default()
            },
            "ctl-1",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .letters;
    let mut kinds: Vec<_> = letters.iter().map(|l| l.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, vec!["answer", "registration_coupon"]);
    let answer_letter = letters.iter().find(|l| l.kind == "answer").unwrap();
    assert_eq!(answer_letter.language, "kk");
    assert!(answer_letter.body.contains("толық жөнделді"));
    assert!(answer_letter.subject.contains(number));
    assert_eq!(answer_letter.delivery, "stored");

    // Timeline: every step, in order.
    let timeline = client
        .get_timeline(as_user(
            pb::GetTimelineRequest {
                appeal_id: id.clone(),
            },
            "exec-1",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap()
        .into_inner();
    let actions: Vec<_> = timeline.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "registered",
            "letter_written",
            "assigned",
            "answer_submitted",
            "returned_for_rework",
            "answer_submitted",
            "accepted",
            "closed",
            "letter_written",
        ],
        "{timeline:#?}"
    );
    assert!(timeline.entries.iter().any(|e| e.actor == "ctl-1"));
    assert!(timeline.entries.iter().any(|e| e.actor == "exec-1"));

    // Events, each once.
    let events = tap.collect(7, Duration::from_secs(30)).await;
    let mut types: Vec<_> = events.iter().map(|e| e.envelope.r#type.clone()).collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "appeal.answer_submitted",
            "appeal.answer_submitted",
            "appeal.assigned",
            "appeal.closed",
            "appeal.returned_for_rework",
            "applicant.notified",
            "applicant.notified",
        ]
    );
    let assigned = events
        .iter()
        .find(|e| e.envelope.r#type == "appeal.assigned")
        .unwrap();
    let assigned = ev::AppealAssigned::decode(assigned.envelope.payload.as_slice()).unwrap();
    assert_eq!(assigned.due_date, "2026-04-13");
    assert_eq!(assigned.working_days, 15);
    assert!(!assigned.reassigned);
    let closed = events
        .iter()
        .find(|e| e.envelope.r#type == "appeal.closed")
        .unwrap();
    let closed = ev::AppealStatusChanged::decode(closed.envelope.payload.as_slice()).unwrap();
    assert_eq!(closed.status, "closed");
    assert!(closed.answer_text.contains("толық жөнделді"));
    assert_eq!(closed.rework_count, 1);

    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extension_once_within_two_months_and_akim_control_sign_off() {
    let env = TestEnv::new().await.unwrap();
    let clock = Arc::new(ManualClock::new(march_18()));
    let running = start(&env, settings_for(&env), clock.clone()).await;
    let mut client = running.client().await;
    let id = uuid::Uuid::now_v7().to_string();
    let number = "ALM-2026-000102";
    register_and_route(&env, &mut client, &id, number, "en", "ALM-LAND").await;

    let extend = |due: &str, role: &str| {
        as_user(
            pb::ExtendDeadlineRequest {
                appeal_id: id.clone(),
                new_due_date: due.into(),
                reason: "an on-site check is needed".into(),
                decided_by: "decision 12".into(),
            },
            "head-1",
            role,
            None,
        )
    };
    let e = client
        .extend_deadline(extend("2026-05-15", "controller"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // Beyond two months from registration (18 May).
    let e = client
        .extend_deadline(extend("2026-05-19", "head"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    let a = client
        .extend_deadline(extend("2026-05-15", "head"))
        .await
        .unwrap()
        .into_inner();
    assert!(a.extended);
    assert_eq!(a.due_date, "2026-05-15");
    // Only one extension.
    let e = client
        .extend_deadline(extend("2026-05-18", "head"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);

    // The extension letter is in Russian (English falls back to Russian).
    let letters = client
        .list_letters(as_user(
            pb::ListLettersRequest {
                appeal_id: id.clone(),
                kind: "extension".into(),
                ..Default::default()
            },
            "ctl",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .letters;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].language, "ru");
    assert!(letters[0].body.contains("2026-05-15"));

    // Under the akim's control an accepted answer waits for the head.
    let a = client
        .set_akim_control(as_user(
            pb::SetAkimControlRequest {
                appeal_id: id.clone(),
                under_control: true,
                note: "akim's order".into(),
            },
            "head-1",
            "head",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(a.akim_control);
    client
        .submit_answer(as_user(
            answer(&id, "Land plot boundaries were restored."),
            "exec-9",
            "executor",
            Some("ALM-LAND"),
        ))
        .await
        .unwrap();
    let a = client
        .review_answer(as_user(
            pb::ReviewAnswerRequest {
                appeal_id: id.clone(),
                accept: true,
                ..Default::default()
            },
            "ctl",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.status, "awaiting_sign_off");
    let e = client
        .sign_off(as_user(
            pb::SignOffRequest {
                appeal_id: id.clone(),
                approve: true,
                ..Default::default()
            },
            "ctl",
            "controller",
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let a = client
        .sign_off(as_user(
            pb::SignOffRequest {
                appeal_id: id.clone(),
                approve: true,
                ..Default::default()
            },
            "head-1",
            "head",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.status, "closed");
    assert_eq!(a.answer.unwrap().review, "signed_off");

    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirected_appeal_gets_a_letter_and_audit_reports_problems() {
    let env = TestEnv::new().await.unwrap();
    let clock = Arc::new(ManualClock::new(march_18()));
    let running = start(&env, settings_for(&env), clock.clone()).await;
    let mut client = running.client().await;

    // Redirected (APPK art. 65): a letter at once.
    let r = uuid::Uuid::now_v7().to_string();
    publish(
        &env,
        "appeal.registered",
        &r,
        &registered(&r, "ALM-2026-000201", march_18(), "ru"),
    )
    .await;
    publish(
        &env,
        "appeal.redirected",
        &r,
        &ev::AppealRedirected {
            appeal_id: r.clone(),
            registration_number: "ALM-2026-000201".into(),
            to_body: "Prosecutor's office".into(),
            reason_code: "criminal_procedure".into(),
            explanation_kk: "Қылмыстық іс жүргізу".into(),
            explanation_ru: "Регулируется уголовно-процессуальным законодательством".into(),
            registered_at: Some(ts(march_18())),
            ..Default::default()
        },
    )
    .await;
    wait_status(&mut client, &r, "redirected").await;
    let letters = client
        .list_letters(as_user(
            pb::ListLettersRequest {
                appeal_id: r.clone(),
                kind: "redirection".into(),
                ..Default::default()
            },
            "ctl",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .letters;
    assert_eq!(letters.len(), 1);
    assert!(letters[0].body.contains("уголовно-процессуальным"));
    assert_eq!(letters[0].due_by, "2026-03-26"); // 3 working days after 18 March, Nauryz off

    // An appeal routed late (registered 18 March, routed 1 April) and returned twice.
    let id = uuid::Uuid::now_v7().to_string();
    let number = "ALM-2026-000202";
    publish(
        &env,
        "appeal.registered",
        &id,
        &registered(&id, number, march_18(), "ru"),
    )
    .await;
    wait_status(&mut client, &id, "registered").await;
    clock.set(march_18() + chrono::Duration::days(14));
    publish(
        &env,
        "appeal.routed",
        &id,
        &routed(&id, number, march_18(), "ALM-EDU", &[]),
    )
    .await;
    wait_status(&mut client, &id, "assigned").await;
    for round in 0..2 {
        client
            .submit_answer(as_user(
                answer(&id, "answer"),
                "e",
                "executor",
                Some("ALM-EDU"),
            ))
            .await
            .unwrap();
        client
            .review_answer(as_user(
                pb::ReviewAnswerRequest {
                    appeal_id: id.clone(),
                    accept: false,
                    remarks: format!("incomplete, round {round}"),
                    new_due_date: String::new(),
                },
                "ctl",
                "controller",
                None,
            ))
            .await
            .unwrap();
    }
    let audit = |body: &str, role: &str| {
        as_user(
            pb::RunAuditRequest {
                body: body.into(),
                from: "2026-03-01".into(),
                to: "2026-03-31".into(),
            },
            "aud",
            role,
            Some("ALM-EDU"),
        )
    };
    let e = client
        .run_audit(audit("ALM-EDU", "executor"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let report = client
        .run_audit(audit("ALM-EDU", "auditor"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.appeals_checked, 1);
    let mut checks: Vec<_> = report.findings.iter().map(|f| f.check.as_str()).collect();
    checks.sort();
    assert_eq!(
        checks,
        vec!["forwarded_late", "returned_more_than_once"],
        "{report:#?}"
    );
    let all = client
        .run_audit(audit("", "auditor"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.appeals_checked, 2);

    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerouting_reassigns_keeps_history_and_ignores_older_decisions() {
    let env = TestEnv::new().await.unwrap();
    let clock = Arc::new(ManualClock::new(march_18()));
    let running = start(&env, settings_for(&env), clock.clone()).await;
    let mut tap = env.event_tap(&["appeal.assigned"]).await.unwrap();
    let mut client = running.client().await;
    let id = uuid::Uuid::now_v7().to_string();
    let number = "ALM-2026-000701";
    let mut first = routed(&id, number, march_18(), "ALM-ROADS", &[]);
    first.sequence = 1;
    publish(&env, "appeal.routed", &id, &first).await;
    wait_status(&mut client, &id, "assigned").await;

    // A registrar's override moves it to another body; the deadline still runs from
    // registration.
    clock.advance(chrono::Duration::days(1));
    let mut second = routed(&id, number, march_18(), "ALM-HEALTH", &["ALM-ROADS"]);
    second.sequence = 2;
    second.decided_by = "registrar:r-1".into();
    publish(&env, "appeal.routed", &id, &second).await;
    let ok = bakylau_testkit::eventually(WAIT, || {
        let mut c = client.clone();
        let id = id.clone();
        async move {
            c.get_assignment(as_user(
                pb::GetAssignmentRequest {
                    appeal_id: id,
                    ..Default::default()
                },
                "c",
                "controller",
                None,
            ))
            .await
            .is_ok_and(|a| a.into_inner().lead_executor == "ALM-HEALTH")
        }
    })
    .await;
    assert!(ok, "not reassigned");
    // A late redelivery of the first decision changes nothing.
    publish(&env, "appeal.routed", &id, &first).await;
    let pool = pool(&env).await;
    let ignored = bakylau_testkit::eventually(WAIT, || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM timeline WHERE action = 'routing_ignored'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
            == 1
    })
    .await;
    assert!(ignored);
    let a = wait_status(&mut client, &id, "assigned").await;
    assert_eq!(a.lead_executor, "ALM-HEALTH");
    assert_eq!(a.co_executors, vec!["ALM-ROADS".to_string()]);
    assert_eq!(a.due_date, "2026-04-13");

    let history: Vec<(String, bool, bool)> =
        sqlx::query_as("SELECT body, lead, ended_at IS NOT NULL FROM assignments ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        history,
        vec![
            ("ALM-ROADS".to_string(), true, true),
            ("ALM-HEALTH".to_string(), true, false),
            ("ALM-ROADS".to_string(), false, false),
        ]
    );
    let events = tap.collect(3, Duration::from_secs(5)).await;
    assert_eq!(events.len(), 2);
    let last = ev::AppealAssigned::decode(events[1].envelope.payload.as_slice()).unwrap();
    assert!(last.reassigned);
    assert_eq!(last.lead_executor, "ALM-HEALTH");

    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_told_twice_gets_one_coupon() {
    let env = TestEnv::new().await.unwrap();
    let clock = Arc::new(ManualClock::new(march_18()));
    let running = start(&env, settings_for(&env), clock).await;
    let mut client = running.client().await;
    let id = uuid::Uuid::now_v7().to_string();
    let number = "ALM-2026-000150";
    // The same registration under two message ids (an upstream republish).
    publish(
        &env,
        "appeal.registered",
        &id,
        &registered(&id, number, march_18(), "ru"),
    )
    .await;
    register_and_route(&env, &mut client, &id, number, "ru", "ALM-ROADS").await;

    let pool = pool(&env).await;
    let appeal = uuid::Uuid::parse_str(&id).unwrap();
    let coupons: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM letters WHERE appeal_id = $1 AND kind = 'registration_coupon'",
    )
    .bind(appeal)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(coupons, 1);
    let noted: Vec<String> =
        sqlx::query_scalar("SELECT action FROM timeline WHERE appeal_id = $1 ORDER BY at, id")
            .bind(appeal)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        noted.iter().filter(|a| *a == "letter_written").count(),
        1,
        "{noted:?}"
    );
    assert_eq!(
        noted.last().map(String::as_str),
        Some("assigned"),
        "{noted:?}"
    );
    running.stop().await;
}

/// Deliveries waiting together are applied in one go (rows locked at once, events written
/// together), with the effect of one after another: a routing sees what the registration
/// before it in the batch saved, and a registration told twice gets one coupon.
#[tokio::test]
async fn events_waiting_together_are_applied_as_if_one_after_another() {
    let env = TestEnv::new().await.unwrap();
    let clock = Arc::new(ManualClock::new(march_18()));
    start(&env, settings_for(&env), clock.clone())
        .await
        .stop()
        .await;
    let appeals = [
        (uuid::Uuid::now_v7().to_string(), "ALM-2026-000160", "kk"),
        (uuid::Uuid::now_v7().to_string(), "ALM-2026-000161", "ru"),
    ];
    for (id, number, language) in &appeals {
        let registration = registered(id, number, march_18(), language);
        publish(&env, "appeal.registered", id, &registration).await;
        publish(&env, "appeal.registered", id, &registration).await;
        let routing = routed(id, number, march_18(), "ALM-ROADS", &["ALM-HOUSING"]);
        publish(&env, "appeal.routed", id, &routing).await;
    }
    let running = start(&env, settings_for(&env), clock).await;
    let mut client = running.client().await;
    for (id, _, _) in &appeals {
        let assignment = wait_status(&mut client, id, "assigned").await;
        assert_eq!(assignment.lead_executor, "ALM-ROADS");
        assert_eq!(assignment.co_executors, ["ALM-HOUSING"]);
    }
    let pool = pool(&env).await;
    for (id, number, language) in &appeals {
        let appeal = uuid::Uuid::parse_str(id).unwrap();
        let row: (String, String, String, String) = sqlx::query_as(
            "SELECT registration_number, channel, office, language FROM appeals WHERE appeal_id = $1",
        )
        .bind(appeal)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            row,
            (
                (*number).to_owned(),
                "electronic".to_owned(),
                "ALM".to_owned(),
                (*language).to_owned()
            )
        );
        let (coupons, assigned, notified): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM letters WHERE appeal_id = $1 AND kind = 'registration_coupon'),
                    (SELECT count(*) FROM outbox WHERE routing_key = 'appeal.assigned'
                        AND position($2::bytea IN payload) > 0),
                    (SELECT count(*) FROM outbox WHERE routing_key = 'applicant.notified'
                        AND position($2::bytea IN payload) > 0)",
        )
        .bind(appeal)
        .bind(id.as_bytes())
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((coupons, assigned, notified), (1, 1, 1), "appeal {number}");
    }
    running.stop().await;
}
