//! Operators' view of one appeal, with every service a real process exporting to a real
//! OTLP receiver: registration, its event through the broker, routing, its event and
//! control's assignment share one trace; and no personal data appears in any log line,
//! span or metric the services emitted.

use std::time::Duration;

use bakylau_proto::intake::v1 as pb;
use bakylau_testkit::otlp::{OtlpReceiver, ReceivedSpan};
use bakylau_testkit::process::ServiceProcess;
use bakylau_testkit::{TestEnv, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

const SERVICES: &[&str] = &["intake", "routing", "control", "reception", "reporting"];

async fn scrape(port: u16) -> String {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return String::new();
    };
    let _ = s
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out).await;
    out
}

/// The personal data the test's appeal carries; none of it may leave the register.
struct Personal {
    iin: String,
    name: &'static str,
    phone: &'static str,
    email: &'static str,
    text_marker: &'static str,
}

impl Personal {
    fn needles(&self) -> Vec<(&'static str, String)> {
        vec![
            ("IIN", self.iin.clone()),
            ("name", self.name.to_owned()),
            ("phone", self.phone.to_owned()),
            (
                "phone digits",
                self.phone.trim_start_matches('+').to_owned(),
            ),
            ("e-mail", self.email.to_owned()),
            ("appeal text", self.text_marker.to_owned()),
        ]
    }
}

fn trace_of<'a>(spans: &'a [ReceivedSpan], trace_id: &str) -> Vec<&'a ReceivedSpan> {
    spans.iter().filter(|s| s.trace_id == trace_id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_trace_per_appeal_and_no_personal_data_anywhere() {
    let env = TestEnv::new().await.expect("test database and vhost");
    let otlp = OtlpReceiver::start().await.expect("OTLP receiver");
    let logs = std::env::temp_dir().join(format!("bakylau-obs-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&logs).unwrap();

    let ports = bakylau_testkit::private::free_ports(2 * SERVICES.len()).expect("free ports");
    let (grpc, metrics) = ports.split_at(SERVICES.len());
    let addr = |svc: &str| {
        let i = SERVICES.iter().position(|s| *s == svc).unwrap();
        format!("http://127.0.0.1:{}", grpc[i])
    };
    let mut processes = Vec::new();
    for (i, svc) in SERVICES.iter().enumerate() {
        let up = svc.to_uppercase();
        let mut vars = vec![
            (
                format!("BAKYLAU_{up}__DATABASE__URL"),
                env.database_url.clone(),
            ),
            (format!("BAKYLAU_{up}__BROKER__URL"), env.amqp_url.clone()),
            (
                format!("BAKYLAU_{up}__GRPC__LISTEN"),
                format!("127.0.0.1:{}", grpc[i]),
            ),
            (
                format!("BAKYLAU_{up}__METRICS__LISTEN"),
                format!("127.0.0.1:{}", metrics[i]),
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), otlp.endpoint.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
            (
                "RUST_LOG".into(),
                "debug,lapin=info,sqlx=info,h2=info,tower=info,hyper=info,tonic=info".into(),
            ),
        ];
        match *svc {
            "reception" => {
                vars.push((
                    "BAKYLAU_RECEPTION__RECEPTION__INTAKE_ADDR".into(),
                    addr("intake"),
                ));
                vars.push((
                    "BAKYLAU_RECEPTION__RECEPTION__CONTROL_ADDR".into(),
                    addr("control"),
                ));
            }
            "control" => {
                vars.push((
                    "BAKYLAU_CONTROL__CONTROL__NOTIFIER__INTAKE_ADDR".into(),
                    addr("intake"),
                ));
            }
            _ => {}
        }
        processes.push(ServiceProcess::spawn(svc, &vars, &logs).expect("service starts"));
    }
    for svc in SERVICES {
        assert!(
            common::serving_within(&addr(svc), Duration::from_secs(60)).await,
            "{svc} did not become SERVING; its log:\n{}",
            processes
                .iter()
                .find(|p| p.service == *svc)
                .map(|p| p.output())
                .unwrap_or_default()
        );
    }

    let person = Personal {
        iin: common::valid_iin(4242),
        name: "Тестбекова Жанаргүл Серікқызы",
        phone: "+77019998877",
        email: "zhanargul.testbekova@example.kz",
        text_marker: "құпия-белгі-5531",
    };
    let mut tap = env.event_tap(&["appeal.assigned"]).await.unwrap();
    let mut intake = bakylau_testkit::auth::wrap(
        bakylau_testkit::auth::Role::Registrar,
        pb::intake_service_client::IntakeServiceClient::new,
        common::channel(&addr("intake")).await,
    );
    let registered = intake
        .register_appeal(pb::RegisterAppealRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            kind: pb::AppealKind::Complaint as i32,
            channel: pb::Channel::PaperInPerson as i32,
            language: pb::Language::Ru as i32,
            applicant: Some(pb::Applicant {
                party: Some(pb::applicant::Party::Individual(pb::Individual {
                    iin: person.iin.clone(),
                    full_name: person.name.into(),
                    phone: person.phone.into(),
                    email: person.email.into(),
                    address: "Талгар, Абай көшесі 12".into(),
                })),
            }),
            locality: Some(pb::Locality {
                district: "talgar".into(),
                ..Default::default()
            }),
            subject: "Ремонт дороги".into(),
            text: format!(
                "Просим отремонтировать дорогу по улице Абая в Талгаре, ямы и разбитый асфальт. {}",
                person.text_marker
            ),
            received_by: Some(pb::Officer {
                full_name: "Registrar".into(),
                position: "specialist".into(),
            }),
            ..Default::default()
        })
        .await
        .expect("registered")
        .into_inner();
    let appeal_id = registered.appeal.unwrap().id;
    let assigned = tap
        .next(Duration::from_secs(60))
        .await
        .expect("the appeal is routed and assigned");
    assert_eq!(assigned.envelope.subject, appeal_id);

    // The spans of the registration call, its events and their consumers: one trace.
    let mut trace = Vec::new();
    let complete = eventually(Duration::from_secs(30), || {
        let spans = otlp.spans();
        let root = spans
            .iter()
            .find(|s| s.service == "intake" && s.name.ends_with("IntakeService/RegisterAppeal"));
        let ok = root.is_some_and(|root| {
            let t = trace_of(&spans, &root.trace_id);
            let has = |svc: &str, name: &str| t.iter().any(|s| s.service == svc && s.name == name);
            has("intake", "appeal.registered publish")
                && has("routing", "appeal.registered receive")
                && has("routing", "appeal.routed publish")
                && has("control", "appeal.routed receive")
                && has("control", "appeal.assigned publish")
        });
        if ok {
            let root = root.unwrap();
            trace = trace_of(&spans, &root.trace_id)
                .into_iter()
                .cloned()
                .collect();
        }
        async move { ok }
    })
    .await;
    let spans = otlp.spans();
    assert!(
        complete,
        "one trace from RegisterAppeal to appeal.assigned; received spans:\n{}",
        spans
            .iter()
            .map(|s| format!(
                "{} {} {} parent={}",
                s.service, s.trace_id, s.name, s.parent_span_id
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A tree: every span's parent is in the trace, up to the one root.
    let ids: std::collections::HashSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
    let roots: Vec<&ReceivedSpan> = trace
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "one root span: {roots:?}");
    for s in &trace {
        assert!(
            s.parent_span_id.is_empty() || ids.contains(s.parent_span_id.as_str()),
            "span {} of {} has a parent outside the trace",
            s.name,
            s.service
        );
    }

    // Everything the services emitted: metrics now, then logs after a clean stop.
    let mut emitted: Vec<(String, String)> = Vec::new();
    for (i, svc) in SERVICES.iter().enumerate() {
        let text = scrape(metrics[i]).await;
        assert!(text.contains("# TYPE"), "{svc} serves Prometheus metrics");
        emitted.push((format!("{svc} metrics"), text));
    }
    for p in &mut processes {
        assert!(
            p.terminate(Duration::from_secs(20)),
            "{} stops on SIGTERM",
            p.service
        );
        emitted.push((format!("{} log", p.service), p.output()));
    }
    for s in otlp.spans() {
        let attrs = s
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        emitted.push((
            format!("{} span {}", s.service, s.name),
            format!("{} {attrs}", s.name),
        ));
    }
    assert!(
        emitted.iter().any(|(_, t)| t.contains(&appeal_id)),
        "the scan sees the services' output (the appeal id is there)"
    );
    let mut hits = Vec::new();
    for (source, text) in &emitted {
        for (what, needle) in person.needles() {
            if text.contains(&needle) {
                hits.push(format!("{what} in {source}"));
            }
        }
    }
    assert!(hits.is_empty(), "personal data leaked: {hits:?}");
    let _ = std::fs::remove_dir_all(&logs);
}
