//! Postgres adapter: rows and statements. Every write takes the caller's connection, so a
//! state change, its timeline entry and its outbox event commit together.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::policy::Policy;

/// An appeal as control knows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppealRow {
    pub appeal_id: Uuid,
    pub registration_number: String,
    pub kind: String,
    pub language: String,
    pub channel: String,
    pub office: String,
    pub received_at: Option<DateTime<Utc>>,
    pub registered_at: Option<DateTime<Utc>>,
    pub registered_on: Option<NaiveDate>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    pub status: String,
    pub lead_body: Option<String>,
    pub co_bodies: Vec<String>,
    pub category: String,
    pub routed_at: Option<DateTime<Utc>>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub redirected_at: Option<DateTime<Utc>>,
    pub redirected_to: Option<String>,
    pub working_days: Option<i32>,
    pub initial_due_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub extensions: i32,
    pub extended_at: Option<DateTime<Utc>>,
    pub akim_control: bool,
    pub overdue: bool,
    pub rework_count: i32,
    pub first_answered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Sequence of the routing decision applied (0: none or unnumbered).
    pub routing_sequence: i32,
}

const APPEAL_COLUMNS: &str = "appeal_id, registration_number, kind, language, channel, office, \
    received_at, registered_at, registered_on, external_source, external_id, status, lead_body, \
    co_bodies, category, routed_at, assigned_at, redirected_at, redirected_to, working_days, \
    initial_due_date, due_date, extensions, extended_at, akim_control, overdue, rework_count, \
    first_answered_at, closed_at, routing_sequence";

/// Creates the appeal row if absent and locks it for the rest of the transaction.
pub async fn lock_or_create(conn: &mut PgConnection, id: Uuid) -> Result<AppealRow, sqlx::Error> {
    // One round trip: the row this statement inserts (locked as ours), else the existing
    // row locked. A row another transaction inserts meanwhile is not in this statement's
    // snapshot: then the two steps below.
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH ins AS (INSERT INTO appeals (appeal_id) VALUES ($1) ON CONFLICT DO NOTHING \
         RETURNING {APPEAL_COLUMNS}), \
         cur AS (SELECT {APPEAL_COLUMNS} FROM appeals WHERE appeal_id = $1 FOR UPDATE) \
         SELECT * FROM ins UNION ALL SELECT * FROM cur"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = row {
        return Ok(row);
    }
    sqlx::query("INSERT INTO appeals (appeal_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {APPEAL_COLUMNS} FROM appeals WHERE appeal_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_one(&mut *conn)
    .await
}

/// `lock_or_create` for several appeals: one round trip (rows locked in id order) unless
/// another transaction is inserting one of them, which then takes the two steps alone.
pub async fn lock_or_create_all(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, AppealRow>, sqlx::Error> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<AppealRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH ins AS (INSERT INTO appeals (appeal_id) SELECT unnest($1::uuid[]) \
         ON CONFLICT DO NOTHING RETURNING {APPEAL_COLUMNS}), \
         cur AS (SELECT {APPEAL_COLUMNS} FROM appeals WHERE appeal_id = ANY($1) \
         ORDER BY appeal_id FOR UPDATE) \
         SELECT * FROM ins UNION ALL SELECT * FROM cur"
    )))
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut locked: std::collections::HashMap<Uuid, AppealRow> =
        rows.into_iter().map(|r| (r.appeal_id, r)).collect();
    let missing: Vec<Uuid> = ids
        .into_iter()
        .filter(|id| !locked.contains_key(id))
        .collect();
    for id in missing {
        let row = lock_or_create(conn, id).await?;
        locked.insert(id, row);
    }
    Ok(locked)
}

/// Locks an existing appeal.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<AppealRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {APPEAL_COLUMNS} FROM appeals WHERE appeal_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<AppealRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {APPEAL_COLUMNS} FROM appeals WHERE appeal_id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn find_by_number(pool: &PgPool, number: &str) -> Result<Option<AppealRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {APPEAL_COLUMNS} FROM appeals WHERE registration_number = $1 LIMIT 1"
    )))
    .bind(number)
    .fetch_optional(pool)
    .await
}

/// A timeline entry: who did what, in words.
#[derive(Debug, Clone, Copy)]
pub struct Note<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub text: &'a str,
}

/// Writes every mutable column of `a` back.
pub async fn save(conn: &mut PgConnection, a: &AppealRow) -> Result<(), sqlx::Error> {
    save_inner(conn, a, None).await
}

/// Saves the appeal and adds `note` at `at` to its timeline, in one statement.
pub async fn save_noting(
    conn: &mut PgConnection,
    a: &AppealRow,
    at: DateTime<Utc>,
    note: Note<'_>,
) -> Result<(), sqlx::Error> {
    save_inner(conn, a, Some((at, note))).await
}

const SAVE_APPEAL: &str = "UPDATE appeals SET registration_number = $2, kind = $3, language = $4, channel = $5, \
         office = $6, received_at = $7, registered_at = $8, registered_on = $9, \
         external_source = $10, external_id = $11, status = $12, lead_body = $13, co_bodies = $14, \
         category = $15, routed_at = $16, assigned_at = $17, redirected_at = $18, \
         redirected_to = $19, working_days = $20, initial_due_date = $21, due_date = $22, \
         extensions = $23, extended_at = $24, akim_control = $25, overdue = $26, \
         rework_count = $27, first_answered_at = $28, closed_at = $29, routing_sequence = $30, \
         updated_at = now() \
         WHERE appeal_id = $1";

static SAVE_APPEAL_NOTING: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH noted AS (INSERT INTO timeline (appeal_id, at, actor, action, note) \
         VALUES ($1, $31, $32, $33, $34)) {SAVE_APPEAL}"
    )
});

async fn save_inner(
    conn: &mut PgConnection,
    a: &AppealRow,
    note: Option<(DateTime<Utc>, Note<'_>)>,
) -> Result<(), sqlx::Error> {
    let sql = if note.is_some() {
        SAVE_APPEAL_NOTING.as_str()
    } else {
        SAVE_APPEAL
    };
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(a.appeal_id)
        .bind(&a.registration_number)
        .bind(&a.kind)
        .bind(&a.language)
        .bind(&a.channel)
        .bind(&a.office)
        .bind(a.received_at)
        .bind(a.registered_at)
        .bind(a.registered_on)
        .bind(&a.external_source)
        .bind(&a.external_id)
        .bind(&a.status)
        .bind(&a.lead_body)
        .bind(&a.co_bodies)
        .bind(&a.category)
        .bind(a.routed_at)
        .bind(a.assigned_at)
        .bind(a.redirected_at)
        .bind(&a.redirected_to)
        .bind(a.working_days)
        .bind(a.initial_due_date)
        .bind(a.due_date)
        .bind(a.extensions)
        .bind(a.extended_at)
        .bind(a.akim_control)
        .bind(a.overdue)
        .bind(a.rework_count)
        .bind(a.first_answered_at)
        .bind(a.closed_at)
        .bind(a.routing_sequence);
    let q = match note {
        Some((at, n)) => q.bind(at).bind(n.actor).bind(n.action).bind(n.text),
        None => q,
    };
    q.execute(&mut *conn).await?;
    Ok(())
}

/// Filter of `ListDue`.
#[derive(Debug, Clone, Default)]
pub struct DueFilter {
    pub body: Option<String>,
    pub due_before: Option<NaiveDate>,
    pub overdue_only: bool,
    /// Today (Kazakhstan): past-due counts as overdue even before the escalation job ran.
    pub today: NaiveDate,
    /// Keyset: (due date, appeal id) strictly after this.
    pub after: Option<(NaiveDate, Uuid)>,
    pub limit: i64,
}

/// Open assignments by due date; a body matches as lead or co-executor.
pub async fn list_due(pool: &PgPool, f: &DueFilter) -> Result<Vec<AppealRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {APPEAL_COLUMNS} FROM appeals \
         WHERE closed_at IS NULL AND lead_body IS NOT NULL AND due_date IS NOT NULL \
           AND status <> 'redirected' \
           AND ($1::text IS NULL OR lead_body = $1 OR $1 = ANY(co_bodies)) \
           AND ($2::date IS NULL OR due_date <= $2) \
           AND (NOT $3 OR overdue OR due_date < $7) \
           AND ($4::date IS NULL OR (due_date, appeal_id) > ($4, $5)) \
         ORDER BY due_date, appeal_id LIMIT $6"
    )))
    .bind(&f.body)
    .bind(f.due_before)
    .bind(f.overdue_only)
    .bind(f.after.map(|a| a.0))
    .bind(f.after.map(|a| a.1).unwrap_or_default())
    .bind(f.limit)
    .bind(f.today)
    .fetch_all(pool)
    .await
}

/// Appeals registered in `[from, to]` whose lead body (or redirect target) is `body`.
pub async fn for_audit(
    pool: &PgPool,
    body: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<AppealRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {APPEAL_COLUMNS} FROM appeals \
         WHERE registered_on BETWEEN $2 AND $3 \
           AND ($1::text IS NULL OR lead_body = $1 OR redirected_to = $1) \
         ORDER BY registered_on, registration_number"
    )))
    .bind(body)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

// --- assignments ---------------------------------------------------------------------

pub async fn end_assignments(
    conn: &mut PgConnection,
    appeal: Uuid,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE assignments SET ended_at = $2 WHERE appeal_id = $1 AND ended_at IS NULL",
    )
    .bind(appeal)
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Ends the current assignments and assigns `lead` and `co_executors` instead, in one
/// statement (the ended rows are not among the new ones: both parts see one snapshot).
pub async fn reassign(
    conn: &mut PgConnection,
    appeal: Uuid,
    lead: &str,
    co_executors: &[String],
    decided_by: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let bodies: Vec<&str> = std::iter::once(lead)
        .chain(co_executors.iter().map(String::as_str))
        .collect();
    let leads: Vec<bool> = bodies.iter().enumerate().map(|(i, _)| i == 0).collect();
    sqlx::query(
        "WITH ended AS (UPDATE assignments SET ended_at = $2 WHERE appeal_id = $1 AND ended_at IS NULL) \
         INSERT INTO assignments (appeal_id, body, lead, decided_by, assigned_at) \
         SELECT $1, n.body, n.lead, $5, $2 FROM unnest($3::text[], $4::bool[]) WITH ORDINALITY AS n(body, lead, i) \
         ORDER BY n.i",
    )
    .bind(appeal)
    .bind(at)
    .bind(&bodies)
    .bind(&leads)
    .bind(decided_by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// --- timeline ----------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TimelineRow {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub note: String,
}

pub async fn add_timeline(
    conn: &mut PgConnection,
    appeal: Uuid,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO timeline (appeal_id, at, actor, action, note) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(appeal)
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(note)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn timeline(pool: &PgPool, appeal: Uuid) -> Result<Vec<TimelineRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, actor, action, note FROM timeline WHERE appeal_id = $1 ORDER BY at, id",
    )
    .bind(appeal)
    .fetch_all(pool)
    .await
}

// --- answers -----------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AnswerRow {
    pub id: Uuid,
    pub version: i32,
    pub body: String,
    pub author: String,
    pub text: String,
    pub measures_taken: String,
    pub submitted_at: DateTime<Utc>,
    pub review: String,
    pub remarks: String,
    pub reviewed_by: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
}

pub struct NewAttachment {
    pub name: String,
    pub media_type: String,
    pub sha256: String,
    pub content: Vec<u8>,
}

pub async fn latest_answer(
    conn: &mut PgConnection,
    appeal: Uuid,
) -> Result<Option<AnswerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, version, body, author, text, measures_taken, submitted_at, review, remarks, \
         reviewed_by FROM answers WHERE appeal_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(appeal)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn attachments_of(
    pool: &PgPool,
    answer: Uuid,
) -> Result<Vec<AttachmentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, media_type, size_bytes, sha256 FROM answer_attachments \
         WHERE answer_id = $1 ORDER BY position",
    )
    .bind(answer)
    .fetch_all(pool)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_answer(
    conn: &mut PgConnection,
    appeal: Uuid,
    version: i32,
    body: &str,
    author: &str,
    text: &str,
    measures_taken: &str,
    at: DateTime<Utc>,
    attachments: &[NewAttachment],
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO answers (id, appeal_id, version, body, author, text, measures_taken, \
         submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(appeal)
    .bind(version)
    .bind(body)
    .bind(author)
    .bind(text)
    .bind(measures_taken)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    for (i, a) in attachments.iter().enumerate() {
        sqlx::query(
            "INSERT INTO answer_attachments (answer_id, position, name, media_type, size_bytes, \
             sha256, content) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(i as i32)
        .bind(&a.name)
        .bind(&a.media_type)
        .bind(a.content.len() as i64)
        .bind(&a.sha256)
        .bind(&a.content)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

pub async fn set_review(
    conn: &mut PgConnection,
    answer: Uuid,
    review: &str,
    remarks: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE answers SET review = $2, remarks = $3, reviewed_by = $4, reviewed_at = $5 \
         WHERE id = $1",
    )
    .bind(answer)
    .bind(review)
    .bind(remarks)
    .bind(by)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn set_signed_off(
    conn: &mut PgConnection,
    answer: Uuid,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE answers SET review = 'signed_off', signed_off_by = $2, signed_off_at = $3 WHERE id = $1")
        .bind(answer)
        .bind(by)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

// --- letters -----------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LetterRow {
    pub id: Uuid,
    pub appeal_id: Uuid,
    pub registration_number: String,
    pub kind: String,
    pub language: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub due_by: Option<NaiveDate>,
    pub delivery: String,
    pub attempts: i32,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

const LETTER_COLUMNS: &str = "l.id, l.appeal_id, COALESCE(a.registration_number, '') AS registration_number, \
    l.kind, l.language, l.subject, l.body, l.created_at, l.due_by, l.delivery, l.attempts, \
    l.sent_at, l.last_error";

#[allow(clippy::too_many_arguments)]
/// A letter to store, with the timeline note that says it was written.
pub struct NewLetter<'a> {
    pub id: Uuid,
    pub appeal: Uuid,
    pub kind: &'a str,
    pub language: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub at: DateTime<Utc>,
    pub due_by: Option<NaiveDate>,
    /// Stored only when the appeal has no letter of this kind yet.
    pub once: bool,
    pub note: Note<'a>,
}

/// Stores a letter and its timeline note in one statement; false when `once` and the
/// appeal already had a letter of the kind (then nothing is stored).
pub async fn insert_letter(
    conn: &mut PgConnection,
    l: &NewLetter<'_>,
) -> Result<bool, sqlx::Error> {
    let stored: i64 = sqlx::query_scalar(
        "WITH letter AS ( \
           INSERT INTO letters (id, appeal_id, kind, language, subject, body, created_at, due_by, next_try_at) \
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $7 \
           WHERE NOT ($9 AND EXISTS (SELECT 1 FROM letters WHERE appeal_id = $2 AND kind = $3)) \
           RETURNING appeal_id), \
         noted AS ( \
           INSERT INTO timeline (appeal_id, at, actor, action, note) \
           SELECT appeal_id, $7, $10, $11, $12 FROM letter) \
         SELECT count(*) FROM letter",
    )
    .bind(l.id)
    .bind(l.appeal)
    .bind(l.kind)
    .bind(l.language)
    .bind(l.subject)
    .bind(l.body)
    .bind(l.at)
    .bind(l.due_by)
    .bind(l.once)
    .bind(l.note.actor)
    .bind(l.note.action)
    .bind(l.note.text)
    .fetch_one(&mut *conn)
    .await?;
    Ok(stored == 1)
}

#[derive(Debug, Clone, Default)]
pub struct LetterFilter {
    pub appeal: Option<Uuid>,
    pub kind: Option<String>,
    pub delivery: Option<String>,
    /// Keyset: (created_at, id) strictly before this (newest first).
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list_letters(pool: &PgPool, f: &LetterFilter) -> Result<Vec<LetterRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LETTER_COLUMNS} FROM letters l LEFT JOIN appeals a ON a.appeal_id = l.appeal_id \
         WHERE ($1::uuid IS NULL OR l.appeal_id = $1) AND ($2::text IS NULL OR l.kind = $2) \
           AND ($3::text IS NULL OR l.delivery = $3) \
           AND ($4::timestamptz IS NULL OR (l.created_at, l.id) < ($4, $5)) \
         ORDER BY l.created_at DESC, l.id DESC LIMIT $6"
    )))
    .bind(f.appeal)
    .bind(&f.kind)
    .bind(&f.delivery)
    .bind(f.before.map(|b| b.0))
    .bind(f.before.map(|b| b.1).unwrap_or_default())
    .bind(f.limit)
    .fetch_all(pool)
    .await
}

pub async fn get_letter(pool: &PgPool, id: Uuid) -> Result<Option<LetterRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LETTER_COLUMNS} FROM letters l LEFT JOIN appeals a ON a.appeal_id = l.appeal_id \
         WHERE l.id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Letters of the given appeals, for the audit.
pub async fn letters_of(pool: &PgPool, appeals: &[Uuid]) -> Result<Vec<LetterRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {LETTER_COLUMNS} FROM letters l LEFT JOIN appeals a ON a.appeal_id = l.appeal_id \
         WHERE l.appeal_id = ANY($1) ORDER BY l.created_at"
    )))
    .bind(appeals)
    .fetch_all(pool)
    .await
}

// --- jobs --------------------------------------------------------------------------------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub subject: Uuid,
    pub fire_at: DateTime<Utc>,
    pub payload: sqlx::types::Json<serde_json::Value>,
}

/// A job to fire at a time about one subject.
pub struct NewJob {
    pub kind: &'static str,
    pub fire_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// Cancels the subject's pending jobs and schedules `jobs` instead, in one statement (the
/// cancelled rows are not among the new ones: both parts see one snapshot).
pub async fn replace_jobs(
    conn: &mut PgConnection,
    subject: Uuid,
    at: DateTime<Utc>,
    jobs: &[NewJob],
) -> Result<(), sqlx::Error> {
    let kinds: Vec<&str> = jobs.iter().map(|j| j.kind).collect();
    let fire_at: Vec<DateTime<Utc>> = jobs.iter().map(|j| j.fire_at).collect();
    let payloads: Vec<sqlx::types::Json<&serde_json::Value>> =
        jobs.iter().map(|j| sqlx::types::Json(&j.payload)).collect();
    sqlx::query(
        "WITH cancelled AS ( \
           UPDATE jobs SET done_at = $2, outcome = 'cancelled' WHERE subject = $1 AND done_at IS NULL) \
         INSERT INTO jobs (kind, subject, fire_at, payload) \
         SELECT n.kind, $1, n.fire_at, n.payload FROM unnest($3::text[], $4::timestamptz[], $5::jsonb[]) AS n(kind, fire_at, payload)",
    )
    .bind(subject)
    .bind(at)
    .bind(&kinds)
    .bind(&fire_at)
    .bind(&payloads)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn cancel_jobs(
    conn: &mut PgConnection,
    subject: Uuid,
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE jobs SET done_at = $2, outcome = 'cancelled' WHERE subject = $1 AND done_at IS NULL",
    )
    .bind(subject)
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Claims due jobs; other replicas skip the locked rows, so each job is fired once.
pub async fn claim_due_jobs(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<JobRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, subject, fire_at, payload FROM jobs \
         WHERE done_at IS NULL AND fire_at <= $1 ORDER BY fire_at, id LIMIT $2 \
         FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

pub async fn finish_job(
    conn: &mut PgConnection,
    id: i64,
    at: DateTime<Utc>,
    outcome: &str,
    worker: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE jobs SET done_at = $2, outcome = $3, fired_by = $4 WHERE id = $1")
        .bind(id)
        .bind(at)
        .bind(outcome)
        .bind(worker)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

// --- policy ------------------------------------------------------------------------------

pub struct StoredPolicy {
    pub policy: Policy,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// The stored policy; written from `seed` when absent.
pub async fn policy(conn: &mut PgConnection, seed: &Policy) -> Result<StoredPolicy, sqlx::Error> {
    // Read on every routed appeal: one round trip once the row exists.
    let select = "SELECT doc, updated_at, updated_by FROM policy WHERE id = 1";
    type Row = (sqlx::types::Json<Policy>, DateTime<Utc>, String);
    let mut row: Option<Row> = sqlx::query_as(select).fetch_optional(&mut *conn).await?;
    if row.is_none() {
        sqlx::query(
            "INSERT INTO policy (id, doc, updated_at, updated_by) VALUES (1, $1, now(), 'settings') \
             ON CONFLICT DO NOTHING",
        )
        .bind(sqlx::types::Json(seed))
        .execute(&mut *conn)
        .await?;
        row = Some(sqlx::query_as(select).fetch_one(&mut *conn).await?);
    }
    let (doc, updated_at, updated_by) = row.ok_or(sqlx::Error::RowNotFound)?;
    Ok(StoredPolicy {
        policy: doc.0,
        updated_at,
        updated_by,
    })
}

pub async fn save_policy(
    conn: &mut PgConnection,
    p: &Policy,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO policy (id, doc, updated_at, updated_by) VALUES (1, $1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET doc = $1, updated_at = $2, updated_by = $3",
    )
    .bind(sqlx::types::Json(p))
    .bind(at)
    .bind(by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn log_change(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    actor: &str,
    target: &str,
    action: &str,
    detail: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO change_log (at, actor, target, action, detail, reason) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(at)
    .bind(actor)
    .bind(target)
    .bind(action)
    .bind(detail)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangeRow {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub target: String,
    pub action: String,
    pub detail: String,
    pub reason: String,
}

pub async fn changes(pool: &PgPool, limit: i64) -> Result<Vec<ChangeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, actor, target, action, detail, reason FROM change_log \
         ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Open and overdue assignments, for the gauges.
pub async fn open_counts(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE overdue) FROM appeals \
         WHERE closed_at IS NULL AND lead_body IS NOT NULL AND status <> 'redirected'",
    )
    .fetch_one(pool)
    .await
}

/// Oldest due, unfired job: how far the scheduler is behind.
pub async fn oldest_due_job(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT min(fire_at) FROM jobs WHERE done_at IS NULL AND fire_at <= $1")
        .bind(now)
        .fetch_one(pool)
        .await
}
