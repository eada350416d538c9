//! Properties of working-day arithmetic on the shipped data, checked against brute force.

use std::sync::OnceLock;

use bakylau_calendar::{Calendar, CalendarError};
use chrono::{Datelike, Days, NaiveDate, Weekday};
use proptest::prelude::*;

fn cal() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| Calendar::embedded().expect("shipped calendar data is valid"))
}

/// A date in the covered years 2025..=2027.
fn covered_date() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    (0u64..1095).prop_map(move |k| first + Days::new(k))
}

/// A date anywhere from 1900 to 2300, mostly outside the data.
fn any_date() -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
    (0u64..146_000).prop_map(move |k| first + Days::new(k))
}

/// Strict result, skipping cases that leave the covered years.
fn add(d: NaiveDate, n: u32) -> Result<Option<NaiveDate>, TestCaseError> {
    match cal().add_working_days(d, n) {
        Ok(x) => Ok(Some(x)),
        Err(CalendarError::OutOfRange { .. }) => Ok(None),
        Err(e) => Err(TestCaseError::fail(format!("unexpected {e}"))),
    }
}

proptest! {
    #[test]
    fn adding_working_days_never_lands_on_a_day_off(d in covered_date(), n in 1u32..=120) {
        if let Some(x) = add(d, n)? {
            prop_assert!(cal().is_working_day(x), "{d} + {n} = {x} is a day off");
            prop_assert!(x > d);
        }
    }

    #[test]
    fn adding_is_strictly_monotone_in_n(d in covered_date(), n in 0u32..=120) {
        if let (Some(a), Some(b)) = (add(d, n)?, add(d, n + 1)?) {
            prop_assert!(a < b);
        }
    }

    #[test]
    fn between_inverts_add(d in covered_date(), n in 0u32..=120) {
        if let Some(x) = add(d, n)? {
            prop_assert_eq!(cal().working_days_between(d, x), i64::from(n));
            prop_assert_eq!(cal().working_days_between(x, d), -i64::from(n));
        }
    }

    #[test]
    fn add_steps_one_working_day_at_a_time(d in covered_date(), n in 0u32..=60) {
        // The (n+1)-th working day is the next working day after the n-th.
        if let (Some(a), Some(b)) = (add(d, n)?, add(d, n + 1)?) {
            prop_assert_eq!(cal().next_working_day(a), b);
        }
    }

    #[test]
    fn next_working_day_is_the_first_working_day_after(d in any_date()) {
        let next = cal().next_working_day(d);
        prop_assert!(next > d);
        prop_assert!(cal().is_working_day(next));
        let mut day = d.succ_opt().unwrap();
        while day < next {
            prop_assert!(!cal().is_working_day(day), "skipped working day {day}");
            day = day.succ_opt().unwrap();
        }
    }

    #[test]
    fn between_matches_day_by_day_count(a in any_date(), span in 0u64..800) {
        let b = a + Days::new(span);
        let mut expected = 0i64;
        let mut day = a;
        while day < b {
            day = day.succ_opt().unwrap();
            if cal().is_working_day(day) {
                expected += 1;
            }
        }
        prop_assert_eq!(cal().working_days_between(a, b), expected);
    }

    #[test]
    fn lenient_agrees_with_strict_inside_the_data(d in covered_date(), n in 0u32..=120) {
        if let Some(x) = add(d, n)? {
            prop_assert_eq!(cal().add_working_days_lenient(d, n).unwrap(), x);
        }
    }

    #[test]
    fn outside_the_data_only_weekends_are_off(d in any_date()) {
        if !cal().covers(d) {
            let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
            // A moved day off can spill into the first days of an uncovered year only from
            // a late-December holiday; the shipped data has none after 16 December.
            prop_assert_eq!(cal().is_working_day(d), !weekend);
        }
    }

    #[test]
    fn working_day_on_or_after_is_working_and_not_before(d in any_date()) {
        let w = cal().working_day_on_or_after(d);
        prop_assert!(w >= d);
        prop_assert!(cal().is_working_day(w));
        prop_assert_eq!(w == d, cal().is_working_day(d));
    }
}
