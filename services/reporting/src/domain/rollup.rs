//! Changes to the roll-ups, summed in memory over a batch of facts and written once: a key
//! touched by a hundred appeals costs one row in one statement. Every change counts in its
//! day ('d') and its month ('m', keyed by the month's first day). The maps are ordered, so
//! every writer takes the rows' locks in the same order.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::period::month_start;

/// Appeals, and how many of them are repeated and collective.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub appeals: i64,
    pub repeated: i64,
    pub collective: i64,
}

impl Counts {
    /// One appeal added (`sign` 1) or taken away (-1).
    pub fn of(sign: i64, repeated: bool, collective: bool) -> Self {
        Self {
            appeals: sign,
            repeated: sign * i64::from(repeated),
            collective: sign * i64::from(collective),
        }
    }

    fn add(&mut self, o: Counts) {
        self.appeals += o.appeals;
        self.repeated += o.repeated;
        self.collective += o.collective;
    }
}

/// The counter columns of `body_activity`, in the order of [`BodyDelta::columns`].
pub const BODY_COUNTERS: [&str; 13] = [
    "assigned",
    "answered",
    "on_time",
    "late",
    "answer_days",
    "overdue",
    "returned",
    "extended",
    "closed",
    "instructions_issued",
    "instructions_completed",
    "instructions_late",
    "instructions_overdue",
];

/// What a body did on a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyDelta {
    pub assigned: i64,
    pub answered: i64,
    pub on_time: i64,
    pub late: i64,
    pub answer_days: i64,
    pub overdue: i64,
    pub returned: i64,
    pub extended: i64,
    pub closed: i64,
    pub instructions_issued: i64,
    pub instructions_completed: i64,
    pub instructions_late: i64,
    pub instructions_overdue: i64,
}

impl BodyDelta {
    /// The counters in the order of [`BODY_COUNTERS`].
    pub fn columns(&self) -> [i64; 13] {
        [
            self.assigned,
            self.answered,
            self.on_time,
            self.late,
            self.answer_days,
            self.overdue,
            self.returned,
            self.extended,
            self.closed,
            self.instructions_issued,
            self.instructions_completed,
            self.instructions_late,
            self.instructions_overdue,
        ]
    }

    fn add(&mut self, o: BodyDelta) {
        self.assigned += o.assigned;
        self.answered += o.answered;
        self.on_time += o.on_time;
        self.late += o.late;
        self.answer_days += o.answer_days;
        self.overdue += o.overdue;
        self.returned += o.returned;
        self.extended += o.extended;
        self.closed += o.closed;
        self.instructions_issued += o.instructions_issued;
        self.instructions_completed += o.instructions_completed;
        self.instructions_late += o.instructions_late;
        self.instructions_overdue += o.instructions_overdue;
    }
}

/// A roll-up grain: 'd' for a day, 'm' for a month.
pub type Grain = char;

fn grains(day: NaiveDate) -> [(Grain, NaiveDate); 2] {
    [('d', day), ('m', month_start(day))]
}

/// Pending changes to `counts_by_dim`, `counts_by_district_category` and `body_activity`.
/// A key whose changes cancel out stays, with zero: which rows exist then does not depend
/// on how facts were grouped into batches.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rollups {
    /// (dim, grain, day, key)
    pub by_dim: BTreeMap<(String, Grain, NaiveDate, String), Counts>,
    /// (grain, day, district, category)
    pub by_district_category: BTreeMap<(Grain, NaiveDate, String, String), Counts>,
    /// (grain, day, body)
    pub by_body: BTreeMap<(Grain, NaiveDate, String), BodyDelta>,
}

impl Rollups {
    pub fn is_empty(&self) -> bool {
        self.by_dim.is_empty() && self.by_district_category.is_empty() && self.by_body.is_empty()
    }

    /// Counts `c` under `key` of dimension `dim` on `day`.
    pub fn dim(&mut self, day: NaiveDate, dim: &str, key: &str, c: Counts) {
        for (grain, d) in grains(day) {
            self.by_dim
                .entry((dim.to_owned(), grain, d, key.to_owned()))
                .or_default()
                .add(c);
        }
    }

    /// Counts `c` in the district × category table on `day`.
    pub fn district_category(&mut self, day: NaiveDate, district: &str, category: &str, c: Counts) {
        for (grain, d) in grains(day) {
            self.by_district_category
                .entry((grain, d, district.to_owned(), category.to_owned()))
                .or_default()
                .add(c);
        }
    }

    /// Adds what `body` did on `day`.
    pub fn body(&mut self, day: NaiveDate, body: &str, delta: BodyDelta) {
        for (grain, d) in grains(day) {
            self.by_body
                .entry((grain, d, body.to_owned()))
                .or_default()
                .add(delta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_change_counts_in_its_day_and_its_month_and_changes_to_one_key_add_up() {
        let mut r = Rollups::default();
        r.dim(
            day("2026-03-10"),
            "category",
            "roads",
            Counts::of(1, true, false),
        );
        r.dim(
            day("2026-03-11"),
            "category",
            "roads",
            Counts::of(1, false, true),
        );
        r.dim(
            day("2026-03-11"),
            "category",
            "roads",
            Counts::of(-1, false, true),
        );
        let rows: Vec<_> = r
            .by_dim
            .iter()
            .map(|((dim, g, d, k), c)| (dim.as_str(), *g, d.to_string(), k.as_str(), *c))
            .collect();
        let c = |appeals, repeated, collective| Counts {
            appeals,
            repeated,
            collective,
        };
        assert_eq!(
            rows,
            vec![
                ("category", 'd', "2026-03-10".into(), "roads", c(1, 1, 0)),
                // Cancelled out within the batch: the row stays, with zero.
                ("category", 'd', "2026-03-11".into(), "roads", c(0, 0, 0)),
                ("category", 'm', "2026-03-01".into(), "roads", c(1, 1, 0)),
            ]
        );
    }

    #[test]
    fn body_activity_sums_each_counter() {
        let mut r = Rollups::default();
        let assigned = BodyDelta {
            assigned: 1,
            ..Default::default()
        };
        let answered_late = BodyDelta {
            answered: 1,
            late: 1,
            answer_days: 12,
            ..Default::default()
        };
        r.body(day("2026-04-02"), "akimat.ile", assigned);
        r.body(day("2026-04-02"), "akimat.ile", answered_late);
        r.body(day("2026-04-02"), "akimat.ile", assigned);
        let month = r.by_body[&('m', day("2026-04-01"), "akimat.ile".to_owned())];
        assert_eq!(month.columns(), [2, 1, 0, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r.by_body.len(), 2);
        assert!(!r.is_empty());
        assert!(Rollups::default().is_empty());
    }

    #[test]
    fn keys_come_out_in_one_order_whatever_order_they_went_in() {
        let mut a = Rollups::default();
        let mut b = Rollups::default();
        let one = Counts::of(1, false, false);
        for (district, category) in [("talgar", "roads"), ("ile", "water"), ("kegen", "roads")] {
            a.district_category(day("2026-05-05"), district, category, one);
        }
        for (district, category) in [("kegen", "roads"), ("talgar", "roads"), ("ile", "water")] {
            b.district_category(day("2026-05-05"), district, category, one);
        }
        assert_eq!(a, b);
        let districts: Vec<&str> = a
            .by_district_category
            .keys()
            .filter(|k| k.0 == 'd')
            .map(|k| k.2.as_str())
            .collect();
        assert_eq!(districts, ["ile", "kegen", "talgar"]);
    }
}
