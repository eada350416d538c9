//! Intake's domain events, built from register rows. No personal data goes into them: the
//! applicant is a keyed pseudonym.

use bakylau_platform::broker::OutboxMessage;
use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, Utc};

use crate::domain::FieldIssue;
use crate::storage::AppealRecord;

pub const PRODUCER: &str = "intake";
pub const APPEAL_REGISTERED: &str = "appeal.registered";
pub const APPEAL_DECLINED: &str = "appeal.declined";

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn locality(r: &AppealRecord) -> ev::Locality {
    ev::Locality {
        kato: r.kato.clone(),
        region: r.region.clone(),
        district: r.district.clone(),
        rural_district: r.rural_district.clone(),
    }
}

fn external(r: &AppealRecord) -> Option<ev::ExternalReference> {
    match (&r.source, &r.external_id) {
        (Some(source), Some(external_id)) => Some(ev::ExternalReference {
            source: source.clone(),
            external_id: external_id.clone(),
        }),
        _ => None,
    }
}

fn reasons(issues: &[FieldIssue]) -> Vec<ev::DeclineReason> {
    issues
        .iter()
        .map(|i| ev::DeclineReason {
            field: i.field.clone(),
            message: i.message.clone(),
            code: i.code.clone(),
        })
        .collect()
}

pub fn registered(r: &AppealRecord, attachments: usize) -> OutboxMessage {
    let payload = ev::AppealRegistered {
        appeal_id: r.id.to_string(),
        registration_number: r.registration_number.clone(),
        registered_at: Some(timestamp(r.registered_at)),
        received_at: Some(timestamp(r.received_at)),
        kind: r.kind.clone(),
        channel: r.channel.clone(),
        language: r.language.clone(),
        applicant_type: r.applicant_type.clone(),
        applicant_ref: r.applicant_ref.clone().unwrap_or_default(),
        anonymous: r.anonymous,
        collective: r.collective,
        signatories: 1 + r.co_signatories.len() as u32,
        corruption_report: r.corruption_report,
        repeated_of_appeal_id: r.repeated_of.map(|id| id.to_string()).unwrap_or_default(),
        repeated_of_registration_number: r.repeated_of_number.clone().unwrap_or_default(),
        addressee: r.addressee.clone(),
        locality: Some(locality(r)),
        location: r.lat.zip(r.lon).map(|(lat, lon)| ev::GeoPoint { lat, lon }),
        subject: r.subject.clone(),
        text: r.text.clone(),
        attachments: attachments as u32,
        signature_status: r.signature_status.clone(),
        external: external(r),
        office: r.office.clone(),
    };
    OutboxMessage::event(
        PRODUCER,
        APPEAL_REGISTERED,
        &r.id.to_string(),
        Utc::now(),
        &payload,
    )
}

pub fn declined_after_registration(r: &AppealRecord) -> OutboxMessage {
    let payload = ev::AppealDeclined {
        appeal_id: r.id.to_string(),
        registration_number: r.registration_number.clone(),
        reasons: reasons(&r.decline_reasons.0),
        external: external(r),
        declined_at: Some(timestamp(Utc::now())),
        channel: r.channel.clone(),
        kind: r.kind.clone(),
        locality: Some(locality(r)),
    };
    OutboxMessage::event(
        PRODUCER,
        APPEAL_DECLINED,
        &r.id.to_string(),
        Utc::now(),
        &payload,
    )
}

/// A submission from another system that could not be registered at all.
pub fn declined_unregistered(
    source: &str,
    external_id: &str,
    issues: &[FieldIssue],
) -> OutboxMessage {
    let payload = ev::AppealDeclined {
        reasons: reasons(issues),
        external: Some(ev::ExternalReference {
            source: source.to_owned(),
            external_id: external_id.to_owned(),
        }),
        declined_at: Some(timestamp(Utc::now())),
        channel: "external".into(),
        ..Default::default()
    };
    OutboxMessage::event(
        PRODUCER,
        APPEAL_DECLINED,
        &format!("{source}/{external_id}"),
        Utc::now(),
        &payload,
    )
}
