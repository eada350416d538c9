//! The gRPC API on a running service: the problem map in its three formats, the
//! semi-annual report as HTML and PDF, content analysis, spikes published once, and
//! INVALID_ARGUMENT naming the field.

mod common;

use std::time::Duration;

use bakylau_proto::events::v1 as ev;
use bakylau_proto::reporting::v1 as pb;
use common::*;
use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test]
async fn the_problem_map_is_geojson_svg_and_png() {
    let r = start().await;
    let pool = r.pool().await;
    let n = publish_march(&r).await;
    r.wait_stored(&pool, n).await;
    let mut client = r.client().await;
    let ask = |format: pb::MapFormat| pb::ProblemMapRequest {
        period: period("2026-03-01", "2026-03-31"),
        format: format as i32,
        language: "kk".into(),
        ..Default::default()
    };
    let geo = client
        .problem_map(ask(pb::MapFormat::Geojson))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(geo.media_type, "application/geo+json");
    let v: serde_json::Value = serde_json::from_str(&geo.geojson).unwrap();
    assert_eq!(v["type"], "FeatureCollection");
    let features = v["features"].as_array().unwrap();
    assert_eq!(features.len(), 11, "every district of the region");
    let talgar = features.iter().find(|f| f["id"] == "talgar").unwrap();
    assert_eq!(talgar["geometry"]["type"], "Point");
    assert_eq!(talgar["properties"]["appeals"], 2);
    assert_eq!(talgar["properties"]["name"], "Талғар ауданы");
    assert_eq!(
        talgar["properties"]["top_categories"][0]["category"],
        "roads_transport"
    );
    let ile = geo.districts.iter().find(|d| d.district == "ile").unwrap();
    assert_eq!((ile.appeals, ile.collective), (2, 1));
    assert_eq!(ile.top_categories[0].category, "housing_utilities");

    let svg = client
        .problem_map(ask(pb::MapFormat::Svg))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(svg.media_type, "image/svg+xml");
    let text = String::from_utf8(svg.image).unwrap();
    let tree = resvg::usvg::Tree::from_str(&text, &resvg::usvg::Options::default());
    assert!(tree.is_ok(), "the SVG parses");
    assert!(text.contains("Талғар ауданы"));

    let png = client
        .problem_map(ask(pb::MapFormat::Png))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(png.media_type, "image/png");
    assert!(
        png.image
            .starts_with(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a])
    );
    drop(pool);
    r.stop().await;
}

#[tokio::test]
async fn the_semiannual_report_is_html_with_tables_and_a_pdf() {
    let r = start().await;
    let pool = r.pool().await;
    let n = publish_march(&r).await;
    r.wait_stored(&pool, n).await;
    let mut client = r.client().await;
    let html = client
        .semi_annual_report(pb::SemiAnnualReportRequest {
            year: 2026,
            half: 1,
            language: "kk".into(),
            format: pb::DocumentFormat::Html as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(html.file_name, "semiannual-2026-h1-kk.html");
    let text = String::from_utf8(html.document).unwrap();
    assert!(text.contains("<table>"));
    assert!(text.contains("Атқарушылық тәртіп"));
    assert!(
        text.contains("Талғар ауданының әкімдігі"),
        "discipline table names the body"
    );
    assert!(text.contains("Жеке қабылдаулар"));
    assert!(text.contains("<svg class=\"chart\""));
    let pdf = client
        .semi_annual_report(pb::SemiAnnualReportRequest {
            year: 2026,
            half: 1,
            language: "ru".into(),
            format: pb::DocumentFormat::Pdf as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pdf.media_type, "application/pdf");
    assert!(pdf.document.starts_with(b"%PDF"));
    drop(pool);
    r.stop().await;
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field() {
    let r = start().await;
    let mut client = r.client().await;
    let e = client
        .summary(pb::SummaryRequest {
            period: period("2026-02-30", ""),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        e.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "period.from_date"
    );
    let e = client
        .summary(pb::SummaryRequest {
            group_by: pb::Dimension::Kind as i32,
            district: "talgar".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("group_by"));
    let e = client
        .semi_annual_report(pb::SemiAnnualReportRequest {
            year: 2026,
            half: 3,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("half"));
    let e = client
        .problem_map(pb::ProblemMapRequest {
            language: "de".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.message().starts_with("language"));
    r.stop().await;
}

#[tokio::test]
async fn similar_appeals_form_a_systemic_problem() {
    let r = start().await;
    let pool = r.pool().await;
    let texts = [
        (
            "talgar",
            "В селе третью неделю нет питьевой воды, водопровод не работает",
        ),
        (
            "ile",
            "Нет питьевой воды, водопровод в селе не работает третью неделю",
        ),
        (
            "karasay",
            "Водопровод не работает, в селе нет питьевой воды",
        ),
        ("kegen", "Прошу выделить место в детском саду"),
    ];
    for (i, (district, text)) in texts.iter().enumerate() {
        let id = format!("p{i}");
        let number = format!("ALM-2026-00010{i}");
        r.publish(&registered(&Appeal {
            id: &id,
            number: &number,
            district,
            text,
            at: at(&format!("2026-04-0{}T05:00:00Z", i + 1)),
            ..Default::default()
        }))
        .await;
    }
    r.wait_stored(&pool, 4).await;
    let problems = r
        .client()
        .await
        .problems(pb::ProblemsRequest {
            period: period("2026-04-01", "2026-04-30"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(problems.analysed_appeals, 4);
    assert_eq!(problems.clusters.len(), 1);
    let c = &problems.clusters[0];
    assert_eq!(c.size, 3);
    assert_eq!(c.districts.len(), 3);
    assert!(
        c.label.contains("водопровод") || c.label.contains("воды"),
        "{}",
        c.label
    );
    assert_eq!(c.example_registration_numbers.len(), 3);
    drop(pool);
    r.stop().await;
}

#[tokio::test]
async fn a_spike_is_published_once_per_window() {
    let r = start().await;
    let pool = r.pool().await;
    let mut tap = r.env.event_tap(&["problem.spike_detected"]).await.unwrap();
    let mut n = 0;
    // Baseline: one appeal a week on roads in talgar for eight weeks; then 12 in one week.
    for week in 0..8 {
        let id = format!("base{week}");
        let when = at("2026-03-02T05:00:00Z") + chrono::Duration::weeks(week);
        r.publish(&registered(&Appeal {
            id: &id,
            at: when,
            ..Default::default()
        }))
        .await;
        r.publish(&routed(&id, "roads_transport", "akimat.talgar", when))
            .await;
        n += 2;
    }
    for i in 0..12 {
        let id = format!("spike{i}");
        let number = format!("ALM-2026-0002{i:02}");
        let when = at("2026-04-27T05:00:00Z") + chrono::Duration::hours(i);
        r.publish(&registered(&Appeal {
            id: &id,
            number: &number,
            at: when,
            ..Default::default()
        }))
        .await;
        r.publish(&routed(&id, "roads_transport", "akimat.talgar", when))
            .await;
        n += 2;
    }
    r.wait_stored(&pool, n).await;
    let mut client = r.client().await;
    let ask = pb::SpikesRequest {
        period: period("2026-04-01", "2026-05-31"),
        detect: true,
        as_of: "2026-04-29".into(),
        ..Default::default()
    };
    let first = client.spikes(ask.clone()).await.unwrap().into_inner();
    assert_eq!(first.newly_detected, 1);
    let spike = &first.spikes[0];
    assert_eq!(spike.spike_id, "roads_transport/talgar/2026-04-27");
    assert_eq!(
        (
            spike.count,
            spike.window_start.as_str(),
            spike.window_end.as_str()
        ),
        (12, "2026-04-27", "2026-05-03")
    );
    assert!((spike.baseline - 1.0).abs() < 1e-9);
    assert_eq!(spike.registration_numbers.len(), 10);
    let second = client.spikes(ask).await.unwrap().into_inner();
    assert_eq!(second.newly_detected, 0);
    assert_eq!(second.spikes.len(), 1);
    let seen = tap
        .next(Duration::from_secs(30))
        .await
        .expect("problem.spike_detected published");
    let payload = ev::ProblemSpikeDetected::decode(seen.envelope.payload.as_slice()).unwrap();
    assert_eq!(payload.spike_id, "roads_transport/talgar/2026-04-27");
    assert_eq!(
        (
            payload.category.as_str(),
            payload.district.as_str(),
            payload.count
        ),
        ("roads_transport", "talgar", 12)
    );
    assert!(
        tap.next(Duration::from_secs(3)).await.is_none(),
        "published once"
    );
    drop(pool);
    r.stop().await;
}
