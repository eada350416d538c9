//! Routing over real RabbitMQ, Postgres and gRPC: deciding registered appeals, redelivery,
//! exclusions, near-duplicates, the manual queue and a registrar's override, and audited
//! reference edits.

mod common;

use std::time::Duration;

use bakylau_proto::events::v1 as ev;
use bakylau_proto::routing::v1 as pb;
use common::{as_registrar, inbox_reaches, payload, publish, registered, start, wait_decided};
use tonic::Code;
use tonic_types::StatusExt as _;

const WATER: &str = "В селе Бесагаш уже третью неделю нет питьевой воды, водопровод не работает. Просим восстановить водоснабжение.";
const WATER_AGAIN: &str = "В селе Бесагаш уже третью неделю нет питьевой воды!! Водопровод не работает, просим восстановить водоснабжение";
const ROAD: &str = "Улица Абая в Талгаре вся в ямах, асфальт разбит, прошу отремонтировать дорогу.";
const GIBBERISH: &str = "асдф кывап йцук";

#[tokio::test]
async fn registered_appeal_is_routed_once_despite_redelivery_and_replay() {
    let svc = start().await;
    let mut tap = svc
        .env
        .event_tap(&[
            "appeal.routed",
            "appeal.redirected",
            "appeal.needs_manual_routing",
        ])
        .await
        .unwrap();
    let e = registered(WATER, "Талгарский район", "ref-1");
    let message_id = uuid::Uuid::now_v7().to_string();
    publish(&svc.env, &e, &message_id).await;
    publish(&svc.env, &e, &message_id).await; // broker redelivery: same message id
    publish(&svc.env, &e, &uuid::Uuid::now_v7().to_string()).await; // a replay under a new id

    let first = tap
        .next(Duration::from_secs(30))
        .await
        .expect("appeal.routed");
    assert_eq!(first.envelope.r#type, "appeal.routed");
    assert_eq!(first.envelope.subject, e.appeal_id);
    assert_eq!(first.envelope.producer, "routing");
    let routed: ev::AppealRouted = payload(&first);
    assert_eq!(routed.lead_executor, "akimat.talgar");
    assert_eq!(routed.category, "housing_utilities.water_supply");
    assert_eq!(routed.top_category, "housing_utilities");
    assert!(
        routed.decided_by.starts_with("rule:"),
        "{}",
        routed.decided_by
    );
    assert!(
        routed.classified_by.starts_with("classifier:logreg"),
        "{}",
        routed.classified_by
    );
    assert!(routed.confidence >= 0.7);
    assert_eq!(routed.locality.unwrap().district, "talgar");
    assert_eq!(routed.sequence, 1);
    assert!(
        tap.next(Duration::from_secs(3)).await.is_none(),
        "routed more than once"
    );

    let pool = svc.pool().await;
    assert!(
        inbox_reaches(&pool, 2).await,
        "both distinct message ids reached the inbox"
    );
    let decisions: i64 = sqlx::query_scalar("SELECT count(*) FROM decisions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(decisions, 1);

    let mut client = svc.client().await;
    let by_number = client
        .get_routing(pb::GetRoutingRequest {
            appeal_id: String::new(),
            registration_number: e.registration_number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_number.appeal_id, e.appeal_id);
    assert_eq!(by_number.outcome, "routed");
    assert_eq!(by_number.event_id, first.message_id);
    assert!(by_number.history.is_empty());
    svc.stop().await;
}

#[tokio::test]
async fn corruption_report_is_redirected_with_explanation_and_notice_date() {
    let svc = start().await;
    let mut tap = svc.env.event_tap(&["appeal.redirected"]).await.unwrap();
    let mut e = registered(ROAD, "talgar", "");
    e.corruption_report = true;
    e.applicant_type = "anonymous".into();
    e.anonymous = true;
    // Friday 20 March 2026, 07:00 in Kazakhstan: the notice is due three working days
    // later by the calendar, past the weekend and the Nauryz holidays.
    e.registered_at = Some(prost_types::Timestamp {
        seconds: 1_773_972_000,
        nanos: 0,
    });
    publish(&svc.env, &e, &uuid::Uuid::now_v7().to_string()).await;
    let seen = tap
        .next(Duration::from_secs(30))
        .await
        .expect("appeal.redirected");
    let r: ev::AppealRedirected = payload(&seen);
    assert_eq!(r.to_body, "state.anticorruption");
    assert_eq!(r.reason_code, "reg_5_2_corruption");
    assert!(r.explanation_ru.contains("коррупц"));
    assert!(!r.explanation_kk.is_empty());
    assert_eq!(r.decided_by, "rule:excluded_corruption");
    let calendar = bakylau_calendar::Calendar::embedded().unwrap();
    let registered_on = chrono::NaiveDate::from_ymd_opt(2026, 3, 20).unwrap();
    assert_eq!(
        r.notify_by,
        calendar
            .add_working_days(registered_on, 3)
            .unwrap()
            .to_string()
    );
    assert!(r.notify_by.as_str() > "2026-03-23", "{}", r.notify_by);
    svc.stop().await;
}

#[tokio::test]
async fn crime_report_text_is_redirected_to_police() {
    let svc = start().await;
    let mut tap = svc.env.event_tap(&["appeal.redirected"]).await.unwrap();
    let e = registered(
        "Вчера у меня украли велосипед из подъезда, прошу найти вора и возбудить уголовное дело.",
        "karasay",
        "ref-9",
    );
    publish(&svc.env, &e, &uuid::Uuid::now_v7().to_string()).await;
    let r: ev::AppealRedirected =
        payload(&tap.next(Duration::from_secs(30)).await.expect("redirected"));
    assert_eq!(r.to_body, "state.police");
    assert_eq!(r.category, "excluded.criminal");
    assert!(!r.notify_by.is_empty());
    svc.stop().await;
}

#[tokio::test]
async fn near_duplicates_are_linked_and_flagged() {
    let svc = start().await;
    let mut client = svc.client().await;
    let first = registered(WATER, "talgar", "ref-dup");
    publish(&svc.env, &first, &uuid::Uuid::now_v7().to_string()).await;
    wait_decided(&mut client, &first.appeal_id).await;
    // Same applicant, by another channel, a reworded text.
    let mut second = registered(WATER_AGAIN, "talgar", "ref-dup");
    second.channel = "paper_post".into();
    publish(&svc.env, &second, &uuid::Uuid::now_v7().to_string()).await;
    let d = wait_decided(&mut client, &second.appeal_id).await;
    assert_eq!(d.duplicates.len(), 1, "{d:?}");
    assert_eq!(d.duplicates[0].appeal_id, first.appeal_id);
    assert_eq!(
        d.duplicates[0].registration_number,
        first.registration_number
    );
    assert_eq!(d.duplicates[0].basis, "same_applicant");
    assert!(d.duplicates[0].similarity >= 0.5);
    // Another applicant, same district and category.
    let third = registered(WATER_AGAIN, "Талғар ауданы", "ref-other");
    publish(&svc.env, &third, &uuid::Uuid::now_v7().to_string()).await;
    let d3 = wait_decided(&mut client, &third.appeal_id).await;
    assert!(
        d3.duplicates
            .iter()
            .any(|l| l.basis == "same_locality_category"),
        "{d3:?}"
    );
    // An unrelated text by the same applicant is not a duplicate.
    let fourth = registered(ROAD, "talgar", "ref-dup");
    publish(&svc.env, &fourth, &uuid::Uuid::now_v7().to_string()).await;
    assert!(
        wait_decided(&mut client, &fourth.appeal_id)
            .await
            .duplicates
            .is_empty()
    );
    // Flagged duplicates are visible in the registrar's queue on request.
    let q = client
        .list_manual_queue(pb::ListManualQueueRequest {
            page_size: 10,
            page_token: String::new(),
            include_duplicates: true,
        })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = q.items.iter().map(|i| i.appeal_id.as_str()).collect();
    assert!(
        ids.contains(&second.appeal_id.as_str()) && ids.contains(&third.appeal_id.as_str()),
        "{ids:?}"
    );
    assert!(!ids.contains(&fourth.appeal_id.as_str()));
    svc.stop().await;
}

/// Deliveries waiting together on one lane are decided in one go: each appeal still sees
/// the ones before it as near-duplicate candidates, and a replay among them is skipped.
#[tokio::test]
async fn appeals_waiting_together_are_decided_as_if_one_after_another() {
    let svc = start().await;
    let env = svc.stop().await;
    let first = registered(WATER, "talgar", "ref-batch");
    let mut second = registered(WATER_AGAIN, "talgar", "ref-batch");
    second.channel = "paper_post".into();
    let third = registered(WATER_AGAIN, "talgar", "ref-neighbour");
    let unrelated = registered(ROAD, "talgar", "ref-batch");
    for e in [&first, &second, &first, &third, &unrelated] {
        publish(&env, e, &uuid::Uuid::now_v7().to_string()).await;
    }
    let settings = common::settings_for(&env);
    let svc = common::start_with(env, settings).await;
    let mut client = svc.client().await;
    assert!(
        wait_decided(&mut client, &first.appeal_id)
            .await
            .duplicates
            .is_empty()
    );
    let d2 = wait_decided(&mut client, &second.appeal_id).await;
    let linked: Vec<(&str, &str)> = d2
        .duplicates
        .iter()
        .map(|l| (l.appeal_id.as_str(), l.basis.as_str()))
        .collect();
    assert_eq!(linked, [(first.appeal_id.as_str(), "same_applicant")]);
    let d3 = wait_decided(&mut client, &third.appeal_id).await;
    let mut linked: Vec<(&str, &str)> = d3
        .duplicates
        .iter()
        .map(|l| (l.appeal_id.as_str(), l.basis.as_str()))
        .collect();
    linked.sort();
    let mut expected = [
        (first.appeal_id.as_str(), "same_locality_category"),
        (second.appeal_id.as_str(), "same_locality_category"),
    ];
    expected.sort();
    assert_eq!(linked, expected);
    assert!(
        wait_decided(&mut client, &unrelated.appeal_id)
            .await
            .duplicates
            .is_empty()
    );
    let pool = svc.pool().await;
    assert!(
        inbox_reaches(&pool, 5).await,
        "all five deliveries reached the inbox"
    );
    let (decisions, events, appeals): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM decisions), (SELECT count(*) FROM outbox),
                (SELECT count(*) FROM appeals)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        (decisions, events, appeals),
        (4, 4, 4),
        "the replay was decided"
    );
    let signature: Vec<u8> =
        sqlx::query_scalar("SELECT signature FROM appeals WHERE appeal_id = $1::uuid")
            .bind(&second.appeal_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(signature.len(), 4 * 64, "a packed MinHash signature");
    svc.stop().await;
}

#[tokio::test]
async fn manual_queue_and_registrar_override_keep_history() {
    let svc = start().await;
    let mut tap = svc
        .env
        .event_tap(&["appeal.routed", "appeal.needs_manual_routing"])
        .await
        .unwrap();
    let mut client = svc.client().await;
    let e = registered(GIBBERISH, "ile", "ref-5");
    publish(&svc.env, &e, &uuid::Uuid::now_v7().to_string()).await;
    let manual = tap
        .next(Duration::from_secs(30))
        .await
        .expect("needs_manual_routing");
    assert_eq!(manual.envelope.r#type, "appeal.needs_manual_routing");
    let m: ev::AppealNeedsManualRouting = payload(&manual);
    assert_eq!(m.reason_code, "low_confidence");
    assert!(m.confidence < 0.7);

    let q = client
        .list_manual_queue(pb::ListManualQueueRequest {
            page_size: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(q.waiting, 1);
    assert_eq!(q.items.len(), 1);
    assert_eq!(q.items[0].appeal_id, e.appeal_id);
    assert_eq!(q.items[0].outcome, "needs_manual_routing");
    assert!(q.items[0].lead_executor.is_empty());

    // Bad input: every field is named, nothing changes.
    let err = client
        .reroute(as_registrar(
            pb::RerouteRequest {
                appeal_id: e.appeal_id.clone(),
                category: "no_such".into(),
                lead_executor: "state.nowhere".into(),
                co_executors: vec!["akimat.ile".into()],
                reason: String::new(),
                registration_number: String::new(),
            },
            "registrar.one",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = err
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["category", "lead_executor", "reason"]);
    assert!(err.message().contains("lead_executor"));
    let err = client
        .reroute(pb::RerouteRequest {
            appeal_id: "not-a-uuid".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = client
        .reroute(as_registrar(
            pb::RerouteRequest {
                appeal_id: "not-a-uuid".into(),
                ..Default::default()
            },
            "r",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("appeal_id"));
    let err = client
        .reroute(as_registrar(
            pb::RerouteRequest {
                appeal_id: uuid::Uuid::now_v7().to_string(),
                category: "land.plot_allocation".into(),
                lead_executor: "akimat.ile".into(),
                reason: "wrong appeal".into(),
                ..Default::default()
            },
            "r",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // The override, by registration number.
    let d = client
        .reroute(as_registrar(
            pb::RerouteRequest {
                appeal_id: String::new(),
                registration_number: e.registration_number.clone(),
                category: "land.plot_allocation".into(),
                lead_executor: "akimat.ile".into(),
                co_executors: vec!["dept.land_relations".into()],
                reason: "Applicant asks for a land plot (phoned in)".into(),
            },
            "registrar.one",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.outcome, "routed");
    assert_eq!(d.lead_executor, "akimat.ile");
    assert_eq!(d.decided_by, "registrar:registrar.one");
    assert_eq!(d.decided_by_user, "registrar.one");
    assert_eq!(d.sequence, 2);
    assert_eq!(d.history.len(), 1);
    assert_eq!(d.history[0].outcome, "needs_manual_routing");
    assert_eq!(d.history[0].suggested_category, "other");

    let routed = tap
        .next(Duration::from_secs(30))
        .await
        .expect("a new appeal.routed");
    assert_eq!(routed.envelope.r#type, "appeal.routed");
    assert_ne!(routed.message_id, manual.message_id);
    assert_eq!(routed.message_id, d.event_id);
    let r: ev::AppealRouted = payload(&routed);
    assert_eq!(r.lead_executor, "akimat.ile");
    assert_eq!(r.co_executors, ["dept.land_relations"]);
    assert_eq!(r.decided_by, "registrar:registrar.one");
    assert_eq!(r.reason, "Applicant asks for a land plot (phoned in)");
    assert_eq!(r.sequence, 2);

    // Resolved: the queue is empty; a second override keeps both earlier decisions.
    let q = client
        .list_manual_queue(pb::ListManualQueueRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(q.waiting, 0);
    assert!(q.items.is_empty());
    let d = client
        .reroute(as_registrar(
            pb::RerouteRequest {
                appeal_id: e.appeal_id.clone(),
                category: "excluded.civil_procedure".into(),
                reason: "It is a boundary dispute between neighbours".into(),
                ..Default::default()
            },
            "controller.two",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.outcome, "redirected");
    assert_eq!(d.lead_executor, "state.regional_court");
    assert!(!d.notify_by.is_empty() && !d.explanation_kk.is_empty());
    assert_eq!(
        d.history.iter().map(|h| h.sequence).collect::<Vec<_>>(),
        [1, 2]
    );
    svc.stop().await;
}

#[tokio::test]
async fn reference_data_is_seeded_editable_and_audited() {
    let svc = start().await;
    let mut client = svc.client().await;
    let cats = client
        .list_categories(pb::ListCategoriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .categories;
    assert!(cats.len() > 60);
    let water = cats
        .iter()
        .find(|c| c.code == "housing_utilities.water_supply")
        .unwrap();
    assert_eq!(water.name_en, "Water supply");
    assert_eq!(water.parent, "housing_utilities");
    let excluded = client
        .get_category(pb::GetCategoryRequest {
            code: "excluded.criminal".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(excluded.excluded && excluded.redirect_to == "state.police");
    let bodies = client
        .list_bodies(pb::ListBodiesRequest {
            district: "talgar".into(),
            category: "housing_utilities.water_supply".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .bodies;
    assert!(
        bodies.iter().any(|b| b.code == "akimat.talgar"),
        "{bodies:?}"
    );
    let districts = client
        .list_districts(pb::ListDistrictsRequest {})
        .await
        .unwrap()
        .into_inner()
        .districts;
    assert_eq!(districts.len(), 11);

    // Add a body, deactivate a rule; both audited with who and why.
    let body = pb::Body {
        code: "dept.digitalisation".into(),
        kind: "regional_department".into(),
        name_kk: "Цифрландыру басқармасы".into(),
        name_ru: "Управление цифровизации".into(),
        name_en: "Digitalisation Department".into(),
        competence: vec!["other.state_services".into()],
        territory: vec!["region".into()],
        ..Default::default()
    };
    let saved = client
        .upsert_body(as_registrar(
            pb::UpsertBodyRequest {
                body: Some(body.clone()),
                reason: "new department".into(),
            },
            "admin.aida",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(saved.updated_by, "admin.aida");
    assert!(saved.active);
    let err = client
        .upsert_body(as_registrar(
            pb::UpsertBodyRequest {
                body: Some(pb::Body {
                    kind: "ministry".into(),
                    ..body.clone()
                }),
                reason: String::new(),
            },
            "admin.aida",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        err.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "body.kind"
    );

    let rule = client
        .set_rule_active(as_registrar(
            pb::SetActiveRequest {
                code: "excluded_criminal".into(),
                active: false,
                reason: "testing".into(),
            },
            "admin.aida",
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!rule.active);
    let active_rules = client
        .list_rules(pb::ListRulesRequest {
            include_inactive: false,
        })
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert!(!active_rules.iter().any(|r| r.id == "excluded_criminal"));

    let changes = client
        .list_changes(pb::ListChangesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .changes;
    assert_eq!(changes.len(), 2);
    assert_eq!(
        (
            changes[0].entity.as_str(),
            changes[0].action.as_str(),
            changes[0].actor.as_str()
        ),
        ("rule", "deactivate", "admin.aida")
    );
    assert_eq!(
        (
            changes[1].entity.as_str(),
            changes[1].code.as_str(),
            changes[1].action.as_str()
        ),
        ("body", "dept.digitalisation", "create")
    );
    assert_eq!(changes[1].reason, "new department");

    // A restart re-applies the seed without undoing the edits.
    let env = svc.stop().await;
    let settings = common::settings_for(&env);
    let svc = common::start_with(env, settings).await;
    let mut client = svc.client().await;
    let rules = client
        .list_rules(pb::ListRulesRequest {
            include_inactive: true,
        })
        .await
        .unwrap()
        .into_inner()
        .rules;
    assert!(
        !rules
            .iter()
            .find(|r| r.id == "excluded_criminal")
            .unwrap()
            .active
    );
    assert!(
        client
            .get_body(pb::GetBodyRequest {
                code: "dept.digitalisation".into()
            })
            .await
            .is_ok()
    );
    // With the crime rule off, a crime report waits for a registrar instead.
    let mut tap = svc
        .env
        .event_tap(&["appeal.needs_manual_routing"])
        .await
        .unwrap();
    let e = registered(
        "Вчера у меня украли велосипед из подъезда, прошу найти вора и возбудить уголовное дело.",
        "karasay",
        "",
    );
    publish(&svc.env, &e, &uuid::Uuid::now_v7().to_string()).await;
    let m: ev::AppealNeedsManualRouting =
        payload(&tap.next(Duration::from_secs(30)).await.expect("manual"));
    assert_eq!(m.reason_code, "no_rule");
    svc.stop().await;
}

#[tokio::test]
async fn classify_and_validation_errors() {
    let svc = start().await;
    let mut client = svc.client().await;
    let c = client
        .classify(pb::ClassifyRequest { text: ROAD.into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.category, "roads_transport.road_repair");
    assert!(c.above_threshold);
    assert!(c.candidates.len() > 1);
    let err = client
        .classify(pb::ClassifyRequest { text: " ".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = client
        .get_routing(pb::GetRoutingRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = err
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["appeal_id", "registration_number"]);
    let err = client
        .get_routing(pb::GetRoutingRequest {
            appeal_id: uuid::Uuid::now_v7().to_string(),
            registration_number: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .upsert_rule(pb::UpsertRuleRequest {
            rule: None,
            reason: String::new(),
        })
        .await
        .unwrap_err();
    // The client's token passes (tokens are checked in tests/tests/auth_matrix.rs); the
    // empty rule does not.
    assert_eq!(err.code(), Code::InvalidArgument);
    svc.stop().await;
}
