//! The merged calendar and its date functions.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveTime, Offset, Utc};
use serde::Serialize;

use crate::data::{Holiday, HolidayName, Transfer, YearData, is_weekend, parse_year};
use crate::error::{CalendarError, LoadError};

/// The shipped data files, compiled in so binaries work without them on disk.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "kz-2025.toml",
        include_str!("../../../data/calendar/kz-2025.toml"),
    ),
    (
        "kz-2026.toml",
        include_str!("../../../data/calendar/kz-2026.toml"),
    ),
    (
        "kz-2027.toml",
        include_str!("../../../data/calendar/kz-2027.toml"),
    ),
];

/// How far after a weekend holiday its day off may land before the data is called broken.
const MAX_MOVE_DAYS: u64 = 31;

/// Kazakhstan's offset from UTC in seconds: one time zone, UTC+5, since 1 March 2024.
pub const KZ_UTC_OFFSET_SECS: i32 = 5 * 3600;

/// Kazakhstan's offset from UTC (+05:00).
pub fn kz_offset() -> FixedOffset {
    // 5 h is inside FixedOffset's ±24 h range, so the fallback is never taken.
    FixedOffset::east_opt(KZ_UTC_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// The calendar date in Kazakhstan (UTC+5) of an instant.
pub fn kz_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&kz_offset()).date_naive()
}

/// What kind of day a date is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayKind {
    /// An ordinary Monday..Friday.
    Working,
    /// An ordinary Saturday or Sunday (five-day week, as in state bodies).
    Weekend,
    /// A public holiday (a day off even on a weekday; on a weekend it is still reported as
    /// the holiday).
    Holiday { name: HolidayName, religious: bool },
    /// The day off of a non-religious holiday that fell on a Saturday or Sunday, moved to the
    /// next working day (Labour Code art. 85).
    MovedDayOff {
        holiday: NaiveDate,
        name: HolidayName,
    },
    /// A weekday made a day off by a decreed transfer.
    TransferredDayOff {
        working_day: NaiveDate,
        decree: String,
    },
    /// A Saturday or Sunday made a working day by a decreed transfer.
    TransferredWorkingDay { day_off: NaiveDate, decree: String },
}

impl DayKind {
    pub fn is_working(&self) -> bool {
        matches!(self, Self::Working | Self::TransferredWorkingDay { .. })
    }

    /// Short description for error messages.
    fn describe(&self) -> String {
        match self {
            Self::Working => "a working day".to_owned(),
            Self::Weekend => "a weekend day".to_owned(),
            Self::Holiday { name, .. } => format!("holiday {}", name.en),
            Self::MovedDayOff { holiday, .. } => format!("the moved day off for {holiday}"),
            Self::TransferredDayOff { working_day, .. } => {
                format!("a transferred day off (worked on {working_day})")
            }
            Self::TransferredWorkingDay { day_off, .. } => {
                format!("a transferred working day (for {day_off})")
            }
        }
    }
}

/// Where the data's moved day off for a weekend holiday differs from what the rule
/// (Labour Code art. 85) would give; see [`Calendar::rule_deviations`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoveDeviation {
    pub holiday: NaiveDate,
    /// The day off the data file lists.
    pub listed: NaiveDate,
    /// The day off the rule gives.
    pub derived: NaiveDate,
}

/// Kazakhstan's working-day calendar for the years loaded.
///
/// Days are Kazakhstan calendar dates (UTC+5; use [`kz_date`] to get one from an instant).
/// The week is the five-day week of state bodies: Saturday and Sunday are days off unless a
/// decreed transfer makes one a working day.
///
/// Functions come in two flavours:
/// - **strict** (`try_*`, [`Calendar::add_working_days`]): return
///   [`CalendarError::OutOfRange`] as soon as they need a day in a year without data. Use these
///   for deadlines (APPK art. 76, reg 5.3): a guessed holiday list can put a legal deadline on
///   the wrong day.
/// - **lenient** (the rest): outside the covered years they treat Saturday and Sunday as the
///   only days off. Use these where a best guess beats failing, e.g. registering an appeal
///   (APPK art. 64); check [`Calendar::covers`] and log when it is false.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, YearData>,
    /// Every day that is not an ordinary weekday/weekend day.
    days: BTreeMap<NaiveDate, DayKind>,
    /// Weekend holiday -> its day off (explicit or derived).
    moves: BTreeMap<NaiveDate, NaiveDate>,
}

impl Calendar {
    /// An empty calendar: covers no year; lenient functions see weekends only.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses one year's data file.
    pub fn from_toml_str(text: &str) -> Result<Self, LoadError> {
        Self::from_sources([("<string>", text)])
    }

    /// Parses several year files, given as `(name for errors, contents)`, into one calendar.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, LoadError> {
        let mut years = BTreeMap::new();
        for (origin, text) in sources {
            let data = parse_year(origin, text)?;
            insert_year(&mut years, data)?;
        }
        Self::build(years)
    }

    /// Loads every `kz-*.toml` in `dir` (other files are ignored).
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, LoadError> {
        let dir = dir.as_ref();
        let io = |source| LoadError::Io {
            path: dir.to_owned(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let matches = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("kz-") && n.ends_with(".toml"));
            if matches && path.is_file() {
                files.push(path);
            }
        }
        if files.is_empty() {
            return Err(LoadError::NoFiles(dir.to_owned()));
        }
        files.sort();
        let mut texts = Vec::with_capacity(files.len());
        for path in &files {
            let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            texts.push((path.display().to_string(), text));
        }
        Self::from_sources(texts.iter().map(|(o, t)| (o.as_str(), t.as_str())))
    }

    /// The data files shipped with this crate (`data/calendar/kz-*.toml`), compiled in.
    pub fn embedded() -> Result<Self, LoadError> {
        Self::from_sources(EMBEDDED.iter().copied())
    }

    /// Combines two calendars; a year present in both is an error.
    pub fn merge(self, other: Calendar) -> Result<Self, LoadError> {
        let mut years = self.years;
        for data in other.years.into_values() {
            insert_year(&mut years, data)?;
        }
        Self::build(years)
    }

    fn build(years: BTreeMap<i32, YearData>) -> Result<Self, LoadError> {
        let (days, moves) = index(&years, true)?;
        Ok(Self { years, days, moves })
    }

    /// The years with data, ascending.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// Whether `date` lies in a year with data.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.years.contains_key(&date.year())
    }

    /// The public holidays of `year`, by date (empty if the year is not covered).
    pub fn holidays_in(&self, year: i32) -> Vec<Holiday> {
        self.years
            .get(&year)
            .map(|y| y.holidays.clone())
            .unwrap_or_default()
    }

    /// The decreed transfers listed for `year`.
    pub fn transfers_in(&self, year: i32) -> Vec<Transfer> {
        self.years
            .get(&year)
            .map(|y| y.transfers.clone())
            .unwrap_or_default()
    }

    /// Every day of `year` that is not an ordinary weekday or weekend day, by date: holidays,
    /// moved days off and both sides of transfers.
    pub fn special_days_in(&self, year: i32) -> Vec<(NaiveDate, DayKind)> {
        let (Some(first), Some(last)) = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        ) else {
            return Vec::new();
        };
        self.days
            .range(first..=last)
            .map(|(d, k)| (*d, k.clone()))
            .collect()
    }

    /// Weekend holidays whose listed day off differs from the one the rule (Labour Code
    /// art. 85) would give. Empty when the data only confirms the rule; anything here is a
    /// deliberate override a reviewer should be able to source.
    pub fn rule_deviations(&self) -> Result<Vec<MoveDeviation>, LoadError> {
        let (_, derived) = index(&self.years, false)?;
        Ok(self
            .moves
            .iter()
            .filter_map(|(holiday, listed)| {
                let rule = derived.get(holiday)?;
                (rule != listed).then_some(MoveDeviation {
                    holiday: *holiday,
                    listed: *listed,
                    derived: *rule,
                })
            })
            .collect())
    }

    /// What kind of day `date` is. Lenient: outside the covered years only weekends are
    /// days off.
    pub fn day_kind(&self, date: NaiveDate) -> DayKind {
        match self.days.get(&date) {
            Some(kind) => kind.clone(),
            None if is_weekend(date) => DayKind::Weekend,
            None => DayKind::Working,
        }
    }

    /// Strict [`Calendar::day_kind`].
    pub fn try_day_kind(&self, date: NaiveDate) -> Result<DayKind, CalendarError> {
        self.check_covered(date, date)?;
        Ok(self.day_kind(date))
    }

    /// Whether state bodies work on `date`. Lenient.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.days.get(&date) {
            Some(kind) => kind.is_working(),
            None => !is_weekend(date),
        }
    }

    /// The first working day strictly after `date`. Lenient; at the very end of `chrono`'s
    /// date range it returns `NaiveDate::MAX`.
    pub fn next_working_day(&self, date: NaiveDate) -> NaiveDate {
        self.add_working_days_lenient(date, 1)
            .unwrap_or(NaiveDate::MAX)
    }

    /// Strict [`Calendar::next_working_day`].
    pub fn try_next_working_day(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        self.add_working_days(date, 1)
    }

    /// `date` itself if it is a working day, else the next one. Lenient.
    pub fn working_day_on_or_after(&self, date: NaiveDate) -> NaiveDate {
        if self.is_working_day(date) {
            date
        } else {
            self.next_working_day(date)
        }
    }

    /// Strict [`Calendar::working_day_on_or_after`].
    pub fn try_working_day_on_or_after(&self, date: NaiveDate) -> Result<NaiveDate, CalendarError> {
        self.check_covered(date, date)?;
        if self.is_working_day(date) {
            Ok(date)
        } else {
            self.add_working_days(date, 1)
        }
    }

    /// The day an appeal received at `received` is registered (APPK art. 64): the day of
    /// receipt if that is a working day and it came before `closing` (local UTC+5 time),
    /// otherwise the next working day. Lenient, so intake never fails on a missing year.
    pub fn registration_date(&self, received: DateTime<Utc>, closing: NaiveTime) -> NaiveDate {
        let local = received.with_timezone(&kz_offset());
        let day = local.date_naive();
        if self.is_working_day(day) && local.time() < closing {
            day
        } else {
            self.next_working_day(day)
        }
    }

    /// The `n`-th working day after `start`: the last day of a period of `n` working days.
    ///
    /// Counting convention (APPK art. 76, reg 5.3): a period runs from the day after the
    /// event (registration), so day 1 is the first working day strictly after `start`, and
    /// the deadline is the `n`-th such day, inclusive. `n = 0` returns `start` unchanged.
    /// E.g. the 15-working-day answer deadline is `add_working_days(registered_on, 15)`.
    ///
    /// Strict: [`CalendarError::OutOfRange`] if any day counted lies in a year without data.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let end = self.add_working_days_lenient(start, n)?;
        if n > 0 {
            let first = start.succ_opt().ok_or(CalendarError::DateOverflow)?;
            self.check_covered(first, end)?;
        }
        Ok(end)
    }

    /// [`Calendar::add_working_days`] that treats uncovered years as weekends-only. Fails only
    /// with [`CalendarError::DateOverflow`].
    pub fn add_working_days_lenient(
        &self,
        start: NaiveDate,
        n: u32,
    ) -> Result<NaiveDate, CalendarError> {
        if n == 0 {
            return Ok(start);
        }
        let n = i64::from(n);
        let s = day_number(start);
        let max = day_number(NaiveDate::MAX);
        // Exponential then binary search for the smallest end with n working days in
        // (start, end]: the count only grows by one on working days, so that end is one.
        let mut lo = s;
        let mut hi = s.saturating_add(2 * n + 7).min(max);
        while self.count(s, hi) < n {
            if hi == max {
                return Err(CalendarError::DateOverflow);
            }
            lo = hi;
            hi = s.saturating_add(2 * (hi - s)).min(max);
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.count(s, mid) >= n {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        from_day_number(hi).ok_or(CalendarError::DateOverflow)
    }

    /// Working days in `(a, b]` if `a <= b`, or minus the working days in `(b, a]` if
    /// `b < a`; so `working_days_between(d, add_working_days(d, n)?) == n`. Lenient.
    pub fn working_days_between(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        let (x, y) = (day_number(a), day_number(b));
        if x <= y {
            self.count(x, y)
        } else {
            -self.count(y, x)
        }
    }

    /// Strict [`Calendar::working_days_between`].
    pub fn try_working_days_between(
        &self,
        a: NaiveDate,
        b: NaiveDate,
    ) -> Result<i64, CalendarError> {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        if let Some(first) = lo.succ_opt().filter(|first| *first <= hi) {
            self.check_covered(first, hi)?;
        }
        Ok(self.working_days_between(a, b))
    }

    /// Working days in `(a, b]` given as day numbers, `a <= b`: weekdays by arithmetic,
    /// corrected by the listed days in that range.
    fn count(&self, a: i64, b: i64) -> i64 {
        let base = weekdays_through(b) - weekdays_through(a);
        let (Some(from), Some(to)) = (from_day_number(a), from_day_number(b)) else {
            return base;
        };
        let adjust: i64 = self
            .days
            .range((Bound::Excluded(from), Bound::Included(to)))
            .map(
                |(date, kind)| match (is_weekend(*date), kind.is_working()) {
                    (false, false) => -1,
                    (true, true) => 1,
                    _ => 0,
                },
            )
            .sum();
        base + adjust
    }

    /// Ok if every day in `[from, to]` lies in a covered year.
    fn check_covered(&self, from: NaiveDate, to: NaiveDate) -> Result<(), CalendarError> {
        // Stops at the first gap, so this loops at most once per covered year plus one.
        for year in from.year()..=to.year() {
            if !self.years.contains_key(&year) {
                let date = if year == from.year() {
                    from
                } else {
                    NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(from)
                };
                return Err(CalendarError::OutOfRange {
                    date,
                    covered: self.years().collect(),
                });
            }
        }
        Ok(())
    }
}

fn insert_year(years: &mut BTreeMap<i32, YearData>, data: YearData) -> Result<(), LoadError> {
    if let Some(existing) = years.get(&data.year) {
        return Err(LoadError::DuplicateYear {
            year: data.year,
            first: existing.origin.clone(),
            second: data.origin,
        });
    }
    years.insert(data.year, data);
    Ok(())
}

type Index = (BTreeMap<NaiveDate, DayKind>, BTreeMap<NaiveDate, NaiveDate>);

/// Builds the day index of all years; with `explicit_moves` false the listed moved days off
/// are ignored and every move is derived (used to compare data with the rule).
fn index(years: &BTreeMap<i32, YearData>, explicit_moves: bool) -> Result<Index, LoadError> {
    let mut days = BTreeMap::new();
    let mut moves = BTreeMap::new();

    let holidays = || years.values().flat_map(|y| y.holidays.iter());
    for h in holidays() {
        let kind = DayKind::Holiday {
            name: h.name.clone(),
            religious: h.religious,
        };
        put(&mut days, h.date, kind)?;
    }
    // Transfers before derivation: a decreed day off is not a "next working day".
    for t in years.values().flat_map(|y| y.transfers.iter()) {
        let off = DayKind::TransferredDayOff {
            working_day: t.working_day,
            decree: t.decree.clone(),
        };
        put(&mut days, t.day_off, off)?;
        let work = DayKind::TransferredWorkingDay {
            day_off: t.day_off,
            decree: t.decree.clone(),
        };
        put(&mut days, t.working_day, work)?;
    }
    let name_of = |date: NaiveDate| holidays().find(|h| h.date == date).map(|h| h.name.clone());
    if explicit_moves {
        for m in years.values().flat_map(|y| y.moves.iter()) {
            // parse_year guarantees the holiday is listed; stay total anyway.
            let Some(name) = name_of(m.holiday) else {
                continue;
            };
            let kind = DayKind::MovedDayOff {
                holiday: m.holiday,
                name,
            };
            put(&mut days, m.date, kind)?;
            moves.insert(m.holiday, m.date);
        }
    }
    // Labour Code art. 85: a non-religious holiday on a Saturday or Sunday gives a day off on
    // the next working day; in date order, so consecutive weekend holidays take successive days.
    for h in holidays() {
        if h.religious || !is_weekend(h.date) || moves.contains_key(&h.date) {
            continue;
        }
        let target = (1..=MAX_MOVE_DAYS)
            .filter_map(|k| h.date.checked_add_days(Days::new(k)))
            .find(|d| !is_weekend(*d) && !days.contains_key(d))
            .ok_or(LoadError::NoMoveTarget { holiday: h.date })?;
        let kind = DayKind::MovedDayOff {
            holiday: h.date,
            name: h.name.clone(),
        };
        put(&mut days, target, kind)?;
        moves.insert(h.date, target);
    }
    Ok((days, moves))
}

/// Records `kind` for `date`; a date may carry one meaning only.
fn put(
    days: &mut BTreeMap<NaiveDate, DayKind>,
    date: NaiveDate,
    kind: DayKind,
) -> Result<(), LoadError> {
    if let Some(first) = days.get(&date) {
        return Err(LoadError::Conflict {
            date,
            first: first.describe(),
            second: kind.describe(),
        });
    }
    days.insert(date, kind);
    Ok(())
}

/// Days since the common era (0001-01-01 is 1, a Monday).
fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

fn from_day_number(n: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n).ok()?)
}

/// A prefix count of Monday..Friday: `weekdays_through(b) - weekdays_through(a)` is the number
/// of weekdays in `(a, b]`. Day numbers ≡ 1..=5 (mod 7) are Monday..Friday.
fn weekdays_through(n: i64) -> i64 {
    5 * n.div_euclid(7) + n.rem_euclid(7).min(5)
}

#[cfg(test)]
mod tests {
    use chrono::Weekday;

    use super::*;

    #[test]
    fn day_one_of_the_era_is_a_monday() {
        let d = NaiveDate::from_num_days_from_ce_opt(1).unwrap();
        assert_eq!(d.weekday(), Weekday::Mon);
    }

    #[test]
    fn weekday_prefix_count_matches_iteration() {
        let start = NaiveDate::from_ymd_opt(2024, 12, 1).unwrap();
        let mut expected = 0;
        for k in 1..60u64 {
            let d = start + Days::new(k);
            if !is_weekend(d) {
                expected += 1;
            }
            assert_eq!(
                weekdays_through(day_number(d)) - weekdays_through(day_number(start)),
                expected
            );
        }
    }
}
