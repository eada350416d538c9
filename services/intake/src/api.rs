//! gRPC adapter: `bakylau.intake.v1.IntakeService`. Converts messages to the domain and
//! back, and maps errors to status codes that name the field at fault.

use std::sync::Arc;

use bakylau_platform::audit;
use bakylau_proto::intake::v1 as pb;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use prost::Message as _;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::{
    AppealKind, Applicant, Channel, FieldIssue, GeoPoint, Individual, Language, LegalEntity,
    Locality, NewAppeal, NewAttachment, Officer, Representative, Signatory,
};
use crate::register::{RegisterError, Registrar};
use crate::register_queue::RegisterQueue;
use crate::storage::{self, AppealFilter, AppealRecord, ConsultationFilter, ConsultationRecord};

pub struct IntakeApi {
    pub registrar: Arc<Registrar>,
    pub queue: RegisterQueue,
}

#[tonic::async_trait]
impl pb::intake_service_server::IntakeService for IntakeApi {
    async fn register_appeal(
        &self,
        request: Request<pb::RegisterAppealRequest>,
    ) -> Result<Response<pb::RegisterAppealResponse>, Status> {
        let caller = bakylau_platform::auth::Caller::of(&request)?;
        let mut req = request.into_inner();
        crate::policy::may_register(
            &caller,
            req.channel == pb::Channel::External as i32,
            &req.source,
        )
        .map_err(Status::permission_denied)?;
        let request_id = Some(std::mem::take(&mut req.request_id)).filter(|r| !r.trim().is_empty());
        if request_id.as_ref().is_some_and(|r| r.len() > 200) {
            return Err(invalid(vec![FieldIssue::new(
                "request_id",
                "too_long",
                "at most 200 characters",
            )]));
        }
        let request_hash = hex::encode(Sha256::digest(req.encode_to_vec()));
        let appeal = new_appeal(req);
        let registration = self
            .queue
            .register(request_id.as_deref(), Some(request_hash), appeal)
            .await
            .map_err(register_status)?;
        let attachments = match registration.attachments {
            Some(stored) => stored,
            None => storage::attachments_of(&self.registrar.pool, &[registration.record.id])
                .await
                .map_err(db_status)?,
        };
        let record = &registration.record;
        let coupon = pb::Coupon {
            registration_number: record.registration_number.clone(),
            registered_at: Some(ts(record.registered_at)),
            received_at: Some(ts(record.received_at)),
            officer_name: record.officer_name.clone(),
            officer_position: record.officer_position.clone(),
            office: record.office.clone(),
        };
        let response = Response::new(pb::RegisterAppealResponse {
            appeal: Some(appeal_message(record, &attachments)),
            coupon: Some(coupon),
            replayed: registration.replayed,
        });
        Ok(audit::about_appeals(
            response,
            [(record.id, &record.registration_number)],
        ))
    }

    async fn get_appeal(
        &self,
        request: Request<pb::GetAppealRequest>,
    ) -> Result<Response<pb::Appeal>, Status> {
        let mut conn = self.registrar.pool.acquire().await.map_err(db_status)?;
        let record = match request.into_inner().key {
            Some(pb::get_appeal_request::Key::Id(id)) => {
                let id = Uuid::parse_str(&id)
                    .map_err(|_| invalid(vec![FieldIssue::new("id", "invalid", "not a UUID")]))?;
                storage::get_by_id(&mut conn, &self.registrar.vault, id).await
            }
            Some(pb::get_appeal_request::Key::RegistrationNumber(n)) => {
                storage::get_by_number(&mut conn, &self.registrar.vault, n.trim()).await
            }
            None => {
                return Err(invalid(vec![FieldIssue::new(
                    "key",
                    "required",
                    "required: id or registration_number",
                )]));
            }
        }
        .map_err(db_status)?
        .ok_or_else(|| Status::not_found("no such appeal"))?;
        let attachments = storage::attachments_of(&self.registrar.pool, &[record.id])
            .await
            .map_err(db_status)?;
        let response = Response::new(appeal_message(&record, &attachments));
        Ok(audit::about_appeals(
            response,
            [(record.id, &record.registration_number)],
        ))
    }

    async fn list_appeals(
        &self,
        request: Request<pb::ListAppealsRequest>,
    ) -> Result<Response<pb::ListAppealsResponse>, Status> {
        let req = request.into_inner();
        let mut issues = Vec::new();
        let limit = page_size(req.page_size, &mut issues);
        let after = page_token(&req.page_token, &mut issues);
        let filter = AppealFilter {
            registered_from: req
                .registered_from
                .and_then(|t| from_ts(&t, "registered_from", &mut issues)),
            registered_to: req
                .registered_to
                .and_then(|t| from_ts(&t, "registered_to", &mut issues)),
            kind: enum_filter(req.kind, kind_of, "kind", &mut issues)
                .map(|k| k.as_str().to_owned()),
            channel: enum_filter(req.channel, channel_of, "channel", &mut issues)
                .map(|c| c.as_str().to_owned()),
            status: match pb::AppealStatus::try_from(req.status) {
                Ok(pb::AppealStatus::Unspecified) => None,
                Ok(pb::AppealStatus::Registered) => Some("registered".into()),
                Ok(pb::AppealStatus::Declined) => Some("declined".into()),
                Err(_) => {
                    issues.push(FieldIssue::new("status", "invalid", "unknown status"));
                    None
                }
            },
            district: Some(req.district).filter(|d| !d.is_empty()),
            after,
            limit: limit + 1,
        };
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let mut rows = storage::list(&self.registrar.pool, &self.registrar.vault, &filter)
            .await
            .map_err(db_status)?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| encode_token(r.registered_at, r.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let attachments = storage::attachments_of(&self.registrar.pool, &ids)
            .await
            .map_err(db_status)?;
        let response = Response::new(pb::ListAppealsResponse {
            appeals: rows
                .iter()
                .map(|r| appeal_message(r, &attachments))
                .collect(),
            next_page_token,
        });
        Ok(audit::about_appeals(
            response,
            rows.iter().map(|a| (a.id, &a.registration_number)),
        ))
    }

    async fn record_consultation(
        &self,
        request: Request<pb::RecordConsultationRequest>,
    ) -> Result<Response<pb::Consultation>, Status> {
        let req = request.into_inner();
        let mut issues = Vec::new();
        let channel = match pb::ConsultationChannel::try_from(req.channel) {
            Ok(pb::ConsultationChannel::Phone) => "phone",
            Ok(pb::ConsultationChannel::InPerson) => "in_person",
            Ok(pb::ConsultationChannel::Online) => "online",
            _ => {
                issues.push(FieldIssue::new(
                    "channel",
                    "required",
                    "required: phone, in_person or online",
                ));
                ""
            }
        };
        let language = language_of(req.language);
        if language.is_none() {
            issues.push(FieldIssue::new(
                "language",
                "required",
                "required: kk, ru or en",
            ));
        }
        for (field, value, max) in [
            ("topic", &req.topic, 200),
            ("question", &req.question, 10_000),
            ("answer", &req.answer, 10_000),
        ] {
            if value.trim().is_empty() {
                issues.push(FieldIssue::new(
                    field,
                    "required",
                    format!("required: {field}"),
                ));
            } else if value.chars().count() > max {
                issues.push(FieldIssue::new(
                    field,
                    "too_long",
                    format!("at most {max} characters"),
                ));
            }
        }
        let officer = req.given_by.unwrap_or_default();
        if officer.full_name.trim().is_empty() {
            issues.push(FieldIssue::new(
                "given_by.full_name",
                "required",
                "required: officer who gave the consultation",
            ));
        }
        if !req.person_phone.is_empty() && !req.person_phone.starts_with("+7") {
            issues.push(FieldIssue::new(
                "person_phone",
                "invalid",
                "phone must look like +7XXXXXXXXXX",
            ));
        }
        let given_at = match req.given_at {
            Some(t) => from_ts(&t, "given_at", &mut issues).unwrap_or_else(Utc::now),
            None => Utc::now(),
        };
        if req.duration_minutes > 24 * 60 {
            issues.push(FieldIssue::new(
                "duration_minutes",
                "out_of_range",
                "at most 1440",
            ));
        }
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let record = ConsultationRecord {
            id: Uuid::now_v7(),
            channel: channel.into(),
            person_name: req.person_name,
            person_phone: req.person_phone,
            language: language.map(|l| l.as_str()).unwrap_or_default().into(),
            topic: req.topic,
            question: req.question,
            answer: req.answer,
            officer_name: officer.full_name,
            officer_position: officer.position,
            given_at,
            duration_minutes: req.duration_minutes as i32,
            district: req.district,
            person_sealed: None,
        };
        let request_id = Some(req.request_id).filter(|r| !r.is_empty());
        let stored = storage::insert_consultation(
            &self.registrar.pool,
            &self.registrar.vault,
            &record,
            request_id.as_deref(),
        )
        .await
        .map_err(db_status)?;
        tracing::info!(consultation_id = %stored.id, "consultation recorded");
        let id = stored.id;
        Ok(audit::about(
            Response::new(consultation_message(stored)),
            "consultation",
            [id],
        ))
    }

    async fn list_consultations(
        &self,
        request: Request<pb::ListConsultationsRequest>,
    ) -> Result<Response<pb::ListConsultationsResponse>, Status> {
        let req = request.into_inner();
        let mut issues = Vec::new();
        let limit = page_size(req.page_size, &mut issues);
        let filter = ConsultationFilter {
            given_from: req
                .given_from
                .and_then(|t| from_ts(&t, "given_from", &mut issues)),
            given_to: req
                .given_to
                .and_then(|t| from_ts(&t, "given_to", &mut issues)),
            topic: Some(req.topic).filter(|t| !t.is_empty()),
            officer_name: Some(req.officer_name).filter(|t| !t.is_empty()),
            after: page_token(&req.page_token, &mut issues),
            limit: limit + 1,
        };
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let mut rows =
            storage::list_consultations(&self.registrar.pool, &self.registrar.vault, &filter)
                .await
                .map_err(db_status)?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| encode_token(r.given_at, r.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let response = Response::new(pb::ListConsultationsResponse {
            consultations: rows.into_iter().map(consultation_message).collect(),
            next_page_token,
        });
        Ok(audit::about(response, "consultation", ids))
    }
}

/// Converts a request into the domain's appeal; anything unrecognised becomes `None` for
/// pre-review to name.
pub fn new_appeal(req: pb::RegisterAppealRequest) -> NewAppeal {
    NewAppeal {
        kind: kind_of(req.kind),
        channel: channel_of(req.channel),
        source: req.source,
        external_id: req.external_id,
        language: language_of(req.language),
        applicant: req.applicant.and_then(|a| a.party).map(|p| match p {
            pb::applicant::Party::Individual(i) => Applicant::Individual(Individual {
                iin: i.iin.trim().to_owned(),
                full_name: i.full_name,
                phone: i.phone,
                email: i.email,
                address: i.address,
            }),
            pb::applicant::Party::LegalEntity(e) => {
                let r = e.representative.unwrap_or_default();
                Applicant::LegalEntity(LegalEntity {
                    bin: e.bin.trim().to_owned(),
                    name: e.name,
                    representative: Representative {
                        full_name: r.full_name,
                        iin: r.iin.trim().to_owned(),
                        position: r.position,
                    },
                    phone: e.phone,
                    email: e.email,
                    address: e.address,
                })
            }
        }),
        anonymous: req.anonymous,
        corruption_report: req.corruption_report,
        co_signatories: req
            .co_signatories
            .into_iter()
            .map(|s| Signatory {
                full_name: s.full_name,
                iin: s.iin.trim().to_owned(),
            })
            .collect(),
        repeated_of: req.repeated_of.trim().to_owned(),
        addressee: req.addressee,
        locality: req
            .locality
            .map(|l| Locality {
                kato: l.kato,
                region: l.region,
                district: l.district,
                rural_district: l.rural_district,
            })
            .unwrap_or_default(),
        location: req.location.map(|p| GeoPoint {
            lat: p.lat,
            lon: p.lon,
        }),
        subject: req.subject,
        text: req.text,
        attachments: req
            .attachments
            .into_iter()
            .map(|a| NewAttachment {
                name: a.name,
                media_type: a.media_type,
                sha256: a.sha256,
                content: a.content,
            })
            .collect(),
        signature: req.signature.map(|s| s.content),
        received_at: req
            .received_at
            .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32)),
        received_by: req.received_by.map(|o| Officer {
            full_name: o.full_name,
            position: o.position,
        }),
    }
}

pub fn kind_of(v: i32) -> Option<AppealKind> {
    use pb::AppealKind as K;
    Some(match K::try_from(v).ok()? {
        K::Unspecified => return None,
        K::Application => AppealKind::Application,
        K::Report => AppealKind::Report,
        K::Feedback => AppealKind::Feedback,
        K::Proposal => AppealKind::Proposal,
        K::Request => AppealKind::Request,
        K::Complaint => AppealKind::Complaint,
    })
}

pub fn channel_of(v: i32) -> Option<Channel> {
    use pb::Channel as C;
    Some(match C::try_from(v).ok()? {
        C::Unspecified => return None,
        C::PaperPost => Channel::PaperPost,
        C::PaperInPerson => Channel::PaperInPerson,
        C::Electronic => Channel::Electronic,
        C::Reception => Channel::Reception,
        C::External => Channel::External,
    })
}

pub fn language_of(v: i32) -> Option<Language> {
    use pb::Language as L;
    Some(match L::try_from(v).ok()? {
        L::Unspecified => return None,
        L::Kk => Language::Kk,
        L::Ru => Language::Ru,
        L::En => Language::En,
    })
}

fn enum_filter<T>(
    v: i32,
    parse: fn(i32) -> Option<T>,
    field: &str,
    issues: &mut Vec<FieldIssue>,
) -> Option<T> {
    if v == 0 {
        return None;
    }
    let parsed = parse(v);
    if parsed.is_none() {
        issues.push(FieldIssue::new(
            field,
            "invalid",
            format!("unknown {field} {v}"),
        ));
    }
    parsed
}

fn kind_number(kind: &str) -> i32 {
    AppealKind::parse(kind)
        .map(|k| AppealKind::ALL.iter().position(|x| *x == k).unwrap_or(0) as i32 + 1)
        .unwrap_or(0)
}

fn channel_number(channel: &str) -> i32 {
    Channel::parse(channel)
        .map(|c| Channel::ALL.iter().position(|x| *x == c).unwrap_or(0) as i32 + 1)
        .unwrap_or(0)
}

fn language_number(language: &str) -> i32 {
    Language::parse(language)
        .map(|l| Language::ALL.iter().position(|x| *x == l).unwrap_or(0) as i32 + 1)
        .unwrap_or(0)
}

pub fn appeal_message(r: &AppealRecord, attachments: &[storage::AttachmentMeta]) -> pb::Appeal {
    pb::Appeal {
        id: r.id.to_string(),
        registration_number: r.registration_number.clone(),
        status: if r.status == "declined" {
            pb::AppealStatus::Declined
        } else {
            pb::AppealStatus::Registered
        } as i32,
        decline_reasons: r
            .decline_reasons
            .0
            .iter()
            .map(|i| pb::DeclineReason {
                field: i.field.clone(),
                message: i.message.clone(),
                code: i.code.clone(),
            })
            .collect(),
        kind: kind_number(&r.kind),
        channel: channel_number(&r.channel),
        source: r.source.clone().unwrap_or_default(),
        external_id: r.external_id.clone().unwrap_or_default(),
        language: language_number(&r.language),
        applicant: r.applicant.as_ref().map(|a| pb::Applicant {
            party: Some(match a {
                Applicant::Individual(i) => pb::applicant::Party::Individual(pb::Individual {
                    iin: i.iin.clone(),
                    full_name: i.full_name.clone(),
                    phone: i.phone.clone(),
                    email: i.email.clone(),
                    address: i.address.clone(),
                }),
                Applicant::LegalEntity(e) => pb::applicant::Party::LegalEntity(pb::LegalEntity {
                    bin: e.bin.clone(),
                    name: e.name.clone(),
                    representative: Some(pb::Representative {
                        full_name: e.representative.full_name.clone(),
                        iin: e.representative.iin.clone(),
                        position: e.representative.position.clone(),
                    }),
                    phone: e.phone.clone(),
                    email: e.email.clone(),
                    address: e.address.clone(),
                }),
            }),
        }),
        anonymous: r.anonymous,
        corruption_report: r.corruption_report,
        collective: r.collective,
        co_signatories: r
            .co_signatories
            .iter()
            .map(|s| pb::Signatory {
                full_name: s.full_name.clone(),
                iin: s.iin.clone(),
            })
            .collect(),
        repeated_of_appeal_id: r.repeated_of.map(|id| id.to_string()).unwrap_or_default(),
        repeated_of_registration_number: r.repeated_of_number.clone().unwrap_or_default(),
        addressee: r.addressee.clone(),
        locality: Some(pb::Locality {
            kato: r.kato.clone(),
            region: r.region.clone(),
            district: r.district.clone(),
            rural_district: r.rural_district.clone(),
        }),
        location: r.lat.zip(r.lon).map(|(lat, lon)| pb::GeoPoint { lat, lon }),
        subject: r.subject.clone(),
        text: r.text.clone(),
        attachments: attachments
            .iter()
            .filter(|a| a.appeal_id == r.id)
            .map(|a| pb::Attachment {
                id: a.id.to_string(),
                name: a.name.clone(),
                media_type: a.media_type.clone(),
                sha256: a.sha256.clone(),
                size_bytes: a.size_bytes as u64,
                content: Vec::new(),
            })
            .collect(),
        signature: Some(pb::SignatureVerification {
            status: r.signature_status.clone(),
            reason: r.signature_reason.clone(),
            signer_subject: r.signer_subject.clone(),
            signer_serial: r.signer_serial.clone(),
            verified_at: r.signature_verified_at.map(ts),
        }),
        received_at: Some(ts(r.received_at)),
        registered_at: Some(ts(r.registered_at)),
        received_by: Some(pb::Officer {
            full_name: r.officer_name.clone(),
            position: r.officer_position.clone(),
        }),
        office: r.office.clone(),
        personal_data_erased_at: r.personal_data_erased_at.map(ts),
    }
}

fn consultation_message(c: ConsultationRecord) -> pb::Consultation {
    pb::Consultation {
        id: c.id.to_string(),
        channel: match c.channel.as_str() {
            "phone" => pb::ConsultationChannel::Phone,
            "in_person" => pb::ConsultationChannel::InPerson,
            "online" => pb::ConsultationChannel::Online,
            _ => pb::ConsultationChannel::Unspecified,
        } as i32,
        person_name: c.person_name,
        person_phone: c.person_phone,
        language: language_number(&c.language),
        topic: c.topic,
        question: c.question,
        answer: c.answer,
        given_by: Some(pb::Officer {
            full_name: c.officer_name,
            position: c.officer_position,
        }),
        given_at: Some(ts(c.given_at)),
        duration_minutes: c.duration_minutes as u32,
        district: c.district,
    }
}

pub fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    crate::events::timestamp(t)
}

fn from_ts(
    t: &prost_types::Timestamp,
    field: &str,
    issues: &mut Vec<FieldIssue>,
) -> Option<DateTime<Utc>> {
    let parsed = u32::try_from(t.nanos)
        .ok()
        .and_then(|n| DateTime::from_timestamp(t.seconds, n));
    if parsed.is_none() {
        issues.push(FieldIssue::new(field, "invalid", "not a valid timestamp"));
    }
    parsed
}

fn page_size(requested: u32, issues: &mut Vec<FieldIssue>) -> i64 {
    match requested {
        0 => 50,
        1..=500 => i64::from(requested),
        _ => {
            issues.push(FieldIssue::new("page_size", "out_of_range", "at most 500"));
            50
        }
    }
}

fn encode_token(t: DateTime<Utc>, id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}|{id}", t.timestamp_micros()))
}

fn page_token(token: &str, issues: &mut Vec<FieldIssue>) -> Option<(DateTime<Utc>, Uuid)> {
    if token.is_empty() {
        return None;
    }
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (micros, id) = s.split_once('|')?;
            Some((
                DateTime::from_timestamp_micros(micros.parse().ok()?)?,
                Uuid::parse_str(id).ok()?,
            ))
        });
    if decoded.is_none() {
        issues.push(FieldIssue::new(
            "page_token",
            "invalid",
            "not a token this service issued",
        ));
    }
    decoded
}

/// INVALID_ARGUMENT naming every field, with `google.rpc.BadRequest` details for clients
/// that read them.
pub fn invalid(issues: Vec<FieldIssue>) -> Status {
    let message = format!("invalid appeal: {}", crate::domain::describe(&issues));
    bakylau_platform::grpc::invalid_argument(
        message,
        issues.iter().map(|i| (i.field.clone(), i.message.clone())),
    )
}

fn register_status(e: RegisterError) -> Status {
    match e {
        RegisterError::Invalid(issues) => invalid(issues),
        RegisterError::RequestIdReused => {
            Status::already_exists("request_id: already used for a different appeal")
        }
        RegisterError::Db(e) => db_status(e),
        RegisterError::Unavailable => Status::unavailable(
            "the register is temporarily unavailable; retry with the same request_id",
        ),
    }
}

fn db_status(e: sqlx::Error) -> Status {
    if let Some(status) = bakylau_platform::db::bad_input(&e) {
        return status;
    }
    if bakylau_platform::db::is_unavailable(&e) {
        tracing::warn!(error = %e, "database unavailable");
        Status::unavailable(
            "the register is temporarily unavailable; retry with the same request_id",
        )
    } else {
        tracing::error!(error = %e, "database error");
        Status::internal("internal error")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::StatusExt as _;

    #[test]
    fn enum_numbers_match_the_proto() {
        assert_eq!(kind_number("complaint"), pb::AppealKind::Complaint as i32);
        assert_eq!(
            kind_number("application"),
            pb::AppealKind::Application as i32
        );
        assert_eq!(channel_number("external"), pb::Channel::External as i32);
        assert_eq!(channel_number("paper_post"), pb::Channel::PaperPost as i32);
        assert_eq!(language_number("en"), pb::Language::En as i32);
        for k in AppealKind::ALL {
            assert_eq!(kind_of(kind_number(k.as_str())), Some(*k));
        }
    }

    #[test]
    fn page_tokens_round_trip_and_garbage_is_named() {
        let t = DateTime::from_timestamp_micros(1_780_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        let mut issues = Vec::new();
        assert_eq!(page_token(&encode_token(t, id), &mut issues), Some((t, id)));
        assert!(issues.is_empty());
        assert_eq!(page_token("%%%", &mut issues), None);
        assert_eq!(issues[0].field, "page_token");
    }

    #[test]
    fn invalid_status_names_fields() {
        let s = invalid(vec![FieldIssue::new(
            "applicant.iin",
            "invalid_checksum",
            "check digit does not match",
        )]);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("applicant.iin"));
        let details = s.get_error_details();
        assert_eq!(
            details.bad_request().unwrap().field_violations[0].field,
            "applicant.iin"
        );
    }
}
