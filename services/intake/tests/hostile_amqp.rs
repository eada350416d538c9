//! A poison batch on the inbound exchange, over the real broker (issue 9): each broken
//! message is either declined to its sender naming the field, or — when it cannot be
//! read at all — parked in `intake.inbound.parked` with its reason; none blocks the queue,
//! none is retried forever, and a good submission after them is registered.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::amqp::{consume, event, next_parked, next_reply, publish, reply_queue};
use serde_json::{Value, json};

#[tokio::test]
async fn a_poison_batch_is_declined_or_parked_with_reasons_and_the_queue_flows_on() {
    let env = bakylau_testkit::TestEnv::new().await.unwrap();
    let mut settings = common::settings_for(&env);
    // A small limit, so "oversized" needs no 32 MiB message.
    settings.intake.max_inbound_bytes = 64 * 1024;
    let svc = common::start_with(env, settings).await;
    let conn = svc.env.amqp().await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let (reply_to, mut replies) = reply_queue(&ch).await;
    let mut parked = consume(&ch, "intake.inbound.parked").await;

    // Unreadable: parked, each with the reason expected in its header.
    let mut deep = String::from("{\"specversion\":\"1.0\",\"data\":");
    deep.push_str(&"[".repeat(50_000));
    let mut bad_utf8 = serde_json::to_vec(&event("EO-P-1", &common::test_iin(1))).unwrap();
    bad_utf8[40] = 0xff;
    let mut oversized = event("EO-P-2", &common::test_iin(2));
    oversized["data"]["text"] = "ж".repeat(40_000).into();
    let unreadable: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("utf8", bad_utf8, "application/cloudevents+json", "UTF-8"),
        (
            "deep",
            deep.into_bytes(),
            "application/cloudevents+json",
            "recursion limit",
        ),
        (
            "array",
            b"[1,2,3]".to_vec(),
            "application/json",
            "not a JSON object",
        ),
        (
            "xml",
            b"<appeal/>".to_vec(),
            "application/xml",
            "unsupported content type",
        ),
        (
            "oversized",
            serde_json::to_vec(&oversized).unwrap(),
            "application/cloudevents+json",
            "exceeds the limit of 65536 bytes",
        ),
        (
            "protobuf",
            vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01],
            "application/x-protobuf",
            "not a bakylau.intake.v1.SubmitAppeal",
        ),
    ];
    for (cid, body, ct, _) in &unreadable {
        publish(&ch, body, ct, &reply_to, cid).await;
    }
    // Readable but wrong: declined to the sender, naming the field.
    let mut old_version = event("EO-P-3", &common::test_iin(3));
    old_version["specversion"] = "0.3".into();
    let mut nul = event("EO-P-4", &common::test_iin(4));
    nul["data"]["subject"] = "Бездействие\u{0}акимата".into();
    nul["data"]["locality"]["district"] = "tal\u{0}gar".into();
    let declined: Vec<(&str, Value, &str)> = vec![
        ("version", old_version, "specversion"),
        ("nul", nul, "data.subject"),
        (
            "wrong-type",
            json!({"specversion": "1.0", "type": "x", "source": "urn:kz:eotinish",
            "id": "w-1", "data": {"external_id": "EO-P-6"}}),
            "type",
        ),
    ];
    for (cid, doc, _) in &declined {
        publish(
            &ch,
            &serde_json::to_vec(doc).unwrap(),
            "application/cloudevents+json",
            &reply_to,
            cid,
        )
        .await;
    }
    let good = event("EO-P-OK", &common::test_iin(9));
    publish(
        &ch,
        &serde_json::to_vec(&good).unwrap(),
        "application/cloudevents+json",
        &reply_to,
        "good",
    )
    .await;

    // Every declinable message answered, naming its field; the good one registered.
    let mut answers: BTreeMap<String, Value> = BTreeMap::new();
    while answers.len() < declined.len() + 1 {
        let (cid, answer) = next_reply(&mut replies).await;
        answers.insert(cid, answer);
    }
    assert_eq!(answers["good"]["type"], "kz.bakylau.appeal.registered");
    for (cid, _, field) in &declined {
        let a = &answers[*cid];
        assert_eq!(a["type"], "kz.bakylau.appeal.declined", "{cid}: {a}");
        let reasons = a["data"]["reasons"].as_array().unwrap();
        assert!(
            reasons
                .iter()
                .any(|r| r["field"] == *field && !r["message"].as_str().unwrap().is_empty()),
            "{cid} names {field}: {reasons:?}"
        );
    }
    // Nothing unreadable got an answer (there is nobody to answer reliably) ...
    for (cid, ..) in &unreadable {
        assert!(!answers.contains_key(*cid), "{cid} was answered");
    }
    // ... each is parked once, with its reason.
    let mut reasons: BTreeMap<String, String> = BTreeMap::new();
    while reasons.len() < unreadable.len() {
        let (cid, reason) = next_parked(&mut parked).await;
        reasons.insert(cid, reason);
    }
    for (cid, _, _, expected) in &unreadable {
        let r = &reasons[*cid];
        assert!(r.contains(expected), "{cid}: {r:?} should say {expected:?}");
        assert!(r.len() < 1_000, "{cid}: a bounded reason");
    }
    assert!(common::serving_within(&svc.addr, true, Duration::from_secs(5)).await);
    svc.stop().await;
}
