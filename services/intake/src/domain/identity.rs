//! Kazakhstan's individual and business identification numbers (IIN / BIN): 12 digits, the
//! last a check digit computed with two weight sequences modulo 11.

/// Why a number is not a valid IIN or BIN; the message never repeats the number itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be exactly 12 digits")]
    Format,
    #[error("check digit does not match")]
    CheckDigit,
    #[error("encodes an impossible date")]
    Date,
    #[error("encodes an unknown type of entity")]
    EntityType,
}

fn digits(s: &str) -> Result<[u8; 12], IdError> {
    let bytes = s.as_bytes();
    if bytes.len() != 12 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(IdError::Format);
    }
    let mut d = [0u8; 12];
    for (i, b) in bytes.iter().enumerate() {
        d[i] = b - b'0';
    }
    Ok(d)
}

/// The check digit of the first 11 digits, or `None` when the algorithm yields 10 twice
/// (such numbers are never issued).
pub fn check_digit(d: &[u8; 12]) -> Option<u8> {
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

/// IIN: YYMMDD of birth, a century-and-sex digit (1–6), four serial digits, a check digit.
pub fn validate_iin(s: &str) -> Result<(), IdError> {
    let d = digits(s)?;
    let month = d[2] * 10 + d[3];
    let day = d[4] * 10 + d[5];
    let century = match d[6] {
        1 | 2 => 1800,
        3 | 4 => 1900,
        5 | 6 => 2000,
        _ => return Err(IdError::Date),
    };
    let year = century + i32::from(d[0] * 10 + d[1]);
    if chrono::NaiveDate::from_ymd_opt(year, u32::from(month), u32::from(day)).is_none() {
        return Err(IdError::Date);
    }
    match check_digit(&d) {
        Some(c) if c == d[11] => Ok(()),
        _ => Err(IdError::CheckDigit),
    }
}

/// BIN: YYMM of registration, entity type (4 resident, 5 non-resident legal entity,
/// 6 individual entrepreneur), an attribute digit (0–3), five serial digits, a check digit.
pub fn validate_bin(s: &str) -> Result<(), IdError> {
    let d = digits(s)?;
    let month = d[2] * 10 + d[3];
    if !(1..=12).contains(&month) {
        return Err(IdError::Date);
    }
    if !matches!(d[4], 4..=6) || d[5] > 3 {
        return Err(IdError::EntityType);
    }
    match check_digit(&d) {
        Some(c) if c == d[11] => Ok(()),
        _ => Err(IdError::CheckDigit),
    }
}

/// Completes 11 digits with their check digit; `None` when no check digit exists.
/// Used by tests, the load generator and demo data to make valid numbers.
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_valid_iin() {
        // 1 Jan 1990, male born 1900s: 900101 3 0123 + check digit.
        let iin = with_check_digit("90010130123").unwrap();
        assert_eq!(validate_iin(&iin), Ok(()));
        let mut wrong = iin.clone().into_bytes();
        wrong[11] = b'0' + ((wrong[11] - b'0' + 1) % 10);
        assert_eq!(
            validate_iin(std::str::from_utf8(&wrong).unwrap()),
            Err(IdError::CheckDigit)
        );
    }

    #[test]
    fn second_weight_sequence_is_used_when_first_gives_ten() {
        // Find an 11-digit prefix whose first sum is 10 and check the second sequence applies.
        let prefix = (0..100_000u32)
            .map(|n| format!("850615{:01}{:04}", 3 + n % 2, n % 10_000))
            .find(|p| {
                let mut d = [0u8; 12];
                for (i, b) in p.bytes().enumerate() {
                    d[i] = b - b'0';
                }
                (0..11)
                    .map(|i| u32::from(d[i]) * (i as u32 + 1))
                    .sum::<u32>()
                    % 11
                    == 10
            })
            .unwrap();
        if let Some(iin) = with_check_digit(&prefix) {
            assert_eq!(validate_iin(&iin), Ok(()));
        }
    }

    #[test]
    fn rejects_bad_format_and_dates() {
        assert_eq!(validate_iin("12345"), Err(IdError::Format));
        assert_eq!(validate_iin("9001013012a4"), Err(IdError::Format));
        assert_eq!(validate_iin("٩٠٠١٠١٣٠١٢٣٤"), Err(IdError::Format));
        let feb30 = with_check_digit("90023030123").unwrap_or_else(|| "900230301230".into());
        assert_eq!(validate_iin(&feb30), Err(IdError::Date));
        let century9 = "900101901234";
        assert_eq!(validate_iin(century9), Err(IdError::Date));
    }

    #[test]
    fn bin_rules() {
        let bin = with_check_digit("05064000123").unwrap();
        assert_eq!(validate_bin(&bin), Ok(()));
        let bad_type = with_check_digit("05061000123").unwrap();
        assert_eq!(validate_bin(&bad_type), Err(IdError::EntityType));
        let bad_month = with_check_digit("05134000123").unwrap();
        assert_eq!(validate_bin(&bad_month), Err(IdError::Date));
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(s in "\\PC*") {
            let _ = validate_iin(&s);
            let _ = validate_bin(&s);
        }

        #[test]
        fn a_completed_number_has_a_valid_check_digit(prefix in "[0-9]{11}") {
            if let Some(full) = with_check_digit(&prefix) {
                let d = digits(&full).unwrap();
                prop_assert_eq!(check_digit(&d), Some(d[11]));
            }
        }
    }
}
