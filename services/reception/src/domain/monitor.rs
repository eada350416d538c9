//! Monitoring of reception work (reg 6.5, 6.6): scheduled vs held, no-shows, cancellations
//! and the wait for the next free slot, per official and per body.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDateTime;

use super::booking::BookingStatus;
use super::schedule::SlotDef;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bookings in the window that were not cancelled.
    pub scheduled: u32,
    pub held: u32,
    pub no_shows: u32,
    pub cancelled: u32,
    /// Booked or checked in, not yet held or marked.
    pub pending: u32,
    /// Free published slots from now.
    pub free_slots: u32,
    pub next_free: Option<NaiveDateTime>,
}

impl Stats {
    pub fn count(&mut self, status: BookingStatus, n: u32) {
        match status {
            BookingStatus::Cancelled => self.cancelled += n,
            BookingStatus::Held => self.held += n,
            BookingStatus::NoShow => self.no_shows += n,
            BookingStatus::Booked | BookingStatus::CheckedIn => self.pending += n,
        }
        if status.occupies_slot() {
            self.scheduled += n;
        }
    }

    /// Adds another official's figures (for a body's total); the next free slot is the
    /// earliest of both.
    pub fn add(&mut self, other: &Stats) {
        self.scheduled += other.scheduled;
        self.held += other.held;
        self.no_shows += other.no_shows;
        self.cancelled += other.cancelled;
        self.pending += other.pending;
        self.free_slots += other.free_slots;
        self.next_free = match (self.next_free, other.next_free) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Whole days from `now` to the next free slot; `None` when there is none published.
    pub fn days_to_next_free(&self, now: NaiveDateTime) -> Option<i64> {
        self.next_free
            .map(|t| (t.date() - now.date()).num_days().max(0))
    }
}

/// Free slots after `now` among `slots`, given the starts already taken: (count, first).
pub fn free_slots(
    slots: &[SlotDef],
    taken: &HashSet<NaiveDateTime>,
    now: NaiveDateTime,
) -> (u32, Option<NaiveDateTime>) {
    let mut free = slots
        .iter()
        .filter(|s| s.starts_at > now && !taken.contains(&s.starts_at))
        .map(|s| s.starts_at);
    let first = free.next();
    let count = first.map_or(0, |_| 1 + free.count() as u32);
    (count, first)
}

/// Sums officials' stats by body code.
pub fn by_body<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a Stats)>,
) -> BTreeMap<String, Stats> {
    let mut out: BTreeMap<String, Stats> = BTreeMap::new();
    for (body, stats) in rows {
        out.entry(body.to_owned()).or_default().add(stats);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Format, ReceptionKind, Venue};
    use chrono::NaiveDate;

    fn slot(h: u32) -> SlotDef {
        SlotDef {
            starts_at: NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap(),
            minutes: 60,
            format: Format::InPerson,
            kind: ReceptionKind::Personal,
            venue: Venue::default(),
            session_id: None,
        }
    }

    #[test]
    fn counts_by_status() {
        let mut s = Stats::default();
        s.count(BookingStatus::Held, 3);
        s.count(BookingStatus::NoShow, 1);
        s.count(BookingStatus::Cancelled, 2);
        s.count(BookingStatus::Booked, 4);
        assert_eq!(
            (s.scheduled, s.held, s.no_shows, s.cancelled, s.pending),
            (8, 3, 1, 2, 4)
        );
    }

    #[test]
    fn free_slots_skip_taken_and_past_ones() {
        let slots = [slot(9), slot(10), slot(11), slot(12)];
        let taken: HashSet<_> = [slots[1].starts_at].into();
        let now = slots[0].starts_at;
        assert_eq!(
            free_slots(&slots, &taken, now),
            (2, Some(slots[2].starts_at))
        );
        let all: HashSet<_> = slots.iter().map(|s| s.starts_at).collect();
        assert_eq!(free_slots(&slots, &all, now), (0, None));
    }

    #[test]
    fn bodies_sum_their_officials() {
        let a = Stats {
            held: 2,
            next_free: Some(slot(11).starts_at),
            ..Default::default()
        };
        let b = Stats {
            held: 1,
            no_shows: 1,
            next_free: Some(slot(9).starts_at),
            ..Default::default()
        };
        let c = Stats {
            cancelled: 5,
            ..Default::default()
        };
        let bodies = by_body([
            ("akimat.talgar", &a),
            ("akimat.talgar", &b),
            ("akimat.ile", &c),
        ]);
        let t = &bodies["akimat.talgar"];
        assert_eq!(
            (t.held, t.no_shows, t.next_free),
            (3, 1, Some(slot(9).starts_at))
        );
        assert_eq!(bodies["akimat.ile"].cancelled, 5);
        assert_eq!(
            t.days_to_next_free(slot(9).starts_at - chrono::Duration::days(3)),
            Some(3)
        );
    }
}
