//! The critical path of an appeal across the services, on the real broker and database:
//! registered at intake → routed to the right body → assigned with a deadline on
//! Kazakhstan's working-day calendar → answered → returned for rework → answered again →
//! accepted → closed, with the letters stored and the timeline complete.

mod common;

use std::time::Duration;

use bakylau_proto::control::v1 as ctl;
use bakylau_proto::events::v1 as ev;
use bakylau_proto::intake::v1 as pb;
use bakylau_proto::reporting::v1 as rep;
use ctl::control_service_client::ControlServiceClient;
use prost::Message as _;
use rep::reporting_service_client::ReportingServiceClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_appeal_goes_from_registration_to_closing_with_one_rework() {
    let stack = common::Stack::start().await;
    let mut tap = stack
        .env
        .event_tap(&["appeal.routed", "appeal.assigned", "appeal.closed"])
        .await
        .unwrap();
    let mut intake = bakylau_testkit::auth::wrap(
        bakylau_testkit::auth::Role::Registrar,
        pb::intake_service_client::IntakeServiceClient::new,
        common::channel(&stack.intake).await,
    );
    let registered = intake
        .register_appeal(common::road_complaint(common::valid_iin(11)))
        .await
        .expect("registered")
        .into_inner();
    let appeal = registered.appeal.unwrap();

    // Routing: the road-repair rule, the district's akimat leads (reg 5.2).
    let routed = tap
        .next(Duration::from_secs(60))
        .await
        .expect("appeal.routed");
    assert_eq!(routed.envelope.r#type, "appeal.routed");
    let routed = ev::AppealRouted::decode(routed.envelope.payload.as_slice()).unwrap();
    assert_eq!(routed.appeal_id, appeal.id);
    assert_eq!(routed.category, "roads_transport.road_repair");
    assert_eq!(routed.lead_executor, "akimat.talgar");
    assert!(
        routed
            .co_executors
            .contains(&"dept.transport_roads".to_owned())
    );

    // Control: the deadline is 15 working days after registration (APPK art. 76, reg 5.3).
    let assigned = tap
        .next(Duration::from_secs(60))
        .await
        .expect("appeal.assigned");
    assert_eq!(assigned.envelope.r#type, "appeal.assigned");
    let assigned = ev::AppealAssigned::decode(assigned.envelope.payload.as_slice()).unwrap();
    assert_eq!(assigned.lead_executor, "akimat.talgar");
    let mut control = bakylau_testkit::auth::wrap(
        bakylau_testkit::auth::Role::Controller,
        ControlServiceClient::new,
        common::channel(&stack.control).await,
    );
    let assignment = control
        .get_assignment(common::as_caller(
            ctl::GetAssignmentRequest {
                appeal_id: appeal.id.clone(),
                ..Default::default()
            },
            "controller-1",
            "controller",
            None,
        ))
        .await
        .expect("assignment")
        .into_inner();
    let registered_on: chrono::NaiveDate = assignment.registered_on.parse().unwrap();
    let calendar = bakylau_calendar::Calendar::embedded().unwrap();
    let expected_due = calendar.add_working_days(registered_on, 15).unwrap();
    assert_eq!(assigned.due_date, expected_due.to_string());
    assert_eq!(assignment.due_date, expected_due.to_string());

    // Another body's executor may not answer; the lead body's executor does.
    let foreign = control
        .submit_answer(common::as_caller(
            ctl::SubmitAnswerRequest {
                appeal_id: appeal.id.clone(),
                text: "Не наш вопрос".into(),
                ..Default::default()
            },
            "exec-other",
            "executor",
            Some("akimat.ile"),
        ))
        .await
        .expect_err("another body's executor is refused");
    assert_eq!(foreign.code(), tonic::Code::PermissionDenied);
    let answer = |text: &str| {
        common::as_caller(
            ctl::SubmitAnswerRequest {
                appeal_id: appeal.id.clone(),
                text: text.into(),
                measures_taken: "Выезд на место, составлен акт".into(),
                ..Default::default()
            },
            "exec-talgar",
            "executor",
            Some("akimat.talgar"),
        )
    };
    control
        .submit_answer(answer("Дорога включена в план ремонта."))
        .await
        .expect("first answer");
    let returned = control
        .review_answer(common::as_caller(
            ctl::ReviewAnswerRequest {
                appeal_id: appeal.id.clone(),
                accept: false,
                remarks: "Укажите сроки ремонта".into(),
                new_due_date: String::new(),
            },
            "controller-1",
            "controller",
            None,
        ))
        .await
        .expect("returned for rework")
        .into_inner();
    assert_eq!(returned.status, "returned_for_rework");
    assert_eq!(returned.rework_count, 1);
    control
        .submit_answer(answer(
            "Ремонт дороги по улице Абая будет выполнен до 15 июня, подрядчик определён.",
        ))
        .await
        .expect("second answer");
    let closed = control
        .review_answer(common::as_caller(
            ctl::ReviewAnswerRequest {
                appeal_id: appeal.id.clone(),
                accept: true,
                ..Default::default()
            },
            "controller-1",
            "controller",
            None,
        ))
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!(closed.status, "closed");

    let closed_event = tap
        .next(Duration::from_secs(60))
        .await
        .expect("appeal.closed");
    assert_eq!(closed_event.envelope.r#type, "appeal.closed");
    let closed_event =
        ev::AppealStatusChanged::decode(closed_event.envelope.payload.as_slice()).unwrap();
    assert!(closed_event.answer_text.contains("15 июня"));

    // The letters the applicant gets, in Russian: the coupon and the answer.
    let letters = control
        .list_letters(common::as_caller(
            ctl::ListLettersRequest {
                appeal_id: appeal.id.clone(),
                ..Default::default()
            },
            "controller-1",
            "controller",
            None,
        ))
        .await
        .expect("letters")
        .into_inner()
        .letters;
    let kinds: Vec<&str> = letters.iter().map(|l| l.kind.as_str()).collect();
    assert!(kinds.contains(&"answer"), "an answer letter: {kinds:?}");
    let answer_letter = letters.iter().find(|l| l.kind == "answer").unwrap();
    assert_eq!(answer_letter.language, "ru");
    assert!(answer_letter.body.contains("15 июня"));

    // Every step in the timeline, in order.
    let timeline = control
        .get_timeline(common::as_caller(
            ctl::GetTimelineRequest {
                appeal_id: appeal.id.clone(),
            },
            "controller-1",
            "controller",
            None,
        ))
        .await
        .expect("timeline")
        .into_inner();
    let actions: Vec<&str> = timeline.entries.iter().map(|e| e.action.as_str()).collect();
    let position = |what: &str| {
        actions
            .iter()
            .position(|a| a.contains(what))
            .unwrap_or_else(|| panic!("{what} in the timeline: {actions:?}"))
    };
    assert!(position("assigned") < position("answer_submitted"));
    assert!(position("returned_for_rework") < position("closed"));
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.contains("answer_submitted"))
            .count(),
        2,
        "two answers in the timeline: {actions:?}"
    );

    // Reporting shows it: in Talgar's summary, on the map, in the akimat's discipline row.
    // After office hours an appeal is registered on the next working day while the answer
    // is counted on the day it was given, so the period spans both; the test's own
    // database holds no other appeal.
    let period = Some(rep::Period {
        from_date: (registered_on - chrono::Days::new(7)).to_string(),
        to_date: (registered_on + chrono::Days::new(7)).to_string(),
    });
    let mut reporting = bakylau_testkit::auth::wrap(
        bakylau_testkit::auth::Role::Controller,
        ReportingServiceClient::new,
        common::channel(&stack.reporting).await,
    );
    let shown = bakylau_testkit::eventually(Duration::from_secs(60), || {
        let mut reporting = reporting.clone();
        let period = period.clone();
        async move {
            let discipline = reporting
                .discipline(rep::DisciplineRequest {
                    period,
                    ..Default::default()
                })
                .await;
            discipline.is_ok_and(|d| {
                d.into_inner()
                    .rows
                    .iter()
                    .any(|r| r.body == "akimat.talgar" && r.answered >= 1)
            })
        }
    })
    .await;
    assert!(
        shown,
        "the closed appeal reaches reporting's discipline table"
    );
    let summary = reporting
        .summary(rep::SummaryRequest {
            period: period.clone(),
            group_by: rep::Dimension::District as i32,
            ..Default::default()
        })
        .await
        .expect("summary")
        .into_inner();
    let talgar = summary
        .rows
        .iter()
        .find(|r| r.key == "talgar")
        .unwrap_or_else(|| panic!("talgar in the summary: {:?}", summary.rows));
    assert_eq!(talgar.appeals, 1);
    assert_eq!(summary.total_appeals, 1);
    let map = reporting
        .problem_map(rep::ProblemMapRequest {
            period: period.clone(),
            ..Default::default()
        })
        .await
        .expect("map")
        .into_inner();
    let cell = map
        .districts
        .iter()
        .find(|c| c.district == "talgar")
        .expect("talgar on the map");
    assert_eq!(cell.appeals, 1);
    assert!(cell.located);
    assert!(
        cell.top_categories
            .iter()
            .any(|c| c.category.starts_with("roads_transport")),
        "{:?}",
        cell.top_categories
    );
    let geojson: serde_json::Value = serde_json::from_str(&map.geojson).expect("GeoJSON");
    assert_eq!(geojson["type"], "FeatureCollection");
    let discipline = reporting
        .discipline(rep::DisciplineRequest {
            period,
            ..Default::default()
        })
        .await
        .expect("discipline")
        .into_inner();
    let row = discipline
        .rows
        .iter()
        .find(|r| r.body == "akimat.talgar")
        .expect("akimat.talgar in the discipline table");
    assert_eq!(row.assigned, 1);
    assert_eq!(row.returned_for_rework, 1);
    assert_eq!(row.overdue, 0);
    stack.stop().await;
}
