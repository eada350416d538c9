//! Named cases against the shipped data, and validation of bad data.

use bakylau_calendar::{Calendar, CalendarError, DayKind, LoadError};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn cal() -> Calendar {
    Calendar::embedded().expect("shipped calendar data is valid")
}

fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/calendar")
}

fn is_moved_from(kind: &DayKind, holiday: NaiveDate) -> bool {
    matches!(kind, DayKind::MovedDayOff { holiday: h, .. } if *h == holiday)
}

fn is_holiday(kind: &DayKind) -> bool {
    matches!(kind, DayKind::Holiday { .. })
}

// --- Shipped data ----------------------------------------------------------------------

#[test]
fn embedded_covers_2025_to_2027() {
    assert_eq!(cal().years().collect::<Vec<_>>(), vec![2025, 2026, 2027]);
}

#[test]
fn load_dir_reads_the_same_data_as_embedded() {
    let from_disk = Calendar::load_dir(data_dir()).unwrap();
    let embedded = cal();
    for year in 2025..=2027 {
        assert_eq!(
            from_disk.special_days_in(year),
            embedded.special_days_in(year)
        );
    }
}

#[test]
fn shipped_moved_days_off_agree_with_the_rule() {
    assert_eq!(cal().rule_deviations().unwrap(), vec![]);
}

#[test]
fn holidays_in_lists_names_in_three_languages() {
    let holidays = cal().holidays_in(2026);
    assert_eq!(holidays.len(), 14);
    let nauryz = holidays.iter().find(|h| h.date == d(2026, 3, 21)).unwrap();
    assert_eq!(nauryz.name.kk, "Наурыз мейрамы");
    assert!(!nauryz.religious);
    assert!(cal().holidays_in(2031).is_empty());
}

// --- Nauryz ----------------------------------------------------------------------------

#[test]
fn nauryz_2026_weekend_days_move_to_24_and_25_march() {
    let c = cal();
    // 21 (Sat) and 22 (Sun) move past 23 (Mon, itself a holiday) to Tue 24 and Wed 25.
    for day in 21..=23 {
        assert!(
            is_holiday(&c.day_kind(d(2026, 3, day))),
            "21..23 are holidays"
        );
    }
    assert!(is_moved_from(&c.day_kind(d(2026, 3, 24)), d(2026, 3, 21)));
    assert!(is_moved_from(&c.day_kind(d(2026, 3, 25)), d(2026, 3, 22)));
    assert!(c.is_working_day(d(2026, 3, 20)));
    assert!(c.is_working_day(d(2026, 3, 26)));
    assert_eq!(c.next_working_day(d(2026, 3, 20)), d(2026, 3, 26));
}

#[test]
fn nauryz_2025_weekend_days_move_to_24_and_25_march() {
    let c = cal();
    assert!(is_holiday(&c.day_kind(d(2025, 3, 21))));
    assert!(is_moved_from(&c.day_kind(d(2025, 3, 24)), d(2025, 3, 22)));
    assert!(is_moved_from(&c.day_kind(d(2025, 3, 25)), d(2025, 3, 23)));
    assert_eq!(c.next_working_day(d(2025, 3, 20)), d(2025, 3, 26));
}

#[test]
fn nauryz_2027_sunday_moves_to_24_march() {
    let c = cal();
    assert!(is_moved_from(&c.day_kind(d(2027, 3, 24)), d(2027, 3, 21)));
    assert!(c.is_working_day(d(2027, 3, 25)));
}

#[test]
fn fifteen_working_days_from_before_nauryz_2026() {
    let c = cal();
    // Registered Wed 18 March: 19, 20 count; 21..25 off; then 26 March .. 13 April.
    assert_eq!(
        c.add_working_days(d(2026, 3, 18), 15).unwrap(),
        d(2026, 4, 13)
    );
    // Registered Fri 20 March: day 1 is Thu 26 March.
    assert_eq!(
        c.add_working_days(d(2026, 3, 20), 1).unwrap(),
        d(2026, 3, 26)
    );
    assert_eq!(
        c.add_working_days(d(2026, 3, 20), 15).unwrap(),
        d(2026, 4, 15)
    );
    assert_eq!(c.working_days_between(d(2026, 3, 18), d(2026, 4, 13)), 15);
}

// --- New Year, Christmas, other fixed holidays -------------------------------------------

#[test]
fn new_year_2026() {
    let c = cal();
    assert!(is_holiday(&c.day_kind(d(2026, 1, 1))));
    assert!(is_holiday(&c.day_kind(d(2026, 1, 2))));
    assert_eq!(c.day_kind(d(2026, 1, 3)), DayKind::Weekend);
    assert_eq!(c.day_kind(d(2026, 1, 5)), DayKind::Working);
    assert!(matches!(
        c.day_kind(d(2026, 1, 7)),
        DayKind::Holiday {
            religious: true,
            ..
        }
    ));
    assert_eq!(c.next_working_day(d(2025, 12, 31)), d(2026, 1, 5));
    assert_eq!(c.add_working_days(d(2026, 1, 5), 2).unwrap(), d(2026, 1, 8));
}

#[test]
fn new_year_2027_saturday_moves_to_monday() {
    let c = cal();
    assert!(is_moved_from(&c.day_kind(d(2027, 1, 4)), d(2027, 1, 2)));
    assert_eq!(c.next_working_day(d(2026, 12, 31)), d(2027, 1, 5));
}

#[test]
fn march_8_and_victory_day_2026_move_to_monday() {
    let c = cal();
    assert!(is_moved_from(&c.day_kind(d(2026, 3, 9)), d(2026, 3, 8)));
    assert!(is_moved_from(&c.day_kind(d(2026, 5, 11)), d(2026, 5, 9)));
    assert!(is_moved_from(&c.day_kind(d(2026, 10, 26)), d(2026, 10, 25)));
}

#[test]
fn constitution_day_2026_is_no_longer_30_august() {
    let c = cal();
    assert_eq!(c.day_kind(d(2026, 8, 31)), DayKind::Working);
    assert!(is_holiday(&c.day_kind(d(2027, 3, 15))));
    let h = c.holidays_in(2027);
    assert!(h.iter().any(|h| h.date == d(2027, 3, 15) && h.provisional));
}

// --- Kurban Ait (religious: never moved) -------------------------------------------------

#[test]
fn kurban_ait_dates_and_no_move_on_weekend() {
    let c = cal();
    for date in [d(2025, 6, 6), d(2026, 5, 27), d(2027, 5, 16)] {
        assert!(
            matches!(
                c.day_kind(date),
                DayKind::Holiday {
                    religious: true,
                    ..
                }
            ),
            "{date} is Kurban Ait"
        );
    }
    // 16 May 2027 is a Sunday; religious holidays give no moved day off.
    assert_eq!(c.day_kind(d(2027, 5, 17)), DayKind::Working);
    assert_eq!(c.next_working_day(d(2026, 5, 26)), d(2026, 5, 28));
}

// --- Decreed transfer --------------------------------------------------------------------

#[test]
fn decreed_transfer_january_2025() {
    let c = cal();
    assert!(matches!(
        c.day_kind(d(2025, 1, 3)),
        DayKind::TransferredDayOff { working_day, .. } if working_day == d(2025, 1, 5)
    ));
    assert!(matches!(
        c.day_kind(d(2025, 1, 5)),
        DayKind::TransferredWorkingDay { day_off, .. } if day_off == d(2025, 1, 3)
    ));
    assert!(!c.is_working_day(d(2025, 1, 3)));
    assert!(
        c.is_working_day(d(2025, 1, 5)),
        "Sunday 5 January 2025 was worked"
    );
    assert_eq!(c.next_working_day(d(2025, 1, 2)), d(2025, 1, 5));
    // 5, 6 count; 7 is Christmas; 8 is day 3.
    assert_eq!(c.add_working_days(d(2025, 1, 2), 3).unwrap(), d(2025, 1, 8));
    let transfers = c.transfers_in(2025);
    assert_eq!(transfers.len(), 1);
    assert!(transfers[0].decree.contains("Minister of Labour"));
    assert!(c.transfers_in(2026).is_empty());
}

// --- Conventions and ranges --------------------------------------------------------------

#[test]
fn add_zero_days_returns_start_and_between_is_antisymmetric() {
    let c = cal();
    let sat = d(2026, 3, 21);
    assert_eq!(c.add_working_days(sat, 0).unwrap(), sat);
    assert_eq!(c.working_days_between(sat, sat), 0);
    let (a, b) = (d(2026, 1, 1), d(2026, 12, 31));
    assert_eq!(c.working_days_between(a, b), -c.working_days_between(b, a));
}

#[test]
fn working_days_in_2026() {
    // 261 weekdays, minus 9 weekday holidays and 5 moved days off.
    let c = cal();
    assert_eq!(
        c.working_days_between(d(2025, 12, 31), d(2026, 12, 31)),
        247
    );
}

#[test]
fn working_day_on_or_after() {
    let c = cal();
    assert_eq!(c.working_day_on_or_after(d(2026, 3, 20)), d(2026, 3, 20));
    assert_eq!(c.working_day_on_or_after(d(2026, 3, 21)), d(2026, 3, 26));
    assert_eq!(
        c.try_working_day_on_or_after(d(2026, 3, 21)).unwrap(),
        d(2026, 3, 26)
    );
}

#[test]
fn strict_deadline_refuses_to_leave_covered_years() {
    let c = cal();
    let err = c.add_working_days(d(2027, 12, 20), 15).unwrap_err();
    assert_eq!(
        err,
        CalendarError::OutOfRange {
            date: d(2028, 1, 1),
            covered: vec![2025, 2026, 2027],
        }
    );
    // Lenient: weekends only beyond 2027.
    assert_eq!(
        c.add_working_days_lenient(d(2027, 12, 20), 15).unwrap(),
        d(2028, 1, 10)
    );
    assert!(c.try_day_kind(d(2030, 6, 1)).is_err());
    assert_eq!(c.day_kind(d(2030, 6, 1)), DayKind::Weekend);
    assert!(c.try_next_working_day(d(2027, 12, 31)).is_err());
    assert!(
        c.try_working_days_between(d(2024, 12, 1), d(2025, 2, 1))
            .is_err()
    );
    assert!(
        c.try_working_days_between(d(2025, 2, 1), d(2025, 1, 1))
            .is_ok()
    );
    assert!(!c.covers(d(2024, 12, 31)));
    assert!(c.covers(d(2025, 1, 1)));
}

#[test]
fn huge_counts_do_not_panic() {
    let c = cal();
    assert_eq!(
        c.add_working_days_lenient(d(2026, 1, 1), u32::MAX),
        Err(CalendarError::DateOverflow)
    );
    assert!(c.add_working_days(d(2026, 1, 1), u32::MAX).is_err());
    assert_eq!(c.next_working_day(NaiveDate::MAX), NaiveDate::MAX);
    let far = c
        .add_working_days_lenient(d(2026, 1, 1), 10_000_000)
        .unwrap();
    assert_eq!(c.working_days_between(d(2026, 1, 1), far), 10_000_000);
}

#[test]
fn registration_date_uses_kazakhstan_time_and_working_hours() {
    let c = cal();
    let closing = NaiveTime::from_hms_opt(18, 30, 0).unwrap();
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    // Friday before Nauryz, 10:00 local: same day.
    assert_eq!(
        c.registration_date(at("2026-03-20T05:00:00Z"), closing),
        d(2026, 3, 20)
    );
    // Same Friday, 20:00 local: after hours, next working day.
    assert_eq!(
        c.registration_date(at("2026-03-20T15:00:00Z"), closing),
        d(2026, 3, 26)
    );
    // 20:00 UTC Thursday is 01:00 Friday in Kazakhstan.
    assert_eq!(
        c.registration_date(at("2026-03-19T20:00:00Z"), closing),
        d(2026, 3, 20)
    );
    assert_eq!(
        bakylau_calendar::kz_date(at("2026-03-19T19:00:00Z")),
        d(2026, 3, 20)
    );
}

// --- Loading and merging -----------------------------------------------------------------

const MINIMAL_2030: &str = r#"
year = 2030

[[holiday]]
date = 2030-01-01
kk = "Жаңа жыл"
ru = "Новый год"
en = "New Year"
religious = false
"#;

#[test]
fn from_toml_str_and_merge() {
    let c = Calendar::from_toml_str(MINIMAL_2030).unwrap();
    assert_eq!(c.years().collect::<Vec<_>>(), vec![2030]);
    let merged = cal().merge(c).unwrap();
    assert_eq!(
        merged.years().collect::<Vec<_>>(),
        vec![2025, 2026, 2027, 2030]
    );
    assert!(is_holiday(&merged.day_kind(d(2030, 1, 1))));
    let again = Calendar::from_toml_str(MINIMAL_2030).unwrap();
    assert!(matches!(
        merged.merge(again),
        Err(LoadError::DuplicateYear { year: 2030, .. })
    ));
}

#[test]
fn load_dir_errors() {
    let empty = std::env::temp_dir().join(format!("bakylau-cal-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        Calendar::load_dir(&empty),
        Err(LoadError::NoFiles(_))
    ));
    std::fs::remove_dir(&empty).unwrap();
    assert!(matches!(
        Calendar::load_dir(empty.join("missing")),
        Err(LoadError::Io { .. })
    ));
}

#[test]
fn explicit_moved_day_off_overrides_the_rule_and_is_reported() {
    // 2031-03-08 is a Saturday; the rule gives Monday 10 March, the file says Tuesday 11.
    let text = r#"
year = 2031

[[holiday]]
date = 2031-03-08
kk = "Халықаралық әйелдер күні"
ru = "Международный женский день"
en = "International Women's Day"
religious = false

[[moved_day_off]]
date = 2031-03-11
holiday = 2031-03-08
"#;
    let c = Calendar::from_toml_str(text).unwrap();
    assert!(c.is_working_day(d(2031, 3, 10)));
    assert!(is_moved_from(&c.day_kind(d(2031, 3, 11)), d(2031, 3, 8)));
    let dev = c.rule_deviations().unwrap();
    assert_eq!(dev.len(), 1);
    assert_eq!(
        (dev[0].listed, dev[0].derived),
        (d(2031, 3, 11), d(2031, 3, 10))
    );
}

#[test]
fn religious_holiday_on_a_weekend_is_not_moved() {
    let text = r#"
year = 2034

[[holiday]]
date = 2034-01-07
kk = "Православиелік Рождество"
ru = "Православное Рождество"
en = "Orthodox Christmas"
religious = true
"#;
    // 2034-01-07 is a Saturday.
    let c = Calendar::from_toml_str(text).unwrap();
    assert_eq!(c.special_days_in(2034).len(), 1);
    assert_eq!(c.day_kind(d(2034, 1, 9)), DayKind::Working);
}

// --- Validation --------------------------------------------------------------------------

fn load(body: &str) -> Result<Calendar, LoadError> {
    Calendar::from_toml_str(body)
}

const WOMENS_DAY_2031: &str = r#"
[[holiday]]
date = 2031-03-08
kk = "a"
ru = "b"
en = "c"
religious = false
"#;

#[test]
fn rejects_duplicate_holiday() {
    let text = format!("year = 2031\n{WOMENS_DAY_2031}{WOMENS_DAY_2031}");
    assert!(matches!(load(&text), Err(LoadError::DuplicateDate { .. })));
}

#[test]
fn rejects_year_mismatch() {
    let text = format!("year = 2032\n{WOMENS_DAY_2031}");
    assert!(matches!(
        load(&text),
        Err(LoadError::YearMismatch { year: 2032, .. })
    ));
}

#[test]
fn rejects_unsupported_year() {
    assert!(matches!(
        load("year = 226"),
        Err(LoadError::UnsupportedYear { year: 226, .. })
    ));
}

#[test]
fn rejects_impossible_date() {
    let text = "year = 2031\n[[holiday]]\ndate = 2031-02-30\nkk = \"a\"\nru = \"b\"\nen = \"c\"\nreligious = false\n";
    assert!(matches!(load(text), Err(LoadError::Toml { .. })));
}

#[test]
fn rejects_date_with_time() {
    let text = "year = 2031\n[[holiday]]\ndate = 2031-03-08T10:00:00\nkk = \"a\"\nru = \"b\"\nen = \"c\"\nreligious = false\n";
    assert!(matches!(load(text), Err(LoadError::InvalidDate { .. })));
}

#[test]
fn rejects_unknown_field() {
    let text = "year = 2031\n[[holiday]]\ndate = 2031-03-08\nkk = \"a\"\nru = \"b\"\nen = \"c\"\nreligous = false\n";
    assert!(matches!(load(text), Err(LoadError::Toml { .. })));
}

#[test]
fn rejects_empty_name() {
    let text = "year = 2031\n[[holiday]]\ndate = 2031-03-08\nkk = \" \"\nru = \"b\"\nen = \"c\"\nreligious = false\n";
    assert!(matches!(
        load(text),
        Err(LoadError::EmptyName { field: "kk", .. })
    ));
}

#[test]
fn rejects_transfer_whose_working_day_is_not_a_weekend() {
    // 2031-04-02 is a Wednesday.
    let text = "year = 2031\n[[transfer]]\nday_off = 2031-04-04\nworking_day = 2031-04-02\ndecree = \"x\"\n";
    assert!(matches!(
        load(text),
        Err(LoadError::WorkingDayNotWeekend { .. })
    ));
}

#[test]
fn rejects_transfer_whose_day_off_is_a_weekend() {
    // 2031-04-05 is a Saturday, 2031-04-12 too.
    let text = "year = 2031\n[[transfer]]\nday_off = 2031-04-05\nworking_day = 2031-04-12\ndecree = \"x\"\n";
    assert!(matches!(
        load(text),
        Err(LoadError::DayOffNotWeekday { .. })
    ));
}

#[test]
fn rejects_transfer_without_decree() {
    let text = "year = 2031\n[[transfer]]\nday_off = 2031-04-04\nworking_day = 2031-04-12\ndecree = \"\"\n";
    assert!(matches!(load(text), Err(LoadError::EmptyDecree { .. })));
}

#[test]
fn rejects_transfer_day_off_on_a_holiday() {
    // 2031-03-07 is a Friday; make it both a holiday and a transfer day off.
    let text = "year = 2031\n[[holiday]]\ndate = 2031-03-07\nkk = \"a\"\nru = \"b\"\nen = \"c\"\nreligious = false\n[[transfer]]\nday_off = 2031-03-07\nworking_day = 2031-03-15\ndecree = \"x\"\n";
    assert!(matches!(load(text), Err(LoadError::Conflict { .. })));
}

#[test]
fn rejects_moved_day_off_for_unknown_holiday() {
    let text = "year = 2031\n[[moved_day_off]]\ndate = 2031-03-10\nholiday = 2031-03-08\n";
    assert!(matches!(load(text), Err(LoadError::UnknownHoliday { .. })));
}

#[test]
fn rejects_moved_day_off_for_religious_or_weekday_holiday() {
    let religious = "year = 2034\n[[holiday]]\ndate = 2034-01-07\nkk = \"a\"\nru = \"b\"\nen = \"c\"\nreligious = true\n[[moved_day_off]]\ndate = 2034-01-09\nholiday = 2034-01-07\n";
    assert!(matches!(
        load(religious),
        Err(LoadError::MoveNotAllowed { .. })
    ));
    // 2031-03-07 is a Friday.
    let weekday = "year = 2031\n[[holiday]]\ndate = 2031-03-07\nkk = \"a\"\nru = \"b\"\nen = \"c\"\nreligious = false\n[[moved_day_off]]\ndate = 2031-03-10\nholiday = 2031-03-07\n";
    assert!(matches!(
        load(weekday),
        Err(LoadError::MoveNotAllowed { .. })
    ));
}

#[test]
fn rejects_moved_day_off_on_a_weekend() {
    let text = format!(
        "year = 2031\n{WOMENS_DAY_2031}[[moved_day_off]]\ndate = 2031-03-09\nholiday = 2031-03-08\n"
    );
    assert!(matches!(
        load(&text),
        Err(LoadError::InvalidMovedDayOff { .. })
    ));
}
