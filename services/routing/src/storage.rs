//! Postgres adapter of routing: reference data (seed and edits with their audit log), the
//! appeals routing has seen, decisions and near-duplicate links.

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use crate::domain::duplicates::{Earlier, Link};
use crate::domain::reference::{Body, Category, District, Reference, Rule};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored reference data is unreadable: {0}")]
    Corrupt(String),
}

/// Which reference table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Category,
    Body,
    Rule,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Category => "category",
            Entity::Body => "body",
            Entity::Rule => "rule",
        }
    }
}

/// Who changed a reference row, and when.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

fn decode<T: DeserializeOwned>(v: serde_json::Value, what: &str) -> Result<T, StorageError> {
    serde_json::from_value(v).map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))
}

fn encode<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Loads the seed: new rows are inserted; rows still as a seed made them are updated;
/// rows edited over gRPC are left alone. Returns how many rows changed.
pub async fn apply_seed(tx: &mut PgConnection, seed: &Reference) -> Result<u64, StorageError> {
    let mut changed = 0;
    for (i, c) in seed.categories.iter().enumerate() {
        changed += sqlx::query(
            "INSERT INTO categories (code, data, active, position) VALUES ($1, $2, $3, $4)
             ON CONFLICT (code) DO UPDATE SET data = EXCLUDED.data, position = EXCLUDED.position,
                 updated_at = now(), updated_by = 'seed'
             WHERE categories.seeded AND (categories.data <> EXCLUDED.data OR categories.position <> EXCLUDED.position)",
        )
        .bind(&c.code)
        .bind(encode(c))
        .bind(c.active)
        .bind(i as i32)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    for (i, d) in seed.districts.iter().enumerate() {
        changed += sqlx::query(
            "INSERT INTO districts (code, data, position) VALUES ($1, $2, $3)
             ON CONFLICT (code) DO UPDATE SET data = EXCLUDED.data, position = EXCLUDED.position, updated_at = now()
             WHERE districts.data <> EXCLUDED.data OR districts.position <> EXCLUDED.position",
        )
        .bind(&d.code)
        .bind(encode(d))
        .bind(i as i32)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    for (i, b) in seed.bodies.iter().enumerate() {
        changed += sqlx::query(
            "INSERT INTO bodies (code, data, active, position) VALUES ($1, $2, $3, $4)
             ON CONFLICT (code) DO UPDATE SET data = EXCLUDED.data, position = EXCLUDED.position,
                 updated_at = now(), updated_by = 'seed'
             WHERE bodies.seeded AND (bodies.data <> EXCLUDED.data OR bodies.position <> EXCLUDED.position)",
        )
        .bind(&b.code)
        .bind(encode(b))
        .bind(b.active)
        .bind(i as i32)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    for r in &seed.rules {
        changed += sqlx::query(
            "INSERT INTO rules (id, data, priority, active) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, priority = EXCLUDED.priority,
                 updated_at = now(), updated_by = 'seed'
             WHERE rules.seeded AND rules.data <> EXCLUDED.data",
        )
        .bind(&r.id)
        .bind(encode(r))
        .bind(r.priority)
        .bind(r.active)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    let region_changed = sqlx::query(
        "UPDATE reference_version SET region_kato = $1 WHERE region_kato IS DISTINCT FROM $1",
    )
    .bind(&seed.region_kato)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed + region_changed > 0 {
        bump_version(tx).await?;
    }
    Ok(changed)
}

async fn bump_version(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE reference_version SET version = version + 1")
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn reference_version(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM reference_version")
        .fetch_one(&mut *conn)
        .await
}

/// The reference data as stored, with its version.
pub async fn load_reference(conn: &mut PgConnection) -> Result<(i64, Reference), StorageError> {
    let row = sqlx::query("SELECT version, region_kato FROM reference_version")
        .fetch_one(&mut *conn)
        .await?;
    let version: i64 = row.try_get("version")?;
    let region_kato: Option<String> = row.try_get("region_kato")?;
    let mut categories = Vec::new();
    for r in sqlx::query("SELECT data, active FROM categories ORDER BY position, code")
        .fetch_all(&mut *conn)
        .await?
    {
        let mut c: Category = decode(r.try_get("data")?, "category")?;
        c.active = r.try_get("active")?;
        categories.push(c);
    }
    let mut districts = Vec::new();
    for r in sqlx::query("SELECT data FROM districts ORDER BY position, code")
        .fetch_all(&mut *conn)
        .await?
    {
        districts.push(decode::<District>(r.try_get("data")?, "district")?);
    }
    let mut bodies = Vec::new();
    for r in sqlx::query("SELECT data, active FROM bodies ORDER BY position, code")
        .fetch_all(&mut *conn)
        .await?
    {
        let mut b: Body = decode(r.try_get("data")?, "body")?;
        b.active = r.try_get("active")?;
        bodies.push(b);
    }
    let mut rules = Vec::new();
    for r in sqlx::query("SELECT data, active FROM rules")
        .fetch_all(&mut *conn)
        .await?
    {
        let mut rule: Rule = decode(r.try_get("data")?, "rule")?;
        rule.active = r.try_get("active")?;
        rules.push(rule);
    }
    Ok((
        version,
        Reference::new(region_kato, categories, districts, bodies, rules),
    ))
}

/// Who last changed each row of a reference table (code -> stamp).
pub async fn stamps(
    conn: &mut PgConnection,
    entity: Entity,
) -> Result<std::collections::HashMap<String, Stamp>, sqlx::Error> {
    let sql = match entity {
        Entity::Category => "SELECT code, updated_by, updated_at FROM categories",
        Entity::Body => "SELECT code, updated_by, updated_at FROM bodies",
        Entity::Rule => "SELECT id AS code, updated_by, updated_at FROM rules",
    };
    let mut out = std::collections::HashMap::new();
    for r in sqlx::query(sql).fetch_all(&mut *conn).await? {
        out.insert(
            r.try_get("code")?,
            Stamp {
                updated_by: r.try_get("updated_by")?,
                updated_at: r.try_get("updated_at")?,
            },
        );
    }
    Ok(out)
}

/// Writes one reference entity edited by `actor` and its audit record; bumps the version.
/// `data` is the whole entity; `active` its new state.
#[allow(clippy::too_many_arguments)]
pub async fn save_entity(
    tx: &mut PgConnection,
    entity: Entity,
    code: &str,
    before: Option<serde_json::Value>,
    data: serde_json::Value,
    active: bool,
    priority: i32,
    action: &str,
    actor: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let sql = match entity {
        Entity::Category => {
            "INSERT INTO categories (code, data, active, seeded, position, updated_by)
             VALUES ($1, $2, $3, false, (SELECT coalesce(max(position), 0) + 1 FROM categories), $5)
             ON CONFLICT (code) DO UPDATE SET data = EXCLUDED.data, active = EXCLUDED.active,
                 seeded = false, updated_at = now(), updated_by = EXCLUDED.updated_by
             RETURNING $4::int"
        }
        Entity::Body => {
            "INSERT INTO bodies (code, data, active, seeded, position, updated_by)
             VALUES ($1, $2, $3, false, (SELECT coalesce(max(position), 0) + 1 FROM bodies), $5)
             ON CONFLICT (code) DO UPDATE SET data = EXCLUDED.data, active = EXCLUDED.active,
                 seeded = false, updated_at = now(), updated_by = EXCLUDED.updated_by
             RETURNING $4::int"
        }
        Entity::Rule => {
            "INSERT INTO rules (id, data, active, seeded, priority, updated_by)
             VALUES ($1, $2, $3, false, $4, $5)
             ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, active = EXCLUDED.active,
                 priority = EXCLUDED.priority, seeded = false, updated_at = now(),
                 updated_by = EXCLUDED.updated_by
             RETURNING $4::int"
        }
    };
    sqlx::query(sql)
        .bind(code)
        .bind(&data)
        .bind(active)
        .bind(priority)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO reference_changes (entity, code, action, actor, reason, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(entity.as_str())
    .bind(code)
    .bind(action)
    .bind(actor)
    .bind(reason)
    .bind(before)
    .bind(data)
    .execute(&mut *tx)
    .await?;
    bump_version(tx).await
}

/// Takes the lock that serialises reference edits (priority and code uniqueness checks
/// are then made on a stable copy).
pub async fn lock_reference(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT version FROM reference_version FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ChangeRecord {
    pub id: i64,
    pub entity: String,
    pub code: String,
    pub action: String,
    pub actor: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub async fn list_changes(
    conn: &mut PgConnection,
    entity: Option<&str>,
    code: Option<&str>,
    limit: i64,
) -> Result<Vec<ChangeRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, entity, code, action, actor, reason, at, before, after FROM reference_changes
         WHERE ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR code = $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(entity)
    .bind(code)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(ChangeRecord {
                id: r.try_get("id")?,
                entity: r.try_get("entity")?,
                code: r.try_get("code")?,
                action: r.try_get("action")?,
                actor: r.try_get("actor")?,
                reason: r.try_get("reason")?,
                at: r.try_get("at")?,
                before: r.try_get("before")?,
                after: r.try_get("after")?,
            })
        })
        .collect()
}

// ---- appeals and decisions -------------------------------------------------------------

/// The locality as intake sent it (no personal data).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LocalityRecord {
    pub kato: String,
    pub region: String,
    pub district: String,
    pub rural_district: String,
}

#[derive(Debug, Clone)]
pub struct AppealRecord {
    pub appeal_id: Uuid,
    pub registration_number: String,
    pub registered_at: DateTime<Utc>,
    pub kind: String,
    pub channel: String,
    pub language: String,
    pub applicant_type: String,
    pub applicant_ref: String,
    pub corruption_report: bool,
    pub district: Option<String>,
    pub locality: LocalityRecord,
    pub external_source: String,
    pub external_id: String,
    pub signature: Vec<u32>,
    pub category: Option<String>,
    pub outcome: String,
    pub current_sequence: i32,
}

#[derive(Debug, Clone)]
pub struct DecisionRecord {
    pub appeal_id: Uuid,
    pub sequence: i32,
    pub outcome: String,
    pub category: Option<String>,
    pub confidence: f64,
    pub lead_executor: String,
    pub co_executors: Vec<String>,
    pub decided_by: String,
    pub classified_by: String,
    pub decided_by_user: String,
    pub reason_code: String,
    pub reason: String,
    pub to_body: String,
    pub explanation_kk: String,
    pub explanation_ru: String,
    pub legal_basis: String,
    pub notify_by: Option<NaiveDate>,
    pub event_id: Uuid,
    pub decided_at: DateTime<Utc>,
}

fn appeal_from_row(r: &sqlx::postgres::PgRow) -> Result<AppealRecord, sqlx::Error> {
    let signature: Vec<u8> = r.try_get("signature")?;
    let Json(locality): Json<LocalityRecord> = r.try_get("locality")?;
    Ok(AppealRecord {
        appeal_id: r.try_get("appeal_id")?,
        registration_number: r.try_get("registration_number")?,
        registered_at: r.try_get("registered_at")?,
        kind: r.try_get("kind")?,
        channel: r.try_get("channel")?,
        language: r.try_get("language")?,
        applicant_type: r.try_get("applicant_type")?,
        applicant_ref: r.try_get("applicant_ref")?,
        corruption_report: r.try_get("corruption_report")?,
        district: r.try_get("district")?,
        locality,
        external_source: r.try_get("external_source")?,
        external_id: r.try_get("external_id")?,
        signature: unpack_signature(&signature),
        category: r.try_get("category")?,
        outcome: r.try_get("outcome")?,
        current_sequence: r.try_get("current_sequence")?,
    })
}

/// Which of these appeals are already decided, and the reference data's version: one
/// round trip at the start of every batch of decisions.
pub async fn decided_and_reference_version(
    conn: &mut PgConnection,
    appeal_ids: &[Uuid],
) -> Result<(Vec<Uuid>, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT ARRAY(SELECT appeal_id FROM appeals WHERE appeal_id = ANY($1)), \
         (SELECT version FROM reference_version)",
    )
    .bind(appeal_ids)
    .fetch_one(&mut *conn)
    .await
}

pub async fn appeal_exists(conn: &mut PgConnection, appeal_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM appeals WHERE appeal_id = $1)")
        .bind(appeal_id)
        .fetch_one(&mut *conn)
        .await
}

/// The MinHash signature as stored: 4 big-endian bytes per value.
pub fn pack_signature(signature: &[u32]) -> Vec<u8> {
    signature.iter().flat_map(|v| v.to_be_bytes()).collect()
}

pub fn unpack_signature(packed: &[u8]) -> Vec<u32> {
    packed
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// New appeals, each already carrying its first decision's category and outcome.
pub async fn insert_appeals(
    tx: &mut PgConnection,
    appeals: &[AppealRecord],
) -> Result<(), sqlx::Error> {
    let text = |f: fn(&AppealRecord) -> &str| -> Vec<&str> { appeals.iter().map(f).collect() };
    sqlx::query(
        "INSERT INTO appeals (appeal_id, registration_number, registered_at, kind, channel, language,
             applicant_type, applicant_ref, corruption_report, district, locality, external_source,
             external_id, signature, category, outcome, current_sequence)
         SELECT a.appeal_id, a.registration_number, a.registered_at, a.kind, a.channel, a.language,
             a.applicant_type, a.applicant_ref, a.corruption_report, a.district,
             jsonb_build_object('kato', a.kato, 'region', a.region, 'district', a.locality_district,
                 'rural_district', a.rural_district),
             a.external_source, a.external_id, a.signature, a.category, a.outcome, a.current_sequence
         FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
             $7::text[], $8::text[], $9::bool[], $10::text[], $11::text[], $12::text[], $13::text[],
             $14::text[], $15::text[], $16::text[], $17::bytea[], $18::text[], $19::text[], $20::int[])
           AS a(appeal_id, registration_number, registered_at, kind, channel, language,
             applicant_type, applicant_ref, corruption_report, district, kato, region,
             locality_district, rural_district, external_source, external_id, signature, category,
             outcome, current_sequence)",
    )
    .bind(appeals.iter().map(|a| a.appeal_id).collect::<Vec<_>>())
    .bind(text(|a| &a.registration_number))
    .bind(appeals.iter().map(|a| a.registered_at).collect::<Vec<_>>())
    .bind(text(|a| &a.kind))
    .bind(text(|a| &a.channel))
    .bind(text(|a| &a.language))
    .bind(text(|a| &a.applicant_type))
    .bind(text(|a| &a.applicant_ref))
    .bind(appeals.iter().map(|a| a.corruption_report).collect::<Vec<_>>())
    .bind(appeals.iter().map(|a| a.district.as_deref()).collect::<Vec<_>>())
    .bind(text(|a| &a.locality.kato))
    .bind(text(|a| &a.locality.region))
    .bind(text(|a| &a.locality.district))
    .bind(text(|a| &a.locality.rural_district))
    .bind(text(|a| &a.external_source))
    .bind(text(|a| &a.external_id))
    .bind(appeals.iter().map(|a| pack_signature(&a.signature)).collect::<Vec<_>>())
    .bind(appeals.iter().map(|a| a.category.as_deref()).collect::<Vec<_>>())
    .bind(text(|a| &a.outcome))
    .bind(appeals.iter().map(|a| a.current_sequence).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The first decisions of appeals `insert_appeals` has just written (their rows already
/// say what these decide).
pub async fn insert_first_decisions(
    tx: &mut PgConnection,
    decisions: &[DecisionRecord],
) -> Result<(), sqlx::Error> {
    let text = |f: fn(&DecisionRecord) -> &str| -> Vec<&str> { decisions.iter().map(f).collect() };
    sqlx::query(
        "INSERT INTO decisions (appeal_id, sequence, outcome, category, confidence, lead_executor,
             co_executors, decided_by, classified_by, decided_by_user, reason_code, reason, to_body,
             explanation_kk, explanation_ru, legal_basis, notify_by, event_id, decided_at)
         SELECT d.appeal_id, d.sequence, d.outcome, d.category, d.confidence, d.lead_executor,
             ARRAY(SELECT jsonb_array_elements_text(d.co_executors)), d.decided_by, d.classified_by,
             d.decided_by_user, d.reason_code, d.reason, d.to_body, d.explanation_kk,
             d.explanation_ru, d.legal_basis, d.notify_by, d.event_id, d.decided_at
         FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::float8[], $6::text[],
             $7::jsonb[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
             $14::text[], $15::text[], $16::text[], $17::date[], $18::uuid[], $19::timestamptz[])
           AS d(appeal_id, sequence, outcome, category, confidence, lead_executor, co_executors,
             decided_by, classified_by, decided_by_user, reason_code, reason, to_body,
             explanation_kk, explanation_ru, legal_basis, notify_by, event_id, decided_at)",
    )
    .bind(decisions.iter().map(|d| d.appeal_id).collect::<Vec<_>>())
    .bind(decisions.iter().map(|d| d.sequence).collect::<Vec<_>>())
    .bind(text(|d| &d.outcome))
    .bind(decisions.iter().map(|d| d.category.as_deref()).collect::<Vec<_>>())
    .bind(decisions.iter().map(|d| d.confidence).collect::<Vec<_>>())
    .bind(text(|d| &d.lead_executor))
    .bind(decisions.iter().map(|d| Json(&d.co_executors)).collect::<Vec<_>>())
    .bind(text(|d| &d.decided_by))
    .bind(text(|d| &d.classified_by))
    .bind(text(|d| &d.decided_by_user))
    .bind(text(|d| &d.reason_code))
    .bind(text(|d| &d.reason))
    .bind(text(|d| &d.to_body))
    .bind(text(|d| &d.explanation_kk))
    .bind(text(|d| &d.explanation_ru))
    .bind(text(|d| &d.legal_basis))
    .bind(decisions.iter().map(|d| d.notify_by).collect::<Vec<_>>())
    .bind(decisions.iter().map(|d| d.event_id).collect::<Vec<_>>())
    .bind(decisions.iter().map(|d| d.decided_at).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Makes `d` the appeal's current decision.
pub async fn insert_decision(tx: &mut PgConnection, d: &DecisionRecord) -> Result<(), sqlx::Error> {
    // One statement: the decision, and the appeal row pointing at it. The first decision
    // finds the row as it was just inserted: no new row version (the appeal row is wide,
    // and every version adds entries to all its indexes).
    sqlx::query(
        "WITH decided AS (
             INSERT INTO decisions (appeal_id, sequence, outcome, category, confidence, lead_executor,
                 co_executors, decided_by, classified_by, decided_by_user, reason_code, reason, to_body,
                 explanation_kk, explanation_ru, legal_basis, notify_by, event_id, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19))
         UPDATE appeals SET category = $4, outcome = $3, current_sequence = $2
         WHERE appeal_id = $1
           AND (category IS DISTINCT FROM $4 OR outcome <> $3 OR current_sequence <> $2)",
    )
    .bind(d.appeal_id)
    .bind(d.sequence)
    .bind(&d.outcome)
    .bind(&d.category)
    .bind(d.confidence)
    .bind(&d.lead_executor)
    .bind(&d.co_executors)
    .bind(&d.decided_by)
    .bind(&d.classified_by)
    .bind(&d.decided_by_user)
    .bind(&d.reason_code)
    .bind(&d.reason)
    .bind(&d.to_body)
    .bind(&d.explanation_kk)
    .bind(&d.explanation_ru)
    .bind(&d.legal_basis)
    .bind(d.notify_by)
    .bind(d.event_id)
    .bind(d.decided_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The appeal by id or registration number; `for_update` locks it for a re-route.
pub async fn find_appeal(
    conn: &mut PgConnection,
    appeal_id: Option<Uuid>,
    registration_number: Option<&str>,
    for_update: bool,
) -> Result<Option<AppealRecord>, sqlx::Error> {
    let sql = match for_update {
        false => "SELECT appeal_id, registration_number, registered_at, kind, channel, language, applicant_type, applicant_ref, corruption_report, district, locality, external_source, external_id, signature, category, outcome, current_sequence
                  FROM appeals WHERE ($1::uuid IS NULL OR appeal_id = $1) AND ($2::text IS NULL OR registration_number = $2)
                  ORDER BY registered_at DESC LIMIT 1",
        true => "SELECT appeal_id, registration_number, registered_at, kind, channel, language, applicant_type, applicant_ref, corruption_report, district, locality, external_source, external_id, signature, category, outcome, current_sequence
                 FROM appeals WHERE ($1::uuid IS NULL OR appeal_id = $1) AND ($2::text IS NULL OR registration_number = $2)
                 ORDER BY registered_at DESC LIMIT 1 FOR UPDATE",
    };
    let row = sqlx::query(sql)
        .bind(appeal_id)
        .bind(registration_number)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(appeal_from_row).transpose()
}

pub async fn decisions_of(
    conn: &mut PgConnection,
    appeal_id: Uuid,
) -> Result<Vec<DecisionRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT appeal_id, sequence, outcome, category, confidence, lead_executor, co_executors,
             decided_by, classified_by, decided_by_user, reason_code, reason, to_body, explanation_kk,
             explanation_ru, legal_basis, notify_by, event_id, decided_at
         FROM decisions WHERE appeal_id = $1 ORDER BY sequence",
    )
    .bind(appeal_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DecisionRecord {
                appeal_id: r.try_get("appeal_id")?,
                sequence: r.try_get("sequence")?,
                outcome: r.try_get("outcome")?,
                category: r.try_get("category")?,
                confidence: r.try_get("confidence")?,
                lead_executor: r.try_get("lead_executor")?,
                co_executors: r.try_get("co_executors")?,
                decided_by: r.try_get("decided_by")?,
                classified_by: r.try_get("classified_by")?,
                decided_by_user: r.try_get("decided_by_user")?,
                reason_code: r.try_get("reason_code")?,
                reason: r.try_get("reason")?,
                to_body: r.try_get("to_body")?,
                explanation_kk: r.try_get("explanation_kk")?,
                explanation_ru: r.try_get("explanation_ru")?,
                legal_basis: r.try_get("legal_basis")?,
                notify_by: r.try_get("notify_by")?,
                event_id: r.try_get("event_id")?,
                decided_at: r.try_get("decided_at")?,
            })
        })
        .collect()
}

/// What one appeal's near-duplicate candidates are searched by.
#[derive(Debug, Clone)]
pub struct CandidateSearch<'a> {
    pub appeal_id: Uuid,
    pub applicant_ref: &'a str,
    pub district: Option<&'a str>,
    pub category_top: Option<&'a str>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Earlier stored appeals that could be near-duplicates of each searched appeal (in the
/// same order): the same applicant, or the same district and top-level category (only
/// these can link, so no other row is read). One round trip for all of them.
pub async fn duplicate_candidates(
    conn: &mut PgConnection,
    searches: &[CandidateSearch<'_>],
) -> Result<Vec<Vec<Earlier>>, sqlx::Error> {
    let rows = sqlx::query(
        // Two branches, each on its own index: one OR over both (prepared, so planned
        // without the values) read every appeal of the window (measured: 115 ms a call).
        // The second branch is answered from appeals_duplicate_candidates alone. The literal
        // `applicant_ref <> ''` lets the plan use the partial appeals_applicant index.
        "SELECT q.n, c.* FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],
                 $5::timestamptz[], $6::timestamptz[]) WITH ORDINALITY
               AS q(appeal_id, applicant_ref, district, category_top, from_at, to_at, n)
         CROSS JOIN LATERAL (
             SELECT * FROM (
                 (SELECT appeal_id, registration_number, applicant_ref, district, category,
                         registered_at, signature
                  FROM appeals
                  WHERE q.applicant_ref <> '' AND applicant_ref <> ''
                    AND applicant_ref = q.applicant_ref
                    AND registered_at BETWEEN q.from_at AND q.to_at
                    AND appeal_id <> q.appeal_id
                  ORDER BY registered_at DESC LIMIT 2000)
                 UNION ALL
                 (SELECT appeal_id, registration_number, applicant_ref, district, category,
                         registered_at, signature
                  FROM appeals
                  WHERE district = q.district AND split_part(category, '.', 1) = q.category_top
                    AND registered_at BETWEEN q.from_at AND q.to_at AND appeal_id <> q.appeal_id
                    AND (q.applicant_ref = '' OR applicant_ref <> q.applicant_ref)
                  ORDER BY registered_at DESC LIMIT 2000)
             ) both_bases
             ORDER BY registered_at DESC LIMIT 2000
         ) c",
    )
    .bind(searches.iter().map(|s| s.appeal_id).collect::<Vec<_>>())
    .bind(searches.iter().map(|s| s.applicant_ref).collect::<Vec<_>>())
    .bind(searches.iter().map(|s| s.district).collect::<Vec<_>>())
    .bind(searches.iter().map(|s| s.category_top).collect::<Vec<_>>())
    .bind(searches.iter().map(|s| s.from).collect::<Vec<_>>())
    .bind(searches.iter().map(|s| s.to).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?;
    let mut out = vec![Vec::new(); searches.len()];
    for r in &rows {
        let n: i64 = r.try_get("n")?;
        let id: Uuid = r.try_get("appeal_id")?;
        let signature: Vec<u8> = r.try_get("signature")?;
        if let Some(list) = usize::try_from(n - 1).ok().and_then(|i| out.get_mut(i)) {
            list.push(Earlier {
                appeal_id: id.to_string(),
                registration_number: r.try_get("registration_number")?,
                applicant_ref: r.try_get("applicant_ref")?,
                district: r.try_get("district")?,
                category: r.try_get("category")?,
                registered_at: r.try_get("registered_at")?,
                signature: unpack_signature(&signature),
            });
        }
    }
    Ok(out)
}

/// Near-duplicate links of several appeals, as (appeal, link) pairs.
pub async fn insert_duplicates(
    tx: &mut PgConnection,
    links: &[(Uuid, &Link)],
) -> Result<(), sqlx::Error> {
    let links: Vec<(Uuid, Uuid, &Link)> = links
        .iter()
        .filter_map(|(appeal_id, l)| Some((*appeal_id, Uuid::parse_str(&l.appeal_id).ok()?, *l)))
        .collect();
    if links.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO duplicates (appeal_id, duplicate_of, duplicate_of_registration_number, similarity, basis)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::float8[], $5::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(links.iter().map(|l| l.0).collect::<Vec<_>>())
    .bind(links.iter().map(|l| l.1).collect::<Vec<_>>())
    .bind(links.iter().map(|l| l.2.registration_number.as_str()).collect::<Vec<_>>())
    .bind(links.iter().map(|l| l.2.similarity).collect::<Vec<_>>())
    .bind(links.iter().map(|l| l.2.basis.as_str()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct DuplicateRecord {
    pub appeal_id: Uuid,
    pub registration_number: String,
    pub similarity: f64,
    pub basis: String,
}

pub async fn duplicates_of(
    conn: &mut PgConnection,
    appeal_id: Uuid,
) -> Result<Vec<DuplicateRecord>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT duplicate_of, duplicate_of_registration_number, similarity, basis FROM duplicates
         WHERE appeal_id = $1 ORDER BY similarity DESC, duplicate_of",
    )
    .bind(appeal_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DuplicateRecord {
                appeal_id: r.try_get("duplicate_of")?,
                registration_number: r.try_get("duplicate_of_registration_number")?,
                similarity: r.try_get("similarity")?,
                basis: r.try_get("basis")?,
            })
        })
        .collect()
}

/// One page of the registrar's queue, oldest first, after the cursor.
pub async fn manual_queue(
    conn: &mut PgConnection,
    include_duplicates: bool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<AppealRecord>, sqlx::Error> {
    let (after_at, after_id) = after.unzip();
    let rows = sqlx::query(
        "SELECT appeal_id, registration_number, registered_at, kind, channel, language, applicant_type, applicant_ref, corruption_report, district, locality, external_source, external_id, signature, category, outcome, current_sequence
         FROM appeals a
         WHERE (a.outcome = 'needs_manual_routing'
                OR ($1 AND a.current_sequence = 1 AND EXISTS (SELECT 1 FROM duplicates d WHERE d.appeal_id = a.appeal_id)))
           AND ($2::timestamptz IS NULL OR (a.registered_at, a.appeal_id) > ($2, $3))
         ORDER BY a.registered_at, a.appeal_id LIMIT $4",
    )
    .bind(include_duplicates)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(appeal_from_row).collect()
}

pub async fn manual_queue_size(conn: &mut PgConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM appeals WHERE outcome = 'needs_manual_routing'")
        .fetch_one(&mut *conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_signature_unpacks_to_itself() {
        let signature = vec![0, 1, 256, u32::MAX, 0x0102_0304];
        let packed = pack_signature(&signature);
        assert_eq!(packed.len(), 4 * signature.len());
        assert_eq!(&packed[16..], &[1, 2, 3, 4]);
        assert_eq!(unpack_signature(&packed), signature);
        assert!(unpack_signature(&[]).is_empty());
    }
}
