//! Status updates go back to the government system an appeal came from, over the real
//! broker: once per event, even when the event is delivered twice.

mod common;

use std::time::Duration;

use bakylau_proto::events::v1 as ev;
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use prost::Message as _;
use serde_json::Value;

async fn publish_event<M: prost::Message + prost::Name>(
    ch: &Channel,
    message_id: &str,
    event_type: &str,
    payload: &M,
) {
    let envelope = ev::Envelope {
        id: message_id.into(),
        r#type: event_type.into(),
        occurred_at: None,
        producer: "test".into(),
        subject: "appeal".into(),
        payload: payload.encode_to_vec(),
        payload_type: M::full_name(),
    };
    ch.basic_publish(
        "bakylau.events".into(),
        event_type.into(),
        BasicPublishOptions::default(),
        &envelope.encode_to_vec(),
        BasicProperties::default()
            .with_message_id(message_id.into())
            .with_content_type("application/x-protobuf".into())
            .with_delivery_mode(2),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

fn external(id: &str) -> Option<ev::ExternalReference> {
    Some(ev::ExternalReference {
        source: "urn:kz:eotinish".into(),
        external_id: id.into(),
    })
}

async fn next_document(
    consumer: &mut lapin::Consumer,
    timeout: Duration,
) -> Option<(String, Value)> {
    let delivery = tokio::time::timeout(timeout, consumer.next())
        .await
        .ok()??
        .ok()?;
    delivery.ack(BasicAckOptions::default()).await.unwrap();
    let key = delivery.routing_key.as_str().to_owned();
    Some((key, serde_json::from_slice(&delivery.data).unwrap()))
}

#[tokio::test]
async fn the_sender_sees_its_appeal_routed_and_closed_once_each() {
    let running = common::start().await;
    let conn = running.env.amqp().await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    // The sender's own queue on the outbound exchange (intake declared the exchange).
    let q = ch
        .queue_declare(
            "eotinish.status".into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    ch.queue_bind(
        q.name().as_str().into(),
        "bakylau.outbound".into(),
        "eotinish.appeal.#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let mut consumer = ch
        .basic_consume(
            "eotinish.status".into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let routed = ev::AppealRouted {
        appeal_id: "0195f3a0-0000-7000-8000-000000000001".into(),
        registration_number: "ALM-2026-000001".into(),
        category: "roads.repair".into(),
        lead_executor: "district.talgar".into(),
        external: external("EO-7"),
        ..Default::default()
    };
    let routed_id = uuid::Uuid::now_v7().to_string();
    // Delivered twice (a redelivery after a crash): forwarded once.
    publish_event(&ch, &routed_id, "appeal.routed", &routed).await;
    publish_event(&ch, &routed_id, "appeal.routed", &routed).await;
    // An appeal registered at the office itself: nobody outside to tell.
    let own = ev::AppealRouted {
        appeal_id: "0195f3a0-0000-7000-8000-000000000002".into(),
        ..Default::default()
    };
    publish_event(
        &ch,
        &uuid::Uuid::now_v7().to_string(),
        "appeal.routed",
        &own,
    )
    .await;
    let closed = ev::AppealStatusChanged {
        appeal_id: routed.appeal_id.clone(),
        registration_number: routed.registration_number.clone(),
        status: "closed".into(),
        answer_text: "Дорога отремонтирована".into(),
        external: external("EO-7"),
        ..Default::default()
    };
    publish_event(
        &ch,
        &uuid::Uuid::now_v7().to_string(),
        "appeal.closed",
        &closed,
    )
    .await;

    let (key, doc) = next_document(&mut consumer, Duration::from_secs(30))
        .await
        .expect("the routed status reaches the sender");
    assert_eq!(key, "eotinish.appeal.routed");
    assert_eq!(doc["specversion"], "1.0");
    assert_eq!(doc["type"], "kz.bakylau.appeal.routed");
    assert_eq!(doc["data"]["external_id"], "EO-7");
    assert_eq!(doc["data"]["executor"], "district.talgar");
    let (key, doc) = next_document(&mut consumer, Duration::from_secs(30))
        .await
        .expect("the closed status reaches the sender");
    assert_eq!(key, "eotinish.appeal.closed");
    assert_eq!(doc["data"]["answer_text"], "Дорога отремонтирована");
    assert!(
        next_document(&mut consumer, Duration::from_secs(3))
            .await
            .is_none(),
        "nothing more: the redelivered event and the office's own appeal send nothing"
    );
    // The office's own appeal's event was acknowledged without a transaction: the inbox
    // holds the two forwarded events only.
    let recorded: Vec<String> = sqlx::query_scalar(
        "SELECT message_id FROM inbox WHERE consumer = 'intake.status' ORDER BY message_id",
    )
    .fetch_all(&running.pool().await)
    .await
    .unwrap();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert!(recorded.contains(&routed_id));
    running.stop().await;
}
