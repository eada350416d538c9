//! Letters to the applicant (reg 5.3, 5.6; APPK art. 65, 76): one template per kind and
//! language, in the crate's `templates/` folder, compiled in. A template starts with a
//! `Subject:` line; `{{name}}` placeholders are filled from the letter's fields.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LetterKind {
    RegistrationCoupon,
    Redirection,
    Extension,
    Answer,
}

impl LetterKind {
    pub const ALL: [LetterKind; 4] = [
        LetterKind::RegistrationCoupon,
        LetterKind::Redirection,
        LetterKind::Extension,
        LetterKind::Answer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LetterKind::RegistrationCoupon => "registration_coupon",
            LetterKind::Redirection => "redirection",
            LetterKind::Extension => "extension",
            LetterKind::Answer => "answer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// An appeal gets one registration coupon, however often its registration is told;
    /// redirections, extensions and answers can each happen more than once.
    pub fn once_per_appeal(self) -> bool {
        matches!(self, LetterKind::RegistrationCoupon)
    }

    /// Placeholders the template of this kind uses.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            LetterKind::RegistrationCoupon => &["registration_number", "registered_at", "office"],
            LetterKind::Redirection => &[
                "registration_number",
                "registered_on",
                "to_body",
                "explanation",
            ],
            LetterKind::Extension => &[
                "registration_number",
                "due_date",
                "previous_due_date",
                "reason",
            ],
            LetterKind::Answer => &[
                "registration_number",
                "registered_on",
                "answer",
                "measures_taken",
                "lead_body",
            ],
        }
    }
}

fn template(kind: LetterKind, language: &str) -> &'static str {
    use LetterKind::*;
    match (kind, language) {
        (RegistrationCoupon, "kk") => include_str!("../../templates/registration_coupon.kk.txt"),
        (RegistrationCoupon, _) => include_str!("../../templates/registration_coupon.ru.txt"),
        (Redirection, "kk") => include_str!("../../templates/redirection.kk.txt"),
        (Redirection, _) => include_str!("../../templates/redirection.ru.txt"),
        (Extension, "kk") => include_str!("../../templates/extension.kk.txt"),
        (Extension, _) => include_str!("../../templates/extension.ru.txt"),
        (Answer, "kk") => include_str!("../../templates/answer.kk.txt"),
        (Answer, _) => include_str!("../../templates/answer.ru.txt"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedLetter {
    pub kind: LetterKind,
    /// `kk` or `ru`.
    pub language: &'static str,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("letter template {kind}: field {field} has no value")]
    MissingField { kind: &'static str, field: String },
    #[error("letter template {kind} has no Subject line")]
    NoSubject { kind: &'static str },
}

/// Fills the template for `kind` in the applicant's language (English falls back to
/// Russian). Every placeholder must have a value, so no letter leaves with `{{...}}` in it.
pub fn render(
    kind: LetterKind,
    language: &str,
    fields: &BTreeMap<&str, String>,
) -> Result<RenderedLetter, RenderError> {
    let language = super::letter_language(language);
    let text = template(kind, language);
    let filled = fill(text, fields).map_err(|field| RenderError::MissingField {
        kind: kind.as_str(),
        field,
    })?;
    let (first, rest) = filled.split_once('\n').unwrap_or((filled.as_str(), ""));
    let subject = first
        .strip_prefix("Subject:")
        .ok_or(RenderError::NoSubject {
            kind: kind.as_str(),
        })?
        .trim()
        .to_owned();
    Ok(RenderedLetter {
        kind,
        language,
        subject,
        body: rest.trim().to_owned() + "\n",
    })
}

/// Replaces `{{name}}`; a name without a value is an error naming it.
fn fill(text: &str, fields: &BTreeMap<&str, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = after[..end].trim();
        let value = fields.get(name).ok_or_else(|| name.to_owned())?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_registration_coupon_is_sent_once_per_appeal() {
        let once: Vec<LetterKind> = LetterKind::ALL
            .into_iter()
            .filter(|k| k.once_per_appeal())
            .collect();
        assert_eq!(once, [LetterKind::RegistrationCoupon]);
    }

    fn all_fields(kind: LetterKind) -> BTreeMap<&'static str, String> {
        kind.fields()
            .iter()
            .map(|f| (*f, format!("<{f}>")))
            .collect()
    }

    #[test]
    fn every_template_renders_in_both_languages_with_its_fields() {
        for kind in LetterKind::ALL {
            for lang in ["kk", "ru"] {
                let l = render(kind, lang, &all_fields(kind)).unwrap();
                assert!(!l.subject.is_empty());
                assert!(!l.body.contains("{{"), "{kind:?} {lang}");
                for f in kind.fields() {
                    assert!(
                        l.subject.contains(&format!("<{f}>")) || l.body.contains(&format!("<{f}>")),
                        "{kind:?} {lang} does not use {f}"
                    );
                }
            }
        }
    }

    #[test]
    fn english_uses_the_russian_template() {
        let f = all_fields(LetterKind::Answer);
        let en = render(LetterKind::Answer, "en", &f).unwrap();
        let ru = render(LetterKind::Answer, "ru", &f).unwrap();
        assert_eq!(en, ru);
        assert_eq!(en.language, "ru");
        let kk = render(LetterKind::Answer, "kk", &f).unwrap();
        assert!(kk.body.contains("Құрметті"));
    }

    #[test]
    fn a_missing_field_is_an_error() {
        let mut f = all_fields(LetterKind::Extension);
        f.remove("reason");
        assert_eq!(
            render(LetterKind::Extension, "ru", &f),
            Err(RenderError::MissingField {
                kind: "extension",
                field: "reason".into()
            })
        );
    }

    #[test]
    fn kinds_round_trip() {
        for k in LetterKind::ALL {
            assert_eq!(LetterKind::parse(k.as_str()), Some(k));
        }
    }
}
