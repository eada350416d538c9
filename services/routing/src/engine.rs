//! The routing engine: loads reference data (cached per replica, reloaded when another
//! replica or an edit bumps its version), decides a registered appeal, applies a
//! registrar's re-route. State change and outbox event always commit together.

use std::sync::{Arc, Mutex};

use bakylau_calendar::Calendar;
use std::collections::HashSet;

use bakylau_platform::broker::{enqueue, enqueue_all};
use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::classifier::{Classifier, Prediction};
use crate::domain::duplicates::{self, Current, DuplicatePolicy, Earlier, Link};
use crate::domain::locality::resolve_district;
use crate::domain::reference::{Reference, top_level};
use crate::domain::routing::{
    self, AppealFacts, DecidePolicy, Decision, FieldIssue, Outcome, RerouteInput,
};
use crate::events;
use crate::settings::RoutingSettings;
use crate::storage::{
    self, AppealRecord, CandidateSearch, DecisionRecord, LocalityRecord, StorageError,
};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("invalid request")]
    Invalid(Vec<FieldIssue>),
    #[error("appeal not found")]
    NotFound,
    #[error("unreadable event: {0}")]
    BadEvent(String),
}

/// An `appeal.registered` to decide, with the span of the delivery that brought it.
pub struct Registered<'a> {
    pub event: &'a ev::AppealRegistered,
    pub span: tracing::Span,
}

/// A new appeal decided in memory, not yet stored.
struct Pending {
    appeal: AppealRecord,
    decision: Decision,
    span: tracing::Span,
}

impl Pending {
    /// As a later appeal of the same batch sees it among its near-duplicate candidates.
    fn as_earlier(&self) -> Earlier {
        Earlier {
            appeal_id: self.appeal.appeal_id.to_string(),
            registration_number: self.appeal.registration_number.clone(),
            applicant_ref: self.appeal.applicant_ref.clone(),
            district: self.appeal.district.clone(),
            category: self.appeal.category.clone(),
            registered_at: self.appeal.registered_at,
            signature: self.appeal.signature.clone(),
        }
    }
}

fn appeal_id_of(e: &ev::AppealRegistered) -> Result<Uuid, EngineError> {
    Uuid::parse_str(&e.appeal_id)
        .map_err(|_| EngineError::BadEvent(format!("appeal_id {:?} is not a UUID", e.appeal_id)))
}

fn registered_at_of(e: &ev::AppealRegistered) -> Result<DateTime<Utc>, EngineError> {
    e.registered_at
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .ok_or_else(|| EngineError::BadEvent("registered_at is missing".into()))
}

/// The stored form of `decision`, the `sequence`-th of the appeal.
fn decision_record(
    appeal_id: Uuid,
    decision: &Decision,
    sequence: i32,
    user: &str,
    reason: &str,
) -> DecisionRecord {
    let mut record = DecisionRecord {
        appeal_id,
        sequence,
        outcome: decision.outcome.as_str().to_owned(),
        category: decision.category.clone(),
        confidence: decision.confidence,
        lead_executor: String::new(),
        co_executors: Vec::new(),
        decided_by: decision.decided_by.clone(),
        classified_by: decision.classified_by.clone(),
        decided_by_user: user.to_owned(),
        reason_code: String::new(),
        reason: reason.to_owned(),
        to_body: String::new(),
        explanation_kk: String::new(),
        explanation_ru: String::new(),
        legal_basis: String::new(),
        notify_by: None,
        event_id: Uuid::nil(),
        decided_at: Utc::now(),
    };
    match &decision.outcome {
        Outcome::Routed { lead, co_executors } => {
            record.lead_executor = lead.clone();
            record.co_executors = co_executors.clone();
            if user.is_empty() {
                record.reason_code = "rule".into();
            } else {
                record.reason_code = "registrar_override".into();
            }
        }
        Outcome::Redirected(r) => {
            record.lead_executor = r.to_body.clone();
            record.to_body = r.to_body.clone();
            record.reason_code = r.reason_code.clone();
            record.explanation_kk = r.explanation_kk.clone();
            record.explanation_ru = r.explanation_ru.clone();
            record.legal_basis = r.legal_basis.clone();
            record.notify_by = Some(r.notify_by);
            if record.reason.is_empty() {
                record.reason = format!("reg 5.2: {}", r.legal_basis);
            }
        }
        Outcome::Manual { reason, message } => {
            record.reason_code = reason.code().to_owned();
            record.reason = message.clone();
        }
    }
    record
}

fn count_decision(record: &DecisionRecord) {
    metrics::counter!(
        "routing_decisions_total",
        "outcome" => record.outcome.clone(),
        "decided_by" => label_of(&record.decided_by)
    )
    .increment(1);
}

pub struct Engine {
    pub pool: PgPool,
    pub classifier: Arc<Classifier>,
    pub calendar: Arc<Calendar>,
    pub settings: Arc<RoutingSettings>,
    cache: Mutex<Option<(i64, Arc<Reference>)>>,
}

fn label_of(decided_by: &str) -> &'static str {
    match decided_by.split_once(':').map(|(k, _)| k) {
        Some("rule") => "rule",
        Some("registrar") => "registrar",
        Some("flag") => "flag",
        _ => "none",
    }
}

impl Engine {
    pub fn new(
        pool: PgPool,
        classifier: Arc<Classifier>,
        calendar: Arc<Calendar>,
        settings: Arc<RoutingSettings>,
    ) -> Self {
        Self {
            pool,
            classifier,
            calendar,
            settings,
            cache: Mutex::new(None),
        }
    }

    /// Current reference data; reloaded only when its version moved.
    pub async fn reference(&self, conn: &mut PgConnection) -> Result<Arc<Reference>, EngineError> {
        let version = storage::reference_version(conn).await?;
        self.reference_at(conn, version).await
    }

    /// The reference data, knowing the stored version is `version`.
    async fn reference_at(
        &self,
        conn: &mut PgConnection,
        version: i64,
    ) -> Result<Arc<Reference>, EngineError> {
        if let Ok(guard) = self.cache.lock()
            && let Some((v, r)) = guard.as_ref()
            && *v == version
        {
            return Ok(r.clone());
        }
        let (version, reference) = storage::load_reference(conn).await?;
        let reference = Arc::new(reference);
        if let Ok(mut guard) = self.cache.lock() {
            *guard = Some((version, reference.clone()));
        }
        Ok(reference)
    }

    /// APPK art. 65: the applicant is told of a redirect within 3 working days of registration.
    pub fn notify_by(&self, registered_at: DateTime<Utc>) -> NaiveDate {
        let registered_on = bakylau_calendar::kz_date(registered_at);
        self.calendar
            .add_working_days_lenient(registered_on, self.settings.redirect_notice_working_days)
            .unwrap_or(registered_on)
    }

    pub fn classify(&self, text: &str) -> Prediction {
        self.classifier.classify(text)
    }

    /// Decides registered appeals, in order, inside the consumer's transaction: the
    /// appeals, their decisions, near-duplicate links and events commit together, each
    /// kind with one statement. An appeal already decided (a replay under another message
    /// id) is skipped. Each appeal sees the ones before it in `batch` among its
    /// near-duplicate candidates, as if they were decided one after another.
    pub async fn route_registered(
        &self,
        tx: &mut PgConnection,
        batch: &[Registered<'_>],
    ) -> Result<(), EngineError> {
        let appeal_ids = batch
            .iter()
            .map(|r| appeal_id_of(r.event))
            .collect::<Result<Vec<_>, _>>()?;
        let (decided, version) = storage::decided_and_reference_version(tx, &appeal_ids).await?;
        let mut seen: HashSet<Uuid> = decided.into_iter().collect();
        let reference = self.reference_at(tx, version).await?;
        let mut pending = Vec::with_capacity(batch.len());
        for (r, appeal_id) in batch.iter().zip(appeal_ids) {
            if !seen.insert(appeal_id) {
                r.span
                    .in_scope(|| tracing::debug!(%appeal_id, "appeal already decided; skipped"));
                continue;
            }
            pending.push(self.decide(&reference, r, appeal_id)?);
        }
        if pending.is_empty() {
            return Ok(());
        }
        let window = Duration::days(i64::from(self.settings.duplicate_window_days));
        let searches: Vec<CandidateSearch<'_>> = pending
            .iter()
            .map(|p| CandidateSearch {
                appeal_id: p.appeal.appeal_id,
                applicant_ref: &p.appeal.applicant_ref,
                district: p.appeal.district.as_deref(),
                category_top: p.appeal.category.as_deref().map(top_level),
                from: p.appeal.registered_at - window,
                to: p.appeal.registered_at + window,
            })
            .collect();
        let stored = storage::duplicate_candidates(tx, &searches).await?;
        let policy = DuplicatePolicy {
            window_days: self.settings.duplicate_window_days,
            min_similarity: self.settings.duplicate_similarity,
        };
        let mut records = Vec::with_capacity(pending.len());
        let mut messages = Vec::with_capacity(pending.len());
        let mut links = Vec::with_capacity(pending.len());
        for (i, (p, mut earlier)) in pending.iter().zip(stored).enumerate() {
            earlier.extend(pending[..i].iter().map(Pending::as_earlier));
            let found = duplicates::find(
                &Current {
                    appeal_id: &p.appeal.appeal_id.to_string(),
                    applicant_ref: &p.appeal.applicant_ref,
                    district: p.appeal.district.as_deref(),
                    category: p.appeal.category.as_deref(),
                    registered_at: p.appeal.registered_at,
                    signature: &p.appeal.signature,
                },
                &earlier,
                policy,
            );
            let duplicate_ids: Vec<String> = found.iter().map(|l| l.appeal_id.clone()).collect();
            let mut record = decision_record(p.appeal.appeal_id, &p.decision, 1, "", "");
            let message = p.span.in_scope(|| {
                events::for_decision(&p.appeal, &record, &duplicate_ids, &reference)
                    .in_current_trace()
            });
            record.event_id = message.message_id;
            records.push(record);
            messages.push(message);
            links.push(found);
        }
        let appeals: Vec<AppealRecord> = pending.iter().map(|p| p.appeal.clone()).collect();
        storage::insert_appeals(tx, &appeals).await?;
        storage::insert_first_decisions(tx, &records).await?;
        let pairs: Vec<(Uuid, &Link)> = pending
            .iter()
            .zip(&links)
            .flat_map(|(p, found)| found.iter().map(|l| (p.appeal.appeal_id, l)))
            .collect();
        storage::insert_duplicates(tx, &pairs).await?;
        enqueue_all(tx, &messages).await?;
        for ((p, record), found) in pending.iter().zip(&records).zip(&links) {
            count_decision(record);
            if !found.is_empty() {
                metrics::counter!("routing_duplicates_flagged_total").increment(1);
            }
            p.span.in_scope(|| {
                tracing::info!(
                    appeal_id = %p.appeal.appeal_id,
                    registration_number = %p.appeal.registration_number,
                    outcome = %record.outcome,
                    category = record.category.as_deref().unwrap_or(""),
                    confidence = record.confidence,
                    decided_by = %record.decided_by,
                    duplicates = found.len(),
                    "appeal routed"
                )
            });
        }
        Ok(())
    }

    /// Classifies and decides one new appeal (no I/O).
    fn decide(
        &self,
        reference: &Reference,
        r: &Registered<'_>,
        appeal_id: Uuid,
    ) -> Result<Pending, EngineError> {
        let e = r.event;
        let registered_at = registered_at_of(e)?;
        let loc = e.locality.clone().unwrap_or_default();
        let district = resolve_district(&reference.districts, &loc.district, &loc.kato);
        let text = format!("{}\n{}", e.subject, e.text);
        let prediction = self.classifier.classify(&text);
        metrics::histogram!("routing_classifier_confidence").record(prediction.confidence);
        let facts = AppealFacts {
            kind: e.kind.clone(),
            applicant_type: e.applicant_type.clone(),
            district: district.clone(),
            corruption_report: e.corruption_report,
        };
        let decision = routing::decide(
            reference,
            &prediction,
            self.classifier.name(),
            &facts,
            DecidePolicy {
                confidence_threshold: self.settings.confidence_threshold,
            },
            self.notify_by(registered_at),
        );
        let external = e.external.clone().unwrap_or_default();
        let appeal = AppealRecord {
            appeal_id,
            registration_number: e.registration_number.clone(),
            registered_at,
            kind: e.kind.clone(),
            channel: e.channel.clone(),
            language: e.language.clone(),
            applicant_type: e.applicant_type.clone(),
            applicant_ref: e.applicant_ref.clone(),
            corruption_report: e.corruption_report,
            district,
            locality: LocalityRecord {
                kato: loc.kato,
                region: loc.region,
                district: loc.district,
                rural_district: loc.rural_district,
            },
            external_source: external.source,
            external_id: external.external_id,
            signature: duplicates::signature(&text),
            category: decision.category.clone(),
            outcome: decision.outcome.as_str().to_owned(),
            current_sequence: 1,
        };
        Ok(Pending {
            appeal,
            decision,
            span: r.span.clone(),
        })
    }

    /// A registrar's re-route: validated against the reference data, stored as a new
    /// decision (the earlier ones stay), announced with a new event.
    pub async fn reroute(
        &self,
        appeal_id: Option<Uuid>,
        registration_number: Option<&str>,
        input: &RerouteInput,
        user: &str,
    ) -> Result<AppealRecord, EngineError> {
        let mut tx = self.pool.begin().await?;
        let appeal = storage::find_appeal(&mut tx, appeal_id, registration_number, true)
            .await?
            .ok_or(EngineError::NotFound)?;
        let reference = self.reference(&mut tx).await?;
        let decision = routing::reroute(
            &reference,
            input,
            user,
            self.notify_by(appeal.registered_at),
        )
        .map_err(EngineError::Invalid)?;
        let duplicate_ids: Vec<String> = storage::duplicates_of(&mut tx, appeal.appeal_id)
            .await?
            .into_iter()
            .map(|d| d.appeal_id.to_string())
            .collect();
        let sequence = appeal.current_sequence + 1;
        let mut record = decision_record(
            appeal.appeal_id,
            &decision,
            sequence,
            user,
            input.reason.trim(),
        );
        let message = events::for_decision(&appeal, &record, &duplicate_ids, &reference);
        record.event_id = message.message_id;
        storage::insert_decision(&mut tx, &record).await?;
        enqueue(&mut tx, &message).await?;
        count_decision(&record);
        tx.commit().await?;
        tracing::info!(
            appeal_id = %appeal.appeal_id,
            registration_number = %appeal.registration_number,
            sequence,
            outcome = %record.outcome,
            "appeal re-routed by a registrar"
        );
        self.refresh_queue_gauge().await;
        let mut appeal = appeal;
        appeal.current_sequence = sequence;
        appeal.outcome = record.outcome;
        appeal.category = record.category;
        Ok(appeal)
    }

    /// Sets the manual-queue gauge from the database (after changes and at start).
    pub async fn refresh_queue_gauge(&self) {
        if let Ok(mut conn) = self.pool.acquire().await
            && let Ok(n) = storage::manual_queue_size(&mut conn).await
        {
            metrics::gauge!("routing_manual_queue_size").set(n as f64);
        }
    }
}
