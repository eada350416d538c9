//! Reception schedules and slot generation (reg 6.1): recurring weekly hours, dated sessions
//! (field receptions in a district, video receptions, reg 8.7 meetings), days off from the
//! working-day calendar, officials' leave, publication a number of days ahead.
//!
//! All times are local to Kazakhstan (UTC+5): a slot is identified by its official and its
//! local start, so two slots of one official never share a start.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{FieldIssue, Format, ReceptionKind, Venue, is_code};

/// Shortest and longest slot, minutes.
pub const SLOT_MINUTES: std::ops::RangeInclusive<u32> = 5..=240;
/// Longest publication horizon, days.
pub const MAX_PUBLISH_DAYS: u32 = 366;

/// Recurring reception hours on one weekday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyHours {
    /// 1 = Monday ... 7 = Sunday.
    pub weekday: u32,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub slot_minutes: u32,
    pub format: Format,
    pub kind: ReceptionKind,
    #[serde(default)]
    pub venue: Venue,
}

/// A reception on one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: Uuid,
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub slot_minutes: u32,
    pub format: Format,
    pub kind: ReceptionKind,
    #[serde(default)]
    pub venue: Venue,
    /// Officials travelling with the receiving official (reg 6.4).
    #[serde(default)]
    pub travelling_officials: Vec<String>,
    #[serde(default)]
    pub note: String,
}

/// The official's leave or absence, inclusive dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leave {
    pub id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    #[serde(default)]
    pub weekly: Vec<WeeklyHours>,
    #[serde(default)]
    pub sessions: Vec<Session>,
    #[serde(default)]
    pub leaves: Vec<Leave>,
    pub publish_days_ahead: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            weekly: Vec::new(),
            sessions: Vec::new(),
            leaves: Vec::new(),
            publish_days_ahead: 30,
        }
    }
}

/// One bookable slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotDef {
    pub starts_at: NaiveDateTime,
    pub minutes: u32,
    pub format: Format,
    pub kind: ReceptionKind,
    pub venue: Venue,
    pub session_id: Option<Uuid>,
}

impl SlotDef {
    pub fn ends_at(&self) -> NaiveDateTime {
        self.starts_at + Duration::minutes(i64::from(self.minutes))
    }
}

/// Days off of the working-day calendar: `Some(reason)` when nobody receives that day.
pub trait DayOffs {
    fn day_off(&self, date: NaiveDate) -> Option<String>;
}

impl DayOffs for bakylau_calendar::Calendar {
    fn day_off(&self, date: NaiveDate) -> Option<String> {
        use bakylau_calendar::DayKind;
        match self.day_kind(date) {
            DayKind::Working | DayKind::TransferredWorkingDay { .. } => None,
            DayKind::Weekend => Some("a weekend day".into()),
            DayKind::Holiday { name, .. } => Some(format!("a public holiday ({})", name.en)),
            DayKind::MovedDayOff { name, .. } => {
                Some(format!("a day off moved from a holiday ({})", name.en))
            }
            DayKind::TransferredDayOff { decree, .. } => {
                Some(format!("a day off transferred by decree ({decree})"))
            }
        }
    }
}

/// Slot id: `<official>@<YYYY-MM-DD>T<HH:MM>`, local time.
pub fn slot_id(official_id: &str, starts_at: NaiveDateTime) -> String {
    format!("{official_id}@{}", starts_at.format("%Y-%m-%dT%H:%M"))
}

pub fn parse_slot_id(id: &str) -> Option<(String, NaiveDateTime)> {
    let (official, at) = id.trim().rsplit_once('@')?;
    let at = NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M").ok()?;
    is_code(official).then(|| (official.to_owned(), at))
}

/// Cuts `[start, end)` on `date` into whole slots shaped like `template`.
fn cut(
    date: NaiveDate,
    start: NaiveTime,
    end: NaiveTime,
    template: &SlotDef,
    out: &mut Vec<SlotDef>,
) {
    if template.minutes == 0 {
        return;
    }
    let step = Duration::minutes(i64::from(template.minutes));
    let end = date.and_time(end);
    let mut at = date.and_time(start);
    while at + step <= end {
        out.push(SlotDef {
            starts_at: at,
            ..template.clone()
        });
        at += step;
    }
}

impl Schedule {
    /// The leave covering `date`, if any.
    pub fn leave_on(&self, date: NaiveDate) -> Option<&Leave> {
        self.leaves.iter().find(|l| l.from <= date && date <= l.to)
    }

    /// Last date whose slots are published, seen from `today`.
    pub fn horizon(&self, today: NaiveDate) -> NaiveDate {
        today + Duration::days(i64::from(self.publish_days_ahead))
    }

    /// Slots on `date`, in start order: none on a day off or on leave. Weekly hours and
    /// sessions of that date both give slots; at a start given twice the first wins.
    pub fn slots_on(&self, date: NaiveDate, days: &impl DayOffs) -> Vec<SlotDef> {
        if days.day_off(date).is_some() || self.leave_on(date).is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let weekday = date.weekday().number_from_monday();
        for w in self.weekly.iter().filter(|w| w.weekday == weekday) {
            let template = SlotDef {
                starts_at: date.and_time(w.start),
                minutes: w.slot_minutes,
                format: w.format,
                kind: w.kind,
                venue: w.venue.clone(),
                session_id: None,
            };
            cut(date, w.start, w.end, &template, &mut out);
        }
        for s in self.sessions.iter().filter(|s| s.date == date) {
            let template = SlotDef {
                starts_at: date.and_time(s.start),
                minutes: s.slot_minutes,
                format: s.format,
                kind: s.kind,
                venue: s.venue.clone(),
                session_id: Some(s.id),
            };
            cut(date, s.start, s.end, &template, &mut out);
        }
        out.sort_by_key(|s| s.starts_at);
        out.dedup_by_key(|s| s.starts_at);
        out
    }

    /// Slots with dates in `[from, to]`, in start order.
    pub fn slots_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        days: &impl DayOffs,
    ) -> Vec<SlotDef> {
        from.iter_days()
            .take_while(|d| *d <= to)
            .flat_map(|d| self.slots_on(d, days))
            .collect()
    }

    /// The slot starting at `at` if a visitor may book it `now`, else why not (reg 6.1).
    pub fn bookable(
        &self,
        at: NaiveDateTime,
        now: NaiveDateTime,
        days: &impl DayOffs,
    ) -> Result<SlotDef, Refusal> {
        if at <= now {
            return Err(Refusal::InPast);
        }
        let date = at.date();
        let horizon = self.horizon(now.date());
        if date > horizon {
            return Err(Refusal::NotPublished { horizon });
        }
        if let Some(reason) = days.day_off(date) {
            return Err(Refusal::DayOff { date, reason });
        }
        if let Some(leave) = self.leave_on(date) {
            return Err(Refusal::OnLeave {
                from: leave.from,
                to: leave.to,
            });
        }
        self.slots_on(date, days)
            .into_iter()
            .find(|s| s.starts_at == at)
            .ok_or(Refusal::OutsideSchedule)
    }

    /// Everything wrong with the weekly hours and the horizon.
    pub fn check_weekly(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if !(1..=MAX_PUBLISH_DAYS).contains(&self.publish_days_ahead) {
            issues.push(FieldIssue::new(
                "publish_days_ahead",
                format!("between 1 and {MAX_PUBLISH_DAYS} days"),
            ));
        }
        for (i, w) in self.weekly.iter().enumerate() {
            let field = format!("weekly[{i}]");
            if !(1..=7).contains(&w.weekday) {
                issues.push(FieldIssue::new(
                    format!("{field}.weekday"),
                    "1 (Monday) to 7 (Sunday)",
                ));
            }
            check_hours(&field, w.start, w.end, w.slot_minutes, &mut issues);
            w.venue
                .check(w.format, &format!("{field}.venue"), &mut issues);
            let overlaps = self.weekly[..i]
                .iter()
                .any(|o| o.weekday == w.weekday && o.start < w.end && w.start < o.end);
            if overlaps {
                issues.push(FieldIssue::new(
                    format!("{field}.start"),
                    "overlaps other hours on the same weekday",
                ));
            }
        }
        issues
    }

    /// Everything wrong with a new session, given the schedule it joins.
    pub fn check_session(&self, s: &Session, today: NaiveDate) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if s.date < today {
            issues.push(FieldIssue::new("session.date", "in the past"));
        }
        check_hours("session", s.start, s.end, s.slot_minutes, &mut issues);
        s.venue.check(s.format, "session.venue", &mut issues);
        for (i, o) in s.travelling_officials.iter().enumerate() {
            if !is_code(o) {
                issues.push(FieldIssue::new(
                    format!("session.travelling_officials[{i}]"),
                    "an official id",
                ));
            }
        }
        let weekday = s.date.weekday().number_from_monday();
        let clash_weekly = self
            .weekly
            .iter()
            .any(|w| w.weekday == weekday && w.start < s.end && s.start < w.end);
        let clash_session = self
            .sessions
            .iter()
            .any(|o| o.date == s.date && o.start < s.end && s.start < o.end);
        if clash_weekly || clash_session {
            issues.push(FieldIssue::new(
                "session.start",
                "overlaps other reception hours of the official that day",
            ));
        }
        issues
    }
}

fn check_hours(
    field: &str,
    start: NaiveTime,
    end: NaiveTime,
    minutes: u32,
    issues: &mut Vec<FieldIssue>,
) {
    if !SLOT_MINUTES.contains(&minutes) {
        issues.push(FieldIssue::new(
            format!("{field}.slot_minutes"),
            format!(
                "between {} and {} minutes",
                SLOT_MINUTES.start(),
                SLOT_MINUTES.end()
            ),
        ));
    }
    if start >= end {
        issues.push(FieldIssue::new(
            format!("{field}.end"),
            "must be after the start",
        ));
    } else if (end - start).num_minutes() < i64::from(minutes) {
        issues.push(FieldIssue::new(
            format!("{field}.end"),
            "the hours are shorter than one slot",
        ));
    }
}

/// Why a slot cannot be booked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the slot is in the past")]
    InPast,
    #[error("slots are published only up to {horizon}")]
    NotPublished { horizon: NaiveDate },
    #[error("{date} is {reason}: no receptions")]
    DayOff { date: NaiveDate, reason: String },
    #[error("the official is on leave from {from} to {to}")]
    OnLeave { from: NaiveDate, to: NaiveDate },
    #[error("no reception slot of the official starts at that time")]
    OutsideSchedule,
}

/// `HH:MM`.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// Weekends, plus any listed holidays.
    struct Days(Vec<NaiveDate>);

    impl DayOffs for Days {
        fn day_off(&self, date: NaiveDate) -> Option<String> {
            if date.weekday().number_from_monday() >= 6 {
                Some("a weekend day".into())
            } else if self.0.contains(&date) {
                Some("a public holiday".into())
            } else {
                None
            }
        }
    }

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }
    fn t(s: &str) -> NaiveTime {
        parse_time(s).unwrap()
    }

    fn weekly(weekday: u32, start: &str, end: &str, minutes: u32) -> WeeklyHours {
        WeeklyHours {
            weekday,
            start: t(start),
            end: t(end),
            slot_minutes: minutes,
            format: Format::InPerson,
            kind: ReceptionKind::Personal,
            venue: Venue::default(),
        }
    }

    fn schedule() -> Schedule {
        Schedule {
            // Tuesdays 10:00-12:00 in 20-minute slots; Thursdays 15:00-16:00 in 30.
            weekly: vec![
                weekly(2, "10:00", "12:00", 20),
                weekly(4, "15:00", "16:00", 30),
            ],
            publish_days_ahead: 30,
            ..Default::default()
        }
    }

    #[test]
    fn weekly_hours_are_cut_into_slots() {
        // 2026-12-01 is a Tuesday.
        let slots = schedule().slots_on(d("2026-12-01"), &Days(vec![]));
        let starts: Vec<_> = slots
            .iter()
            .map(|s| s.starts_at.format("%H:%M").to_string())
            .collect();
        assert_eq!(
            starts,
            ["10:00", "10:20", "10:40", "11:00", "11:20", "11:40"]
        );
        assert!(
            schedule()
                .slots_on(d("2026-12-02"), &Days(vec![]))
                .is_empty()
        );
    }

    #[test]
    fn a_last_partial_slot_is_not_offered() {
        let s = Schedule {
            weekly: vec![weekly(2, "10:00", "10:50", 20)],
            ..Default::default()
        };
        assert_eq!(s.slots_on(d("2026-12-01"), &Days(vec![])).len(), 2);
    }

    #[test]
    fn holidays_and_leave_have_no_slots() {
        let days = Days(vec![d("2026-12-01")]);
        assert!(schedule().slots_on(d("2026-12-01"), &days).is_empty());
        let mut s = schedule();
        s.leaves.push(Leave {
            id: Uuid::nil(),
            from: d("2026-12-03"),
            to: d("2026-12-10"),
            reason: "annual leave".into(),
        });
        assert!(s.slots_on(d("2026-12-08"), &Days(vec![])).is_empty());
        assert_eq!(s.slots_on(d("2026-12-15"), &Days(vec![])).len(), 6);
    }

    #[test]
    fn a_field_session_adds_slots_on_its_date() {
        let mut s = schedule();
        let session = Session {
            id: Uuid::nil(),
            date: d("2026-12-02"),
            start: t("14:00"),
            end: t("15:00"),
            slot_minutes: 15,
            format: Format::Field,
            kind: ReceptionKind::Personal,
            venue: Venue {
                place: "Talgar district akimat, hall".into(),
                district: "talgar".into(),
                ..Default::default()
            },
            travelling_officials: vec!["deputy_akim.social".into()],
            note: String::new(),
        };
        assert!(s.check_session(&session, d("2026-11-25")).is_empty());
        s.sessions.push(session);
        let slots = s.slots_on(d("2026-12-02"), &Days(vec![]));
        assert_eq!(slots.len(), 4);
        assert!(
            slots
                .iter()
                .all(|x| x.format == Format::Field && x.session_id.is_some())
        );
    }

    #[test]
    fn booking_refusals_name_the_reason() {
        let s = schedule();
        let days = Days(vec![d("2026-12-08")]);
        let now = d("2026-11-30").and_time(t("09:00"));
        let ok = s.bookable(d("2026-12-01").and_time(t("10:20")), now, &days);
        assert_eq!(ok.unwrap().minutes, 20);
        assert_eq!(
            s.bookable(d("2026-11-24").and_time(t("10:00")), now, &days),
            Err(Refusal::InPast)
        );
        assert!(matches!(
            s.bookable(d("2026-12-08").and_time(t("10:00")), now, &days),
            Err(Refusal::DayOff { .. })
        ));
        assert!(matches!(
            s.bookable(d("2026-12-05").and_time(t("10:00")), now, &days),
            Err(Refusal::DayOff { .. })
        ));
        assert_eq!(
            s.bookable(d("2026-12-01").and_time(t("10:10")), now, &days),
            Err(Refusal::OutsideSchedule)
        );
        assert!(matches!(
            s.bookable(d("2027-02-02").and_time(t("10:00")), now, &days),
            Err(Refusal::NotPublished { .. })
        ));
    }

    #[test]
    fn overlapping_hours_and_bad_venues_are_refused() {
        let mut s = schedule();
        s.weekly.push(weekly(2, "11:00", "13:00", 20));
        let mut video = weekly(3, "10:00", "09:00", 300);
        video.format = Format::Video;
        s.weekly.push(video);
        s.publish_days_ahead = 0;
        let fields: Vec<_> = s.check_weekly().into_iter().map(|i| i.field).collect();
        assert_eq!(
            fields,
            [
                "publish_days_ahead",
                "weekly[2].start",
                "weekly[3].slot_minutes",
                "weekly[3].end",
                "weekly[3].venue.link"
            ]
        );
    }

    #[test]
    fn slot_ids_round_trip() {
        let at = d("2026-12-01").and_time(t("10:20"));
        let id = slot_id("akim.talgar", at);
        assert_eq!(id, "akim.talgar@2026-12-01T10:20");
        assert_eq!(parse_slot_id(&id), Some(("akim.talgar".into(), at)));
        assert_eq!(parse_slot_id("nonsense"), None);
        assert_eq!(parse_slot_id("Akim@2026-12-01T10:20"), None);
    }

    fn arb_weekly() -> impl Strategy<Value = WeeklyHours> {
        (1u32..=7, 6u32..20, 0u32..4, 1u32..10, 5u32..=90).prop_map(|(wd, h, q, len_h, minutes)| {
            let start = NaiveTime::from_hms_opt(h, q * 15, 0).unwrap();
            let end = NaiveTime::from_hms_opt((h + len_h).min(23), 0, 0).unwrap();
            WeeklyHours {
                weekday: wd,
                start,
                end: end.max(start),
                slot_minutes: minutes,
                format: Format::InPerson,
                kind: ReceptionKind::Personal,
                venue: Venue::default(),
            }
        })
    }

    proptest! {
        /// Every generated slot lies within the hours of its day, is a whole slot long,
        /// falls on a working day outside leave, is unique by start, and is bookable.
        #[test]
        fn generated_slots_are_valid_and_bookable(
            weekly in proptest::collection::vec(arb_weekly(), 0..5),
            holidays in proptest::collection::vec(0i64..60, 0..6),
            leave_start in 0i64..60,
            leave_len in 0i64..10,
        ) {
            let base = d("2026-12-01");
            let days = Days(holidays.iter().map(|o| base + Duration::days(*o)).collect());
            let schedule = Schedule {
                weekly: weekly.clone(),
                sessions: vec![],
                leaves: vec![Leave {
                    id: Uuid::nil(),
                    from: base + Duration::days(leave_start),
                    to: base + Duration::days(leave_start + leave_len),
                    reason: String::new(),
                }],
                publish_days_ahead: 90,
            };
            let slots = schedule.slots_between(base, base + Duration::days(59), &days);
            let mut seen = HashSet::new();
            for s in &slots {
                prop_assert!(seen.insert(s.starts_at), "duplicate start");
                let date = s.starts_at.date();
                prop_assert!(days.day_off(date).is_none());
                prop_assert!(schedule.leave_on(date).is_none());
                let wd = date.weekday().number_from_monday();
                prop_assert!(weekly.iter().any(|w| w.weekday == wd
                    && w.start <= s.starts_at.time()
                    && s.ends_at() <= date.and_time(w.end)
                    && s.minutes == w.slot_minutes));
                let now = base.and_hms_opt(0, 0, 0).unwrap() - Duration::days(1);
                prop_assert_eq!(schedule.bookable(s.starts_at, now, &days).map(|x| x.starts_at), Ok(s.starts_at));
            }
            prop_assert!(slots.windows(2).all(|w| w[0].starts_at < w[1].starts_at));
        }

        /// No time is bookable that generation does not offer.
        #[test]
        fn only_generated_slots_are_bookable(
            weekly in proptest::collection::vec(arb_weekly(), 0..4),
            day in 0i64..30,
            minute in 0u32..(24 * 60),
        ) {
            let base = d("2026-12-01");
            let days = Days(vec![]);
            let schedule = Schedule { weekly, publish_days_ahead: 60, ..Default::default() };
            let at = (base + Duration::days(day)).and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minute));
            let now = base.and_hms_opt(0, 0, 0).unwrap() - Duration::days(1);
            let offered = schedule.slots_on(at.date(), &days).iter().any(|s| s.starts_at == at);
            prop_assert_eq!(schedule.bookable(at, now, &days).is_ok(), offered);
        }
    }
}
