//! Typed errors: [`LoadError`] for reading and validating data, [`CalendarError`] for
//! computations.

use std::path::PathBuf;

use chrono::{NaiveDate, Weekday};

/// Why calendar data could not be loaded. Every check on the data reports one of these
/// instead of panicking, so a bad edit to a data file is caught at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("cannot read calendar data {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no kz-*.toml calendar files in {0}")]
    NoFiles(PathBuf),

    #[error("{origin}: invalid calendar TOML: {source}")]
    Toml {
        origin: String,
        #[source]
        source: Box<toml::de::Error>,
    },

    #[error("{origin}: year {year} is outside the supported range 1991..=2200")]
    UnsupportedYear { origin: String, year: i32 },

    #[error("{origin}: {field} = {value} is not a plain date (write it as YYYY-MM-DD)")]
    InvalidDate {
        origin: String,
        field: &'static str,
        value: String,
    },

    #[error("{origin}: {what} {date} does not belong to the file's year {year}")]
    YearMismatch {
        origin: String,
        year: i32,
        date: NaiveDate,
        what: &'static str,
    },

    #[error("{origin}: {what} {date} is listed more than once")]
    DuplicateDate {
        origin: String,
        date: NaiveDate,
        what: &'static str,
    },

    #[error("year {year} is loaded twice ({first} and {second})")]
    DuplicateYear {
        year: i32,
        first: String,
        second: String,
    },

    #[error("{origin}: holiday {date} has an empty `{field}` name")]
    EmptyName {
        origin: String,
        date: NaiveDate,
        field: &'static str,
    },

    #[error(
        "{origin}: moved day off {date} refers to {holiday}, which is not a holiday in this file"
    )]
    UnknownHoliday {
        origin: String,
        date: NaiveDate,
        holiday: NaiveDate,
    },

    #[error("{origin}: holiday {holiday} cannot have a moved day off: {reason}")]
    MoveNotAllowed {
        origin: String,
        holiday: NaiveDate,
        reason: &'static str,
    },

    #[error(
        "{origin}: moved day off {date} for holiday {holiday} must be a Monday..Friday after the holiday"
    )]
    InvalidMovedDayOff {
        origin: String,
        date: NaiveDate,
        holiday: NaiveDate,
    },

    #[error("{origin}: transfer working day {date} is a {weekday}, not a Saturday or Sunday")]
    WorkingDayNotWeekend {
        origin: String,
        date: NaiveDate,
        weekday: Weekday,
    },

    #[error("{origin}: transfer day off {date} is a {weekday}, not a Monday..Friday")]
    DayOffNotWeekday {
        origin: String,
        date: NaiveDate,
        weekday: Weekday,
    },

    #[error("{origin}: transfer of day off {day_off} has an empty decree reference")]
    EmptyDecree { origin: String, day_off: NaiveDate },

    #[error("{date} is both {first} and {second}")]
    Conflict {
        date: NaiveDate,
        first: String,
        second: String,
    },

    #[error("no free weekday within 31 days after holiday {holiday} to move its day off to")]
    NoMoveTarget { holiday: NaiveDate },
}

/// Why a date computation could not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    /// A strict computation needed a day in a year with no calendar data. Deadlines must not
    /// be guessed (a missing holiday would move a legal deadline), so strict functions stop.
    #[error(
        "{date} is outside the years the calendar covers ({})",
        fmt_years(covered)
    )]
    OutOfRange { date: NaiveDate, covered: Vec<i32> },

    /// The result would lie beyond the dates `chrono` can represent.
    #[error("date arithmetic left the representable date range")]
    DateOverflow,
}

fn fmt_years(years: &[i32]) -> String {
    if years.is_empty() {
        return "none".to_owned();
    }
    years
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
