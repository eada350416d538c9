//! Postgres: a pool bound to the service's own schema, and the embedded migrations (the
//! platform's outbox/inbox tables plus the service's own) run at start.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::DatabaseSettings;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database settings: {0}")]
    Settings(String),
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] MigrateError),
}

static PLATFORM_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Connects with `search_path` set to `schema`, so every unqualified table name (and the
/// migrations table) lives in the service's own schema.
pub async fn connect(settings: &DatabaseSettings, schema: &str) -> Result<PgPool, DbError> {
    let mut options = PgConnectOptions::from_str(&settings.url)?
        .application_name(&format!("bakylau-{schema}"))
        .options([("search_path", schema)]);
    if let Some(password) = settings
        .password()
        .map_err(|e| DbError::Settings(e.to_string()))?
    {
        options = options.password(&password);
    }
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Creates the schema when absent (the local stack and the tests connect as its owner or a
/// superuser; in Kubernetes the operator creates it) and runs all migrations under sqlx's
/// advisory lock, so replicas starting together migrate once.
pub async fn migrate(pool: &PgPool, schema: &str, service: &Migrator) -> Result<(), DbError> {
    ensure_schema(pool, schema).await?;
    let mut migrations: Vec<_> = PLATFORM_MIGRATIONS.iter().cloned().collect();
    migrations.extend(service.iter().cloned());
    migrations.sort_by_key(|m| m.version);
    Migrator::with_migrations(migrations).run(pool).await?;
    Ok(())
}

async fn ensure_schema(pool: &PgPool, schema: &str) -> Result<(), DbError> {
    if !schema
        .chars()
        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
    {
        return Err(DbError::Settings(format!("invalid schema name {schema:?}")));
    }
    if !schema_exists(pool, schema).await? {
        // Two replicas may race here; the loser's error is harmless if the schema exists.
        let ddl = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(pool).await
            && !schema_exists(pool, schema).await?
        {
            return Err(e.into());
        }
    }
    Ok(())
}

async fn schema_exists(pool: &PgPool, schema: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(pool)
        .await
}

/// True when `e` means the database cannot be reached (connection refused or lost, server
/// shutting down, pool exhausted) rather than that the statement itself failed.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// True when the transaction lost a race with a concurrent one and may simply be run again:
/// a serialization failure, a deadlock, or a unique key another transaction committed first
/// (run again, the handler sees that row and takes its "already done" path).
pub fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if matches!(db.code().as_deref(), Some("40001" | "40P01" | "23505")))
}

/// INVALID_ARGUMENT when Postgres refused a value the caller sent (SQLSTATE class 22, data
/// exception: a NUL character in text, a time or number out of range, bad syntax for a
/// type) or it could not be encoded for Postgres at all. Such a request is the caller's
/// fault, not `INTERNAL`; found by the hostile-input suite (issue 9), where e.g. an id
/// with a NUL came back as INTERNAL from four services. The message (not logged) is
/// Postgres's, clipped.
pub fn bad_input(e: &sqlx::Error) -> Option<tonic::Status> {
    let reason = match e {
        sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("22")) => {
            db.message().to_owned()
        }
        sqlx::Error::Encode(e) => e.to_string(),
        _ => return None,
    };
    tracing::info!(code = ?e.as_database_error().and_then(|d| d.code()), "request value refused by the database");
    Some(tonic::Status::invalid_argument(format!(
        "a value in the request cannot be stored or searched for: {}",
        reason.chars().take(200).collect::<String>()
    )))
}

/// True when the database answers.
pub async fn is_healthy(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}
