//! The on-disk format of one year (`kz-YYYY.toml`) and its per-file validation.
//!
//! Checks that need several years at once (date collisions, derived moves) run when the
//! years are merged, in `calendar.rs`.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use toml::value::Datetime;

use crate::error::LoadError;

/// Years a data file may describe; wider than needed, but it rejects typos like `year = 226`.
const YEARS: std::ops::RangeInclusive<i32> = 1991..=2200;

/// A holiday's name in the three languages the system speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolidayName {
    pub kk: String,
    pub ru: String,
    pub en: String,
}

/// A public holiday as listed in the law (Labour Code art. 84, Law "On holidays").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: HolidayName,
    /// Religious holidays (Orthodox Christmas, Kurban Ait) are days off but their day off is
    /// never moved when they fall on a weekend (Labour Code art. 85).
    pub religious: bool,
    /// The date is announced but not yet final (e.g. Kurban Ait before the Spiritual
    /// Administration of Muslims fixes it).
    pub provisional: bool,
    pub note: Option<String>,
}

/// A government-decreed transfer: `day_off` (a weekday) becomes a day off and
/// `working_day` (a Saturday or Sunday) becomes a working day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    pub day_off: NaiveDate,
    pub working_day: NaiveDate,
    /// The act that ordered it, as a citation string.
    pub decree: String,
    pub sources: Vec<String>,
}

/// An explicit day off for a holiday that fell on a weekend; overrides the derived one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExplicitMove {
    pub date: NaiveDate,
    pub holiday: NaiveDate,
}

/// One validated data file.
#[derive(Debug, Clone)]
pub(crate) struct YearData {
    pub origin: String,
    pub year: i32,
    /// Sorted by date.
    pub holidays: Vec<Holiday>,
    pub moves: Vec<ExplicitMove>,
    pub transfers: Vec<Transfer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    year: i32,
    // Kept for humans; the loader does not need it.
    #[serde(default)]
    #[allow(dead_code)]
    sources: Vec<String>,
    #[serde(default, rename = "holiday")]
    holidays: Vec<RawHoliday>,
    #[serde(default, rename = "moved_day_off")]
    moves: Vec<RawMove>,
    #[serde(default, rename = "transfer")]
    transfers: Vec<RawTransfer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    date: Datetime,
    kk: String,
    ru: String,
    en: String,
    religious: bool,
    #[serde(default)]
    provisional: bool,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMove {
    date: Datetime,
    holiday: Datetime,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransfer {
    day_off: Datetime,
    working_day: Datetime,
    decree: String,
    #[serde(default)]
    sources: Vec<String>,
}

pub(crate) fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn plain_date(origin: &str, field: &'static str, value: &Datetime) -> Result<NaiveDate, LoadError> {
    let invalid = || LoadError::InvalidDate {
        origin: origin.to_owned(),
        field,
        value: value.to_string(),
    };
    // A time or offset would make "which day" ambiguous; only bare dates are accepted.
    if value.time.is_some() || value.offset.is_some() {
        return Err(invalid());
    }
    let date = value.date.ok_or_else(invalid)?;
    NaiveDate::from_ymd_opt(date.year.into(), date.month.into(), date.day.into())
        .ok_or_else(invalid)
}

/// Parses and validates one year file. `origin` names it in error messages.
pub(crate) fn parse_year(origin: &str, text: &str) -> Result<YearData, LoadError> {
    let raw: RawYear = toml::from_str(text).map_err(|e| LoadError::Toml {
        origin: origin.to_owned(),
        source: Box::new(e),
    })?;
    let year = raw.year;
    if !YEARS.contains(&year) {
        return Err(LoadError::UnsupportedYear {
            origin: origin.to_owned(),
            year,
        });
    }
    let mismatch = |date, what| LoadError::YearMismatch {
        origin: origin.to_owned(),
        year,
        date,
        what,
    };
    let duplicate = |date, what| LoadError::DuplicateDate {
        origin: origin.to_owned(),
        date,
        what,
    };

    let mut holidays = Vec::with_capacity(raw.holidays.len());
    let mut seen = BTreeSet::new();
    for h in raw.holidays {
        let date = plain_date(origin, "holiday.date", &h.date)?;
        if date.year() != year {
            return Err(mismatch(date, "holiday"));
        }
        if !seen.insert(date) {
            return Err(duplicate(date, "holiday"));
        }
        for (field, value) in [("kk", &h.kk), ("ru", &h.ru), ("en", &h.en)] {
            if value.trim().is_empty() {
                return Err(LoadError::EmptyName {
                    origin: origin.to_owned(),
                    date,
                    field,
                });
            }
        }
        holidays.push(Holiday {
            date,
            name: HolidayName {
                kk: h.kk,
                ru: h.ru,
                en: h.en,
            },
            religious: h.religious,
            provisional: h.provisional,
            note: h.note,
        });
    }
    holidays.sort_by_key(|h| h.date);

    let mut moves = Vec::with_capacity(raw.moves.len());
    let (mut move_dates, mut moved_holidays) = (BTreeSet::new(), BTreeSet::new());
    for m in raw.moves {
        let date = plain_date(origin, "moved_day_off.date", &m.date)?;
        let holiday_date = plain_date(origin, "moved_day_off.holiday", &m.holiday)?;
        let Some(holiday) = holidays.iter().find(|h| h.date == holiday_date) else {
            return Err(LoadError::UnknownHoliday {
                origin: origin.to_owned(),
                date,
                holiday: holiday_date,
            });
        };
        let not_allowed = |reason| LoadError::MoveNotAllowed {
            origin: origin.to_owned(),
            holiday: holiday_date,
            reason,
        };
        if holiday.religious {
            return Err(not_allowed(
                "religious holidays are not moved (Labour Code art. 85)",
            ));
        }
        if !is_weekend(holiday_date) {
            return Err(not_allowed("it does not fall on a Saturday or Sunday"));
        }
        if date <= holiday_date || is_weekend(date) {
            return Err(LoadError::InvalidMovedDayOff {
                origin: origin.to_owned(),
                date,
                holiday: holiday_date,
            });
        }
        // A holiday on the last weekend of December moves into January.
        if date.year() != year && date.year() != year + 1 {
            return Err(mismatch(date, "moved day off"));
        }
        if !move_dates.insert(date) {
            return Err(duplicate(date, "moved day off"));
        }
        if !moved_holidays.insert(holiday_date) {
            return Err(duplicate(holiday_date, "moved day off for holiday"));
        }
        moves.push(ExplicitMove {
            date,
            holiday: holiday_date,
        });
    }

    let mut transfers = Vec::with_capacity(raw.transfers.len());
    let (mut off_dates, mut work_dates) = (BTreeSet::new(), BTreeSet::new());
    for t in raw.transfers {
        let day_off = plain_date(origin, "transfer.day_off", &t.day_off)?;
        let working_day = plain_date(origin, "transfer.working_day", &t.working_day)?;
        if day_off.year() != year {
            return Err(mismatch(day_off, "transfer day off"));
        }
        // Decrees may pair a January day off with a December Saturday, or the reverse.
        if (working_day.year() - year).abs() > 1 {
            return Err(mismatch(working_day, "transfer working day"));
        }
        if !is_weekend(working_day) {
            return Err(LoadError::WorkingDayNotWeekend {
                origin: origin.to_owned(),
                date: working_day,
                weekday: working_day.weekday(),
            });
        }
        if is_weekend(day_off) {
            return Err(LoadError::DayOffNotWeekday {
                origin: origin.to_owned(),
                date: day_off,
                weekday: day_off.weekday(),
            });
        }
        if t.decree.trim().is_empty() {
            return Err(LoadError::EmptyDecree {
                origin: origin.to_owned(),
                day_off,
            });
        }
        if !off_dates.insert(day_off) {
            return Err(duplicate(day_off, "transfer day off"));
        }
        if !work_dates.insert(working_day) {
            return Err(duplicate(working_day, "transfer working day"));
        }
        transfers.push(Transfer {
            day_off,
            working_day,
            decree: t.decree,
            sources: t.sources,
        });
    }

    Ok(YearData {
        origin: origin.to_owned(),
        year,
        holidays,
        moves,
        transfers,
    })
}
