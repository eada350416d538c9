//! Personal data over time: sealing what is not yet sealed under the current key (rows
//! from before sealing, or after a key rotation), and erasing it once the retention period
//! is over. The appeal itself stays in the register (reg 5.7).

use std::time::Duration;

use bakylau_platform::CancellationToken;
use bakylau_platform::personal_data::PersonalDataVault;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::settings::RetentionSettings;
use crate::storage;

/// Registered (or given) before this instant, personal data is erased; `None` keeps it.
pub fn erasure_cutoff(now: DateTime<Utc>, personal_data_days: u32) -> Option<DateTime<Utc>> {
    (personal_data_days > 0).then(|| now - chrono::Duration::days(i64::from(personal_data_days)))
}

/// Runs a batch step until it finds nothing left; the number done in all.
async fn drain<F, Fut>(mut step: F) -> Result<u64, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, sqlx::Error>>,
{
    let mut total = 0;
    loop {
        match step().await? {
            0 => return Ok(total),
            done => total += done,
        }
    }
}

/// Seals every appeal and consultation not sealed under the current key; the number done.
pub async fn seal_all(
    pool: &PgPool,
    vault: &PersonalDataVault,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let batch = batch.max(1);
    let appeals = drain(|| storage::seal_batch(pool, vault, batch)).await?;
    let consultations = drain(|| storage::seal_consultations_batch(pool, vault, batch)).await?;
    Ok(appeals + consultations)
}

/// One erasure pass: appeals and consultations past the period; the numbers erased.
pub async fn erase_expired(
    pool: &PgPool,
    settings: &RetentionSettings,
    now: DateTime<Utc>,
) -> Result<(u64, u64), sqlx::Error> {
    let Some(cutoff) = erasure_cutoff(now, settings.personal_data_days) else {
        return Ok((0, 0));
    };
    let batch = settings.batch.max(1);
    let appeals = drain(|| storage::erase_appeals_before(pool, cutoff, batch)).await?;
    let consultations = drain(|| storage::erase_consultations_before(pool, cutoff, batch)).await?;
    Ok((appeals, consultations))
}

/// Runs the erasure every `check_interval_s` until shutdown; a failed pass is retried at
/// the next tick.
pub async fn run(pool: PgPool, settings: RetentionSettings, shutdown: CancellationToken) {
    if settings.personal_data_days == 0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(settings.check_interval_s.max(1)));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match erase_expired(&pool, &settings, Utc::now()).await {
            Ok((0, 0)) => {}
            Ok((appeals, consultations)) => {
                metrics::counter!("bakylau_personal_data_erased_total", "record" => "appeal")
                    .increment(appeals);
                metrics::counter!("bakylau_personal_data_erased_total", "record" => "consultation")
                    .increment(consultations);
                tracing::info!(
                    appeals,
                    consultations,
                    "personal data past its retention period erased"
                );
            }
            Err(e) => tracing::warn!(error = %e, "retention pass failed; retried at the next tick"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn cutoff_is_the_period_before_now_and_zero_keeps_everything() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        assert_eq!(erasure_cutoff(now, 0), None);
        assert_eq!(
            erasure_cutoff(now, 1826),
            Some(Utc.with_ymd_and_hms(2021, 12, 7, 10, 0, 0).unwrap())
        );
    }
}
