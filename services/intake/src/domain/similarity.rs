//! Repeat detection: an appeal from the same applicant on a similar subject within a window
//! is linked to the earlier one. Similarity is the Jaccard index of crude word stems, which
//! works across Kazakh and Russian inflection without a dictionary.

use std::collections::BTreeSet;

/// Stems of the words of `text`: lower-cased, letters and digits only, words shorter than
/// three characters dropped, the rest cut to six characters.
pub fn stems(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(|w| w.to_lowercase().chars().take(6).collect())
        .collect()
}

pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let common = a.intersection(b).count();
    common as f64 / (a.len() + b.len() - common) as f64
}

/// The most similar earlier appeal at or above `threshold`, by its index in `earlier`.
pub fn most_similar<'a>(
    text: &str,
    earlier: impl IntoIterator<Item = &'a str>,
    threshold: f64,
) -> Option<(usize, f64)> {
    let current = stems(text);
    earlier
        .into_iter()
        .enumerate()
        .map(|(i, t)| (i, jaccard(&current, &stems(t))))
        .filter(|(_, score)| *score >= threshold)
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn inflected_russian_repeats_match() {
        let first = "Прошу отремонтировать дорогу на улице Абая в селе Талгар, ямы на дороге";
        let second =
            "Повторно прошу отремонтировать дороги на улице Абая в Талгаре, ямы не засыпаны";
        let other = "Не вывозят мусор во дворе дома, контейнеры переполнены";
        let (idx, score) = most_similar(second, [other, first], 0.3).unwrap();
        assert_eq!(idx, 1);
        assert!(score > 0.3);
    }

    #[test]
    fn kazakh_repeats_match() {
        let a = "Ауылымызда ауыз су жоқ, су құбырын жөндеуді сұраймыз";
        let b = "Тағы да сұраймыз: ауылымызда ауыз су жоқ, су құбыры бұзылған";
        assert!(jaccard(&stems(a), &stems(b)) >= 0.4);
    }

    #[test]
    fn unrelated_texts_do_not_match() {
        assert!(most_similar("Отопление не работает", ["Детский сад очередь"], 0.3).is_none());
    }

    proptest! {
        #[test]
        fn jaccard_is_bounded_and_symmetric(a in "\\PC{0,60}", b in "\\PC{0,60}") {
            let (sa, sb) = (stems(&a), stems(&b));
            let j = jaccard(&sa, &sb);
            prop_assert!((0.0..=1.0).contains(&j));
            prop_assert!((j - jaccard(&sb, &sa)).abs() < 1e-12);
        }
    }
}
