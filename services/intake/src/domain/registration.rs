//! Registration numbers and registration dates. A number is per office and year, gap-free
//! and never reused (`ALM-2026-000123`); the sequence itself is kept by storage under a row
//! lock. An appeal that arrives after hours or on a day off is registered on the next
//! working day (APPK art. 64).

use bakylau_calendar::Calendar;
use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// The office's working hours, local time (Kazakhstan, UTC+5).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OfficeHours {
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

impl Default for OfficeHours {
    fn default() -> Self {
        Self {
            opens: NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
            closes: NaiveTime::from_hms_opt(18, 30, 0).expect("valid time"),
        }
    }
}

/// When an appeal processed at `now` counts as registered: `now` during working hours of a
/// working day, otherwise the opening of the next working day.
pub fn registration_time(
    now: DateTime<Utc>,
    calendar: &Calendar,
    hours: &OfficeHours,
) -> DateTime<Utc> {
    let offset = bakylau_calendar::kz_offset();
    let local = now.with_timezone(&offset);
    let date = local.date_naive();
    let time = local.time();
    if calendar.is_working_day(date) && time >= hours.opens && time < hours.closes {
        return now;
    }
    let day = if calendar.is_working_day(date) && time < hours.opens {
        date
    } else {
        calendar.next_working_day(date)
    };
    offset
        .from_local_datetime(&day.and_time(hours.opens))
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

/// The year a registration time belongs to, in local time.
pub fn registration_year(registered_at: DateTime<Utc>) -> i32 {
    registered_at
        .with_timezone(&bakylau_calendar::kz_offset())
        .year()
}

pub fn format_number(office: &str, year: i32, sequence: i64) -> String {
    format!("{office}-{year}-{sequence:06}")
}

/// Splits `ALM-2026-000123` into office, year and sequence.
pub fn parse_number(number: &str) -> Option<(&str, i32, i64)> {
    let mut parts = number.rsplitn(3, '-');
    let seq = parts.next()?;
    let year = parts.next()?;
    let office = parts.next()?;
    let valid_office = !office.is_empty()
        && office.len() <= 16
        && office
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !valid_office || year.len() != 4 || seq.len() < 6 || !seq.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((office, year.parse().ok()?, seq.parse().ok()?))
}

/// An office code: 2–16 upper-case Latin letters or digits.
pub fn is_valid_office_code(code: &str) -> bool {
    (2..=16).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cal() -> Calendar {
        Calendar::embedded().expect("shipped calendar loads")
    }

    fn at(local: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap();
        bakylau_calendar::kz_offset()
            .from_local_datetime(&naive)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn during_hours_it_is_registered_at_once() {
        let now = at("2026-03-18 10:15");
        assert_eq!(registration_time(now, &cal(), &OfficeHours::default()), now);
    }

    #[test]
    fn after_hours_it_moves_to_the_next_working_morning() {
        let friday_evening = at("2026-03-20 19:00");
        // 21–22 March are Nauryz on a weekend, 23 March Nauryz, 24–25 the moved days off.
        assert_eq!(
            registration_time(friday_evening, &cal(), &OfficeHours::default()),
            at("2026-03-26 09:00")
        );
    }

    #[test]
    fn early_morning_of_a_working_day_registers_at_opening() {
        assert_eq!(
            registration_time(at("2026-03-18 07:30"), &cal(), &OfficeHours::default()),
            at("2026-03-18 09:00")
        );
    }

    #[test]
    fn new_years_eve_evening_belongs_to_the_next_year() {
        let t = registration_time(at("2026-12-31 20:00"), &cal(), &OfficeHours::default());
        assert_eq!(registration_year(t), 2027);
        assert!(t > at("2027-01-02 23:59"));
    }

    #[test]
    fn numbers_round_trip() {
        let n = format_number("ALM", 2026, 123);
        assert_eq!(n, "ALM-2026-000123");
        assert_eq!(parse_number(&n), Some(("ALM", 2026, 123)));
        assert_eq!(parse_number("ALM-2026-1"), None);
        assert_eq!(parse_number("alm-2026-000001"), None);
        assert_eq!(parse_number("garbage"), None);
    }

    proptest! {
        #[test]
        fn registration_time_is_never_before_now_and_on_a_working_day(secs in 1_735_689_600i64..1_830_297_600i64) {
            let now = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            let c = cal();
            let t = registration_time(now, &c, &OfficeHours::default());
            prop_assert!(t >= now);
            prop_assert!(c.is_working_day(t.with_timezone(&bakylau_calendar::kz_offset()).date_naive()));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = parse_number(&s);
        }
    }
}
