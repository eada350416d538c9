//! Kazakhstan's working-day calendar, as data plus pure functions.
//!
//! The data is one TOML file per year (`data/calendar/kz-YYYY.toml`) listing
//! - public holidays, with names in Kazakh, Russian and English and whether religious;
//! - optionally, the days off that replace a non-religious holiday falling on a Saturday or
//!   Sunday (Labour Code art. 85). The loader derives these from the holiday list anyway,
//!   so the files stay the legal list; a listed one overrides the derived one (see
//!   [`Calendar::rule_deviations`] to audit overrides);
//! - government-decreed transfers: a weekday made a day off and a Saturday/Sunday made a
//!   working day, with the act cited as a string.
//!
//! Uses in Bakylau:
//! - intake: an appeal received after hours or on a day off is registered on the next
//!   working day (APPK art. 64), see [`Calendar::registration_date`];
//! - control: answer deadlines in working days, 15 by default (APPK art. 76, reg 5.3), see
//!   [`Calendar::add_working_days`] for the counting convention;
//! - reception: which days have no receptions, see [`Calendar::is_working_day`].
//!
//! Dates are Kazakhstan calendar dates; since 1 March 2024 the whole country is UTC+5
//! ([`kz_offset`], [`kz_date`]).
//!
//! ```
//! use bakylau_calendar::Calendar;
//! use chrono::NaiveDate;
//!
//! let cal = Calendar::embedded().expect("shipped data is valid");
//! let registered = NaiveDate::from_ymd_opt(2026, 3, 18).unwrap();
//! let deadline = cal.add_working_days(registered, 15).unwrap();
//! assert_eq!(deadline, NaiveDate::from_ymd_opt(2026, 4, 13).unwrap());
//! ```

mod calendar;
mod data;
mod error;

pub use calendar::{Calendar, DayKind, KZ_UTC_OFFSET_SECS, MoveDeviation, kz_date, kz_offset};
pub use data::{Holiday, HolidayName, Transfer};
pub use error::{CalendarError, LoadError};
