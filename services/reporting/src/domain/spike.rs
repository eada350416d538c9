//! Spike detection (reg 8.3: working groups on high-resonance issues). A category in a
//! district is a spike when its count in the current window is far above its own baseline
//! — the mean of the same category and district in the windows before. Windows are aligned
//! to fixed boundaries, so "once per window" is well defined: a spike is published once.

use chrono::{Duration, NaiveDate};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SpikePolicy {
    /// Length of a window in days (7: Monday to Sunday).
    pub window_days: u32,
    /// Earlier windows whose mean is the baseline.
    pub baseline_windows: u32,
    /// Fewest appeals in a window that can be a spike at all.
    pub min_count: u64,
    /// Count must be at least this many times the baseline (floored at 1)…
    pub min_ratio: f64,
    /// …and this many Poisson standard deviations above it.
    pub min_z: f64,
}

impl Default for SpikePolicy {
    fn default() -> Self {
        Self {
            window_days: 7,
            baseline_windows: 8,
            min_count: 10,
            min_ratio: 3.0,
            min_z: 3.0,
        }
    }
}

/// Windows are counted from this Monday.
fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 3).expect("valid date")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl SpikePolicy {
    /// The window that contains `day`.
    pub fn window_of(&self, day: NaiveDate) -> Window {
        let len = i64::from(self.window_days.max(1));
        let index = (day - epoch()).num_days().div_euclid(len);
        let start = epoch() + Duration::days(index * len);
        Window {
            start,
            end: start + Duration::days(len - 1),
        }
    }

    /// The baseline windows before `w`, oldest first.
    pub fn baseline_of(&self, w: Window) -> Vec<Window> {
        let len = i64::from(self.window_days.max(1));
        (1..=i64::from(self.baseline_windows))
            .rev()
            .map(|k| {
                let start = w.start - Duration::days(k * len);
                Window {
                    start,
                    end: start + Duration::days(len - 1),
                }
            })
            .collect()
    }

    /// The spike's statistics when `count` in the current window is a spike against
    /// `history` (counts of the baseline windows).
    pub fn assess(&self, count: u64, history: &[u64]) -> Option<SpikeStat> {
        if count < self.min_count {
            return None;
        }
        let baseline = if history.is_empty() {
            0.0
        } else {
            history.iter().sum::<u64>() as f64 / history.len() as f64
        };
        let floor = baseline.max(1.0);
        let ratio = count as f64 / floor;
        let z = (count as f64 - baseline) / floor.sqrt();
        (ratio >= self.min_ratio && z >= self.min_z).then_some(SpikeStat { baseline, ratio })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeStat {
    pub baseline: f64,
    pub ratio: f64,
}

/// Stable id of a spike, one per category, district and window.
pub fn spike_id(category: &str, district: &str, window: Window) -> String {
    format!("{category}/{district}/{}", window.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn windows_are_aligned_weeks() {
        let p = SpikePolicy::default();
        // 2026-11-25 is a Wednesday.
        let w = p.window_of(d("2026-11-25"));
        assert_eq!(w.start, d("2026-11-23"));
        assert_eq!(w.end, d("2026-11-29"));
        assert_eq!(p.window_of(d("2026-11-29")), w);
        let base = p.baseline_of(w);
        assert_eq!(base.len(), 8);
        assert_eq!(base[7].end, d("2026-11-22"));
        assert_eq!(base[0].start, d("2026-09-28"));
    }

    #[test]
    fn far_above_its_own_baseline_is_a_spike() {
        let p = SpikePolicy::default();
        let s = p.assess(30, &[3, 4, 2, 3, 5, 3, 4, 0]).unwrap();
        assert!((s.baseline - 3.0).abs() < 1e-9);
        assert!((s.ratio - 10.0).abs() < 1e-9);
    }

    #[test]
    fn a_busy_place_at_its_usual_level_is_not() {
        let p = SpikePolicy::default();
        assert_eq!(p.assess(40, &[35, 42, 38, 40, 37, 41, 39, 36]), None);
        // Too few appeals to matter, however new.
        assert_eq!(p.assess(9, &[0; 8]), None);
        // New problem with no history: enough appeals is a spike.
        assert!(p.assess(12, &[]).is_some());
    }

    proptest! {
        // More appeals in the window never turns a spike into a non-spike.
        #[test]
        fn assessment_is_monotone_in_the_count(count in 0u64..200, extra in 0u64..50, hist in proptest::collection::vec(0u64..60, 0..8)) {
            let p = SpikePolicy::default();
            if p.assess(count, &hist).is_some() {
                prop_assert!(p.assess(count + extra, &hist).is_some());
            }
        }

        #[test]
        fn every_day_is_in_its_window(days in 0i64..20000) {
            let p = SpikePolicy::default();
            let day = d("2001-01-01") + Duration::days(days);
            let w = p.window_of(day);
            prop_assert!(w.start <= day && day <= w.end);
            prop_assert_eq!((w.end - w.start).num_days(), 6);
        }
    }
}
