//! Deadline arithmetic on the working-day calendar (reg 5.3; APPK art. 76).

use bakylau_calendar::{Calendar, CalendarError, kz_offset};
use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveTime, TimeZone, Utc};

/// Reminders fire at the start of the working day, Kazakhstan time.
pub const REMINDER_HOUR: u32 = 9;

/// The answer deadline: the `working_days`-th working day after registration.
pub fn due_date(
    cal: &Calendar,
    registered_on: NaiveDate,
    working_days: u32,
) -> Result<NaiveDate, CalendarError> {
    cal.add_working_days(registered_on, working_days)
}

/// The working day that lies `n` working days before `due` (so that `n` working days,
/// counting `due`, remain after it). `None` if it would be before `not_before`.
pub fn reminder_date(
    cal: &Calendar,
    due: NaiveDate,
    n: u32,
    not_before: NaiveDate,
) -> Option<NaiveDate> {
    if n == 0 {
        return None;
    }
    let mut d = due;
    // A year has far fewer than 400 days off in a row; the bound only guards bad data.
    for _ in 0..400 {
        d = d.pred_opt()?;
        if d < not_before {
            return None;
        }
        if cal.is_working_day(d) && cal.working_days_between(d, due) == i64::from(n) {
            return Some(d);
        }
    }
    None
}

/// The instant a date starts in Kazakhstan at `hour`.
pub fn kz_instant(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN);
    kz_offset()
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| date.and_time(time).and_utc())
}

/// When an appeal becomes overdue: the moment its due date ends in Kazakhstan.
pub fn overdue_at(due: NaiveDate) -> DateTime<Utc> {
    kz_instant(due.succ_opt().unwrap_or(due), 0)
}

/// Working days left from `today` to `due` (0 on the due date, negative after it).
pub fn working_days_left(cal: &Calendar, today: NaiveDate, due: NaiveDate) -> i64 {
    if today <= due {
        cal.working_days_between(today, due)
    } else {
        -cal.working_days_between(due, today)
    }
}

/// Why an extension is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    #[error("an extension needs a reasoned decision: reason is required")]
    NoReason,
    #[error("the deadline was already extended {0} time(s), the maximum")]
    TooMany(u32),
    #[error("the new due date {new} is not after the current one {current}")]
    NotLater { new: NaiveDate, current: NaiveDate },
    #[error("the new due date {new} is beyond {limit}, {months} months after registration")]
    BeyondLimit {
        new: NaiveDate,
        limit: NaiveDate,
        months: u32,
    },
    #[error("the new due date {0} is not a working day")]
    NotWorkingDay(NaiveDate),
}

/// The last day an extended period may end: `months` after registration (APPK art. 76).
pub fn extension_limit(registered_on: NaiveDate, months: u32) -> NaiveDate {
    registered_on
        .checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

pub struct ExtensionRequest<'a> {
    pub registered_on: NaiveDate,
    pub current_due: NaiveDate,
    pub extensions_so_far: u32,
    pub new_due: NaiveDate,
    pub reason: &'a str,
}

/// Checks a head's extension against the policy.
pub fn check_extension(
    cal: &Calendar,
    policy: &super::policy::Policy,
    r: &ExtensionRequest<'_>,
) -> Result<(), ExtensionError> {
    if r.reason.trim().is_empty() {
        return Err(ExtensionError::NoReason);
    }
    if r.extensions_so_far >= policy.max_extensions {
        return Err(ExtensionError::TooMany(r.extensions_so_far));
    }
    if r.new_due <= r.current_due {
        return Err(ExtensionError::NotLater {
            new: r.new_due,
            current: r.current_due,
        });
    }
    let limit = extension_limit(r.registered_on, policy.max_total_months);
    if r.new_due > limit {
        return Err(ExtensionError::BeyondLimit {
            new: r.new_due,
            limit,
            months: policy.max_total_months,
        });
    }
    if !cal.is_working_day(r.new_due) {
        return Err(ExtensionError::NotWorkingDay(r.new_due));
    }
    Ok(())
}

/// The due date after a return for rework: the controller's date (a working day after
/// today) or the policy's period from today.
pub fn rework_due(
    cal: &Calendar,
    today: NaiveDate,
    given: Option<NaiveDate>,
    default_days: u32,
) -> Result<NaiveDate, String> {
    match given {
        Some(d) if d <= today => Err(format!("new_due_date {d} must be after today {today}")),
        Some(d) if !cal.is_working_day(d) => Err(format!("new_due_date {d} is not a working day")),
        Some(d) => Ok(d),
        None => cal
            .add_working_days_lenient(today, default_days)
            .map_err(|e| e.to_string()),
    }
}

/// Whether a date lies in a plausible range for deadlines (guards typos like year 20226).
pub fn plausible(date: NaiveDate) -> bool {
    (2000..=2100).contains(&date.year())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::Policy;

    fn cal() -> Calendar {
        Calendar::embedded().unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn fifteen_working_days_across_nauryz() {
        // Registered Wed 18 March 2026; 21-23 March is Nauryz (21-22 on a weekend move to
        // 24-25 March), so the period stretches into April.
        assert_eq!(
            due_date(&cal(), d(2026, 3, 18), 15).unwrap(),
            d(2026, 4, 13)
        );
    }

    #[test]
    fn fifteen_working_days_across_new_year() {
        // 1-2 January are holidays, 7 January is Orthodox Christmas.
        let due = due_date(&cal(), d(2025, 12, 24), 15).unwrap();
        assert!(cal().is_working_day(due));
        assert_eq!(cal().working_days_between(d(2025, 12, 24), due), 15);
        assert!(due > d(2026, 1, 14));
    }

    #[test]
    fn reminders_count_back_working_days() {
        let c = cal();
        let due = d(2026, 4, 13); // Monday
        let r1 = reminder_date(&c, due, 1, d(2026, 3, 18)).unwrap();
        assert_eq!(r1, d(2026, 4, 10)); // Friday before
        let r3 = reminder_date(&c, due, 3, d(2026, 3, 18)).unwrap();
        assert_eq!(r3, d(2026, 4, 8));
        assert_eq!(reminder_date(&c, due, 3, d(2026, 4, 9)), None);
    }

    #[test]
    fn overdue_starts_after_the_due_date_in_kazakhstan() {
        let at = overdue_at(d(2026, 4, 13));
        assert_eq!(at.to_rfc3339(), "2026-04-13T19:00:00+00:00");
    }

    #[test]
    fn working_days_left_is_signed() {
        let c = cal();
        assert_eq!(working_days_left(&c, d(2026, 4, 13), d(2026, 4, 13)), 0);
        assert_eq!(working_days_left(&c, d(2026, 4, 10), d(2026, 4, 13)), 1);
        assert_eq!(working_days_left(&c, d(2026, 4, 14), d(2026, 4, 13)), -1);
    }

    #[test]
    fn one_extension_within_two_months() {
        let c = cal();
        let p = Policy::default();
        let base = ExtensionRequest {
            registered_on: d(2026, 3, 18),
            current_due: d(2026, 4, 13),
            extensions_so_far: 0,
            new_due: d(2026, 5, 15),
            reason: "on-site check needed",
        };
        check_extension(&c, &p, &base).unwrap();
        let over = ExtensionRequest {
            new_due: d(2026, 5, 19),
            ..base
        };
        assert!(matches!(
            check_extension(&c, &p, &over),
            Err(ExtensionError::BeyondLimit { .. })
        ));
        let again = ExtensionRequest {
            extensions_so_far: 1,
            new_due: d(2026, 5, 15),
            ..over
        };
        assert_eq!(
            check_extension(&c, &p, &again),
            Err(ExtensionError::TooMany(1))
        );
        let no_reason = ExtensionRequest {
            extensions_so_far: 0,
            reason: " ",
            ..again
        };
        assert_eq!(
            check_extension(&c, &p, &no_reason),
            Err(ExtensionError::NoReason)
        );
    }

    #[test]
    fn extension_to_a_day_off_is_refused() {
        let r = ExtensionRequest {
            registered_on: d(2026, 3, 18),
            current_due: d(2026, 4, 13),
            extensions_so_far: 0,
            new_due: d(2026, 5, 9), // Victory Day, Saturday
            reason: "x",
        };
        assert!(matches!(
            check_extension(&cal(), &Policy::default(), &r),
            Err(ExtensionError::NotWorkingDay(_))
        ));
    }

    #[test]
    fn rework_due_defaults_to_the_policy_period() {
        let c = cal();
        let due = rework_due(&c, d(2026, 4, 6), None, 5).unwrap();
        assert_eq!(c.working_days_between(d(2026, 4, 6), due), 5);
        assert!(rework_due(&c, d(2026, 4, 6), Some(d(2026, 4, 6)), 5).is_err());
        assert!(rework_due(&c, d(2026, 4, 6), Some(d(2026, 4, 11)), 5).is_err());
        assert_eq!(
            rework_due(&c, d(2026, 4, 6), Some(d(2026, 4, 10)), 5).unwrap(),
            d(2026, 4, 10)
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn deadlines_never_land_on_a_day_off(offset in 0i64..(365 * 2), n in 1u32..60) {
                let c = cal();
                let start = d(2025, 1, 1) + chrono::Duration::days(offset);
                if let Ok(due) = due_date(&c, start, n) {
                    prop_assert!(c.is_working_day(due));
                    prop_assert_eq!(c.working_days_between(start, due), i64::from(n));
                }
            }

            #[test]
            fn deadlines_are_monotone(offset in 0i64..(365 * 2), n in 0u32..60) {
                let c = cal();
                let start = d(2025, 1, 1) + chrono::Duration::days(offset);
                if let (Ok(a), Ok(b)) = (due_date(&c, start, n), due_date(&c, start, n + 1)) {
                    prop_assert!(a < b);
                }
            }

            #[test]
            fn reminders_lie_before_the_deadline_on_working_days(offset in 0i64..600, k in 1u32..6) {
                let c = cal();
                let start = d(2025, 1, 1) + chrono::Duration::days(offset);
                if let Ok(due) = due_date(&c, start, 15)
                    && let Some(r) = reminder_date(&c, due, k, start) {
                    prop_assert!(r < due);
                    prop_assert!(c.is_working_day(r));
                    prop_assert_eq!(c.working_days_between(r, due), i64::from(k));
                }
            }
        }
    }
}
