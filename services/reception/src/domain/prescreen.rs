//! Pre-screening of a booking (reg 6.1): does the issue fall within the official's topics
//! (if not, who covers it), and what became of an earlier appeal on it.

use chrono::{DateTime, Utc};

use super::official::{Official, OfficialKind, coverage, covers};

/// What is known of the earlier appeal the visitor names.
#[derive(Debug, Clone, PartialEq)]
pub enum EarlierLookup {
    NotGiven,
    Found(EarlierAppeal),
    NotFound,
    /// Intake was not configured or not reachable: the registrar checks by hand.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EarlierAppeal {
    pub appeal_id: String,
    pub registration_number: String,
    pub status: EarlierStatus,
    pub subject: String,
    pub registered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlierStatus {
    /// Registered and not yet answered: being considered.
    InProgress,
    /// Closed with an answer sent to the applicant.
    Answered,
    /// Declined at pre-review (reg 5.1).
    Declined,
}

impl EarlierStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "registered",
            Self::Answered => "closed",
            Self::Declined => "declined",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PreScreening {
    pub within_topics: bool,
    /// Ids of officials whose topics cover the category, best first.
    pub suggested: Vec<String>,
    /// Ids of officials who should take part (reg 6.2).
    pub participants: Vec<String>,
    pub earlier: EarlierLookup,
    pub notes: Vec<String>,
}

/// At most this many officials are suggested.
pub const MAX_SUGGESTIONS: usize = 5;

fn rank(kind: OfficialKind) -> u8 {
    // The head closest to the issue first: subdivision heads and deputies before the akim.
    match kind {
        OfficialKind::SubdivisionHead => 0,
        OfficialKind::DeputyAkim | OfficialKind::DeputyDistrictAkim => 1,
        OfficialKind::DistrictAkim | OfficialKind::CityAkim => 2,
        OfficialKind::OfficeHead | OfficialKind::OfficeDeputyHead => 3,
        OfficialKind::Akim => 4,
        OfficialKind::PresidentialAssistant => 5,
    }
}

/// Pre-screens an issue for `official`. `district` (the issue's) puts officials of that
/// district first among suggestions.
pub fn pre_screen(
    official: &Official,
    category: Option<&str>,
    district: Option<&str>,
    officials: &[Official],
    earlier: EarlierLookup,
) -> PreScreening {
    let mut notes = Vec::new();
    let within_topics = category.is_none_or(|c| covers(&official.topics, c));
    let mut suggested = Vec::new();
    if let Some(category) = category.filter(|_| !within_topics) {
        let mut candidates: Vec<&Official> = officials
            .iter()
            .filter(|o| o.active && o.id != official.id && covers(&o.topics, category))
            .collect();
        candidates.sort_by_key(|o| {
            (
                std::cmp::Reverse(coverage(&o.topics, category)),
                // An official of the issue's own district, then region-wide ones.
                match (district, o.district.as_str()) {
                    (Some(d), od) if od == d => 0,
                    (_, "") => 1,
                    _ => 2,
                },
                rank(o.kind),
                o.id.clone(),
            )
        });
        suggested = candidates
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .map(|o| o.id.clone())
            .collect();
        notes.push(if suggested.is_empty() {
            format!(
                "the issue ({category}) is outside the topics of {}; no official covering it was found",
                official.id
            )
        } else {
            format!(
                "the issue ({category}) is outside the topics of {}; suggested: {}",
                official.id,
                suggested.join(", ")
            )
        });
    }
    match &earlier {
        EarlierLookup::NotGiven => {}
        EarlierLookup::Found(a) => notes.push(match a.status {
            EarlierStatus::InProgress => format!(
                "earlier appeal {} is in progress: the visitor may be told its status without a reception",
                a.registration_number
            ),
            EarlierStatus::Answered => format!(
                "earlier appeal {} is already answered: the reception reviews the answer",
                a.registration_number
            ),
            EarlierStatus::Declined => format!(
                "earlier appeal {} was declined at pre-review",
                a.registration_number
            ),
        }),
        EarlierLookup::NotFound => {
            notes.push("the earlier appeal named was not found in the register".into())
        }
        EarlierLookup::Unknown(why) => {
            notes.push(format!("the earlier appeal could not be checked: {why}"))
        }
    }
    // A visitor coming back over an answered appeal disputes that answer: the official's
    // supervisor takes part (reg 6.2).
    let mut participants = Vec::new();
    if let EarlierLookup::Found(a) = &earlier
        && a.status == EarlierStatus::Answered
        && !official.supervisor_id.is_empty()
    {
        participants.push(official.supervisor_id.clone());
        notes.push(format!(
            "the answer to {} is disputed: {} should take part (reg 6.2)",
            a.registration_number, official.supervisor_id
        ));
    }
    PreScreening {
        within_topics,
        suggested,
        participants,
        earlier,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn official(id: &str, kind: OfficialKind, district: &str, topics: &[&str]) -> Official {
        Official {
            id: id.into(),
            full_name: format!("Official {id}"),
            position: "position".into(),
            kind,
            body: "akimat.talgar".into(),
            district: district.into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            supervisor_id: String::new(),
            active: true,
        }
    }

    fn directory() -> Vec<Official> {
        vec![
            official(
                "akim",
                OfficialKind::Akim,
                "",
                &["housing_utilities", "land", "health"],
            ),
            official(
                "deputy_akim.social",
                OfficialKind::DeputyAkim,
                "",
                &["health", "education"],
            ),
            official(
                "head.health",
                OfficialKind::SubdivisionHead,
                "",
                &["health.hospital_care"],
            ),
            official(
                "akim.talgar",
                OfficialKind::DistrictAkim,
                "talgar",
                &["housing_utilities"],
            ),
            official(
                "akim.ile",
                OfficialKind::DistrictAkim,
                "ile",
                &["housing_utilities"],
            ),
        ]
    }

    #[test]
    fn within_topics_suggests_nobody() {
        let all = directory();
        let p = pre_screen(
            &all[0],
            Some("land.pastures"),
            None,
            &all,
            EarlierLookup::NotGiven,
        );
        assert!(p.within_topics);
        assert!(p.suggested.is_empty());
        assert!(p.notes.is_empty());
    }

    #[test]
    fn outside_topics_suggests_the_closest_officials() {
        let all = directory();
        let p = pre_screen(
            &all[3],
            Some("health.hospital_care"),
            Some("talgar"),
            &all,
            EarlierLookup::NotGiven,
        );
        assert!(!p.within_topics);
        // The leaf's own head first, then the deputy, then the akim.
        assert_eq!(p.suggested, ["head.health", "deputy_akim.social", "akim"]);
        assert!(p.notes[0].contains("suggested: head.health"));
    }

    #[test]
    fn the_issues_district_comes_first() {
        let all = directory();
        let p = pre_screen(
            &all[1],
            Some("housing_utilities.heating"),
            Some("ile"),
            &all,
            EarlierLookup::NotGiven,
        );
        assert_eq!(p.suggested, ["akim.ile", "akim", "akim.talgar"]);
    }

    #[test]
    fn earlier_appeals_are_shown() {
        let all = directory();
        let found = |status| {
            EarlierLookup::Found(EarlierAppeal {
                appeal_id: "id".into(),
                registration_number: "ALM-2026-000007".into(),
                status,
                subject: String::new(),
                registered_at: None,
            })
        };
        let p = pre_screen(&all[0], None, None, &all, found(EarlierStatus::InProgress));
        assert!(p.notes[0].contains("ALM-2026-000007 is in progress"));
        let p = pre_screen(&all[0], None, None, &all, found(EarlierStatus::Answered));
        assert!(p.notes[0].contains("already answered"));
        let p = pre_screen(&all[0], None, None, &all, EarlierLookup::NotFound);
        assert!(p.notes[0].contains("not found"));
        assert!(p.participants.is_empty());
    }

    #[test]
    fn a_disputed_answer_brings_in_the_supervisor() {
        let mut all = directory();
        all[2].supervisor_id = "deputy_akim.social".into();
        let answered = EarlierLookup::Found(EarlierAppeal {
            appeal_id: "id".into(),
            registration_number: "ALM-2026-000009".into(),
            status: EarlierStatus::Answered,
            subject: String::new(),
            registered_at: None,
        });
        let p = pre_screen(
            &all[2],
            Some("health.hospital_care"),
            None,
            &all,
            answered.clone(),
        );
        assert_eq!(p.participants, ["deputy_akim.social"]);
        assert!(p.notes.iter().any(|n| n.contains("reg 6.2")));
        // Without a supervisor nobody is added.
        let p = pre_screen(&all[0], None, None, &all, answered);
        assert!(p.participants.is_empty());
    }

    proptest! {
        /// Suggestions always cover the category, never include the official screened, and
        /// appear exactly when the category is outside the official's topics.
        #[test]
        fn suggestions_cover_the_issue(pick in 0usize..5, cat in prop::sample::select(vec![
            "health", "health.hospital_care", "housing_utilities.heating", "land", "education.schools", "ecology_sanitation",
        ])) {
            let all = directory();
            let p = pre_screen(&all[pick], Some(cat), None, &all, EarlierLookup::NotGiven);
            prop_assert_eq!(p.within_topics, covers(&all[pick].topics, cat));
            prop_assert!(p.suggested.len() <= MAX_SUGGESTIONS);
            for id in &p.suggested {
                prop_assert!(id != &all[pick].id);
                let o = all.iter().find(|o| &o.id == id).unwrap();
                prop_assert!(covers(&o.topics, cat));
            }
            if p.within_topics {
                prop_assert!(p.suggested.is_empty());
            }
        }
    }
}
