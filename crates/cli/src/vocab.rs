//! The words of the domain as the command line and JSON files spell them (`complaint`,
//! `paper_in_person`, `ru`), and their protobuf numbers.

use bakylau_proto::intake::v1 as pb;
use clap::ValueEnum;
use serde::Deserialize;

/// Kind of appeal, as in the Administrative Procedural and Process Code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[value(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// өтініш / заявление: asks for a right to be realised or a service
    Application,
    /// хабарлама / сообщение: reports a violation or a problem
    Report,
    /// отклик: an opinion on a decision or a draft
    Feedback,
    /// ұсыныс / предложение: proposes an improvement
    Proposal,
    /// сұрау салу / запрос: asks for information
    Request,
    /// шағым / жалоба: complains about a decision, action or inaction
    Complaint,
}

impl Kind {
    pub fn number(self) -> i32 {
        (match self {
            Kind::Application => pb::AppealKind::Application,
            Kind::Report => pb::AppealKind::Report,
            Kind::Feedback => pb::AppealKind::Feedback,
            Kind::Proposal => pb::AppealKind::Proposal,
            Kind::Request => pb::AppealKind::Request,
            Kind::Complaint => pb::AppealKind::Complaint,
        }) as i32
    }
}

/// How the appeal reached the office.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[value(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// came by post
    PaperPost,
    /// handed in on paper at the office
    PaperInPerson,
    /// sent electronically (usually signed)
    Electronic,
    /// raised at an official's reception
    Reception,
    /// sent by another government system (needs --source and --external-id)
    External,
}

impl Channel {
    pub fn number(self) -> i32 {
        (match self {
            Channel::PaperPost => pb::Channel::PaperPost,
            Channel::PaperInPerson => pb::Channel::PaperInPerson,
            Channel::Electronic => pb::Channel::Electronic,
            Channel::Reception => pb::Channel::Reception,
            Channel::External => pb::Channel::External,
        }) as i32
    }
}

/// Language of the appeal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Deserialize)]
#[value(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// қазақ тілі
    Kk,
    /// русский язык
    Ru,
    /// English
    En,
}

impl Language {
    pub fn number(self) -> i32 {
        (match self {
            Language::Kk => pb::Language::Kk,
            Language::Ru => pb::Language::Ru,
            Language::En => pb::Language::En,
        }) as i32
    }
}

/// Status of an appeal in the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Status {
    /// accepted at pre-review
    Registered,
    /// registered, then declined at pre-review
    Declined,
}

impl Status {
    pub fn number(self) -> i32 {
        (match self {
            Status::Registered => pb::AppealStatus::Registered,
            Status::Declined => pb::AppealStatus::Declined,
        }) as i32
    }
}

/// How a consultation was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ConsultationChannel {
    /// by telephone
    Phone,
    /// face to face at the office
    InPerson,
    /// online (chat, video, e-mail)
    Online,
}

impl ConsultationChannel {
    pub fn number(self) -> i32 {
        (match self {
            ConsultationChannel::Phone => pb::ConsultationChannel::Phone,
            ConsultationChannel::InPerson => pb::ConsultationChannel::InPerson,
            ConsultationChannel::Online => pb::ConsultationChannel::Online,
        }) as i32
    }
}

/// Name of a protobuf enum number for people and JSON; numbers this build does not know
/// print as `unknown(N)` rather than failing.
fn named(known: Option<&'static str>, n: i32) -> String {
    match known {
        Some(s) => s.to_owned(),
        None => format!("unknown({n})"),
    }
}

pub fn kind_name(n: i32) -> String {
    let known = pb::AppealKind::try_from(n).ok().map(|k| match k {
        pb::AppealKind::Unspecified => "unspecified",
        pb::AppealKind::Application => "application",
        pb::AppealKind::Report => "report",
        pb::AppealKind::Feedback => "feedback",
        pb::AppealKind::Proposal => "proposal",
        pb::AppealKind::Request => "request",
        pb::AppealKind::Complaint => "complaint",
    });
    named(known, n)
}

pub fn channel_name(n: i32) -> String {
    let known = pb::Channel::try_from(n).ok().map(|c| match c {
        pb::Channel::Unspecified => "unspecified",
        pb::Channel::PaperPost => "paper_post",
        pb::Channel::PaperInPerson => "paper_in_person",
        pb::Channel::Electronic => "electronic",
        pb::Channel::Reception => "reception",
        pb::Channel::External => "external",
    });
    named(known, n)
}

pub fn language_name(n: i32) -> String {
    let known = pb::Language::try_from(n).ok().map(|l| match l {
        pb::Language::Unspecified => "unspecified",
        pb::Language::Kk => "kk",
        pb::Language::Ru => "ru",
        pb::Language::En => "en",
    });
    named(known, n)
}

pub fn status_name(n: i32) -> String {
    let known = pb::AppealStatus::try_from(n).ok().map(|s| match s {
        pb::AppealStatus::Unspecified => "unspecified",
        pb::AppealStatus::Registered => "registered",
        pb::AppealStatus::Declined => "declined",
    });
    named(known, n)
}

pub fn consultation_channel_name(n: i32) -> String {
    let known = pb::ConsultationChannel::try_from(n).ok().map(|c| match c {
        pb::ConsultationChannel::Unspecified => "unspecified",
        pb::ConsultationChannel::Phone => "phone",
        pb::ConsultationChannel::InPerson => "in_person",
        pb::ConsultationChannel::Online => "online",
    });
    named(known, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_with_numbers() {
        for k in Kind::value_variants() {
            let name = k.to_possible_value().unwrap().get_name().to_owned();
            assert_eq!(kind_name(k.number()), name);
        }
        for c in Channel::value_variants() {
            let name = c.to_possible_value().unwrap().get_name().to_owned();
            assert_eq!(channel_name(c.number()), name);
        }
        for l in Language::value_variants() {
            let name = l.to_possible_value().unwrap().get_name().to_owned();
            assert_eq!(language_name(l.number()), name);
        }
        for s in Status::value_variants() {
            let name = s.to_possible_value().unwrap().get_name().to_owned();
            assert_eq!(status_name(s.number()), name);
        }
        for c in ConsultationChannel::value_variants() {
            let name = c.to_possible_value().unwrap().get_name().to_owned();
            assert_eq!(consultation_channel_name(c.number()), name);
        }
    }

    #[test]
    fn snake_case_spellings_and_unknown_numbers() {
        assert_eq!(
            Channel::from_str("paper_in_person", false),
            Ok(Channel::PaperInPerson)
        );
        assert_eq!(
            serde_json::from_str::<Channel>("\"paper_post\"").unwrap(),
            Channel::PaperPost
        );
        assert_eq!(kind_name(42), "unknown(42)");
    }
}
