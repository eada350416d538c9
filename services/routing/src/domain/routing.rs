//! Deciding where an appeal goes (reg 5.2): rules tried from the highest priority down,
//! the first match wins; excluded matters (administrative-offence, criminal-procedure,
//! civil-procedure law) are redirected with an explanation and a notice date (APPK
//! art. 65); anything unmatched or unsure goes to a registrar, never to a default body.

use chrono::NaiveDate;

use super::classifier::Prediction;
use super::reference::{
    Action, DISTRICT_AKIMAT_OF_LOCALITY, Reference, Rule, category_prefix_matches, top_level,
};

/// Working days within which the applicant must be told of a redirect (APPK art. 65).
pub const REDIRECT_NOTICE_WORKING_DAYS: u32 = 3;

/// What routing knows about an appeal besides its text.
#[derive(Debug, Clone, Default)]
pub struct AppealFacts {
    pub kind: String,
    /// individual | legal_entity | anonymous
    pub applicant_type: String,
    /// Resolved district code, if the locality names one.
    pub district: Option<String>,
    /// Intake's flag: the appeal reports corruption (reg 8.5).
    pub corruption_report: bool,
}

/// A rule that matched, with its executors resolved for this appeal.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMatch {
    pub rule_id: String,
    pub action: Action,
    pub lead: String,
    pub co_executors: Vec<String>,
}

fn list_matches(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|v| v == value)
}

fn resolve_executor(reference: &Reference, name: &str, district: Option<&str>) -> Option<String> {
    if name == DISTRICT_AKIMAT_OF_LOCALITY {
        reference.district_akimat(district?).map(|b| b.code.clone())
    } else {
        reference.active_body(name).map(|b| b.code.clone())
    }
}

/// Whether `rule` applies to an appeal of `category` with `facts`, and to whom it goes.
/// A rule whose lead cannot be resolved (no district for `district_akimat_of_locality`,
/// an inactive body) does not match, so evaluation goes on to lower priorities.
pub fn apply_rule(
    reference: &Reference,
    rule: &Rule,
    category: &str,
    facts: &AppealFacts,
) -> Option<RuleMatch> {
    if !rule.active || !category_prefix_matches(&rule.category, category) {
        return None;
    }
    if !rule.territory.is_empty() {
        let d = facts.district.as_deref()?;
        if !rule.territory.iter().any(|t| t == d) {
            return None;
        }
    }
    if !list_matches(&rule.kinds, &facts.kind)
        || !list_matches(&rule.applicant_types, &facts.applicant_type)
    {
        return None;
    }
    let district = facts.district.as_deref();
    let lead = resolve_executor(reference, &rule.lead, district)?;
    let mut co_executors: Vec<String> = Vec::new();
    for c in &rule.co_executors {
        if let Some(code) = resolve_executor(reference, c, district)
            && code != lead
            && !co_executors.contains(&code)
        {
            co_executors.push(code);
        }
    }
    Some(RuleMatch {
        rule_id: rule.id.clone(),
        action: rule.action,
        lead,
        co_executors,
    })
}

/// The first rule, by priority, that applies.
pub fn match_rules(
    reference: &Reference,
    category: &str,
    facts: &AppealFacts,
) -> Option<RuleMatch> {
    reference
        .rules
        .iter()
        .find_map(|r| apply_rule(reference, r, category, facts))
}

/// Why an appeal waits for a registrar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManualReason {
    /// The classifier is below the confidence threshold.
    LowConfidence,
    /// Classified only as `other` or `excluded` without a leaf.
    Unclassified,
    /// No rule matches the category, territory, kind and applicant type.
    NoRule,
}

impl ManualReason {
    pub fn code(self) -> &'static str {
        match self {
            ManualReason::LowConfidence => "low_confidence",
            ManualReason::Unclassified => "unclassified",
            ManualReason::NoRule => "no_rule",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Redirect {
    pub to_body: String,
    pub reason_code: String,
    pub explanation_kk: String,
    pub explanation_ru: String,
    pub legal_basis: String,
    pub notify_by: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Routed {
        lead: String,
        co_executors: Vec<String>,
    },
    Redirected(Redirect),
    Manual {
        reason: ManualReason,
        message: String,
    },
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Routed { .. } => "routed",
            Outcome::Redirected(_) => "redirected",
            Outcome::Manual { .. } => "needs_manual_routing",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Decided category (leaf where known); for manual routing, the suggestion.
    pub category: Option<String>,
    pub confidence: f64,
    /// `rule:<id>` or `flag:corruption_report`; empty for manual routing.
    pub decided_by: String,
    /// `classifier:<model>` or `flag:corruption_report`.
    pub classified_by: String,
}

/// Policy inputs of [`decide`].
#[derive(Debug, Clone, Copy)]
pub struct DecidePolicy {
    pub confidence_threshold: f64,
}

/// The redirect of an excluded matter: body, explanation of its taxonomy leaf and the date
/// by which the applicant must be told.
pub fn redirect_for(
    reference: &Reference,
    category: &str,
    to_body: &str,
    notify_by: NaiveDate,
) -> Redirect {
    let leaf = reference.category(category);
    Redirect {
        to_body: to_body.to_owned(),
        reason_code: format!(
            "reg_5_2_{}",
            category.strip_prefix("excluded.").unwrap_or(category)
        ),
        explanation_kk: leaf.map(|c| c.explanation.kk.clone()).unwrap_or_default(),
        explanation_ru: leaf.map(|c| c.explanation.ru.clone()).unwrap_or_default(),
        legal_basis: leaf.map(|c| c.legal_basis.clone()).unwrap_or_default(),
        notify_by,
    }
}

/// Decides an appeal from the classifier's prediction and the appeal's facts.
/// `notify_by` is the APPK art. 65 date (registration + 3 working days), computed by the
/// caller from the working-day calendar.
pub fn decide(
    reference: &Reference,
    prediction: &Prediction,
    classifier_name: &str,
    facts: &AppealFacts,
    policy: DecidePolicy,
    notify_by: NaiveDate,
) -> Decision {
    // A registrar's corruption flag settles the category: reg 8.5 sends such reports to
    // the anti-corruption service whatever the wording.
    let (category, confidence, classified_by) = if facts.corruption_report
        && reference
            .category("excluded.corruption")
            .is_some_and(|c| c.active)
    {
        (
            "excluded.corruption".to_owned(),
            1.0,
            "flag:corruption_report".to_owned(),
        )
    } else {
        (
            prediction.code().to_owned(),
            prediction.confidence,
            format!("classifier:{classifier_name}"),
        )
    };
    let manual = |reason: ManualReason, message: String| Decision {
        outcome: Outcome::Manual { reason, message },
        category: Some(category.clone()),
        confidence,
        decided_by: String::new(),
        classified_by: classified_by.clone(),
    };
    if confidence < policy.confidence_threshold {
        return manual(
            ManualReason::LowConfidence,
            format!(
                "classifier confidence {confidence:.2} is below the threshold {:.2}",
                policy.confidence_threshold
            ),
        );
    }
    let is_leaf = category.contains('.');
    let Some(m) = match_rules(reference, &category, facts) else {
        let top = top_level(&category);
        if !is_leaf && (top == "other" || top == "excluded") {
            return manual(
                ManualReason::Unclassified,
                format!("classified only as {top}, without a subcategory"),
            );
        }
        return manual(
            ManualReason::NoRule,
            format!("no routing rule matches {category} for this locality, kind and applicant"),
        );
    };
    let outcome = match m.action {
        Action::Route => Outcome::Routed {
            lead: m.lead,
            co_executors: m.co_executors,
        },
        Action::Redirect => {
            Outcome::Redirected(redirect_for(reference, &category, &m.lead, notify_by))
        }
    };
    Decision {
        outcome,
        category: Some(category),
        confidence,
        decided_by: format!("rule:{}", m.rule_id),
        classified_by,
    }
}

/// A field problem in a request, named so the caller can fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
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

pub fn describe(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("{}: {}", i.field, i.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A registrar's re-routing request, as received.
#[derive(Debug, Clone, Default)]
pub struct RerouteInput {
    pub category: String,
    pub lead_executor: String,
    pub co_executors: Vec<String>,
    pub reason: String,
}

/// Checks a re-routing request against the reference data and makes it a decision. An
/// `excluded.*` category gives a redirect (the lead defaults to the leaf's redirect body).
pub fn reroute(
    reference: &Reference,
    input: &RerouteInput,
    user: &str,
    notify_by: NaiveDate,
) -> Result<Decision, Vec<FieldIssue>> {
    let mut issues = Vec::new();
    let category = reference.category(input.category.trim());
    match category {
        None if input.category.trim().is_empty() => {
            issues.push(FieldIssue::new("category", "required"))
        }
        None => issues.push(FieldIssue::new("category", format!("unknown category {:?}", input.category))),
        Some(c) if !c.active => issues.push(FieldIssue::new("category", format!("category {} is inactive", c.code))),
        Some(c) if c.excluded && c.parent.is_none() => issues.push(FieldIssue::new(
            "category",
            "choose a subcategory of excluded (criminal, corruption, administrative_offence, civil_procedure)",
        )),
        Some(_) => {}
    }
    let excluded = category.is_some_and(|c| c.excluded);
    let lead_code = input.lead_executor.trim();
    let lead = if lead_code.is_empty() && excluded {
        category.and_then(|c| c.redirect_to.clone())
    } else if lead_code.is_empty() {
        issues.push(FieldIssue::new("lead_executor", "required"));
        None
    } else {
        match reference.body(lead_code) {
            None => {
                issues.push(FieldIssue::new(
                    "lead_executor",
                    format!("unknown body {lead_code:?}"),
                ));
                None
            }
            Some(b) if !b.active => {
                issues.push(FieldIssue::new(
                    "lead_executor",
                    format!("body {} is inactive", b.code),
                ));
                None
            }
            Some(b) => Some(b.code.clone()),
        }
    };
    let mut co = Vec::new();
    for (i, c) in input.co_executors.iter().enumerate() {
        let c = c.trim();
        match reference.body(c) {
            None => issues.push(FieldIssue::new(
                format!("co_executors[{i}]"),
                format!("unknown body {c:?}"),
            )),
            Some(b) if !b.active => issues.push(FieldIssue::new(
                format!("co_executors[{i}]"),
                format!("body {} is inactive", b.code),
            )),
            Some(b) if Some(&b.code) == lead.as_ref() => issues.push(FieldIssue::new(
                format!("co_executors[{i}]"),
                "the lead executor cannot also be a co-executor",
            )),
            Some(b) if co.contains(&b.code) => issues.push(FieldIssue::new(
                format!("co_executors[{i}]"),
                "listed twice",
            )),
            Some(b) => co.push(b.code.clone()),
        }
    }
    if excluded && !co.is_empty() {
        issues.push(FieldIssue::new(
            "co_executors",
            "a redirect goes to one body only",
        ));
    }
    let reason = input.reason.trim();
    if reason.chars().count() < 5 {
        issues.push(FieldIssue::new(
            "reason",
            "give the reason for re-routing (at least 5 characters)",
        ));
    } else if reason.chars().count() > 2000 {
        issues.push(FieldIssue::new("reason", "at most 2000 characters"));
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    let (Some(category), Some(lead)) = (category, lead) else {
        return Err(vec![FieldIssue::new("lead_executor", "required")]);
    };
    let outcome = if excluded {
        Outcome::Redirected(redirect_for(reference, &category.code, &lead, notify_by))
    } else {
        Outcome::Routed {
            lead,
            co_executors: co,
        }
    };
    Ok(Decision {
        outcome,
        category: Some(category.code.clone()),
        confidence: 1.0,
        decided_by: format!("registrar:{user}"),
        classified_by: format!("registrar:{user}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reference::{embedded, parse_seed};

    fn reference() -> Reference {
        parse_seed(embedded::TAXONOMY, embedded::BODIES, embedded::RULES).unwrap()
    }

    fn facts(district: Option<&str>, kind: &str, applicant: &str) -> AppealFacts {
        AppealFacts {
            kind: kind.into(),
            applicant_type: applicant.into(),
            district: district.map(Into::into),
            corruption_report: false,
        }
    }

    fn predicted(code: &str, confidence: f64) -> Prediction {
        Prediction {
            category: top_level(code).into(),
            leaf: code.contains('.').then(|| code.to_owned()),
            confidence,
            candidates: vec![(top_level(code).into(), confidence)],
        }
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 25).unwrap()
    }

    const POLICY: DecidePolicy = DecidePolicy {
        confidence_threshold: 0.5,
    };

    fn run(code: &str, conf: f64, f: &AppealFacts) -> Decision {
        decide(&reference(), &predicted(code, conf), "m", f, POLICY, date())
    }

    #[test]
    fn water_in_a_district_goes_to_its_akimat() {
        let d = run(
            "housing_utilities.water_supply",
            0.9,
            &facts(Some("talgar"), "complaint", "individual"),
        );
        match &d.outcome {
            Outcome::Routed { lead, .. } => assert_eq!(lead, "akimat.talgar"),
            other => panic!("{other:?}"),
        }
        assert!(d.decided_by.starts_with("rule:"));
        assert_eq!(d.classified_by, "classifier:m");
    }

    #[test]
    fn without_a_district_a_regional_body_answers() {
        let d = run(
            "housing_utilities.water_supply",
            0.9,
            &facts(None, "complaint", "individual"),
        );
        match &d.outcome {
            Outcome::Routed { lead, .. } => assert!(!lead.starts_with("akimat."), "{lead}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn crime_report_is_redirected_to_police_with_explanation_and_notice_date() {
        let d = run(
            "excluded.criminal",
            0.95,
            &facts(Some("talgar"), "report", "individual"),
        );
        let Outcome::Redirected(r) = &d.outcome else {
            panic!("{d:?}")
        };
        assert_eq!(r.to_body, "state.police");
        assert_eq!(r.reason_code, "reg_5_2_criminal");
        assert!(r.explanation_ru.contains("Уголовно-процессуальным"));
        assert!(!r.explanation_kk.is_empty());
        assert_eq!(r.notify_by, date());
        assert_eq!(d.decided_by, "rule:excluded_criminal");
    }

    #[test]
    fn every_excluded_leaf_is_redirected_not_routed() {
        let r = reference();
        for c in r
            .categories
            .iter()
            .filter(|c| c.excluded && c.parent.is_some())
        {
            let d = decide(
                &r,
                &predicted(&c.code, 0.99),
                "m",
                &facts(Some("ile"), "complaint", "individual"),
                POLICY,
                date(),
            );
            let Outcome::Redirected(red) = &d.outcome else {
                panic!("{}: {d:?}", c.code)
            };
            assert_eq!(Some(&red.to_body), c.redirect_to.as_ref(), "{}", c.code);
        }
    }

    #[test]
    fn fine_contest_is_redirected() {
        let d = run(
            "excluded.administrative_offence",
            0.9,
            &facts(None, "complaint", "individual"),
        );
        assert_eq!(d.outcome.as_str(), "redirected");
    }

    #[test]
    fn corruption_flag_overrides_the_classifier() {
        let mut f = facts(Some("talgar"), "report", "anonymous");
        f.corruption_report = true;
        let d = run("education.kindergarten_queue", 0.2, &f);
        let Outcome::Redirected(r) = &d.outcome else {
            panic!("{d:?}")
        };
        assert_eq!(r.to_body, "state.anticorruption");
        assert_eq!(d.classified_by, "flag:corruption_report");
    }

    #[test]
    fn low_confidence_goes_to_a_registrar_with_the_suggestion() {
        let d = run(
            "land.plot_allocation",
            0.3,
            &facts(Some("talgar"), "application", "individual"),
        );
        assert_eq!(d.outcome.as_str(), "needs_manual_routing");
        assert!(matches!(
            d.outcome,
            Outcome::Manual {
                reason: ManualReason::LowConfidence,
                ..
            }
        ));
        assert_eq!(d.category.as_deref(), Some("land.plot_allocation"));
        assert!(d.decided_by.is_empty());
    }

    #[test]
    fn bare_other_and_excluded_are_unclassified() {
        for code in ["other", "excluded"] {
            let d = run(code, 0.9, &facts(Some("talgar"), "complaint", "individual"));
            assert!(
                matches!(
                    d.outcome,
                    Outcome::Manual {
                        reason: ManualReason::Unclassified,
                        ..
                    }
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn official_conduct_complaint_uses_the_kind_specific_rule() {
        let d = run(
            "other.officials_conduct",
            0.9,
            &facts(Some("talgar"), "complaint", "individual"),
        );
        assert_eq!(d.decided_by, "rule:akimat_conduct_complaint");
        let Outcome::Routed { co_executors, .. } = &d.outcome else {
            panic!()
        };
        assert_eq!(co_executors, &vec!["akim_office.hr".to_owned()]);
        let d = run(
            "other.officials_conduct",
            0.9,
            &facts(Some("talgar"), "proposal", "individual"),
        );
        assert_eq!(d.decided_by, "rule:akimat_conduct_other");
    }

    #[test]
    fn inactive_rule_or_lead_is_skipped() {
        let mut r = reference();
        for rule in r.rules.iter_mut().filter(|x| x.id == "excluded_criminal") {
            rule.active = false;
        }
        let d = decide(
            &r,
            &predicted("excluded.criminal", 0.9),
            "m",
            &facts(None, "report", "individual"),
            POLICY,
            date(),
        );
        assert_eq!(d.outcome.as_str(), "needs_manual_routing");
    }

    #[test]
    fn district_akimat_resolves_per_locality() {
        let r = reference();
        assert_eq!(
            r.district_akimat("karasay").map(|b| b.code.as_str()),
            Some("akimat.karasay")
        );
        assert!(r.district_akimat("nowhere").is_none());
    }

    #[test]
    fn reroute_validates_every_field() {
        let r = reference();
        let err = reroute(
            &r,
            &RerouteInput {
                category: "nope".into(),
                lead_executor: "state.nowhere".into(),
                co_executors: vec!["x".into()],
                reason: "".into(),
            },
            "u",
            date(),
        )
        .unwrap_err();
        let fields: Vec<&str> = err.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            ["category", "lead_executor", "co_executors[0]", "reason"]
        );
    }

    #[test]
    fn reroute_to_a_body_and_to_an_exclusion() {
        let r = reference();
        let d = reroute(
            &r,
            &RerouteInput {
                category: "land.plot_allocation".into(),
                lead_executor: "akimat.talgar".into(),
                co_executors: vec![],
                reason: "district land commission".into(),
            },
            "aigerim",
            date(),
        )
        .unwrap();
        assert_eq!(d.decided_by, "registrar:aigerim");
        assert_eq!(
            d.outcome,
            Outcome::Routed {
                lead: "akimat.talgar".into(),
                co_executors: vec![]
            }
        );
        let d = reroute(
            &r,
            &RerouteInput {
                category: "excluded.civil_procedure".into(),
                reason: "court decision contested".into(),
                ..Default::default()
            },
            "aigerim",
            date(),
        )
        .unwrap();
        let Outcome::Redirected(red) = d.outcome else {
            panic!()
        };
        assert_eq!(red.to_body, "state.regional_court");
    }
}
