//! Kazakhstan local time (UTC+5, one zone since March 2024): schedules and slots are local.

use bakylau_calendar::{KZ_UTC_OFFSET_SECS, kz_offset};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

pub fn to_local(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&kz_offset()).naive_local()
}

pub fn to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    (local - Duration::seconds(i64::from(KZ_UTC_OFFSET_SECS))).and_utc()
}

pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    to_local(t).date()
}

/// Midnight starting `date`, local, as an instant.
pub fn day_start(date: NaiveDate) -> DateTime<Utc> {
    to_utc(date.and_time(chrono::NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_utc_round_trip() {
        let local = NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(10, 20, 0)
            .unwrap();
        let utc = to_utc(local);
        assert_eq!(utc.to_rfc3339(), "2026-12-01T05:20:00+00:00");
        assert_eq!(to_local(utc), local);
        assert_eq!(local_date(day_start(local.date())), local.date());
    }
}
