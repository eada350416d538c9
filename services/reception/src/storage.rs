//! Postgres adapter of the reception. Thin: SQL in, records out. Flows that span several
//! statements (booking, cancelling, holding) live in `service.rs` and pass a transaction in.

use bakylau_platform::personal_data::PersonalDataVault;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
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

/// A booking as the service sees it, the visitor opened. Visitor fields are personal data:
/// never log them. In the table they are sealed (`visitor_sealed`, see [`StoredVisitor`]).
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
    #[sqlx(skip)]
    pub visitor_name: String,
    #[sqlx(skip)]
    pub visitor_iin: String,
    #[sqlx(skip)]
    pub visitor_phone: String,
    #[sqlx(skip)]
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

/// The columns of a booking that are not personal data.
macro_rules! booking_columns {
    () => {
        "id, request_id, official_id, body, starts_at, minutes, format, kind, venue, \
         session_id, status, issue, category, earlier_appeal, participants, language, district, \
         booked_at, booked_by, checked_in_at, finished_at, cancel_reason, waiting_list_entry_id"
    };
}
/// The visitor's columns as read: sealed, or plain in a row not sealed yet.
macro_rules! visitor_read {
    () => {
        "visitor_sealed, visitor_name, visitor_iin, visitor_phone, visitor_organisation"
    };
}
const BOOKING_COLUMNS: &str = booking_columns!();
/// What a booking is read with: its columns and the visitor's.
const BOOKING_READ: &str = concat!(booking_columns!(), ", ", visitor_read!());

/// The visitor's personal data as sealed into `visitor_sealed` (JSON), bound to the row id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VisitorData {
    pub full_name: String,
    pub iin: String,
    pub phone: String,
    #[serde(default)]
    pub organisation: String,
}

/// The visitor columns as stored: sealed, or (a row from before migration 1002 not yet
/// sealed) in the plain columns.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredVisitor {
    pub visitor_sealed: Option<Vec<u8>>,
    pub visitor_name: Option<String>,
    pub visitor_iin: Option<String>,
    pub visitor_phone: Option<String>,
    pub visitor_organisation: Option<String>,
}

impl StoredVisitor {
    /// The visitor of row `id`: opened, or read from the plain columns of an old row.
    pub fn open(&self, vault: &PersonalDataVault, id: Uuid) -> Result<VisitorData, sqlx::Error> {
        match &self.visitor_sealed {
            Some(sealed) => vault
                .open_json(sealed, id.as_bytes())
                // The error says which key or that the value is altered, never the content.
                .map_err(|e| sqlx::Error::Decode(format!("visitor of row {id}: {e}").into())),
            None => Ok(VisitorData {
                full_name: self.visitor_name.clone().unwrap_or_default(),
                iin: self.visitor_iin.clone().unwrap_or_default(),
                phone: self.visitor_phone.clone().unwrap_or_default(),
                organisation: self.visitor_organisation.clone().unwrap_or_default(),
            }),
        }
    }
}

/// What is written for a visitor: the IIN's pseudonym, the sealed data, the key id.
pub struct SealedVisitor {
    pub visitor_ref: String,
    pub sealed: Vec<u8>,
    pub key_id: String,
}

impl SealedVisitor {
    pub fn new(vault: &PersonalDataVault, id: Uuid, v: &VisitorData) -> Self {
        Self {
            visitor_ref: vault.pseudonym(&v.iin),
            sealed: vault.seal_json(v, id.as_bytes()),
            key_id: vault.current_key_id().to_owned(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct StoredBooking {
    #[sqlx(flatten)]
    row: BookingRow,
    #[sqlx(flatten)]
    visitor: StoredVisitor,
}

impl StoredBooking {
    fn open(self, vault: &PersonalDataVault) -> Result<BookingRow, sqlx::Error> {
        let v = self.visitor.open(vault, self.row.id)?;
        Ok(BookingRow {
            visitor_name: v.full_name,
            visitor_iin: v.iin,
            visitor_phone: v.phone,
            visitor_organisation: v.organisation,
            ..self.row
        })
    }
}

fn open_bookings(
    vault: &PersonalDataVault,
    rows: Vec<StoredBooking>,
) -> Result<Vec<BookingRow>, sqlx::Error> {
    rows.into_iter().map(|r| r.open(vault)).collect()
}

impl BookingRow {
    fn visitor(&self) -> VisitorData {
        VisitorData {
            full_name: self.visitor_name.clone(),
            iin: self.visitor_iin.clone(),
            phone: self.visitor_phone.clone(),
            organisation: self.visitor_organisation.clone(),
        }
    }
}

/// Inserts a booking unless its slot is taken or its request id used: `None` then (the
/// partial unique index `bookings_one_per_slot` decides, so concurrent requests for one
/// slot cannot both succeed).
pub async fn insert_booking(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    b: &BookingRow,
) -> Result<Option<BookingRow>, sqlx::Error> {
    let visitor = SealedVisitor::new(vault, b.id, &b.visitor());
    let stored: Option<StoredBooking> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO bookings ({BOOKING_COLUMNS}, visitor_ref, visitor_sealed, sealing_key_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20, $21, $22, $23, $24, $25, $26) \
         ON CONFLICT DO NOTHING RETURNING {BOOKING_READ}"
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
    .bind(&visitor.visitor_ref)
    .bind(&visitor.sealed)
    .bind(&visitor.key_id)
    .fetch_optional(conn)
    .await?;
    stored.map(|r| r.open(vault)).transpose()
}

pub async fn booking(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    id: Uuid,
) -> Result<Option<BookingRow>, sqlx::Error> {
    let stored: Option<StoredBooking> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BOOKING_READ} FROM bookings WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    stored.map(|r| r.open(vault)).transpose()
}

pub async fn booking_for_update(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    id: Uuid,
) -> Result<Option<BookingRow>, sqlx::Error> {
    let stored: Option<StoredBooking> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BOOKING_READ} FROM bookings WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    stored.map(|r| r.open(vault)).transpose()
}

pub async fn booking_by_request(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    request_id: &str,
) -> Result<Option<BookingRow>, sqlx::Error> {
    let stored: Option<StoredBooking> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BOOKING_READ} FROM bookings WHERE request_id = $1"
    )))
    .bind(request_id)
    .fetch_optional(conn)
    .await?;
    stored.map(|r| r.open(vault)).transpose()
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

pub async fn bookings(
    pool: &PgPool,
    vault: &PersonalDataVault,
    f: &BookingFilter,
) -> Result<Vec<BookingRow>, sqlx::Error> {
    let stored: Vec<StoredBooking> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BOOKING_READ} FROM bookings \
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
    .await?;
    open_bookings(vault, stored)
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
    vault: &PersonalDataVault,
    id: Uuid,
    status: &str,
    cancel_reason: Option<&str>,
) -> Result<BookingRow, sqlx::Error> {
    let stored: StoredBooking = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE bookings SET status = $2, updated_at = now(), \
           checked_in_at = CASE WHEN $2 = 'checked_in' THEN now() ELSE checked_in_at END, \
           finished_at = CASE WHEN $2 IN ('held', 'no_show', 'cancelled') \
                         THEN coalesce(finished_at, now()) ELSE finished_at END, \
           cancel_reason = coalesce($3, cancel_reason) \
         WHERE id = $1 RETURNING {BOOKING_READ}"
    )))
    .bind(id)
    .bind(status)
    .bind(cancel_reason)
    .fetch_one(conn)
    .await?;
    stored.open(vault)
}

/// Moves a booking to another slot. A taken slot fails with a unique violation.
pub async fn move_booking(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    id: Uuid,
    slot: &SlotDef,
) -> Result<BookingRow, sqlx::Error> {
    let stored: StoredBooking = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE bookings SET starts_at = $2, minutes = $3, format = $4, kind = $5, venue = $6, \
         session_id = $7, updated_at = now() WHERE id = $1 RETURNING {BOOKING_READ}"
    )))
    .bind(id)
    .bind(crate::time::to_utc(slot.starts_at))
    .bind(slot.minutes as i32)
    .bind(slot.format.as_str())
    .bind(slot.kind.as_str())
    .bind(Json(&slot.venue))
    .bind(slot.session_id)
    .fetch_one(conn)
    .await?;
    stored.open(vault)
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

/// A waiting-list entry, the visitor opened (sealed in the table, as in bookings).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaitingRow {
    pub id: Uuid,
    pub request_id: Option<String>,
    pub official_id: String,
    pub from_date: NaiveDate,
    pub to_date: NaiveDate,
    #[sqlx(skip)]
    pub visitor_name: String,
    #[sqlx(skip)]
    pub visitor_iin: String,
    #[sqlx(skip)]
    pub visitor_phone: String,
    #[sqlx(skip)]
    pub visitor_organisation: String,
    pub issue: String,
    pub category: String,
    pub language: String,
    pub district: String,
    pub status: String,
    pub booking_id: Option<Uuid>,
    pub joined_at: DateTime<Utc>,
}

const WAITING_READ: &str = concat!(
    "id, request_id, official_id, from_date, to_date, issue, category, language, district, \
     status, booking_id, joined_at, ",
    visitor_read!()
);

#[derive(sqlx::FromRow)]
struct StoredWaiting {
    #[sqlx(flatten)]
    row: WaitingRow,
    #[sqlx(flatten)]
    visitor: StoredVisitor,
}

impl StoredWaiting {
    fn open(self, vault: &PersonalDataVault) -> Result<WaitingRow, sqlx::Error> {
        let v = self.visitor.open(vault, self.row.id)?;
        Ok(WaitingRow {
            visitor_name: v.full_name,
            visitor_iin: v.iin,
            visitor_phone: v.phone,
            visitor_organisation: v.organisation,
            ..self.row
        })
    }
}

/// Adds an entry; with a used request id returns the existing entry instead.
pub async fn insert_waiting(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    w: &WaitingRow,
) -> Result<WaitingRow, sqlx::Error> {
    let visitor = SealedVisitor::new(
        vault,
        w.id,
        &VisitorData {
            full_name: w.visitor_name.clone(),
            iin: w.visitor_iin.clone(),
            phone: w.visitor_phone.clone(),
            organisation: w.visitor_organisation.clone(),
        },
    );
    let inserted: Option<StoredWaiting> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO waiting_list (id, request_id, official_id, from_date, to_date, issue, \
         category, language, district, visitor_ref, visitor_sealed, sealing_key_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (request_id) DO NOTHING RETURNING {WAITING_READ}"
    )))
    .bind(w.id)
    .bind(&w.request_id)
    .bind(&w.official_id)
    .bind(w.from_date)
    .bind(w.to_date)
    .bind(&w.issue)
    .bind(&w.category)
    .bind(&w.language)
    .bind(&w.district)
    .bind(&visitor.visitor_ref)
    .bind(&visitor.sealed)
    .bind(&visitor.key_id)
    .fetch_optional(&mut *conn)
    .await?;
    let stored = match inserted {
        Some(row) => row,
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {WAITING_READ} FROM waiting_list WHERE request_id = $1"
            )))
            .bind(&w.request_id)
            .fetch_one(conn)
            .await?
        }
    };
    stored.open(vault)
}

/// The first person waiting for the official who can come on `date`, locked; others
/// filling slots at the same moment skip it.
pub async fn first_waiting(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    official_id: &str,
    date: NaiveDate,
) -> Result<Option<WaitingRow>, sqlx::Error> {
    let stored: Option<StoredWaiting> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WAITING_READ} FROM waiting_list WHERE official_id = $1 AND status = 'waiting' \
         AND from_date <= $2 AND to_date >= $2 ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED"
    )))
    .bind(official_id)
    .bind(date)
    .fetch_optional(conn)
    .await?;
    stored.map(|r| r.open(vault)).transpose()
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
    vault: &PersonalDataVault,
    official_id: &str,
    today: NaiveDate,
) -> Result<Vec<WaitingRow>, sqlx::Error> {
    let stored: Vec<StoredWaiting> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {WAITING_READ} FROM waiting_list WHERE official_id = $1 \
         AND (status <> 'waiting' OR to_date >= $2) \
         ORDER BY (status = 'waiting') DESC, seq"
    )))
    .bind(official_id)
    .bind(today)
    .fetch_all(pool)
    .await?;
    stored.into_iter().map(|r| r.open(vault)).collect()
}

/// A table whose rows carry a sealed visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitorTable {
    Bookings,
    WaitingList,
}

impl VisitorTable {
    pub const ALL: [VisitorTable; 2] = [VisitorTable::Bookings, VisitorTable::WaitingList];

    pub fn name(self) -> &'static str {
        match self {
            VisitorTable::Bookings => "bookings",
            VisitorTable::WaitingList => "waiting_list",
        }
    }
}

/// A row whose visitor is to be sealed or re-sealed.
#[derive(Debug, sqlx::FromRow)]
pub struct RowToSeal {
    pub id: Uuid,
    #[sqlx(flatten)]
    pub visitor: StoredVisitor,
}

/// Rows of `table` whose visitor is still plain or (with `current_key`) sealed under another
/// key, locked for the caller's transaction; rows locked elsewhere (another replica doing
/// the same) and rows in `skip` are passed over.
pub async fn rows_to_seal(
    conn: &mut PgConnection,
    table: VisitorTable,
    current_key: Option<&str>,
    skip: &[Uuid],
    limit: i64,
) -> Result<Vec<RowToSeal>, sqlx::Error> {
    let which = if current_key.is_some() {
        "sealing_key_id IS DISTINCT FROM $1 AND personal_data_erased_at IS NULL"
    } else {
        "visitor_sealed IS NULL AND personal_data_erased_at IS NULL AND $1::text IS NULL"
    };
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, {} FROM {} WHERE {which} AND NOT (id = ANY($2)) \
         ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
        visitor_read!(),
        table.name()
    )))
    .bind(current_key)
    .bind(skip)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Stores a row's sealed visitor and empties its plain columns.
pub async fn store_sealed_visitor(
    conn: &mut PgConnection,
    table: VisitorTable,
    id: Uuid,
    v: &SealedVisitor,
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {} SET visitor_ref = $2, visitor_sealed = $3, sealing_key_id = $4, \
         visitor_name = NULL, visitor_iin = NULL, visitor_phone = NULL, \
         visitor_organisation = NULL WHERE id = $1",
        table.name()
    )))
    .bind(id)
    .bind(&v.visitor_ref)
    .bind(&v.sealed)
    .bind(&v.key_id)
    .execute(conn)
    .await?;
    Ok(())
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
    // The phone is the booking's visitor's, sealed there; it is not copied here.
    let done = sqlx::query(
        "INSERT INTO notifications (id, booking_id, kind, phone, text, slot_start, due_at) \
         VALUES ($1, $2, $3, '', $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(n.id)
    .bind(n.booking_id)
    .bind(&n.kind)
    .bind(&n.text)
    .bind(n.slot_start)
    .bind(n.due_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Notifications, newest first, each with its booking's visitor's phone opened.
pub async fn notifications(
    pool: &PgPool,
    vault: &PersonalDataVault,
    booking_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<NotificationRow>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Stored {
        #[sqlx(flatten)]
        row: NotificationRow,
        #[sqlx(flatten)]
        visitor: StoredVisitor,
    }
    let stored: Vec<Stored> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT n.id, n.booking_id, n.kind, n.phone, n.text, n.slot_start, n.due_at, n.created_at, \
         {} FROM notifications n JOIN bookings b ON b.id = n.booking_id \
         WHERE ($1::uuid IS NULL OR n.booking_id = $1) \
         ORDER BY n.created_at DESC, n.id DESC LIMIT $2",
        visitor_read!()
    )))
    .bind(booking_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    stored
        .into_iter()
        .map(|s| {
            let phone = s.visitor.open(vault, s.row.booking_id)?.phone;
            Ok(NotificationRow { phone, ..s.row })
        })
        .collect()
}

/// Erases the visitor of up to `limit` rows of `table` dated before `cutoff` (a booking by
/// its reception's start, a waiting-list entry by when it joined); the number erased.
pub async fn erase_visitors_before(
    pool: &PgPool,
    table: VisitorTable,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<u64, sqlx::Error> {
    let dated = match table {
        VisitorTable::Bookings => "starts_at",
        VisitorTable::WaitingList => "joined_at",
    };
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH due AS (SELECT id FROM {t} WHERE {dated} < $1 AND personal_data_erased_at IS NULL \
         ORDER BY {dated} LIMIT $2 FOR UPDATE SKIP LOCKED) \
         UPDATE {t} x SET visitor_sealed = NULL, visitor_ref = NULL, sealing_key_id = NULL, \
         visitor_name = NULL, visitor_iin = NULL, visitor_phone = NULL, visitor_organisation = NULL, \
         personal_data_erased_at = now() FROM due WHERE x.id = due.id",
        t = table.name()
    )))
    .bind(cutoff)
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Booked visits starting within `(now, until]` that have no reminder for their slot yet,
/// locked so that two replicas do not both remind.
pub async fn due_reminders(
    conn: &mut PgConnection,
    vault: &PersonalDataVault,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<BookingRow>, sqlx::Error> {
    let stored: Vec<StoredBooking> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BOOKING_READ} FROM bookings b WHERE status = 'booked' \
         AND starts_at > now() AND starts_at <= $1 \
         AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.booking_id = b.id \
                         AND n.kind = 'reminder' AND n.slot_start = b.starts_at) \
         ORDER BY starts_at LIMIT $2 FOR UPDATE SKIP LOCKED"
    )))
    .bind(until)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    open_bookings(vault, stored)
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
