//! The inbound contract for other government systems, over the real broker.

mod common;

use std::time::Duration;

use bakylau_proto::events::v1 as ev;
use bakylau_proto::intake::v1 as pb;
use common::amqp::{event, next_parked, next_reply, publish, reply_queue};
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use prost::Message as _;
use serde_json::json;

#[tokio::test]
async fn cloudevent_is_registered_answered_and_deduplicated() {
    let svc = common::start().await;
    let mut tap = svc.env.event_tap(&["appeal.*"]).await.unwrap();
    let conn = svc.env.amqp().await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let (reply_to, mut replies) = reply_queue(&ch).await;
    let doc = event("EO-2026-0001234", &common::test_iin(11));
    let body = serde_json::to_vec(&doc).unwrap();
    let id = doc["id"].as_str().unwrap().to_owned();

    publish(&ch, &body, "application/cloudevents+json", &reply_to, &id).await;
    let (cid, reply) = next_reply(&mut replies).await;
    assert_eq!(cid, id);
    assert_eq!(reply["type"], "kz.bakylau.appeal.registered");
    assert_eq!(reply["specversion"], "1.0");
    assert_eq!(reply["data"]["external_id"], "EO-2026-0001234");
    let number = reply["data"]["registration_number"]
        .as_str()
        .unwrap()
        .to_owned();

    let e = tap
        .next(Duration::from_secs(15))
        .await
        .expect("appeal.registered");
    let registered = ev::AppealRegistered::decode(e.envelope.payload.as_slice()).unwrap();
    assert_eq!(registered.registration_number, number);
    let external = registered.external.unwrap();
    assert_eq!(
        (external.source.as_str(), external.external_id.as_str()),
        ("urn:kz:eotinish", "EO-2026-0001234")
    );
    assert_eq!(registered.channel, "external");

    // The same submission again: nothing new is registered, the same answer comes back, and
    // the re-published event carries the original message id.
    publish(&ch, &body, "application/cloudevents+json", &reply_to, &id).await;
    let (_, again) = next_reply(&mut replies).await;
    assert_eq!(again["data"]["registration_number"], number.as_str());
    let e2 = tap
        .next(Duration::from_secs(15))
        .await
        .expect("the same outcome again");
    assert_eq!(e2.message_id, e.message_id);
    let pool = svc.pool().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM appeals")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    svc.stop().await;
}

#[tokio::test]
async fn invalid_submission_is_declined_with_each_field() {
    let svc = common::start().await;
    let mut tap = svc.env.event_tap(&["appeal.declined"]).await.unwrap();
    let conn = svc.env.amqp().await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let (reply_to, mut replies) = reply_queue(&ch).await;
    let mut doc = event("EO-2026-0009999", "123456789012");
    doc["data"]["kind"] = json!("petition");
    doc["data"]["text"] = json!("");
    publish(
        &ch,
        &serde_json::to_vec(&doc).unwrap(),
        "application/cloudevents+json",
        &reply_to,
        "c-1",
    )
    .await;
    let (cid, reply) = next_reply(&mut replies).await;
    assert_eq!(cid, "c-1");
    assert_eq!(reply["type"], "kz.bakylau.appeal.declined");
    let fields: Vec<&str> = reply["data"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"data.kind"), "{fields:?}");
    assert!(fields.contains(&"data.text"), "{fields:?}");
    let e = tap
        .next(Duration::from_secs(15))
        .await
        .expect("appeal.declined on bakylau.events");
    let declined = ev::AppealDeclined::decode(e.envelope.payload.as_slice()).unwrap();
    assert_eq!(declined.external.unwrap().external_id, "EO-2026-0009999");
    assert!(declined.appeal_id.is_empty());

    // A pre-review problem found after parsing (bad IIN check digit) is named too.
    let mut doc = event("EO-2026-0010000", "900101300001");
    doc["data"]["applicant"]["iin"] = json!("900101300001");
    publish(
        &ch,
        &serde_json::to_vec(&doc).unwrap(),
        "application/cloudevents+json",
        &reply_to,
        "c-2",
    )
    .await;
    let (_, reply) = next_reply(&mut replies).await;
    let fields: Vec<&str> = reply["data"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(reply["type"], "kz.bakylau.appeal.declined");
    assert!(fields.contains(&"data.applicant.iin"), "{fields:?}");
    svc.stop().await;
}

#[tokio::test]
async fn protobuf_submission_is_registered() {
    let svc = common::start().await;
    let conn = svc.env.amqp().await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let (reply_to, mut replies) = reply_queue(&ch).await;
    let mut appeal = common::request(12, "Просим провести газ в село");
    appeal.external_id = "ADL-77".into();
    appeal.received_by = None;
    let msg = pb::SubmitAppeal {
        id: "m-1".into(),
        source: "urn:kz:adaldyq".into(),
        time: None,
        appeal: Some(appeal),
    };
    publish(
        &ch,
        &msg.encode_to_vec(),
        "application/x-protobuf",
        &reply_to,
        "m-1",
    )
    .await;
    let (_, reply) = next_reply(&mut replies).await;
    assert_eq!(reply["type"], "kz.bakylau.appeal.registered", "{reply}");
    assert_eq!(reply["data"]["external_id"], "ADL-77");
    svc.stop().await;
}

#[tokio::test]
async fn unreadable_message_is_parked_with_its_reason_and_the_queue_flows_on() {
    let svc = common::start().await;
    let conn = svc.env.amqp().await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let (reply_to, mut replies) = reply_queue(&ch).await;
    publish(
        &ch,
        b"\x00\x01 definitely not json",
        "application/cloudevents+json",
        &reply_to,
        "bad",
    )
    .await;
    publish(&ch, b"<xml/>", "text/xml", &reply_to, "bad-2").await;
    let good = event("EO-OK-1", &common::test_iin(13));
    publish(
        &ch,
        &serde_json::to_vec(&good).unwrap(),
        "application/cloudevents+json",
        &reply_to,
        "good",
    )
    .await;
    let (cid, reply) = next_reply(&mut replies).await;
    assert_eq!(cid, "good");
    assert_eq!(reply["type"], "kz.bakylau.appeal.registered");

    let mut parked = ch
        .basic_consume(
            "intake.inbound.parked".into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut reasons = Vec::new();
    for _ in 0..2 {
        reasons.push(next_parked(&mut parked).await.1);
    }
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("not JSON") || r.contains("not UTF-8")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("unsupported content type")),
        "{reasons:?}"
    );
    svc.stop().await;
}
