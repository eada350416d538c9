//! Hostile and broken input at the pure level (issue 9): every way into intake — the gRPC
//! `RegisterAppealRequest` as decoded, the inbound AMQP message as CloudEvents JSON or the
//! protobuf `SubmitAppeal`, with any content type — fed with generated input. Properties:
//! nothing panics; a refusal names the field or the reason; whatever pre-review lets
//! through (accepted or declined, both are stored) can be stored, so the database never
//! turns bad input into `INTERNAL`.
//!
//! Cases per target: `BAKYLAU_FUZZ_CASES` (default 2 000, quick for CI); the long form
//! (`deploy/local/fuzz.sh`) runs 1 000 000 per target and collects the `FUZZ` lines.

use std::sync::atomic::{AtomicU64, Ordering};

use bakylau_intake::api::new_appeal;
use bakylau_intake::domain::inbound::parse_cloudevent;
use bakylau_intake::domain::validation::{PreReviewPolicy, Verdict, pre_review};
use bakylau_intake::domain::{Applicant, FieldIssue, NewAppeal};
use bakylau_intake::messaging::{decode_inbound, parse_protobuf};
use bakylau_platform::broker::{CONTENT_TYPE_CLOUDEVENTS, CONTENT_TYPE_PROTOBUF};
use bakylau_proto::intake::v1 as pb;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use prost::Message as _;
use serde_json::{Value, json};

const MAX_INBOUND: usize = 32 * 1024 * 1024;

fn cases() -> u32 {
    std::env::var("BAKYLAU_FUZZ_CASES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(2_000)
}

/// Peak resident memory of this process so far, in KiB (Linux `VmHWM`).
fn max_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `check` on `cases()` generated inputs and prints one `FUZZ` line for the long-form
/// table. A panic inside `check` is caught by proptest and fails the target, shrunk.
fn fuzz<S: Strategy>(target: &str, strategy: S, check: impl Fn(S::Value) -> Result<(), String>)
where
    S::Value: std::fmt::Debug,
{
    let n = cases();
    let mut runner = TestRunner::new(Config {
        cases: n,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    });
    let inputs = AtomicU64::new(0);
    let started = std::time::Instant::now();
    let result = runner.run(&strategy, |input| {
        inputs.fetch_add(1, Ordering::Relaxed);
        check(input).map_err(TestCaseError::fail)
    });
    println!(
        "FUZZ target={target} inputs={} failures={} secs={:.1} max_rss_kib={}",
        inputs.load(Ordering::Relaxed),
        u8::from(result.is_err()),
        started.elapsed().as_secs_f64(),
        max_rss_kib()
    );
    if let Err(e) = result {
        panic!("{target}: {e}");
    }
}

/// Every refusal names a field (or is about the whole message) and says something.
fn issues_are_named(issues: &[FieldIssue]) -> Result<(), String> {
    if issues.is_empty() {
        return Err("a refusal without reasons".into());
    }
    for i in issues {
        if i.code.is_empty() || i.message.trim().is_empty() {
            return Err(format!("a reason without code or message: {i:?}"));
        }
        if i.message.chars().count() > 500 {
            return Err(format!("an unbounded reason: {} chars", i.message.len()));
        }
    }
    Ok(())
}

/// What Postgres refuses to store (a NUL in text, a time outside its range) must not get
/// past pre-review, or registration fails with a database error instead of naming it.
fn storable(a: &NewAppeal) -> Result<(), String> {
    let mut texts: Vec<(&str, &str)> = vec![
        ("source", &a.source),
        ("external_id", &a.external_id),
        ("repeated_of", &a.repeated_of),
        ("addressee", &a.addressee),
        ("locality.kato", &a.locality.kato),
        ("locality.region", &a.locality.region),
        ("locality.district", &a.locality.district),
        ("locality.rural_district", &a.locality.rural_district),
        ("subject", &a.subject),
        ("text", &a.text),
    ];
    match &a.applicant {
        Some(Applicant::Individual(i)) => texts.extend([
            ("applicant.iin", i.iin.as_str()),
            ("applicant.full_name", &i.full_name),
            ("applicant.phone", &i.phone),
            ("applicant.email", &i.email),
            ("applicant.address", &i.address),
        ]),
        Some(Applicant::LegalEntity(e)) => texts.extend([
            ("applicant.bin", e.bin.as_str()),
            ("applicant.name", &e.name),
            (
                "applicant.representative.full_name",
                &e.representative.full_name,
            ),
            ("applicant.representative.iin", &e.representative.iin),
            (
                "applicant.representative.position",
                &e.representative.position,
            ),
            ("applicant.phone", &e.phone),
            ("applicant.email", &e.email),
            ("applicant.address", &e.address),
        ]),
        None => {}
    }
    for s in &a.co_signatories {
        texts.extend([
            ("co_signatories.full_name", s.full_name.as_str()),
            ("co_signatories.iin", &s.iin),
        ]);
    }
    for x in &a.attachments {
        texts.extend([
            ("attachments.name", x.name.as_str()),
            ("attachments.media_type", &x.media_type),
            ("attachments.sha256", &x.sha256),
        ]);
    }
    if let Some(o) = &a.received_by {
        texts.extend([
            ("received_by.full_name", o.full_name.as_str()),
            ("received_by.position", &o.position),
        ]);
    }
    if let Some((field, _)) = texts.iter().find(|(_, v)| v.contains('\0')) {
        return Err(format!("{field} with a NUL character got past pre-review"));
    }
    if let Some(t) = a.received_at {
        use chrono::Datelike as _;
        if !(1..=9999).contains(&t.year()) {
            return Err(format!("received_at {t} got past pre-review"));
        }
    }
    if let Some(p) = a.location
        && !(p.lat.is_finite() && p.lon.is_finite())
    {
        return Err("a non-finite location got past pre-review".into());
    }
    Ok(())
}

/// Pre-review either refuses with named reasons or lets through something storable.
fn pre_review_holds(appeal: &NewAppeal) -> Result<(), String> {
    match pre_review(appeal, &PreReviewPolicy::default()) {
        Err(issues) => issues_are_named(&issues),
        Ok(Verdict::Decline(reasons)) => {
            issues_are_named(&reasons)?;
            storable(appeal)
        }
        Ok(Verdict::Accept) => storable(appeal),
    }
}

// ---- generators -------------------------------------------------------------------------

/// Strings a hostile or broken client sends: empty, blank, NUL and other controls,
/// right-to-left marks, astral characters, very long, numbers that look like IINs.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "\\PC{0,24}",
        1 => Just(String::new()),
        1 => Just("   \t ".to_owned()),
        1 => "[0-9]{11,13}",
        1 => Just("900101300017".to_owned()),
        1 => "[a-z]{0,8}\u{0}[a-z]{0,8}",
        1 => "\\PC{0,8}[\u{1}-\u{1f}\u{7f}\u{202e}\u{feff}\u{1F600}]\\PC{0,8}",
        1 => (1usize..3000).prop_map(|n| "ж".repeat(n)),
        1 => Just("+77015550000".to_owned()),
        1 => Just("a@b.kz".to_owned()),
        1 => Just("urn:kz:eotinish".to_owned()),
        1 => Just("019ab3c4-0000-7000-8000-000000000000".to_owned()),
    ]
}

fn nasty_i32() -> impl Strategy<Value = i32> {
    prop_oneof![4 => -1i32..8, 1 => any::<i32>()]
}

fn nasty_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => 40.0f64..56.0,
        2 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-0.0),
    ]
}

fn nasty_timestamp() -> impl Strategy<Value = prost_types::Timestamp> {
    let seconds = prop_oneof![
        3 => 1_600_000_000i64..1_900_000_000,
        1 => any::<i64>(),
        1 => Just(i64::MIN),
        1 => Just(253_402_300_800i64), // 10000-01-01
        1 => Just(-62_135_596_801i64),  // before year 1
    ];
    let nanos = prop_oneof![4 => 0i32..1_000_000_000, 1 => any::<i32>()];
    (seconds, nanos).prop_map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos })
}

fn nasty_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn applicant() -> impl Strategy<Value = Option<pb::Applicant>> {
    let individual = (
        nasty_string(),
        nasty_string(),
        nasty_string(),
        nasty_string(),
        nasty_string(),
    )
        .prop_map(|(iin, full_name, phone, email, address)| {
            pb::applicant::Party::Individual(pb::Individual {
                iin,
                full_name,
                phone,
                email,
                address,
            })
        });
    let entity = (
        nasty_string(),
        nasty_string(),
        proptest::option::of((nasty_string(), nasty_string(), nasty_string())),
        nasty_string(),
        nasty_string(),
    )
        .prop_map(|(bin, name, rep, phone, address)| {
            pb::applicant::Party::LegalEntity(pb::LegalEntity {
                bin,
                name,
                representative: rep.map(|(full_name, iin, position)| pb::Representative {
                    full_name,
                    iin,
                    position,
                }),
                phone,
                email: String::new(),
                address,
            })
        });
    proptest::option::of(
        proptest::option::of(prop_oneof![individual, entity])
            .prop_map(|party| pb::Applicant { party }),
    )
}

fn register_request() -> impl Strategy<Value = pb::RegisterAppealRequest> {
    let head = (
        nasty_string(),
        nasty_i32(),
        nasty_i32(),
        nasty_string(),
        nasty_string(),
        nasty_i32(),
        applicant(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(
            (nasty_string(), nasty_string())
                .prop_map(|(full_name, iin)| pb::Signatory { full_name, iin }),
            0..4,
        ),
    );
    let tail = (
        nasty_string(),
        nasty_string(),
        proptest::option::of((
            nasty_string(),
            nasty_string(),
            nasty_string(),
            nasty_string(),
        )),
        proptest::option::of((nasty_f64(), nasty_f64())),
        nasty_string(),
        nasty_string(),
        proptest::collection::vec(
            (
                nasty_string(),
                nasty_string(),
                nasty_string(),
                nasty_bytes(48),
            ),
            0..23,
        ),
        proptest::option::of((nasty_i32(), nasty_bytes(64))),
        proptest::option::of(nasty_timestamp()),
        proptest::option::of((nasty_string(), nasty_string())),
    );
    (head, tail).prop_map(
        |(
            (request_id, kind, channel, source, external_id, language, applicant, anon, corr, co),
            (repeated_of, addressee, locality, location, subject, text, att, sig, received, by),
        )| pb::RegisterAppealRequest {
            request_id,
            kind,
            channel,
            source,
            external_id,
            language,
            applicant,
            anonymous: anon,
            corruption_report: corr,
            co_signatories: co,
            repeated_of,
            addressee,
            locality: locality.map(|(kato, region, district, rural_district)| pb::Locality {
                kato,
                region,
                district,
                rural_district,
            }),
            location: location.map(|(lat, lon)| pb::GeoPoint { lat, lon }),
            subject,
            text,
            attachments: att
                .into_iter()
                .map(|(name, media_type, sha256, content)| pb::Attachment {
                    name,
                    media_type,
                    sha256,
                    content,
                    ..Default::default()
                })
                .collect(),
            signature: sig.map(|(format, content)| pb::Signature { format, content }),
            received_at: received,
            received_by: by.map(|(full_name, position)| pb::Officer {
                full_name,
                position,
            }),
        },
    )
}

fn valid_iin() -> String {
    (0..)
        .find_map(|s| bakylau_intake::domain::identity::with_check_digit(&format!("9001013{s:04}")))
        .expect("an IIN")
}

/// A request pre-review accepts (paper, in person), to mutate a few fields of: random
/// requests alone almost never get past pre-review, so they never test what it lets through.
fn valid_request() -> pb::RegisterAppealRequest {
    let iin = valid_iin();
    pb::RegisterAppealRequest {
        kind: pb::AppealKind::Complaint as i32,
        channel: pb::Channel::PaperInPerson as i32,
        language: pb::Language::Ru as i32,
        applicant: Some(pb::Applicant {
            party: Some(pb::applicant::Party::Individual(pb::Individual {
                iin,
                full_name: "Тест Тестов".into(),
                phone: "+77015550000".into(),
                email: String::new(),
                address: "Талгар, Абай 1".into(),
            })),
        }),
        locality: Some(pb::Locality {
            district: "talgar".into(),
            ..Default::default()
        }),
        subject: "Дорога".into(),
        text: "Прошу отремонтировать дорогу".into(),
        received_by: Some(pb::Officer {
            full_name: "Registrar One".into(),
            position: "chief specialist".into(),
        }),
        ..Default::default()
    }
}

const SPLICE_FIELDS: u8 = 20;

/// `base` with the fields numbered in `fields` taken from `from`.
fn splice(
    mut base: pb::RegisterAppealRequest,
    from: pb::RegisterAppealRequest,
    fields: &[u8],
) -> pb::RegisterAppealRequest {
    for f in fields {
        match f {
            0 => base.request_id = from.request_id.clone(),
            1 => base.kind = from.kind,
            2 => base.channel = from.channel,
            3 => base.source = from.source.clone(),
            4 => base.external_id = from.external_id.clone(),
            5 => base.language = from.language,
            6 => base.applicant = from.applicant.clone(),
            7 => base.anonymous = from.anonymous,
            8 => base.co_signatories = from.co_signatories.clone(),
            9 => base.repeated_of = from.repeated_of.clone(),
            10 => base.addressee = from.addressee.clone(),
            11 => base.locality = from.locality.clone(),
            12 => base.location = from.location,
            13 => base.subject = from.subject.clone(),
            14 => base.text = from.text.clone(),
            15 => base.attachments = from.attachments.clone(),
            16 => base.received_at = from.received_at,
            17 => base.received_by = from.received_by.clone(),
            18 => base.corruption_report = from.corruption_report,
            _ => {
                // One string inside the applicant, keeping the rest of it valid.
                if let Some(pb::Applicant {
                    party: Some(pb::applicant::Party::Individual(i)),
                }) = base.applicant.as_mut()
                {
                    let s = from.subject.clone();
                    match from.language.rem_euclid(3) {
                        0 => i.address = s,
                        1 => i.full_name = s,
                        _ => i.phone = s,
                    }
                }
            }
        }
    }
    base
}

/// The documented example of the contract (README, `docs/asyncapi.yaml`).
fn sample_event() -> Value {
    let iin = valid_iin();
    json!({
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
            "applicant": { "type": "individual", "iin": iin, "full_name": "Тест",
                           "phone": "+77011234567", "address": "Қонаев" },
            "locality": { "district": "talgar" },
            "location": { "lat": 43.3, "lon": 77.2 },
            "subject": "Ремонт дороги",
            "text": "Прошу отремонтировать дорогу",
            "attachments": [ { "name": "photo.jpg", "media_type": "image/jpeg",
                               "content_base64": "/9j/4AAQSkZJRg==" } ],
        }
    })
}

/// Any JSON value, nested a little.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        nasty_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(nasty_string(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Where a mutation lands: a key of the event, of `data`, or of an object inside `data`.
const PATHS: &[&[&str]] = &[
    &[],
    &["data"],
    &["data", "applicant"],
    &["data", "locality"],
    &["data", "location"],
    &["data", "attachments", "0"],
    &["data", "signature"],
];
const KEYS: &[&str] = &[
    "specversion",
    "type",
    "source",
    "id",
    "time",
    "datacontenttype",
    "data",
    "external_id",
    "kind",
    "language",
    "applicant",
    "anonymous",
    "corruption_report",
    "co_signatories",
    "locality",
    "location",
    "lat",
    "lon",
    "subject",
    "text",
    "attachments",
    "signature",
    "format",
    "content_base64",
    "received_at",
    "iin",
    "bin",
    "full_name",
    "representative",
    "district",
];

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, usize, Value),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = (0..PATHS.len(), 0..KEYS.len());
    prop_oneof![
        3 => (at.clone(), any_json()).prop_map(|((p, k), v)| Mutation::Set(p, k, v)),
        // A hostile string where a string belongs: the most likely to get past the parser.
        3 => (at.clone(), nasty_string()).prop_map(|((p, k), v)| Mutation::Set(p, k, v.into())),
        1 => at.prop_map(|(p, k)| Mutation::Remove(p, k)),
    ]
}

fn apply(event: &mut Value, m: &Mutation) {
    let (p, k) = match m {
        Mutation::Set(p, k, _) | Mutation::Remove(p, k) => (*p, *k),
    };
    let mut target = &mut *event;
    for seg in PATHS[p] {
        target = match seg.parse::<usize>() {
            Ok(i) => match target.get_mut(i) {
                Some(t) => t,
                None => return,
            },
            Err(_) => match target.get_mut(*seg) {
                Some(t) => t,
                None => return,
            },
        };
    }
    let Value::Object(obj) = target else { return };
    match m {
        Mutation::Set(_, _, v) => {
            obj.insert(KEYS[k].to_owned(), v.clone());
        }
        Mutation::Remove(..) => {
            obj.remove(KEYS[k]);
        }
    }
}

/// What the CloudEvents parser must say about an event, whatever else is wrong with it.
fn envelope_rules(event: &Value, issues: &[FieldIssue]) -> Result<(), String> {
    let named = |f: &str| issues.iter().any(|i| i.field == f);
    let Value::Object(e) = event else {
        return Ok(());
    };
    if e.get("specversion").and_then(Value::as_str) != Some("1.0") && !named("specversion") {
        return Err("a wrong or missing specversion was not named".into());
    }
    if e.get("type").and_then(Value::as_str) != Some("kz.bakylau.appeal.submit") && !named("type") {
        return Err("a wrong or missing type was not named".into());
    }
    if let Some(ct) = e.get("datacontenttype").and_then(Value::as_str)
        && !ct.starts_with("application/json")
        && !named("datacontenttype")
    {
        return Err("a wrong datacontenttype was not named".into());
    }
    if !matches!(e.get("data"), Some(Value::Object(_))) && !named("data") {
        return Err("missing or non-object data was not named".into());
    }
    Ok(())
}

fn inbound_outcome(
    outcome: Result<
        Result<
            bakylau_intake::domain::inbound::Submission,
            bakylau_intake::domain::inbound::Rejection,
        >,
        String,
    >,
) -> Result<Option<NewAppeal>, String> {
    match outcome {
        Err(reason) if reason.trim().is_empty() => Err("parked without a reason".into()),
        Err(reason) if reason.chars().count() > 500 => Err("an unbounded park reason".into()),
        Err(_) => Ok(None),
        Ok(Err(rejection)) => issues_are_named(&rejection.issues).map(|_| None),
        Ok(Ok(submission)) => Ok(Some(submission.appeal)),
    }
}

// ---- targets ----------------------------------------------------------------------------

#[test]
fn grpc_register_request() {
    fuzz(
        "intake.RegisterAppeal (decoded → pre-review)",
        register_request(),
        |req| {
            let appeal = new_appeal(req);
            pre_review_holds(&appeal)
        },
    );
}

#[test]
fn grpc_register_request_near_valid() {
    let valid = valid_request();
    assert!(
        matches!(
            pre_review(&new_appeal(valid.clone()), &PreReviewPolicy::default()),
            Ok(Verdict::Accept)
        ),
        "the base request is valid"
    );
    fuzz(
        "intake.RegisterAppeal (valid, 1-3 fields hostile)",
        (
            register_request(),
            proptest::collection::vec(0..SPLICE_FIELDS, 1..4),
        ),
        |(random, fields)| pre_review_holds(&new_appeal(splice(valid.clone(), random, &fields))),
    );
}

#[test]
fn grpc_register_request_wire_bytes() {
    // What tonic hands the service after decoding arbitrary bytes, when they decode at all.
    fuzz(
        "intake.RegisterAppeal (arbitrary bytes)",
        nasty_bytes(512),
        |bytes| {
            if let Ok(req) = pb::RegisterAppealRequest::decode(bytes.as_slice()) {
                pre_review_holds(&new_appeal(req))?;
            }
            Ok(())
        },
    );
}

#[test]
fn amqp_cloudevents_bytes() {
    fuzz(
        "intake inbound: arbitrary bytes as CloudEvents",
        nasty_bytes(1024),
        |body| {
            inbound_outcome(decode_inbound(
                Some(CONTENT_TYPE_CLOUDEVENTS),
                &body,
                MAX_INBOUND,
            ))?;
            Ok(())
        },
    );
}

#[test]
fn amqp_cloudevents_mutated() {
    let base = parse_cloudevent(&serde_json::to_vec(&sample_event()).unwrap())
        .unwrap()
        .expect("the sample parses");
    let verdict = pre_review(&base.appeal, &PreReviewPolicy::default());
    assert!(
        matches!(verdict, Ok(Verdict::Accept)),
        "the sample is valid: {verdict:?}"
    );
    fuzz(
        "intake inbound: mutated CloudEvents JSON",
        proptest::collection::vec(mutation(), 0..4),
        |mutations| {
            let mut event = sample_event();
            for m in &mutations {
                apply(&mut event, m);
            }
            let body = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
            match parse_cloudevent(&body) {
                Ok(Err(rejection)) => {
                    issues_are_named(&rejection.issues)?;
                    envelope_rules(&event, &rejection.issues)
                }
                Ok(Ok(submission)) => {
                    envelope_rules(&event, &[])?;
                    pre_review_holds(&submission.appeal)
                }
                Err(reason) => {
                    // Only a body that is not a JSON object (or too deep to read) is parked.
                    if event.is_object() && !reason.contains("recursion limit") {
                        return Err(format!("a JSON object was parked: {reason}"));
                    }
                    Ok(())
                }
            }
        },
    );
}

#[test]
fn amqp_cloudevents_deep_nesting() {
    fuzz(
        "intake inbound: deeply nested JSON",
        (1usize..20_000, 0..PATHS.len(), any::<bool>()),
        |(depth, p, arrays)| {
            let (open, close) = if arrays { ("[", "]") } else { ("{\"a\":", "}") };
            let deep = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            let mut event = sample_event();
            let key = if PATHS[p].is_empty() {
                "data"
            } else {
                "subject"
            };
            apply(&mut event, &Mutation::Set(p, 0, Value::Null));
            let body = serde_json::to_string(&event)
                .map_err(|e| e.to_string())?
                .replacen(
                    &format!("\"{key}\":"),
                    &format!("\"{key}\":{deep},\"x\":"),
                    1,
                );
            let outcome = decode_inbound(None, body.as_bytes(), MAX_INBOUND);
            if depth > 200 && outcome.is_ok() {
                return Err(format!("nesting of depth {depth} was read"));
            }
            inbound_outcome(outcome).map(|_| ())
        },
    );
}

#[test]
fn amqp_protobuf_bytes() {
    fuzz(
        "intake inbound: arbitrary bytes as protobuf",
        nasty_bytes(1024),
        |body| {
            if let Some(appeal) = inbound_outcome(decode_inbound(
                Some(CONTENT_TYPE_PROTOBUF),
                &body,
                MAX_INBOUND,
            ))? {
                pre_review_holds(&appeal)?;
            }
            Ok(())
        },
    );
}

#[test]
fn amqp_protobuf_submit() {
    let mut valid = valid_request();
    valid.external_id = "EO-2026-0001234".into();
    let source = prop_oneof![4 => Just("urn:kz:eotinish".to_owned()), 1 => nasty_string()];
    let submit = (
        nasty_string(),
        source,
        proptest::option::of(nasty_timestamp()),
        register_request(),
        proptest::collection::vec(0..SPLICE_FIELDS, 0..4),
        proptest::bool::weighted(0.05),
    )
        .prop_map(
            move |(id, source, time, random, fields, no_appeal)| pb::SubmitAppeal {
                id,
                source,
                time,
                appeal: (!no_appeal).then(|| splice(valid.clone(), random, &fields)),
            },
        );
    fuzz("intake inbound: generated SubmitAppeal", submit, |msg| {
        let body = msg.encode_to_vec();
        match parse_protobuf(&body) {
            Err(reason) => Err(format!("a well-formed SubmitAppeal was parked: {reason}")),
            Ok(Err(rejection)) => issues_are_named(&rejection.issues),
            Ok(Ok(s)) => pre_review_holds(&s.appeal),
        }
    });
}

#[test]
fn amqp_content_types() {
    let content_type = prop_oneof![
        Just(None),
        Just(Some(
            "application/cloudevents+json; charset=utf-8".to_owned()
        )),
        Just(Some("Application/JSON".to_owned())),
        Just(Some("APPLICATION/X-PROTOBUF".to_owned())),
        Just(Some("text/plain".to_owned())),
        Just(Some("application/xml".to_owned())),
        "\\PC{0,100}".prop_map(Some),
    ];
    fuzz(
        "intake inbound: content types",
        (content_type, nasty_bytes(256)),
        |(ct, body)| {
            let outcome = decode_inbound(ct.as_deref(), &body, MAX_INBOUND);
            let media = ct.as_deref().map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
            let known = matches!(
                media.as_deref(),
                None | Some(
                    "" | "application/json"
                        | "application/cloudevents+json"
                        | "application/x-protobuf"
                )
            );
            if !known {
                match &outcome {
                    Err(r) if r.contains("unsupported content type") && r.len() < 400 => {}
                    other => return Err(format!("content type {ct:?} was not refused: {other:?}")),
                }
            }
            inbound_outcome(outcome).map(|_| ())
        },
    );
}

// ---- fixed hostile cases: each refused with a clear reason ------------------------------

#[test]
fn oversized_message_is_parked_naming_the_limit() {
    let body = vec![b' '; 1024 + 1];
    let reason = decode_inbound(Some(CONTENT_TYPE_CLOUDEVENTS), &body, 1024).unwrap_err();
    assert!(
        reason.contains("1025 bytes") && reason.contains("1024"),
        "{reason}"
    );
}

#[test]
fn invalid_utf8_is_parked_naming_it() {
    let mut body = serde_json::to_vec(&sample_event()).unwrap();
    let at = body.len() / 2;
    body[at] = 0xff;
    let reason = decode_inbound(None, &body, MAX_INBOUND).unwrap_err();
    assert!(reason.contains("UTF-8"), "{reason}");
}

#[test]
fn wrong_cloudevents_version_is_declined_naming_it() {
    for version in [json!("0.3"), json!("2.0"), json!(1.0), Value::Null] {
        let mut e = sample_event();
        e["specversion"] = version.clone();
        let r = parse_cloudevent(&serde_json::to_vec(&e).unwrap())
            .unwrap()
            .unwrap_err();
        assert_eq!(r.issues[0].field, "specversion", "{version}");
        assert_eq!(r.external_id, "EO-2026-0001234", "still answerable");
    }
}

#[test]
fn huge_attachments_are_refused_naming_the_limit() {
    let policy = PreReviewPolicy::default();
    // One attachment over the per-file limit, then many that together exceed the total.
    let big = vec![7u8; policy.max_attachment_bytes + 1];
    let mut e = sample_event();
    e["data"]["attachments"][0]["content_base64"] =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &big).into();
    let body = serde_json::to_vec(&e).unwrap();
    let s = parse_cloudevent(&body).unwrap().unwrap();
    let issues = pre_review(&s.appeal, &policy).unwrap_err();
    let i = issues
        .iter()
        .find(|i| i.field.starts_with("attachments[0]"))
        .expect("the attachment is named");
    assert!(
        i.message.contains(&policy.max_attachment_bytes.to_string()),
        "{i:?}"
    );

    let mut appeal = s.appeal;
    let part = vec![1u8; policy.max_attachment_bytes];
    appeal.attachments = (0..3)
        .map(|n| bakylau_intake::domain::NewAttachment {
            name: format!("scan{n}.pdf"),
            media_type: "application/pdf".into(),
            sha256: String::new(),
            content: part.clone(),
        })
        .collect();
    let issues = pre_review(&appeal, &policy).unwrap_err();
    assert!(
        issues.iter().any(|i| i.field == "attachments"
            && i.message
                .contains(&policy.max_total_attachment_bytes.to_string())),
        "{issues:?}"
    );
}

#[test]
fn nul_characters_anywhere_are_refused_before_the_database() {
    // Postgres cannot store U+0000 in text; before this check a NUL in, e.g., the subject
    // reached the INSERT and came back as INTERNAL.
    let mut e = sample_event();
    e["data"]["subject"] = "Ремонт\u{0}дороги".into();
    e["data"]["locality"]["district"] = "tal\u{0}gar".into();
    let s = parse_cloudevent(&serde_json::to_vec(&e).unwrap())
        .unwrap()
        .unwrap();
    let issues = pre_review(&s.appeal, &PreReviewPolicy::default()).unwrap_err();
    let fields: Vec<_> = issues.iter().map(|i| i.field.as_str()).collect();
    assert!(fields.contains(&"subject"), "{fields:?}");
    assert!(fields.contains(&"locality.district"), "{fields:?}");
}

#[test]
fn received_at_outside_any_plausible_date_is_refused() {
    let req = pb::RegisterAppealRequest {
        received_at: Some(prost_types::Timestamp {
            seconds: 8_000_000_000_000,
            nanos: 0,
        }),
        ..Default::default()
    };
    let appeal = new_appeal(req);
    let issues = pre_review(&appeal, &PreReviewPolicy::default()).unwrap_err();
    assert!(
        issues.iter().any(|i| i.field == "received_at"),
        "{issues:?}"
    );
}
