//! Text normalisation shared by the classifier and the duplicate detector. Kazakh texts
//! are often typed without the Kazakh letters (`жумыс` for `жұмыс`, `кошеде` for
//! `көшеде`), so Kazakh-specific letters are folded onto their nearest Russian ones.

/// Lower-cases, folds `ё` and the Kazakh-specific letters, keeps everything else.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ё' => 'е',
            'ә' => 'а',
            'ғ' => 'г',
            'қ' => 'к',
            'ң' => 'н',
            'ө' => 'о',
            'ұ' | 'ү' => 'у',
            'һ' => 'х',
            'і' => 'и',
            other => other,
        })
        .collect()
}

/// Words of a folded text: runs of letters and digits.
pub fn words(s: &str) -> Vec<String> {
    fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_kazakh_letters_and_case() {
        assert_eq!(fold("Жұмыс КӨШЕДЕ ёлка"), "жумыс кошеде елка");
        assert_eq!(
            fold("Әкім Ғимарат Қала Іле Үй Һ"),
            "аким гимарат кала иле уй х"
        );
    }

    #[test]
    fn splits_words_on_punctuation() {
        assert_eq!(words("Су жоқ!!! 3-күн"), vec!["су", "жок", "3", "кун"]);
    }

    proptest::proptest! {
        #[test]
        fn fold_is_idempotent(s in "\\PC{0,40}") {
            let once = fold(&s);
            proptest::prop_assert_eq!(fold(&once), once.clone());
        }
    }
}
