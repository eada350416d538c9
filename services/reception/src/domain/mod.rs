//! Reception's domain (reg 6, 8.7): officials, schedules and slots, bookings and their
//! lifecycle, pre-screening, monitoring. Pure types and functions, no I/O.

pub mod booking;
pub mod identity;
pub mod monitor;
pub mod official;
pub mod prescreen;
pub mod schedule;

use serde::{Deserialize, Serialize};

/// One problem with a request, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldIssue {
    pub field: String,
    pub message: String,
}

impl FieldIssue {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `field: message; field: message` for status messages.
pub fn describe(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{}: {}", i.field, i.message))
        .collect::<Vec<_>>()
        .join("; ")
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s.trim() { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The accepted values, for error messages.
            pub fn choices() -> String {
                [$($text),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// How a reception is held (reg 6.3, 6.4).
    Format {
        InPerson = "in_person",
        Video = "video",
        Field = "field",
    }
);

string_enum!(
    /// Personal reception of individuals and representatives (reg 6.1), or a meeting with
    /// heads of bodies, NGOs and media on human-rights and life-support issues (reg 8.7).
    ReceptionKind {
        Personal = "personal",
        Meeting = "meeting",
    }
);

string_enum!(
    /// Language of the visitor; an appeal registered at the reception takes it.
    Language {
        Kk = "kk",
        Ru = "ru",
        En = "en",
    }
);

/// Where a reception takes place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Venue {
    /// Meeting room (in person or video).
    pub room: String,
    /// Video-conference link.
    pub link: String,
    /// Place of a field reception.
    pub place: String,
    /// District code of a field reception.
    pub district: String,
}

impl Venue {
    /// What each format needs to be found by the visitor (reg 6.3, 6.4).
    pub fn check(&self, format: Format, field: &str, issues: &mut Vec<FieldIssue>) {
        match format {
            Format::InPerson => {}
            Format::Video => {
                if self.room.trim().is_empty() && self.link.trim().is_empty() {
                    issues.push(FieldIssue::new(
                        format!("{field}.link"),
                        "a video reception needs a meeting room or a link",
                    ));
                }
            }
            Format::Field => {
                if self.place.trim().is_empty() {
                    issues.push(FieldIssue::new(
                        format!("{field}.place"),
                        "a field reception needs the place it is held",
                    ));
                }
                if !is_code(&self.district) {
                    issues.push(FieldIssue::new(
                        format!("{field}.district"),
                        "a field reception needs the district code (e.g. talgar)",
                    ));
                }
            }
        }
    }
}

/// A lower-case code like `talgar`, `akimat.talgar`, `housing_utilities.heating`.
pub fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert!(is_code("akimat.talgar"));
        assert!(is_code("housing_utilities.heating"));
        assert!(!is_code(""));
        assert!(!is_code("Akimat"));
        assert!(!is_code("a..b"));
    }

    #[test]
    fn enums_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(*f));
        }
        assert_eq!(
            ReceptionKind::parse("meeting"),
            Some(ReceptionKind::Meeting)
        );
        assert_eq!(Format::parse("radio"), None);
    }

    #[test]
    fn venue_needs_what_the_format_needs() {
        let mut issues = Vec::new();
        Venue::default().check(Format::Video, "venue", &mut issues);
        Venue::default().check(Format::Field, "venue", &mut issues);
        Venue::default().check(Format::InPerson, "venue", &mut issues);
        let fields: Vec<_> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["venue.link", "venue.place", "venue.district"]);
    }
}
