//! `bakylau consultation …`: the log of consultative help given to people (reg 5.8).

use anyhow::Result;
use bakylau_proto::intake::v1 as pb;
use clap::{Args, Subcommand};
use uuid::Uuid;

use crate::Global;
use crate::client;
use crate::localtime;
use crate::output::{self, OutputFormat};
use crate::vocab::{ConsultationChannel, Language};

#[derive(Subcommand, Debug)]
pub enum ConsultationCommand {
    /// Record a consultation given by phone, in person or online
    Record(Box<RecordArgs>),
    /// List recorded consultations for a period, by topic or officer
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// How the consultation was given
    #[arg(long, value_enum)]
    pub channel: ConsultationChannel,
    /// Language of the conversation
    #[arg(long, value_enum, default_value = "ru")]
    pub language: Language,
    /// Topic, a taxonomy code when known (e.g. housing_utilities)
    #[arg(long)]
    pub topic: String,
    /// What the person asked
    #[arg(long)]
    pub question: String,
    /// What the officer answered
    #[arg(long)]
    pub answer: String,
    /// Officer who gave the consultation
    #[arg(long, env = "BAKYLAU_OFFICER_NAME")]
    pub officer_name: String,
    /// Position of that officer
    #[arg(long, env = "BAKYLAU_OFFICER_POSITION")]
    pub officer_position: Option<String>,
    /// Person's name, if they gave it
    #[arg(long)]
    pub person_name: Option<String>,
    /// Person's phone, +7XXXXXXXXXX, if they gave it
    #[arg(long)]
    pub person_phone: Option<String>,
    /// District the question concerns
    #[arg(long)]
    pub district: Option<String>,
    /// How long it took, in minutes
    #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1440))]
    pub minutes: Option<u32>,
    /// When it was given, "2026-03-20 09:15" local [default: now]
    #[arg(long, value_name = "TIME")]
    pub given_at: Option<String>,
    /// Key that makes a retry safe: the same id never records it twice [default: new]
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// First day, YYYY-MM-DD (local time)
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD, included
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only this topic
    #[arg(long)]
    pub topic: Option<String>,
    /// Only consultations given by this officer (full name)
    #[arg(long, value_name = "NAME")]
    pub officer: Option<String>,
    /// How many consultations per page (1-500)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: u32,
    /// Fetch every page, not just the first
    #[arg(long, conflicts_with = "page_token")]
    pub all: bool,
    /// Continue from the page token printed by a previous list
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
}

pub async fn run(cmd: ConsultationCommand, g: &Global) -> Result<()> {
    match cmd {
        ConsultationCommand::Record(args) => record(*args, g).await,
        ConsultationCommand::List(args) => list(args, g).await,
    }
}

pub fn record_request(args: &RecordArgs) -> Result<pb::RecordConsultationRequest> {
    let given_at = args
        .given_at
        .as_deref()
        .map(|t| localtime::parse_moment(t, "--given-at").map(localtime::timestamp))
        .transpose()?;
    Ok(pb::RecordConsultationRequest {
        request_id: args
            .request_id
            .clone()
            .unwrap_or_else(|| Uuid::new_v4().to_string()),
        channel: args.channel.number(),
        person_name: args.person_name.clone().unwrap_or_default(),
        person_phone: args.person_phone.clone().unwrap_or_default(),
        language: args.language.number(),
        topic: args.topic.clone(),
        question: args.question.clone(),
        answer: args.answer.clone(),
        given_by: Some(pb::Officer {
            full_name: args.officer_name.clone(),
            position: args.officer_position.clone().unwrap_or_default(),
        }),
        given_at,
        duration_minutes: args.minutes.unwrap_or_default(),
        district: args.district.clone().unwrap_or_default(),
    })
}

async fn record(args: RecordArgs, g: &Global) -> Result<()> {
    let req = record_request(&args)?;
    let mut intake = client::intake(&g.intake).await?;
    let c = intake.record_consultation(req).await?.into_inner();
    match g.output {
        OutputFormat::Text => output::print(&output::consultation_text(&c)),
        OutputFormat::Json => output::print_json(&output::consultation_json(&c)),
    }
}

pub fn list_request(args: &ListArgs) -> Result<pb::ListConsultationsRequest> {
    let (given_from, given_to) = localtime::date_window(args.from.as_deref(), args.to.as_deref())?;
    Ok(pb::ListConsultationsRequest {
        given_from,
        given_to,
        topic: args.topic.clone().unwrap_or_default(),
        officer_name: args.officer.clone().unwrap_or_default(),
        page_size: args.limit,
        page_token: args.page_token.clone().unwrap_or_default(),
    })
}

async fn list(args: ListArgs, g: &Global) -> Result<()> {
    let req = list_request(&args)?;
    let mut intake = client::intake(&g.intake).await?;
    let (consultations, next) =
        output::collect_pages(req.page_token.clone(), args.all, async |token| {
            let page = intake
                .list_consultations(pb::ListConsultationsRequest {
                    page_token: token,
                    ..req.clone()
                })
                .await?
                .into_inner();
            Ok((page.consultations, page.next_page_token))
        })
        .await?;
    output::print_page(
        g.output,
        output::consultations_table(&consultations),
        || output::consultations_page_json(&consultations, &next),
        &next,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: ConsultationCommand,
    }

    #[test]
    fn a_recorded_consultation_maps_to_the_request() {
        let T { cmd } = T::try_parse_from([
            "t",
            "record",
            "--channel",
            "in_person",
            "--topic",
            "housing_utilities",
            "--question",
            "Q",
            "--answer",
            "A",
            "--officer-name",
            "Серикова Д.",
            "--officer-position",
            "registrar",
            "--minutes",
            "12",
            "--district",
            "Медеуский",
            "--given-at",
            "2026-03-20 10:00",
        ])
        .unwrap();
        let ConsultationCommand::Record(args) = cmd else {
            unreachable!()
        };
        let req = record_request(&args).unwrap();
        assert_eq!(req.channel, pb::ConsultationChannel::InPerson as i32);
        assert_eq!(req.language, pb::Language::Ru as i32);
        assert_eq!(
            (
                req.topic.as_str(),
                req.question.as_str(),
                req.answer.as_str()
            ),
            ("housing_utilities", "Q", "A")
        );
        let o = req.given_by.unwrap();
        assert_eq!(
            (o.full_name.as_str(), o.position.as_str()),
            ("Серикова Д.", "registrar")
        );
        assert_eq!(req.duration_minutes, 12);
        assert_eq!(req.district, "Медеуский");
        assert_eq!(
            localtime::format_local(req.given_at.as_ref()),
            "2026-03-20 10:00"
        );
        assert!(Uuid::parse_str(&req.request_id).is_ok());
        assert!(req.person_name.is_empty() && req.person_phone.is_empty());
    }

    #[test]
    fn list_filters_and_limits() {
        let T { cmd } = T::try_parse_from([
            "t",
            "list",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-01",
            "--topic",
            "land",
            "--officer",
            "Серикова Д.",
        ])
        .unwrap();
        let ConsultationCommand::List(args) = cmd else {
            unreachable!()
        };
        let req = list_request(&args).unwrap();
        let (f, t) = (req.given_from.unwrap(), req.given_to.unwrap());
        assert_eq!(t.seconds - f.seconds, 86_400);
        assert_eq!(req.topic, "land");
        assert_eq!(req.officer_name, "Серикова Д.");
        assert_eq!(req.page_size, 50);
        assert!(T::try_parse_from(["t", "record", "--channel", "fax"]).is_err());
    }
}
