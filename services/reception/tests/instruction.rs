//! An instruction given at a reception is created through control's
//! `InstructionService/CreateInstruction`. The real control service runs in-process on the
//! same database and vhost; the test reads the instruction back over control's gRPC: issuer,
//! official, text, executors, appeals, source `reception:<booking>`, who entered it, and
//! that a retry of the same outcome does not create a second one.

mod common;

use bakylau_proto::control::v1 as control;
use bakylau_proto::control::v1::instruction_service_client::InstructionServiceClient;
use bakylau_proto::reception::v1 as pb;
use bakylau_testkit::TestEnv;

/// A request to control as a controller of the Department.
fn as_controller<T>(message: T) -> tonic::Request<T> {
    bakylau_testkit::auth::as_user(message, "controller.dana", "controller", None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instruction_outcome_is_created_in_control_once() {
    let env = TestEnv::new().await.unwrap();
    let control_service = common::start_control(&env).await;
    let mut instructions = bakylau_testkit::auth::wrap(
        bakylau_testkit::auth::Role::Controller,
        InstructionServiceClient::new,
        common::channel(&control_service.addr)
            .await
            .expect("connect to control"),
    );
    let mut settings = common::settings_for(&env);
    settings.reception.control_addr = control_service.addr.clone();
    let reception = common::start_with(settings).await;
    let mut client = reception.client().await;
    // The akim receives on Fridays only; take the deputy for social affairs and any slot.
    let slot = common::free_slots(&mut client, "deputy_akim.social").await[0]
        .id
        .clone();
    let booking = client
        .book(common::book_request(&slot, 11))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    client
        .check_in(pb::CheckInRequest {
            booking_id: booking.id.clone(),
        })
        .await
        .unwrap();
    let appeal_id = "0190f0e0-0000-7000-8000-0000000000aa".to_string();
    // Control computes deadlines on its working-day calendar, which covers a few years
    // only: give a date three weeks ahead; control moves it to a working day.
    let calendar = bakylau_calendar::Calendar::embedded().unwrap();
    let due = bakylau_calendar::kz_date(chrono::Utc::now()) + chrono::Days::new(21);
    let due_working = calendar.working_day_on_or_after(due).to_string();
    let mut request = tonic::Request::new(pb::RecordOutcomeRequest {
        booking_id: booking.id.clone(),
        outcome: "instruction_given".into(),
        note: String::new(),
        appeal: None,
        instruction: Some(pb::InstructionDetails {
            text: "Provide 20 more beds in the district hospital".into(),
            executors: vec!["dept.health".into(), "akimat.talgar".into()],
            due_date: due.to_string(),
            appeal_ids: vec![appeal_id.clone()],
        }),
    });
    request.metadata_mut().insert(
        "authorization",
        bakylau_testkit::auth::bearer(&bakylau_testkit::auth::mint_for(
            "registrar.aigerim",
            bakylau_testkit::auth::Role::Registrar,
            None,
            None,
        )),
    );
    let held = client.record_outcome(request).await.unwrap().into_inner();
    assert_eq!(held.status, "held");
    let instruction_id = held.outcomes[0].instruction_id.clone();
    assert!(
        uuid::Uuid::parse_str(&instruction_id).is_ok(),
        "control's instruction id: {instruction_id:?}"
    );

    // Control has it, as reception sent it.
    let created = instructions
        .get_instruction(as_controller(control::GetInstructionRequest {
            instruction_id: instruction_id.clone(),
        }))
        .await
        .expect("control has the instruction")
        .into_inner();
    assert_eq!(created.id, instruction_id);
    assert_eq!(
        held.outcomes[0].note,
        format!("instruction {}", created.number)
    );
    assert_eq!(created.issuer, "deputy_akim");
    assert!(
        created.issuer_official.contains("Deputy Akim"),
        "{}",
        created.issuer_official
    );
    assert_eq!(
        created.text,
        "Provide 20 more beds in the district hospital"
    );
    assert_eq!(created.lead_executor, "dept.health");
    assert_eq!(created.co_executors, ["akimat.talgar"]);
    assert_eq!(created.appeal_ids, std::slice::from_ref(&appeal_id));
    assert_eq!(created.source, format!("reception:{}", booking.id));
    assert_eq!(created.status, "issued");
    assert_eq!(created.due_date, due_working);
    // Reception creates it under its own service identity, never the user's token.
    assert_eq!(created.created_by, "reception");

    // Recorded once: a retry answers with the stored outcome and control has one instruction.
    let again = client
        .record_outcome(pb::RecordOutcomeRequest {
            booking_id: booking.id.clone(),
            outcome: "instruction_given".into(),
            instruction: Some(pb::InstructionDetails {
                text: "Provide 20 more beds in the district hospital".into(),
                executors: vec!["dept.health".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.outcomes.len(), 1);
    assert_eq!(again.outcomes[0].instruction_id, instruction_id);
    let listed = instructions
        .list_instructions(as_controller(control::ListInstructionsRequest::default()))
        .await
        .expect("list instructions")
        .into_inner()
        .instructions;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, instruction_id);
    let on_appeal = instructions
        .list_instructions(as_controller(control::ListInstructionsRequest {
            appeal_id: appeal_id.clone(),
            ..Default::default()
        }))
        .await
        .expect("list instructions on the appeal")
        .into_inner()
        .instructions;
    assert_eq!(on_appeal.len(), 1);

    // Missing executors are named.
    let other = common::free_slots(&mut client, "deputy_akim.social").await[0]
        .id
        .clone();
    let b2 = client
        .book(common::book_request(&other, 12))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    client
        .check_in(pb::CheckInRequest {
            booking_id: b2.id.clone(),
        })
        .await
        .unwrap();
    let err = client
        .record_outcome(pb::RecordOutcomeRequest {
            booking_id: b2.id,
            outcome: "instruction_given".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        common::bad_fields(&err),
        ["instruction.text", "instruction.executors"]
    );
    reception.stop().await;
    control_service.stop().await;
}
