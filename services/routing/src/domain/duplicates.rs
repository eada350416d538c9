//! Near-duplicate appeals (the same complaint sent twice, or by several channels): MinHash
//! over character 5-gram shingles of the folded text. Only the signature is stored, never
//! the text. Two appeals are linked when their estimated Jaccard similarity reaches the
//! configured level and they share the applicant, or the district and the category,
//! within the configured window.

use chrono::{DateTime, Duration, Utc};

use super::reference::top_level;
use super::text::words;

pub const SIGNATURE_LEN: usize = 64;
const SHINGLE: usize = 5;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn fnv(s: &[char]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in s {
        for b in (*c as u32).to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// MinHash signature of a text; empty when the text has no letters or digits.
pub fn signature(text: &str) -> Vec<u32> {
    let chars: Vec<char> = words(text).join(" ").chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let shingles: Vec<u64> = if chars.len() <= SHINGLE {
        vec![fnv(&chars)]
    } else {
        chars.windows(SHINGLE).map(fnv).collect()
    };
    (0..SIGNATURE_LEN as u64)
        .map(|i| {
            let seed = splitmix(i + 1);
            shingles
                .iter()
                .map(|s| (splitmix(s ^ seed) >> 32) as u32)
                .min()
                .unwrap_or(u32::MAX)
        })
        .collect()
}

/// Estimated Jaccard similarity of the shingle sets behind two signatures.
pub fn similarity(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// An earlier appeal that might be the same.
#[derive(Debug, Clone)]
pub struct Earlier {
    pub appeal_id: String,
    pub registration_number: String,
    pub applicant_ref: String,
    pub district: Option<String>,
    pub category: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub signature: Vec<u32>,
}

/// The appeal being routed.
#[derive(Debug, Clone)]
pub struct Current<'a> {
    pub appeal_id: &'a str,
    pub applicant_ref: &'a str,
    pub district: Option<&'a str>,
    pub category: Option<&'a str>,
    pub registered_at: DateTime<Utc>,
    pub signature: &'a [u32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    SameApplicant,
    SameLocalityCategory,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::SameApplicant => "same_applicant",
            Basis::SameLocalityCategory => "same_locality_category",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub appeal_id: String,
    pub registration_number: String,
    pub similarity: f64,
    pub basis: Basis,
}

#[derive(Debug, Clone, Copy)]
pub struct DuplicatePolicy {
    pub window_days: u32,
    pub min_similarity: f64,
}

/// Earlier appeals that `current` near-duplicates, most similar first.
pub fn find(current: &Current<'_>, earlier: &[Earlier], policy: DuplicatePolicy) -> Vec<Link> {
    let window = Duration::days(i64::from(policy.window_days));
    let mut out: Vec<Link> = earlier
        .iter()
        .filter(|e| e.appeal_id != current.appeal_id)
        .filter(|e| {
            let gap = current.registered_at - e.registered_at;
            gap.abs() <= window
        })
        .filter_map(|e| {
            let basis =
                if !current.applicant_ref.is_empty() && e.applicant_ref == current.applicant_ref {
                    Basis::SameApplicant
                } else if current.district.is_some()
                    && e.district.as_deref() == current.district
                    && current.category.is_some()
                    && e.category.as_deref().map(top_level) == current.category.map(top_level)
                {
                    Basis::SameLocalityCategory
                } else {
                    return None;
                };
            let s = similarity(current.signature, &e.signature);
            (s >= policy.min_similarity).then(|| Link {
                appeal_id: e.appeal_id.clone(),
                registration_number: e.registration_number.clone(),
                similarity: s,
                basis,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then(a.appeal_id.cmp(&b.appeal_id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: &str = "В селе Бесагаш уже третью неделю нет холодной воды, водовоз приезжает раз в неделю. Просим принять меры.";
    const A2: &str = "В селе Бесагаш уже третью неделю нет холодной воды!! водовоз приезжает раз в неделю, просим принять меры";
    const B: &str = "Прошу выделить земельный участок под строительство жилого дома в Каскелене, очередь стоит с 2015 года.";

    fn earlier(
        id: &str,
        applicant: &str,
        district: &str,
        category: &str,
        text: &str,
        days_ago: i64,
    ) -> Earlier {
        Earlier {
            appeal_id: id.into(),
            registration_number: format!("ALM-2026-{id}"),
            applicant_ref: applicant.into(),
            district: Some(district.into()),
            category: Some(category.into()),
            registered_at: now() - Duration::days(days_ago),
            signature: signature(text),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    const POLICY: DuplicatePolicy = DuplicatePolicy {
        window_days: 30,
        min_similarity: 0.6,
    };

    #[test]
    fn near_identical_texts_are_similar_and_different_ones_are_not() {
        assert!(similarity(&signature(A), &signature(A2)) > 0.8);
        assert!(similarity(&signature(A), &signature(B)) < 0.2);
        assert_eq!(signature(""), Vec::<u32>::new());
    }

    #[test]
    fn links_same_applicant_across_districts() {
        let sig = signature(A2);
        let cur = Current {
            appeal_id: "new",
            applicant_ref: "p1",
            district: Some("talgar"),
            category: Some("housing_utilities.water_supply"),
            registered_at: now(),
            signature: &sig,
        };
        let found = find(&cur, &[earlier("1", "p1", "ile", "land", A, 3)], POLICY);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].basis, Basis::SameApplicant);
    }

    #[test]
    fn links_same_locality_and_category_of_another_applicant() {
        let sig = signature(A2);
        let cur = Current {
            appeal_id: "new",
            applicant_ref: "p2",
            district: Some("talgar"),
            category: Some("housing_utilities.water_supply"),
            registered_at: now(),
            signature: &sig,
        };
        let e = [
            earlier("1", "p1", "talgar", "housing_utilities", A, 3),
            earlier("2", "p3", "ile", "housing_utilities", A, 3),
            earlier("3", "p4", "talgar", "land", A, 3),
        ];
        let found = find(&cur, &e, POLICY);
        assert_eq!(
            found
                .iter()
                .map(|l| l.appeal_id.as_str())
                .collect::<Vec<_>>(),
            ["1"]
        );
        assert_eq!(found[0].basis, Basis::SameLocalityCategory);
    }

    #[test]
    fn outside_the_window_or_dissimilar_is_not_linked() {
        let sig = signature(A2);
        let cur = Current {
            appeal_id: "new",
            applicant_ref: "p1",
            district: None,
            category: None,
            registered_at: now(),
            signature: &sig,
        };
        let e = [
            earlier("1", "p1", "talgar", "x", A, 31),
            earlier("2", "p1", "talgar", "x", B, 1),
        ];
        assert!(find(&cur, &e, POLICY).is_empty());
    }

    proptest! {
        #[test]
        fn a_text_is_its_own_duplicate(s in "[а-яәіңғүұқөһ ]{6,120}") {
            let sig = signature(&s);
            prop_assume!(!sig.is_empty());
            prop_assert_eq!(similarity(&sig, &sig), 1.0);
        }

        #[test]
        fn similarity_is_symmetric(a in "\\PC{0,80}", b in "\\PC{0,80}") {
            prop_assert_eq!(similarity(&signature(&a), &signature(&b)), similarity(&signature(&b), &signature(&a)));
        }
    }
}
