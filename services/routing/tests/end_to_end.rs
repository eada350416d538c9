//! End to end on the real broker and database: an appeal registered through intake's gRPC
//! is routed by routing, and `appeal.routed` names the expected body.

mod common;

use std::time::Duration;

use bakylau_proto::events::v1 as ev;
use bakylau_proto::intake::v1 as ipb;
use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use bakylau_proto::routing::v1 as pb;
use common::{payload, start, start_intake};

fn test_iin(serial: u32) -> String {
    (serial..)
        .find_map(|s| {
            bakylau_intake::domain::identity::with_check_digit(&format!("9001013{:04}", s % 10_000))
        })
        .expect("some serial has a check digit")
}

fn request(
    serial: u32,
    district: &str,
    language: ipb::Language,
    text: &str,
) -> ipb::RegisterAppealRequest {
    ipb::RegisterAppealRequest {
        request_id: uuid::Uuid::new_v4().to_string(),
        kind: ipb::AppealKind::Complaint as i32,
        channel: ipb::Channel::PaperInPerson as i32,
        language: language as i32,
        applicant: Some(ipb::Applicant {
            party: Some(ipb::applicant::Party::Individual(ipb::Individual {
                iin: test_iin(serial),
                full_name: "Сапарова Айгерім".into(),
                phone: "+77015550000".into(),
                email: String::new(),
                address: "Талгар қ., Абай к-сі 1".into(),
            })),
        }),
        locality: Some(ipb::Locality {
            kato: String::new(),
            region: "Алматы облысы".into(),
            district: district.into(),
            rural_district: String::new(),
        }),
        subject: "Су".into(),
        text: text.into(),
        received_by: Some(ipb::Officer {
            full_name: "Registrar One".into(),
            position: "chief specialist".into(),
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn appeal_registered_through_intake_is_routed_to_the_district_akimat() {
    let routing = start().await;
    let (intake_addr, intake_stop, intake_task) = start_intake(&routing.env).await;
    let mut tap = routing
        .env
        .event_tap(&["appeal.routed", "appeal.redirected"])
        .await
        .unwrap();
    let mut intake = bakylau_testkit::auth::client(
        bakylau_testkit::auth::Role::Registrar,
        IntakeServiceClient::new,
        intake_addr,
    )
    .await
    .unwrap();

    // Kazakh text; the district as a Kazakh name.
    let kk = intake
        .register_appeal(request(
            1,
            "Талғар ауданы",
            ipb::Language::Kk,
            "Талғар ауданы Бесағаш ауылында үш апта бойы ауыз су жоқ, су құбыры істемейді. Сумен жабдықтауды қалпына келтіруді сұраймыз.",
        ))
        .await
        .unwrap()
        .into_inner();
    let kk_id = kk.appeal.unwrap().id;
    // Russian text about a crime: redirected, not routed (reg 5.2).
    let ru = intake
        .register_appeal(request(
            2,
            "karasay",
            ipb::Language::Ru,
            "Вчера у меня украли велосипед из подъезда, прошу найти вора и возбудить уголовное дело.",
        ))
        .await
        .unwrap()
        .into_inner();
    let ru_id = ru.appeal.unwrap().id;

    let seen = tap.collect(2, Duration::from_secs(60)).await;
    assert_eq!(seen.len(), 2, "both appeals decided");
    let routed = seen
        .iter()
        .find(|e| e.envelope.r#type == "appeal.routed")
        .expect("appeal.routed");
    assert_eq!(routed.envelope.subject, kk_id);
    let r: ev::AppealRouted = payload(routed);
    assert_eq!(r.lead_executor, "akimat.talgar");
    assert_eq!(r.category, "housing_utilities.water_supply");
    assert_eq!(
        r.registration_number,
        kk.coupon.unwrap().registration_number
    );
    assert_eq!(r.kind, "complaint");
    assert!(r.registered_at.is_some());
    let redirected = seen
        .iter()
        .find(|e| e.envelope.r#type == "appeal.redirected")
        .expect("appeal.redirected");
    assert_eq!(redirected.envelope.subject, ru_id);
    let d: ev::AppealRedirected = payload(redirected);
    assert_eq!(d.to_body, "state.police");

    let mut client = routing.client().await;
    let view = client
        .get_routing(pb::GetRoutingRequest {
            appeal_id: kk_id.clone(),
            registration_number: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.district, "talgar");
    assert_eq!(view.outcome, "routed");

    intake_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), intake_task).await;
    routing.stop().await;
}
