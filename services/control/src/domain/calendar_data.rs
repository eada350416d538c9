//! The stored calendar (holidays and decreed transfers per year) turned back into a
//! [`Calendar`]: rows are written out as the crate's year files and loaded by its own
//! validating loader, so an edit that breaks a rule (a transfer onto a weekday, a duplicate
//! date) is refused exactly like bad shipped data.

use std::collections::BTreeMap;

use bakylau_calendar::{Calendar, Holiday, LoadError, Transfer};
use chrono::{Datelike, NaiveDate};
use toml::value::{Datetime, Table, Value};

/// One stored holiday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayRow {
    pub date: NaiveDate,
    pub name_kk: String,
    pub name_ru: String,
    pub name_en: String,
    pub religious: bool,
    pub provisional: bool,
    pub note: Option<String>,
}

/// One stored decreed transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRow {
    pub day_off: NaiveDate,
    pub working_day: NaiveDate,
    pub decree: String,
}

impl From<&Holiday> for HolidayRow {
    fn from(h: &Holiday) -> Self {
        Self {
            date: h.date,
            name_kk: h.name.kk.clone(),
            name_ru: h.name.ru.clone(),
            name_en: h.name.en.clone(),
            religious: h.religious,
            provisional: h.provisional,
            note: h.note.clone(),
        }
    }
}

impl From<&Transfer> for TransferRow {
    fn from(t: &Transfer) -> Self {
        Self {
            day_off: t.day_off,
            working_day: t.working_day,
            decree: t.decree.clone(),
        }
    }
}

/// The rows of every year in `cal`.
pub fn rows_of(cal: &Calendar) -> (Vec<i32>, Vec<HolidayRow>, Vec<TransferRow>) {
    let years: Vec<i32> = cal.years().collect();
    let holidays = years
        .iter()
        .flat_map(|y| cal.holidays_in(*y))
        .map(|h| HolidayRow::from(&h))
        .collect();
    let transfers = years
        .iter()
        .flat_map(|y| cal.transfers_in(*y))
        .map(|t| TransferRow::from(&t))
        .collect();
    (years, holidays, transfers)
}

fn date_value(d: NaiveDate) -> Value {
    // ISO dates always parse as TOML local dates.
    d.to_string()
        .parse::<Datetime>()
        .map(Value::Datetime)
        .unwrap_or_else(|_| Value::String(d.to_string()))
}

/// Builds the calendar of `years` from the rows; rows of other years are ignored.
pub fn build(
    years: &[i32],
    holidays: &[HolidayRow],
    transfers: &[TransferRow],
) -> Result<Calendar, LoadError> {
    let mut files: BTreeMap<i32, (Vec<Value>, Vec<Value>)> =
        years.iter().map(|y| (*y, Default::default())).collect();
    for h in holidays {
        let Some(file) = files.get_mut(&h.date.year()) else {
            continue;
        };
        let mut t = Table::new();
        t.insert("date".into(), date_value(h.date));
        t.insert("kk".into(), Value::String(h.name_kk.clone()));
        t.insert("ru".into(), Value::String(h.name_ru.clone()));
        t.insert("en".into(), Value::String(h.name_en.clone()));
        t.insert("religious".into(), Value::Boolean(h.religious));
        t.insert("provisional".into(), Value::Boolean(h.provisional));
        if let Some(note) = &h.note {
            t.insert("note".into(), Value::String(note.clone()));
        }
        file.0.push(Value::Table(t));
    }
    for tr in transfers {
        let Some(file) = files.get_mut(&tr.day_off.year()) else {
            continue;
        };
        let mut t = Table::new();
        t.insert("day_off".into(), date_value(tr.day_off));
        t.insert("working_day".into(), date_value(tr.working_day));
        t.insert("decree".into(), Value::String(tr.decree.clone()));
        file.1.push(Value::Table(t));
    }
    let texts: Vec<(String, String)> = files
        .into_iter()
        .map(|(year, (hs, ts))| {
            let mut doc = Table::new();
            doc.insert("year".into(), Value::Integer(year.into()));
            if !hs.is_empty() {
                doc.insert("holiday".into(), Value::Array(hs));
            }
            if !ts.is_empty() {
                doc.insert("transfer".into(), Value::Array(ts));
            }
            // Serialising plain strings, booleans and dates cannot fail; if it ever did, the
            // loader would refuse the empty text with a clear error.
            (
                format!("stored year {year}"),
                toml::to_string(&doc).unwrap_or_default(),
            )
        })
        .collect();
    Calendar::from_sources(texts.iter().map(|(o, t)| (o.as_str(), t.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_shipped_calendar_survives_a_round_trip() {
        let shipped = Calendar::embedded().unwrap();
        let (years, hs, ts) = rows_of(&shipped);
        let rebuilt = build(&years, &hs, &ts).unwrap();
        assert_eq!(rebuilt.years().collect::<Vec<_>>(), years);
        let mut day = d(2025, 1, 1);
        while day <= d(2027, 12, 31) {
            assert_eq!(
                rebuilt.is_working_day(day),
                shipped.is_working_day(day),
                "{day}"
            );
            day = day.succ_opt().unwrap();
        }
    }

    #[test]
    fn a_decreed_transfer_moves_a_working_day() {
        let shipped = Calendar::embedded().unwrap();
        let (years, hs, mut ts) = rows_of(&shipped);
        // A Friday made a day off, the Saturday after worked instead.
        let (friday, saturday) = (d(2026, 10, 23), d(2026, 10, 31));
        assert!(shipped.is_working_day(friday) && !shipped.is_working_day(saturday));
        ts.push(TransferRow {
            day_off: friday,
            working_day: saturday,
            decree: "Government decree No. 1 (test)".into(),
        });
        let cal = build(&years, &hs, &ts).unwrap();
        assert!(!cal.is_working_day(friday));
        assert!(cal.is_working_day(saturday));
        // The same number of working days, shifted: 15 days from 15 October still ends on
        // the same day, but a period ending on 23 October moves.
        assert_eq!(
            cal.working_days_between(d(2026, 10, 15), d(2026, 11, 5)),
            shipped.working_days_between(d(2026, 10, 15), d(2026, 11, 5))
        );
        assert_ne!(
            cal.add_working_days(d(2026, 10, 21), 2).unwrap(),
            shipped.add_working_days(d(2026, 10, 21), 2).unwrap()
        );
    }

    #[test]
    fn invalid_rows_are_refused_by_the_loader() {
        let (years, hs, mut ts) = rows_of(&Calendar::embedded().unwrap());
        ts.push(TransferRow {
            day_off: d(2026, 10, 23),
            working_day: d(2026, 10, 22), // a Thursday cannot be "made" a working day
            decree: "x".into(),
        });
        assert!(build(&years, &hs, &ts).is_err());
    }

    #[test]
    fn a_new_holiday_is_a_day_off() {
        let (years, mut hs, ts) = rows_of(&Calendar::embedded().unwrap());
        let day = d(2027, 3, 15); // Constitution Day from 2027, if not shipped
        hs.retain(|h| h.date != day);
        hs.push(HolidayRow {
            date: day,
            name_kk: "Ата Заң күні".into(),
            name_ru: "День Конституции".into(),
            name_en: "Constitution Day".into(),
            religious: false,
            provisional: false,
            note: None,
        });
        let cal = build(&years, &hs, &ts).unwrap();
        assert!(!cal.is_working_day(day));
    }
}
