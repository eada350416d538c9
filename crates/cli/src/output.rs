//! What the command prints: readable text for a registrar, or JSON for a script
//! (`--output json`). Everything is rendered to a string first, so it is tested without a
//! terminal.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Result;
use bakylau_proto::intake::v1 as pb;
use base64::Engine as _;
use clap::ValueEnum;
use serde_json::{Value, json};

use crate::localtime::{format_local, rfc3339_local};
use crate::vocab::{
    channel_name, consultation_channel_name, kind_name, language_name, status_name,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// readable text and tables
    Text,
    /// JSON, for scripts
    Json,
}

/// Writes to standard output; a closed pipe surfaces as an `io::Error` the caller ends on.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.is_empty() && !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

pub fn print_json(value: &Value) -> Result<()> {
    print(&serde_json::to_string_pretty(value)?)
}

/// Fetches one page, or every page with `all`, following `next_page_token` from `token`
/// (a server repeating a token ends the walk). Returns the items and the token of the next
/// page, empty when everything was fetched.
pub async fn collect_pages<T>(
    mut token: String,
    all: bool,
    mut fetch: impl AsyncFnMut(String) -> Result<(Vec<T>, String)>,
) -> Result<(Vec<T>, String)> {
    let mut items = Vec::new();
    loop {
        let (page, next) = fetch(token.clone()).await?;
        items.extend(page);
        if !all || next.is_empty() || next == token {
            return Ok((items, if all { String::new() } else { next }));
        }
        token = next;
    }
}

/// Prints a listing: the table with a hint for the next page, or the JSON document.
pub fn print_page(
    format: OutputFormat,
    table: String,
    json: impl FnOnce() -> Value,
    next: &str,
) -> Result<()> {
    match format {
        OutputFormat::Text => {
            let mut text = table;
            if !next.is_empty() {
                text.push_str(&format!("\nMore: run again with --page-token {next}\n"));
            }
            print(&text)
        }
        OutputFormat::Json => print_json(&json()),
    }
}

// ---------------------------------------------------------------- small text helpers

/// At most `max` characters, the last one `…` when cut; line breaks become spaces.
pub fn truncate(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() <= max {
        return flat.to_owned();
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `532 bytes`, `12.4 KB`, `3.1 MB` (1 KB = 1024 bytes).
pub fn human_size(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if b < KB * KB {
        format!("{:.1} KB", b / KB)
    } else if b < KB * KB * KB {
        format!("{:.1} MB", b / (KB * KB))
    } else {
        format!("{:.1} GB", b / (KB * KB * KB))
    }
}

/// Columns padded to their widest cell (counted in characters, so Cyrillic lines up);
/// the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, cell) in cells.enumerate() {
            if i + 1 == widths.len() {
                l.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                l.push_str(cell);
                l.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Labelled lines; a field with nothing in it is left out.
struct Fields {
    out: String,
    indent: &'static str,
    width: usize,
}

impl Fields {
    fn new(indent: &'static str, width: usize) -> Self {
        Self {
            out: String::new(),
            indent,
            width,
        }
    }

    fn line(&mut self, text: impl AsRef<str>) {
        self.out.push_str(text.as_ref());
        self.out.push('\n');
    }

    fn field(&mut self, label: &str, value: impl AsRef<str>) {
        let value = value.as_ref().trim();
        if value.is_empty() {
            return;
        }
        let _ = writeln!(
            self.out,
            "{}{label:<width$}{value}",
            self.indent,
            width = self.width
        );
    }

    /// A long, possibly multi-line value under its label.
    fn block(&mut self, label: &str, value: &str) {
        if value.trim().is_empty() {
            return;
        }
        let _ = writeln!(self.out, "{}{label}:", self.indent);
        for l in value.trim_end().lines() {
            let _ = writeln!(self.out, "{}  {l}", self.indent);
        }
    }
}

fn joined(parts: &[&str], sep: &str) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(sep)
}

fn signature_summary(s: &pb::SignatureVerification) -> String {
    let mut text = s.status.clone();
    if !s.signer_subject.is_empty() {
        let _ = write!(text, ", signed by {}", s.signer_subject);
    }
    if !s.reason.is_empty() {
        let _ = write!(text, " ({})", s.reason);
    }
    text
}

fn shows_signature(s: Option<&pb::SignatureVerification>) -> Option<&pb::SignatureVerification> {
    s.filter(|s| !s.status.is_empty() && s.status != "absent")
}

fn reason_line(r: &pb::DeclineReason) -> String {
    let mut l = if r.field.is_empty() {
        r.message.clone()
    } else {
        format!("{}: {}", r.field, r.message)
    };
    if !r.code.is_empty() {
        let _ = write!(l, " [{}]", r.code);
    }
    l
}

fn is_declined(a: &pb::Appeal) -> bool {
    a.status == pb::AppealStatus::Declined as i32
}

// ---------------------------------------------------------------- appeals, as text

/// The coupon (талон) after `appeal submit`.
pub fn coupon_text(resp: &pb::RegisterAppealResponse) -> String {
    let default_appeal = pb::Appeal::default();
    let appeal = resp.appeal.as_ref().unwrap_or(&default_appeal);
    let default_coupon = pb::Coupon::default();
    let c = resp.coupon.as_ref().unwrap_or(&default_coupon);
    let mut f = Fields::new("  ", 21);
    if is_declined(appeal) {
        f.line("Appeal registered and DECLINED at pre-review. Coupon (талон):");
    } else {
        f.line("Appeal registered. Coupon (талон):");
    }
    f.field("Registration number", &c.registration_number);
    f.field("Registered at", format_local(c.registered_at.as_ref()));
    f.field("Received at", format_local(c.received_at.as_ref()));
    f.field("Officer", &c.officer_name);
    f.field("Position", &c.officer_position);
    f.field("Office", &c.office);
    f.field("Status", status_name(appeal.status));
    if !appeal.decline_reasons.is_empty() {
        f.line("  Reasons:");
        for r in &appeal.decline_reasons {
            f.line(format!("    - {}", reason_line(r)));
        }
    }
    let repeated = if appeal.repeated_of_registration_number.is_empty() {
        &appeal.repeated_of_appeal_id
    } else {
        &appeal.repeated_of_registration_number
    };
    f.field("Repeated of", repeated);
    if let Some(s) = shows_signature(appeal.signature.as_ref()) {
        f.field("Signature", signature_summary(s));
    }
    f.field("Appeal id", &appeal.id);
    if resp.replayed {
        f.line("Note: this request had already been registered; this is the same coupon.");
    }
    f.out
}

/// Every field of one appeal, for `appeal show`.
pub fn appeal_text(a: &pb::Appeal) -> String {
    let mut f = Fields::new("", 16);
    let title = if a.registration_number.is_empty() {
        format!("Appeal {}", a.id)
    } else {
        format!("Appeal {}  (id {})", a.registration_number, a.id)
    };
    f.line(title);
    f.field("Status", status_name(a.status));
    f.field("Kind", kind_name(a.kind));
    f.field("Channel", channel_name(a.channel));
    f.field("Source", &a.source);
    f.field("External id", &a.external_id);
    f.field("Language", language_name(a.language));
    f.field("Registered at", format_local(a.registered_at.as_ref()));
    f.field("Received at", format_local(a.received_at.as_ref()));
    if let Some(o) = &a.received_by {
        f.field("Received by", joined(&[&o.full_name, &o.position], ", "));
    }
    f.field("Office", &a.office);
    f.field(
        "Personal data erased",
        format_local(a.personal_data_erased_at.as_ref()),
    );
    f.field("Addressee", &a.addressee);
    let flags: Vec<&str> = [
        (a.anonymous, "anonymous"),
        (a.corruption_report, "corruption report"),
        (a.collective, "collective"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| *name)
    .collect();
    f.field("Marks", flags.join(", "));
    let repeated = match (
        a.repeated_of_registration_number.as_str(),
        a.repeated_of_appeal_id.as_str(),
    ) {
        ("", id) => id.to_owned(),
        (number, "") => number.to_owned(),
        (number, id) => format!("{number} (id {id})"),
    };
    f.field("Repeated of", repeated);

    if !a.decline_reasons.is_empty() {
        f.line("");
        f.line("Decline reasons:");
        for r in &a.decline_reasons {
            f.line(format!("  - {}", reason_line(r)));
        }
    }

    f.line("");
    let mut g = Fields::new("  ", 16);
    match a.applicant.as_ref().and_then(|p| p.party.as_ref()) {
        Some(pb::applicant::Party::Individual(i)) => {
            g.line("Applicant (individual):");
            g.field("IIN", &i.iin);
            g.field("Name", &i.full_name);
            g.field("Phone", &i.phone);
            g.field("Email", &i.email);
            g.field("Address", &i.address);
        }
        Some(pb::applicant::Party::LegalEntity(e)) => {
            g.line("Applicant (legal entity):");
            g.field("BIN", &e.bin);
            g.field("Name", &e.name);
            if let Some(r) = &e.representative {
                let iin = if r.iin.is_empty() {
                    String::new()
                } else {
                    format!("IIN {}", r.iin)
                };
                let who = joined(&[&r.full_name, &r.position, &iin], ", ");
                g.field("Representative", who);
            }
            g.field("Phone", &e.phone);
            g.field("Email", &e.email);
            g.field("Address", &e.address);
        }
        None => g.line("Applicant: not given"),
    }
    f.out.push_str(&g.out);
    if !a.co_signatories.is_empty() {
        f.line(format!("  Co-signatories ({}):", a.co_signatories.len()));
        for s in &a.co_signatories {
            if s.iin.is_empty() {
                f.line(format!("    - {}", s.full_name));
            } else {
                f.line(format!("    - {} (IIN {})", s.full_name, s.iin));
            }
        }
    }

    let l = a.locality.clone().unwrap_or_default();
    let has_place = [&l.region, &l.district, &l.rural_district, &l.kato]
        .iter()
        .any(|v| !v.is_empty());
    if has_place || a.location.is_some() {
        f.line("");
        let mut g = Fields::new("  ", 16);
        g.line("Locality:");
        g.field("Region", &l.region);
        g.field("District", &l.district);
        g.field("Rural district", &l.rural_district);
        g.field("KATO", &l.kato);
        if let Some(p) = &a.location {
            g.field("Coordinates", format!("{}, {}", p.lat, p.lon));
        }
        f.out.push_str(&g.out);
    }

    f.line("");
    f.field("Subject", &a.subject);
    f.block("Text", &a.text);

    if !a.attachments.is_empty() {
        f.line("");
        f.line(format!("Attachments ({}):", a.attachments.len()));
        for at in &a.attachments {
            let mut l = format!(
                "  - {}  {}  {}",
                at.name,
                at.media_type,
                human_size(at.size_bytes)
            );
            if !at.sha256.is_empty() {
                let _ = write!(l, "  sha256 {}", at.sha256);
            }
            f.line(l);
        }
    }

    if let Some(s) = shows_signature(a.signature.as_ref()) {
        f.line("");
        let mut g = Fields::new("  ", 16);
        g.line("Signature verification:");
        g.field("Result", &s.status);
        g.field("Reason", &s.reason);
        g.field("Signer", &s.signer_subject);
        g.field("Serial", &s.signer_serial);
        g.field("Verified at", format_local(s.verified_at.as_ref()));
        f.out.push_str(&g.out);
    }
    if a.signature.as_ref().is_some_and(|s| s.status == "absent") {
        f.line("");
        f.line("Signature: none (not signed electronically)");
    }
    f.out
}

/// The table of `appeal list`.
pub fn appeals_table(appeals: &[pb::Appeal]) -> String {
    if appeals.is_empty() {
        return "No appeals found.\n".into();
    }
    let rows: Vec<Vec<String>> = appeals
        .iter()
        .map(|a| {
            vec![
                a.registration_number.clone(),
                format_local(a.registered_at.as_ref()),
                kind_name(a.kind),
                channel_name(a.channel),
                status_name(a.status),
                truncate(
                    &a.locality
                        .as_ref()
                        .map(|l| l.district.clone())
                        .unwrap_or_default(),
                    30,
                ),
                truncate(&a.subject, 40),
            ]
        })
        .collect();
    table(
        &[
            "NUMBER",
            "REGISTERED AT",
            "KIND",
            "CHANNEL",
            "STATUS",
            "DISTRICT",
            "SUBJECT",
        ],
        &rows,
    )
}

// ---------------------------------------------------------------- consultations, as text

pub fn consultation_text(c: &pb::Consultation) -> String {
    let mut f = Fields::new("  ", 12);
    f.line("Consultation recorded:");
    f.field("Id", &c.id);
    f.field("Given at", format_local(c.given_at.as_ref()));
    f.field("Channel", consultation_channel_name(c.channel));
    f.field("Language", language_name(c.language));
    f.field("Topic", &c.topic);
    if let Some(o) = &c.given_by {
        f.field("Officer", &o.full_name);
        f.field("Position", &o.position);
    }
    f.field("Person", &c.person_name);
    f.field("Phone", &c.person_phone);
    f.field("District", &c.district);
    if c.duration_minutes > 0 {
        f.field("Minutes", c.duration_minutes.to_string());
    }
    f.block("Question", &c.question);
    f.block("Answer", &c.answer);
    f.out
}

pub fn consultations_table(list: &[pb::Consultation]) -> String {
    if list.is_empty() {
        return "No consultations found.\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                format_local(c.given_at.as_ref()),
                consultation_channel_name(c.channel),
                language_name(c.language),
                truncate(&c.topic, 30),
                truncate(
                    &c.given_by
                        .as_ref()
                        .map(|o| o.full_name.clone())
                        .unwrap_or_default(),
                    30,
                ),
                if c.duration_minutes > 0 {
                    c.duration_minutes.to_string()
                } else {
                    String::new()
                },
                truncate(&c.district, 30),
                truncate(&c.question, 40),
            ]
        })
        .collect();
    table(
        &[
            "GIVEN AT", "CHANNEL", "LANG", "TOPIC", "OFFICER", "MIN", "DISTRICT", "QUESTION",
        ],
        &rows,
    )
}

// ---------------------------------------------------------------- JSON

fn time_json(t: Option<&prost_types::Timestamp>) -> Value {
    t.and_then(rfc3339_local)
        .map(Value::from)
        .unwrap_or(Value::Null)
}

fn officer_json(o: Option<&pb::Officer>) -> Value {
    o.map(|o| json!({ "full_name": o.full_name, "position": o.position }))
        .unwrap_or(Value::Null)
}

fn applicant_json(a: Option<&pb::Applicant>) -> Value {
    match a.and_then(|a| a.party.as_ref()) {
        Some(pb::applicant::Party::Individual(i)) => json!({
            "type": "individual",
            "iin": i.iin,
            "full_name": i.full_name,
            "phone": i.phone,
            "email": i.email,
            "address": i.address,
        }),
        Some(pb::applicant::Party::LegalEntity(e)) => json!({
            "type": "legal_entity",
            "bin": e.bin,
            "name": e.name,
            "representative": e.representative.as_ref().map(|r| json!({
                "full_name": r.full_name,
                "iin": r.iin,
                "position": r.position,
            })),
            "phone": e.phone,
            "email": e.email,
            "address": e.address,
        }),
        None => Value::Null,
    }
}

fn attachment_json(a: &pb::Attachment) -> Value {
    let mut v = json!({
        "id": a.id,
        "name": a.name,
        "media_type": a.media_type,
        "sha256": a.sha256,
        "size_bytes": a.size_bytes,
    });
    if !a.content.is_empty() {
        v["content_base64"] =
            Value::from(base64::engine::general_purpose::STANDARD.encode(&a.content));
    }
    v
}

pub fn appeal_json(a: &pb::Appeal) -> Value {
    json!({
        "id": a.id,
        "registration_number": a.registration_number,
        "status": status_name(a.status),
        "decline_reasons": a.decline_reasons.iter().map(|r| json!({
            "field": r.field,
            "message": r.message,
            "code": r.code,
        })).collect::<Vec<_>>(),
        "kind": kind_name(a.kind),
        "channel": channel_name(a.channel),
        "source": a.source,
        "external_id": a.external_id,
        "language": language_name(a.language),
        "applicant": applicant_json(a.applicant.as_ref()),
        "anonymous": a.anonymous,
        "corruption_report": a.corruption_report,
        "collective": a.collective,
        "co_signatories": a.co_signatories.iter().map(|s| json!({
            "full_name": s.full_name,
            "iin": s.iin,
        })).collect::<Vec<_>>(),
        "repeated_of_appeal_id": a.repeated_of_appeal_id,
        "repeated_of_registration_number": a.repeated_of_registration_number,
        "addressee": a.addressee,
        "locality": a.locality.as_ref().map(|l| json!({
            "kato": l.kato,
            "region": l.region,
            "district": l.district,
            "rural_district": l.rural_district,
        })),
        "location": a.location.as_ref().map(|p| json!({ "lat": p.lat, "lon": p.lon })),
        "subject": a.subject,
        "text": a.text,
        "attachments": a.attachments.iter().map(attachment_json).collect::<Vec<_>>(),
        "signature": a.signature.as_ref().map(|s| json!({
            "status": s.status,
            "reason": s.reason,
            "signer_subject": s.signer_subject,
            "signer_serial": s.signer_serial,
            "verified_at": time_json(s.verified_at.as_ref()),
        })),
        "received_at": time_json(a.received_at.as_ref()),
        "registered_at": time_json(a.registered_at.as_ref()),
        "received_by": officer_json(a.received_by.as_ref()),
        "office": a.office,
        "personal_data_erased_at": time_json(a.personal_data_erased_at.as_ref()),
    })
}

pub fn register_response_json(r: &pb::RegisterAppealResponse) -> Value {
    json!({
        "appeal": r.appeal.as_ref().map(appeal_json),
        "coupon": r.coupon.as_ref().map(|c| json!({
            "registration_number": c.registration_number,
            "registered_at": time_json(c.registered_at.as_ref()),
            "received_at": time_json(c.received_at.as_ref()),
            "officer_name": c.officer_name,
            "officer_position": c.officer_position,
            "office": c.office,
        })),
        "replayed": r.replayed,
    })
}

pub fn appeals_page_json(appeals: &[pb::Appeal], next_page_token: &str) -> Value {
    json!({
        "appeals": appeals.iter().map(appeal_json).collect::<Vec<_>>(),
        "next_page_token": next_page_token,
    })
}

pub fn consultation_json(c: &pb::Consultation) -> Value {
    json!({
        "id": c.id,
        "channel": consultation_channel_name(c.channel),
        "person_name": c.person_name,
        "person_phone": c.person_phone,
        "language": language_name(c.language),
        "topic": c.topic,
        "question": c.question,
        "answer": c.answer,
        "given_by": officer_json(c.given_by.as_ref()),
        "given_at": time_json(c.given_at.as_ref()),
        "duration_minutes": c.duration_minutes,
        "district": c.district,
    })
}

pub fn consultations_page_json(list: &[pb::Consultation], next_page_token: &str) -> Value {
    json!({
        "consultations": list.iter().map(consultation_json).collect::<Vec<_>>(),
        "next_page_token": next_page_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localtime::{parse_moment, timestamp};

    #[tokio::test]
    async fn pages_are_followed_only_with_all_and_stop_on_a_repeated_token() {
        let pages = |token: String| {
            Ok(match token.as_str() {
                "" => (vec![1, 2], "a".to_owned()),
                "a" => (vec![3], "b".to_owned()),
                _ => (vec![4], "b".to_owned()),
            })
        };
        let one = collect_pages(String::new(), false, async |t| pages(t))
            .await
            .unwrap();
        assert_eq!(one, (vec![1, 2], "a".to_owned()));
        let every = collect_pages(String::new(), true, async |t| pages(t))
            .await
            .unwrap();
        assert_eq!(every, (vec![1, 2, 3, 4], String::new()));
    }

    fn at(s: &str) -> Option<prost_types::Timestamp> {
        Some(timestamp(parse_moment(s, "t").unwrap()))
    }

    fn sample_appeal() -> pb::Appeal {
        pb::Appeal {
            id: "0195b0a0-0000-7000-8000-000000000001".into(),
            registration_number: "ALM-2026-000123".into(),
            status: pb::AppealStatus::Registered as i32,
            kind: pb::AppealKind::Complaint as i32,
            channel: pb::Channel::PaperInPerson as i32,
            language: pb::Language::Ru as i32,
            applicant: Some(pb::Applicant {
                party: Some(pb::applicant::Party::Individual(pb::Individual {
                    iin: "900101300123".into(),
                    full_name: "Асанов Асан".into(),
                    phone: "+77010000000".into(),
                    ..Default::default()
                })),
            }),
            corruption_report: true,
            locality: Some(pb::Locality {
                district: "Медеуский".into(),
                kato: "751110000".into(),
                ..Default::default()
            }),
            location: Some(pb::GeoPoint {
                lat: 43.25,
                lon: 76.95,
            }),
            subject: "Нет отопления в доме по улице Абая, третий день подряд".into(),
            text: "Строка один.\nСтрока два.".into(),
            attachments: vec![pb::Attachment {
                name: "photo.jpg".into(),
                media_type: "image/jpeg".into(),
                size_bytes: 2_621_440,
                sha256: "abcd".into(),
                ..Default::default()
            }],
            signature: Some(pb::SignatureVerification {
                status: "valid".into(),
                signer_subject: "CN=АСАНОВ АСАН".into(),
                ..Default::default()
            }),
            registered_at: at("2026-03-20 09:15"),
            received_at: at("2026-03-20 09:10"),
            received_by: Some(pb::Officer {
                full_name: "Серикова Д.".into(),
                position: "registrar".into(),
            }),
            office: "ALM".into(),
            ..Default::default()
        }
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("короткий", 40), "короткий");
        let long = "ж".repeat(50);
        let t = truncate(&long, 40);
        assert_eq!(t.chars().count(), 40);
        assert!(t.ends_with('…'));
        assert_eq!(truncate("a\nb", 40), "a b");
    }

    #[test]
    fn sizes_read_like_a_file_manager() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(1023), "1023 bytes");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(2_621_440), "2.5 MB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.0 GB");
    }

    #[test]
    fn tables_line_up_cyrillic() {
        let t = table(
            &["A", "B"],
            &[
                vec!["Медеуский".into(), "x".into()],
                vec!["ab".into(), "y".into()],
            ],
        );
        assert_eq!(t, "A          B\nМедеуский  x\nab         y\n");
    }

    #[test]
    fn the_coupon_shows_number_times_officer_and_status() {
        let resp = pb::RegisterAppealResponse {
            appeal: Some(pb::Appeal {
                repeated_of_registration_number: "ALM-2026-000100".into(),
                ..sample_appeal()
            }),
            coupon: Some(pb::Coupon {
                registration_number: "ALM-2026-000123".into(),
                registered_at: at("2026-03-20 09:15"),
                received_at: at("2026-03-20 09:10"),
                officer_name: "Серикова Д.".into(),
                officer_position: "registrar".into(),
                office: "ALM".into(),
            }),
            replayed: false,
        };
        let text = coupon_text(&resp);
        let expected = "\
Appeal registered. Coupon (талон):
  Registration number  ALM-2026-000123
  Registered at        2026-03-20 09:15
  Received at          2026-03-20 09:10
  Officer              Серикова Д.
  Position             registrar
  Office               ALM
  Status               registered
  Repeated of          ALM-2026-000100
  Signature            valid, signed by CN=АСАНОВ АСАН
  Appeal id            0195b0a0-0000-7000-8000-000000000001
";
        assert_eq!(text, expected);
    }

    #[test]
    fn a_declined_coupon_gives_the_reasons_and_a_replay_says_so() {
        let resp = pb::RegisterAppealResponse {
            appeal: Some(pb::Appeal {
                status: pb::AppealStatus::Declined as i32,
                decline_reasons: vec![pb::DeclineReason {
                    field: "anonymous".into(),
                    message: "anonymous appeals are not considered".into(),
                    code: "anonymous".into(),
                }],
                signature: None,
                ..sample_appeal()
            }),
            coupon: Some(pb::Coupon {
                registration_number: "ALM-2026-000124".into(),
                ..Default::default()
            }),
            replayed: true,
        };
        let text = coupon_text(&resp);
        assert!(text.starts_with("Appeal registered and DECLINED"), "{text}");
        assert!(text.contains("  Status               declined\n"), "{text}");
        assert!(
            text.contains("    - anonymous: anonymous appeals are not considered [anonymous]\n"),
            "{text}"
        );
        assert!(!text.contains("Signature"), "{text}");
        assert!(text.contains("already been registered"), "{text}");
    }

    #[test]
    fn show_prints_every_part_of_the_appeal() {
        let text = appeal_text(&sample_appeal());
        for want in [
            "Appeal ALM-2026-000123  (id 0195b0a0-0000-7000-8000-000000000001)",
            "Status          registered",
            "Kind            complaint",
            "Channel         paper_in_person",
            "Registered at   2026-03-20 09:15",
            "Received by     Серикова Д., registrar",
            "Marks           corruption report",
            "Applicant (individual):",
            "  IIN             900101300123",
            "  Name            Асанов Асан",
            "  District        Медеуский",
            "  Coordinates     43.25, 76.95",
            "Text:\n  Строка один.\n  Строка два.\n",
            "  - photo.jpg  image/jpeg  2.5 MB  sha256 abcd",
            "Signature verification:\n  Result          valid\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("Email"), "{text}");
        let repeat = appeal_text(&pb::Appeal {
            repeated_of_registration_number: "ALM-2026-000100".into(),
            repeated_of_appeal_id: "0195".into(),
            signature: Some(pb::SignatureVerification {
                status: "absent".into(),
                ..Default::default()
            }),
            ..sample_appeal()
        });
        assert!(
            repeat.contains("Repeated of     ALM-2026-000100 (id 0195)\n"),
            "{repeat}"
        );
        assert!(repeat.contains("Signature: none"), "{repeat}");
        assert!(!repeat.contains("Signature verification"), "{repeat}");
    }

    #[test]
    fn list_table_truncates_the_subject() {
        let text = appeals_table(&[sample_appeal()]);
        let mut lines = text.lines();
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("NUMBER           REGISTERED AT")
        );
        let row = lines.next().unwrap();
        assert!(
            row.starts_with("ALM-2026-000123  2026-03-20 09:15  complaint"),
            "{row}"
        );
        assert!(
            row.ends_with("Нет отопления в доме по улице Абая, тре…"),
            "{row}"
        );
        assert_eq!(appeals_table(&[]), "No appeals found.\n");
    }

    #[test]
    fn json_uses_names_and_office_time() {
        let v = appeal_json(&sample_appeal());
        assert_eq!(v["kind"], "complaint");
        assert_eq!(v["channel"], "paper_in_person");
        assert_eq!(v["status"], "registered");
        assert_eq!(v["registered_at"], "2026-03-20T09:15:00+05:00");
        assert_eq!(v["applicant"]["type"], "individual");
        assert_eq!(v["attachments"][0]["size_bytes"], 2_621_440);
        assert!(v["attachments"][0].get("content_base64").is_none());
        assert_eq!(v["location"]["lat"], 43.25);
        let r = register_response_json(&pb::RegisterAppealResponse {
            appeal: Some(sample_appeal()),
            coupon: Some(pb::Coupon {
                registration_number: "ALM-2026-000123".into(),
                ..Default::default()
            }),
            replayed: true,
        });
        assert_eq!(r["coupon"]["registration_number"], "ALM-2026-000123");
        assert_eq!(r["coupon"]["registered_at"], Value::Null);
        assert_eq!(r["replayed"], true);
        assert_eq!(r["appeal"]["id"], "0195b0a0-0000-7000-8000-000000000001");
    }

    #[test]
    fn consultations_as_text_table_and_json() {
        let c = pb::Consultation {
            id: "c1".into(),
            channel: pb::ConsultationChannel::Phone as i32,
            language: pb::Language::Kk as i32,
            topic: "housing_utilities".into(),
            question: "Как подать жалобу?".into(),
            answer: "Через ЦОН.".into(),
            given_by: Some(pb::Officer {
                full_name: "Серикова Д.".into(),
                position: "registrar".into(),
            }),
            given_at: at("2026-03-20 10:00"),
            duration_minutes: 7,
            ..Default::default()
        };
        let text = consultation_text(&c);
        assert!(text.contains("  Channel     phone\n"), "{text}");
        assert!(text.contains("  Minutes     7\n"), "{text}");
        assert!(!text.contains("Person"), "{text}");
        let t = consultations_table(std::slice::from_ref(&c));
        assert!(
            t.lines()
                .nth(1)
                .unwrap()
                .starts_with("2026-03-20 10:00  phone"),
            "{t}"
        );
        let v = consultations_page_json(&[c], "tok");
        assert_eq!(v["consultations"][0]["channel"], "phone");
        assert_eq!(
            v["consultations"][0]["given_at"],
            "2026-03-20T10:00:00+05:00"
        );
        assert_eq!(v["next_page_token"], "tok");
    }
}
