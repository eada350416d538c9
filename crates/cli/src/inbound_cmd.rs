//! `bakylau inbound send|watch`: what another government system does over the broker (the
//! inbound contract), runnable against the local stack. The work is in the library module
//! `bakylau_cli::inbound`, which the end-to-end test drives too.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use bakylau_cli::inbound::{self, Reply, Sender, StatusUpdate};
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::Global;
use crate::error::usage;
use crate::output::{self, OutputFormat};

#[derive(Subcommand, Debug)]
pub enum InboundCommand {
    /// Publish one appeal to bakylau.inbound as a government system and print intake's answer
    Send(SendArgs),
    /// Print the status updates of the sender's appeals from its queue on bakylau.outbound
    Watch(WatchArgs),
}

#[derive(Args, Debug)]
pub struct Broker {
    /// RabbitMQ URL of Bakylau's broker (with the vhost)
    #[arg(
        long,
        env = "BAKYLAU_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        value_name = "URL"
    )]
    pub amqp: String,
    /// The sending system's CloudEvents source; its last segment names it in routing keys
    #[arg(
        long,
        env = "BAKYLAU_SOURCE",
        default_value = "urn:kz:eotinish",
        value_name = "URN"
    )]
    pub source: String,
}

#[derive(Args, Debug)]
pub struct SendArgs {
    #[command(flatten)]
    pub broker: Broker,
    /// The appeal: a whole CloudEvents document, or only its `data` object (with
    /// `external_id`); `-` reads standard input
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
    /// How long to wait for intake's answer
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub wait: u64,
    /// Do not declare the sender's status queue (`<source-name>.status`, bound to
    /// `<source-name>.appeal.#`) before sending
    #[arg(long)]
    pub no_status_queue: bool,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub broker: Broker,
    /// The sender's queue; `<source-name>.status` by default
    #[arg(long, value_name = "QUEUE")]
    pub queue: Option<String>,
    /// Stop after this many updates
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop when no update came for this long (by default wait until Ctrl-C)
    #[arg(long, value_name = "SECONDS")]
    pub idle: Option<u64>,
}

pub async fn run(cmd: InboundCommand, g: &Global) -> Result<()> {
    match cmd {
        InboundCommand::Send(args) => send(args, g.output).await,
        InboundCommand::Watch(args) => watch(args, g.output).await,
    }
}

async fn connect(broker: &Broker) -> Result<Sender> {
    Sender::connect(&broker.amqp, &broker.source)
        .await
        .map_err(|e| match e {
            inbound::InboundError::Source(_) => usage(e.to_string()),
            other => anyhow::Error::new(other).context(format!(
                "connecting to the broker at {} (start the local stack with deploy/local/up.sh, \
                 or set --amqp / BAKYLAU_AMQP_URL)",
                redact(&broker.amqp)
            )),
        })
}

async fn send(args: SendArgs, format: OutputFormat) -> Result<()> {
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(&args.file)
            .map_err(|e| usage(format!("{}: {e}", args.file.display())))?
    };
    let appeal: Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("{}: not JSON: {e}", args.file.display())))?;
    let event =
        inbound::submission(&args.broker.source, appeal).map_err(|e| usage(e.to_string()))?;
    let sender = connect(&args.broker).await?;
    if !args.no_status_queue {
        sender.status_updates(None).await?;
    }
    let reply = sender
        .submit(&event, Duration::from_secs(args.wait))
        .await?;
    sender.close().await;
    match format {
        OutputFormat::Json => output::print_json(&reply.document)?,
        OutputFormat::Text => output::print(&render_reply(&reply))?,
    }
    if reply.is_registered() {
        Ok(())
    } else {
        // A declined appeal is the sender's input at fault: exit 2, as INVALID_ARGUMENT does.
        Err(usage("the appeal was declined"))
    }
}

async fn watch(args: WatchArgs, format: OutputFormat) -> Result<()> {
    let sender = connect(&args.broker).await?;
    let mut updates = sender.status_updates(args.queue.as_deref()).await?;
    if format == OutputFormat::Text {
        eprintln!(
            "watching queue {} (bound to {}.appeal.# on {})",
            updates.queue(),
            sender.name(),
            inbound::OUTBOUND_EXCHANGE
        );
    }
    let idle = args.idle.map(Duration::from_secs);
    let mut seen = 0u64;
    while args.count.is_none_or(|n| seen < n) {
        let Some(update) = updates
            .next(idle.unwrap_or(Duration::from_secs(3600)))
            .await?
        else {
            if idle.is_some() {
                break;
            }
            continue;
        };
        seen += 1;
        match format {
            // One document per line, for a script to read as it comes.
            OutputFormat::Json => output::print(&serde_json::to_string(&update.document)?)?,
            OutputFormat::Text => output::print(&render_update(&update))?,
        }
    }
    sender.close().await;
    Ok(())
}

/// `amqp://user:secret@host` → `amqp://user:***@host`, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

pub fn render_reply(reply: &Reply) -> String {
    let data = &reply.document["data"];
    if reply.is_registered() {
        return format!(
            "registered {} (appeal {}) for {}, at {}",
            text(&data["registration_number"]),
            text(&data["appeal_id"]),
            text(&data["external_id"]),
            text(&data["registered_at"]),
        );
    }
    let mut out = format!("declined {}:", text(&data["external_id"]));
    for reason in data["reasons"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n  - {}: {}",
            text(&reason["field"]),
            text(&reason["message"])
        ));
    }
    out
}

pub fn render_update(update: &StatusUpdate) -> String {
    let data = &update.document["data"];
    let mut out = format!(
        "{} {} {} {}",
        text(&update.document["time"]),
        update.external_id(),
        text(&data["registration_number"]),
        update.status(),
    );
    let executor = text(&data["executor"]);
    let to_body = text(&data["to_body"]);
    if !executor.is_empty() {
        out.push_str(&format!(" executor {executor}"));
    }
    if !to_body.is_empty() {
        out.push_str(&format!(" to {to_body}"));
    }
    let due = text(&data["due_date"]);
    if !due.is_empty() {
        out.push_str(&format!(" due {due}"));
    }
    let answer = text(&data["answer_text"]);
    if !answer.is_empty() {
        out.push_str(&format!("\n  answer: {answer}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            redact("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact("amqp://127.0.0.1"), "amqp://127.0.0.1");
    }

    #[test]
    fn a_declined_reply_lists_every_reason() {
        let reply = Reply {
            correlation_id: "e-1".into(),
            message_type: inbound::DECLINED_TYPE.into(),
            document: json!({ "type": inbound::DECLINED_TYPE, "data": {
                "external_id": "EO-1",
                "reasons": [ { "field": "data.text", "code": "required", "message": "required: text" } ]
            }}),
        };
        assert_eq!(
            render_reply(&reply),
            "declined EO-1:\n  - data.text: required: text"
        );
    }

    #[test]
    fn a_closing_update_shows_the_answer() {
        let update = StatusUpdate {
            routing_key: "eotinish.appeal.closed".into(),
            document: json!({ "time": "2026-03-20T10:00:00+00:00", "data": {
                "external_id": "EO-1", "registration_number": "ALM-2026-000001",
                "status": "closed", "executor": "akimat.talgar", "answer_text": "Отремонтировано"
            }}),
        };
        assert_eq!(
            render_update(&update),
            "2026-03-20T10:00:00+00:00 EO-1 ALM-2026-000001 closed executor akimat.talgar\n  answer: Отремонтировано"
        );
    }
}
