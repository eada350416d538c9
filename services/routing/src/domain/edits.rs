//! Checks on edits of reference data made over gRPC: each problem names its field.

use super::reference::{
    APPEAL_KINDS, APPLICANT_TYPES, BODY_KINDS, Body, Category, DISTRICT_AKIMAT_OF_LOCALITY,
    Reference, Rule, top_level,
};
use super::routing::FieldIssue;

fn is_snake(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `land` or `land.pastures`.
pub fn is_category_code(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (1..=2).contains(&parts.len()) && parts.iter().all(|p| is_snake(p))
}

/// Dotted snake_case segments, e.g. `akimat.talgar`, `state.police`.
pub fn is_body_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.split('.').all(is_snake)
}

fn names(issues: &mut Vec<FieldIssue>, prefix: &str, kk: &str, ru: &str, en: &str) {
    for (lang, v) in [("kk", kk), ("ru", ru), ("en", en)] {
        if v.trim().is_empty() {
            issues.push(FieldIssue::new(format!("{prefix}name_{lang}"), "required"));
        } else if v.chars().count() > 300 {
            issues.push(FieldIssue::new(
                format!("{prefix}name_{lang}"),
                "at most 300 characters",
            ));
        }
    }
}

/// Checks a category as it would be stored; fills `parent` and `excluded` from the code.
pub fn check_category(reference: &Reference, c: &mut Category) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    c.code = c.code.trim().to_owned();
    if !is_category_code(&c.code) {
        issues.push(FieldIssue::new(
            "category.code",
            "snake_case code, `top` or `top.leaf`",
        ));
        return issues;
    }
    let given_parent = c.parent.take().filter(|p| !p.trim().is_empty());
    if c.code.contains('.') {
        let top = top_level(&c.code).to_owned();
        match reference.category(&top) {
            None => issues.push(FieldIssue::new(
                "category.parent",
                format!("top-level category {top} does not exist"),
            )),
            Some(p) => c.excluded = p.excluded,
        }
        if given_parent.as_deref().is_some_and(|p| p != top) {
            issues.push(FieldIssue::new(
                "category.parent",
                format!("must be {top}, the code's prefix"),
            ));
        }
        c.parent = Some(top);
    } else if given_parent.is_some() {
        issues.push(FieldIssue::new(
            "category.parent",
            "a top-level category has no parent",
        ));
    }
    names(
        &mut issues,
        "category.",
        &c.names.kk,
        &c.names.ru,
        &c.names.en,
    );
    for (field, list) in [
        ("category.keywords_kk", &mut c.keywords_kk),
        ("category.keywords_ru", &mut c.keywords_ru),
    ] {
        for (i, k) in list.iter_mut().enumerate() {
            *k = k.trim().to_lowercase();
            if k.chars().count() < 4 {
                issues.push(FieldIssue::new(
                    format!("{field}[{i}]"),
                    "keyword stems have at least 4 characters",
                ));
            }
        }
    }
    if c.excluded && c.parent.is_some() {
        match c.redirect_to.as_deref().filter(|s| !s.is_empty()) {
            None => issues.push(FieldIssue::new(
                "category.redirect_to",
                "required for an excluded subcategory (reg 5.2)",
            )),
            Some(b) if reference.body(b).is_none() => issues.push(FieldIssue::new(
                "category.redirect_to",
                format!("unknown body {b}"),
            )),
            _ => {}
        }
        for (i, b) in c.redirect_alternatives.iter().enumerate() {
            if reference.body(b).is_none() {
                issues.push(FieldIssue::new(
                    format!("category.redirect_alternatives[{i}]"),
                    format!("unknown body {b}"),
                ));
            }
        }
        if c.explanation.kk.trim().is_empty() {
            issues.push(FieldIssue::new(
                "category.explanation_kk",
                "required: the applicant is told why (reg 5.2)",
            ));
        }
        if c.explanation.ru.trim().is_empty() {
            issues.push(FieldIssue::new(
                "category.explanation_ru",
                "required: the applicant is told why (reg 5.2)",
            ));
        }
    } else {
        c.redirect_to = c.redirect_to.take().filter(|s| !s.is_empty());
        if c.redirect_to.is_some() {
            issues.push(FieldIssue::new(
                "category.redirect_to",
                "only excluded subcategories are redirected",
            ));
        }
    }
    issues
}

pub fn check_body(reference: &Reference, b: &mut Body) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    b.code = b.code.trim().to_owned();
    if !is_body_code(&b.code) || b.code == DISTRICT_AKIMAT_OF_LOCALITY {
        issues.push(FieldIssue::new(
            "body.code",
            "dotted snake_case code, e.g. akimat.talgar",
        ));
    }
    if !BODY_KINDS.contains(&b.kind.as_str()) {
        issues.push(FieldIssue::new(
            "body.kind",
            format!("one of {}", BODY_KINDS.join(", ")),
        ));
    }
    names(&mut issues, "body.", &b.names.kk, &b.names.ru, &b.names.en);
    b.parent = b.parent.take().filter(|p| !p.is_empty());
    if let Some(p) = &b.parent {
        if p == &b.code {
            issues.push(FieldIssue::new(
                "body.parent",
                "a body cannot be its own parent",
            ));
        } else if reference.body(p).is_none() {
            issues.push(FieldIssue::new("body.parent", format!("unknown body {p}")));
        }
    }
    b.district = b.district.take().filter(|d| !d.is_empty());
    let known_district = |d: &str| reference.districts.iter().any(|x| x.code == d);
    match &b.district {
        Some(d) if !known_district(d) => issues.push(FieldIssue::new(
            "body.district",
            format!("unknown district {d}"),
        )),
        None if matches!(
            b.kind.as_str(),
            "district_akimat" | "city_akimat" | "rural_akimat"
        ) =>
        {
            issues.push(FieldIssue::new(
                "body.district",
                "required for district, city and rural akimats",
            ))
        }
        _ => {}
    }
    b.kato = b.kato.take().filter(|k| !k.is_empty());
    if let Some(k) = &b.kato
        && (k.len() != 9 || !k.bytes().all(|c| c.is_ascii_digit()))
    {
        issues.push(FieldIssue::new("body.kato", "9 digits"));
    }
    b.unit = b.unit.take().filter(|u| !u.is_empty());
    for (i, c) in b.competence.iter().enumerate() {
        if reference.category(c).is_none() {
            issues.push(FieldIssue::new(
                format!("body.competence[{i}]"),
                format!("unknown category {c}"),
            ));
        }
    }
    if b.territory.is_empty() {
        issues.push(FieldIssue::new(
            "body.territory",
            "\"region\" or district codes",
        ));
    }
    for (i, t) in b.territory.iter().enumerate() {
        if t != "region" && !known_district(t) {
            issues.push(FieldIssue::new(
                format!("body.territory[{i}]"),
                format!("unknown district {t}"),
            ));
        }
    }
    issues
}

pub fn check_rule(reference: &Reference, r: &Rule) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    if !is_snake(&r.id) || r.id.len() > 100 {
        issues.push(FieldIssue::new("rule.id", "snake_case id"));
    }
    if let Some(other) = reference
        .rules
        .iter()
        .find(|x| x.priority == r.priority && x.id != r.id)
    {
        issues.push(FieldIssue::new(
            "rule.priority",
            format!("rule {} already has priority {}", other.id, r.priority),
        ));
    }
    match reference.category(&r.category) {
        None => issues.push(FieldIssue::new(
            "rule.category",
            format!("unknown category {:?}", r.category),
        )),
        Some(c) => {
            let redirect = r.action == super::reference::Action::Redirect;
            if redirect && !c.excluded {
                issues.push(FieldIssue::new(
                    "rule.action",
                    "redirect is for excluded categories (reg 5.2)",
                ));
            }
            if !redirect && c.excluded {
                issues.push(FieldIssue::new(
                    "rule.action",
                    "excluded categories are redirected, not routed",
                ));
            }
        }
    }
    let executor_ok = |e: &str| e == DISTRICT_AKIMAT_OF_LOCALITY || reference.body(e).is_some();
    if !executor_ok(&r.lead) {
        issues.push(FieldIssue::new(
            "rule.lead",
            format!("unknown body {:?}", r.lead),
        ));
    }
    for (i, c) in r.co_executors.iter().enumerate() {
        if !executor_ok(c) {
            issues.push(FieldIssue::new(
                format!("rule.co_executors[{i}]"),
                format!("unknown body {c:?}"),
            ));
        }
    }
    for (i, t) in r.territory.iter().enumerate() {
        if !reference.districts.iter().any(|d| &d.code == t) {
            issues.push(FieldIssue::new(
                format!("rule.territory[{i}]"),
                format!("unknown district {t}"),
            ));
        }
    }
    for (i, k) in r.kinds.iter().enumerate() {
        if !APPEAL_KINDS.contains(&k.as_str()) {
            issues.push(FieldIssue::new(
                format!("rule.kinds[{i}]"),
                format!("one of {}", APPEAL_KINDS.join(", ")),
            ));
        }
    }
    for (i, a) in r.applicant_types.iter().enumerate() {
        if !APPLICANT_TYPES.contains(&a.as_str()) {
            issues.push(FieldIssue::new(
                format!("rule.applicant_types[{i}]"),
                format!("one of {}", APPLICANT_TYPES.join(", ")),
            ));
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reference::{Action, Names, embedded, parse_seed};

    fn reference() -> Reference {
        parse_seed(embedded::TAXONOMY, embedded::BODIES, embedded::RULES).unwrap()
    }

    fn fields(issues: &[FieldIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.field.as_str()).collect()
    }

    #[test]
    fn codes() {
        assert!(is_category_code("land"));
        assert!(is_category_code("land.new_leaf"));
        assert!(!is_category_code("Land"));
        assert!(!is_category_code("a.b.c"));
        assert!(is_body_code("akimat.talgar"));
        assert!(!is_body_code("akimat..talgar"));
    }

    #[test]
    fn new_leaf_gets_its_parent_and_exclusion() {
        let r = reference();
        let mut c = Category {
            code: "excluded.tax_offence".into(),
            names: Names {
                kk: "a".into(),
                ru: "b".into(),
                en: "c".into(),
            },
            ..Default::default()
        };
        let issues = check_category(&r, &mut c);
        assert_eq!(c.parent.as_deref(), Some("excluded"));
        assert!(c.excluded);
        assert_eq!(
            fields(&issues),
            [
                "category.redirect_to",
                "category.explanation_kk",
                "category.explanation_ru"
            ]
        );
    }

    #[test]
    fn body_needs_known_references() {
        let r = reference();
        let mut b = Body {
            code: "akimat.new".into(),
            kind: "district_akimat".into(),
            names: Names {
                kk: "a".into(),
                ru: "b".into(),
                en: "c".into(),
            },
            competence: vec!["nope".into()],
            territory: vec!["atlantis".into()],
            ..Default::default()
        };
        assert_eq!(
            fields(&check_body(&r, &mut b)),
            ["body.district", "body.competence[0]", "body.territory[0]"]
        );
    }

    #[test]
    fn rule_checks_priority_action_and_values() {
        let r = reference();
        let taken = r.rules[0].priority;
        let rule = Rule {
            id: "new_rule".into(),
            priority: taken,
            description: String::new(),
            action: Action::Redirect,
            lead: "state.police".into(),
            co_executors: vec![],
            category: "land".into(),
            territory: vec!["talgar".into()],
            kinds: vec!["letter".into()],
            applicant_types: vec![],
            active: true,
        };
        assert_eq!(
            fields(&check_rule(&r, &rule)),
            ["rule.priority", "rule.action", "rule.kinds[0]"]
        );
    }
}
