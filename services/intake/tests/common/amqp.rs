//! The inbound contract's side of the broker, as another government system sees it:
//! submissions, reply queues, the parked queue.

use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use serde_json::{Value, json};

/// A CloudEvents submission from E-Otinish.
pub fn event(external_id: &str, iin: &str) -> Value {
    json!({
        "specversion": "1.0",
        "type": "kz.bakylau.appeal.submit",
        "source": "urn:kz:eotinish",
        "id": uuid::Uuid::new_v4().to_string(),
        "time": "2026-03-20T09:15:00+05:00",
        "datacontenttype": "application/json",
        "data": {
            "external_id": external_id,
            "kind": "complaint",
            "language": "ru",
            "applicant": { "type": "individual", "iin": iin, "full_name": "Тестов Тест", "phone": "+77011234567",
                           "email": "t@example.kz", "address": "Қонаев" },
            "locality": { "kato": "195220100", "region": "Алматинская", "district": "talgar" },
            "subject": "Бездействие акимата",
            "text": "Жалоба: акимат не отвечает на обращение о ремонте дороги"
        }
    })
}

pub async fn consume(ch: &Channel, queue: &str) -> lapin::Consumer {
    ch.basic_consume(
        queue.into(),
        "".into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap()
}

/// An exclusive queue for replies, and a consumer on it.
pub async fn reply_queue(ch: &Channel) -> (String, lapin::Consumer) {
    let q = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let name = q.name().as_str().to_owned();
    let consumer = consume(ch, &name).await;
    (name, consumer)
}

/// The properties of a submission: persistent, with where to reply.
pub fn submission(content_type: &str, reply_to: &str, correlation: &str) -> BasicProperties {
    BasicProperties::default()
        .with_content_type(content_type.into())
        .with_type("kz.bakylau.appeal.submit".into())
        .with_reply_to(reply_to.into())
        .with_correlation_id(correlation.into())
        .with_delivery_mode(2)
}

/// Publishes to the inbound exchange and waits for the broker's confirm.
pub async fn publish_with(ch: &Channel, body: &[u8], properties: BasicProperties) {
    ch.basic_publish(
        "bakylau.inbound".into(),
        "appeal.submit.eotinish".into(),
        BasicPublishOptions::default(),
        body,
        properties,
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

pub async fn publish(
    ch: &Channel,
    body: &[u8],
    content_type: &str,
    reply_to: &str,
    correlation: &str,
) {
    publish_with(ch, body, submission(content_type, reply_to, correlation)).await;
}

/// The next reply: its correlation id and body.
pub async fn next_reply(consumer: &mut lapin::Consumer) -> (String, Value) {
    let d = tokio::time::timeout(Duration::from_secs(20), consumer.next())
        .await
        .expect("a reply")
        .unwrap()
        .unwrap();
    d.ack(BasicAckOptions::default()).await.unwrap();
    (correlation_of(&d), serde_json::from_slice(&d.data).unwrap())
}

/// The next parked message: its correlation id and park reason.
pub async fn next_parked(parked: &mut lapin::Consumer) -> (String, String) {
    let d = tokio::time::timeout(Duration::from_secs(30), parked.next())
        .await
        .expect("parked")
        .unwrap()
        .unwrap();
    d.ack(BasicAckOptions::default()).await.unwrap();
    let headers = d.properties.headers().clone().unwrap_or_default();
    let reason = headers
        .inner()
        .get("x-bakylau-park-reason")
        .and_then(bakylau_platform::telemetry::amqp_string)
        .unwrap_or_default();
    (correlation_of(&d), reason)
}

fn correlation_of(d: &lapin::message::Delivery) -> String {
    d.properties
        .correlation_id()
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}
