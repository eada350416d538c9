//! Which district (or city of regional significance) an appeal comes from. Intake passes
//! the locality as the applicant or registrar gave it: `district` may be a district code of
//! bodies.toml (`talgar`), a KATO code, or a name in Kazakh or Russian ("Талғар ауданы",
//! "Талгарский р-н", "г. Конаев"); `kato` may hold the KATO code of the district or of a
//! rural district inside it.

use super::reference::District;
use super::text::fold;

/// The district code for an appeal's locality, if any part of it identifies one.
pub fn resolve_district(districts: &[District], district: &str, kato: &str) -> Option<String> {
    let district = district.trim();
    let kato = kato.trim();
    if !district.is_empty() {
        if let Some(d) = districts
            .iter()
            .find(|d| d.code.eq_ignore_ascii_case(district))
        {
            return Some(d.code.clone());
        }
        if let Some(d) = by_kato(districts, district) {
            return Some(d);
        }
        if let Some(d) = by_name(districts, district) {
            return Some(d);
        }
    }
    if !kato.is_empty() {
        return by_kato(districts, kato);
    }
    None
}

/// KATO codes are 9 digits: 2 for the region, 2 for the district or city, then lower
/// levels. A district's own code ends in zeros, so its first four digits identify it.
fn by_kato(districts: &[District], code: &str) -> Option<String> {
    if code.len() != 9 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    districts
        .iter()
        .find(|d| {
            d.kato
                .as_deref()
                .is_some_and(|k| k.len() == 9 && k[..4] == code[..4])
        })
        .map(|d| d.code.clone())
}

/// Words that say "district", "city" and the like, dropped before comparing names.
const UNIT_WORDS: &[&str] = &[
    "ауданы",
    "аудан",
    "ауд",
    "район",
    "р",
    "рн",
    "р-н",
    "қаласы",
    "каласы",
    "қала",
    "кала",
    "қ",
    "к",
    "город",
    "г",
    "гор",
    "district",
    "city",
    "облысы",
    "область",
    "обл",
];

fn name_key(s: &str) -> String {
    let folded = fold(s);
    folded
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty() && !UNIT_WORDS.contains(&w.trim_matches('-')))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Russian district names are adjectives ("Талгарский"), Kazakh and English use the
/// place name ("Талғар", "Talgar"); the common stem is compared after folding, so
/// "Талгарский район" matches "Талғар ауданы".
fn stem(key: &str) -> String {
    const SUFFIXES: &[&str] = &["ский", "ской", "ского", "скому", "ском", "ий", "ый"];
    let mut s = key.to_owned();
    for suffix in SUFFIXES {
        if let Some(stripped) = s.strip_suffix(suffix)
            && stripped.chars().count() >= 3
        {
            s = stripped.to_owned();
            break;
        }
    }
    // "Илий(ский)" and "Іле" differ only in the final vowel.
    s.trim_end_matches(|c: char| "аеиоуыэюяйь".contains(c))
        .to_owned()
}

fn by_name(districts: &[District], given: &str) -> Option<String> {
    let key = name_key(given);
    if key.is_empty() {
        return None;
    }
    let given_stem = stem(&key);
    if given_stem.chars().count() < 2 {
        return None;
    }
    let mut by_centre = None;
    for d in districts {
        for n in [&d.names.kk, &d.names.ru, &d.names.en] {
            let k = name_key(n);
            if !k.is_empty() && (k == key || stem(&k) == given_stem) {
                return Some(d.code.clone());
            }
        }
        // A district's administrative centre ("Есик") stands for the district when no
        // district has that name itself.
        for n in [&d.centre.kk, &d.centre.ru, &d.centre.en] {
            if by_centre.is_none() && !n.is_empty() && name_key(n) == key {
                by_centre = Some(d.code.clone());
            }
        }
    }
    by_centre
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reference::{embedded, parse_bodies};

    fn districts() -> Vec<District> {
        parse_bodies(embedded::BODIES).unwrap().districts
    }

    fn r(d: &str, k: &str) -> Option<String> {
        resolve_district(&districts(), d, k)
    }

    #[test]
    fn by_code() {
        assert_eq!(r("talgar", "").as_deref(), Some("talgar"));
        assert_eq!(r(" Karasay ", "").as_deref(), Some("karasay"));
    }

    #[test]
    fn by_kato_of_district_or_rural_district() {
        assert_eq!(r("196200000", "").as_deref(), Some("talgar"));
        assert_eq!(r("", "196200000").as_deref(), Some("talgar"));
        // Shengeldy rural district of Konaev.
        assert_eq!(r("", "191037000").as_deref(), Some("konaev"));
        assert_eq!(r("", "999999999"), None);
        assert_eq!(r("", "1962"), None);
    }

    #[test]
    fn by_kazakh_and_russian_names() {
        assert_eq!(r("Талғар ауданы", "").as_deref(), Some("talgar"));
        assert_eq!(r("Талгарский район", "").as_deref(), Some("talgar"));
        assert_eq!(r("Талгар", "").as_deref(), Some("talgar"));
        assert_eq!(
            r("Енбекшиказахский р-н", "").as_deref(),
            Some("enbekshikazakh")
        );
        assert_eq!(
            r("Еңбекшіқазақ ауданы", "").as_deref(),
            Some("enbekshikazakh")
        );
        assert_eq!(r("г. Конаев", "").as_deref(), Some("konaev"));
        assert_eq!(r("Қонаев қаласы", "").as_deref(), Some("konaev"));
        assert_eq!(r("Илийский район", "").as_deref(), Some("ile"));
        assert_eq!(r("Іле ауданы", "").as_deref(), Some("ile"));
        assert_eq!(r("Уйгурский район", "").as_deref(), Some("uigur"));
        assert_eq!(r("Ұйғыр ауданы", "").as_deref(), Some("uigur"));
        assert_eq!(r("Karasay District", "").as_deref(), Some("karasay"));
    }

    #[test]
    fn by_administrative_centre() {
        assert_eq!(r("Есик", "").as_deref(), Some("enbekshikazakh"));
        assert_eq!(r("Қаскелең", "").as_deref(), Some("karasay"));
    }

    #[test]
    fn unknown_or_empty() {
        assert_eq!(r("", ""), None);
        assert_eq!(r("Астана", ""), None);
        assert_eq!(r("район", ""), None);
    }

    #[test]
    fn name_falls_back_to_kato() {
        assert_eq!(r("неизвестно", "196800000").as_deref(), Some("ile"));
    }
}
