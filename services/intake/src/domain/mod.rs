//! Intake's domain: appeals as the department registers them, pre-review (reg 5.1),
//! registration numbers and dates (APPK art. 64), repeat detection. Pure: no I/O.

pub mod identity;
pub mod inbound;
pub mod outbound;
pub mod registration;
pub mod similarity;
pub mod validation;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Kinds of appeal of the Administrative Procedural and Process Code (APPK).
    AppealKind {
        Application = "application",
        Report = "report",
        Feedback = "feedback",
        Proposal = "proposal",
        Request = "request",
        Complaint = "complaint",
    }
);

string_enum!(
    /// How the appeal reached the department (reg 5.1).
    Channel {
        PaperPost = "paper_post",
        PaperInPerson = "paper_in_person",
        Electronic = "electronic",
        Reception = "reception",
        External = "external",
    }
);

string_enum!(Language { Kk = "kk", Ru = "ru", En = "en" });

string_enum!(
    AppealStatus {
        Registered = "registered",
        Declined = "declined",
    }
);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Individual {
    pub iin: String,
    pub full_name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Representative {
    pub full_name: String,
    pub iin: String,
    pub position: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LegalEntity {
    pub bin: String,
    pub name: String,
    pub representative: Representative,
    pub phone: String,
    pub email: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Applicant {
    Individual(Individual),
    LegalEntity(LegalEntity),
}

impl Applicant {
    pub fn type_name(&self) -> &'static str {
        match self {
            Applicant::Individual(_) => "individual",
            Applicant::LegalEntity(_) => "legal_entity",
        }
    }

    /// The identification number that identifies the applicant across appeals.
    pub fn identity_number(&self) -> &str {
        match self {
            Applicant::Individual(i) => &i.iin,
            Applicant::LegalEntity(l) => &l.bin,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signatory {
    pub full_name: String,
    pub iin: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Locality {
    pub kato: String,
    pub region: String,
    pub district: String,
    pub rural_district: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Officer {
    pub full_name: String,
    pub position: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewAttachment {
    pub name: String,
    pub media_type: String,
    /// Hex SHA-256 the sender claims; checked against the content.
    pub sha256: String,
    pub content: Vec<u8>,
}

/// An appeal as submitted, before pre-review. Adapters (gRPC, CloudEvents, protobuf
/// inbound) fill it; `None` means the field was absent or unrecognised, and its raw text is
/// kept where pre-review needs to say what was wrong.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewAppeal {
    pub kind: Option<AppealKind>,
    pub channel: Option<Channel>,
    pub source: String,
    pub external_id: String,
    pub language: Option<Language>,
    pub applicant: Option<Applicant>,
    pub anonymous: bool,
    pub corruption_report: bool,
    pub co_signatories: Vec<Signatory>,
    pub repeated_of: String,
    pub addressee: String,
    pub locality: Locality,
    pub location: Option<GeoPoint>,
    pub subject: String,
    pub text: String,
    pub attachments: Vec<NewAttachment>,
    /// CMS SignedData, DER or PEM.
    pub signature: Option<Vec<u8>>,
    pub received_at: Option<DateTime<Utc>>,
    pub received_by: Option<Officer>,
}

/// One problem found in a submission, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldIssue {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldIssue {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Joins issues into one readable line, as gRPC status messages and park reasons carry.
pub fn describe(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
