//! Periodic work: reminders to visitors, sealing visitors a replica of the earlier release
//! wrote plain during a rolling update, erasing visitors past the retention period, and the gauges an operator watches (free slots and
//! the wait for the next one per official, the outbox backlog).

use std::sync::Arc;
use std::time::Duration;

use bakylau_platform::CancellationToken;
use chrono::Utc;

use crate::service::Reception;
use crate::storage;
use crate::time::to_local;

pub async fn run(reception: Arc<Reception>, shutdown: CancellationToken) {
    let every = Duration::from_millis(reception.settings.sweep_interval_ms.max(1_000));
    loop {
        match reception.send_reminders().await {
            Ok(n) if n > 0 => tracing::info!(reminders = n, "reminders stored"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reminders failed; will retry"),
        }
        match crate::service::seal_visitors(
            &reception.pool,
            &reception.vault,
            false,
            crate::SEAL_BATCH,
        )
        .await
        {
            Ok(s) if s.sealed > 0 => tracing::info!(sealed = s.sealed, "plain visitors sealed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sealing plain visitors failed; will retry"),
        }
        match crate::service::erase_expired_visitors(
            &reception.pool,
            reception.settings.personal_data_days,
            Utc::now(),
            crate::SEAL_BATCH,
        )
        .await
        {
            Ok(0) => {}
            Ok(n) => {
                metrics::counter!("bakylau_personal_data_erased_total", "record" => "visitor")
                    .increment(n);
                tracing::info!(visitors = n, "visitors past the retention period erased");
            }
            Err(e) => tracing::warn!(error = %e, "erasing expired visitors failed; will retry"),
        }
        if let Err(e) = gauges(&reception).await {
            tracing::warn!(error = %e, "gauges not refreshed");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn gauges(reception: &Reception) -> Result<(), crate::service::ReceptionError> {
    let now = Utc::now();
    for official in storage::officials(&reception.pool, false).await? {
        let (free, next) = reception.free_slots(&official.id, now).await?;
        let labels = [
            ("official", official.id.clone()),
            ("body", official.body.clone()),
        ];
        metrics::gauge!("reception_free_slots", &labels).set(f64::from(free));
        let days = next.map_or(-1.0, |t| {
            (t.date() - to_local(now).date()).num_days() as f64
        });
        metrics::gauge!("reception_days_to_next_free_slot", &labels).set(days);
    }
    if let Ok(n) = bakylau_platform::broker::outbox::pending_count(&reception.pool).await {
        metrics::gauge!("reception_outbox_backlog").set(n as f64);
    }
    Ok(())
}
