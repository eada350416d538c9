//! The deadline policy (APPK art. 65, 76; reg 5.3) as data: stored in the database, seeded
//! from settings, editable by a head.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Appeal kinds of the APPK.
pub const KINDS: &[&str] = &[
    "application",
    "report",
    "feedback",
    "proposal",
    "request",
    "complaint",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Answer period per appeal kind, in working days; kinds not listed use the default.
    pub days_per_kind: BTreeMap<String, u32>,
    /// 15 working days (APPK art. 76).
    pub default_working_days: u32,
    /// An extension may bring the whole period to at most this many months from
    /// registration (APPK art. 76: two months).
    pub max_total_months: u32,
    /// How many times a deadline may be extended (one).
    pub max_extensions: u32,
    /// The applicant is told of an extension within this many working days (3).
    pub extension_notice_working_days: u32,
    /// The applicant is told of a redirection within this many working days (art. 65: 3).
    pub redirect_notice_working_days: u32,
    /// Reminders this many working days before the deadline.
    pub reminder_working_days: Vec<u32>,
    /// Period for rework when the controller sets no date.
    pub rework_working_days: u32,
    /// Routing later than this many working days after registration is late (reg 10.1).
    pub forwarding_working_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            days_per_kind: KINDS.iter().map(|k| ((*k).to_owned(), 15)).collect(),
            default_working_days: 15,
            max_total_months: 2,
            max_extensions: 1,
            extension_notice_working_days: 3,
            redirect_notice_working_days: 3,
            reminder_working_days: vec![3, 1],
            rework_working_days: 5,
            forwarding_working_days: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: &str) -> PolicyError {
    PolicyError {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

impl Policy {
    /// The answer period for `kind`, in working days.
    pub fn working_days_for(&self, kind: &str) -> u32 {
        self.days_per_kind
            .get(kind)
            .copied()
            .unwrap_or(self.default_working_days)
    }

    /// Reminder offsets, largest first, without duplicates.
    pub fn reminders(&self) -> Vec<u32> {
        let mut r: Vec<u32> = self
            .reminder_working_days
            .iter()
            .copied()
            .filter(|d| *d > 0)
            .collect();
        r.sort_unstable_by(|a, b| b.cmp(a));
        r.dedup();
        r
    }

    /// Checks the figures are sane; a policy that fails is never stored.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let period = 1..=120;
        if !period.contains(&self.default_working_days) {
            return Err(err("default_working_days", "must be 1..120"));
        }
        for (kind, days) in &self.days_per_kind {
            if !KINDS.contains(&kind.as_str()) {
                return Err(err(&format!("days_per_kind.{kind}"), "unknown appeal kind"));
            }
            if !period.contains(days) {
                return Err(err(&format!("days_per_kind.{kind}"), "must be 1..120"));
            }
        }
        if !(1..=12).contains(&self.max_total_months) {
            return Err(err("max_total_months", "must be 1..12"));
        }
        if self.max_extensions > 5 {
            return Err(err("max_extensions", "must be 0..5"));
        }
        for (field, v) in [
            (
                "extension_notice_working_days",
                self.extension_notice_working_days,
            ),
            (
                "redirect_notice_working_days",
                self.redirect_notice_working_days,
            ),
            ("rework_working_days", self.rework_working_days),
            ("forwarding_working_days", self.forwarding_working_days),
        ] {
            if !(1..=60).contains(&v) {
                return Err(err(field, "must be 1..60"));
            }
        }
        if self.reminder_working_days.len() > 5
            || self
                .reminder_working_days
                .iter()
                .any(|d| !(1..=30).contains(d))
        {
            return Err(err(
                "reminder_working_days",
                "at most 5 reminders, each 1..30 working days",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_appk() {
        let p = Policy::default();
        assert_eq!(p.working_days_for("complaint"), 15);
        assert_eq!(p.working_days_for("unknown"), 15);
        assert_eq!(p.max_total_months, 2);
        assert_eq!(p.max_extensions, 1);
        assert_eq!(p.reminders(), vec![3, 1]);
        p.validate().unwrap();
    }

    #[test]
    fn rejects_nonsense() {
        let mut p = Policy::default();
        p.days_per_kind.insert("petition".into(), 10);
        assert_eq!(p.validate().unwrap_err().field, "days_per_kind.petition");
        let p = Policy {
            default_working_days: 0,
            ..Policy::default()
        };
        assert!(p.validate().is_err());
        let p = Policy {
            reminder_working_days: vec![0],
            ..Policy::default()
        };
        assert!(p.validate().is_err());
    }

    #[test]
    fn reminders_are_sorted_and_unique() {
        let p = Policy {
            reminder_working_days: vec![1, 3, 3, 5],
            ..Policy::default()
        };
        assert_eq!(p.reminders(), vec![5, 3, 1]);
    }
}
