//! The routing engine: loads reference data (cached per replica, reloaded when another
//! replica or an edit bumps its version), decides a registered appeal, applies a
//! registrar's re-route. State change and outbox event always commit together.

use std::sync::{Arc, Mutex};

use bakylau_calendar::Calendar;
use bakylau_platform::broker::enqueue;
use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::classifier::{Classifier, Prediction};
use crate::domain::duplicates::{self, Current, DuplicatePolicy};
use crate::domain::locality::resolve_district;
use crate::domain::reference::{Reference, top_level};
use crate::domain::routing::{
    self, AppealFacts, DecidePolicy, Decision, FieldIssue, Outcome, RerouteInput,
};
use crate::events;
use crate::settings::RoutingSettings;
use crate::storage::{self, AppealRecord, DecisionRecord, LocalityRecord, StorageError};

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

/// What happened to a registered appeal.
#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    /// Decided now, with this outcome.
    Decided { outcome: String, event_id: Uuid },
    /// Routing had already decided this appeal (a replay under another message id).
    AlreadyDecided,
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

    /// Decides a registered appeal inside the consumer's transaction: the appeal, its
    /// decision, near-duplicate links and the event commit together.
    pub async fn route_registered(
        &self,
        tx: &mut PgConnection,
        e: &ev::AppealRegistered,
    ) -> Result<Routed, EngineError> {
        let appeal_id = Uuid::parse_str(&e.appeal_id).map_err(|_| {
            EngineError::BadEvent(format!("appeal_id {:?} is not a UUID", e.appeal_id))
        })?;
        let (decided, version) = storage::decided_and_reference_version(tx, appeal_id).await?;
        if decided {
            return Ok(Routed::AlreadyDecided);
        }
        let registered_at = e
            .registered_at
            .as_ref()
            .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
            .ok_or_else(|| EngineError::BadEvent("registered_at is missing".into()))?;
        let reference = self.reference_at(tx, version).await?;
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
        let notify_by = self.notify_by(registered_at);
        let decision = routing::decide(
            &reference,
            &prediction,
            self.classifier.name(),
            &facts,
            DecidePolicy {
                confidence_threshold: self.settings.confidence_threshold,
            },
            notify_by,
        );
        let signature = duplicates::signature(&text);
        let window = Duration::days(i64::from(self.settings.duplicate_window_days));
        let earlier = storage::duplicate_candidates(
            tx,
            appeal_id,
            &e.applicant_ref,
            district.as_deref(),
            decision.category.as_deref().map(top_level),
            registered_at - window,
            registered_at + window,
        )
        .await?;
        let links = duplicates::find(
            &Current {
                appeal_id: &e.appeal_id,
                applicant_ref: &e.applicant_ref,
                district: district.as_deref(),
                category: decision.category.as_deref(),
                registered_at,
                signature: &signature,
            },
            &earlier,
            DuplicatePolicy {
                window_days: self.settings.duplicate_window_days,
                min_similarity: self.settings.duplicate_similarity,
            },
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
            signature,
            category: decision.category.clone(),
            outcome: decision.outcome.as_str().to_owned(),
            current_sequence: 1,
        };
        storage::insert_appeal(tx, &appeal).await?;
        let duplicate_ids: Vec<String> = links.iter().map(|l| l.appeal_id.clone()).collect();
        let (record, event_id) = self
            .store_decision(
                tx,
                &appeal,
                &decision,
                1,
                "",
                "",
                &duplicate_ids,
                &reference,
            )
            .await?;
        storage::insert_duplicates(tx, appeal_id, &links).await?;
        if !links.is_empty() {
            metrics::counter!("routing_duplicates_flagged_total").increment(1);
        }
        tracing::info!(
            appeal_id = %appeal_id,
            registration_number = %appeal.registration_number,
            outcome = %record.outcome,
            category = record.category.as_deref().unwrap_or(""),
            confidence = record.confidence,
            decided_by = %record.decided_by,
            duplicates = links.len(),
            "appeal routed"
        );
        Ok(Routed::Decided {
            outcome: record.outcome,
            event_id,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_decision(
        &self,
        tx: &mut PgConnection,
        appeal: &AppealRecord,
        decision: &Decision,
        sequence: i32,
        user: &str,
        reason: &str,
        duplicate_ids: &[String],
        reference: &Reference,
    ) -> Result<(DecisionRecord, Uuid), EngineError> {
        let mut record = DecisionRecord {
            appeal_id: appeal.appeal_id,
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
        let message = events::for_decision(appeal, &record, duplicate_ids, reference);
        record.event_id = message.message_id;
        storage::insert_decision(tx, &record).await?;
        enqueue(tx, &message).await?;
        metrics::counter!(
            "routing_decisions_total",
            "outcome" => record.outcome.clone(),
            "decided_by" => label_of(&record.decided_by)
        )
        .increment(1);
        Ok((record, message.message_id))
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
        let (record, _) = self
            .store_decision(
                &mut tx,
                &appeal,
                &decision,
                sequence,
                user,
                input.reason.trim(),
                &duplicate_ids,
                &reference,
            )
            .await?;
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
