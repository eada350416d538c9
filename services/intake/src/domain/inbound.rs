//! The inbound contract for other government systems (reg 8.5, 8.6): a CloudEvents 1.0
//! structured JSON document of type `kz.bakylau.appeal.submit` on `bakylau.inbound`. This
//! module turns one into a `NewAppeal`, or says precisely what is wrong with it.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{
    AppealKind, Applicant, Channel, FieldIssue, GeoPoint, Individual, Language, LegalEntity,
    Locality, NewAppeal, NewAttachment, Representative, Signatory,
};

pub const SUBMIT_TYPE: &str = "kz.bakylau.appeal.submit";
pub const REGISTERED_TYPE: &str = "kz.bakylau.appeal.registered";
pub const DECLINED_TYPE: &str = "kz.bakylau.appeal.declined";

/// An inbound appeal that parsed; pre-review still has to accept it.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The CloudEvent `id`, echoed as the reply's `correlation_id`.
    pub event_id: String,
    pub source: String,
    pub external_id: String,
    pub appeal: NewAppeal,
}

/// What could be read of a submission that cannot be accepted, with every problem named.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub event_id: String,
    pub source: String,
    pub external_id: String,
    pub issues: Vec<FieldIssue>,
}

/// Parses a CloudEvents JSON submission. `Err` only when the message is not a JSON object
/// at all: such a message cannot be answered and is parked with the reason.
pub fn parse_cloudevent(body: &[u8]) -> Result<Result<Submission, Rejection>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| format!("body is not JSON: {e}"))?;
    let Value::Object(event) = value else {
        return Err("body is not a JSON object".into());
    };
    let mut r = Reader::default();
    let event_id = r.string(&event, "id", "id", true);
    let source = r.string(&event, "source", "source", true);
    match event.get("specversion").and_then(Value::as_str) {
        Some("1.0") => {}
        Some(other) => r.issue(
            "specversion",
            "unsupported",
            format!(
                "CloudEvents specversion 1.0 is required, got {:?}",
                clip(other)
            ),
        ),
        None => r.issue(
            "specversion",
            "required",
            "required: CloudEvents specversion \"1.0\"",
        ),
    }
    match event.get("type").and_then(Value::as_str) {
        Some(SUBMIT_TYPE) => {}
        Some(other) => r.issue(
            "type",
            "unsupported",
            format!("type must be {SUBMIT_TYPE}, got {:?}", clip(other)),
        ),
        None => r.issue("type", "required", format!("required: type {SUBMIT_TYPE}")),
    }
    if let Some(ct) = event.get("datacontenttype").and_then(Value::as_str)
        && !ct.starts_with("application/json")
    {
        r.issue(
            "datacontenttype",
            "unsupported",
            "data must be application/json",
        );
    }
    let data = match event.get("data") {
        Some(Value::Object(d)) => d.clone(),
        Some(_) => {
            r.issue("data", "invalid", "data must be a JSON object");
            Map::new()
        }
        None => {
            r.issue("data", "required", "required: data with the appeal");
            Map::new()
        }
    };
    let external_id = r.string(&data, "external_id", "data.external_id", true);
    let time = r.time(&event, "time", "time");
    let mut appeal = r.appeal(&data, "data");
    appeal.channel = Some(Channel::External);
    appeal.source = source.clone();
    appeal.external_id = external_id.clone();
    if appeal.received_at.is_none() {
        appeal.received_at = time;
    }
    if r.issues.is_empty() {
        Ok(Ok(Submission {
            event_id,
            source,
            external_id,
            appeal,
        }))
    } else {
        Ok(Err(Rejection {
            event_id,
            source,
            external_id,
            issues: r.issues,
        }))
    }
}

fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Reads typed fields from JSON, collecting an issue for each missing or ill-typed one.
#[derive(Default)]
struct Reader {
    issues: Vec<FieldIssue>,
}

impl Reader {
    fn issue(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.issues.push(FieldIssue::new(field, code, message));
    }

    fn string(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> String {
        match obj.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() || !required => s.clone(),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                if required {
                    self.issue(path, "required", format!("required: {key}"));
                }
                String::new()
            }
            Some(_) => {
                self.issue(path, "invalid_type", "must be a string");
                String::new()
            }
        }
    }

    fn boolean(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> bool {
        match obj.get(key) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.issue(path, "invalid_type", "must be true or false");
                false
            }
        }
    }

    fn number(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<f64> {
        match obj.get(key) {
            Some(Value::Number(n)) => n.as_f64(),
            None | Some(Value::Null) => {
                self.issue(path, "required", format!("required: {key}"));
                None
            }
            Some(_) => {
                self.issue(path, "invalid_type", "must be a number");
                None
            }
        }
    }

    fn object<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match obj.get(key) {
            Some(Value::Object(o)) => Some(o),
            None | Some(Value::Null) => None,
            Some(_) => {
                self.issue(path, "invalid_type", "must be an object");
                None
            }
        }
    }

    fn array<'a>(&mut self, obj: &'a Map<String, Value>, key: &str, path: &str) -> &'a [Value] {
        match obj.get(key) {
            Some(Value::Array(a)) => a,
            None | Some(Value::Null) => &[],
            Some(_) => {
                self.issue(path, "invalid_type", "must be an array");
                &[]
            }
        }
    }

    fn time(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<DateTime<Utc>> {
        let s = self.string(obj, key, path, false);
        if s.is_empty() {
            return None;
        }
        match DateTime::parse_from_rfc3339(&s) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                self.issue(path, "invalid", "must be an RFC 3339 timestamp");
                None
            }
        }
    }

    fn base64(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Vec<u8> {
        let s = self.string(obj, key, path, true);
        match base64::engine::general_purpose::STANDARD.decode(s.trim()) {
            Ok(b) => b,
            Err(_) => {
                if !s.is_empty() {
                    self.issue(path, "invalid", "must be standard base64");
                }
                Vec::new()
            }
        }
    }

    fn enumerated<T>(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
        parse: fn(&str) -> Option<T>,
        allowed: &str,
    ) -> Option<T> {
        let s = self.string(obj, key, path, true);
        if s.is_empty() {
            return None;
        }
        let parsed = parse(&s);
        if parsed.is_none() {
            self.issue(path, "invalid", format!("must be one of {allowed}"));
        }
        parsed
    }

    fn appeal(&mut self, data: &Map<String, Value>, p: &str) -> NewAppeal {
        let path = |k: &str| format!("{p}.{k}");
        let kind = self.enumerated(
            data,
            "kind",
            &path("kind"),
            AppealKind::parse,
            "application, report, feedback, proposal, request, complaint",
        );
        let language = self.enumerated(
            data,
            "language",
            &path("language"),
            Language::parse,
            "kk, ru, en",
        );
        let anonymous = self.boolean(data, "anonymous", &path("anonymous"));
        let applicant = match self.object(data, "applicant", &path("applicant")) {
            Some(a) => self.applicant(a, &path("applicant")),
            None => None,
        };
        let locality = match self.object(data, "locality", &path("locality")) {
            Some(l) => Locality {
                kato: self.string(l, "kato", &path("locality.kato"), false),
                region: self.string(l, "region", &path("locality.region"), false),
                district: self.string(l, "district", &path("locality.district"), false),
                rural_district: self.string(
                    l,
                    "rural_district",
                    &path("locality.rural_district"),
                    false,
                ),
            },
            None => Locality::default(),
        };
        let location = match self.object(data, "location", &path("location")) {
            Some(l) => {
                let lat = self.number(l, "lat", &path("location.lat"));
                let lon = self.number(l, "lon", &path("location.lon"));
                lat.zip(lon).map(|(lat, lon)| GeoPoint { lat, lon })
            }
            None => None,
        };
        let mut attachments = Vec::new();
        for (i, a) in self
            .array(data, "attachments", &path("attachments"))
            .iter()
            .enumerate()
        {
            let ap = format!("{p}.attachments[{i}]");
            let Value::Object(a) = a else {
                self.issue(&ap, "invalid_type", "must be an object");
                continue;
            };
            attachments.push(NewAttachment {
                name: self.string(a, "name", &format!("{ap}.name"), true),
                media_type: self.string(a, "media_type", &format!("{ap}.media_type"), true),
                sha256: self.string(a, "sha256", &format!("{ap}.sha256"), false),
                content: self.base64(a, "content_base64", &format!("{ap}.content_base64")),
            });
        }
        let mut co_signatories = Vec::new();
        for (i, s) in self
            .array(data, "co_signatories", &path("co_signatories"))
            .iter()
            .enumerate()
        {
            let sp = format!("{p}.co_signatories[{i}]");
            let Value::Object(s) = s else {
                self.issue(&sp, "invalid_type", "must be an object");
                continue;
            };
            co_signatories.push(Signatory {
                full_name: self.string(s, "full_name", &format!("{sp}.full_name"), true),
                iin: self.string(s, "iin", &format!("{sp}.iin"), false),
            });
        }
        let signature = match self.object(data, "signature", &path("signature")) {
            Some(s) => {
                let format = self.string(s, "format", &path("signature.format"), true);
                if !format.is_empty() && format != "cms" {
                    self.issue(
                        &path("signature.format"),
                        "unsupported",
                        "only \"cms\" (CMS/PKCS#7 SignedData) is accepted",
                    );
                }
                Some(self.base64(s, "content_base64", &path("signature.content_base64")))
            }
            None => None,
        };
        NewAppeal {
            kind,
            channel: Some(Channel::External),
            language,
            applicant,
            anonymous,
            corruption_report: self.boolean(data, "corruption_report", &path("corruption_report")),
            co_signatories,
            repeated_of: self.string(data, "repeated_of", &path("repeated_of"), false),
            addressee: self.string(data, "addressee", &path("addressee"), false),
            locality,
            location,
            subject: self.string(data, "subject", &path("subject"), false),
            text: self.string(data, "text", &path("text"), true),
            attachments,
            signature,
            received_at: self.time(data, "received_at", &path("received_at")),
            ..Default::default()
        }
    }

    fn applicant(&mut self, a: &Map<String, Value>, p: &str) -> Option<Applicant> {
        let path = |k: &str| format!("{p}.{k}");
        let kind = self.string(a, "type", &path("type"), true);
        match kind.as_str() {
            "individual" => Some(Applicant::Individual(Individual {
                iin: self.string(a, "iin", &path("iin"), false),
                full_name: self.string(a, "full_name", &path("full_name"), false),
                phone: self.string(a, "phone", &path("phone"), false),
                email: self.string(a, "email", &path("email"), false),
                address: self.string(a, "address", &path("address"), false),
            })),
            "legal_entity" => {
                let representative = match self.object(a, "representative", &path("representative"))
                {
                    Some(r) => Representative {
                        full_name: self.string(
                            r,
                            "full_name",
                            &path("representative.full_name"),
                            false,
                        ),
                        iin: self.string(r, "iin", &path("representative.iin"), false),
                        position: self.string(
                            r,
                            "position",
                            &path("representative.position"),
                            false,
                        ),
                    },
                    None => Representative::default(),
                };
                Some(Applicant::LegalEntity(LegalEntity {
                    bin: self.string(a, "bin", &path("bin"), false),
                    name: self.string(a, "name", &path("name"), false),
                    representative,
                    phone: self.string(a, "phone", &path("phone"), false),
                    email: self.string(a, "email", &path("email"), false),
                    address: self.string(a, "address", &path("address"), false),
                }))
            }
            "" => None,
            _ => {
                self.issue(
                    &path("type"),
                    "invalid",
                    "must be individual or legal_entity",
                );
                None
            }
        }
    }
}

/// Prefixes pre-review's field names with where the appeal sits in a submission
/// (`data.` for CloudEvents, `appeal.` for the protobuf form).
pub fn prefix_fields(issues: Vec<FieldIssue>, prefix: &str) -> Vec<FieldIssue> {
    issues
        .into_iter()
        .map(|mut i| {
            i.field = if i.field.is_empty() {
                prefix.trim_end_matches('.').to_owned()
            } else {
                format!("{prefix}{}", i.field)
            };
            i
        })
        .collect()
}

/// The CloudEvents reply to a sender, and to `bakylau.outbound`-style consumers.
pub fn reply_document(event_type: &str, subject: &str, data: Value, now: DateTime<Utc>) -> Value {
    serde_json::json!({
        "specversion": "1.0",
        "type": event_type,
        "source": "urn:kz:bakylau:intake",
        "id": uuid::Uuid::now_v7().to_string(),
        "time": now.to_rfc3339(),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn sample_event() -> Value {
        serde_json::json!({
            "specversion": "1.0",
            "type": "kz.bakylau.appeal.submit",
            "source": "urn:kz:eotinish",
            "id": "0b9d6c1e-6a51-4a39-9f6b-4f1f0f3c2a10",
            "time": "2026-03-20T09:15:00+05:00",
            "datacontenttype": "application/json",
            "data": {
                "external_id": "EO-2026-0001234",
                "kind": "complaint",
                "language": "ru",
                "applicant": { "type": "individual", "iin": "900101301234", "full_name": "Тестов Тест",
                               "phone": "+77011234567", "email": "t@example.kz", "address": "Қонаев" },
                "anonymous": false,
                "corruption_report": false,
                "addressee": "akim",
                "locality": { "kato": "195220100", "region": "Алматинская", "district": "talgar", "rural_district": "" },
                "location": { "lat": 43.3, "lon": 77.2 },
                "subject": "Ремонт дороги",
                "text": "Прошу отремонтировать дорогу",
                "attachments": [ { "name": "photo.jpg", "media_type": "image/jpeg", "content_base64": "AAEC" } ],
            }
        })
    }

    #[test]
    fn the_documented_example_parses() {
        let body = serde_json::to_vec(&sample_event()).unwrap();
        let s = parse_cloudevent(&body).unwrap().unwrap();
        assert_eq!(s.source, "urn:kz:eotinish");
        assert_eq!(s.external_id, "EO-2026-0001234");
        assert_eq!(s.appeal.kind, Some(AppealKind::Complaint));
        assert_eq!(s.appeal.channel, Some(Channel::External));
        assert_eq!(s.appeal.attachments[0].content, vec![0, 1, 2]);
        assert_eq!(s.appeal.locality.district, "talgar");
        assert!(s.appeal.received_at.is_some());
    }

    #[test]
    fn wrong_version_and_types_are_named() {
        let mut e = sample_event();
        e["specversion"] = "0.3".into();
        e["data"]["anonymous"] = "no".into();
        e["data"]["kind"] = "petition".into();
        e["data"]["attachments"][0]["content_base64"] = "***".into();
        let body = serde_json::to_vec(&e).unwrap();
        let r = parse_cloudevent(&body).unwrap().unwrap_err();
        let fields: Vec<_> = r.issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "specversion",
                "data.kind",
                "data.anonymous",
                "data.attachments[0].content_base64"
            ]
        );
        assert_eq!(r.external_id, "EO-2026-0001234");
    }

    #[test]
    fn not_json_is_unreadable() {
        assert!(parse_cloudevent(b"\xff\xfe").is_err());
        assert!(parse_cloudevent(b"{not json").is_err());
        assert!(parse_cloudevent(b"[1,2]").is_err());
        let deep = "[".repeat(10_000);
        assert!(parse_cloudevent(deep.as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_cloudevent(&body);
        }

        #[test]
        fn never_panics_on_mutated_fields(key in "[a-z_]{1,12}", value in prop_oneof![
            Just(Value::Null), any::<bool>().prop_map(Value::from), any::<i64>().prop_map(Value::from),
            "\\PC{0,20}".prop_map(Value::from), Just(serde_json::json!([])), Just(serde_json::json!({})),
        ]) {
            let mut e = sample_event();
            e["data"][&key] = value.clone();
            e["data"]["applicant"][&key] = value.clone();
            e[&key] = value;
            let _ = parse_cloudevent(&serde_json::to_vec(&e).unwrap());
        }
    }
}
