//! The inbound contract as another government system uses it (README "For other
//! government systems", docs/asyncapi.yaml): publish one appeal to `bakylau.inbound`, read
//! intake's answer on the `reply_to` queue, and read the appeal's later status updates
//! from the sender's own queue bound on `bakylau.outbound`. `bakylau inbound send|watch`
//! and the end-to-end test `tests/tests/external_appeal.rs` both go through this module, so
//! the documented example and the tested path are the same code.

use std::time::Duration;

use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, Consumer};
use serde_json::{Value, json};

pub const INBOUND_EXCHANGE: &str = "bakylau.inbound";
pub const OUTBOUND_EXCHANGE: &str = "bakylau.outbound";
pub const SUBMIT_TYPE: &str = "kz.bakylau.appeal.submit";
pub const REGISTERED_TYPE: &str = "kz.bakylau.appeal.registered";
pub const DECLINED_TYPE: &str = "kz.bakylau.appeal.declined";
pub const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error(
        "source {0:?} has no name to route by: use a URN such as urn:kz:eotinish (its last segment names the sender)"
    )]
    Source(String),
    #[error("the appeal document: {0}")]
    Document(String),
    #[error(
        "no answer from intake within {0:?} (is intake running and consuming bakylau.inbound?)"
    )]
    NoReply(Duration),
    #[error("the broker closed the {0} queue's consumer")]
    Closed(&'static str),
    #[error("a message on the {queue} queue is not JSON: {detail}")]
    NotJson { queue: &'static str, detail: String },
}

/// `urn:kz:eotinish` → `eotinish`: the last segment of the CloudEvents `source`, reduced to
/// what a routing-key word may hold, as intake reduces it for `<source-name>.appeal.<status>`.
pub fn source_name(source: &str) -> Option<String> {
    let last = source
        .trim()
        .trim_end_matches(['/', ':'])
        .rsplit([':', '/'])
        .next()
        .unwrap_or_default();
    let name: String = last
        .chars()
        .filter_map(|c| {
            let c = c.to_ascii_lowercase();
            (c.is_ascii_alphanumeric() || c == '-' || c == '_').then_some(c)
        })
        .collect();
    (!name.is_empty()).then_some(name)
}

/// A CloudEvents 1.0 submission from `source`: `appeal` is either the whole CloudEvent
/// (kept as it is, `source` filled in when missing) or only its `data` object (wrapped,
/// with a fresh `id` and the current `time`).
pub fn submission(source: &str, appeal: Value) -> Result<Value, InboundError> {
    let Value::Object(mut object) = appeal else {
        return Err(InboundError::Document(
            "expected a JSON object: the CloudEvent or its `data`".into(),
        ));
    };
    if object.contains_key("specversion") {
        // Intake answers and routes status updates by the document's own `source`.
        match object.get("source").and_then(Value::as_str) {
            None => {
                object.insert("source".into(), Value::String(source.to_owned()));
            }
            Some(given) if given != source => {
                return Err(InboundError::Document(format!(
                    "the CloudEvent's source {given:?} is not the sender's {source:?}"
                )));
            }
            Some(_) => {}
        }
        object
            .entry("id")
            .or_insert_with(|| Value::String(uuid::Uuid::new_v4().to_string()));
        return Ok(Value::Object(object));
    }
    if !object.contains_key("external_id") {
        return Err(InboundError::Document(
            "`data.external_id` is required: your own reference of the appeal".into(),
        ));
    }
    Ok(json!({
        "specversion": "1.0",
        "type": SUBMIT_TYPE,
        "source": source,
        "id": uuid::Uuid::new_v4().to_string(),
        "time": chrono::Utc::now().to_rfc3339(),
        "datacontenttype": "application/json",
        "data": Value::Object(object),
    }))
}

/// Intake's answer to one submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The AMQP `correlation_id`: the submission's CloudEvent `id`.
    pub correlation_id: String,
    /// `kz.bakylau.appeal.registered` or `kz.bakylau.appeal.declined`.
    pub message_type: String,
    pub document: Value,
}

impl Reply {
    pub fn is_registered(&self) -> bool {
        self.document["type"] == REGISTERED_TYPE
    }
}

/// One status update of an appeal, as the sender receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    /// `<source-name>.appeal.<status>`.
    pub routing_key: String,
    pub document: Value,
}

impl StatusUpdate {
    /// `routed`, `redirected`, `assigned`, `extended` or `closed`.
    pub fn status(&self) -> &str {
        self.document["data"]["status"].as_str().unwrap_or_default()
    }

    pub fn external_id(&self) -> &str {
        self.document["data"]["external_id"]
            .as_str()
            .unwrap_or_default()
    }
}

/// A government system connected to Bakylau's broker.
pub struct Sender {
    connection: Connection,
    channel: lapin::Channel,
    source: String,
    name: String,
    /// The broker user it connects as, stated on every message (AMQP `user_id`, checked by
    /// RabbitMQ) so intake can tell which system sent it.
    user: String,
}

impl Sender {
    /// Connects to `amqp_url` as the system whose CloudEvents `source` is `source`.
    pub async fn connect(amqp_url: &str, source: &str) -> Result<Sender, InboundError> {
        let name = source_name(source).ok_or_else(|| InboundError::Source(source.to_owned()))?;
        let connection = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        let user = amqp_url
            .parse::<lapin::uri::AMQPUri>()
            .map(|u| u.authority.userinfo.username)
            .unwrap_or_else(|_| "guest".into());
        Ok(Sender {
            connection,
            channel,
            source: source.to_owned(),
            name,
            user,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The sender's name in routing keys (`eotinish`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sender's own queue for status updates: `queue` (by default
    /// `<source-name>.status`), durable, bound to `<source-name>.appeal.#` on
    /// `bakylau.outbound`, so updates wait there while nobody reads them. Declare it before
    /// the first submission: an update published before the binding exists reaches nobody.
    pub async fn status_updates(&self, queue: Option<&str>) -> Result<StatusUpdates, InboundError> {
        let queue = queue.map_or_else(|| format!("{}.status", self.name), str::to_owned);
        self.channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        self.channel
            .queue_bind(
                queue.as_str().into(),
                OUTBOUND_EXCHANGE.into(),
                format!("{}.appeal.#", self.name).as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let channel = self.connection.create_channel().await?;
        channel
            .basic_qos(16, lapin::options::BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(StatusUpdates {
            queue,
            _channel: channel,
            consumer,
        })
    }

    /// Publishes `event` (a CloudEvents submission, see [`submission`]) to
    /// `bakylau.inbound` with routing key `appeal.submit.<source-name>`, persistent, with a
    /// private `reply_to` queue, and waits up to `wait` for intake's answer there.
    pub async fn submit(&self, event: &Value, wait: Duration) -> Result<Reply, InboundError> {
        let id = event["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| InboundError::Document("the CloudEvent has no `id`".into()))?
            .to_owned();
        let body = serde_json::to_vec(event).map_err(|e| InboundError::Document(e.to_string()))?;
        // A private queue for the answer: the broker names it and drops it with the channel.
        let channel = self.connection.create_channel().await?;
        let reply_queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        let mut replies = channel
            .basic_consume(
                reply_queue.name().as_str().into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .confirm_select(lapin::options::ConfirmSelectOptions::default())
            .await?;
        channel
            .basic_publish(
                INBOUND_EXCHANGE.into(),
                format!("appeal.submit.{}", self.name).as_str().into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default()
                    .with_content_type(CLOUDEVENTS_JSON.into())
                    .with_type(SUBMIT_TYPE.into())
                    .with_message_id(id.as_str().into())
                    .with_correlation_id(id.as_str().into())
                    .with_reply_to(reply_queue.name().clone())
                    .with_user_id(self.user.as_str().into())
                    .with_delivery_mode(2),
            )
            .await?
            .await?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let delivery = tokio::time::timeout_at(deadline, replies.next())
                .await
                .map_err(|_| InboundError::NoReply(wait))?
                .ok_or(InboundError::Closed("reply"))??;
            let correlation_id = delivery
                .properties
                .correlation_id()
                .as_ref()
                .map(|c| c.as_str().to_owned())
                .unwrap_or_default();
            // Only the answer to this submission; anything else on a private queue is noise.
            if correlation_id != id {
                continue;
            }
            let document: Value =
                serde_json::from_slice(&delivery.data).map_err(|e| InboundError::NotJson {
                    queue: "reply",
                    detail: e.to_string(),
                })?;
            let message_type = delivery
                .properties
                .kind()
                .as_ref()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_else(|| document["type"].as_str().unwrap_or_default().to_owned());
            let _ = channel.close(200, "answered".into()).await;
            return Ok(Reply {
                correlation_id,
                message_type,
                document,
            });
        }
    }

    pub async fn close(self) {
        let _ = self.connection.close(200, "done".into()).await;
    }
}

/// The sender's status queue, read one update at a time; each is acknowledged once read.
pub struct StatusUpdates {
    queue: String,
    _channel: lapin::Channel,
    consumer: Consumer,
}

impl StatusUpdates {
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The next update, or `None` when none arrives within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<StatusUpdate>, InboundError> {
        let Ok(delivery) = tokio::time::timeout(wait, self.consumer.next()).await else {
            return Ok(None);
        };
        let delivery = delivery.ok_or(InboundError::Closed("status"))??;
        let document = serde_json::from_slice(&delivery.data);
        // Acknowledged either way: a document that is not JSON would only come back again.
        delivery.ack(BasicAckOptions::default()).await?;
        let document = document.map_err(|e| InboundError::NotJson {
            queue: "status",
            detail: e.to_string(),
        })?;
        Ok(Some(StatusUpdate {
            routing_key: delivery.routing_key.as_str().to_owned(),
            document,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_name_is_the_last_segment_of_its_source() {
        assert_eq!(source_name("urn:kz:eotinish").as_deref(), Some("eotinish"));
        assert_eq!(
            source_name("https://egov.kz/Otinish/").as_deref(),
            Some("otinish")
        );
        assert_eq!(source_name("urn:kz:"), Some("kz".into()));
        assert_eq!(source_name(" : "), None);
    }

    #[test]
    fn data_alone_is_wrapped_in_a_cloudevent() {
        let event = submission(
            "urn:kz:eotinish",
            json!({ "external_id": "EO-1", "kind": "application" }),
        )
        .unwrap();
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["type"], SUBMIT_TYPE);
        assert_eq!(event["source"], "urn:kz:eotinish");
        assert_eq!(event["data"]["external_id"], "EO-1");
        assert!(!event["id"].as_str().unwrap().is_empty());
    }

    #[test]
    fn a_whole_cloudevent_is_kept() {
        let given = json!({
            "specversion": "1.0", "type": SUBMIT_TYPE, "source": "urn:kz:eotinish", "id": "e-1",
            "data": { "external_id": "X" }
        });
        assert_eq!(submission("urn:kz:eotinish", given.clone()).unwrap(), given);
        assert!(matches!(
            submission("urn:kz:other", given),
            Err(InboundError::Document(_))
        ));
    }

    #[test]
    fn data_without_the_senders_reference_is_refused() {
        assert!(matches!(
            submission("urn:kz:eotinish", json!({ "kind": "application" })),
            Err(InboundError::Document(_))
        ));
        assert!(matches!(
            submission("urn:kz:eotinish", json!([1])),
            Err(InboundError::Document(_))
        ));
    }
}
