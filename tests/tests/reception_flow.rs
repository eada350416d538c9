//! A visitor at a personal reception (reg 6): booked, checked in, and the official has an
//! appeal registered; it then flows like any other appeal — through intake with channel
//! `reception`, routed and assigned with a deadline.

mod common;

use std::time::Duration;

use bakylau_proto::events::v1 as ev;
use bakylau_proto::reception::v1 as pb;
use pb::reception_service_client::ReceptionServiceClient;
use prost::Message as _;

const OFFICIAL: &str = "e2e.health_head";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_appeal_raised_at_a_reception_is_routed_and_assigned() {
    let stack = common::Stack::start().await;
    let mut tap = stack
        .env
        .event_tap(&["appeal.routed", "appeal.assigned"])
        .await
        .unwrap();
    let mut reception = bakylau_testkit::auth::wrap(
        bakylau_testkit::auth::Role::Controller,
        ReceptionServiceClient::new,
        common::channel(&stack.reception).await,
    );
    reception
        .save_official(pb::SaveOfficialRequest {
            official: Some(pb::Official {
                id: OFFICIAL.into(),
                full_name: "Test Official".into(),
                position: "Head of the Department of Health".into(),
                kind: "subdivision_head".into(),
                body: "dept.health".into(),
                district: String::new(),
                topics: vec!["health".into()],
                supervisor_id: "deputy_akim.social".into(),
                active: true,
            }),
        })
        .await
        .expect("official saved");
    reception
        .set_schedule(pb::SetScheduleRequest {
            official_id: OFFICIAL.into(),
            weekly: (1..=7)
                .map(|weekday| pb::WeeklyHours {
                    weekday,
                    start: "09:00".into(),
                    end: "18:00".into(),
                    slot_minutes: 30,
                    format: "in_person".into(),
                    kind: "personal".into(),
                    venue: Some(pb::Venue {
                        room: "Room 1".into(),
                        ..Default::default()
                    }),
                })
                .collect(),
            publish_days_ahead: 30,
        })
        .await
        .expect("schedule set");
    let soon = chrono::Utc::now().timestamp() + 15 * 60;
    let slot = reception
        .list_slots(pb::ListSlotsRequest {
            official_id: OFFICIAL.into(),
            free_only: true,
            ..Default::default()
        })
        .await
        .expect("slots")
        .into_inner()
        .slots
        .into_iter()
        .find(|s| s.starts_at.as_ref().is_some_and(|t| t.seconds > soon))
        .expect("a free slot in the next 30 days");
    let issue = "В районной больнице Талгара не хватает врачей и коек, очереди к терапевту \
                 на две недели, прошу принять меры по здравоохранению.";
    let booked = reception
        .book(pb::BookRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            slot_id: slot.id.clone(),
            visitor: Some(pb::Visitor {
                full_name: "Сапарова Айгерім".into(),
                iin: common::valid_iin(21),
                phone: "+77015550000".into(),
                organisation: String::new(),
            }),
            issue: issue.into(),
            category: "health".into(),
            earlier_appeal: String::new(),
            participants: Vec::new(),
            language: "ru".into(),
            district: "talgar".into(),
        })
        .await
        .expect("booked")
        .into_inner()
        .booking
        .unwrap();
    reception
        .check_in(pb::CheckInRequest {
            booking_id: booked.id.clone(),
        })
        .await
        .expect("checked in");
    let held = reception
        .record_outcome(pb::RecordOutcomeRequest {
            booking_id: booked.id.clone(),
            outcome: "appeal_registered".into(),
            note: "appeal taken at the reception".into(),
            appeal: Some(pb::AppealDetails {
                kind: "application".into(),
                subject: "Нехватка врачей в больнице".into(),
                text: String::new(),
                district: "talgar".into(),
                language: "ru".into(),
                address: "Талгар, Абай 1".into(),
            }),
            instruction: None,
        })
        .await
        .expect("outcome recorded")
        .into_inner();
    let appeal_id = held.outcomes[0].appeal_id.clone();
    assert!(!appeal_id.is_empty(), "an appeal was registered");

    let routed = tap
        .next(Duration::from_secs(60))
        .await
        .expect("appeal.routed");
    assert_eq!(routed.envelope.r#type, "appeal.routed");
    let routed = ev::AppealRouted::decode(routed.envelope.payload.as_slice()).unwrap();
    assert_eq!(routed.appeal_id, appeal_id);
    assert!(routed.category.starts_with("health"), "{}", routed.category);
    let assigned = tap
        .next(Duration::from_secs(60))
        .await
        .expect("appeal.assigned");
    assert_eq!(assigned.envelope.r#type, "appeal.assigned");
    let assigned = ev::AppealAssigned::decode(assigned.envelope.payload.as_slice()).unwrap();
    assert_eq!(assigned.appeal_id, appeal_id);
    assert_eq!(assigned.lead_executor, routed.lead_executor);
    assert!(!assigned.due_date.is_empty());
    stack.stop().await;
}
