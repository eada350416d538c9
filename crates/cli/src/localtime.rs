//! Local time of the office. Kazakhstan keeps one zone, UTC+5, all year (since 1 March
//! 2024), so dates typed by a registrar and times printed on a coupon use a fixed offset.

use anyhow::Result;
use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use prost_types::Timestamp;

use crate::error::usage;

const UTC_OFFSET_SECONDS: i32 = 5 * 3600;

pub fn offset() -> FixedOffset {
    FixedOffset::east_opt(UTC_OFFSET_SECONDS).expect("UTC+5 is a valid offset")
}

fn parse_date(date: &str, flag: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .map_err(|_| usage(format!("{flag}: {date:?} is not a date like 2026-03-20")))
}

fn local_midnight(date: NaiveDate) -> DateTime<Utc> {
    offset()
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

/// `2026-03-20` → the instant the day starts in the office (2026-03-19T19:00:00Z).
pub fn start_of_day(date: &str, flag: &str) -> Result<DateTime<Utc>> {
    parse_date(date, flag).map(local_midnight)
}

/// `2026-03-20` → the instant the next day starts, so a `--to` date includes its whole day.
pub fn end_of_day(date: &str, flag: &str) -> Result<DateTime<Utc>> {
    let d = parse_date(date, flag)?;
    let next = d
        .checked_add_days(Days::new(1))
        .ok_or_else(|| usage(format!("{flag}: {date:?} is out of range")))?;
    Ok(local_midnight(next))
}

/// A `--from`/`--to` pair as the half-open window `[from, to)` the services take.
pub fn date_window(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Option<Timestamp>, Option<Timestamp>)> {
    let from = from.map(|d| start_of_day(d, "--from")).transpose()?;
    let to = to.map(|d| end_of_day(d, "--to")).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && t <= f
    {
        return Err(usage("--to must not be earlier than --from"));
    }
    Ok((from.map(timestamp), to.map(timestamp)))
}

/// A moment typed by a person: RFC 3339 (`2026-03-20T09:15:00+05:00`), or local time
/// `2026-03-20 09:15` / `2026-03-20T09:15`, or a bare date (local midnight).
pub fn parse_moment(s: &str, what: &str) -> Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format)
            && let Some(t) = offset().from_local_datetime(&naive).single()
        {
            return Ok(t.with_timezone(&Utc));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(local_midnight(d));
    }
    Err(usage(format!(
        "{what}: {s:?} is not a time like \"2026-03-20 09:15\" (local) or 2026-03-20T09:15:00+05:00"
    )))
}

pub fn timestamp(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn from_timestamp(t: &Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// `2026-03-20 09:15`, office time, as printed on a coupon; empty when absent.
pub fn format_local(t: Option<&Timestamp>) -> String {
    t.and_then(from_timestamp)
        .map(|t| {
            t.with_timezone(&offset())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// RFC 3339 with the office offset (`2026-03-20T09:15:00+05:00`), for JSON output.
pub fn rfc3339_local(t: &Timestamp) -> Option<String> {
    from_timestamp(t).map(|t| t.with_timezone(&offset()).to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn dates_are_local_midnights() {
        assert_eq!(
            start_of_day("2026-03-20", "--from").unwrap(),
            utc("2026-03-19T19:00:00Z")
        );
        assert_eq!(
            end_of_day("2026-03-20", "--to").unwrap(),
            utc("2026-03-20T19:00:00Z")
        );
        assert_eq!(
            end_of_day("2026-12-31", "--to").unwrap(),
            utc("2026-12-31T19:00:00Z")
        );
        assert!(start_of_day("20.03.2026", "--from").is_err());
        assert!(start_of_day("2026-02-30", "--from").is_err());
    }

    #[test]
    fn window_includes_the_to_day_and_rejects_reversed_ranges() {
        let (f, t) = date_window(Some("2026-03-01"), Some("2026-03-01")).unwrap();
        let (f, t) = (f.unwrap(), t.unwrap());
        assert_eq!(t.seconds - f.seconds, 24 * 3600);
        assert!(date_window(Some("2026-03-02"), Some("2026-03-01")).is_err());
        assert_eq!(date_window(None, None).unwrap(), (None, None));
    }

    #[test]
    fn moments_in_local_or_rfc3339() {
        let want = utc("2026-03-20T04:15:00Z");
        assert_eq!(parse_moment("2026-03-20 09:15", "x").unwrap(), want);
        assert_eq!(parse_moment("2026-03-20T09:15", "x").unwrap(), want);
        assert_eq!(
            parse_moment("2026-03-20T09:15:00+05:00", "x").unwrap(),
            want
        );
        assert_eq!(
            parse_moment("2026-03-20", "x").unwrap(),
            utc("2026-03-19T19:00:00Z")
        );
        assert!(parse_moment("yesterday", "x").is_err());
    }

    #[test]
    fn coupon_times_print_in_office_time() {
        let t = timestamp(utc("2026-03-20T04:15:42Z"));
        assert_eq!(format_local(Some(&t)), "2026-03-20 09:15");
        assert_eq!(format_local(None), "");
        assert_eq!(
            rfc3339_local(&t).unwrap(),
            "2026-03-20T09:15:42+05:00".to_owned()
        );
        assert_eq!(from_timestamp(&t), Some(utc("2026-03-20T04:15:42Z")));
    }
}
