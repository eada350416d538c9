//! The durable scheduler: reminder and escalation jobs are rows in Postgres. Each worker
//! claims due rows with `FOR UPDATE SKIP LOCKED` and, in that same transaction, applies
//! the effect (timeline, flags, outbox event) and marks the row done. A crash rolls the
//! whole step back, so a job fires once after a restart; two replicas never fire the same
//! row because the second skips the locked one and later sees it done.

use std::sync::Arc;
use std::time::Duration;

use bakylau_platform::CancellationToken;
use bakylau_platform::db::is_unavailable;

use crate::storage;
use crate::workflow::Control;

pub struct Scheduler {
    pub control: Arc<Control>,
    pub poll: Duration,
    pub batch: i64,
    pub refresh: Duration,
    pub worker: String,
}

impl Scheduler {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut last_refresh: Option<tokio::time::Instant> = None;
        loop {
            if last_refresh.is_none_or(|t| t.elapsed() >= self.refresh) {
                self.refresh_gauges().await;
                last_refresh = Some(tokio::time::Instant::now());
            }
            let fired = match self.tick().await {
                Ok(n) => n,
                Err(e) => {
                    if is_unavailable(&e) {
                        tracing::warn!(error = %e, "scheduler: database unavailable");
                    } else {
                        tracing::error!(error = %e, "scheduler step failed");
                    }
                    0
                }
            };
            // A full batch means more may be due: go again at once.
            if fired as i64 >= self.batch {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Claims and fires one batch of due jobs in one transaction.
    pub async fn tick(&self) -> Result<usize, sqlx::Error> {
        let now = self.control.now();
        let mut tx = self.control.pool.begin().await?;
        let jobs = storage::claim_due_jobs(&mut tx, now, self.batch).await?;
        if jobs.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let mut fired = 0;
        for job in &jobs {
            // A savepoint per job, so one bad job does not block the others.
            let mut sp = sqlx::Connection::begin(&mut *tx).await?;
            let outcome = match self.control.fire_job(&mut sp, job, now).await {
                Ok(outcome) => {
                    sp.commit().await?;
                    outcome
                }
                Err(crate::workflow::ControlError::Db(e)) if is_unavailable(&e) => return Err(e),
                Err(e) => {
                    sp.rollback().await?;
                    tracing::error!(job = job.id, kind = %job.kind, appeal_id = %job.subject, error = %e, "job failed; marked so it does not repeat");
                    "failed"
                }
            };
            storage::finish_job(&mut tx, job.id, now, outcome, &self.worker).await?;
            let lag = (now - job.fire_at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!("control_scheduler_lag_seconds", "kind" => job.kind.clone())
                .record(lag);
            metrics::counter!("control_jobs_total", "kind" => job.kind.clone(), "outcome" => outcome)
                .increment(1);
            if outcome == "fired" {
                fired += 1;
                tracing::info!(job = job.id, kind = %job.kind, appeal_id = %job.subject, "job fired");
            }
        }
        tx.commit().await?;
        let _ = fired;
        Ok(jobs.len())
    }

    async fn refresh_gauges(&self) {
        let pool = &self.control.pool;
        if let Err(e) = self.control.calendar.refresh(pool).await {
            tracing::warn!(error = %e, "could not reload the calendar");
        }
        match storage::open_counts(pool).await {
            Ok((open, overdue)) => {
                metrics::gauge!("control_assignments_open").set(open as f64);
                metrics::gauge!("control_assignments_overdue").set(overdue as f64);
            }
            Err(e) => tracing::debug!(error = %e, "gauges not refreshed"),
        }
        if let Ok(oldest) = storage::oldest_due_job(pool, self.control.now()).await {
            let behind = oldest
                .map(|t| (self.control.now() - t).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            metrics::gauge!("control_scheduler_behind_seconds").set(behind);
        }
    }
}
