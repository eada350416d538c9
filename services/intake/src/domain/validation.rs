//! Pre-review of an appeal (reg 5.1): completeness rules by kind and channel, each problem
//! naming its field. Incomplete appeals are refused before registration; an anonymous
//! appeal is registered and then declined unless it reports corruption.

use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::identity::{IdError, validate_bin, validate_iin};
use super::{AppealKind, Applicant, Channel, FieldIssue, NewAppeal};

/// Limits and rules that are policy, not code: configurable per deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PreReviewPolicy {
    pub max_text_chars: usize,
    pub max_subject_chars: usize,
    pub max_attachments: usize,
    pub max_attachment_bytes: usize,
    pub max_total_attachment_bytes: usize,
    pub allowed_media_types: Vec<String>,
    pub max_co_signatories: usize,
}

impl Default for PreReviewPolicy {
    fn default() -> Self {
        Self {
            max_text_chars: 50_000,
            max_subject_chars: 500,
            max_attachments: 20,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_total_attachment_bytes: 25 * 1024 * 1024,
            allowed_media_types: [
                "application/pdf",
                "image/jpeg",
                "image/png",
                "image/tiff",
                "text/plain",
                "application/msword",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.oasis.opendocument.text",
                "application/vnd.ms-excel",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "video/mp4",
                "audio/mpeg",
            ]
            .map(String::from)
            .to_vec(),
            max_co_signatories: 10_000,
        }
    }
}

/// What pre-review decided for a complete appeal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Register and send on for routing.
    Accept,
    /// Register, then decline with these reasons (the register keeps every appeal).
    Decline(Vec<FieldIssue>),
}

/// Checks completeness and form. `Err` lists every problem found; the appeal is not
/// registered.
pub fn pre_review(
    appeal: &NewAppeal,
    policy: &PreReviewPolicy,
) -> Result<Verdict, Vec<FieldIssue>> {
    let mut issues = Vec::new();
    let kind = appeal.kind;
    if kind.is_none() {
        issues.push(required(
            "kind",
            "kind of appeal (application, report, feedback, proposal, request, complaint)",
        ));
    }
    let channel = appeal.channel;
    if channel.is_none() {
        issues.push(required(
            "channel",
            "channel (paper_post, paper_in_person, electronic, reception, external)",
        ));
    }
    if appeal.language.is_none() {
        issues.push(required("language", "language (kk, ru or en)"));
    }
    check_text(appeal, policy, kind, &mut issues);

    if appeal.anonymous {
        if appeal.applicant.is_some() {
            issues.push(FieldIssue::new(
                "applicant",
                "conflict",
                "an anonymous appeal must not name an applicant",
            ));
        }
    } else {
        match &appeal.applicant {
            None => issues.push(required(
                "applicant",
                "applicant (individual or legal entity), or anonymous = true",
            )),
            Some(applicant) => check_applicant(applicant, channel, &mut issues),
        }
        if appeal.locality.district.trim().is_empty() && appeal.locality.kato.trim().is_empty() {
            issues.push(required(
                "locality.district",
                "district (or KATO code) the appeal concerns",
            ));
        }
    }
    let kato = &appeal.locality.kato;
    if !kato.is_empty() && (kato.len() != 9 || !kato.bytes().all(|b| b.is_ascii_digit())) {
        issues.push(FieldIssue::new(
            "locality.kato",
            "invalid",
            "KATO code must be 9 digits",
        ));
    }
    // A bounding box of Kazakhstan; NaN and infinities fall outside it too.
    if let Some(p) = appeal.location
        && !((40.0..=56.0).contains(&p.lat) && (46.0..=88.0).contains(&p.lon))
    {
        issues.push(FieldIssue::new(
            "location",
            "out_of_range",
            "coordinates must lie within Kazakhstan",
        ));
    }
    check_channel(appeal, channel, &mut issues);
    check_co_signatories(appeal, policy, &mut issues);
    check_attachments(appeal, policy, &mut issues);
    check_storable(appeal, &mut issues);
    if !appeal.repeated_of.is_empty()
        && super::registration::parse_number(&appeal.repeated_of).is_none()
    {
        issues.push(FieldIssue::new(
            "repeated_of",
            "invalid",
            "must be a registration number like ALM-2026-000123",
        ));
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    if appeal.anonymous && !appeal.corruption_report {
        return Ok(Verdict::Decline(vec![FieldIssue::new(
            "anonymous",
            "anonymous_not_considered",
            "anonymous appeals are not considered, except reports of corruption",
        )]));
    }
    Ok(Verdict::Accept)
}

fn required(field: &str, what: &str) -> FieldIssue {
    FieldIssue::new(field, "required", format!("required: {what}"))
}

fn check_text(
    appeal: &NewAppeal,
    policy: &PreReviewPolicy,
    kind: Option<AppealKind>,
    issues: &mut Vec<FieldIssue>,
) {
    let text_chars = appeal.text.chars().count();
    if appeal.text.trim().is_empty() {
        issues.push(required("text", "the substance of the appeal"));
    } else if text_chars > policy.max_text_chars {
        issues.push(FieldIssue::new(
            "text",
            "too_long",
            format!(
                "at most {} characters, got {text_chars}",
                policy.max_text_chars
            ),
        ));
    }
    if has_control_chars(&appeal.text) {
        issues.push(FieldIssue::new(
            "text",
            "invalid",
            "contains control characters",
        ));
    }
    let subject_chars = appeal.subject.chars().count();
    if subject_chars > policy.max_subject_chars {
        issues.push(FieldIssue::new(
            "subject",
            "too_long",
            format!(
                "at most {} characters, got {subject_chars}",
                policy.max_subject_chars
            ),
        ));
    }
    // A complaint must say which decision or action it contests; a request, what it asks.
    if matches!(
        kind,
        Some(AppealKind::Complaint) | Some(AppealKind::Request)
    ) && appeal.subject.trim().is_empty()
    {
        let what = if kind == Some(AppealKind::Complaint) {
            "the decision, action or inaction complained about"
        } else {
            "the information requested"
        };
        issues.push(required("subject", what));
    }
}

/// Limits every other text field, and refuses what the register cannot store: U+0000
/// (PostgreSQL text cannot hold it; found by the hostile-input suite, where a NUL in the
/// subject came back as INTERNAL) and a time outside protobuf's Timestamp range
/// (years 1–9999).
fn check_storable(appeal: &NewAppeal, issues: &mut Vec<FieldIssue>) {
    const SHORT: usize = 1_000;
    let mut fields: Vec<(String, &str, usize)> = vec![
        ("source".into(), &appeal.source, SHORT),
        ("external_id".into(), &appeal.external_id, SHORT),
        ("repeated_of".into(), &appeal.repeated_of, SHORT),
        ("addressee".into(), &appeal.addressee, SHORT),
        ("locality.kato".into(), &appeal.locality.kato, SHORT),
        ("locality.region".into(), &appeal.locality.region, SHORT),
        ("locality.district".into(), &appeal.locality.district, SHORT),
        (
            "locality.rural_district".into(),
            &appeal.locality.rural_district,
            SHORT,
        ),
        ("subject".into(), &appeal.subject, usize::MAX),
        ("text".into(), &appeal.text, usize::MAX),
    ];
    match &appeal.applicant {
        Some(Applicant::Individual(p)) => fields.extend([
            ("applicant.iin".into(), p.iin.as_str(), SHORT),
            ("applicant.full_name".into(), &p.full_name, SHORT),
            ("applicant.phone".into(), &p.phone, SHORT),
            ("applicant.email".into(), &p.email, SHORT),
            ("applicant.address".into(), &p.address, SHORT),
        ]),
        Some(Applicant::LegalEntity(e)) => fields.extend([
            ("applicant.bin".into(), e.bin.as_str(), SHORT),
            ("applicant.name".into(), &e.name, SHORT),
            (
                "applicant.representative.full_name".into(),
                &e.representative.full_name,
                SHORT,
            ),
            (
                "applicant.representative.iin".into(),
                &e.representative.iin,
                SHORT,
            ),
            (
                "applicant.representative.position".into(),
                &e.representative.position,
                SHORT,
            ),
            ("applicant.phone".into(), &e.phone, SHORT),
            ("applicant.email".into(), &e.email, SHORT),
            ("applicant.address".into(), &e.address, SHORT),
        ]),
        None => {}
    }
    for (i, s) in appeal.co_signatories.iter().enumerate() {
        fields.push((
            format!("co_signatories[{i}].full_name"),
            &s.full_name,
            SHORT,
        ));
        fields.push((format!("co_signatories[{i}].iin"), &s.iin, SHORT));
    }
    for (i, a) in appeal.attachments.iter().enumerate() {
        fields.push((format!("attachments[{i}].media_type"), &a.media_type, SHORT));
        fields.push((format!("attachments[{i}].sha256"), &a.sha256, SHORT));
        fields.push((format!("attachments[{i}].name"), &a.name, SHORT));
    }
    if let Some(o) = &appeal.received_by {
        fields.push(("received_by.full_name".into(), &o.full_name, SHORT));
        fields.push(("received_by.position".into(), &o.position, SHORT));
    }
    for (field, value, max) in fields {
        // A field pre-review already named (e.g. control characters in the text) once.
        if issues.iter().any(|i| i.field == field) {
            continue;
        }
        if value.contains('\0') {
            issues.push(FieldIssue::new(
                field,
                "invalid",
                "contains a NUL character",
            ));
        } else if max != usize::MAX && value.chars().count() > max {
            issues.push(FieldIssue::new(
                field,
                "too_long",
                format!("at most {max} characters"),
            ));
        }
    }
    if let Some(t) = appeal.received_at
        && !(1..=9999).contains(&chrono::Datelike::year(&t))
    {
        issues.push(FieldIssue::new(
            "received_at",
            "out_of_range",
            "must lie between years 1 and 9999",
        ));
    }
}

fn has_control_chars(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

fn check_applicant(applicant: &Applicant, channel: Option<Channel>, issues: &mut Vec<FieldIssue>) {
    let (phone, email, address) = match applicant {
        Applicant::Individual(p) => {
            check_id("applicant.iin", &p.iin, validate_iin, issues);
            check_name("applicant.full_name", &p.full_name, issues);
            (&p.phone, &p.email, &p.address)
        }
        Applicant::LegalEntity(e) => {
            check_id("applicant.bin", &e.bin, validate_bin, issues);
            check_name("applicant.name", &e.name, issues);
            check_name(
                "applicant.representative.full_name",
                &e.representative.full_name,
                issues,
            );
            check_id(
                "applicant.representative.iin",
                &e.representative.iin,
                validate_iin,
                issues,
            );
            (&e.phone, &e.email, &e.address)
        }
    };
    if !phone.is_empty() && !is_phone(phone) {
        issues.push(FieldIssue::new(
            "applicant.phone",
            "invalid",
            "phone must look like +7XXXXXXXXXX",
        ));
    }
    if !email.is_empty() && !is_email(email) {
        issues.push(FieldIssue::new(
            "applicant.email",
            "invalid",
            "not an e-mail address",
        ));
    }
    // The answer must be able to reach the applicant (reg 5.6).
    match channel {
        Some(Channel::PaperPost) if address.trim().is_empty() => {
            issues.push(required(
                "applicant.address",
                "postal address for the answer to a posted appeal",
            ));
        }
        Some(_)
            if address.trim().is_empty() && email.trim().is_empty() && phone.trim().is_empty() =>
        {
            issues.push(required(
                "applicant.address",
                "an address, e-mail or phone for the answer",
            ));
        }
        _ => {}
    }
}

fn check_id(
    field: &str,
    value: &str,
    validate: fn(&str) -> Result<(), IdError>,
    issues: &mut Vec<FieldIssue>,
) {
    if value.is_empty() {
        issues.push(required(field, "12-digit identification number"));
        return;
    }
    if let Err(e) = validate(value) {
        let code = match e {
            IdError::Format => "invalid_format",
            IdError::CheckDigit => "invalid_checksum",
            IdError::Date => "invalid_date",
            IdError::EntityType => "invalid_entity_type",
        };
        issues.push(FieldIssue::new(field, code, e.to_string()));
    }
}

fn check_name(field: &str, value: &str, issues: &mut Vec<FieldIssue>) {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        issues.push(required(field, "name"));
    } else if trimmed.chars().count() > 300 || has_control_chars(trimmed) {
        issues.push(FieldIssue::new(
            field,
            "invalid",
            "at most 300 printable characters",
        ));
    }
}

fn is_phone(s: &str) -> bool {
    let digits: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    digits.len() == 12
        && digits.starts_with("+7")
        && digits[1..].bytes().all(|b| b.is_ascii_digit())
}

fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && s.len() <= 254
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn check_channel(appeal: &NewAppeal, channel: Option<Channel>, issues: &mut Vec<FieldIssue>) {
    match channel {
        Some(Channel::External) => {
            if appeal.source.trim().is_empty() {
                issues.push(required("source", "sending system, e.g. urn:kz:eotinish"));
            }
            if appeal.external_id.trim().is_empty() {
                issues.push(required(
                    "external_id",
                    "the sending system's own reference",
                ));
            }
        }
        // reg 5.1: an electronic appeal is signed with an electronic digital signature.
        Some(Channel::Electronic) if appeal.signature.is_none() && !appeal.anonymous => {
            issues.push(required(
                "signature",
                "CMS electronic digital signature of an electronic appeal",
            ));
        }
        // The coupon names the officer who received a paper or reception appeal.
        Some(Channel::PaperPost | Channel::PaperInPerson | Channel::Reception) => {
            let officer = appeal.received_by.as_ref();
            if officer.is_none_or(|o| o.full_name.trim().is_empty()) {
                issues.push(required(
                    "received_by.full_name",
                    "officer who received the appeal",
                ));
            }
            if officer.is_none_or(|o| o.position.trim().is_empty()) {
                issues.push(required(
                    "received_by.position",
                    "position of the receiving officer",
                ));
            }
        }
        _ => {}
    }
    if channel != Some(Channel::External)
        && !appeal.external_id.is_empty()
        && appeal.source.is_empty()
    {
        issues.push(required("source", "sending system of the external_id"));
    }
}

fn check_co_signatories(
    appeal: &NewAppeal,
    policy: &PreReviewPolicy,
    issues: &mut Vec<FieldIssue>,
) {
    if appeal.co_signatories.len() > policy.max_co_signatories {
        issues.push(FieldIssue::new(
            "co_signatories",
            "too_many",
            format!("at most {}", policy.max_co_signatories),
        ));
        return;
    }
    for (i, s) in appeal.co_signatories.iter().enumerate() {
        check_name(
            &format!("co_signatories[{i}].full_name"),
            &s.full_name,
            issues,
        );
        if !s.iin.is_empty() {
            check_id(
                &format!("co_signatories[{i}].iin"),
                &s.iin,
                validate_iin,
                issues,
            );
        }
    }
}

fn check_attachments(appeal: &NewAppeal, policy: &PreReviewPolicy, issues: &mut Vec<FieldIssue>) {
    if appeal.attachments.len() > policy.max_attachments {
        issues.push(FieldIssue::new(
            "attachments",
            "too_many",
            format!("at most {} attachments", policy.max_attachments),
        ));
        return;
    }
    let mut total = 0usize;
    for (i, a) in appeal.attachments.iter().enumerate() {
        let field = |f: &str| format!("attachments[{i}].{f}");
        if a.name.trim().is_empty()
            || a.name.chars().count() > 255
            || has_control_chars(&a.name)
            || a.name.contains(['/', '\\'])
        {
            issues.push(FieldIssue::new(
                field("name"),
                "invalid",
                "a file name of 1 to 255 characters, without path",
            ));
        }
        if !policy
            .allowed_media_types
            .iter()
            .any(|t| t == &a.media_type)
        {
            issues.push(FieldIssue::new(
                field("media_type"),
                "unsupported",
                format!(
                    "media type {:?} is not accepted",
                    truncate_chars(&a.media_type, 80)
                ),
            ));
        }
        if a.content.is_empty() {
            issues.push(required(&field("content"), "file content"));
        } else if a.content.len() > policy.max_attachment_bytes {
            issues.push(FieldIssue::new(
                field("content"),
                "too_large",
                format!(
                    "at most {} bytes per attachment",
                    policy.max_attachment_bytes
                ),
            ));
        } else if let Some(why) = content_mismatch(&a.media_type, &a.content) {
            issues.push(FieldIssue::new(
                field("content"),
                why.code(),
                why.to_string(),
            ));
        }
        total += a.content.len();
        if !a.sha256.is_empty() {
            let actual = hex::encode(sha2::Sha256::digest(&a.content));
            if !a.sha256.eq_ignore_ascii_case(&actual) {
                issues.push(FieldIssue::new(
                    field("sha256"),
                    "mismatch",
                    "does not match the content",
                ));
            }
        }
    }
    if total > policy.max_total_attachment_bytes {
        issues.push(FieldIssue::new(
            "attachments",
            "too_large",
            format!("at most {} bytes in all", policy.max_total_attachment_bytes),
        ));
    }
}

/// Why an attachment's bytes are not what its declared media type says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentMismatch {
    /// A program (ELF, PE, Mach-O, Java class, WebAssembly...): refused whatever the
    /// declared type, since a registrar may open attachments.
    Program { detected: &'static str },
    /// The content is recognised as another type.
    Other {
        declared: String,
        detected: &'static str,
    },
    /// The content is not recognised as the declared type.
    Unrecognised { declared: String },
}

impl ContentMismatch {
    pub fn code(&self) -> &'static str {
        match self {
            ContentMismatch::Program { .. } => "executable",
            ContentMismatch::Other { .. } | ContentMismatch::Unrecognised { .. } => {
                "content_mismatch"
            }
        }
    }
}

impl std::fmt::Display for ContentMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContentMismatch::Program { detected } => write!(
                f,
                "the content is a program ({detected}); programs are not accepted"
            ),
            ContentMismatch::Other { declared, detected } => {
                write!(f, "declared {declared} but the content is {detected}")
            }
            ContentMismatch::Unrecognised { declared } if declared == TEXT_PLAIN => write!(
                f,
                "the content is not recognised as {declared}: UTF-8 text without NUL characters"
            ),
            ContentMismatch::Unrecognised { declared } => {
                write!(f, "the content is not recognised as {declared}")
            }
        }
    }
}

const TEXT_PLAIN: &str = "text/plain";
const OLE2_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// What `infer` calls an OLE2 compound file whose kind it cannot tell (no class id).
const OLE2_UNKNOWN: &str = "application/x-ole-storage";
const ZIP_UNKNOWN: &str = "application/zip";

/// How the content of a declared media type is recognised.
enum Expected {
    /// By `infer`'s matcher for the type.
    Matcher(fn(&[u8]) -> bool),
    /// An OLE2 compound file (DOC, XLS, PPT): of this kind when `infer` reads its class id,
    /// or of no kind `infer` can tell; never another kind.
    Ole2,
    /// A ZIP container (OOXML, OpenDocument): of this kind when `infer` tells from the
    /// entries, or a ZIP it cannot tell more of; never another kind.
    Zip,
    /// MPEG audio: ID3 or an MPEG audio frame header.
    MpegAudio,
    /// An ISO media file (`ftyp` box) `infer` does not place elsewhere.
    IsoMedia,
    /// UTF-8 text without NUL characters.
    Text,
}

fn expected(declared: &str) -> Option<Expected> {
    use Expected::*;
    Some(match declared {
        "application/pdf" => Matcher(infer::archive::is_pdf),
        "image/jpeg" => Matcher(infer::image::is_jpeg),
        "image/png" => Matcher(infer::image::is_png),
        "image/gif" => Matcher(infer::image::is_gif),
        "image/tiff" => Matcher(infer::image::is_tiff),
        "image/bmp" => Matcher(infer::image::is_bmp),
        "image/webp" => Matcher(infer::image::is_webp),
        "application/msword" | "application/vnd.ms-excel" | "application/vnd.ms-powerpoint" => Ole2,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        | "application/vnd.oasis.opendocument.text"
        | "application/vnd.oasis.opendocument.spreadsheet"
        | "application/vnd.oasis.opendocument.presentation"
        | "application/zip" => Zip,
        "audio/mpeg" => MpegAudio,
        "video/mp4" => IsoMedia,
        TEXT_PLAIN => Text,
        _ => return None,
    })
}

/// UTF-8 (a byte-order mark allowed) without NUL characters.
fn is_plain_text(content: &[u8]) -> bool {
    std::str::from_utf8(content).is_ok_and(|t| !t.contains('\0'))
}

/// Checks that `content` is what `declared` says (pure: magic numbers, no I/O). A program is
/// refused whatever the declared type; a declared type this check does not know (a policy
/// may allow more) is checked for programs only.
pub fn content_mismatch(declared: &str, content: &[u8]) -> Option<ContentMismatch> {
    let detected = infer::get(content);
    if let Some(t) = &detected
        && t.matcher_type() == infer::MatcherType::App
        // X.509 certificates sit among infer's "applications"; they are not programs.
        && !t.mime_type().contains("x509")
        // Real programs have NUL bytes in their headers; text that merely starts like
        // one ("MZ", "BC") is not a program.
        && !is_plain_text(content)
    {
        return Some(ContentMismatch::Program {
            detected: t.mime_type(),
        });
    }
    let detected_mime = detected.as_ref().map(|t| t.mime_type());
    let is = |mime: &str| detected_mime == Some(mime);
    let fits = match expected(declared)? {
        Expected::Matcher(matches) => matches(content),
        Expected::Ole2 => content.starts_with(OLE2_MAGIC) && (is(declared) || is(OLE2_UNKNOWN)),
        Expected::Zip => content.starts_with(ZIP_MAGIC) && (is(declared) || is(ZIP_UNKNOWN)),
        Expected::MpegAudio => {
            infer::audio::is_mp3(content)
                // Frame sync (11 bits), then any MPEG version and a layer other than 0.
                || matches!(content, [0xFF, b, ..] if b & 0xE0 == 0xE0 && (b >> 1) & 3 != 0)
        }
        Expected::IsoMedia => {
            infer::video::is_mp4(content)
                || infer::video::is_m4v(content)
                || infer::video::is_mov(content)
                || (content.get(4..8) == Some(b"ftyp".as_slice()) && detected.is_none())
        }
        Expected::Text => is_plain_text(content),
    };
    if fits {
        return None;
    }
    Some(match detected_mime {
        Some(detected) if detected != declared => ContentMismatch::Other {
            declared: declared.to_owned(),
            detected,
        },
        _ => ContentMismatch::Unrecognised {
            declared: declared.to_owned(),
        },
    })
}

fn truncate_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// reg 5.1: an electronic document has legal force only with a valid signature. A signature
/// that is broken or not CMS declines the appeal; one we cannot check here (an unknown CA,
/// GOST algorithms of the national CA, an expired certificate) is registered with its
/// status shown to the registrar.
pub fn signature_decline(status: bakylau_signature::SignatureStatus) -> Option<FieldIssue> {
    use bakylau_signature::SignatureStatus as S;
    match status {
        S::Invalid => Some(FieldIssue::new(
            "signature",
            "signature_invalid",
            "the electronic digital signature does not match the appeal",
        )),
        S::Malformed => Some(FieldIssue::new(
            "signature",
            "signature_malformed",
            "the signature is not a CMS/PKCS#7 SignedData",
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::identity::with_check_digit;
    use super::super::*;
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn valid_individual_appeal() -> NewAppeal {
        NewAppeal {
            kind: Some(AppealKind::Application),
            channel: Some(Channel::PaperInPerson),
            language: Some(Language::Ru),
            applicant: Some(Applicant::Individual(Individual {
                iin: with_check_digit("90010130123").unwrap(),
                full_name: "Тестов Тест".into(),
                phone: "+77011234567".into(),
                address: "Қонаев қ., 1".into(),
                ..Default::default()
            })),
            locality: Locality {
                district: "talgar".into(),
                ..Default::default()
            },
            text: "Прошу отремонтировать дорогу".into(),
            received_by: Some(Officer {
                full_name: "Registrar".into(),
                position: "Chief specialist".into(),
            }),
            ..Default::default()
        }
    }

    fn fields(issues: &[FieldIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.field.as_str()).collect()
    }

    #[test]
    fn complete_appeal_is_accepted() {
        assert_eq!(
            pre_review(&valid_individual_appeal(), &PreReviewPolicy::default()),
            Ok(Verdict::Accept)
        );
    }

    #[test]
    fn empty_appeal_names_every_missing_field() {
        let err = pre_review(&NewAppeal::default(), &PreReviewPolicy::default()).unwrap_err();
        let f = fields(&err);
        for expected in [
            "kind",
            "channel",
            "language",
            "text",
            "applicant",
            "locality.district",
        ] {
            assert!(f.contains(&expected), "{expected} missing from {f:?}");
        }
    }

    #[test]
    fn wrong_iin_check_digit_is_named() {
        let mut a = valid_individual_appeal();
        if let Some(Applicant::Individual(p)) = &mut a.applicant {
            let last = p.iin.pop().unwrap();
            p.iin.push(if last == '9' {
                '0'
            } else {
                (last as u8 + 1) as char
            });
        }
        let err = pre_review(&a, &PreReviewPolicy::default()).unwrap_err();
        assert_eq!(err[0].field, "applicant.iin");
        assert_eq!(err[0].code, "invalid_checksum");
    }

    #[test]
    fn legal_entity_needs_bin_and_representative() {
        let mut a = valid_individual_appeal();
        a.applicant = Some(Applicant::LegalEntity(LegalEntity {
            bin: "123".into(),
            name: "ТОО Тест".into(),
            email: "office@example.kz".into(),
            ..Default::default()
        }));
        let err = pre_review(&a, &PreReviewPolicy::default()).unwrap_err();
        let f = fields(&err);
        assert!(f.contains(&"applicant.bin"));
        assert!(f.contains(&"applicant.representative.full_name"));
        assert!(f.contains(&"applicant.representative.iin"));
    }

    #[test]
    fn anonymous_is_declined_unless_corruption_report() {
        let mut a = valid_individual_appeal();
        a.applicant = None;
        a.anonymous = true;
        a.locality = Locality::default();
        match pre_review(&a, &PreReviewPolicy::default()) {
            Ok(Verdict::Decline(reasons)) => {
                assert_eq!(reasons[0].code, "anonymous_not_considered")
            }
            other => panic!("expected a decline, got {other:?}"),
        }
        a.corruption_report = true;
        assert_eq!(
            pre_review(&a, &PreReviewPolicy::default()),
            Ok(Verdict::Accept)
        );
    }

    #[test]
    fn posted_appeal_needs_an_address_and_electronic_a_signature() {
        let mut a = valid_individual_appeal();
        a.channel = Some(Channel::PaperPost);
        if let Some(Applicant::Individual(p)) = &mut a.applicant {
            p.address.clear();
        }
        assert_eq!(
            fields(&pre_review(&a, &PreReviewPolicy::default()).unwrap_err()),
            vec!["applicant.address"]
        );
        let mut e = valid_individual_appeal();
        e.channel = Some(Channel::Electronic);
        e.received_by = None;
        assert_eq!(
            fields(&pre_review(&e, &PreReviewPolicy::default()).unwrap_err()),
            vec!["signature"]
        );
    }

    #[test]
    fn external_needs_source_and_reference() {
        let mut a = valid_individual_appeal();
        a.channel = Some(Channel::External);
        let f = pre_review(&a, &PreReviewPolicy::default()).unwrap_err();
        assert_eq!(fields(&f), vec!["source", "external_id"]);
    }

    #[test]
    fn complaint_needs_a_subject() {
        let mut a = valid_individual_appeal();
        a.kind = Some(AppealKind::Complaint);
        assert_eq!(
            fields(&pre_review(&a, &PreReviewPolicy::default()).unwrap_err()),
            vec!["subject"]
        );
    }

    #[test]
    fn attachments_are_checked() {
        let mut a = valid_individual_appeal();
        a.attachments = vec![
            NewAttachment {
                name: "../etc/passwd".into(),
                media_type: "application/x-msdownload".into(),
                sha256: "00".into(),
                content: vec![1, 2, 3],
            },
            NewAttachment {
                name: "photo.jpg".into(),
                media_type: "image/jpeg".into(),
                sha256: String::new(),
                content: vec![0; 11 * 1024 * 1024],
            },
        ];
        let f = pre_review(&a, &PreReviewPolicy::default()).unwrap_err();
        assert_eq!(
            fields(&f),
            vec![
                "attachments[0].name",
                "attachments[0].media_type",
                "attachments[0].sha256",
                "attachments[1].content"
            ]
        );
    }

    /// The first bytes of files of each type, as small as the magic numbers allow.
    mod files {
        pub const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
        pub const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
        pub const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xFF\xD9";
        pub const TIFF: &[u8] = b"II*\0\x08\0\0\0\0\0\0\0";
        pub const GIF: &[u8] = b"GIF89a\x01\0\x01\0\0\0\0;";
        pub const MP3: &[u8] = b"\xFF\xFB\x90\x64\0\0\0\0";
        pub const MP4: &[u8] = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2";
        pub const ELF: &[u8] = &[
            0x7F, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0x3E, 0, 1, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0x40, 0, 0x38, 0,
        ];
        pub const PE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xFF\xFF\0\0";

        /// An OLE2 compound file header (DOC, XLS) without a class id `infer` knows.
        pub fn ole2() -> Vec<u8> {
            let mut f = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
            f.resize(512, 0);
            f
        }

        /// A ZIP whose first entry is `name`, as OOXML and OpenDocument files begin.
        pub fn zip(name: &[u8]) -> Vec<u8> {
            let mut f = b"PK\x03\x04".to_vec();
            f.resize(30, 0);
            f.extend_from_slice(name);
            f.resize(f.len() + 64, 0);
            f
        }
    }

    const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

    #[test]
    fn content_of_the_declared_type_is_accepted() {
        for (declared, content) in [
            ("application/pdf", files::PDF.to_vec()),
            ("image/png", files::PNG.to_vec()),
            ("image/jpeg", files::JPEG.to_vec()),
            ("image/tiff", files::TIFF.to_vec()),
            ("image/gif", files::GIF.to_vec()),
            ("audio/mpeg", files::MP3.to_vec()),
            ("audio/mpeg", b"ID3\x04\0\0\0\0\0\0".to_vec()),
            ("video/mp4", files::MP4.to_vec()),
            ("application/msword", files::ole2()),
            ("application/vnd.ms-excel", files::ole2()),
            (DOCX, files::zip(b"word/document.xml")),
            (DOCX, files::zip(b"[Content_Types].xml")),
            (XLSX, files::zip(b"xl/workbook.xml")),
            (
                "application/vnd.oasis.opendocument.text",
                files::zip(b"mimetypeapplication/vnd.oasis.opendocument.text"),
            ),
            (
                "text/plain",
                "Жол жөндеу туралы өтініш\r\n".as_bytes().to_vec(),
            ),
            // Text that merely starts like a program is text.
            ("text/plain", b"MZ 12, BC 7: room numbers".to_vec()),
            // A type a deployment allows but this check does not know: programs only.
            ("application/x-custom", vec![1, 2, 3]),
        ] {
            assert_eq!(content_mismatch(declared, &content), None, "{declared}");
        }
    }

    #[test]
    fn content_of_another_type_is_refused_naming_both() {
        let m = content_mismatch("application/pdf", files::PNG).unwrap();
        assert_eq!(
            m.to_string(),
            "declared application/pdf but the content is image/png"
        );
        assert_eq!(m.code(), "content_mismatch");
        assert_eq!(
            content_mismatch("image/png", files::JPEG)
                .unwrap()
                .to_string(),
            "declared image/png but the content is image/jpeg"
        );
        assert_eq!(
            content_mismatch(DOCX, &files::zip(b"xl/workbook.xml"))
                .unwrap()
                .to_string(),
            format!("declared {DOCX} but the content is {XLSX}")
        );
        assert_eq!(
            content_mismatch("application/msword", files::PDF)
                .unwrap()
                .to_string(),
            "declared application/msword but the content is application/pdf"
        );
        // Random bytes are nothing in particular.
        assert_eq!(
            content_mismatch("application/pdf", &[7; 64])
                .unwrap()
                .to_string(),
            "the content is not recognised as application/pdf"
        );
        assert!(matches!(
            content_mismatch(DOCX, &files::ole2()),
            Some(ContentMismatch::Other { .. })
        ));
        assert!(content_mismatch("video/mp4", files::MP3).is_some());
    }

    #[test]
    fn plain_text_is_utf8_without_nul() {
        for bad in [b"abc\0def".to_vec(), b"caf\xE9 au lait".to_vec()] {
            let m = content_mismatch("text/plain", &bad).unwrap();
            assert!(m.to_string().contains("text/plain"), "{m}");
        }
        assert_eq!(
            content_mismatch("text/plain", files::PNG)
                .unwrap()
                .to_string(),
            "declared text/plain but the content is image/png"
        );
    }

    #[test]
    fn programs_are_refused_whatever_the_declared_type() {
        for declared in ["application/pdf", "text/plain", "application/x-custom"] {
            for program in [files::ELF, files::PE] {
                let m = content_mismatch(declared, program).unwrap();
                assert!(
                    matches!(m, ContentMismatch::Program { .. }),
                    "{declared}: {m}"
                );
                assert_eq!(m.code(), "executable");
                assert!(m.to_string().contains("program"), "{m}");
            }
        }
    }

    #[test]
    fn pre_review_names_the_content_of_a_mismatched_attachment() {
        let mut a = valid_individual_appeal();
        a.attachments = vec![
            NewAttachment {
                name: "scan.pdf".into(),
                media_type: "application/pdf".into(),
                sha256: String::new(),
                content: files::PDF.to_vec(),
            },
            NewAttachment {
                name: "scan2.pdf".into(),
                media_type: "application/pdf".into(),
                sha256: String::new(),
                content: files::PNG.to_vec(),
            },
        ];
        let issues = pre_review(&a, &PreReviewPolicy::default()).unwrap_err();
        assert_eq!(fields(&issues), vec!["attachments[1].content"]);
        assert_eq!(
            issues[0].message,
            "declared application/pdf but the content is image/png"
        );
        a.attachments.pop();
        assert_eq!(
            pre_review(&a, &PreReviewPolicy::default()),
            Ok(Verdict::Accept)
        );
    }

    #[test]
    fn coordinates_outside_kazakhstan_are_refused() {
        let mut a = valid_individual_appeal();
        a.location = Some(GeoPoint {
            lat: 51.5,
            lon: -0.1,
        });
        assert_eq!(
            fields(&pre_review(&a, &PreReviewPolicy::default()).unwrap_err()),
            vec!["location"]
        );
        a.location = Some(GeoPoint {
            lat: f64::NAN,
            lon: 76.9,
        });
        assert!(pre_review(&a, &PreReviewPolicy::default()).is_err());
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof!["\\PC{0,40}", ".{0,40}", Just(String::new())]
    }

    proptest! {
        #[test]
        fn pre_review_never_panics(
            iin in arb_text(), name in arb_text(), text in arb_text(), subject in arb_text(),
            phone in arb_text(), email in arb_text(), kato in arb_text(), media in arb_text(),
            anonymous in any::<bool>(), lat in any::<f64>(), lon in any::<f64>(),
            kind in 0usize..7, channel in 0usize..6, content in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut a = valid_individual_appeal();
            a.kind = AppealKind::ALL.get(kind).copied();
            a.channel = Channel::ALL.get(channel).copied();
            a.applicant = Some(Applicant::Individual(Individual { iin, full_name: name, phone, email, address: String::new() }));
            a.text = text;
            a.subject = subject;
            a.anonymous = anonymous;
            a.locality.kato = kato;
            a.location = Some(GeoPoint { lat, lon });
            a.attachments = vec![NewAttachment { name: "a.pdf".into(), media_type: media, sha256: String::new(), content }];
            match pre_review(&a, &PreReviewPolicy::default()) {
                Ok(_) => {}
                Err(issues) => prop_assert!(issues.iter().all(|i| !i.message.is_empty())),
            }
        }
    }
}
