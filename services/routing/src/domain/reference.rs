//! Reference data of routing (reg 5.2): the issue taxonomy, the directory of bodies with
//! the region's districts, and the routing rules. Parsed from the TOML files in `data/`
//! (the seed) and held in the same types when loaded back from the database.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Executor name resolved per appeal (rules.toml `special_executors`).
pub const DISTRICT_AKIMAT_OF_LOCALITY: &str = "district_akimat_of_locality";

/// Appeal kinds of the APPK.
pub const APPEAL_KINDS: &[&str] = &[
    "application",
    "report",
    "feedback",
    "proposal",
    "request",
    "complaint",
];
pub const APPLICANT_TYPES: &[&str] = &["individual", "legal_entity"];
pub const BODY_KINDS: &[&str] = &[
    "akim_office_subdivision",
    "regional_department",
    "district_akimat",
    "city_akimat",
    "rural_akimat",
    "other_state_body",
];

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("{file}: {message}")]
    Parse { file: &'static str, message: String },
    #[error("{0}")]
    Inconsistent(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    #[serde(default)]
    pub kk: String,
    #[serde(default)]
    pub ru: String,
    #[serde(default)]
    pub en: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    #[serde(default)]
    pub kk: String,
    #[serde(default)]
    pub ru: String,
}

/// One node of the taxonomy: a top-level category (no parent) or a leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub code: String,
    pub parent: Option<String>,
    pub names: Names,
    pub description: String,
    /// The reg 5.2 branch: redirected, not routed for an answer.
    pub excluded: bool,
    pub redirect_to: Option<String>,
    pub redirect_alternatives: Vec<String>,
    pub legal_basis: String,
    pub explanation: Explanation,
    pub keywords_kk: Vec<String>,
    pub keywords_ru: Vec<String>,
    pub active: bool,
}

impl Category {
    pub fn top_level(&self) -> &str {
        top_level(&self.code)
    }
}

/// Top-level part of a taxonomy code (`land.pastures` -> `land`).
pub fn top_level(code: &str) -> &str {
    code.split_once('.').map_or(code, |(top, _)| top)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct District {
    pub code: String,
    pub kind: String,
    pub kato: Option<String>,
    pub names: Names,
    pub centre: Names,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    pub code: String,
    pub kind: String,
    pub names: Names,
    pub parent: Option<String>,
    pub district: Option<String>,
    pub unit: Option<String>,
    pub kato: Option<String>,
    pub competence: Vec<String>,
    /// `["region"]` or district codes.
    pub territory: Vec<String>,
    pub active: bool,
}

impl Body {
    /// Whether the body can answer on `category` (a top-level competence covers its leaves).
    pub fn competent_on(&self, category: &str) -> bool {
        self.competence
            .iter()
            .any(|c| c == category || category_prefix_matches(c, category))
    }

    pub fn serves_district(&self, district: &str) -> bool {
        self.territory
            .iter()
            .any(|t| t == "region" || t == district)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Route,
    Redirect,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Route => "route",
            Action::Redirect => "redirect",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "route" => Some(Action::Route),
            "redirect" => Some(Action::Redirect),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub priority: i32,
    pub description: String,
    pub action: Action,
    pub lead: String,
    pub co_executors: Vec<String>,
    /// Taxonomy code prefix at a dot boundary.
    pub category: String,
    /// Empty = any.
    pub territory: Vec<String>,
    pub kinds: Vec<String>,
    pub applicant_types: Vec<String>,
    pub active: bool,
}

/// `prefix` matches `code` when equal or when `code` continues it after a dot: `land`
/// matches `land.pastures`; `land.pastures` does not match `land`.
pub fn category_prefix_matches(prefix: &str, code: &str) -> bool {
    code == prefix
        || (code.len() > prefix.len()
            && code.starts_with(prefix)
            && code.as_bytes()[prefix.len()] == b'.')
}

/// Everything routing decides with.
#[derive(Debug, Clone, Default)]
pub struct Reference {
    pub region_kato: Option<String>,
    pub categories: Vec<Category>,
    pub districts: Vec<District>,
    pub bodies: Vec<Body>,
    /// Sorted by priority, highest first.
    pub rules: Vec<Rule>,
    by_category: HashMap<String, usize>,
    by_body: HashMap<String, usize>,
}

impl Reference {
    pub fn new(
        region_kato: Option<String>,
        categories: Vec<Category>,
        districts: Vec<District>,
        bodies: Vec<Body>,
        mut rules: Vec<Rule>,
    ) -> Self {
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
        let by_category = categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.clone(), i))
            .collect();
        let by_body = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (b.code.clone(), i))
            .collect();
        Self {
            region_kato,
            categories,
            districts,
            bodies,
            rules,
            by_category,
            by_body,
        }
    }

    pub fn category(&self, code: &str) -> Option<&Category> {
        self.by_category.get(code).map(|&i| &self.categories[i])
    }

    pub fn body(&self, code: &str) -> Option<&Body> {
        self.by_body.get(code).map(|&i| &self.bodies[i])
    }

    pub fn active_body(&self, code: &str) -> Option<&Body> {
        self.body(code).filter(|b| b.active)
    }

    /// The district or city akimat of a district (`district_akimat_of_locality`).
    pub fn district_akimat(&self, district: &str) -> Option<&Body> {
        self.bodies.iter().find(|b| {
            b.active
                && (b.kind == "district_akimat" || b.kind == "city_akimat")
                && b.district.as_deref() == Some(district)
        })
    }

    /// Checks references between the parts; returns every problem found.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let districts: Vec<&str> = self.districts.iter().map(|d| d.code.as_str()).collect();
        for c in &self.categories {
            if let Some(p) = &c.parent
                && self.category(p).is_none()
            {
                out.push(format!("category {}: unknown parent {p}", c.code));
            }
            if let Some(r) = &c.redirect_to
                && self.body(r).is_none()
            {
                out.push(format!("category {}: unknown redirect body {r}", c.code));
            }
        }
        for b in &self.bodies {
            if let Some(p) = &b.parent
                && self.body(p).is_none()
            {
                out.push(format!("body {}: unknown parent {p}", b.code));
            }
            for t in &b.territory {
                if t != "region" && !districts.contains(&t.as_str()) {
                    out.push(format!("body {}: unknown territory {t}", b.code));
                }
            }
        }
        let mut priorities = HashMap::new();
        for r in &self.rules {
            if let Some(other) = priorities.insert(r.priority, r.id.clone()) {
                out.push(format!(
                    "rules {other} and {}: same priority {}",
                    r.id, r.priority
                ));
            }
            for e in std::iter::once(&r.lead).chain(&r.co_executors) {
                if e != DISTRICT_AKIMAT_OF_LOCALITY && self.body(e).is_none() {
                    out.push(format!("rule {}: unknown body {e}", r.id));
                }
            }
            if self.category(&r.category).is_none() {
                out.push(format!("rule {}: unknown category {}", r.id, r.category));
            }
            for t in &r.territory {
                if !districts.contains(&t.as_str()) {
                    out.push(format!("rule {}: unknown territory {t}", r.id));
                }
            }
        }
        out
    }
}

// ---- TOML seed files -------------------------------------------------------------------

#[derive(Deserialize)]
struct TaxonomyFile {
    category: Vec<TomlCategory>,
}

#[derive(Deserialize)]
struct TomlCategory {
    code: String,
    names: Names,
    #[serde(default)]
    description: String,
    #[serde(default)]
    excluded: bool,
    #[serde(default)]
    leaf: Vec<TomlLeaf>,
}

#[derive(Deserialize)]
struct TomlLeaf {
    code: String,
    names: Names,
    #[serde(default)]
    keywords: BTreeMap<String, Vec<String>>,
    redirect_to: Option<String>,
    #[serde(default)]
    redirect_alternatives: Vec<String>,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    explanation: Explanation,
}

/// Parses `taxonomy.toml` into a flat list: each top-level category followed by its leaves.
pub fn parse_taxonomy(text: &str) -> Result<Vec<Category>, ReferenceError> {
    let file: TaxonomyFile = toml::from_str(text).map_err(|e| ReferenceError::Parse {
        file: "taxonomy.toml",
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for c in file.category {
        out.push(Category {
            code: c.code.clone(),
            parent: None,
            names: c.names,
            description: c.description,
            excluded: c.excluded,
            active: true,
            ..Default::default()
        });
        for l in c.leaf {
            if !category_prefix_matches(&c.code, &l.code) || l.code == c.code {
                return Err(ReferenceError::Parse {
                    file: "taxonomy.toml",
                    message: format!("leaf {} is not under {}", l.code, c.code),
                });
            }
            let mut kw = l.keywords;
            out.push(Category {
                code: l.code,
                parent: Some(c.code.clone()),
                names: l.names,
                description: String::new(),
                excluded: c.excluded,
                redirect_to: l.redirect_to,
                redirect_alternatives: l.redirect_alternatives,
                legal_basis: l.legal_basis,
                explanation: l.explanation,
                keywords_kk: kw.remove("kk").unwrap_or_default(),
                keywords_ru: kw.remove("ru").unwrap_or_default(),
                active: true,
            });
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct BodiesFile {
    region: TomlRegion,
    district: Vec<TomlDistrict>,
    body: Vec<TomlBody>,
}

#[derive(Deserialize)]
struct TomlRegion {
    kato: Option<String>,
}

#[derive(Deserialize)]
struct TomlDistrict {
    code: String,
    kind: String,
    kato: Option<String>,
    names: Names,
    centre: Names,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Territory {
    Region(String),
    Districts(Vec<String>),
}

#[derive(Deserialize)]
struct TomlBody {
    code: String,
    kind: String,
    names: Names,
    parent: Option<String>,
    district: Option<String>,
    unit: Option<String>,
    kato: Option<String>,
    #[serde(default)]
    competence: Vec<String>,
    territory: Territory,
}

pub struct BodiesSeed {
    pub region_kato: Option<String>,
    pub districts: Vec<District>,
    pub bodies: Vec<Body>,
}

pub fn parse_bodies(text: &str) -> Result<BodiesSeed, ReferenceError> {
    let file: BodiesFile = toml::from_str(text).map_err(|e| ReferenceError::Parse {
        file: "bodies.toml",
        message: e.to_string(),
    })?;
    let districts = file
        .district
        .into_iter()
        .map(|d| District {
            code: d.code,
            kind: d.kind,
            kato: d.kato,
            names: d.names,
            centre: d.centre,
        })
        .collect();
    let mut bodies = Vec::new();
    for b in file.body {
        let territory = match b.territory {
            Territory::Region(s) if s == "region" => vec![s],
            Territory::Region(s) => {
                return Err(ReferenceError::Parse {
                    file: "bodies.toml",
                    message: format!(
                        "body {}: territory {s:?} is neither \"region\" nor a list",
                        b.code
                    ),
                });
            }
            Territory::Districts(list) => list,
        };
        bodies.push(Body {
            code: b.code,
            kind: b.kind,
            names: b.names,
            parent: b.parent,
            district: b.district,
            unit: b.unit,
            kato: b.kato,
            competence: b.competence,
            territory,
            active: true,
        });
    }
    Ok(BodiesSeed {
        region_kato: file.region.kato,
        districts,
        bodies,
    })
}

#[derive(Deserialize)]
struct RulesFile {
    rule: Vec<TomlRule>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AnyOr {
    Any(String),
    List(Vec<String>),
}

impl AnyOr {
    fn into_list(self, what: &str, rule: &str) -> Result<Vec<String>, ReferenceError> {
        match self {
            AnyOr::Any(s) if s == "any" => Ok(Vec::new()),
            AnyOr::Any(s) => Err(ReferenceError::Parse {
                file: "rules.toml",
                message: format!("rule {rule}: {what} {s:?} is neither \"any\" nor a list"),
            }),
            AnyOr::List(l) => Ok(l),
        }
    }
}

#[derive(Deserialize)]
struct TomlRule {
    id: String,
    priority: i32,
    #[serde(default)]
    description: String,
    action: Action,
    lead: String,
    #[serde(default)]
    co_executors: Vec<String>,
    #[serde(rename = "match")]
    matching: TomlMatch,
}

#[derive(Deserialize)]
struct TomlMatch {
    category: String,
    territory: AnyOr,
    kinds: AnyOr,
    applicant_types: AnyOr,
}

pub fn parse_rules(text: &str) -> Result<Vec<Rule>, ReferenceError> {
    let file: RulesFile = toml::from_str(text).map_err(|e| ReferenceError::Parse {
        file: "rules.toml",
        message: e.to_string(),
    })?;
    file.rule
        .into_iter()
        .map(|r| {
            Ok(Rule {
                territory: r.matching.territory.into_list("territory", &r.id)?,
                kinds: r.matching.kinds.into_list("kinds", &r.id)?,
                applicant_types: r
                    .matching
                    .applicant_types
                    .into_list("applicant_types", &r.id)?,
                category: r.matching.category,
                id: r.id,
                priority: r.priority,
                description: r.description,
                action: r.action,
                lead: r.lead,
                co_executors: r.co_executors,
                active: true,
            })
        })
        .collect()
}

/// The seed files shipped in `data/`, compiled in so a pod needs no extra files.
pub mod embedded {
    pub const TAXONOMY: &str = include_str!("../../data/taxonomy.toml");
    pub const BODIES: &str = include_str!("../../data/bodies.toml");
    pub const RULES: &str = include_str!("../../data/rules.toml");
    pub const CORPUS: &str = include_str!("../../data/corpus/corpus.jsonl");
    /// The classifier trained on `CORPUS` by `bakylau-routing train`.
    pub const MODEL: &[u8] = include_bytes!("../../data/model/classifier.bin");
}

/// Parses the three seed files into a checked [`Reference`].
pub fn parse_seed(taxonomy: &str, bodies: &str, rules: &str) -> Result<Reference, ReferenceError> {
    let categories = parse_taxonomy(taxonomy)?;
    let b = parse_bodies(bodies)?;
    let rules = parse_rules(rules)?;
    let reference = Reference::new(b.region_kato, categories, b.districts, b.bodies, rules);
    let problems = reference.problems();
    if problems.is_empty() {
        Ok(reference)
    } else {
        Err(ReferenceError::Inconsistent(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Reference {
        parse_seed(embedded::TAXONOMY, embedded::BODIES, embedded::RULES).expect("seed parses")
    }

    #[test]
    fn shipped_seed_is_consistent() {
        let r = seed();
        assert!(r.categories.iter().filter(|c| c.parent.is_none()).count() >= 15);
        assert!(r.categories.len() > 60);
        assert_eq!(r.districts.len(), 11);
        assert!(r.bodies.len() > 50);
        assert!(r.rules.len() > 50);
        // Highest priority first.
        assert!(r.rules.windows(2).all(|w| w[0].priority > w[1].priority));
    }

    #[test]
    fn every_category_has_three_names() {
        for c in seed().categories {
            assert!(
                !c.names.kk.is_empty() && !c.names.ru.is_empty() && !c.names.en.is_empty(),
                "{}",
                c.code
            );
        }
    }

    #[test]
    fn excluded_leaves_carry_redirect_and_explanations() {
        let r = seed();
        let leaves: Vec<_> = r
            .categories
            .iter()
            .filter(|c| c.excluded && c.parent.is_some())
            .collect();
        assert_eq!(leaves.len(), 4);
        for l in leaves {
            assert!(r.body(l.redirect_to.as_deref().unwrap()).is_some());
            assert!(!l.explanation.kk.is_empty() && !l.explanation.ru.is_empty());
        }
    }

    #[test]
    fn no_catch_all_rule() {
        // reg 5.2 routing: anything unmatched goes to a registrar, never to a default body.
        let r = seed();
        let top: Vec<&str> = r
            .categories
            .iter()
            .filter(|c| c.parent.is_none())
            .map(|c| c.code.as_str())
            .collect();
        assert!(
            !r.rules
                .iter()
                .any(|rule| !top.contains(&rule.category.as_str())
                    && r.category(&rule.category).is_none())
        );
        assert!(!r.rules.iter().any(|rule| rule.category == "other"));
    }

    #[test]
    fn prefix_matches_at_dot_boundary() {
        assert!(category_prefix_matches("land", "land.pastures"));
        assert!(category_prefix_matches("land", "land"));
        assert!(!category_prefix_matches("land.pastures", "land"));
        assert!(!category_prefix_matches("land", "landscape"));
    }

    #[test]
    fn inconsistent_rule_is_reported() {
        let bad = embedded::RULES.replace("lead = \"state.police\"", "lead = \"state.nowhere\"");
        let err = parse_seed(embedded::TAXONOMY, embedded::BODIES, &bad).unwrap_err();
        assert!(err.to_string().contains("state.nowhere"));
    }
}
