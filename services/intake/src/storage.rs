//! Postgres adapter of the register. Thin: SQL in, records out.

use bakylau_platform::personal_data::PersonalDataVault;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::{Applicant, FieldIssue, Signatory};

/// A row of the register.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppealRecord {
    pub id: Uuid,
    pub registration_number: String,
    pub office: String,
    pub status: String,
    pub decline_reasons: Json<Vec<FieldIssue>>,
    pub kind: String,
    pub channel: String,
    pub source: Option<String>,
    pub external_id: Option<String>,
    pub language: String,
    pub applicant_type: String,
    pub applicant_ref: Option<String>,
    /// Kept sealed in `personal_data`; opened by the reads below.
    #[sqlx(skip)]
    pub applicant: Option<Applicant>,
    #[sqlx(skip)]
    pub co_signatories: Vec<Signatory>,
    pub anonymous: bool,
    pub corruption_report: bool,
    pub collective: bool,
    pub repeated_of: Option<Uuid>,
    pub repeated_of_number: Option<String>,
    pub addressee: String,
    pub kato: String,
    pub region: String,
    pub district: String,
    pub rural_district: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub subject: String,
    pub text: String,
    pub signature_status: String,
    pub signature_reason: String,
    pub signer_subject: String,
    pub signer_serial: String,
    pub signature_verified_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub registered_at: DateTime<Utc>,
    pub officer_name: String,
    pub officer_position: String,
    pub request_hash: Option<String>,
    pub personal_data_erased_at: Option<DateTime<Utc>>,
    /// The sealed [`SealedParties`] as stored; empty once opened.
    pub(crate) personal_data: Option<Vec<u8>>,
}

/// What an appeal's `personal_data` column holds, sealed under the appeal's id.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SealedParties {
    applicant: Option<Applicant>,
    co_signatories: Vec<Signatory>,
    /// The certificate subject of an electronic signature names the signer (and their IIN).
    signer_subject: String,
}

fn signature_context(appeal_id: Uuid) -> Vec<u8> {
    [b"signature:".as_slice(), appeal_id.as_bytes()].concat()
}

/// A read record with its personal data opened.
fn opened(vault: &PersonalDataVault, mut r: AppealRecord) -> Result<AppealRecord, sqlx::Error> {
    if let Some(sealed) = r.personal_data.take() {
        let parties: SealedParties = vault
            .open_json(&sealed, r.id.as_bytes())
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        r.applicant = parties.applicant;
        r.co_signatories = parties.co_signatories;
        r.signer_subject = parties.signer_subject;
    }
    Ok(r)
}

fn all_opened(
    vault: &PersonalDataVault,
    rows: Vec<AppealRecord>,
) -> Result<Vec<AppealRecord>, sqlx::Error> {
    rows.into_iter().map(|r| opened(vault, r)).collect()
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentMeta {
    pub id: Uuid,
    pub appeal_id: Uuid,
    pub name: String,
    pub media_type: String,
    pub sha256: String,
    pub size_bytes: i64,
}

pub struct NewAttachmentRow<'a> {
    pub name: &'a str,
    pub media_type: &'a str,
    pub sha256: String,
    pub content: &'a [u8],
}

const SELECT_APPEAL: &str = "SELECT a.*, r.registration_number AS repeated_of_number \
     FROM appeals a LEFT JOIN appeals r ON r.id = a.repeated_of";

/// Takes the next number of `office` in `year`. The row lock it holds until commit is what
/// makes numbers gap-free: a transaction that rolls back gives its number back.
/// Takes the office's next `count` registration numbers of `year` (the counter row stays
/// locked until the commit, reg 5.7); returns the last of them.
pub async fn take_sequences(
    conn: &mut PgConnection,
    office: &str,
    year: i32,
    count: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO registration_counters (office, year, last) VALUES ($1, $2, $3) \
         ON CONFLICT (office, year) DO UPDATE SET last = registration_counters.last + $3 \
         RETURNING last",
    )
    .bind(office)
    .bind(year)
    .bind(count)
    .fetch_one(conn)
    .await
}

pub async fn insert_appeal(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    a: &AppealRecord,
    reg_year: i32,
    reg_seq: i64,
    signature: Option<&[u8]>,
    request_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO appeals (id, registration_number, office, reg_year, reg_seq, status, decline_reasons, kind, channel, \
         source, external_id, language, applicant_type, applicant_ref, applicant, co_signatories, anonymous, \
         corruption_report, collective, repeated_of, addressee, kato, region, district, rural_district, lat, lon, \
         subject, text, signature, signature_status, signature_reason, signer_subject, signer_serial, \
         signature_verified_at, received_at, registered_at, officer_name, officer_position, request_id, request_hash, \
         personal_data, sealing_key_id) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,\
         $28,$29,$30,$31,$32,$33,$34,$35,$36,$37,$38,$39,$40,$41,$42,$43)",
    )
    .bind(a.id)
    .bind(&a.registration_number)
    .bind(&a.office)
    .bind(reg_year)
    .bind(reg_seq)
    .bind(&a.status)
    .bind(&a.decline_reasons)
    .bind(&a.kind)
    .bind(&a.channel)
    .bind(&a.source)
    .bind(&a.external_id)
    .bind(&a.language)
    .bind(&a.applicant_type)
    .bind(&a.applicant_ref)
    // The plain columns of rows from before sealing; new rows keep them empty.
    .bind(None::<Json<Applicant>>)
    .bind(None::<Json<Vec<Signatory>>>)
    .bind(a.anonymous)
    .bind(a.corruption_report)
    .bind(a.collective)
    .bind(a.repeated_of)
    .bind(&a.addressee)
    .bind(&a.kato)
    .bind(&a.region)
    .bind(&a.district)
    .bind(&a.rural_district)
    .bind(a.lat)
    .bind(a.lon)
    .bind(&a.subject)
    .bind(&a.text)
    .bind(signature.map(|s| vault.seal(s, &signature_context(a.id))))
    .bind(&a.signature_status)
    .bind(&a.signature_reason)
    .bind("")
    .bind(&a.signer_serial)
    .bind(a.signature_verified_at)
    .bind(a.received_at)
    .bind(a.registered_at)
    .bind(&a.officer_name)
    .bind(&a.officer_position)
    .bind(request_id)
    .bind(&a.request_hash)
    .bind(vault.seal_json(
        &SealedParties {
            applicant: a.applicant.clone(),
            co_signatories: a.co_signatories.clone(),
            signer_subject: a.signer_subject.clone(),
        },
        a.id.as_bytes(),
    ))
    .bind(vault.current_key_id())
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores the attachments in order; returns what was stored, as `attachments_of` reads it.
pub async fn insert_attachments(
    conn: &mut PgConnection,
    appeal_id: Uuid,
    rows: &[NewAttachmentRow<'_>],
) -> Result<Vec<AttachmentMeta>, sqlx::Error> {
    let mut stored = Vec::with_capacity(rows.len());
    for (position, row) in rows.iter().enumerate() {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO attachments (id, appeal_id, position, name, media_type, sha256, size_bytes, content) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(appeal_id)
        .bind(position as i32)
        .bind(row.name)
        .bind(row.media_type)
        .bind(&row.sha256)
        .bind(row.content.len() as i64)
        .bind(row.content)
        .execute(&mut *conn)
        .await?;
        stored.push(AttachmentMeta {
            id,
            appeal_id,
            name: row.name.to_owned(),
            media_type: row.media_type.to_owned(),
            sha256: row.sha256.clone(),
            size_bytes: row.content.len() as i64,
        });
    }
    Ok(stored)
}

pub async fn get_by_id(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    id: Uuid,
) -> Result<Option<AppealRecord>, sqlx::Error> {
    let row: Option<AppealRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_APPEAL} WHERE a.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| opened(vault, r)).transpose()
}

pub async fn get_by_number(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    number: &str,
) -> Result<Option<AppealRecord>, sqlx::Error> {
    let row: Option<AppealRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_APPEAL} WHERE a.registration_number = $1"
    )))
    .bind(number)
    .fetch_optional(conn)
    .await?;
    row.map(|r| opened(vault, r)).transpose()
}

pub async fn get_by_request_id(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    request_id: &str,
) -> Result<Option<AppealRecord>, sqlx::Error> {
    let row: Option<AppealRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_APPEAL} WHERE a.request_id = $1"
    )))
    .bind(request_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| opened(vault, r)).transpose()
}

pub async fn id_by_number(
    conn: &mut PgConnection,
    number: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM appeals WHERE registration_number = $1")
        .bind(number)
        .fetch_optional(conn)
        .await
}

/// Earlier appeals of the same applicant since `since`, newest first, for repeat detection.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EarlierAppeal {
    pub id: Uuid,
    pub registration_number: String,
    pub subject: String,
    pub text: String,
}

/// The registered appeals of each applicant since `since`, latest first (at most 50 each),
/// in the order of `applicant_refs`: one round trip for a batch.
pub async fn earlier_of_applicants(
    conn: &mut PgConnection,
    applicant_refs: &[&str],
    since: DateTime<Utc>,
) -> Result<Vec<Vec<EarlierAppeal>>, sqlx::Error> {
    let rows: Vec<(i64, Uuid, String, String, String)> = sqlx::query_as(
        "SELECT q.n, e.id, e.registration_number, e.subject, e.text \
         FROM unnest($1::text[]) WITH ORDINALITY AS q(applicant_ref, n) \
         CROSS JOIN LATERAL (SELECT id, registration_number, subject, text, registered_at \
             FROM appeals WHERE applicant_ref = q.applicant_ref AND registered_at >= $2 \
             AND status = 'registered' ORDER BY registered_at DESC LIMIT 50) e \
         ORDER BY q.n, e.registered_at DESC",
    )
    .bind(applicant_refs)
    .bind(since)
    .fetch_all(conn)
    .await?;
    let mut out = vec![Vec::new(); applicant_refs.len()];
    for (n, id, registration_number, subject, text) in rows {
        if let Some(list) = usize::try_from(n - 1).ok().and_then(|i| out.get_mut(i)) {
            list.push(EarlierAppeal {
                id,
                registration_number,
                subject,
                text,
            });
        }
    }
    Ok(out)
}

pub async fn attachments_of(
    pool: &PgPool,
    ids: &[Uuid],
) -> Result<Vec<AttachmentMeta>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, appeal_id, name, media_type, sha256, size_bytes FROM attachments \
         WHERE appeal_id = ANY($1) ORDER BY appeal_id, position",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Default, Clone)]
pub struct AppealFilter {
    pub registered_from: Option<DateTime<Utc>>,
    pub registered_to: Option<DateTime<Utc>>,
    pub kind: Option<String>,
    pub channel: Option<String>,
    pub status: Option<String>,
    pub district: Option<String>,
    /// Keyset cursor: the last row of the previous page.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list(
    pool: &PgPool,
    vault: &PersonalDataVault,
    f: &AppealFilter,
) -> Result<Vec<AppealRecord>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(SELECT_APPEAL);
    q.push(" WHERE TRUE");
    if let Some(t) = f.registered_from {
        q.push(" AND a.registered_at >= ").push_bind(t);
    }
    if let Some(t) = f.registered_to {
        q.push(" AND a.registered_at < ").push_bind(t);
    }
    if let Some(k) = &f.kind {
        q.push(" AND a.kind = ").push_bind(k.clone());
    }
    if let Some(c) = &f.channel {
        q.push(" AND a.channel = ").push_bind(c.clone());
    }
    if let Some(s) = &f.status {
        q.push(" AND a.status = ").push_bind(s.clone());
    }
    if let Some(d) = &f.district {
        q.push(" AND a.district = ").push_bind(d.clone());
    }
    if let Some((t, id)) = f.after {
        q.push(" AND (a.registered_at, a.id) > (")
            .push_bind(t)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" ORDER BY a.registered_at, a.id LIMIT ")
        .push_bind(f.limit);
    all_opened(vault, q.build_query_as().fetch_all(pool).await?)
}

/// A row not yet sealed under the current key: written before sealing (plain columns),
/// or sealed under a retired key.
#[derive(sqlx::FromRow)]
struct UnsealedRow {
    id: Uuid,
    sealing_key_id: Option<String>,
    applicant: Option<Json<Applicant>>,
    co_signatories: Option<Json<Vec<Signatory>>>,
    signer_subject: String,
    signature: Option<Vec<u8>>,
    personal_data: Option<Vec<u8>>,
}

/// Seals (or re-seals under the current key) up to `batch` appeals and empties their plain
/// columns; the number done, 0 when none is left. Replicas may run it together.
pub async fn seal_batch(
    pool: &PgPool,
    vault: &PersonalDataVault,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let rows: Vec<UnsealedRow> = sqlx::query_as(
        "SELECT id, sealing_key_id, applicant, co_signatories, signer_subject, signature, personal_data \
         FROM appeals WHERE sealing_key_id IS DISTINCT FROM $1 AND personal_data_erased_at IS NULL \
         ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(vault.current_key_id())
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    let decode = |e| sqlx::Error::Decode(Box::new(e));
    for row in &rows {
        let signature_context = signature_context(row.id);
        let (parties, signature) = match (&row.sealing_key_id, &row.personal_data) {
            (Some(_), Some(sealed)) => (
                vault
                    .open_json::<SealedParties>(sealed, row.id.as_bytes())
                    .map_err(decode)?,
                row.signature
                    .as_deref()
                    .map(|s| vault.open(s, &signature_context))
                    .transpose()
                    .map_err(decode)?,
            ),
            _ => (
                SealedParties {
                    applicant: row.applicant.clone().map(|a| a.0),
                    co_signatories: row.co_signatories.clone().map(|c| c.0).unwrap_or_default(),
                    signer_subject: row.signer_subject.clone(),
                },
                row.signature.clone(),
            ),
        };
        sqlx::query(
            "UPDATE appeals SET personal_data = $2, sealing_key_id = $3, signature = $4, \
             applicant = NULL, co_signatories = NULL, signer_subject = '' WHERE id = $1",
        )
        .bind(row.id)
        .bind(vault.seal_json(&parties, row.id.as_bytes()))
        .bind(vault.current_key_id())
        .bind(signature.map(|s| vault.seal(&s, &signature_context)))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// [`seal_batch`] for consultations: the consulted person's name and phone.
pub async fn seal_consultations_batch(
    pool: &PgPool,
    vault: &PersonalDataVault,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        sealing_key_id: Option<String>,
        person_name: String,
        person_phone: String,
        person_sealed: Option<Vec<u8>>,
    }
    let mut tx = pool.begin().await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, sealing_key_id, person_name, person_phone, person_sealed FROM consultations \
         WHERE sealing_key_id IS DISTINCT FROM $1 AND personal_data_erased_at IS NULL \
         ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(vault.current_key_id())
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    for row in &rows {
        let id = row.id;
        let person = match (&row.sealing_key_id, &row.person_sealed) {
            (Some(_), Some(sealed)) => vault
                .open_json::<ConsultedPerson>(sealed, id.as_bytes())
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            _ => ConsultedPerson {
                name: row.person_name.clone(),
                phone: row.person_phone.clone(),
            },
        };
        sqlx::query(
            "UPDATE consultations SET person_sealed = $2, sealing_key_id = $3, person_name = '', \
             person_phone = '' WHERE id = $1",
        )
        .bind(id)
        .bind(vault.seal_json(&person, id.as_bytes()))
        .bind(vault.current_key_id())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

/// Erases the personal data of up to `batch` appeals registered before `cutoff`: the
/// sealed parties, the pseudonym, the signature and the attachments' contents (their
/// names, types, sizes and hashes stay). The number erased.
pub async fn erase_appeals_before(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "WITH due AS (SELECT id FROM appeals WHERE registered_at < $1 AND personal_data_erased_at IS NULL \
         ORDER BY registered_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         UPDATE appeals a SET personal_data = NULL, sealing_key_id = NULL, signature = NULL, applicant = NULL, \
         co_signatories = NULL, signer_subject = '', applicant_ref = NULL, personal_data_erased_at = now() \
         FROM due WHERE a.id = due.id RETURNING a.id",
    )
    .bind(cutoff)
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query("UPDATE attachments SET content = ''::bytea WHERE appeal_id = ANY($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}

/// Erases the consulted person's name and phone of up to `batch` consultations given
/// before `cutoff`. The number erased.
pub async fn erase_consultations_before(
    pool: &PgPool,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "WITH due AS (SELECT id FROM consultations WHERE given_at < $1 AND personal_data_erased_at IS NULL \
         ORDER BY given_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         UPDATE consultations c SET person_name = '', person_phone = '', person_sealed = NULL, sealing_key_id = NULL, \
         personal_data_erased_at = now() \
         FROM due WHERE c.id = due.id",
    )
    .bind(cutoff)
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The answer a repeated external submission gets again.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExternalOutcome {
    pub appeal_id: Option<Uuid>,
    pub event_id: Uuid,
    pub event_type: String,
    pub event_payload: Vec<u8>,
    pub reply_type: String,
    pub reply_payload: Vec<u8>,
}

pub async fn external_outcome(
    conn: &mut PgConnection,
    source: &str,
    external_id: &str,
) -> Result<Option<ExternalOutcome>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE external_submissions SET deliveries = deliveries + 1 WHERE source = $1 AND external_id = $2 \
         RETURNING appeal_id, event_id, event_type, event_payload, reply_type, reply_payload",
    )
    .bind(source)
    .bind(external_id)
    .fetch_optional(conn)
    .await
}

pub async fn record_external_outcome(
    conn: &mut PgConnection,
    source: &str,
    external_id: &str,
    o: &ExternalOutcome,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO external_submissions (source, external_id, appeal_id, event_id, event_type, event_payload, \
         reply_type, reply_payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(source)
    .bind(external_id)
    .bind(o.appeal_id)
    .bind(o.event_id)
    .bind(&o.event_type)
    .bind(&o.event_payload)
    .bind(&o.reply_type)
    .bind(&o.reply_payload)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsultationRecord {
    pub id: Uuid,
    pub channel: String,
    pub person_name: String,
    pub person_phone: String,
    pub language: String,
    pub topic: String,
    pub question: String,
    pub answer: String,
    pub officer_name: String,
    pub officer_position: String,
    pub given_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub district: String,
    /// The sealed [`ConsultedPerson`] as stored; empty once opened.
    #[sqlx(default)]
    pub(crate) person_sealed: Option<Vec<u8>>,
}

/// What a consultation's `person_sealed` column holds, sealed under the consultation's id.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ConsultedPerson {
    name: String,
    phone: String,
}

fn consultation_opened(
    vault: &PersonalDataVault,
    mut c: ConsultationRecord,
) -> Result<ConsultationRecord, sqlx::Error> {
    if let Some(sealed) = c.person_sealed.take() {
        let person: ConsultedPerson = vault
            .open_json(&sealed, c.id.as_bytes())
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        c.person_name = person.name;
        c.person_phone = person.phone;
    }
    Ok(c)
}

/// Inserts, or returns the consultation already recorded under `request_id`.
pub async fn insert_consultation(
    pool: &PgPool,
    vault: &PersonalDataVault,
    c: &ConsultationRecord,
    request_id: Option<&str>,
) -> Result<ConsultationRecord, sqlx::Error> {
    let inserted: Option<ConsultationRecord> = sqlx::query_as(
        "INSERT INTO consultations (id, request_id, channel, person_name, person_phone, language, topic, question, \
         answer, officer_name, officer_position, given_at, duration_minutes, district, person_sealed, sealing_key_id) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) ON CONFLICT (request_id) DO NOTHING RETURNING *",
    )
    .bind(c.id)
    .bind(request_id)
    .bind(&c.channel)
    .bind("")
    .bind("")
    .bind(&c.language)
    .bind(&c.topic)
    .bind(&c.question)
    .bind(&c.answer)
    .bind(&c.officer_name)
    .bind(&c.officer_position)
    .bind(c.given_at)
    .bind(c.duration_minutes)
    .bind(&c.district)
    .bind(vault.seal_json(
        &ConsultedPerson {
            name: c.person_name.clone(),
            phone: c.person_phone.clone(),
        },
        c.id.as_bytes(),
    ))
    .bind(vault.current_key_id())
    .fetch_optional(pool)
    .await?;
    let stored = match inserted {
        Some(r) => r,
        None => {
            sqlx::query_as("SELECT * FROM consultations WHERE request_id = $1")
                .bind(request_id)
                .fetch_one(pool)
                .await?
        }
    };
    consultation_opened(vault, stored)
}

#[derive(Debug, Default, Clone)]
pub struct ConsultationFilter {
    pub given_from: Option<DateTime<Utc>>,
    pub given_to: Option<DateTime<Utc>>,
    pub topic: Option<String>,
    pub officer_name: Option<String>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list_consultations(
    pool: &PgPool,
    vault: &PersonalDataVault,
    f: &ConsultationFilter,
) -> Result<Vec<ConsultationRecord>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM consultations WHERE TRUE");
    if let Some(t) = f.given_from {
        q.push(" AND given_at >= ").push_bind(t);
    }
    if let Some(t) = f.given_to {
        q.push(" AND given_at < ").push_bind(t);
    }
    if let Some(t) = &f.topic {
        q.push(" AND topic = ").push_bind(t.clone());
    }
    if let Some(o) = &f.officer_name {
        q.push(" AND officer_name = ").push_bind(o.clone());
    }
    if let Some((t, id)) = f.after {
        q.push(" AND (given_at, id) > (")
            .push_bind(t)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" ORDER BY given_at, id LIMIT ").push_bind(f.limit);
    q.build_query_as::<ConsultationRecord>()
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|c| consultation_opened(vault, c))
        .collect()
}
