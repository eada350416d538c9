//! The frame size the services ask of RabbitMQ: small by default (lapin keeps 32 frames of
//! buffer per direction and connection), overridable, and a message larger than one frame
//! still arrives whole.

use bakylau_platform::broker::{Broker, DEFAULT_FRAME_MAX};
use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

#[tokio::test]
async fn connections_ask_for_small_frames_unless_told_otherwise() {
    let default = Broker::new(URL, "test")
        .try_connect("frames")
        .await
        .unwrap();
    assert_eq!(default.configuration().frame_max(), DEFAULT_FRAME_MAX);
    assert_eq!(DEFAULT_FRAME_MAX, 16_384);
    default.close(200, "done".into()).await.unwrap();

    let configured = Broker::new(URL, "test")
        .with_frame_max(8_192)
        .try_connect("frames")
        .await
        .unwrap();
    assert_eq!(configured.configuration().frame_max(), 8_192);
    configured.close(200, "done".into()).await.unwrap();

    let in_url = Broker::new(format!("{URL}?frame_max=65536"), "test")
        .try_connect("frames")
        .await
        .unwrap();
    assert_eq!(in_url.configuration().frame_max(), 65_536);
    in_url.close(200, "done".into()).await.unwrap();
}

#[tokio::test]
async fn a_message_of_many_frames_arrives_whole() {
    let conn = Broker::new(URL, "test")
        .try_connect("frames")
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let queue = format!("bakylau.test.frames.{}", uuid::Uuid::new_v4().simple());
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    // About 61 frames of 16 KiB, with content that shows any reordering or loss.
    let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    ch.basic_publish(
        "".into(),
        queue.as_str().into(),
        BasicPublishOptions::default(),
        &body,
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let got = loop {
        if let Some(m) = ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(got.delivery.data.len(), body.len());
    assert!(got.delivery.data == body);
    conn.close(200, "done".into()).await.unwrap();
}
