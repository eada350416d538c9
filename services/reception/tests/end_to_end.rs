//! End to end on the real broker and database, intake running in-process next to
//! reception: book with an earlier appeal, check in, record an outcome that registers an
//! appeal in intake with channel `reception`; `appeal.registered` and `reception.held` are
//! published; a retry registers nothing twice; `appeal.closed` from control marks the
//! outcome answered.

mod common;

use std::time::Duration;

use bakylau_proto::events::v1 as ev;
use bakylau_proto::intake::v1 as intake;
use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use bakylau_proto::reception::v1 as pb;
use bakylau_testkit::TestEnv;
use prost::Message as _;
use tonic::Code;

fn earlier_appeal(serial: u32) -> intake::RegisterAppealRequest {
    intake::RegisterAppealRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        kind: intake::AppealKind::Complaint as i32,
        channel: intake::Channel::PaperInPerson as i32,
        language: intake::Language::Ru as i32,
        applicant: Some(intake::Applicant {
            party: Some(intake::applicant::Party::Individual(intake::Individual {
                iin: common::iin(serial),
                full_name: "Сапарова Айгерім".into(),
                phone: "+77015550000".into(),
                email: String::new(),
                address: "Талгар қ., Абай к-сі 1".into(),
            })),
        }),
        locality: Some(intake::Locality {
            region: "Алматинская".into(),
            district: "talgar".into(),
            ..Default::default()
        }),
        subject: "Больница".into(),
        text: "Не хватает мест в районной больнице".into(),
        received_by: Some(intake::Officer {
            full_name: "Registrar One".into(),
            position: "chief specialist".into(),
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outcome_registers_the_appeal_in_intake_with_channel_reception() {
    let env = TestEnv::new().await.unwrap();
    let mut tap = env
        .event_tap(&["appeal.registered", "reception.held"])
        .await
        .unwrap();
    let intake_service = common::start_intake(&env).await;
    let mut settings = common::settings_for(&env);
    settings.reception.intake_addr = intake_service.addr.clone();
    let reception = common::start_with(settings).await;
    let mut intake_client = bakylau_testkit::auth::wrap(
        bakylau_testkit::auth::Role::Registrar,
        IntakeServiceClient::new,
        common::channel(&intake_service.addr).await.unwrap(),
    );
    let mut client = reception.client().await;
    common::setup_official(&mut client, common::OFFICIAL).await;

    // The visitor's earlier appeal, registered on paper.
    let earlier = intake_client
        .register_appeal(earlier_appeal(7))
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    let first = tap
        .next(Duration::from_secs(30))
        .await
        .expect("earlier appeal.registered");
    assert_eq!(first.envelope.subject, earlier.id);

    // Pre-screening shows it, in progress.
    let slot = common::free_slots(&mut client, common::OFFICIAL).await[0]
        .id
        .clone();
    let mut request = common::book_request(&slot, 7);
    request.earlier_appeal = earlier.registration_number.clone();
    let booked = client.book(request).await.unwrap().into_inner();
    let screening = booked.pre_screening.unwrap();
    let shown = screening.earlier_appeal.unwrap();
    assert_eq!(shown.appeal_id, earlier.id);
    assert_eq!(shown.status, "registered");
    assert!(screening.within_topics);
    assert!(
        screening.notes.iter().any(|n| n.contains("in progress")),
        "{:?}",
        screening.notes
    );
    let booking = booked.booking.unwrap();

    // Hold the reception: check in, then the official has an appeal registered.
    client
        .check_in(pb::CheckInRequest {
            booking_id: booking.id.clone(),
        })
        .await
        .unwrap();
    let outcome = pb::RecordOutcomeRequest {
        booking_id: booking.id.clone(),
        outcome: "appeal_registered".into(),
        note: "Complaint about hospital beds taken at the reception".into(),
        appeal: Some(pb::AppealDetails {
            kind: "complaint".into(),
            subject: "Больничные койки".into(),
            text: String::new(),
            district: String::new(),
            language: String::new(),
            address: "Талгар қ., Абай к-сі 1".into(),
        }),
        instruction: None,
    };
    let held = client
        .record_outcome(tonic::Request::new(outcome.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.status, "held");
    let recorded = held.outcomes[0].clone();
    assert_eq!(recorded.kind, "appeal_registered");
    assert!(
        recorded.registration_number.starts_with("ALM-"),
        "{recorded:?}"
    );

    // Intake has it, with channel `reception`, the visitor as applicant, the official as
    // the receiving officer, and the earlier appeal linked as a repeat.
    let appeal = intake_client
        .get_appeal(intake::GetAppealRequest {
            key: Some(intake::get_appeal_request::Key::Id(
                recorded.appeal_id.clone(),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(appeal.channel, intake::Channel::Reception as i32);
    assert_eq!(appeal.kind, intake::AppealKind::Complaint as i32);
    assert_eq!(appeal.status, intake::AppealStatus::Registered as i32);
    assert_eq!(appeal.text, "Не хватает мест в больнице");
    assert_eq!(
        appeal.received_by.as_ref().unwrap().full_name,
        "Test Official"
    );
    assert_eq!(
        appeal.repeated_of_registration_number,
        earlier.registration_number
    );
    match appeal.applicant.unwrap().party.unwrap() {
        intake::applicant::Party::Individual(p) => assert_eq!(p.iin, common::iin(7)),
        other => panic!("{other:?}"),
    }

    // Both events are on the exchange: appeal.registered (channel reception) from intake,
    // reception.held carrying the appeal id from reception.
    let events = tap.collect(2, Duration::from_secs(30)).await;
    let registered = events
        .iter()
        .find(|e| e.envelope.r#type == "appeal.registered")
        .expect("appeal.registered");
    let payload = ev::AppealRegistered::decode(registered.envelope.payload.as_slice()).unwrap();
    assert_eq!(payload.appeal_id, recorded.appeal_id);
    assert_eq!(payload.channel, "reception");
    let held_event = events
        .iter()
        .find(|e| e.envelope.r#type == "reception.held")
        .expect("reception.held");
    let payload = ev::ReceptionChanged::decode(held_event.envelope.payload.as_slice()).unwrap();
    assert_eq!(
        payload.appeal_ids,
        std::slice::from_ref(&recorded.appeal_id)
    );
    assert_eq!(payload.outcome, "appeal_registered");
    assert_eq!(payload.booking_id, booking.id);

    // A retry answers with the same outcome; and even if reception lost its record after
    // intake registered the appeal (a crash between the two), recording again gets the
    // same appeal back: intake is called with a deterministic request id.
    let again = client
        .record_outcome(outcome.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.outcomes.len(), 1);
    let pool = common::pool(&env).await;
    sqlx::query("DELETE FROM outcomes WHERE booking_id = $1::uuid")
        .bind(&booking.id)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE bookings SET status = 'checked_in' WHERE id = $1::uuid")
        .bind(&booking.id)
        .execute(&pool)
        .await
        .unwrap();
    let redone = client.record_outcome(outcome).await.unwrap().into_inner();
    assert_eq!(redone.outcomes[0].appeal_id, recorded.appeal_id);
    let from_reception = intake_client
        .list_appeals(intake::ListAppealsRequest {
            channel: intake::Channel::Reception as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .appeals;
    assert_eq!(from_reception.len(), 1, "registered once");

    // An instruction needs control, which is not configured here: a clear refusal.
    let err = client
        .record_outcome(pb::RecordOutcomeRequest {
            booking_id: booking.id.clone(),
            outcome: "instruction_given".into(),
            instruction: Some(pb::InstructionDetails {
                text: "Open 20 more beds".into(),
                executors: vec!["dept.health".into()],
                due_date: String::new(),
                appeal_ids: vec![],
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("control"), "{}", err.message());

    // Control closes the appeal: reception marks the outcome answered, and pre-screening
    // of a new booking naming it says so.
    let conn = env.amqp().await.unwrap();
    let ch = bakylau_platform::broker::confirm_channel(&conn)
        .await
        .unwrap();
    let closed = ev::AppealStatusChanged {
        appeal_id: recorded.appeal_id.clone(),
        registration_number: recorded.registration_number.clone(),
        status: "closed".into(),
        ..Default::default()
    };
    let message_id = uuid::Uuid::now_v7().to_string();
    let envelope = ev::Envelope {
        id: message_id.clone(),
        r#type: "appeal.closed".into(),
        occurred_at: Some(prost_types_now()),
        producer: "control".into(),
        subject: recorded.appeal_id.clone(),
        payload: closed.encode_to_vec(),
        payload_type: "bakylau.events.v1.AppealStatusChanged".into(),
    };
    bakylau_platform::broker::publish_confirmed(
        &ch,
        bakylau_platform::broker::EVENTS_EXCHANGE,
        "appeal.closed",
        &envelope.encode_to_vec(),
        lapin::BasicProperties::default()
            .with_message_id(message_id.as_str().into())
            .with_type("appeal.closed".into()),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let marked = bakylau_testkit::eventually(Duration::from_secs(30), || {
        let pool = pool.clone();
        let id = booking.id.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT appeal_closed_at IS NOT NULL FROM outcomes WHERE booking_id = $1::uuid",
            )
            .bind(id)
            .fetch_optional(&pool)
            .await
            .ok()
            .flatten()
            .unwrap_or(false)
        }
    })
    .await;
    assert!(marked, "the outcome is marked answered");
    let screening = client
        .pre_screen(pb::PreScreenRequest {
            official_id: common::OFFICIAL.into(),
            category: String::new(),
            earlier_appeal: recorded.registration_number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(screening.earlier_appeal.unwrap().status, "closed");
    assert!(screening.notes[0].contains("already answered"));
    // The visitor disputes the answer: the supervising deputy takes part (reg 6.2).
    let participants: Vec<_> = screening
        .suggested_participants
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(participants, ["deputy_akim.social"]);

    pool.close().await;
    reception.stop().await;
    intake_service.stop().await;
}

fn prost_types_now() -> prost_types::Timestamp {
    let now = chrono::Utc::now();
    prost_types::Timestamp {
        seconds: now.timestamp(),
        nanos: now.timestamp_subsec_nanos() as i32,
    }
}
