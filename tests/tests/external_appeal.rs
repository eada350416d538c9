//! One appeal from another government system, followed as its sender sees it: published on
//! `bakylau.inbound` as a CloudEvent, answered at `reply_to`, then its status updates on the
//! sender's own queue bound to `bakylau.outbound` — routed, assigned, closed with the
//! answer — in that order and each once, while an executor answers and a controller accepts
//! through control's gRPC API. The sender's side is `bakylau_cli::inbound`, the code behind
//! `bakylau inbound send|watch` in the README's integration guide.

mod common;

use std::time::Duration;

use bakylau_cli::inbound::{self, Sender, StatusUpdate};
use bakylau_proto::control::v1 as ctl;
use ctl::control_service_client::ControlServiceClient;
use serde_json::json;

const SOURCE: &str = "urn:kz:eotinish";

/// Reads updates into `seen` until one with `status` arrives.
async fn until(
    updates: &mut inbound::StatusUpdates,
    seen: &mut Vec<StatusUpdate>,
    status: &str,
) -> StatusUpdate {
    loop {
        let update = updates
            .next(Duration::from_secs(90))
            .await
            .expect("the status queue")
            .unwrap_or_else(|| {
                let so_far: Vec<&str> = seen.iter().map(StatusUpdate::status).collect();
                panic!("no `{status}` update reached the sender; it saw {so_far:?}")
            });
        seen.push(update.clone());
        if update.status() == status {
            return update;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sender_follows_its_appeal_from_submission_to_the_closing_answer() {
    let stack = common::Stack::start().await;
    let sender = Sender::connect(&stack.env.amqp_url, SOURCE)
        .await
        .expect("the sender connects");
    assert_eq!(sender.name(), "eotinish");
    // The sender's queue exists before it submits, so no update can pass it by.
    let mut updates = sender
        .status_updates(None)
        .await
        .expect("the sender's status queue");
    assert_eq!(updates.queue(), "eotinish.status");

    let external_id = format!("EO-2026-{}", uuid::Uuid::new_v4().simple());
    let event = inbound::submission(
        SOURCE,
        json!({
            "external_id": external_id,
            "kind": "application",
            "language": "ru",
            "applicant": { "type": "individual", "iin": common::valid_iin(71),
                           "full_name": "Сапарова Айгерім", "phone": "+77015550000",
                           "address": "Талгар, Абай 1" },
            "locality": { "district": "talgar" },
            "subject": "Ремонт дороги",
            "text": "Прошу отремонтировать дорогу по улице Абая в городе Талгар: сплошные ямы, \
                     разбитый асфальт, после дождя не проехать."
        }),
    )
    .expect("a CloudEvents submission");
    let reply = sender
        .submit(&event, Duration::from_secs(60))
        .await
        .expect("intake answers at reply_to");
    assert_eq!(reply.correlation_id, event["id"].as_str().unwrap());
    assert_eq!(reply.message_type, inbound::REGISTERED_TYPE);
    assert!(reply.is_registered(), "registered: {}", reply.document);
    let data = &reply.document["data"];
    assert_eq!(data["external_id"], external_id.as_str());
    let appeal_id = data["appeal_id"].as_str().expect("appeal_id").to_owned();
    let number = data["registration_number"]
        .as_str()
        .expect("registration_number")
        .to_owned();
    assert!(number.starts_with("ALM-"), "{number}");

    // Routing and control move it on by themselves; the sender hears of each step.
    let mut seen = Vec::new();
    let assigned = until(&mut updates, &mut seen, "assigned").await;
    let executor = assigned.document["data"]["executor"]
        .as_str()
        .expect("the executing body")
        .to_owned();
    assert_eq!(executor, "akimat.talgar");
    assert!(
        !assigned.document["data"]["due_date"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "the deadline: {}",
        assigned.document
    );

    // The lead body's executor answers, a controller accepts.
    let answer_text = "Ремонт дороги по улице Абая будет выполнен до 15 июня, подрядчик определён.";
    let mut control = bakylau_testkit::auth::wrap(
        bakylau_testkit::auth::Role::Controller,
        ControlServiceClient::new,
        common::channel(&stack.control).await,
    );
    control
        .submit_answer(common::as_caller(
            ctl::SubmitAnswerRequest {
                appeal_id: appeal_id.clone(),
                text: answer_text.into(),
                measures_taken: "Выезд на место, составлен акт".into(),
                ..Default::default()
            },
            "exec-talgar",
            "executor",
            Some(&executor),
        ))
        .await
        .expect("the executor answers");
    let accepted = control
        .review_answer(common::as_caller(
            ctl::ReviewAnswerRequest {
                appeal_id: appeal_id.clone(),
                accept: true,
                ..Default::default()
            },
            "controller-1",
            "controller",
            None,
        ))
        .await
        .expect("the controller accepts")
        .into_inner();
    assert_eq!(accepted.status, "closed");

    let closed = until(&mut updates, &mut seen, "closed").await;
    assert_eq!(closed.document["data"]["answer_text"], answer_text);
    // Nothing after the closing answer, and nothing twice.
    while let Some(late) = updates
        .next(Duration::from_secs(5))
        .await
        .expect("the status queue")
    {
        seen.push(late);
    }
    let statuses: Vec<&str> = seen.iter().map(StatusUpdate::status).collect();
    assert_eq!(statuses, ["routed", "assigned", "closed"]);
    for update in &seen {
        let status = update.status();
        assert_eq!(update.routing_key, format!("eotinish.appeal.{status}"));
        assert_eq!(update.document["specversion"], "1.0");
        assert_eq!(
            update.document["type"],
            format!("kz.bakylau.appeal.{status}")
        );
        assert_eq!(update.external_id(), external_id);
        assert_eq!(update.document["data"]["appeal_id"], appeal_id.as_str());
        assert_eq!(
            update.document["data"]["registration_number"],
            number.as_str()
        );
        assert_eq!(update.document["data"]["executor"], executor.as_str());
    }
    sender.close().await;
    stack.stop().await;
}
