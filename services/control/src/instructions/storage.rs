//! Postgres adapter of instructions: rows in, rows out. Every change runs inside the
//! caller's transaction, with the instruction row locked, so the change, its history entry
//! and its outbox row commit together.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::domain::{self, CheckStatus, DisciplineStatus, Status};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstructionRow {
    pub id: Uuid,
    pub number: String,
    pub issuer: String,
    pub issuer_official: String,
    pub issuer_reference: String,
    pub title: String,
    pub text: String,
    pub lead_executor: String,
    pub co_executors: Vec<String>,
    pub appeal_ids: Vec<Uuid>,
    pub status: String,
    pub issued_at: DateTime<Utc>,
    pub issued_on: NaiveDate,
    pub due_date: NaiveDate,
    pub working_days: Option<i32>,
    pub completed_at: Option<DateTime<Utc>>,
    pub completed_on: Option<NaiveDate>,
    pub completion_note: String,
    pub source: String,
    pub created_by: String,
    pub request_hash: Option<String>,
    pub escalated_for: Option<NaiveDate>,
    pub updated_at: DateTime<Utc>,
    pub extensions: i32,
}

impl InstructionRow {
    pub fn status(&self) -> Status {
        // The CHECK constraint admits only known codes.
        Status::parse(&self.status).unwrap_or(Status::Issued)
    }

    /// Lead first, then the co-executors.
    pub fn executors(&self) -> Vec<String> {
        std::iter::once(self.lead_executor.clone())
            .chain(self.co_executors.iter().cloned())
            .collect()
    }

    pub fn is_executor(&self, body: &str) -> bool {
        self.lead_executor == body || self.co_executors.iter().any(|c| c == body)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProgressRow {
    pub id: Uuid,
    pub body: String,
    pub text: String,
    pub reported_by: String,
    pub reported_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckRow {
    pub id: Uuid,
    pub status: String,
    pub planned_on: NaiveDate,
    pub place: String,
    pub purpose: String,
    pub planned_by: String,
    pub done_on: Option<NaiveDate>,
    pub findings: String,
    pub recorded_by: String,
}

impl CheckRow {
    pub fn status(&self) -> CheckStatus {
        CheckStatus::parse(&self.status).unwrap_or(CheckStatus::Planned)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConclusionRow {
    pub id: Uuid,
    pub outcome: String,
    pub text: String,
    pub author: String,
    pub concluded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DisciplineRow {
    pub id: Uuid,
    pub body: String,
    pub official_position: String,
    pub official_name: String,
    pub grounds: String,
    pub proposed_measure: String,
    pub proposed_on: NaiveDate,
    pub proposed_by: String,
    pub status: String,
    pub decided_on: Option<NaiveDate>,
    pub decision_note: String,
    pub decided_by: String,
    pub applied_measure: String,
    pub applied_on: Option<NaiveDate>,
    pub order_reference: String,
}

impl DisciplineRow {
    pub fn status(&self) -> DisciplineStatus {
        DisciplineStatus::parse(&self.status).unwrap_or(DisciplineStatus::Proposed)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub note: String,
}

/// An instruction with everything recorded on it.
#[derive(Debug, Clone)]
pub struct FullInstruction {
    pub row: InstructionRow,
    pub reports: Vec<ProgressRow>,
    pub checks: Vec<CheckRow>,
    pub conclusions: Vec<ConclusionRow>,
    pub discipline: Vec<DisciplineRow>,
    pub history: Vec<HistoryRow>,
}

impl FullInstruction {
    pub fn planned_checks(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status() == CheckStatus::Planned)
            .count()
    }
}

const COLUMNS: &str = "id, number, issuer, issuer_official, issuer_reference, title, text, \
    lead_executor, co_executors, appeal_ids, status, issued_at, issued_on, due_date, \
    working_days, completed_at, completed_on, completion_note, source, created_by, \
    request_hash, escalated_for, updated_at, extensions";

/// The next number of `year`, taken in the caller's transaction (a rollback gives it back,
/// so numbers stay gap-free).
pub async fn next_sequence(conn: &mut PgConnection, year: i32) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO instruction_counters (year, last) VALUES ($1, 1) \
         ON CONFLICT (year) DO UPDATE SET last = instruction_counters.last + 1 RETURNING last",
    )
    .bind(year)
    .fetch_one(conn)
    .await
}

/// A new instruction row; `request_hash` is computed by Postgres from the request bytes.
pub struct NewRow<'a> {
    pub id: Uuid,
    pub year: i32,
    pub sequence: i64,
    pub new: &'a domain::NewInstruction,
    pub issued_at: DateTime<Utc>,
    pub issued_on: NaiveDate,
    pub created_by: &'a str,
    pub request_id: Option<&'a str>,
    pub request_bytes: &'a [u8],
}

pub async fn insert_instruction(
    conn: &mut PgConnection,
    r: &NewRow<'_>,
) -> Result<(), sqlx::Error> {
    let n = r.new;
    sqlx::query(
        "INSERT INTO instructions (id, number, year, sequence, issuer, issuer_official, \
         issuer_reference, title, text, lead_executor, co_executors, appeal_ids, status, \
         issued_at, issued_on, due_date, working_days, source, created_by, request_id, \
         request_hash, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         'issued', $13, $14, $15, $16, $17, $18, $19, encode(sha256($20), 'hex'), $13)",
    )
    .bind(r.id)
    .bind(domain::format_number(r.year, r.sequence))
    .bind(r.year)
    .bind(r.sequence)
    .bind(n.issuer.as_str())
    .bind(&n.issuer_official)
    .bind(&n.issuer_reference)
    .bind(&n.title)
    .bind(&n.text)
    .bind(&n.lead_executor)
    .bind(&n.co_executors)
    .bind(&n.appeal_ids)
    .bind(r.issued_at)
    .bind(r.issued_on)
    .bind(n.due_date)
    .bind(n.working_days.map(|d| d as i32))
    .bind(&n.source)
    .bind(r.created_by)
    .bind(r.request_id)
    .bind(r.request_bytes)
    .execute(conn)
    .await?;
    Ok(())
}

/// The instruction a `request_id` created, and whether `request_bytes` is the same request.
pub async fn by_request_id(
    conn: &mut PgConnection,
    request_id: &str,
    request_bytes: &[u8],
) -> Result<Option<(Uuid, bool)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, request_hash IS NOT DISTINCT FROM encode(sha256($2), 'hex') \
         FROM instructions WHERE request_id = $1",
    )
    .bind(request_id)
    .bind(request_bytes)
    .fetch_optional(conn)
    .await
}

/// The id of an instruction named by its id or its number.
pub async fn resolve(conn: &mut PgConnection, key: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let key = key.trim();
    if let Ok(id) = Uuid::parse_str(key) {
        return sqlx::query_scalar("SELECT id FROM instructions WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await;
    }
    sqlx::query_scalar("SELECT id FROM instructions WHERE number = $1")
        .bind(key)
        .fetch_optional(conn)
        .await
}

/// The instruction row, locked until the transaction ends.
pub async fn lock(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<InstructionRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM instructions WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn load(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<FullInstruction>, sqlx::Error> {
    let Some(row) = sqlx::query_as::<_, InstructionRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM instructions WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let reports = sqlx::query_as(
        "SELECT id, body, text, reported_by, reported_at FROM instruction_progress_reports \
         WHERE instruction_id = $1 ORDER BY reported_at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let checks = sqlx::query_as(
        "SELECT id, status, planned_on, place, purpose, planned_by, done_on, findings, \
         recorded_by FROM instruction_checks WHERE instruction_id = $1 ORDER BY planned_at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let conclusions = sqlx::query_as(
        "SELECT id, outcome, text, author, concluded_at FROM instruction_conclusions \
         WHERE instruction_id = $1 ORDER BY concluded_at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let discipline = sqlx::query_as(
        "SELECT id, body, official_position, official_name, grounds, proposed_measure, \
         proposed_on, proposed_by, status, decided_on, decision_note, decided_by, \
         applied_measure, applied_on, order_reference FROM instruction_discipline \
         WHERE instruction_id = $1 ORDER BY proposed_at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let history = sqlx::query_as(
        "SELECT at, actor, action, note FROM instruction_history WHERE instruction_id = $1 \
         ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(FullInstruction {
        row,
        reports,
        checks,
        conclusions,
        discipline,
        history,
    }))
}

pub async fn add_history(
    conn: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO instruction_history (instruction_id, at, actor, action, note) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(note)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: Status,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE instructions SET status = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status.as_str())
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn complete(
    conn: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    on: NaiveDate,
    note: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE instructions SET status = 'completed', completed_at = $2, completed_on = $3, \
         completion_note = $4, updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(at)
    .bind(on)
    .bind(note)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_report(
    conn: &mut PgConnection,
    instruction_id: Uuid,
    r: &ProgressRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO instruction_progress_reports (id, instruction_id, body, text, reported_by, \
         reported_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(r.id)
    .bind(instruction_id)
    .bind(&r.body)
    .bind(&r.text)
    .bind(&r.reported_by)
    .bind(r.reported_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_check(
    conn: &mut PgConnection,
    instruction_id: Uuid,
    c: &CheckRow,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO instruction_checks (id, instruction_id, status, planned_on, place, purpose, \
         planned_by, planned_at) VALUES ($1, $2, 'planned', $3, $4, $5, $6, $7)",
    )
    .bind(c.id)
    .bind(instruction_id)
    .bind(c.planned_on)
    .bind(&c.place)
    .bind(&c.purpose)
    .bind(&c.planned_by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The check of this instruction, locked.
pub async fn lock_check(
    conn: &mut PgConnection,
    instruction_id: Uuid,
    check_id: Uuid,
) -> Result<Option<CheckRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, status, planned_on, place, purpose, planned_by, done_on, findings, \
         recorded_by FROM instruction_checks WHERE id = $1 AND instruction_id = $2 FOR UPDATE",
    )
    .bind(check_id)
    .bind(instruction_id)
    .fetch_optional(conn)
    .await
}

pub async fn record_check(
    conn: &mut PgConnection,
    check_id: Uuid,
    status: CheckStatus,
    done_on: NaiveDate,
    findings: &str,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE instruction_checks SET status = $2, done_on = $3, findings = $4, \
         recorded_by = $5, recorded_at = $6 WHERE id = $1",
    )
    .bind(check_id)
    .bind(status.as_str())
    .bind(done_on)
    .bind(findings)
    .bind(by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_conclusion(
    conn: &mut PgConnection,
    instruction_id: Uuid,
    c: &ConclusionRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO instruction_conclusions (id, instruction_id, outcome, text, author, \
         concluded_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(c.id)
    .bind(instruction_id)
    .bind(&c.outcome)
    .bind(&c.text)
    .bind(&c.author)
    .bind(c.concluded_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_discipline(
    conn: &mut PgConnection,
    instruction_id: Uuid,
    d: &DisciplineRow,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO instruction_discipline (id, instruction_id, body, official_position, \
         official_name, grounds, proposed_measure, proposed_on, proposed_by, proposed_at, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'proposed')",
    )
    .bind(d.id)
    .bind(instruction_id)
    .bind(&d.body)
    .bind(&d.official_position)
    .bind(&d.official_name)
    .bind(&d.grounds)
    .bind(&d.proposed_measure)
    .bind(d.proposed_on)
    .bind(&d.proposed_by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn lock_discipline(
    conn: &mut PgConnection,
    instruction_id: Uuid,
    proposal_id: Uuid,
) -> Result<Option<DisciplineRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, body, official_position, official_name, grounds, proposed_measure, \
         proposed_on, proposed_by, status, decided_on, decision_note, decided_by, \
         applied_measure, applied_on, order_reference FROM instruction_discipline \
         WHERE id = $1 AND instruction_id = $2 FOR UPDATE",
    )
    .bind(proposal_id)
    .bind(instruction_id)
    .fetch_optional(conn)
    .await
}

/// Writes a decision (`accepted`/`rejected`: decided_on, note) or the application of the
/// measure (`applied`: applied_on, measure, order).
pub async fn update_discipline(
    conn: &mut PgConnection,
    d: &DisciplineRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE instruction_discipline SET status = $2, decided_on = $3, decision_note = $4, \
         decided_by = $5, applied_measure = $6, applied_on = $7, order_reference = $8 \
         WHERE id = $1",
    )
    .bind(d.id)
    .bind(&d.status)
    .bind(d.decided_on)
    .bind(&d.decision_note)
    .bind(&d.decided_by)
    .bind(&d.applied_measure)
    .bind(d.applied_on)
    .bind(&d.order_reference)
    .execute(conn)
    .await?;
    Ok(())
}

/// A new due date (and period in working days, if given so); one more extension.
pub async fn extend(
    conn: &mut PgConnection,
    id: Uuid,
    due: NaiveDate,
    working_days: Option<u32>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE instructions SET due_date = $2, working_days = $3, \
         extensions = extensions + 1, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(due)
    .bind(working_days.map(|d| d as i32))
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn touch(
    conn: &mut PgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE instructions SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// What a listing asks for.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub issuer: Option<String>,
    /// A status code, or `None` for all; `open_only` for everything not completed.
    pub status: Option<String>,
    pub open_only: bool,
    pub executor: Option<String>,
    pub overdue_on: Option<NaiveDate>,
    pub appeal_id: Option<Uuid>,
    /// Keyset: rows strictly before this `(issued_at, id)`, newest first.
    pub before: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list(pool: &PgPool, f: &ListFilter) -> Result<Vec<InstructionRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM instructions WHERE \
         ($1::text IS NULL OR issuer = $1) \
         AND ($2::text IS NULL OR status = $2) \
         AND (NOT $3 OR status <> 'completed') \
         AND ($4::text IS NULL OR lead_executor = $4 OR co_executors @> ARRAY[$4]) \
         AND ($5::date IS NULL OR (status <> 'completed' AND due_date < $5)) \
         AND ($6::uuid IS NULL OR appeal_ids @> ARRAY[$6]) \
         AND ($7::timestamptz IS NULL OR (issued_at, id) < ($7, $8)) \
         ORDER BY issued_at DESC, id DESC LIMIT $9"
    )))
    .bind(&f.issuer)
    .bind(&f.status)
    .bind(f.open_only)
    .bind(&f.executor)
    .bind(f.overdue_on)
    .bind(f.appeal_id)
    .bind(f.before.map(|b| b.0))
    .bind(f.before.map(|b| b.1))
    .bind(f.limit)
    .fetch_all(pool)
    .await
}

/// Claims up to `limit` instructions overdue on `today` and not yet escalated for their
/// due date. Rows another sweep holds are skipped, and a row another sweep escalated
/// meanwhile no longer matches, so two replicas never escalate the same state twice.
pub async fn claim_overdue(
    conn: &mut PgConnection,
    today: NaiveDate,
    limit: i64,
) -> Result<Vec<InstructionRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM instructions WHERE status <> 'completed' AND due_date < $1 \
         AND escalated_for IS DISTINCT FROM due_date ORDER BY due_date, id LIMIT $2 \
         FOR UPDATE SKIP LOCKED"
    )))
    .bind(today)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn mark_escalated(
    conn: &mut PgConnection,
    id: Uuid,
    due: NaiveDate,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE instructions SET escalated_for = $2, escalated_at = $3, updated_at = $3 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(due)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Instructions not completed, and of those the overdue ones, on `today`.
pub async fn open_and_overdue(pool: &PgPool, today: NaiveDate) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE due_date < $1) FROM instructions \
         WHERE status <> 'completed'",
    )
    .bind(today)
    .fetch_one(pool)
    .await
}
