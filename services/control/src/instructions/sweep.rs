//! The overdue sweep: escalates each instruction whose due date has passed, once per
//! overdue state, with an `instruction.overdue` event (reg 9.1: "timely execution").
//! Replica-safe: rows are claimed with `FOR UPDATE SKIP LOCKED`, and the escalation mark
//! (`escalated_for` = the due date) is written in the same transaction as the outbox row,
//! so two sweeps running at once never escalate the same state twice.

use std::sync::Arc;
use std::time::Duration;

use bakylau_calendar::{Calendar, kz_date};
use bakylau_platform::CancellationToken;
use bakylau_platform::broker::enqueue;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use super::events::{self, Change};
use super::storage;
use super::{CalendarSource, InstructionSettings};
use crate::clock::Clock;

/// Who the history names for escalations.
pub const SWEEP_ACTOR: &str = "system:overdue-sweep";

/// Escalates every instruction overdue on the Kazakhstan date of `now` not yet escalated for its due date, in
/// transactions of at most `batch` instructions. Returns how many it escalated.
pub async fn sweep_once(
    pool: &PgPool,
    calendar: &Calendar,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<usize, sqlx::Error> {
    let batch = batch.max(1);
    let today = kz_date(now);
    let mut escalated = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows = storage::claim_overdue(&mut tx, today, batch).await?;
        for row in &rows {
            storage::mark_escalated(&mut tx, row.id, row.due_date, now).await?;
            let late = calendar.working_days_between(row.due_date, today);
            let note = format!(
                "due {}, overdue by {late} working day(s); lead {}",
                row.due_date, row.lead_executor
            );
            storage::add_history(&mut tx, row.id, now, SWEEP_ACTOR, "overdue", &note).await?;
            let Some(full) = storage::load(&mut tx, row.id).await? else {
                continue;
            };
            let change = Change {
                code: "overdue",
                body: &row.lead_executor,
                actor: SWEEP_ACTOR,
                ..Default::default()
            };
            enqueue(&mut tx, &events::changed(&full, &change, today, now)).await?;
            tracing::info!(
                instruction_id = %row.id,
                number = %row.number,
                due_date = %row.due_date,
                "instruction overdue: escalated"
            );
        }
        tx.commit().await?;
        escalated += rows.len();
        metrics::counter!("bakylau_instructions_escalated_total").increment(rows.len() as u64);
        if (rows.len() as i64) < batch {
            return Ok(escalated);
        }
    }
}

/// Publishes the gauges an operator watches: instructions open and overdue.
pub async fn refresh_gauges(pool: &PgPool, today: NaiveDate) -> Result<(), sqlx::Error> {
    let (open, overdue) = storage::open_and_overdue(pool, today).await?;
    metrics::gauge!("bakylau_instructions_open").set(open as f64);
    metrics::gauge!("bakylau_instructions_overdue").set(overdue as f64);
    Ok(())
}

/// Runs the sweep every `sweep_interval_secs` until `shutdown`. Failures (database down)
/// are logged and retried on the next round; nothing is lost because the mark and the
/// event commit together.
pub async fn run(
    pool: PgPool,
    calendar: CalendarSource,
    clock: Arc<dyn Clock>,
    settings: InstructionSettings,
    shutdown: CancellationToken,
) {
    let interval = Duration::from_secs(settings.sweep_interval_secs.max(1));
    loop {
        let now = clock.now();
        let today = kz_date(now);
        match sweep_once(&pool, &calendar.current(), now, settings.sweep_batch).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(escalated = n, "overdue sweep escalated instructions"),
            Err(e) => tracing::warn!(error = %e, "overdue sweep failed; retrying next round"),
        }
        if let Err(e) = refresh_gauges(&pool, today).await {
            tracing::warn!(error = %e, "counting open instructions failed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
