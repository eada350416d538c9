//! Appeals that look like a department's day: texts from the labelled routing corpus (no
//! real personal data), IINs with valid check digits, districts of the demo region.

use bakylau_proto::intake::v1 as pb;
use serde::Deserialize;

const CORPUS: &str = include_str!("../../../services/routing/data/corpus/corpus.jsonl");

/// Districts and cities of the demo region (codes of `services/routing/data/bodies.toml`).
pub const DISTRICTS: &[&str] = &[
    "konaev",
    "alatau",
    "balkhash",
    "enbekshikazakh",
    "zhambyl",
    "ile",
    "karasay",
    "kegen",
    "raiymbek",
    "talgar",
    "uigur",
];

const KINDS: &[pb::AppealKind] = &[
    pb::AppealKind::Application,
    pb::AppealKind::Complaint,
    pb::AppealKind::Proposal,
    pb::AppealKind::Request,
    pb::AppealKind::Report,
    pb::AppealKind::Feedback,
];

// Electronic appeals need a CMS signature over their text, which a generator cannot make
// with a trusted key; paper channels exercise the same path after pre-review.
const CHANNELS: &[pb::Channel] = &[pb::Channel::PaperInPerson, pb::Channel::PaperPost];

#[derive(Debug, Deserialize)]
struct CorpusLine {
    language: String,
    category: String,
    text: String,
}

/// A text and what it is about.
#[derive(Debug, Clone)]
pub struct Text {
    pub language: pb::Language,
    pub category: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    #[error("corpus line {line}: {source}")]
    Corpus {
        line: usize,
        source: serde_json::Error,
    },
    #[error("the corpus has no text of a routable category")]
    Empty,
}

/// Makes appeals; the same seed gives the same sequence.
pub struct AppealFactory {
    texts: Vec<Text>,
    iins: Vec<String>,
    seed: u64,
}

impl AppealFactory {
    /// Texts of categories the department routes to executors: the `excluded` ones are
    /// redirected by law (reg 5.2) and `other` goes to a registrar, so neither reaches an
    /// assignment.
    pub fn routable(seed: u64) -> Result<Self, FactoryError> {
        Self::with_filter(seed, |t| t.category != "excluded" && t.category != "other")
    }

    /// Every text of the corpus, including those redirected or routed by hand.
    pub fn all(seed: u64) -> Result<Self, FactoryError> {
        Self::with_filter(seed, |_| true)
    }

    fn with_filter(seed: u64, keep: impl Fn(&Text) -> bool) -> Result<Self, FactoryError> {
        let mut texts = Vec::new();
        for (i, line) in CORPUS.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let l: CorpusLine =
                serde_json::from_str(line).map_err(|source| FactoryError::Corpus {
                    line: i + 1,
                    source,
                })?;
            let language = match l.language.as_str() {
                "kk" => pb::Language::Kk,
                _ => pb::Language::Ru,
            };
            let text = Text {
                language,
                category: l.category,
                text: l.text,
            };
            if keep(&text) {
                texts.push(text);
            }
        }
        if texts.is_empty() {
            return Err(FactoryError::Empty);
        }
        Ok(Self {
            texts,
            iins: iins(2_000),
            seed,
        })
    }

    pub fn texts(&self) -> &[Text] {
        &self.texts
    }

    /// The `n`-th appeal of this factory's sequence, with a fresh idempotency key.
    pub fn appeal(&self, n: u64) -> pb::RegisterAppealRequest {
        let mut rng = fastrand::Rng::with_seed(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let text = &self.texts[rng.usize(..self.texts.len())];
        let iin = &self.iins[rng.usize(..self.iins.len())];
        let district = DISTRICTS[rng.usize(..DISTRICTS.len())];
        pb::RegisterAppealRequest {
            request_id: uuid::Uuid::now_v7().to_string(),
            kind: KINDS[rng.usize(..KINDS.len())] as i32,
            channel: CHANNELS[rng.usize(..CHANNELS.len())] as i32,
            language: text.language as i32,
            applicant: Some(pb::Applicant {
                party: Some(pb::applicant::Party::Individual(pb::Individual {
                    iin: iin.clone(),
                    full_name: "Load Test Applicant".into(),
                    phone: format!("+7701{:07}", rng.u32(..10_000_000)),
                    email: String::new(),
                    address: format!("{district}, load street {}", rng.u32(1..200)),
                })),
            }),
            locality: Some(pb::Locality {
                kato: String::new(),
                region: "Алматы облысы".into(),
                district: district.into(),
                rural_district: String::new(),
            }),
            subject: text.text.chars().take(60).collect(),
            text: text.text.clone(),
            received_by: Some(pb::Officer {
                full_name: "Load generator".into(),
                position: "benchmark".into(),
            }),
            ..Default::default()
        }
    }
}

/// `count` distinct valid IINs of people born in 1985–1995.
fn iins(count: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    let mut serial = 0u32;
    while out.len() < count {
        let year = 85 + (serial % 11);
        let day = 1 + (serial / 11) % 28;
        let body = format!("{year:02}01{day:02}3{:04}", (serial / 308) % 10_000);
        if let Some(iin) = bakylau_intake::domain::identity::with_check_digit(&body) {
            out.push(iin);
        }
        serial += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routable_appeals_are_valid_and_varied() {
        let f = AppealFactory::routable(7).unwrap();
        assert!(f.texts().len() > 500, "most of the corpus is routable");
        assert!(f.texts().iter().all(|t| t.category != "excluded"));
        let a = f.appeal(1);
        let b = f.appeal(2);
        assert_ne!(a.request_id, b.request_id);
        let Some(pb::applicant::Party::Individual(p)) = a.applicant.and_then(|a| a.party) else {
            panic!("an individual applicant");
        };
        assert!(bakylau_intake::domain::identity::validate_iin(&p.iin).is_ok());
        assert!(DISTRICTS.contains(&a.locality.unwrap().district.as_str()));
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let (f, g) = (
            AppealFactory::all(3).unwrap(),
            AppealFactory::all(3).unwrap(),
        );
        for n in 0..50 {
            assert_eq!(f.appeal(n).text, g.appeal(n).text);
        }
    }

    #[test]
    fn every_generated_appeal_passes_intakes_pre_review() {
        use bakylau_intake::domain::validation::{PreReviewPolicy, Verdict, pre_review};
        let f = AppealFactory::routable(11).unwrap();
        let policy = PreReviewPolicy::default();
        for n in 0..300 {
            let appeal = bakylau_intake::api::new_appeal(f.appeal(n));
            assert!(
                matches!(pre_review(&appeal, &policy), Ok(Verdict::Accept)),
                "appeal {n} is refused or declined by pre-review"
            );
        }
    }

    #[test]
    fn iins_are_distinct() {
        let v = iins(500);
        let set: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), 500);
    }
}
