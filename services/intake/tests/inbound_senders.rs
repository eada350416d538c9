//! Issue 10: another government system publishes inbound appeals only as its own `source`.
//! With `intake.inbound_senders` set, a message must carry the AMQP `user_id` (RabbitMQ
//! refuses one that is not the publishing connection's user) and claim a source of that
//! user; anything else is parked with its reason and neither registered nor answered.

mod common;

use common::amqp::{
    consume, event, next_parked, next_reply, publish_with, reply_queue, submission,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};

async fn channel(url: &str) -> (Connection, lapin::Channel) {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(Default::default()).await.unwrap();
    (conn, ch)
}

#[tokio::test]
async fn a_sender_publishes_only_as_its_own_source() {
    let env = bakylau_testkit::TestEnv::new().await.unwrap();
    // Intake, E-Otinish and a stranger each connect as their own broker user.
    let intake = env.broker_user("intake").unwrap();
    let eotinish = env.broker_user("eotinish").unwrap();
    let mut settings = common::settings_for(&env);
    settings.broker.url = intake.url.clone();
    settings.intake.inbound_senders =
        [(eotinish.name.clone(), vec!["urn:kz:eotinish".to_owned()])].into();
    let guest_url = env.amqp_url.clone();
    let svc = common::start_with(env, settings).await;

    let (_eo_conn, eo) = channel(&eotinish.url).await;
    let (reply_to, mut replies) = reply_queue(&eo).await;
    let as_eotinish = |correlation: &str| {
        submission("application/cloudevents+json", &reply_to, correlation)
            .with_user_id(eotinish.name.as_str().into())
    };

    // As itself: registered and answered.
    let own = event("EO-SENDER-1", &common::test_iin(31));
    publish_with(&eo, &serde_json::to_vec(&own).unwrap(), as_eotinish("own")).await;
    let (cid, reply) = next_reply(&mut replies).await;
    assert_eq!(cid, "own");
    assert_eq!(reply["type"], "kz.bakylau.appeal.registered", "{reply}");

    // Claiming another system's source: parked.
    let mut posing = event("EO-SENDER-2", &common::test_iin(32));
    posing["source"] = "urn:kz:prosecutor".into();
    publish_with(
        &eo,
        &serde_json::to_vec(&posing).unwrap(),
        as_eotinish("posing"),
    )
    .await;

    // Without user_id: parked, however right its source.
    let anonymous = event("EO-SENDER-3", &common::test_iin(33));
    publish_with(
        &eo,
        &serde_json::to_vec(&anonymous).unwrap(),
        submission("application/cloudevents+json", &reply_to, "anonymous"),
    )
    .await;

    // Another user that sets E-Otinish's user_id: the broker refuses it outright.
    let (_guest_conn, guest) = channel(&guest_url).await;
    let forged = guest
        .basic_publish(
            "bakylau.inbound".into(),
            "appeal.submit.eotinish".into(),
            Default::default(),
            &serde_json::to_vec(&event("EO-SENDER-4", &common::test_iin(34))).unwrap(),
            BasicProperties::default().with_user_id(eotinish.name.as_str().into()),
        )
        .await;
    let refused = match forged {
        Err(_) => true,
        Ok(confirm) => confirm.await.is_err(),
    };
    assert!(
        refused,
        "RabbitMQ must refuse a user_id that is not the connection's"
    );

    // A stranger with its own user_id and a header naming E-Otinish as the first sender
    // (only the service's own retries are trusted to carry it): parked.
    let (_g2, guest) = channel(&guest_url).await;
    let mut headers = FieldTable::default();
    headers.insert(
        "x-bakylau-sender".into(),
        AMQPValue::LongString(eotinish.name.as_str().into()),
    );
    publish_with(
        &guest,
        &serde_json::to_vec(&event("EO-SENDER-5", &common::test_iin(35))).unwrap(),
        submission("application/cloudevents+json", &reply_to, "stranger")
            .with_user_id("guest".into())
            .with_headers(headers),
    )
    .await;

    let mut parked = consume(&eo, "intake.inbound.parked").await;
    let mut reasons = Vec::new();
    for _ in 0..3 {
        reasons.push(next_parked(&mut parked).await.1);
    }
    for expected in [
        "\"guest\" may not publish inbound appeals",
        "may not publish as source \"urn:kz:prosecutor\"",
        "carries no user_id",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "{expected}: {reasons:?}"
        );
    }

    // Only the one appeal was registered; nobody else got an answer.
    let pool = svc.pool().await;
    let registered: i64 = sqlx::query_scalar("SELECT count(*) FROM appeals")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(registered, 1);
    let extra = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        use futures::StreamExt as _;
        replies.next().await
    })
    .await;
    assert!(extra.is_err(), "no reply to a refused sender");
    svc.stop().await;
}
