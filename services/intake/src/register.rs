//! Registering an appeal: pre-review, signature verification, repeat detection, a gap-free
//! number, the register row and its event, all in one transaction (reg 5.1, 5.7).

use std::sync::Arc;

use bakylau_calendar::Calendar;
use bakylau_platform::broker::{OutboxMessage, enqueue_all};
use bakylau_platform::personal_data::PersonalDataVault;
use bakylau_signature::TrustStore;
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::domain::registration::{format_number, registration_time, registration_year};
use crate::domain::similarity::most_similar;
use crate::domain::validation::{Verdict, pre_review, signature_decline};
use crate::domain::{AppealStatus, Channel, FieldIssue, NewAppeal};
use crate::events;
use crate::settings::IntakeSettings;
use crate::storage::{self, AppealRecord, EarlierAppeal, NewAttachmentRow};

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{}", crate::domain::describe(.0))]
    Invalid(Vec<FieldIssue>),
    #[error("request_id was already used for a different appeal")]
    RequestIdReused,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The register could not store it now; nothing was kept, so a retry is safe.
    #[error("the register is temporarily unavailable")]
    Unavailable,
}

/// The outcome of a registration.
#[derive(Debug, Clone)]
pub struct Registration {
    pub record: AppealRecord,
    /// True when this answers a repeat of an earlier request.
    pub replayed: bool,
    /// The event written to the outbox (`appeal.registered` or `appeal.declined`).
    pub event: Option<OutboxMessage>,
    /// The attachments stored with it; `None` for a replay (they are read back then).
    pub attachments: Option<Vec<storage::AttachmentMeta>>,
}

/// An appeal that passed pre-review, ready to be numbered.
pub struct Prepared {
    appeal: NewAppeal,
    record: AppealRecord,
}

pub struct Registrar {
    pub pool: PgPool,
    pub settings: Arc<IntakeSettings>,
    pub calendar: Arc<Calendar>,
    pub trust: Arc<TrustStore>,
    /// Pseudonyms of identity numbers and the sealing of personal data at rest.
    pub vault: Arc<PersonalDataVault>,
}

impl Registrar {
    /// The registration made earlier under `request_id`, if any; a different appeal under
    /// the same id is refused.
    pub async fn replay_of(
        &self,
        request_id: &str,
        request_hash: Option<&str>,
    ) -> Result<Option<Registration>, RegisterError> {
        let mut conn = self.pool.acquire().await?;
        match storage::get_by_request_id(&mut conn, &self.vault, request_id).await? {
            Some(existing) => replay(existing, request_hash).map(Some),
            None => Ok(None),
        }
    }

    /// Pre-review and signature verification: everything that needs no database.
    pub fn prepare(&self, mut appeal: NewAppeal) -> Result<Prepared, RegisterError> {
        let verdict =
            pre_review(&appeal, &self.settings.pre_review).map_err(RegisterError::Invalid)?;
        let mut decline = match verdict {
            Verdict::Accept => Vec::new(),
            Verdict::Decline(reasons) => reasons,
        };
        let now = Utc::now();
        let (signature_status, signature_reason, signer_subject, signer_serial, verified_at) =
            match &appeal.signature {
                None => (
                    "absent".to_owned(),
                    String::new(),
                    String::new(),
                    String::new(),
                    None,
                ),
                Some(cms) => {
                    let v = bakylau_signature::verify(
                        cms,
                        Some(appeal.text.as_bytes()),
                        &self.trust,
                        now,
                    );
                    if let Some(issue) = signature_decline(v.status) {
                        decline.push(issue);
                    }
                    let (subject, serial) = v
                        .signer
                        .map(|s| (s.subject, s.serial_number_hex))
                        .unwrap_or_default();
                    (
                        v.status.as_str().to_owned(),
                        v.reason,
                        subject,
                        serial,
                        Some(now),
                    )
                }
            };
        let channel = appeal.channel.unwrap_or(Channel::External);
        let officer = match (&appeal.received_by, channel) {
            (Some(o), _) if !o.full_name.trim().is_empty() => o.clone(),
            _ => self.settings.electronic_officer.clone(),
        };
        let applicant_key = appeal
            .applicant
            .as_ref()
            .map(|a| self.vault.pseudonym(a.identity_number()));
        let status = if decline.is_empty() {
            AppealStatus::Registered
        } else {
            AppealStatus::Declined
        };
        let record = AppealRecord {
            id: Uuid::now_v7(),
            registration_number: String::new(),
            office: self.settings.office.clone(),
            status: status.as_str().to_owned(),
            decline_reasons: Json(decline),
            kind: appeal
                .kind
                .map(|k| k.as_str())
                .unwrap_or_default()
                .to_owned(),
            channel: channel.as_str().to_owned(),
            source: Some(appeal.source.clone()).filter(|s| !s.is_empty()),
            external_id: Some(appeal.external_id.clone()).filter(|s| !s.is_empty()),
            language: appeal
                .language
                .map(|l| l.as_str())
                .unwrap_or_default()
                .to_owned(),
            applicant_type: appeal
                .applicant
                .as_ref()
                .map(|a| a.type_name())
                .unwrap_or("anonymous")
                .to_owned(),
            applicant_ref: applicant_key,
            applicant: appeal.applicant.clone(),
            collective: !appeal.co_signatories.is_empty(),
            co_signatories: std::mem::take(&mut appeal.co_signatories),
            anonymous: appeal.anonymous,
            corruption_report: appeal.corruption_report,
            repeated_of: None,
            repeated_of_number: None,
            addressee: appeal.addressee.clone(),
            kato: appeal.locality.kato.clone(),
            region: appeal.locality.region.clone(),
            district: appeal.locality.district.clone(),
            rural_district: appeal.locality.rural_district.clone(),
            lat: appeal.location.map(|p| p.lat),
            lon: appeal.location.map(|p| p.lon),
            subject: appeal.subject.clone(),
            text: appeal.text.clone(),
            signature_status,
            signature_reason,
            signer_subject,
            signer_serial,
            signature_verified_at: verified_at,
            received_at: appeal.received_at.unwrap_or(now),
            registered_at: now,
            officer_name: officer.full_name,
            officer_position: officer.position,
            request_hash: None,
            personal_data_erased_at: None,
            personal_data: None,
        };
        Ok(Prepared { appeal, record })
    }

    /// Numbers and stores a prepared appeal and writes its event to the outbox, inside the
    /// caller's transaction.
    pub async fn register_in(
        &self,
        conn: &mut PgConnection,
        prepared: &Prepared,
        request_id: Option<&str>,
        request_hash: Option<String>,
    ) -> Result<Registration, RegisterError> {
        let registration = self
            .record_in(conn, prepared, request_id, request_hash)
            .await?;
        if let Some(event) = &registration.event {
            enqueue_all(conn, std::slice::from_ref(event)).await?;
        }
        Ok(registration)
    }

    /// `register_in` without the outbox: the caller writes `event` (already carrying the
    /// current trace) to the outbox in the same transaction. A batch of one.
    pub async fn record_in(
        &self,
        conn: &mut PgConnection,
        prepared: &Prepared,
        request_id: Option<&str>,
        request_hash: Option<String>,
    ) -> Result<Registration, RegisterError> {
        let entry = BatchEntry {
            prepared,
            request_id,
            request_hash,
            span: tracing::Span::current(),
        };
        self.record_batch(conn, std::slice::from_ref(&entry))
            .await?
            .pop()
            .ok_or(RegisterError::Unavailable)
    }

    /// Numbers and stores several appeals, in order, with the effect of one after another:
    /// their numbers are taken with one statement, their applicants' earlier appeals read
    /// with one, and each sees the ones before it in `batch` among its earlier appeals.
    /// Each event carries the trace of its own span.
    pub async fn record_batch(
        &self,
        conn: &mut PgConnection,
        batch: &[BatchEntry<'_>],
    ) -> Result<Vec<Registration>, RegisterError> {
        let registered_at =
            registration_time(Utc::now(), &self.calendar, &self.settings.office_hours);
        let year = registration_year(registered_at);
        let count = batch.len() as i64;
        let last = storage::take_sequences(conn, &self.settings.office, year, count).await?;
        let mut records = Vec::with_capacity(batch.len());
        let mut searched = Vec::new();
        for (i, entry) in batch.iter().enumerate() {
            let mut record = entry.prepared.record.clone();
            record.request_hash = entry.request_hash.clone();
            let sequence = last - count + 1 + i as i64;
            record.registration_number = format_number(&self.settings.office, year, sequence);
            record.registered_at = registered_at;
            if !self.name_repeat(conn, entry.prepared, &mut record).await?
                && record.applicant_ref.is_some()
            {
                searched.push(i);
            }
            records.push(record);
        }
        let keys: Vec<&str> = searched
            .iter()
            .filter_map(|&i| records[i].applicant_ref.as_deref())
            .collect();
        let found = storage::earlier_of_applicants(conn, &keys, self.repeat_since()).await?;
        for (&i, stored) in searched.iter().zip(found) {
            // As one after another: the batch's earlier registered appeals of the applicant
            // come first (they are the latest), then the stored ones.
            let key = records[i].applicant_ref.clone();
            let mut earlier: Vec<EarlierAppeal> = records[..i]
                .iter()
                .rev()
                .filter(|r| r.applicant_ref == key && r.status == AppealStatus::Registered.as_str())
                .map(|r| EarlierAppeal {
                    id: r.id,
                    registration_number: r.registration_number.clone(),
                    subject: r.subject.clone(),
                    text: r.text.clone(),
                })
                .collect();
            earlier.extend(stored);
            earlier.truncate(50);
            find_repeat(&mut records[i], &earlier, self.settings.repeat_similarity);
        }
        let mut registrations = Vec::with_capacity(batch.len());
        for (i, (entry, record)) in batch.iter().zip(records).enumerate() {
            let sequence = last - count + 1 + i as i64;
            let registration = self
                .store(
                    conn,
                    entry.prepared,
                    record,
                    year,
                    sequence,
                    entry.request_id,
                )
                .instrument(entry.span.clone())
                .await?;
            registrations.push(registration);
        }
        Ok(registrations)
    }

    fn repeat_since(&self) -> chrono::DateTime<Utc> {
        Utc::now() - Duration::days(i64::from(self.settings.repeat_window_days))
    }

    /// A repeat the registrar named: recorded, or refused when no such appeal exists.
    /// False when none was named.
    async fn name_repeat(
        &self,
        conn: &mut PgConnection,
        prepared: &Prepared,
        record: &mut AppealRecord,
    ) -> Result<bool, RegisterError> {
        let named = &prepared.appeal.repeated_of;
        if named.is_empty() {
            return Ok(false);
        }
        match storage::id_by_number(conn, named).await? {
            Some(id) => {
                record.repeated_of = Some(id);
                record.repeated_of_number = Some(named.clone());
                Ok(true)
            }
            None => Err(RegisterError::Invalid(vec![FieldIssue::new(
                "repeated_of",
                "not_found",
                "no appeal with this registration number",
            )])),
        }
    }

    /// Stores a numbered appeal and its attachments; the event is for the caller to write.
    async fn store(
        &self,
        conn: &mut PgConnection,
        prepared: &Prepared,
        record: AppealRecord,
        year: i32,
        sequence: i64,
        request_id: Option<&str>,
    ) -> Result<Registration, RegisterError> {
        let appeal = &prepared.appeal;
        let signature = appeal.signature.as_deref();
        storage::insert_appeal(
            conn,
            &self.vault,
            &record,
            year,
            sequence,
            signature,
            request_id,
        )
        .await?;
        let rows: Vec<NewAttachmentRow> = appeal
            .attachments
            .iter()
            .map(|a| NewAttachmentRow {
                name: &a.name,
                media_type: &a.media_type,
                sha256: hex::encode(Sha256::digest(&a.content)),
                content: &a.content,
            })
            .collect();
        let attachments = storage::insert_attachments(conn, record.id, &rows).await?;
        let event = if record.decline_reasons.0.is_empty() {
            events::registered(&record, rows.len())
        } else {
            events::declined_after_registration(&record)
        }
        .in_current_trace();
        Ok(Registration {
            record,
            replayed: false,
            event: Some(event),
            attachments: Some(attachments),
        })
    }
}

/// One appeal of a batch for `record_batch`.
pub struct BatchEntry<'a> {
    pub prepared: &'a Prepared,
    pub request_id: Option<&'a str>,
    pub request_hash: Option<String>,
    pub span: tracing::Span,
}

/// Marks `record` a repeat of the most similar of the applicant's `earlier` appeals
/// (latest first), if one is similar enough.
fn find_repeat(record: &mut AppealRecord, earlier: &[EarlierAppeal], threshold: f64) {
    let texts: Vec<String> = earlier
        .iter()
        .map(|e| format!("{} {}", e.subject, e.text))
        .collect();
    let current = format!("{} {}", record.subject, record.text);
    if let Some((i, _)) = most_similar(&current, texts.iter().map(String::as_str), threshold) {
        record.repeated_of = Some(earlier[i].id);
        record.repeated_of_number = Some(earlier[i].registration_number.clone());
    }
}

impl Registration {
    /// Counts and logs a new registration; called once it is committed (or part of the
    /// transaction that commits it), so a batch written twice counts it once.
    pub fn report(&self) {
        if self.replayed {
            return;
        }
        let record = &self.record;
        metrics::counter!("bakylau_appeals_registered_total", "channel" => record.channel.clone(), "status" => record.status.clone()).increment(1);
        tracing::info!(
            appeal_id = %record.id,
            registration_number = %record.registration_number,
            channel = %record.channel,
            status = %record.status,
            "appeal registered"
        );
    }
}

fn replay(
    existing: AppealRecord,
    request_hash: Option<&str>,
) -> Result<Registration, RegisterError> {
    if let (Some(stored), Some(given)) = (existing.request_hash.as_deref(), request_hash)
        && stored != given
    {
        return Err(RegisterError::RequestIdReused);
    }
    Ok(Registration {
        record: existing,
        replayed: true,
        event: None,
        attachments: None,
    })
}

pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}
