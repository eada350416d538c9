//! Routing's domain events, built from stored decisions: `appeal.routed`,
//! `appeal.redirected`, `appeal.needs_manual_routing`. Envelope subject = appeal id. No
//! personal data: ids, codes and the explanation texts of the taxonomy only.

use bakylau_platform::broker::OutboxMessage;
use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, Utc};

use crate::domain::reference::{Reference, top_level};
use crate::storage::{AppealRecord, DecisionRecord};

pub const PRODUCER: &str = "routing";
pub const APPEAL_REGISTERED: &str = "appeal.registered";
pub const APPEAL_ROUTED: &str = "appeal.routed";
pub const APPEAL_REDIRECTED: &str = "appeal.redirected";
pub const APPEAL_NEEDS_MANUAL_ROUTING: &str = "appeal.needs_manual_routing";

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// The locality with `district` as the resolved district code (and the district's KATO
/// when none was given), so consumers group by the same codes as the directory.
fn locality(a: &AppealRecord, reference: &Reference) -> ev::Locality {
    let district = reference
        .districts
        .iter()
        .find(|d| Some(&d.code) == a.district.as_ref());
    ev::Locality {
        kato: if a.locality.kato.is_empty() {
            district.and_then(|d| d.kato.clone()).unwrap_or_default()
        } else {
            a.locality.kato.clone()
        },
        region: a.locality.region.clone(),
        district: a
            .district
            .clone()
            .unwrap_or_else(|| a.locality.district.clone()),
        rural_district: a.locality.rural_district.clone(),
    }
}

fn external(a: &AppealRecord) -> Option<ev::ExternalReference> {
    (!a.external_source.is_empty()).then(|| ev::ExternalReference {
        source: a.external_source.clone(),
        external_id: a.external_id.clone(),
    })
}

/// The event announcing decision `d` of appeal `a`. `duplicate_of` are the linked appeal ids.
pub fn for_decision(
    a: &AppealRecord,
    d: &DecisionRecord,
    duplicate_of: &[String],
    reference: &Reference,
) -> OutboxMessage {
    let subject = a.appeal_id.to_string();
    let category = d.category.clone().unwrap_or_default();
    match d.outcome.as_str() {
        "routed" => OutboxMessage::event(
            PRODUCER,
            APPEAL_ROUTED,
            &subject,
            d.decided_at,
            &ev::AppealRouted {
                appeal_id: subject.clone(),
                registration_number: a.registration_number.clone(),
                top_category: top_level(&category).to_owned(),
                category,
                confidence: d.confidence,
                lead_executor: d.lead_executor.clone(),
                co_executors: d.co_executors.clone(),
                decided_by: d.decided_by.clone(),
                kind: a.kind.clone(),
                locality: Some(locality(a, reference)),
                registered_at: Some(timestamp(a.registered_at)),
                external: external(a),
                classified_by: d.classified_by.clone(),
                reason: if d.decided_by_user.is_empty() {
                    String::new()
                } else {
                    d.reason.clone()
                },
                sequence: d.sequence as u32,
                duplicate_of: duplicate_of.to_vec(),
                language: a.language.clone(),
                applicant_type: a.applicant_type.clone(),
                channel: a.channel.clone(),
            },
        ),
        "redirected" => OutboxMessage::event(
            PRODUCER,
            APPEAL_REDIRECTED,
            &subject,
            d.decided_at,
            &ev::AppealRedirected {
                appeal_id: subject.clone(),
                registration_number: a.registration_number.clone(),
                to_body: d.to_body.clone(),
                reason_code: d.reason_code.clone(),
                explanation_kk: d.explanation_kk.clone(),
                explanation_ru: d.explanation_ru.clone(),
                registered_at: Some(timestamp(a.registered_at)),
                external: external(a),
                notify_by: d.notify_by.map(|n| n.to_string()).unwrap_or_default(),
                category,
                legal_basis: d.legal_basis.clone(),
                decided_by: d.decided_by.clone(),
                kind: a.kind.clone(),
                locality: Some(locality(a, reference)),
                duplicate_of: duplicate_of.to_vec(),
                sequence: d.sequence as u32,
            },
        ),
        _ => OutboxMessage::event(
            PRODUCER,
            APPEAL_NEEDS_MANUAL_ROUTING,
            &subject,
            d.decided_at,
            &ev::AppealNeedsManualRouting {
                appeal_id: subject.clone(),
                registration_number: a.registration_number.clone(),
                reason: d.reason.clone(),
                suggested_category: category,
                confidence: d.confidence,
                reason_code: d.reason_code.clone(),
                duplicate_of: duplicate_of.to_vec(),
                kind: a.kind.clone(),
                locality: Some(locality(a, reference)),
                registered_at: Some(timestamp(a.registered_at)),
                external: external(a),
            },
        ),
    }
}
