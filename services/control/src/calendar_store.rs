//! The working-day calendar stored in control's schema: seeded from the shipped data on
//! first start, edited over gRPC (every edit in the change log), held in memory and rebuilt
//! after each edit; replicas notice other replicas' edits by the version counter.

use std::sync::{Arc, RwLock};

use bakylau_calendar::{Calendar, LoadError};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::calendar_data::{self, HolidayRow, TransferRow};

pub struct CalendarStore {
    current: RwLock<(i64, Arc<Calendar>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CalendarStoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("calendar data: {0}")]
    Invalid(#[from] LoadError),
}

impl CalendarStore {
    /// Loads the stored calendar, seeding it from `seed` when the tables are empty.
    pub async fn open(pool: &PgPool, seed: &Calendar) -> Result<Self, CalendarStoreError> {
        let mut tx = pool.begin().await?;
        // One replica seeds; the others wait on the lock and then see the rows.
        sqlx::query("LOCK TABLE calendar_years IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM calendar_years)")
            .fetch_one(&mut *tx)
            .await?;
        if empty {
            let (years, holidays, transfers) = calendar_data::rows_of(seed);
            for y in &years {
                add_year(&mut tx, *y).await?;
            }
            for h in &holidays {
                insert_holiday(&mut tx, h).await?;
            }
            for t in &transfers {
                insert_transfer(&mut tx, t).await?;
            }
            tracing::info!(years = ?years, "seeded the stored working-day calendar");
        }
        tx.commit().await?;
        let (version, cal) = load(pool).await?;
        Ok(Self {
            current: RwLock::new((version, Arc::new(cal))),
        })
    }

    /// The calendar in force.
    pub fn get(&self) -> Arc<Calendar> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .1
            .clone()
    }

    pub fn replace(&self, version: i64, cal: Calendar) {
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        if version >= cur.0 {
            *cur = (version, Arc::new(cal));
        }
    }

    /// Reloads when another replica edited the calendar.
    pub async fn refresh(&self, pool: &PgPool) -> Result<(), CalendarStoreError> {
        let stored: i64 = sqlx::query_scalar("SELECT version FROM calendar_version WHERE id = 1")
            .fetch_one(pool)
            .await?;
        let known = self.current.read().unwrap_or_else(|e| e.into_inner()).0;
        if stored != known {
            let (version, cal) = load(pool).await?;
            self.replace(version, cal);
            tracing::info!(version, "reloaded the working-day calendar");
        }
        Ok(())
    }
}

async fn add_year(conn: &mut PgConnection, year: i32) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO calendar_years (year) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(year)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn insert_holiday(conn: &mut PgConnection, h: &HolidayRow) -> Result<(), sqlx::Error> {
    add_year(conn, chrono::Datelike::year(&h.date)).await?;
    sqlx::query(
        "INSERT INTO calendar_holidays (date, name_kk, name_ru, name_en, religious, provisional, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (date) DO UPDATE SET name_kk = $2, name_ru = $3, name_en = $4, \
         religious = $5, provisional = $6, note = $7",
    )
    .bind(h.date)
    .bind(&h.name_kk)
    .bind(&h.name_ru)
    .bind(&h.name_en)
    .bind(h.religious)
    .bind(h.provisional)
    .bind(&h.note)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn insert_transfer(conn: &mut PgConnection, t: &TransferRow) -> Result<(), sqlx::Error> {
    add_year(conn, chrono::Datelike::year(&t.day_off)).await?;
    sqlx::query(
        "INSERT INTO calendar_transfers (day_off, working_day, decree) VALUES ($1, $2, $3) \
         ON CONFLICT (day_off) DO UPDATE SET working_day = $2, decree = $3",
    )
    .bind(t.day_off)
    .bind(t.working_day)
    .bind(&t.decree)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete_holiday(
    conn: &mut PgConnection,
    date: chrono::NaiveDate,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM calendar_holidays WHERE date = $1")
        .bind(date)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        > 0)
}

pub async fn delete_transfer(
    conn: &mut PgConnection,
    day_off: chrono::NaiveDate,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM calendar_transfers WHERE day_off = $1")
            .bind(day_off)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            > 0,
    )
}

type Rows = (Vec<i32>, Vec<HolidayRow>, Vec<TransferRow>);

async fn rows(conn: &mut PgConnection) -> Result<Rows, sqlx::Error> {
    let years: Vec<i32> = sqlx::query_scalar("SELECT year FROM calendar_years ORDER BY year")
        .fetch_all(&mut *conn)
        .await?;
    let holidays = sqlx::query_as::<
        _,
        (
            chrono::NaiveDate,
            String,
            String,
            String,
            bool,
            bool,
            Option<String>,
        ),
    >(
        "SELECT date, name_kk, name_ru, name_en, religious, provisional, note \
         FROM calendar_holidays ORDER BY date",
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| HolidayRow {
        date: r.0,
        name_kk: r.1,
        name_ru: r.2,
        name_en: r.3,
        religious: r.4,
        provisional: r.5,
        note: r.6,
    })
    .collect();
    let transfers = sqlx::query_as::<_, (chrono::NaiveDate, chrono::NaiveDate, String)>(
        "SELECT day_off, working_day, decree FROM calendar_transfers ORDER BY day_off",
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| TransferRow {
        day_off: r.0,
        working_day: r.1,
        decree: r.2,
    })
    .collect();
    Ok((years, holidays, transfers))
}

async fn load(pool: &PgPool) -> Result<(i64, Calendar), CalendarStoreError> {
    let mut conn = pool.acquire().await?;
    let version: i64 = sqlx::query_scalar("SELECT version FROM calendar_version WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let (years, holidays, transfers) = rows(&mut conn).await?;
    Ok((
        version,
        calendar_data::build(&years, &holidays, &transfers)?,
    ))
}

/// Inside an edit's transaction: builds the calendar from the edited rows (refusing the
/// edit if the result is invalid), bumps the version and records the change.
pub async fn finish_edit(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    detail: &str,
    reason: &str,
) -> Result<(i64, Calendar), CalendarStoreError> {
    let (years, holidays, transfers) = rows(conn).await?;
    let cal = calendar_data::build(&years, &holidays, &transfers)?;
    let version: i64 = sqlx::query_scalar(
        "UPDATE calendar_version SET version = version + 1 WHERE id = 1 RETURNING version",
    )
    .fetch_one(&mut *conn)
    .await?;
    crate::storage::log_change(conn, at, actor, "calendar", action, detail, reason).await?;
    Ok((version, cal))
}
