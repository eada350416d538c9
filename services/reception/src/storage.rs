//! Postgres adapter of the reception. Thin: SQL in, records out. Flows that span several
//! statements (booking, cancelling, holding) live in `service.rs` and pass a transaction in.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::Venue;
use crate::domain::official::{Official, OfficialKind};
use crate::domain::schedule::{Schedule, SlotDef};

/// Where an official's record came from.
pub const SOURCE_SEED: &str = "seed";
pub const SOURCE_API: &str = "api";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfficialRow {
    pub id: String,
    pub full_name: String,
    pub position: String,
    pub kind: String,
    pub body: String,
    pub district: String,
    pub topics: Vec<String>,
    pub supervisor_id: String,
    pub active: bool,
}

impl OfficialRow {
    pub fn to_domain(&self) -> Official {
        Official {
            id: self.id.clone(),
            full_name: self.full_name.clone(),
            position: self.position.clone(),
            // Rows are written only from checked officials; an unknown kind cannot occur,
            // the fallback keeps a hand-edited row readable.
            kind: OfficialKind::parse(&self.kind).unwrap_or(OfficialKind::SubdivisionHead),
            body: self.body.clone(),
            district: self.district.clone(),
            topics: self.topics.clone(),
            supervisor_id: self.supervisor_id.clone(),
            active: self.active,
        }
    }
}

const OFFICIAL_COLUMNS: &str =
    "id, full_name, position, kind, body, district, topics, supervisor_id, active";

pub async fn official(conn: &mut PgConnection, id: &str) -> Result<Option<Official>, sqlx::Error> {
    let row: Option<OfficialRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {OFFICIAL_COLUMNS} FROM officials WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.to_domain()))
}

pub async fn officials(
    pool: &PgPool,
    include_inactive: bool,
) -> Result<Vec<Official>, sqlx::Error> {
    let rows: Vec<OfficialRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {OFFICIAL_COLUMNS} FROM officials WHERE active OR $1 ORDER BY body, id"
    )))
    .bind(include_inactive)
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(OfficialRow::to_domain).collect())
}

/// Inserts or replaces an official; `only_if_absent` leaves an existing row untouched.
/// Returns whether a row was written.
pub async fn save_official(
    conn: &mut PgConnection,
    o: &Official,
    source: &str,
    only_if_absent: bool,
) -> Result<bool, sqlx::Error> {
    let conflict = if only_if_absent {
        "DO NOTHING"
    } else {
        "DO UPDATE SET full_name = EXCLUDED.full_name, position = EXCLUDED.position, \
         kind = EXCLUDED.kind, body = EXCLUDED.body, district = EXCLUDED.district, \
         topics = EXCLUDED.topics, supervisor_id = EXCLUDED.supervisor_id, \
         active = EXCLUDED.active, source = EXCLUDED.source, updated_at = now()"
    };
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO officials ({OFFICIAL_COLUMNS}, source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) {conflict}"
    )))
    .bind(&o.id)
    .bind(o.full_name.trim())
    .bind(o.position.trim())
    .bind(o.kind.as_str())
    .bind(&o.body)
    .bind(&o.district)
    .bind(&o.topics)
    .bind(&o.supervisor_id)
    .bind(o.active)
    .bind(source)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn schedule(conn: &mut PgConnection, official_id: &str) -> Result<Schedule, sqlx::Error> {
    let row: Option<(Json<Schedule>,)> =
        sqlx::query_as("SELECT schedule FROM schedules WHERE official_id = $1")
            .bind(official_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(s,)| s.0).unwrap_or_default())
}

/// The schedule locked for an edit in the caller's transaction (created empty if absent).
pub async fn schedule_for_update(
    conn: &mut PgConnection,
    official_id: &str,
) -> Result<Schedule, sqlx::Error> {
    sqlx::query(
        "INSERT INTO schedules (official_id, schedule) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(official_id)
    .bind(Json(Schedule::default()))
    .execute(&mut *conn)
    .await?;
    let (s,): (Json<Schedule>,) =
        sqlx::query_as("SELECT schedule FROM schedules WHERE official_id = $1 FOR UPDATE")
            .bind(official_id)
            .fetch_one(conn)
            .await?;
    Ok(s.0)
}

pub async fn save_schedule(
    conn: &mut PgConnection,
    official_id: &str,
    s: &Schedule,
    only_if_absent: bool,
) -> Result<(), sqlx::Error> {
    let conflict = if only_if_absent {
        "DO NOTHING"
    } else {
        "DO UPDATE SET schedule = EXCLUDED.schedule, updated_at = now()"
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO schedules (official_id, schedule) VALUES ($1, $2) \
         ON CONFLICT (official_id) {conflict}"
    )))
    .bind(official_id)
    .bind(Json(s))
    .execute(conn)
    .await?;
    Ok(())
}

/// A booking row. Visitor fields are personal data: never log them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BookingRow {
    pub id: Uuid,
    pub request_id: Option<String>,
    pub official_id: String,
    pub body: String,
    pub starts_at: DateTime<Utc>,
    pub minutes: i32,
    pub format: String,
    pub kind: String,
    pub venue: Json<Venue>,
    pub session_id: Option<Uuid>,
    pub status: String,
    pub visitor_name: String,
    pub visitor_iin: String,
    pub visitor_phone: String,
    pub visitor_organisation: String,
    pub issue: String,
    pub category: String,
    pub earlier_appeal: String,
    pub participants: Vec<String>,
    pub language: String,
    pub district: String,
    pub booked_at: DateTime<Utc>,
    pub booked_by: String,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cancel_reason: String,
    pub waiting_list_entry_id: Option<Uuid>,
}

const BOOKING_COLUMNS: &str = "id, request_id, official_id, body, starts_at, minutes, format, \
    kind, venue, session_id, status, visitor_name, visitor_iin, visitor_phone, \
    visitor_organisation, issue, category, earlier_appeal, participants, language, district, \
    booked_at, booked_by, checked_in_at, finished_at, cancel_reason, waiting_list_entry_id";

/// Inserts a booking unless its slot is taken or its request id used: `None` then (the
/// partial unique index `bookings_one_per_slot` decides, so concurrent requests for one
/// slot cannot both succeed).
pub async fn insert_booking(
    conn: &mut PgConnection,
    b: &BookingRow,
) -> Result<Option<BookingRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO bookings ({BOOKING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27) \
         ON CONFLICT DO NOTHING RETURNING {BOOKING_COLUMNS}"
    )))
    .bind(b.id)
    .bind(&b.request_id)
    .bind(&b.official_id)
    .bind(&b.body)
    .bind(b.starts_at)
    .bind(b.minutes)
    .bind(&b.format)
    .bind(&b.kind)
    .bind(&b.venue)
    .bind(b.session_id)
    .bind(&b.status)
    .bind(&b.visitor_name)
    .bind(&b.visitor_iin)
    .bind(&b.visitor_phone)
    .bind(&b.visitor_organisation)
    .bind(&b.issue)
    .bind(&b.category)
    .bind(&b.earlier_appeal)
    .bind(&b.participants)
    .bind(&b.language)
    .bind(&b.district)
    .bind(b.booked_at)
    .bind(&b.booked_by)
    .bind(b.checked_in_at)
    .bind(b.finished_at)
    .bind(&b.cancel_reason)
    .bind(b.waiting_list_entry_id)
    .fetch_optional(conn)
    .await
}

pub async fn booking(conn: &mut PgConnection, id: Uuid) -> Result<Option<BookingRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn booking_for_update(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<BookingRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn booking_by_request(
    conn: &mut PgConnection,
    request_id: &str,
) -> Result<Option<BookingRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE request_id = $1"
    )))
    .bind(request_id)
    .fetch_optional(conn)
    .await
}

pub struct BookingFilter {
    pub official_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub status: Option<String>,
    /// Keyset: bookings after (starts_at, id).
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn bookings(pool: &PgPool, f: &BookingFilter) -> Result<Vec<BookingRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings \
         WHERE ($1::text IS NULL OR official_id = $1) \
           AND ($2::timestamptz IS NULL OR starts_at >= $2) \
           AND ($3::timestamptz IS NULL OR starts_at < $3) \
           AND ($4::text IS NULL OR status = $4) \
           AND ($5::timestamptz IS NULL OR (starts_at, id) > ($5, $6)) \
         ORDER BY starts_at, id LIMIT $7"
    )))
    .bind(&f.official_id)
    .bind(f.from)
    .bind(f.to)
    .bind(&f.status)
    .bind(f.after.map(|a| a.0))
    .bind(f.after.map(|a| a.1))
    .bind(f.limit)
    .fetch_all(pool)
    .await
}

/// Starts of the official's slots that are taken in `[from, to)`.
pub async fn taken_starts(
    conn: &mut PgConnection,
    official_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT starts_at FROM bookings WHERE official_id = $1 AND status <> 'cancelled' \
         AND starts_at >= $2 AND starts_at < $3",
    )
    .bind(official_id)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await
}

/// Sets the status (and the matching timestamp) of a booking.
pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    cancel_reason: Option<&str>,
) -> Result<BookingRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE bookings SET status = $2, updated_at = now(), \
           checked_in_at = CASE WHEN $2 = 'checked_in' THEN now() ELSE checked_in_at END, \
           finished_at = CASE WHEN $2 IN ('held', 'no_show', 'cancelled') \
                         THEN coalesce(finished_at, now()) ELSE finished_at END, \
           cancel_reason = coalesce($3, cancel_reason) \
         WHERE id = $1 RETURNING {BOOKING_COLUMNS}"
    )))
    .bind(id)
    .bind(status)
    .bind(cancel_reason)
    .fetch_one(conn)
    .await
}

/// Moves a booking to another slot. A taken slot fails with a unique violation.
pub async fn move_booking(
    conn: &mut PgConnection,
    id: Uuid,
    slot: &SlotDef,
) -> Result<BookingRow, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE bookings SET starts_at = $2, minutes = $3, format = $4, kind = $5, venue = $6, \
         session_id = $7, updated_at = now() WHERE id = $1 RETURNING {BOOKING_COLUMNS}"
    )))
    .bind(id)
    .bind(crate::time::to_utc(slot.starts_at))
    .bind(slot.minutes as i32)
    .bind(slot.format.as_str())
    .bind(slot.kind.as_str())
    .bind(Json(&slot.venue))
    .bind(slot.session_id)
    .fetch_one(conn)
    .await
}

pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutcomeRow {
    pub booking_id: Uuid,
    pub kind: String,
    pub note: String,
    pub appeal_id: String,
    pub registration_number: String,
    pub instruction_id: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
    pub appeal_closed_at: Option<DateTime<Utc>>,
}

pub async fn outcomes(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<OutcomeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT booking_id, kind, note, appeal_id, registration_number, instruction_id, \
         recorded_at, recorded_by, appeal_closed_at FROM outcomes \
         WHERE booking_id = ANY($1) ORDER BY recorded_at",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}

pub async fn insert_outcome(conn: &mut PgConnection, o: &OutcomeRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO outcomes (booking_id, kind, note, appeal_id, registration_number, \
         instruction_id, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT DO NOTHING",
    )
    .bind(o.booking_id)
    .bind(&o.kind)
    .bind(&o.note)
    .bind(&o.appeal_id)
    .bind(&o.registration_number)
    .bind(&o.instruction_id)
    .bind(o.recorded_at)
    .bind(&o.recorded_by)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaitingRow {
    pub id: Uuid,
    pub request_id: Option<String>,
    pub official_id: String,
    pub from_date: NaiveDate,
    pub to_date: NaiveDate,
    pub visitor_name: String,
    pub visitor_iin: String,
    pub visitor_phone: String,
    pub visitor_organisation: String,
    pub issue: String,
    pub category: String,
    pub language: String,
    pub district: String,
    pub status: String,
    pub booking_id: Option<Uuid>,
    pub joined_at: DateTime<Utc>,
}

const WAITING_COLUMNS: &str = "id, request_id, official_id, from_date, to_date, visitor_name, \
    visitor_iin, visitor_phone, visitor_organisation, issue, category, language, district, \
    status, booking_id, joined_at";

/// Adds an entry; with a used request id returns the existing entry instead.
pub async fn insert_waiting(
    conn: &mut PgConnection,
    w: &WaitingRow,
) -> Result<WaitingRow, sqlx::Error> {
    let inserted: Option<WaitingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO waiting_list (id, request_id, official_id, from_date, to_date, visitor_name, \
         visitor_iin, visitor_phone, visitor_organisation, issue, category, language, district) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (request_id) DO NOTHING RETURNING {WAITING_COLUMNS}"
    )))
    .bind(w.id)
    .bind(&w.request_id)
    .bind(&w.official_id)
    .bind(w.from_date)
    .bind(w.to_date)
    .bind(&w.visitor_name)
    .bind(&w.visitor_iin)
    .bind(&w.visitor_phone)
    .bind(&w.visitor_organisation)
    .bind(&w.issue)
    .bind(&w.category)
    .bind(&w.language)
    .bind(&w.district)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(row) => Ok(row),
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {WAITING_COLUMNS} FROM waiting_list WHERE request_id = $1"
            )))
            .bind(&w.request_id)
            .fetch_one(conn)
            .await
        }
    }
}

/// The first person waiting for the official who can come on `date`, locked; others
/// filling slots at the same moment skip it.
pub async fn first_waiting(
    conn: &mut PgConnection,
    official_id: &str,
    date: NaiveDate,
) -> Result<Option<WaitingRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WAITING_COLUMNS} FROM waiting_list WHERE official_id = $1 AND status = 'waiting' \
         AND from_date <= $2 AND to_date >= $2 ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED"
    )))
    .bind(official_id)
    .bind(date)
    .fetch_optional(conn)
    .await
}

pub async fn mark_waiting_booked(
    conn: &mut PgConnection,
    id: Uuid,
    booking_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE waiting_list SET status = 'booked', booking_id = $2 WHERE id = $1")
        .bind(id)
        .bind(booking_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The official's waiting list in order; entries whose dates have passed are dropped.
pub async fn waiting_list(
    pool: &PgPool,
    official_id: &str,
    today: NaiveDate,
) -> Result<Vec<WaitingRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WAITING_COLUMNS} FROM waiting_list WHERE official_id = $1 \
         AND (status <> 'waiting' OR to_date >= $2) \
         ORDER BY (status = 'waiting') DESC, seq"
    )))
    .bind(official_id)
    .bind(today)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub kind: String,
    pub phone: String,
    pub text: String,
    pub slot_start: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Stores a notification; a second one of the same kind for the same slot is ignored.
pub async fn insert_notification(
    conn: &mut PgConnection,
    n: &NotificationRow,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO notifications (id, booking_id, kind, phone, text, slot_start, due_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(n.id)
    .bind(n.booking_id)
    .bind(&n.kind)
    .bind(&n.phone)
    .bind(&n.text)
    .bind(n.slot_start)
    .bind(n.due_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn notifications(
    pool: &PgPool,
    booking_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, booking_id, kind, phone, text, slot_start, due_at, created_at \
         FROM notifications WHERE ($1::uuid IS NULL OR booking_id = $1) \
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(booking_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Booked visits starting within `(now, until]` that have no reminder for their slot yet,
/// locked so that two replicas do not both remind.
pub async fn due_reminders(
    conn: &mut PgConnection,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<BookingRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings b WHERE status = 'booked' \
         AND starts_at > now() AND starts_at <= $1 \
         AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.booking_id = b.id \
                         AND n.kind = 'reminder' AND n.slot_start = b.starts_at) \
         ORDER BY starts_at LIMIT $2 FOR UPDATE SKIP LOCKED"
    )))
    .bind(until)
    .bind(limit)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MinutesRow {
    pub official_id: String,
    pub reception_date: NaiveDate,
    pub text: String,
    pub attendees: Vec<String>,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

pub async fn save_minutes(
    conn: &mut PgConnection,
    m: &MinutesRow,
) -> Result<MinutesRow, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO minutes (official_id, reception_date, text, attendees, recorded_by, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, now()) \
         ON CONFLICT (official_id, reception_date) DO UPDATE SET text = EXCLUDED.text, \
           attendees = EXCLUDED.attendees, recorded_by = EXCLUDED.recorded_by, recorded_at = now() \
         RETURNING official_id, reception_date, text, attendees, recorded_by, recorded_at",
    )
    .bind(&m.official_id)
    .bind(m.reception_date)
    .bind(&m.text)
    .bind(&m.attendees)
    .bind(&m.recorded_by)
    .fetch_one(conn)
    .await
}

pub async fn minutes(
    conn: &mut PgConnection,
    official_id: &str,
    date: NaiveDate,
) -> Result<Option<MinutesRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT official_id, reception_date, text, attendees, recorded_by, recorded_at \
         FROM minutes WHERE official_id = $1 AND reception_date = $2",
    )
    .bind(official_id)
    .bind(date)
    .fetch_optional(conn)
    .await
}

/// Booking counts by official and status for slots in `[from, to)`.
pub async fn status_counts(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT official_id, status, count(*) FROM bookings \
         WHERE starts_at >= $1 AND starts_at < $2 GROUP BY official_id, status",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// Records an appeal control closed; marks the reception outcomes that raised it.
pub async fn record_closed_appeal(
    conn: &mut PgConnection,
    appeal_id: &str,
    registration_number: &str,
    closed_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO closed_appeals (appeal_id, registration_number, closed_at) \
         VALUES ($1, $2, $3) ON CONFLICT (appeal_id) DO NOTHING",
    )
    .bind(appeal_id)
    .bind(registration_number)
    .bind(closed_at)
    .execute(&mut *conn)
    .await?;
    let marked = sqlx::query(
        "UPDATE outcomes SET appeal_closed_at = $2 WHERE appeal_id = $1 AND appeal_closed_at IS NULL",
    )
    .bind(appeal_id)
    .bind(closed_at)
    .execute(conn)
    .await?;
    Ok(marked.rows_affected())
}

pub async fn appeal_closed_at(
    pool: &PgPool,
    appeal_id: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("SELECT closed_at FROM closed_appeals WHERE appeal_id = $1")
        .bind(appeal_id)
        .fetch_optional(pool)
        .await
}
