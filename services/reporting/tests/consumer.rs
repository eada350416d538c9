//! The consumer path on the real broker and database: events published to a TestEnv vhost
//! reach the read model once each, and a rebuild from the stored events gives the same
//! read model as incremental consumption.

mod common;

use bakylau_proto::reporting::v1 as pb;
use common::*;
use sqlx::Row;

#[tokio::test]
async fn a_redelivered_or_repeated_registration_is_counted_once() {
    let r = start().await;
    let pool = r.pool().await;
    let e = registered(&Appeal {
        id: "dup",
        ..Default::default()
    });
    r.publish(&e).await;
    // The same message again (a redelivery), and the same registration under another id.
    r.publish(&e).await;
    let mut again = e.clone();
    again.id = uuid::Uuid::now_v7().to_string();
    r.publish(&again).await;
    r.wait_stored(&pool, 2).await;
    // Give the duplicate delivery time to be seen and skipped.
    let mut marker = registered(&Appeal {
        id: "marker",
        district: "kegen",
        ..Default::default()
    });
    marker.id = uuid::Uuid::now_v7().to_string();
    r.publish(&marker).await;
    r.wait_stored(&pool, 3).await;
    assert_eq!(
        r.stored(&pool).await,
        3,
        "the redelivered message is not stored twice"
    );
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(inbox, 3);
    let summary = r
        .client()
        .await
        .summary(pb::SummaryRequest {
            period: period("2026-03-01", "2026-03-31"),
            group_by: pb::Dimension::District as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.total_appeals, 2);
    let talgar = summary.rows.iter().find(|row| row.key == "talgar").unwrap();
    assert_eq!(talgar.appeals, 1);
    assert_eq!(talgar.name, "Талгарский район");
    drop(pool);
    r.stop().await;
}

async fn snapshot(pool: &sqlx::PgPool) -> Vec<String> {
    let mut out = Vec::new();
    for (table, order) in [
        ("appeals", "appeal_id"),
        ("counts_by_dim", "dim, grain, day, key"),
        (
            "counts_by_district_category",
            "grain, day, district, category",
        ),
        ("body_activity", "grain, day, body"),
        ("reception_activity", "grain, day, district"),
        ("instructions", "instruction_id"),
        ("receptions", "key"),
    ] {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t::text AS row FROM {table} t ORDER BY {order}"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        out.extend(
            rows.iter()
                .map(|r| format!("{table}: {}", r.get::<String, _>("row"))),
        );
    }
    out
}

#[tokio::test]
async fn a_month_of_work_shows_in_the_reports_and_rebuild_equals_incremental() {
    let r = start().await;
    let pool = r.pool().await;
    let n = publish_march(&r).await;
    r.wait_stored(&pool, n).await;
    let mut client = r.client().await;
    let march = period("2026-03-01", "2026-03-31");

    let by_district = client
        .summary(pb::SummaryRequest {
            period: march.clone(),
            group_by: pb::Dimension::District as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let counts: Vec<(String, u64, u64, u64)> = by_district
        .rows
        .iter()
        .map(|r| (r.key.clone(), r.appeals, r.repeated, r.collective))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("ile".into(), 2, 0, 1),
            ("talgar".into(), 2, 1, 0),
            ("kegen".into(), 1, 0, 0)
        ]
    );
    assert_eq!(by_district.total_appeals, 5);
    assert_eq!(by_district.series_granularity, "day");
    assert_eq!(by_district.series.len(), 31);
    assert_eq!(by_district.series.iter().map(|p| p.appeals).sum::<u64>(), 5);

    let by_category = client
        .summary(pb::SummaryRequest {
            period: march.clone(),
            group_by: pb::Dimension::Category as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let cats: Vec<(String, u64)> = by_category
        .rows
        .iter()
        .map(|r| (r.key.clone(), r.appeals))
        .collect();
    // a4 was routed to roads and then re-routed to housing: counted once, under housing.
    assert_eq!(
        cats,
        vec![
            ("housing_utilities".into(), 2),
            ("roads_transport".into(), 2),
            ("".into(), 1)
        ]
    );
    let in_ile = client
        .summary(pb::SummaryRequest {
            period: march.clone(),
            group_by: pb::Dimension::Category as i32,
            district: "ile".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_ile.total_appeals, 2);
    assert_eq!(in_ile.rows[0].key, "housing_utilities");

    let discipline = client
        .discipline(pb::DisciplineRequest {
            period: march.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let talgar = discipline
        .rows
        .iter()
        .find(|r| r.body == "akimat.talgar")
        .unwrap();
    assert_eq!(
        (
            talgar.assigned,
            talgar.answered,
            talgar.on_time,
            talgar.late,
            talgar.overdue,
            talgar.returned_for_rework
        ),
        (2, 2, 1, 1, 1, 1)
    );
    assert_eq!(
        (
            talgar.instructions_issued,
            talgar.instructions_completed,
            talgar.instructions_overdue
        ),
        (1, 1, 1)
    );
    // a1: 8 days to answer; a2: 22 days (its first answer decides).
    assert!((talgar.average_days_to_answer - 15.0).abs() < 1e-9);
    let ile = discipline
        .rows
        .iter()
        .find(|r| r.body == "akimat.ile")
        .unwrap();
    assert_eq!((ile.answered, ile.on_time, ile.rank), (1, 1, 1));
    assert_eq!(talgar.rank, 2);

    let monitoring = client
        .monitoring(pb::MonitoringRequest {
            period: march.clone(),
            district: "talgar".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let akimat = monitoring
        .rows
        .iter()
        .find(|r| r.body == "akimat.talgar")
        .unwrap();
    assert_eq!((akimat.appeals_received, akimat.appeals_assigned), (2, 2));
    assert_eq!((akimat.receptions_booked, akimat.receptions_held), (1, 1));
    assert!(monitoring.rows.iter().all(|r| r.district == "talgar"));
    assert!(
        monitoring
            .rows
            .iter()
            .any(|r| r.body_kind == "rural_akimat")
    );

    let incremental = snapshot(&pool).await;
    let rebuilt = client
        .rebuild(pb::RebuildRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rebuilt.events_replayed, n as u64);
    assert_eq!(rebuilt.appeals, 5);
    assert_eq!(snapshot(&pool).await, incremental);
    // The rebuilt roll-ups equal the raw counts of the appeals, month by month too.
    for (what, differ) in bakylau_reporting::check::rollups(&pool).await.unwrap() {
        assert_eq!(differ, 0, "{what}");
    }
    drop(pool);
    r.stop().await;
}

#[tokio::test]
async fn an_appeal_moved_between_categories_and_bodies_is_counted_once_where_it_ended() {
    let r = start().await;
    let pool = r.pool().await;
    let t = |hour: &str| at(&format!("2026-04-01T{hour}:00:00Z"));
    let redirected = envelope(
        "appeal.redirected",
        "m1",
        t("09"),
        &bakylau_proto::events::v1::AppealRedirected {
            appeal_id: "m1".into(),
            to_body: "dept.transport_roads".into(),
            ..Default::default()
        },
    );
    let events = [
        // Routing's decision overtakes the registration.
        routed("m1", "roads_transport", "akimat.talgar", t("06")),
        registered(&Appeal {
            id: "m1",
            number: "ALM-2026-000011",
            collective: true,
            at: t("05"),
            ..Default::default()
        }),
        assigned("m1", "akimat.ile", "2026-04-20", t("07")),
        redirected,
        registered(&Appeal {
            id: "m2",
            number: "ALM-2026-000012",
            repeated: true,
            at: t("05"),
            ..Default::default()
        }),
        routed("m2", "housing_utilities", "akimat.talgar", t("06")),
        // No body in the assignment: the lead routing named stays.
        assigned("m2", "", "2026-04-21", t("07")),
    ];
    for e in &events {
        r.publish(e).await;
    }
    r.wait_stored(&pool, events.len() as i64).await;

    let by_dim: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT dim, key, appeals, repeated, collective FROM counts_by_dim \
         WHERE grain = 'm' AND dim IN ('category', 'body') AND appeals <> 0 ORDER BY dim, key",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let row = |d: &str, k: &str, a, rep, col| (d.to_owned(), k.to_owned(), a, rep, col);
    assert_eq!(
        by_dim,
        vec![
            row("body", "akimat.talgar", 1, 1, 0),
            row("body", "dept.transport_roads", 1, 0, 1),
            row("category", "housing_utilities", 1, 1, 0),
            row("category", "roads_transport", 1, 0, 1),
        ]
    );
    let by_district_category: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT district, category, appeals, repeated, collective FROM counts_by_district_category \
         WHERE grain = 'm' AND appeals <> 0 ORDER BY district, category",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        by_district_category,
        vec![
            row("talgar", "housing_utilities", 1, 1, 0),
            row("talgar", "roads_transport", 1, 0, 1),
        ]
    );
    let negative: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM counts_by_dim WHERE least(appeals, repeated, collective) < 0) \
              + (SELECT count(*) FROM counts_by_district_category WHERE least(appeals, repeated, collective) < 0)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        negative, 0,
        "a moved appeal leaves no negative counts behind"
    );
    let assigned: Vec<(String, i64)> = sqlx::query_as(
        "SELECT body, assigned FROM body_activity WHERE grain = 'm' AND assigned <> 0 ORDER BY body",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        assigned,
        vec![("akimat.ile".into(), 1), ("akimat.talgar".into(), 1)]
    );
    let appeals: Vec<(String, String, String, String, String, Option<chrono::NaiveDate>)> =
        sqlx::query_as(
            "SELECT appeal_id, registration_number, category, body, status, due_date FROM appeals ORDER BY appeal_id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    assert_eq!(
        appeals,
        vec![
            (
                "m1".into(),
                "ALM-2026-000011".into(),
                "roads_transport".into(),
                "dept.transport_roads".into(),
                "redirected".into(),
                day("2026-04-20"),
            ),
            (
                "m2".into(),
                "ALM-2026-000012".into(),
                "housing_utilities".into(),
                "akimat.talgar".into(),
                "assigned".into(),
                day("2026-04-21"),
            ),
        ]
    );
    for (what, differ) in bakylau_reporting::check::rollups(&pool).await.unwrap() {
        assert_eq!(differ, 0, "{what}");
    }

    let incremental = snapshot(&pool).await;
    let mut client = r.client().await;
    let rebuilt = client
        .rebuild(pb::RebuildRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rebuilt.events_replayed, events.len() as u64);
    assert_eq!(snapshot(&pool).await, incremental);
    drop(pool);
    r.stop().await;
}
