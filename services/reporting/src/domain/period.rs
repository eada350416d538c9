//! Periods of a report: calendar dates in Asia/Almaty, both ends inclusive, and how a
//! period is read from the roll-ups (whole months from the monthly rows, the edges from
//! the daily rows) so a query over two years touches a few thousand rows, not millions.

use chrono::{Datelike, Duration, NaiveDate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("{field}: not an ISO date (YYYY-MM-DD)")]
    NotADate { field: &'static str },
    #[error("period: from_date is after to_date")]
    Reversed,
    #[error("period: longer than {max_days} days")]
    TooLong { max_days: i64 },
}

impl PeriodError {
    pub fn field(&self) -> &'static str {
        match self {
            PeriodError::NotADate { field } => field,
            _ => "period",
        }
    }
}

/// Longest period a query accepts (ten years).
pub const MAX_DAYS: i64 = 3660;

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, PeriodError> {
        if from > to {
            return Err(PeriodError::Reversed);
        }
        if (to - from).num_days() > MAX_DAYS {
            return Err(PeriodError::TooLong { max_days: MAX_DAYS });
        }
        Ok(Self { from, to })
    }

    /// From request strings; an empty `to` is `today`, an empty `from` one year before `to`.
    pub fn parse(from: &str, to: &str, today: NaiveDate) -> Result<Self, PeriodError> {
        let to = match to.trim() {
            "" => today,
            s => parse_date(s, "period.to_date")?,
        };
        let from = match from.trim() {
            "" => to - Duration::days(364),
            s => parse_date(s, "period.from_date")?,
        };
        Self::new(from, to)
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The equal period just before this one, for trends.
    pub fn previous(&self) -> Period {
        let len = self.days();
        Period {
            from: self.from - Duration::days(len),
            to: self.from - Duration::days(1),
        }
    }

    /// Half-year `half` (1 or 2) of `year`.
    pub fn half_year(year: i32, half: u32) -> Option<Period> {
        let (from, to) = match half {
            1 => (
                NaiveDate::from_ymd_opt(year, 1, 1)?,
                NaiveDate::from_ymd_opt(year, 6, 30)?,
            ),
            2 => (
                NaiveDate::from_ymd_opt(year, 7, 1)?,
                NaiveDate::from_ymd_opt(year, 12, 31)?,
            ),
            _ => return None,
        };
        Some(Period { from, to })
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }

    /// The middle date: days before it are the first half (for trends of clusters).
    pub fn midpoint(&self) -> NaiveDate {
        self.from + Duration::days(self.days() / 2)
    }

    /// Series buckets are days for periods up to 62 days, months otherwise.
    pub fn series_granularity(&self) -> Granularity {
        if self.days() <= 62 {
            Granularity::Day
        } else {
            Granularity::Month
        }
    }

    /// How to read this period from the roll-ups.
    pub fn split(&self) -> Split {
        let first_full = if self.from.day() == 1 {
            self.from
        } else {
            next_month(month_start(self.from))
        };
        let after_last_full = month_start(self.to + Duration::days(1));
        if first_full >= after_last_full {
            return Split {
                months: None,
                days: vec![(self.from, self.to)],
            };
        }
        let mut days = Vec::new();
        if self.from < first_full {
            days.push((self.from, first_full - Duration::days(1)));
        }
        if after_last_full <= self.to {
            days.push((after_last_full, self.to));
        }
        Split {
            months: Some((first_full, month_start(after_last_full - Duration::days(1)))),
            days,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Month,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Month => "month",
        }
    }

    /// The bucket a date falls in.
    pub fn bucket(self, d: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => d,
            Granularity::Month => month_start(d),
        }
    }
}

/// Whole months (first day of the first month, first day of the last month) read from the
/// monthly rows, and the inclusive day ranges read from the daily rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub months: Option<(NaiveDate, NaiveDate)>,
    pub days: Vec<(NaiveDate, NaiveDate)>,
}

impl Split {
    /// Bounds for the SQL filter `(grain = 'm' AND day BETWEEN $1 AND $2) OR (grain = 'd'
    /// AND (day BETWEEN $3 AND $4 OR day BETWEEN $5 AND $6))`; empty ranges are reversed
    /// (from after to), so they match nothing.
    pub fn sql_bounds(&self) -> [NaiveDate; 6] {
        // Dates Postgres can hold, reversed: a range that matches nothing.
        let never = (
            NaiveDate::from_ymd_opt(9999, 12, 31).expect("valid date"),
            NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date"),
        );
        let m = self.months.unwrap_or(never);
        let d1 = self.days.first().copied().unwrap_or(never);
        let d2 = self.days.get(1).copied().unwrap_or(never);
        [m.0, m.1, d1.0, d1.1, d2.0, d2.1]
    }
}

pub fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

pub fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).expect("valid month")
}

pub fn parse_date(s: &str, field: &'static str) -> Result<NaiveDate, PeriodError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| PeriodError::NotADate { field })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn split_uses_whole_months_and_daily_edges() {
        let p = Period::new(d("2026-01-15"), d("2026-04-10")).unwrap();
        let s = p.split();
        assert_eq!(s.months, Some((d("2026-02-01"), d("2026-03-01"))));
        assert_eq!(
            s.days,
            vec![
                (d("2026-01-15"), d("2026-01-31")),
                (d("2026-04-01"), d("2026-04-10"))
            ]
        );
    }

    #[test]
    fn split_of_whole_months_has_no_days() {
        let p = Period::new(d("2026-01-01"), d("2026-06-30")).unwrap();
        let s = p.split();
        assert_eq!(s.months, Some((d("2026-01-01"), d("2026-06-01"))));
        assert!(s.days.is_empty());
    }

    #[test]
    fn split_inside_one_month_is_days_only() {
        let p = Period::new(d("2026-03-03"), d("2026-03-20")).unwrap();
        let s = p.split();
        assert_eq!(s.months, None);
        assert_eq!(s.days, vec![(d("2026-03-03"), d("2026-03-20"))]);
    }

    #[test]
    fn parse_defaults_and_errors() {
        let today = d("2026-11-25");
        let p = Period::parse("", "", today).unwrap();
        assert_eq!(p.to, today);
        assert_eq!(p.days(), 365);
        assert_eq!(
            Period::parse("2026-13-01", "", today),
            Err(PeriodError::NotADate {
                field: "period.from_date"
            })
        );
        assert_eq!(
            Period::parse("2026-05-01", "2026-04-01", today),
            Err(PeriodError::Reversed)
        );
    }

    #[test]
    fn previous_period_has_the_same_length() {
        let p = Period::new(d("2026-07-01"), d("2026-12-31")).unwrap();
        let prev = p.previous();
        assert_eq!(prev.to, d("2026-06-30"));
        assert_eq!(prev.days(), p.days());
    }

    #[test]
    fn half_years() {
        assert_eq!(
            Period::half_year(2026, 2),
            Some(Period {
                from: d("2026-07-01"),
                to: d("2026-12-31")
            })
        );
        assert_eq!(Period::half_year(2026, 3), None);
    }

    proptest! {
        // Every day of the period is covered exactly once by the split, and nothing else.
        #[test]
        fn split_covers_each_day_once(start in 0i64..800, len in 0i64..500) {
            let from = d("2025-01-01") + Duration::days(start);
            let p = Period::new(from, from + Duration::days(len)).unwrap();
            let s = p.split();
            let mut day = p.from - Duration::days(40);
            while day <= p.to + Duration::days(40) {
                let in_month = s.months.is_some_and(|(a, b)| month_start(day) >= a && month_start(day) <= b);
                let in_days = s.days.iter().filter(|(a, b)| *a <= day && day <= *b).count();
                let covered = usize::from(in_month) + in_days;
                prop_assert_eq!(covered, usize::from(p.contains(day)), "day {}", day);
                day += Duration::days(1);
            }
        }
    }
}
