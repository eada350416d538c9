//! Intake over real gRPC, Postgres and RabbitMQ.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use bakylau_proto::events::v1 as ev;
use bakylau_proto::intake::v1 as pb;
use common::{request, start};
use prost::Message as _;
use tonic::Code;

#[tokio::test]
async fn registered_appeal_is_stored_numbered_and_announced() {
    let svc = start().await;
    let mut tap = svc.env.event_tap(&["appeal.*"]).await.unwrap();
    let mut client = svc.client().await;
    let req = request(1, "Прошу отремонтировать дорогу на улице Абая");
    let iin = common::test_iin(1);
    let resp = client.register_appeal(req).await.unwrap().into_inner();
    let appeal = resp.appeal.unwrap();
    let coupon = resp.coupon.unwrap();
    assert!(!resp.replayed);
    assert!(
        coupon.registration_number.starts_with("ALM-20"),
        "{}",
        coupon.registration_number
    );
    assert!(coupon.registration_number.ends_with("-000001"));
    assert_eq!(coupon.officer_name, "Registrar One");
    assert_eq!(appeal.status, pb::AppealStatus::Registered as i32);

    let by_number = client
        .get_appeal(pb::GetAppealRequest {
            key: Some(pb::get_appeal_request::Key::RegistrationNumber(
                coupon.registration_number.clone(),
            )),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_number.id, appeal.id);
    assert_eq!(by_number.text, "Прошу отремонтировать дорогу на улице Абая");
    let by_id = client
        .get_appeal(pb::GetAppealRequest {
            key: Some(pb::get_appeal_request::Key::Id(appeal.id.clone())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id.registration_number, coupon.registration_number);

    let event = tap
        .next(Duration::from_secs(15))
        .await
        .expect("appeal.registered published");
    assert_eq!(event.envelope.r#type, "appeal.registered");
    assert_eq!(event.envelope.subject, appeal.id);
    assert_eq!(
        event.envelope.payload_type,
        "bakylau.events.v1.AppealRegistered"
    );
    let payload = ev::AppealRegistered::decode(event.envelope.payload.as_slice()).unwrap();
    assert_eq!(payload.registration_number, coupon.registration_number);
    assert_eq!(payload.locality.unwrap().district, "talgar");
    assert_eq!(payload.applicant_type, "individual");
    assert_eq!(payload.applicant_ref.len(), 64);
    // No personal data travels in events.
    let raw = String::from_utf8_lossy(&event.envelope.payload).into_owned();
    assert!(
        !raw.contains(&iin) && !raw.contains("Сапарова") && !raw.contains("+7701"),
        "personal data in event"
    );
    svc.stop().await;
}

#[tokio::test]
async fn invalid_fields_are_named_and_nothing_is_registered() {
    let svc = start().await;
    let mut client = svc.client().await;
    let mut req = request(2, "текст");
    if let Some(pb::applicant::Party::Individual(i)) =
        req.applicant.as_mut().and_then(|a| a.party.as_mut())
    {
        let last = i.iin.pop().unwrap();
        i.iin.push(if last == '0' { '1' } else { '0' });
        i.full_name.clear();
    }
    req.kind = 0;
    req.location = Some(pb::GeoPoint {
        lat: 10.0,
        lon: 10.0,
    });
    let err = client.register_appeal(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    for field in ["kind", "applicant.iin", "applicant.full_name", "location"] {
        assert!(
            err.message().contains(field),
            "{field} not named in {:?}",
            err.message()
        );
    }
    let list = client
        .list_appeals(pb::ListAppealsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(list.appeals.is_empty());

    let err = client
        .get_appeal(pb::GetAppealRequest {
            key: Some(pb::get_appeal_request::Key::Id("nope".into())),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("id"));
    let err = client
        .get_appeal(pb::GetAppealRequest {
            key: Some(pb::get_appeal_request::Key::RegistrationNumber(
                "ALM-2026-999999".into(),
            )),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .list_appeals(pb::ListAppealsRequest {
            page_size: 5000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.message().contains("page_size"));

    // An oversized request is refused, not buffered.
    let mut big = request(3, "x");
    big.attachments.push(pb::Attachment {
        name: "a.pdf".into(),
        media_type: "application/pdf".into(),
        content: vec![0; 5 * 1024 * 1024],
        ..Default::default()
    });
    let err = client.register_appeal(big).await.unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
        ),
        "{err:?}"
    );
    svc.stop().await;
}

#[tokio::test]
async fn attachments_must_be_what_they_are_declared_to_be() {
    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
    let svc = start().await;
    let mut client = svc.client().await;
    let with = |content: &[u8]| {
        let mut req = request(7, "Прошу отремонтировать дорогу, акт во вложении");
        req.attachments = vec![pb::Attachment {
            name: "act.pdf".into(),
            media_type: "application/pdf".into(),
            content: content.to_vec(),
            ..Default::default()
        }];
        req
    };
    let resp = client
        .register_appeal(with(PDF))
        .await
        .unwrap()
        .into_inner();
    let appeal = resp.appeal.unwrap();
    assert_eq!(appeal.attachments.len(), 1);
    assert_eq!(appeal.attachments[0].media_type, "application/pdf");
    // The answer describes the attachment as it was stored.
    let stored = client
        .get_appeal(pb::GetAppealRequest {
            key: Some(pb::get_appeal_request::Key::Id(appeal.id.clone())),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.attachments, appeal.attachments);

    let err = client.register_appeal(with(PNG)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("attachments[0].content")
            && err
                .message()
                .contains("declared application/pdf but the content is image/png"),
        "{}",
        err.message()
    );
    use tonic_types::StatusExt as _;
    let fields: Vec<String> = err
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["attachments[0].content"]);
    // A program is refused whatever it is declared to be.
    let mut elf = b"\x7FELF\x02\x01\x01".to_vec();
    elf.resize(64, 0);
    let err = client.register_appeal(with(&elf)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("program"), "{}", err.message());
    let list = client
        .list_appeals(pb::ListAppealsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.appeals.len(), 1, "only the PDF's appeal is registered");
    svc.stop().await;
}

#[tokio::test]
async fn retried_request_returns_the_same_appeal() {
    let svc = start().await;
    let mut client = svc.client().await;
    let req = request(4, "Не работает уличное освещение");
    let first = client
        .register_appeal(req.clone())
        .await
        .unwrap()
        .into_inner();
    let second = client
        .register_appeal(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(second.replayed);
    assert_eq!(first.appeal.unwrap().id, second.appeal.unwrap().id);
    let mut changed = req.clone();
    changed.text = "другой текст".into();
    let err = client.register_appeal(changed).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("request_id"));
    let pool = svc.pool().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM appeals")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    svc.stop().await;
}

#[tokio::test]
async fn concurrent_registrations_get_gap_free_unique_numbers() {
    let svc = start().await;
    let mut tasks = Vec::new();
    for i in 0..60u32 {
        let addr = svc.addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = bakylau_testkit::auth::client(
                bakylau_testkit::auth::Role::Registrar,
                bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient::new,
                addr,
            )
            .await
            .unwrap();
            let req = request(100 + i, &format!("Обращение номер {i} о проблеме с водой"));
            let resp = c.register_appeal(req.clone()).await.unwrap().into_inner();
            // A retry racing the original must not create a second appeal.
            let again = c.register_appeal(req).await.unwrap().into_inner();
            assert_eq!(again.appeal.unwrap().id, resp.appeal.as_ref().unwrap().id);
            resp.coupon.unwrap().registration_number
        }));
    }
    let mut numbers = BTreeSet::new();
    for t in tasks {
        numbers.insert(t.await.unwrap());
    }
    assert_eq!(numbers.len(), 60, "duplicate numbers");
    let seqs: Vec<i64> = numbers
        .iter()
        .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, (1..=60).collect::<Vec<i64>>(), "numbers have gaps");
    svc.stop().await;
}

/// Registrations arriving together are committed together: one refused inside a batch
/// gives its number back without taking the others down, and two identical calls racing
/// each other (same request_id) store one appeal.
#[tokio::test]
async fn registrations_committed_together_stay_gap_free_and_single() {
    let svc = start().await;
    let channel = bakylau_testkit::auth::authed(
        common::channel(&svc.addr).await.unwrap(),
        bakylau_testkit::auth::Role::Registrar,
    );
    let mut calls = Vec::new();
    for i in 0..90u32 {
        let mut c = pb::intake_service_client::IntakeServiceClient::new(channel.clone());
        let mut req = request(300 + i, &format!("Обращение {i}: нет воды в доме"));
        if i % 9 == 0 {
            // Passes the checks made before numbering, fails inside the batch.
            req.repeated_of = "ALM-1999-999999".into();
        }
        calls.push(tokio::spawn(async move {
            let mut twin = c.clone();
            let (a, b) = tokio::join!(
                c.register_appeal(req.clone()),
                twin.register_appeal(req.clone())
            );
            (i, a, b)
        }));
    }
    let mut numbers = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for call in calls {
        let (i, a, b) = call.await.unwrap();
        if i % 9 == 0 {
            for r in [a, b] {
                let err = r.unwrap_err();
                assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
                assert!(err.message().contains("repeated_of"), "{err:?}");
            }
            continue;
        }
        let (a, b) = (a.unwrap().into_inner(), b.unwrap().into_inner());
        let id = a.appeal.as_ref().unwrap().id.clone();
        assert_eq!(id, b.appeal.unwrap().id, "a racing twin got another appeal");
        assert!(
            a.replayed != b.replayed,
            "exactly one of the twins is the original"
        );
        ids.insert(id);
        numbers.insert(a.coupon.unwrap().registration_number);
    }
    assert_eq!(ids.len(), 80);
    let seqs: Vec<i64> = numbers
        .iter()
        .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, (1..=80).collect::<Vec<i64>>(), "numbers have gaps");
    let pool = svc.pool().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM appeals")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 80);
    svc.stop().await;
}

#[tokio::test]
async fn anonymous_appeal_is_registered_then_declined_unless_corruption() {
    let svc = start().await;
    let mut tap = svc.env.event_tap(&["appeal.declined"]).await.unwrap();
    let mut client = svc.client().await;
    let mut req = request(5, "Анонимная жалоба на соседей");
    req.applicant = None;
    req.anonymous = true;
    let declined = client
        .register_appeal(req.clone())
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    assert_eq!(declined.status, pb::AppealStatus::Declined as i32);
    assert_eq!(declined.decline_reasons[0].code, "anonymous_not_considered");
    assert!(!declined.registration_number.is_empty());
    let event = tap
        .next(Duration::from_secs(15))
        .await
        .expect("appeal.declined");
    let payload = ev::AppealDeclined::decode(event.envelope.payload.as_slice()).unwrap();
    assert_eq!(payload.registration_number, declined.registration_number);

    req.request_id = uuid::Uuid::new_v4().to_string();
    req.corruption_report = true;
    let accepted = client
        .register_appeal(req)
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    assert_eq!(accepted.status, pb::AppealStatus::Registered as i32);
    svc.stop().await;
}

#[tokio::test]
async fn repeated_appeal_is_linked_and_bad_signature_declined() {
    let svc = start().await;
    let mut client = svc.client().await;
    let first = client
        .register_appeal(request(
            6,
            "Прошу отремонтировать дорогу на улице Абая в Талгаре, ямы",
        ))
        .await
        .unwrap()
        .into_inner();
    let second = client
        .register_appeal(request(
            6,
            "Повторно прошу отремонтировать дорогу на улице Абая в Талгаре, ямы не засыпаны",
        ))
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    assert_eq!(
        second.repeated_of_registration_number,
        first.coupon.unwrap().registration_number
    );
    let other = client
        .register_appeal(request(
            7,
            "Прошу отремонтировать дорогу на улице Абая в Талгаре, ямы",
        ))
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    assert!(
        other.repeated_of_appeal_id.is_empty(),
        "another applicant is not a repeat"
    );

    let mut electronic = request(8, "Электронное обращение");
    electronic.channel = pb::Channel::Electronic as i32;
    electronic.received_by = None;
    electronic.signature = Some(pb::Signature {
        format: pb::SignatureFormat::Cms as i32,
        content: b"not a signature".to_vec(),
    });
    let a = client
        .register_appeal(electronic)
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    assert_eq!(a.signature.unwrap().status, "malformed");
    assert_eq!(a.status, pb::AppealStatus::Declined as i32);
    assert_eq!(a.decline_reasons[0].field, "signature");
    svc.stop().await;
}

/// Two appeals of one applicant written in the same batch: the later one is a repeat of
/// the earlier, as if they had been written one after another.
#[tokio::test]
async fn a_repeat_in_the_same_batch_is_linked_to_the_appeal_before_it() {
    let svc = start().await;
    let mut client = svc.client().await;
    client
        .register_appeal(request(20, "Первое обращение другого заявителя о свете"))
        .await
        .unwrap();
    // Hold the office's counter so the writer's next batch waits while both appeals queue.
    let pool = svc.pool().await;
    let mut hold = pool.begin().await.unwrap();
    sqlx::query("SELECT last FROM registration_counters FOR UPDATE")
        .fetch_all(&mut *hold)
        .await
        .unwrap();
    let mut blocked = client.clone();
    let blocker = tokio::spawn(async move {
        blocked
            .register_appeal(request(21, "Обращение о вывозе мусора во дворе"))
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let texts = [
        "Прошу отремонтировать дорогу на улице Абая в Талгаре, ямы",
        "Повторно прошу отремонтировать дорогу на улице Абая в Талгаре, ямы не засыпаны",
    ];
    let mut calls = Vec::new();
    for text in texts {
        let mut c = client.clone();
        calls.push(tokio::spawn(async move {
            c.register_appeal(request(22, text)).await
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    hold.rollback().await.unwrap();
    blocker.await.unwrap().unwrap();
    let mut appeals = Vec::new();
    for call in calls {
        appeals.push(call.await.unwrap().unwrap().into_inner().appeal.unwrap());
    }
    appeals.sort_by(|a, b| a.registration_number.cmp(&b.registration_number));
    assert!(appeals[0].repeated_of_appeal_id.is_empty());
    assert_eq!(appeals[1].repeated_of_appeal_id, appeals[0].id);
    assert_eq!(
        appeals[1].repeated_of_registration_number,
        appeals[0].registration_number
    );
    let batched: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT xmin::text) FROM appeals WHERE registration_number = ANY($1)",
    )
    .bind(
        appeals
            .iter()
            .map(|a| a.registration_number.clone())
            .collect::<Vec<_>>(),
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(batched, 1, "both appeals were committed in one transaction");
    svc.stop().await;
}

#[tokio::test]
async fn list_filters_and_pages() {
    let svc = start().await;
    let mut client = svc.client().await;
    for i in 0..7u32 {
        let mut req = request(200 + i, &format!("Проблема {i} с отоплением в доме"));
        if i % 2 == 0 {
            req.locality.as_mut().unwrap().district = "ile".into();
            req.kind = pb::AppealKind::Proposal as i32;
        }
        client.register_appeal(req).await.unwrap();
    }
    let ile = client
        .list_appeals(pb::ListAppealsRequest {
            district: "ile".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ile.appeals.len(), 4);
    let proposals = client
        .list_appeals(pb::ListAppealsRequest {
            kind: pb::AppealKind::Proposal as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proposals.appeals.len(), 4);
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_appeals(pb::ListAppealsRequest {
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.appeals.into_iter().map(|a| a.registration_number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 7);
    svc.stop().await;
}

#[tokio::test]
async fn consultations_are_recorded_and_listed() {
    let svc = start().await;
    let mut client = svc.client().await;
    let req = pb::RecordConsultationRequest {
        request_id: "c-1".into(),
        channel: pb::ConsultationChannel::Phone as i32,
        language: pb::Language::Kk as i32,
        topic: "social_protection".into(),
        question: "Атаулы әлеуметтік көмекті қалай алуға болады?".into(),
        answer: "Аудандық жұмыспен қамту бөліміне жүгініңіз".into(),
        given_by: Some(pb::Officer {
            full_name: "Consultant".into(),
            position: "specialist".into(),
        }),
        duration_minutes: 7,
        ..Default::default()
    };
    let first = client
        .record_consultation(req.clone())
        .await
        .unwrap()
        .into_inner();
    let again = client.record_consultation(req).await.unwrap().into_inner();
    assert_eq!(first.id, again.id);
    let err = client
        .record_consultation(pb::RecordConsultationRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("question") && err.message().contains("given_by.full_name"));
    let list = client
        .list_consultations(pb::ListConsultationsRequest {
            topic: "social_protection".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.consultations.len(), 1);
    svc.stop().await;
}

#[tokio::test]
async fn health_and_reflection_answer_stock_clients() {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_request::MessageRequest,
        server_reflection_response::MessageResponse,
    };
    let svc = start().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        common::channel(&svc.addr).await.unwrap(),
    );
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "bakylau.intake.v1.IntakeService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let mut reflection = ServerReflectionClient::new(common::channel(&svc.addr).await.unwrap());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("no service list")
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"bakylau.intake.v1.IntakeService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );

    // During shutdown the probe sees NOT_SERVING before the server goes away.
    let addr = svc.addr.clone();
    svc.shutdown.cancel();
    let saw_not_serving = common::serving_within(&addr, false, Duration::from_secs(5)).await;
    assert!(saw_not_serving);
    let _ = svc.task.await;
}
