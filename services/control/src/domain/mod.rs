//! Control's domain rules as pure functions and types: no I/O.

pub mod audit;
pub mod calendar_data;
pub mod deadline;
pub mod letters;
pub mod policy;
pub mod status;

use chrono::NaiveDate;

/// Parses an ISO date (`2026-03-18`).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// Language of letters: Kazakh or Russian; anything else (English, unknown) falls back to
/// Russian, the other official language.
pub fn letter_language(language: &str) -> &'static str {
    match language.trim().to_ascii_lowercase().as_str() {
        "kk" | "kz" | "kaz" => "kk",
        _ => "ru",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_letters_fall_back_to_russian() {
        assert_eq!(letter_language("kk"), "kk");
        assert_eq!(letter_language("ru"), "ru");
        assert_eq!(letter_language("en"), "ru");
        assert_eq!(letter_language(""), "ru");
    }

    #[test]
    fn parses_iso_dates_only() {
        assert_eq!(
            parse_date("2026-03-18"),
            NaiveDate::from_ymd_opt(2026, 3, 18)
        );
        assert_eq!(parse_date("18.03.2026"), None);
    }
}
