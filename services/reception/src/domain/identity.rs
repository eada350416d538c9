//! The visitor's identification number (IIN: 12 digits, the last a check digit computed
//! with two weight sequences modulo 11) and phone. Intake checks the same rules when an
//! appeal is registered; checking them at booking spares the visitor a refusal on the day.

/// Why a number is not a valid IIN; the message never repeats the number itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IinError {
    #[error("must be exactly 12 digits")]
    Format,
    #[error("check digit does not match")]
    CheckDigit,
    #[error("encodes an impossible date of birth")]
    Date,
}

fn check_digit(d: &[u8; 12]) -> Option<u8> {
    let first: u32 = (0..11)
        .map(|i| u32::from(d[i]) * (i as u32 + 1))
        .sum::<u32>()
        % 11;
    if first != 10 {
        return Some(first as u8);
    }
    const SECOND: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
    let second: u32 = (0..11).map(|i| u32::from(d[i]) * SECOND[i]).sum::<u32>() % 11;
    (second != 10).then_some(second as u8)
}

/// IIN: YYMMDD of birth, a century-and-sex digit (1-6), four serial digits, a check digit.
pub fn validate_iin(s: &str) -> Result<(), IinError> {
    let bytes = s.as_bytes();
    if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(IinError::Format);
    }
    let mut d = [0u8; 12];
    for (i, b) in bytes.iter().enumerate() {
        d[i] = b - b'0';
    }
    let century = match d[6] {
        1 | 2 => 1800,
        3 | 4 => 1900,
        5 | 6 => 2000,
        _ => return Err(IinError::Date),
    };
    let year = century + i32::from(d[0] * 10 + d[1]);
    let (month, day) = (u32::from(d[2] * 10 + d[3]), u32::from(d[4] * 10 + d[5]));
    if chrono::NaiveDate::from_ymd_opt(year, month, day).is_none() {
        return Err(IinError::Date);
    }
    match check_digit(&d) {
        Some(c) if c == d[11] => Ok(()),
        _ => Err(IinError::CheckDigit),
    }
}

/// Completes 11 digits with their check digit (demo data and tests).
pub fn with_check_digit(first11: &str) -> Option<String> {
    if first11.len() != 11 || !first11.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut d = [0u8; 12];
    for (i, b) in first11.bytes().enumerate() {
        d[i] = b - b'0';
    }
    check_digit(&d).map(|c| format!("{first11}{c}"))
}

/// `+7XXXXXXXXXX`, spaces, dashes and brackets allowed.
pub fn is_phone(s: &str) -> bool {
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    digits.len() == 12
        && digits.starts_with("+7")
        && digits[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_iin_passes_and_a_changed_check_digit_fails() {
        let iin = with_check_digit("90010130123").unwrap();
        assert_eq!(validate_iin(&iin), Ok(()));
        let mut wrong = iin.into_bytes();
        wrong[11] = b'0' + ((wrong[11] - b'0' + 1) % 10);
        assert_eq!(
            validate_iin(std::str::from_utf8(&wrong).unwrap()),
            Err(IinError::CheckDigit)
        );
        assert_eq!(validate_iin("12345"), Err(IinError::Format));
        assert_eq!(validate_iin("901301300123"), Err(IinError::Date));
    }

    #[test]
    fn phones() {
        assert!(is_phone("+7 701 555-00-00"));
        assert!(!is_phone("87015550000"));
        assert!(!is_phone("+7701"));
    }

    proptest! {
        #[test]
        fn completed_numbers_with_a_real_birth_date_validate(serial in 0u32..10_000) {
            if let Some(iin) = with_check_digit(&format!("8505054{serial:04}")) {
                prop_assert_eq!(validate_iin(&iin), Ok(()));
            }
        }
    }
}
