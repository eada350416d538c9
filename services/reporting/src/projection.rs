//! Projections: apply one fact to the read model and its roll-ups, on the caller's
//! connection (inside the consumer's transaction, or the rebuild's). Deterministic: the
//! result depends only on the facts and their order, never on the clock.

use bakylau_proto::events::v1::Envelope;
use chrono::{DateTime, NaiveDate, Utc};
use prost::Message as _;
use sqlx::{PgConnection, Row};

use crate::domain::event::{
    self, Fact, InstructionMark, Occurred, ReceptionMark, Registered, StatusMark, local_day,
};
use crate::domain::period::month_start;
use crate::domain::rollup::{BODY_COUNTERS, BodyDelta, Counts, Rollups};
use std::collections::HashSet;
use std::sync::LazyLock;

/// An event as the event store keeps it.
pub struct NewEvent<'a> {
    pub message_id: &'a str,
    pub envelope: &'a Envelope,
    pub occurred_at: DateTime<Utc>,
    pub raw: &'a [u8],
}

/// Stores events in the event store, in order, in one statement. Returns the message ids
/// stored now: not those already there, and an id twice in `events` once.
pub async fn store_events(
    conn: &mut PgConnection,
    events: &[NewEvent<'_>],
) -> Result<HashSet<String>, sqlx::Error> {
    fn column<'e>(
        events: &'e [NewEvent<'_>],
        f: impl Fn(&'e NewEvent<'_>) -> &'e str,
    ) -> Vec<&'e str> {
        events.iter().map(f).collect()
    }
    let occurred_at: Vec<DateTime<Utc>> = events.iter().map(|e| e.occurred_at).collect();
    let raw: Vec<&[u8]> = events.iter().map(|e| e.raw).collect();
    let stored = sqlx::query_scalar(
        "INSERT INTO events (message_id, event_type, payload_type, producer, subject, occurred_at, envelope) \
         SELECT e.message_id, e.event_type, e.payload_type, e.producer, e.subject, e.occurred_at, e.envelope \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::bytea[]) \
           WITH ORDINALITY AS e(message_id, event_type, payload_type, producer, subject, occurred_at, envelope, n) \
         ORDER BY e.n \
         ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
    )
    .bind(column(events, |e| e.message_id))
    .bind(column(events, |e| &e.envelope.r#type))
    .bind(column(events, |e| &e.envelope.payload_type))
    .bind(column(events, |e| &e.envelope.producer))
    .bind(column(events, |e| &e.envelope.subject))
    .bind(occurred_at)
    .bind(raw)
    .fetch_all(&mut *conn)
    .await?;
    Ok(stored.into_iter().collect())
}

/// Tables the rebuild empties (not `events`, and not `spikes`: those were published).
pub const PROJECTION_TABLES: &str = "appeals, counts_by_dim, counts_by_district_category, \
     body_activity, reception_activity, instructions, receptions";

/// Empties the projections and replays every stored event in order. Returns how many
/// events were replayed.
pub async fn rebuild(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("TRUNCATE {PROJECTION_TABLES}")))
        .execute(&mut *conn)
        .await?;
    let mut last = 0i64;
    let mut replayed = 0u64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, envelope, occurred_at FROM events WHERE seq > $1 ORDER BY seq LIMIT 2000",
        )
        .bind(last)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            break;
        }
        let mut rollups = Rollups::default();
        for row in rows {
            last = row.get("seq");
            let raw: Vec<u8> = row.get("envelope");
            let occurred_at: DateTime<Utc> = row.get("occurred_at");
            replayed += 1;
            let Ok(envelope) = Envelope::decode(raw.as_slice()) else {
                tracing::warn!(
                    seq = last,
                    "stored event does not decode; skipped in rebuild"
                );
                continue;
            };
            match event::decode(&envelope, occurred_at) {
                Ok(Some(fact)) => apply(conn, &fact, &mut rollups).await?,
                Ok(None) => {}
                Err(e) => tracing::warn!(seq = last, error = %e, "stored event skipped in rebuild"),
            }
        }
        write_rollups(conn, &rollups).await?;
    }
    Ok(replayed)
}

const COUNTS_UPSERT: &str = "appeals = {t}.appeals + EXCLUDED.appeals, \
     repeated = {t}.repeated + EXCLUDED.repeated, collective = {t}.collective + EXCLUDED.collective";

/// The statement that adds pending roll-up changes to the three tables: each table's rows
/// as parallel arrays, all in one round trip.
fn rollups_upsert() -> String {
    let body_columns = BODY_COUNTERS.join(", ");
    let body_arrays: Vec<String> = (0..BODY_COUNTERS.len())
        .map(|i| format!("${}::bigint[]", 18 + i))
        .collect();
    let body_sets: Vec<String> = BODY_COUNTERS
        .iter()
        .map(|c| format!("{c} = body_activity.{c} + EXCLUDED.{c}"))
        .collect();
    format!(
        "WITH by_dim AS ( \
           INSERT INTO counts_by_dim (dim, grain, day, key, appeals, repeated, collective) \
           SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[]) \
           ON CONFLICT (dim, grain, day, key) DO UPDATE SET {by_dim}), \
         by_district_category AS ( \
           INSERT INTO counts_by_district_category (grain, day, district, category, appeals, repeated, collective) \
           SELECT * FROM unnest($8::text[], $9::date[], $10::text[], $11::text[], $12::bigint[], $13::bigint[], $14::bigint[]) \
           ON CONFLICT (grain, day, district, category) DO UPDATE SET {by_district_category}) \
         INSERT INTO body_activity (grain, day, body, {body_columns}) \
         SELECT * FROM unnest($15::text[], $16::date[], $17::text[], {body_arrays}) \
         ON CONFLICT (grain, day, body) DO UPDATE SET {body_sets}",
        by_dim = COUNTS_UPSERT.replace("{t}", "counts_by_dim"),
        by_district_category = COUNTS_UPSERT.replace("{t}", "counts_by_district_category"),
        body_arrays = body_arrays.join(", "),
        body_sets = body_sets.join(", "),
    )
}

static ROLLUPS_UPSERT: LazyLock<String> = LazyLock::new(rollups_upsert);

/// Writes pending roll-up changes, in one statement.
pub async fn write_rollups(conn: &mut PgConnection, r: &Rollups) -> Result<(), sqlx::Error> {
    if r.is_empty() {
        return Ok(());
    }
    let counts = |c: &Counts| (c.appeals, c.repeated, c.collective);
    let (mut dim, mut dim_grain, mut dim_day, mut dim_key) = (vec![], vec![], vec![], vec![]);
    let (mut dim_appeals, mut dim_repeated, mut dim_collective) = (vec![], vec![], vec![]);
    for ((d, g, day, key), c) in &r.by_dim {
        dim.push(d.as_str());
        dim_grain.push(g.to_string());
        dim_day.push(*day);
        dim_key.push(key.as_str());
        let (a, rep, col) = counts(c);
        dim_appeals.push(a);
        dim_repeated.push(rep);
        dim_collective.push(col);
    }
    let (mut dc_grain, mut dc_day, mut dc_district, mut dc_category) =
        (vec![], vec![], vec![], vec![]);
    let (mut dc_appeals, mut dc_repeated, mut dc_collective) = (vec![], vec![], vec![]);
    for ((g, day, district, category), c) in &r.by_district_category {
        dc_grain.push(g.to_string());
        dc_day.push(*day);
        dc_district.push(district.as_str());
        dc_category.push(category.as_str());
        let (a, rep, col) = counts(c);
        dc_appeals.push(a);
        dc_repeated.push(rep);
        dc_collective.push(col);
    }
    let (mut body_grain, mut body_day, mut body) = (vec![], vec![], vec![]);
    let mut body_counters: Vec<Vec<i64>> = vec![Vec::new(); BODY_COUNTERS.len()];
    for ((g, day, b), delta) in &r.by_body {
        body_grain.push(g.to_string());
        body_day.push(*day);
        body.push(b.as_str());
        for (column, value) in body_counters.iter_mut().zip(delta.columns()) {
            column.push(value);
        }
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(ROLLUPS_UPSERT.as_str()))
        .bind(dim)
        .bind(dim_grain)
        .bind(dim_day)
        .bind(dim_key)
        .bind(dim_appeals)
        .bind(dim_repeated)
        .bind(dim_collective)
        .bind(dc_grain)
        .bind(dc_day)
        .bind(dc_district)
        .bind(dc_category)
        .bind(dc_appeals)
        .bind(dc_repeated)
        .bind(dc_collective)
        .bind(body_grain)
        .bind(body_day)
        .bind(body);
    for column in body_counters {
        q = q.bind(column);
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

/// The appeal's row as the projections need it.
struct AppealRow {
    registered: bool,
    reg_day: Option<NaiveDate>,
    district: String,
    category: String,
    body: String,
    repeated: bool,
    collective: bool,
    due_date: Option<NaiveDate>,
    answered: bool,
    overdue: bool,
}

const APPEAL_ROW_COLUMNS: &str = "registered_at IS NOT NULL AS registered, reg_day, district, category, body, \
     repeated, collective, due_date, answered_at IS NOT NULL AS answered, overdue";

fn appeal_row(r: &sqlx::postgres::PgRow) -> AppealRow {
    AppealRow {
        registered: r.get("registered"),
        reg_day: r.get("reg_day"),
        district: r.get("district"),
        category: r.get("category"),
        body: r.get("body"),
        repeated: r.get("repeated"),
        collective: r.get("collective"),
        due_date: r.get("due_date"),
        answered: r.get("answered"),
        overdue: r.get("overdue"),
    }
}

async fn lock_appeal(conn: &mut PgConnection, id: &str) -> Result<Option<AppealRow>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {APPEAL_ROW_COLUMNS} FROM appeals WHERE appeal_id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.as_ref().map(appeal_row))
}

/// Makes sure a row exists for an appeal whose registration has not been seen yet.
async fn ensure_appeal(conn: &mut PgConnection, id: &str) -> Result<AppealRow, sqlx::Error> {
    if let Some(row) = lock_appeal(conn, id).await? {
        return Ok(row);
    }
    sqlx::query("INSERT INTO appeals (appeal_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(lock_appeal(conn, id)
        .await?
        .expect("row inserted in this transaction"))
}

/// `upsert` (an `INSERT INTO appeals … ON CONFLICT (appeal_id) DO UPDATE …` whose first
/// parameter is the appeal id) as a statement that also returns the row as it was before
/// (no row when the appeal had none): one round trip instead of lock, insert and update.
/// Both parts see the statement's snapshot; per-appeal delivery order means no one else
/// writes the row meanwhile.
fn returning_old(upsert: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "WITH old AS (SELECT {APPEAL_ROW_COLUMNS} FROM appeals WHERE appeal_id = $1 FOR UPDATE), \
         changed AS ({upsert}) SELECT * FROM old"
    ))
}

/// Moves a counted appeal from its old category/body to new ones in the roll-ups.
fn move_appeal(rollups: &mut Rollups, row: &AppealRow, category: &str, body: &str) {
    let Some(day) = row.reg_day.filter(|_| row.registered) else {
        return;
    };
    let minus = Counts::of(-1, row.repeated, row.collective);
    let plus = Counts::of(1, row.repeated, row.collective);
    if row.category != category {
        rollups.dim(day, "category", &row.category, minus);
        rollups.dim(day, "category", category, plus);
        rollups.district_category(day, &row.district, &row.category, minus);
        rollups.district_category(day, &row.district, category, plus);
    }
    if row.body != body {
        rollups.dim(day, "body", &row.body, minus);
        rollups.dim(day, "body", body, plus);
    }
}

/// Applies one fact to the read model; its roll-up changes are added to `rollups`, which
/// the caller writes with [`write_rollups`] (once for a whole batch).
pub async fn apply(
    conn: &mut PgConnection,
    o: &Occurred,
    rollups: &mut Rollups,
) -> Result<(), sqlx::Error> {
    let day = local_day(o.at);
    match &o.fact {
        Fact::Registered(r) => registered(conn, r, rollups).await,
        Fact::Declined { appeal_id } => set_status(conn, appeal_id, "declined").await,
        Fact::Routed {
            appeal_id,
            registration_number,
            category,
            subcategory,
            body,
        } => {
            let old = sqlx::query(returning_old(
                "INSERT INTO appeals (appeal_id, category, subcategory, body, status, registration_number) \
                 VALUES ($1, $2, $3, $4, 'routed', $5) \
                 ON CONFLICT (appeal_id) DO UPDATE SET category = EXCLUDED.category, \
                   subcategory = EXCLUDED.subcategory, body = EXCLUDED.body, status = 'routed', \
                   registration_number = CASE WHEN appeals.registration_number = '' \
                     THEN EXCLUDED.registration_number ELSE appeals.registration_number END",
            ))
            .bind(appeal_id)
            .bind(category)
            .bind(subcategory)
            .bind(body)
            .bind(registration_number)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = old.as_ref().map(appeal_row) {
                move_appeal(rollups, &row, category, body);
            }
            Ok(())
        }
        Fact::Redirected { appeal_id, to_body } => {
            let old = sqlx::query(returning_old(
                "INSERT INTO appeals (appeal_id, body, status) VALUES ($1, $2, 'redirected') \
                 ON CONFLICT (appeal_id) DO UPDATE SET body = EXCLUDED.body, status = 'redirected'",
            ))
            .bind(appeal_id)
            .bind(to_body)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = old.as_ref().map(appeal_row) {
                move_appeal(rollups, &row, &row.category, to_body);
            }
            Ok(())
        }
        Fact::NeedsManualRouting { appeal_id } => {
            set_status(conn, appeal_id, "needs_manual_routing").await
        }
        Fact::Assigned {
            appeal_id,
            body,
            due_date,
        } => {
            // An empty body keeps the lead routing named.
            let old = sqlx::query(returning_old(
                "INSERT INTO appeals (appeal_id, body, due_date, status) VALUES ($1, $2, $3, 'assigned') \
                 ON CONFLICT (appeal_id) DO UPDATE SET \
                   body = CASE WHEN EXCLUDED.body = '' THEN appeals.body ELSE EXCLUDED.body END, \
                   due_date = COALESCE(EXCLUDED.due_date, appeals.due_date), status = 'assigned'",
            ))
            .bind(appeal_id)
            .bind(body)
            .bind(due_date)
            .fetch_optional(&mut *conn)
            .await?
            .as_ref()
            .map(appeal_row);
            let lead = match (&old, body.is_empty()) {
                (Some(row), true) => row.body.clone(),
                _ => body.clone(),
            };
            if let Some(row) = &old {
                move_appeal(rollups, row, &row.category, &lead);
            }
            rollups.body(
                day,
                &lead,
                BodyDelta {
                    assigned: 1,
                    ..Default::default()
                },
            );
            Ok(())
        }
        Fact::Status {
            appeal_id,
            mark,
            body,
            due_date,
        } => status(conn, rollups, day, o.at, appeal_id, *mark, body, *due_date).await,
        Fact::Instruction {
            instruction_id,
            number,
            issuer,
            mark,
            executors,
            due_date,
            appeal_ids,
            completed_late,
        } => {
            instruction(
                conn,
                rollups,
                day,
                o.at,
                instruction_id,
                number,
                issuer,
                *mark,
                executors,
                *due_date,
                appeal_ids,
                *completed_late,
            )
            .await
        }
        Fact::Reception {
            key,
            official_id,
            format,
            mark,
            district,
            body,
            starts_at,
        } => {
            let who = Receiving {
                official_id,
                format,
                district,
                body,
                starts_at: *starts_at,
            };
            reception(conn, day, o.at, key, *mark, &who).await
        }
    }
}

/// Sets the status, creating the row of an appeal whose registration has not been seen yet.
async fn set_status(conn: &mut PgConnection, id: &str, status: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO appeals (appeal_id, status) VALUES ($1, $2) \
         ON CONFLICT (appeal_id) DO UPDATE SET status = EXCLUDED.status",
    )
    .bind(id)
    .bind(status)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn registered(
    conn: &mut PgConnection,
    r: &Registered,
    rollups: &mut Rollups,
) -> Result<(), sqlx::Error> {
    let day = local_day(r.registered_at);
    // No row back: the same registration told twice (another message id), counted once.
    // Otherwise the category and body routing may already have set.
    let Some(row) = sqlx::query(
        "INSERT INTO appeals (appeal_id, registration_number, registered_at, reg_day, kind, channel, language, \
           region, district, rural_district, kato, collective, repeated, subject, text, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'registered') \
         ON CONFLICT (appeal_id) DO UPDATE SET registration_number = EXCLUDED.registration_number, \
           registered_at = EXCLUDED.registered_at, reg_day = EXCLUDED.reg_day, kind = EXCLUDED.kind, \
           channel = EXCLUDED.channel, language = EXCLUDED.language, region = EXCLUDED.region, \
           district = EXCLUDED.district, rural_district = EXCLUDED.rural_district, kato = EXCLUDED.kato, \
           collective = EXCLUDED.collective, repeated = EXCLUDED.repeated, subject = EXCLUDED.subject, \
           text = EXCLUDED.text, status = CASE WHEN appeals.status = '' THEN 'registered' ELSE appeals.status END \
         WHERE appeals.registered_at IS NULL \
         RETURNING category, body",
    )
    .bind(&r.appeal_id)
    .bind(&r.registration_number)
    .bind(r.registered_at)
    .bind(day)
    .bind(&r.kind)
    .bind(&r.channel)
    .bind(&r.language)
    .bind(&r.region)
    .bind(&r.district)
    .bind(&r.rural_district)
    .bind(&r.kato)
    .bind(r.collective)
    .bind(r.repeated)
    .bind(&r.subject)
    .bind(&r.text)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(());
    };
    let category: String = row.get("category");
    let body: String = row.get("body");
    let rural = rural_key(&r.district, &r.rural_district);
    let one = Counts::of(1, r.repeated, r.collective);
    for (dim, key) in [
        ("total", ""),
        ("region", r.region.as_str()),
        ("district", r.district.as_str()),
        ("rural_district", rural.as_str()),
        ("kind", r.kind.as_str()),
        ("channel", r.channel.as_str()),
        ("category", category.as_str()),
        ("body", body.as_str()),
    ] {
        rollups.dim(day, dim, key, one);
    }
    rollups.district_category(day, &r.district, &category, one);
    Ok(())
}

/// Key of a rural district in the roll-ups: it is unique only within its district.
pub fn rural_key(district: &str, rural: &str) -> String {
    format!("{district}/{rural}")
}

#[allow(clippy::too_many_arguments)]
async fn status(
    conn: &mut PgConnection,
    rollups: &mut Rollups,
    day: NaiveDate,
    at: DateTime<Utc>,
    appeal_id: &str,
    mark: StatusMark,
    body: &str,
    due_date: Option<NaiveDate>,
) -> Result<(), sqlx::Error> {
    let row = ensure_appeal(conn, appeal_id).await?;
    let body = if body.is_empty() {
        row.body.clone()
    } else {
        body.to_owned()
    };
    let mut delta = BodyDelta::default();
    match mark {
        StatusMark::Extended => {
            sqlx::query(
                "UPDATE appeals SET due_date = COALESCE($2, due_date), extended = extended + 1 WHERE appeal_id = $1",
            )
            .bind(appeal_id)
            .bind(due_date)
            .execute(&mut *conn)
            .await?;
            delta.extended = 1;
        }
        StatusMark::AnswerSubmitted => {
            if !row.answered {
                // The first answer decides punctuality; answers after rework do not.
                let due = due_date.or(row.due_date);
                let on_time = due.is_none_or(|d| day <= d);
                let days = row.reg_day.map_or(0, |r| (day - r).num_days().max(0));
                sqlx::query(
                    "UPDATE appeals SET answered_at = $2, answered_on_time = $3, status = 'answer_submitted' WHERE appeal_id = $1",
                )
                .bind(appeal_id)
                .bind(at)
                .bind(on_time)
                .execute(&mut *conn)
                .await?;
                delta.answered = 1;
                delta.on_time = i64::from(on_time);
                delta.late = i64::from(!on_time);
                delta.answer_days = days;
            } else {
                set_status(conn, appeal_id, "answer_submitted").await?;
            }
        }
        StatusMark::ReturnedForRework => {
            sqlx::query(
                "UPDATE appeals SET returned = returned + 1, status = 'returned_for_rework' WHERE appeal_id = $1",
            )
            .bind(appeal_id)
            .execute(&mut *conn)
            .await?;
            delta.returned = 1;
        }
        StatusMark::Closed => {
            sqlx::query(
                "UPDATE appeals SET closed_at = $2, status = 'closed' WHERE appeal_id = $1",
            )
            .bind(appeal_id)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            delta.closed = 1;
        }
        StatusMark::Overdue => {
            if row.overdue {
                return Ok(());
            }
            sqlx::query("UPDATE appeals SET overdue = true WHERE appeal_id = $1")
                .bind(appeal_id)
                .execute(&mut *conn)
                .await?;
            delta.overdue = 1;
        }
    }
    rollups.body(day, &body, delta);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn instruction(
    conn: &mut PgConnection,
    rollups: &mut Rollups,
    day: NaiveDate,
    at: DateTime<Utc>,
    id: &str,
    number: &str,
    issuer: &str,
    mark: InstructionMark,
    executors: &[String],
    due_date: Option<NaiveDate>,
    appeal_ids: &[String],
    completed_late: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO instructions (instruction_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query(
        "SELECT issued_at IS NOT NULL AS issued, completed_at IS NOT NULL AS completed, overdue, due_date, executors \
         FROM instructions WHERE instruction_id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let (issued, completed, overdue): (bool, bool, bool) =
        (row.get("issued"), row.get("completed"), row.get("overdue"));
    let known_due: Option<NaiveDate> = row.get("due_date");
    let known_executors: Vec<String> = row.get("executors");
    let executors: Vec<String> = if executors.is_empty() {
        known_executors
    } else {
        executors.to_vec()
    };
    sqlx::query(
        "UPDATE instructions SET number = CASE WHEN $2 = '' THEN number ELSE $2 END, \
         issuer = CASE WHEN $3 = '' THEN issuer ELSE $3 END, status = $4, executors = $5, \
         appeal_ids = CASE WHEN cardinality($6::text[]) = 0 THEN appeal_ids ELSE $6 END, \
         due_date = COALESCE($7, due_date) WHERE instruction_id = $1",
    )
    .bind(id)
    .bind(number)
    .bind(issuer)
    .bind(mark.as_str())
    .bind(&executors)
    .bind(appeal_ids)
    .bind(due_date)
    .execute(&mut *conn)
    .await?;
    let mut delta = BodyDelta::default();
    match mark {
        InstructionMark::Issued if !issued => {
            sqlx::query("UPDATE instructions SET issued_at = $2 WHERE instruction_id = $1")
                .bind(id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
            delta.instructions_issued = 1;
        }
        InstructionMark::Completed if !completed => {
            let on_time = !completed_late && due_date.or(known_due).is_none_or(|d| day <= d);
            sqlx::query(
                "UPDATE instructions SET completed_at = $2, completed_on_time = $3 WHERE instruction_id = $1",
            )
            .bind(id)
            .bind(at)
            .bind(on_time)
            .execute(&mut *conn)
            .await?;
            delta.instructions_completed = 1;
            delta.instructions_late = i64::from(!on_time);
        }
        InstructionMark::Overdue if !overdue => {
            sqlx::query("UPDATE instructions SET overdue = true WHERE instruction_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            delta.instructions_overdue = 1;
        }
        _ => return Ok(()),
    }
    for executor in &executors {
        rollups.body(day, executor, delta);
    }
    Ok(())
}

/// Who receives, as a reception event tells it.
struct Receiving<'a> {
    official_id: &'a str,
    format: &'a str,
    district: &'a str,
    body: &'a str,
    starts_at: Option<DateTime<Utc>>,
}

async fn reception(
    conn: &mut PgConnection,
    day: NaiveDate,
    at: DateTime<Utc>,
    key: &str,
    mark: ReceptionMark,
    who: &Receiving<'_>,
) -> Result<(), sqlx::Error> {
    let previous: Option<String> =
        sqlx::query_scalar("SELECT status FROM receptions WHERE key = $1 FOR UPDATE")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
    if previous.as_deref() == Some(mark.as_str()) {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO receptions (key, official_id, format, status, district, starts_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO UPDATE SET \
         body = CASE WHEN EXCLUDED.body = '' THEN receptions.body ELSE EXCLUDED.body END, \
         official_id = CASE WHEN EXCLUDED.official_id = '' THEN receptions.official_id ELSE EXCLUDED.official_id END, \
         format = CASE WHEN EXCLUDED.format = '' THEN receptions.format ELSE EXCLUDED.format END, \
         status = EXCLUDED.status, \
         district = CASE WHEN EXCLUDED.district = '' THEN receptions.district ELSE EXCLUDED.district END, \
         starts_at = COALESCE(EXCLUDED.starts_at, receptions.starts_at), updated_at = EXCLUDED.updated_at",
    )
    .bind(key)
    .bind(who.official_id)
    .bind(who.format)
    .bind(mark.as_str())
    .bind(who.district)
    .bind(who.starts_at)
    .bind(at)
    .bind(who.body)
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query("SELECT district, body FROM receptions WHERE key = $1")
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
    let (district, body): (String, String) = (row.get("district"), row.get("body"));
    let (booked, cancelled, held) = match mark {
        ReceptionMark::Booked => (1i64, 0i64, 0i64),
        ReceptionMark::Cancelled => (0, 1, 0),
        ReceptionMark::Held => (0, 0, 1),
    };
    sqlx::query(
        "INSERT INTO reception_activity (grain, day, district, body, booked, cancelled, held) \
         SELECT g.grain, g.day, $3, $7, $4, $5, $6 FROM (VALUES ('d', $1::date), ('m', $2::date)) AS g(grain, day) \
         ON CONFLICT (grain, day, district, body) DO UPDATE SET booked = reception_activity.booked + EXCLUDED.booked, \
         cancelled = reception_activity.cancelled + EXCLUDED.cancelled, held = reception_activity.held + EXCLUDED.held",
    )
    .bind(day)
    .bind(month_start(day))
    .bind(&district)
    .bind(booked)
    .bind(cancelled)
    .bind(held)
    .bind(&body)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
