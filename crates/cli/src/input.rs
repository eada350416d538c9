//! Reading what the registrar hands the command: an appeal as a JSON file (the `data`
//! object of the inbound CloudEvents contract, or the whole CloudEvent), attachment and
//! signature files, and the text.

use std::path::Path;

use anyhow::{Context, Result};
use bakylau_proto::intake::v1 as pb;
use base64::Engine as _;
use serde::Deserialize;

use crate::error::usage;
use crate::localtime;
use crate::vocab::{Channel, Kind, Language};

/// Extensions the register accepts, with their media types.
const MEDIA_TYPES: &[(&[&str], &str)] = &[
    (&["pdf"], "application/pdf"),
    (&["jpg", "jpeg"], "image/jpeg"),
    (&["png"], "image/png"),
    (&["tif", "tiff"], "image/tiff"),
    (&["txt"], "text/plain"),
    (&["doc"], "application/msword"),
    (
        &["docx"],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (&["odt"], "application/vnd.oasis.opendocument.text"),
    (&["xls"], "application/vnd.ms-excel"),
    (
        &["xlsx"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (&["mp4"], "video/mp4"),
    (&["mp3"], "audio/mpeg"),
];

/// Media type of a file by its extension (case does not matter), `None` when unknown.
pub fn media_type_for(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    MEDIA_TYPES
        .iter()
        .find(|(exts, _)| exts.contains(&ext.as_str()))
        .map(|(_, t)| *t)
}

fn known_extensions() -> String {
    MEDIA_TYPES
        .iter()
        .flat_map(|(exts, _)| exts.iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| usage(format!("{what} {}: {e}", path.display())))
}

/// An attachment read from disk, named after the file, its type told by the extension.
pub fn read_attachment(path: &Path) -> Result<pb::Attachment> {
    let media_type = media_type_for(path).ok_or_else(|| {
        usage(format!(
            "--attach {}: cannot tell the file type from its extension; accepted: {}",
            path.display(),
            known_extensions()
        ))
    })?;
    Ok(pb::Attachment {
        name: file_name(path),
        media_type: media_type.to_owned(),
        content: read_file(path, "--attach")?,
        ..Default::default()
    })
}

/// A CMS / PKCS#7 signature file, DER or PEM as it is: the register reads both.
pub fn read_signature(path: &Path) -> Result<pb::Signature> {
    Ok(pb::Signature {
        format: pb::SignatureFormat::Cms as i32,
        content: read_file(path, "--signature")?,
    })
}

/// The text of an appeal from a UTF-8 file, or from standard input for `-`.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .context("reading the text from standard input")?;
        buf
    } else {
        read_file(path, "--text-file")?
    };
    String::from_utf8(bytes).map_err(|_| {
        usage(format!(
            "--text-file {}: not UTF-8 text; save it as UTF-8",
            path.display()
        ))
    })
}

// The JSON shape: the `data` object of the inbound contract (DESIGN.md), plus the
// optional `channel`, `received_by` and `request_id` a registrar may want to set.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppealDoc {
    request_id: Option<String>,
    external_id: Option<String>,
    source: Option<String>,
    kind: Option<Kind>,
    channel: Option<Channel>,
    language: Option<Language>,
    applicant: Option<ApplicantDoc>,
    #[serde(default)]
    anonymous: bool,
    #[serde(default)]
    corruption_report: bool,
    #[serde(default)]
    co_signatories: Vec<SignatoryDoc>,
    repeated_of: Option<String>,
    addressee: Option<String>,
    locality: Option<LocalityDoc>,
    location: Option<LocationDoc>,
    subject: Option<String>,
    text: Option<String>,
    #[serde(default)]
    attachments: Vec<AttachmentDoc>,
    signature: Option<SignatureDoc>,
    received_at: Option<String>,
    received_by: Option<OfficerDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ApplicantDoc {
    Individual {
        #[serde(default)]
        iin: String,
        #[serde(default)]
        full_name: String,
        #[serde(default)]
        phone: String,
        #[serde(default)]
        email: String,
        #[serde(default)]
        address: String,
    },
    LegalEntity {
        #[serde(default)]
        bin: String,
        #[serde(default)]
        name: String,
        representative: Option<RepresentativeDoc>,
        #[serde(default)]
        phone: String,
        #[serde(default)]
        email: String,
        #[serde(default)]
        address: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepresentativeDoc {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    iin: String,
    #[serde(default)]
    position: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatoryDoc {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    iin: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalityDoc {
    #[serde(default)]
    kato: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    rural_district: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationDoc {
    lat: f64,
    lon: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttachmentDoc {
    name: Option<String>,
    media_type: Option<String>,
    #[serde(default)]
    sha256: String,
    content_base64: Option<String>,
    /// A file beside the JSON document, instead of `content_base64`.
    path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureDoc {
    format: Option<String>,
    content_base64: Option<String>,
    path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficerDoc {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    position: String,
}

/// Reads `--file`: relative attachment and signature paths are taken from its folder.
pub fn load_appeal_file(path: &Path) -> Result<pb::RegisterAppealRequest> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("--file {}: {e}", path.display())))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_appeal_json(&text, base).map_err(|e| match e.downcast::<crate::error::Usage>() {
        Ok(u) => usage(format!("{}: {u}", path.display())),
        Err(e) => e,
    })
}

/// Maps the JSON document to a request. A whole CloudEvent (with `specversion` and `data`)
/// is accepted too: its `source` and `time` fill the appeal's source and arrival time.
pub fn parse_appeal_json(text: &str, base: &Path) -> Result<pb::RegisterAppealRequest> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| usage(format!("not valid JSON: {e}")))?;
    let (doc, event) = match value.as_object() {
        Some(obj) if obj.contains_key("specversion") => {
            let data = obj
                .get("data")
                .cloned()
                .ok_or_else(|| usage("the CloudEvent has no `data` object"))?;
            let doc: AppealDoc =
                serde_json::from_value(data).map_err(|e| usage(format!("data: {e}")))?;
            let source = obj.get("source").and_then(|v| v.as_str()).map(String::from);
            let time = obj.get("time").and_then(|v| v.as_str()).map(String::from);
            (doc, Some((source, time)))
        }
        Some(_) => {
            let doc: AppealDoc = serde_json::from_str(text).map_err(|e| usage(e.to_string()))?;
            (doc, None)
        }
        None => return Err(usage("the appeal must be a JSON object")),
    };
    let mut req = to_request(doc, base)?;
    if let Some((source, time)) = event {
        req.channel = Channel::External.number();
        if req.source.is_empty() {
            req.source = source.unwrap_or_default();
        }
        if req.received_at.is_none()
            && let Some(time) = time
        {
            req.received_at = Some(localtime::timestamp(localtime::parse_moment(
                &time, "time",
            )?));
        }
    }
    Ok(req)
}

fn decode_base64(s: &str, field: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|_| usage(format!("{field}: not standard base64")))
}

fn to_request(doc: AppealDoc, base: &Path) -> Result<pb::RegisterAppealRequest> {
    let applicant = doc.applicant.map(|a| pb::Applicant {
        party: Some(match a {
            ApplicantDoc::Individual {
                iin,
                full_name,
                phone,
                email,
                address,
            } => pb::applicant::Party::Individual(pb::Individual {
                iin,
                full_name,
                phone,
                email,
                address,
            }),
            ApplicantDoc::LegalEntity {
                bin,
                name,
                representative,
                phone,
                email,
                address,
            } => pb::applicant::Party::LegalEntity(pb::LegalEntity {
                bin,
                name,
                representative: representative.map(|r| pb::Representative {
                    full_name: r.full_name,
                    iin: r.iin,
                    position: r.position,
                }),
                phone,
                email,
                address,
            }),
        }),
    });
    let mut attachments = Vec::with_capacity(doc.attachments.len());
    for (i, a) in doc.attachments.into_iter().enumerate() {
        let field = format!("attachments[{i}]");
        let (content, from_path) = match (a.content_base64, a.path) {
            (Some(b64), None) => (
                decode_base64(&b64, &format!("{field}.content_base64"))?,
                None,
            ),
            (None, Some(p)) => {
                let p = base.join(p);
                (read_file(&p, &format!("{field}.path"))?, Some(p))
            }
            (Some(_), Some(_)) => {
                return Err(usage(format!(
                    "{field}: give content_base64 or path, not both"
                )));
            }
            (None, None) => {
                return Err(usage(format!(
                    "{field}: content_base64 (or path) is required"
                )));
            }
        };
        let name = match (a.name, &from_path) {
            (Some(n), _) => n,
            (None, Some(p)) => file_name(p),
            (None, None) => return Err(usage(format!("{field}.name: required"))),
        };
        let media_type = match a.media_type {
            Some(t) => t,
            None => media_type_for(Path::new(&name))
                .ok_or_else(|| {
                    usage(format!(
                        "{field}.media_type: required (cannot tell it from the name {name:?})"
                    ))
                })?
                .to_owned(),
        };
        attachments.push(pb::Attachment {
            name,
            media_type,
            sha256: a.sha256,
            content,
            ..Default::default()
        });
    }
    let signature = match doc.signature {
        None => None,
        Some(s) => {
            if let Some(f) = s.format.as_deref()
                && f != "cms"
            {
                return Err(usage(format!(
                    "signature.format: only \"cms\" is accepted, got {f:?}"
                )));
            }
            let content = match (s.content_base64, s.path) {
                (Some(b64), None) => decode_base64(&b64, "signature.content_base64")?,
                (None, Some(p)) => read_file(&base.join(p), "signature.path")?,
                _ => {
                    return Err(usage(
                        "signature: give exactly one of content_base64 or path",
                    ));
                }
            };
            Some(pb::Signature {
                format: pb::SignatureFormat::Cms as i32,
                content,
            })
        }
    };
    let received_at = doc
        .received_at
        .map(|t| localtime::parse_moment(&t, "received_at").map(localtime::timestamp))
        .transpose()?;
    Ok(pb::RegisterAppealRequest {
        request_id: doc.request_id.unwrap_or_default(),
        kind: doc.kind.map(Kind::number).unwrap_or_default(),
        channel: doc.channel.map(Channel::number).unwrap_or_default(),
        source: doc.source.unwrap_or_default(),
        external_id: doc.external_id.unwrap_or_default(),
        language: doc.language.map(Language::number).unwrap_or_default(),
        applicant,
        anonymous: doc.anonymous,
        corruption_report: doc.corruption_report,
        co_signatories: doc
            .co_signatories
            .into_iter()
            .map(|s| pb::Signatory {
                full_name: s.full_name,
                iin: s.iin,
            })
            .collect(),
        repeated_of: doc.repeated_of.unwrap_or_default(),
        addressee: doc.addressee.unwrap_or_default(),
        locality: doc.locality.map(|l| pb::Locality {
            kato: l.kato,
            region: l.region,
            district: l.district,
            rural_district: l.rural_district,
        }),
        location: doc.location.map(|l| pb::GeoPoint {
            lat: l.lat,
            lon: l.lon,
        }),
        subject: doc.subject.unwrap_or_default(),
        text: doc.text.unwrap_or_default(),
        attachments,
        signature,
        received_at,
        received_by: doc.received_by.map(|o| pb::Officer {
            full_name: o.full_name,
            position: o.position,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<pb::RegisterAppealRequest> {
        parse_appeal_json(json, Path::new("."))
    }

    fn message(e: anyhow::Error) -> String {
        e.downcast::<crate::error::Usage>()
            .expect("a usage error")
            .0
    }

    #[test]
    fn media_types_by_extension() {
        assert_eq!(media_type_for(Path::new("a.pdf")), Some("application/pdf"));
        assert_eq!(media_type_for(Path::new("SCAN.JPG")), Some("image/jpeg"));
        assert_eq!(media_type_for(Path::new("x/y.jpeg")), Some("image/jpeg"));
        assert_eq!(media_type_for(Path::new("p.png")), Some("image/png"));
        assert_eq!(media_type_for(Path::new("p.tif")), Some("image/tiff"));
        assert_eq!(media_type_for(Path::new("p.tiff")), Some("image/tiff"));
        assert_eq!(media_type_for(Path::new("n.txt")), Some("text/plain"));
        assert_eq!(
            media_type_for(Path::new("d.doc")),
            Some("application/msword")
        );
        assert_eq!(
            media_type_for(Path::new("d.docx")),
            Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
        );
        assert_eq!(
            media_type_for(Path::new("d.odt")),
            Some("application/vnd.oasis.opendocument.text")
        );
        assert_eq!(
            media_type_for(Path::new("t.xls")),
            Some("application/vnd.ms-excel")
        );
        assert_eq!(
            media_type_for(Path::new("t.xlsx")),
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        );
        assert_eq!(media_type_for(Path::new("virus.exe")), None);
        assert_eq!(media_type_for(Path::new("noext")), None);
    }

    #[test]
    fn unknown_attachment_types_are_refused_before_sending() {
        let e = read_attachment(Path::new("/nonexistent/setup.exe")).unwrap_err();
        let m = message(e);
        assert!(m.contains("setup.exe"), "{m}");
        assert!(m.contains("pdf, jpg, jpeg"), "{m}");
    }

    #[test]
    fn attachments_are_read_from_disk() {
        let dir = std::env::temp_dir().join(format!("bakylau-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("Scan 1.PDF");
        std::fs::write(&file, b"%PDF-1.4 test").unwrap();
        let a = read_attachment(&file).unwrap();
        assert_eq!(a.name, "Scan 1.PDF");
        assert_eq!(a.media_type, "application/pdf");
        assert_eq!(a.content, b"%PDF-1.4 test");
        // A JSON file may name attachments by path, relative to its own folder.
        let req = parse_appeal_json(
            r#"{"kind":"request","text":"t","attachments":[{"path":"Scan 1.PDF"}]}"#,
            &dir,
        )
        .unwrap();
        assert_eq!(req.attachments[0].name, "Scan 1.PDF");
        assert_eq!(req.attachments[0].media_type, "application/pdf");
        assert_eq!(req.attachments[0].content, b"%PDF-1.4 test");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_individual_appeal_maps_field_by_field() {
        let req = parse(
            r#"{
              "request_id": "r-1",
              "kind": "complaint",
              "channel": "paper_post",
              "language": "kk",
              "applicant": { "type": "individual", "iin": "900101300123",
                             "full_name": "Асанов Асан", "phone": "+77010000000",
                             "email": "a@example.kz", "address": "Алматы" },
              "anonymous": false,
              "corruption_report": true,
              "addressee": "akim",
              "repeated_of": "ALM-2026-000001",
              "locality": { "kato": "751110000", "region": "Алматы", "district": "Медеуский",
                            "rural_district": "" },
              "location": { "lat": 43.25, "lon": 76.95 },
              "subject": "Нет отопления",
              "text": "Третий день нет отопления.",
              "attachments": [ { "name": "photo.jpg", "media_type": "image/jpeg",
                                 "sha256": "ab", "content_base64": "aGVsbG8=" } ],
              "signature": { "format": "cms", "content_base64": "MIIB" },
              "received_at": "2026-03-20 09:15",
              "received_by": { "full_name": "Серикова Д.", "position": "registrar" }
            }"#,
        )
        .unwrap();
        assert_eq!(req.request_id, "r-1");
        assert_eq!(req.kind, pb::AppealKind::Complaint as i32);
        assert_eq!(req.channel, pb::Channel::PaperPost as i32);
        assert_eq!(req.language, pb::Language::Kk as i32);
        let Some(pb::applicant::Party::Individual(i)) = req.applicant.unwrap().party else {
            panic!("individual expected");
        };
        assert_eq!(i.iin, "900101300123");
        assert_eq!(i.full_name, "Асанов Асан");
        assert_eq!(i.phone, "+77010000000");
        assert_eq!(i.email, "a@example.kz");
        assert_eq!(i.address, "Алматы");
        assert!(req.corruption_report);
        assert!(!req.anonymous);
        assert_eq!(req.addressee, "akim");
        assert_eq!(req.repeated_of, "ALM-2026-000001");
        let l = req.locality.unwrap();
        assert_eq!(
            (l.kato.as_str(), l.district.as_str()),
            ("751110000", "Медеуский")
        );
        let g = req.location.unwrap();
        assert_eq!((g.lat, g.lon), (43.25, 76.95));
        assert_eq!(req.subject, "Нет отопления");
        assert_eq!(req.text, "Третий день нет отопления.");
        assert_eq!(req.attachments.len(), 1);
        assert_eq!(req.attachments[0].content, b"hello");
        assert_eq!(req.attachments[0].sha256, "ab");
        let s = req.signature.unwrap();
        assert_eq!(s.format, pb::SignatureFormat::Cms as i32);
        assert_eq!(s.content, [0x30, 0x82, 0x01]);
        assert_eq!(
            localtime::format_local(req.received_at.as_ref()),
            "2026-03-20 09:15"
        );
        let o = req.received_by.unwrap();
        assert_eq!(o.full_name, "Серикова Д.");
        assert_eq!(o.position, "registrar");
    }

    #[test]
    fn a_legal_entity_with_its_representative() {
        let req = parse(
            r#"{"kind":"request","language":"ru","text":"…",
                "applicant":{"type":"legal_entity","bin":"123456789012","name":"ТОО Пример",
                             "representative":{"full_name":"Ким В.","iin":"800101300456"}}}"#,
        )
        .unwrap();
        let Some(pb::applicant::Party::LegalEntity(e)) = req.applicant.unwrap().party else {
            panic!("legal entity expected");
        };
        assert_eq!(e.bin, "123456789012");
        assert_eq!(e.name, "ТОО Пример");
        let r = e.representative.unwrap();
        assert_eq!(
            (r.full_name.as_str(), r.iin.as_str()),
            ("Ким В.", "800101300456")
        );
        // Fields left out stay unspecified, for flags or the server's defaults to fill.
        assert_eq!(req.channel, 0);
        assert!(req.request_id.is_empty());
    }

    #[test]
    fn a_whole_cloudevent_is_accepted() {
        let req = parse(
            r#"{"specversion":"1.0","type":"kz.bakylau.appeal.submit","source":"urn:kz:eotinish",
                "id":"0b9d6c1e","time":"2026-03-20T09:15:00+05:00",
                "datacontenttype":"application/json",
                "data":{"external_id":"EO-2026-0001234","kind":"complaint","language":"ru",
                        "anonymous":true,"text":"x"}}"#,
        )
        .unwrap();
        assert_eq!(req.channel, pb::Channel::External as i32);
        assert_eq!(req.source, "urn:kz:eotinish");
        assert_eq!(req.external_id, "EO-2026-0001234");
        assert!(req.anonymous);
        assert_eq!(
            localtime::format_local(req.received_at.as_ref()),
            "2026-03-20 09:15"
        );
    }

    #[test]
    fn mistakes_in_the_file_are_named() {
        let m = message(parse(r#"{"kind":"complain"}"#).unwrap_err());
        assert!(m.contains("complain") && m.contains("complaint"), "{m}");
        let m =
            message(parse(r#"{"applicant":{"type":"individual","full_nmae":"x"}}"#).unwrap_err());
        assert!(m.contains("full_nmae"), "{m}");
        let m = message(parse(r#"{"subjct":"x"}"#).unwrap_err());
        assert!(m.contains("subjct") && m.contains("line 1"), "{m}");
        let m = message(parse(r#"{"attachments":[{"name":"a.pdf"}]}"#).unwrap_err());
        assert!(m.contains("attachments[0]"), "{m}");
        let m = message(
            parse(r#"{"attachments":[{"name":"a.pdf","content_base64":"%%"}]}"#).unwrap_err(),
        );
        assert!(m.contains("attachments[0].content_base64"), "{m}");
        let m = message(
            parse(r#"{"signature":{"format":"xml","content_base64":"AA=="}}"#).unwrap_err(),
        );
        assert!(m.contains("signature.format"), "{m}");
        let m = message(parse("[1,2]").unwrap_err());
        assert!(m.contains("JSON object"), "{m}");
        let m = message(parse("{").unwrap_err());
        assert!(m.contains("not valid JSON"), "{m}");
    }

    #[test]
    fn attachment_type_guessed_from_the_name_when_missing() {
        let req =
            parse(r#"{"attachments":[{"name":"plan.xlsx","content_base64":"AA=="}]}"#).unwrap();
        assert_eq!(
            req.attachments[0].media_type,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
    }
}
