//! Officials who receive people (reg 6.1, 6.3, 6.4) and the topics they cover.

use serde::{Deserialize, Serialize};

use super::{FieldIssue, is_code, string_enum};

string_enum!(
    /// Who the official is; the order of suggestions follows it.
    OfficialKind {
        Akim = "akim",
        DeputyAkim = "deputy_akim",
        OfficeHead = "office_head",
        OfficeDeputyHead = "office_deputy_head",
        SubdivisionHead = "subdivision_head",
        DistrictAkim = "district_akim",
        CityAkim = "city_akim",
        DeputyDistrictAkim = "deputy_district_akim",
        PresidentialAssistant = "presidential_assistant",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Official {
    pub id: String,
    pub full_name: String,
    pub position: String,
    pub kind: OfficialKind,
    /// Body code from the directory of bodies, e.g. `akimat.talgar`.
    pub body: String,
    #[serde(default)]
    pub district: String,
    /// Taxonomy codes; a top-level code covers its leaves.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Supervising official who takes part when needed (reg 6.2).
    #[serde(default)]
    pub supervisor_id: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// True when `topics` include `category` itself or its top-level category.
pub fn covers(topics: &[String], category: &str) -> bool {
    topics.iter().any(|t| {
        t == category
            || category
                .strip_prefix(t.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// How specifically `topics` cover `category`: 2 the leaf itself, 1 its top level, 0 not.
pub fn coverage(topics: &[String], category: &str) -> u8 {
    if topics.iter().any(|t| t == category) {
        2
    } else if covers(topics, category) {
        1
    } else {
        0
    }
}

impl Official {
    /// Everything wrong with an official before it is saved.
    pub fn check(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if !is_code(&self.id) {
            issues.push(FieldIssue::new(
                "official.id",
                "a lower-case code like deputy_akim.social",
            ));
        }
        for (field, value) in [
            ("official.full_name", &self.full_name),
            ("official.position", &self.position),
        ] {
            let v = value.trim();
            if v.is_empty() {
                issues.push(FieldIssue::new(field, "required"));
            } else if v.chars().count() > 300 {
                issues.push(FieldIssue::new(field, "at most 300 characters"));
            }
        }
        if !is_code(&self.body) {
            issues.push(FieldIssue::new(
                "official.body",
                "body code from the directory of bodies, e.g. akimat.talgar",
            ));
        }
        if matches!(
            self.kind,
            OfficialKind::DistrictAkim | OfficialKind::CityAkim | OfficialKind::DeputyDistrictAkim
        ) && !is_code(&self.district)
        {
            issues.push(FieldIssue::new(
                "official.district",
                "a district or city akim needs the district code",
            ));
        }
        for (i, t) in self.topics.iter().enumerate() {
            if !is_code(t) {
                issues.push(FieldIssue::new(
                    format!("official.topics[{i}]"),
                    "taxonomy code like housing_utilities or land.plot_allocation",
                ));
            }
        }
        if self.supervisor_id == self.id && !self.id.is_empty() {
            issues.push(FieldIssue::new(
                "official.supervisor_id",
                "an official cannot supervise themself",
            ));
        } else if !self.supervisor_id.is_empty() && !is_code(&self.supervisor_id) {
            issues.push(FieldIssue::new("official.supervisor_id", "an official id"));
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_top_level_topic_covers_its_leaves_only() {
        let t = topics(&["housing_utilities", "land.plot_allocation"]);
        assert!(covers(&t, "housing_utilities.heating"));
        assert!(covers(&t, "housing_utilities"));
        assert!(covers(&t, "land.plot_allocation"));
        assert!(!covers(&t, "land.pastures"));
        assert!(!covers(&t, "land"));
        assert!(!covers(&topics(&["housing"]), "housing_utilities.heating"));
        assert_eq!(coverage(&t, "land.plot_allocation"), 2);
        assert_eq!(coverage(&t, "housing_utilities.heating"), 1);
        assert_eq!(coverage(&t, "health"), 0);
    }

    #[test]
    fn check_names_fields() {
        let o = Official {
            id: "Bad Id".into(),
            full_name: String::new(),
            position: "Akim".into(),
            kind: OfficialKind::DistrictAkim,
            body: "akimat.talgar".into(),
            district: String::new(),
            topics: vec!["ok".into(), "Not Ok".into()],
            supervisor_id: String::new(),
            active: true,
        };
        let fields: Vec<_> = o.check().into_iter().map(|i| i.field).collect();
        assert_eq!(
            fields,
            [
                "official.id",
                "official.full_name",
                "official.district",
                "official.topics[1]"
            ]
        );
    }
}
