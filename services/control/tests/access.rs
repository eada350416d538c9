//! Access over real gRPC: identity from metadata; executors see and answer only their own
//! body's assignments.

mod common;

use std::sync::Arc;

use bakylau_control::clock::ManualClock;
use bakylau_proto::control::v1 as pb;
use bakylau_testkit::TestEnv;
use common::*;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executors_see_only_their_own_bodys_assignments() {
    let env = TestEnv::new().await.unwrap();
    let clock = Arc::new(ManualClock::new(march_18()));
    let running = start(&env, settings_for(&env), clock).await;
    let mut client = running.client().await;
    let roads = uuid::Uuid::now_v7().to_string();
    let health = uuid::Uuid::now_v7().to_string();
    publish(
        &env,
        "appeal.routed",
        &roads,
        &routed(
            &roads,
            "ALM-2026-000501",
            march_18(),
            "ALM-ROADS",
            &["TALGAR"],
        ),
    )
    .await;
    publish(
        &env,
        "appeal.routed",
        &health,
        &routed(&health, "ALM-2026-000502", march_18(), "ALM-HEALTH", &[]),
    )
    .await;
    wait_status(&mut client, &roads, "assigned").await;
    wait_status(&mut client, &health, "assigned").await;

    // No valid token: UNAUTHENTICATED; an executor token without a body is not valid either.
    let mut no_token = tonic::Request::new(pb::ListDueRequest::default());
    no_token
        .metadata_mut()
        .insert("authorization", "Bearer not-a-token".parse().unwrap());
    let e = client.list_due(no_token).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = client
        .list_due(as_user(
            pb::ListDueRequest::default(),
            "u",
            "executor",
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);

    // Lists: own body only (as lead or co-executor); asking for another body is refused.
    let own = client
        .list_due(as_user(
            pb::ListDueRequest::default(),
            "u",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.assignments.len(), 1);
    assert_eq!(own.assignments[0].appeal_id, roads);
    let co = client
        .list_due(as_user(
            pb::ListDueRequest::default(),
            "u",
            "executor",
            Some("TALGAR"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(co.assignments.len(), 1);
    let e = client
        .list_due(as_user(
            pb::ListDueRequest {
                body: "ALM-HEALTH".into(),
                ..Default::default()
            },
            "u",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let all = client
        .list_due(as_user(
            pb::ListDueRequest::default(),
            "c",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.assignments.len(), 2);
    // Paging.
    let page = client
        .list_due(as_user(
            pb::ListDueRequest {
                page_size: 1,
                ..Default::default()
            },
            "c",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.assignments.len(), 1);
    let rest = client
        .list_due(as_user(
            pb::ListDueRequest {
                page_size: 1,
                page_token: page.next_page_token.clone(),
                ..Default::default()
            },
            "c",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.assignments.len(), 1);
    assert_ne!(rest.assignments[0].appeal_id, page.assignments[0].appeal_id);

    // Reading, answering and the timeline of another body's appeal are refused.
    let e = client
        .get_assignment(as_user(
            pb::GetAssignmentRequest {
                appeal_id: health.clone(),
                ..Default::default()
            },
            "u",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = client
        .submit_answer(as_user(
            pb::SubmitAnswerRequest {
                appeal_id: health.clone(),
                text: "not ours".into(),
                ..Default::default()
            },
            "u",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = client
        .get_timeline(as_user(
            pb::GetTimelineRequest {
                appeal_id: health.clone(),
            },
            "u",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // A controller cannot answer in an executor's place.
    let e = client
        .submit_answer(as_user(
            pb::SubmitAnswerRequest {
                appeal_id: health.clone(),
                text: "x".into(),
                ..Default::default()
            },
            "c",
            "controller",
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // Bad input names the field.
    let e = client
        .get_assignment(as_user(
            pb::GetAssignmentRequest {
                appeal_id: "nope".into(),
                ..Default::default()
            },
            "c",
            "controller",
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("appeal_id"));
    // Too large an attachment.
    let e = client
        .submit_answer(as_user(
            pb::SubmitAnswerRequest {
                appeal_id: roads.clone(),
                text: "answer".into(),
                attachments: vec![pb::AnswerAttachment {
                    name: "big.bin".into(),
                    media_type: String::new(),
                    content: vec![0u8; 10 * 1024 * 1024 + 1],
                }],
                ..Default::default()
            },
            "u",
            "executor",
            Some("ALM-ROADS"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().contains("attachments[0].content"),
        "{}",
        e.message()
    );

    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_edits_are_validated_audited_and_change_deadlines() {
    let env = TestEnv::new().await.unwrap();
    let clock = Arc::new(ManualClock::new(march_18()));
    let running = start(&env, settings_for(&env), clock).await;
    let mut client = running.client().await;
    let compute = |from: &str, n: u32| {
        as_user(
            pb::ComputeDeadlineRequest {
                from: from.into(),
                working_days: n,
                to: String::new(),
            },
            "u",
            "registrar",
            None,
        )
    };
    let before = client
        .compute_deadline(compute("2026-10-21", 2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.deadline, "2026-10-23");

    let transfer = |working_day: &str| {
        as_user(
            pb::AddTransferRequest {
                transfer: Some(pb::Transfer {
                    day_off: "2026-10-23".into(),
                    working_day: working_day.into(),
                    decree: "Government decree No. 999 (test)".into(),
                }),
                reason: "decree published".into(),
            },
            "ctl-7",
            "controller",
            None,
        )
    };
    // Executors may not edit; a weekday cannot be "made" a working day.
    let e = client
        .add_transfer(as_user(
            pb::AddTransferRequest::default(),
            "u",
            "executor",
            Some("X"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = client
        .add_transfer(transfer("2026-10-22"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let year = client
        .add_transfer(transfer("2026-10-31"))
        .await
        .unwrap()
        .into_inner();
    assert!(year.transfers.iter().any(|t| t.day_off == "2026-10-23"));
    assert!(
        year.special_days
            .iter()
            .any(|d| d.date == "2026-10-31" && d.working)
    );
    let after = client
        .compute_deadline(compute("2026-10-21", 2))
        .await
        .unwrap()
        .into_inner();
    // 23 October is now off; 24-26 October are the weekend, Republic Day and its moved day off.
    assert_eq!(after.deadline, "2026-10-27");

    // A holiday added and removed.
    let year = client
        .add_holiday(as_user(
            pb::AddHolidayRequest {
                holiday: Some(pb::Holiday {
                    date: "2027-03-15".into(),
                    name_kk: "Конституция күні".into(),
                    name_ru: "День Конституции".into(),
                    name_en: "Constitution Day".into(),
                    ..Default::default()
                }),
                reason: "new Constitution".into(),
            },
            "head-1",
            "head",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(year.holidays.iter().any(|h| h.date == "2027-03-15"));
    client
        .remove_holiday(as_user(
            pb::RemoveHolidayRequest {
                date: "2027-03-15".into(),
                reason: "entered by mistake".into(),
            },
            "head-1",
            "head",
            None,
        ))
        .await
        .unwrap();
    let e = client
        .remove_holiday(as_user(
            pb::RemoveHolidayRequest {
                date: "2027-03-16".into(),
                reason: String::new(),
            },
            "head-1",
            "head",
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    let changes = client
        .list_calendar_changes(as_user(
            pb::ListCalendarChangesRequest { limit: 10 },
            "a",
            "auditor",
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .changes;
    let actions: Vec<_> = changes.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "calendar.remove_holiday",
            "calendar.add_holiday",
            "calendar.add_transfer"
        ]
    );
    assert_eq!(changes[2].actor, "ctl-7");
    assert_eq!(changes[2].reason, "decree published");

    // The policy is data: a head changes the period for complaints.
    let mut p = client
        .get_policy(as_user(pb::GetPolicyRequest {}, "h", "head", None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.default_working_days, 15);
    for k in &mut p.days_per_kind {
        if k.kind == "complaint" {
            k.working_days = 10;
        }
    }
    let e = client
        .update_policy(as_user(
            pb::UpdatePolicyRequest {
                policy: Some(pb::Policy {
                    default_working_days: 0,
                    ..p.clone()
                }),
                reason: "x".into(),
            },
            "h",
            "head",
            None,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    client
        .update_policy(as_user(
            pb::UpdatePolicyRequest {
                policy: Some(p),
                reason: "akim's order".into(),
            },
            "h",
            "head",
            None,
        ))
        .await
        .unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    publish(
        &env,
        "appeal.routed",
        &id,
        &routed(&id, "ALM-2026-000601", march_18(), "ALM-ROADS", &[]),
    )
    .await;
    let a = wait_status(&mut client, &id, "assigned").await;
    assert_eq!(a.working_days, 10);
    assert_eq!(a.due_date, "2026-04-06");

    running.stop().await;
}
