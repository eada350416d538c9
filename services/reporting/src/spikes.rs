//! Spike detection over the district × category roll-up (reg 8.3). Each new spike is
//! stored and, in the same transaction, `problem.spike_detected` goes to the outbox: a
//! spike is published once per category, district and window, however often the detector
//! runs.

use std::collections::HashMap;
use std::time::Duration;

use bakylau_platform::CancellationToken;
use bakylau_platform::broker::{OutboxMessage, enqueue};
use bakylau_proto::events::v1 as ev;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use crate::domain::spike::{SpikePolicy, Window, spike_id};
use crate::queries::{QueryError, Reports, day_start, today};

pub const SPIKE_DETECTED: &str = "problem.spike_detected";

#[derive(Debug, Clone, PartialEq)]
pub struct SpikeRecord {
    pub spike_id: String,
    pub category: String,
    pub district: String,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub count: u64,
    pub baseline: f64,
    pub ratio: f64,
    pub registration_numbers: Vec<String>,
    pub detected_at: DateTime<Utc>,
}

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

type Found = Vec<((String, String), u64, crate::domain::spike::SpikeStat)>;

/// How many category+district pairs are spikes now (the detection without recording).
pub async fn scan(
    reports: &Reports,
    policy: &SpikePolicy,
    as_of: NaiveDate,
) -> Result<usize, QueryError> {
    Ok(find(reports, policy, as_of).await?.len())
}

async fn find(
    reports: &Reports,
    policy: &SpikePolicy,
    as_of: NaiveDate,
) -> Result<Found, QueryError> {
    let current = policy.window_of(as_of);
    let baseline = policy.baseline_of(current);
    let first = baseline.first().map_or(current.start, |w| w.start);
    let len = i64::from(policy.window_days.max(1));
    let rows = sqlx::query(
        "SELECT district, category, ((day - $1::date) / $3::int) AS w, sum(appeals)::int8 AS appeals \
         FROM counts_by_district_category WHERE grain = 'd' AND day BETWEEN $1 AND $2 AND category <> '' \
         GROUP BY 1, 2, 3",
    )
    .bind(first)
    .bind(current.end)
    .bind(len as i32)
    .fetch_all(&reports.pool)
    .await?;
    let windows = baseline.len();
    let mut per: HashMap<(String, String), Vec<u64>> = HashMap::new();
    for r in &rows {
        let w: i32 = r.get("w");
        let n = r.get::<i64, _>("appeals").max(0) as u64;
        let slot = per
            .entry((r.get("district"), r.get("category")))
            .or_insert_with(|| vec![0; windows + 1]);
        if let Some(s) = slot.get_mut(w as usize) {
            *s += n;
        }
    }
    let mut found: Found = per
        .into_iter()
        .filter_map(|(key, counts)| {
            let (history, now) = counts.split_at(windows);
            policy.assess(now[0], history).map(|s| (key, now[0], s))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Runs the detection for the window containing `as_of`; returns the spikes new in this run.
pub async fn detect(
    reports: &Reports,
    policy: &SpikePolicy,
    as_of: NaiveDate,
) -> Result<Vec<SpikeRecord>, QueryError> {
    let current = policy.window_of(as_of);
    let found = find(reports, policy, as_of).await?;
    let mut new = Vec::new();
    for ((district, category), count, stat) in found {
        if let Some(spike) =
            record(reports, policy, current, &district, &category, count, stat).await?
        {
            new.push(spike);
        }
    }
    if !new.is_empty() {
        metrics::counter!("bakylau_reporting_spikes_detected_total").increment(new.len() as u64);
        tracing::info!(spikes = new.len(), window = %current.start, "spikes detected");
    }
    Ok(new)
}

async fn record(
    reports: &Reports,
    policy: &SpikePolicy,
    window: Window,
    district: &str,
    category: &str,
    count: u64,
    stat: crate::domain::spike::SpikeStat,
) -> Result<Option<SpikeRecord>, QueryError> {
    let id = spike_id(category, district, window);
    let mut tx = reports.pool.begin().await?;
    let numbers: Vec<String> = sqlx::query_scalar(
        "SELECT registration_number FROM appeals WHERE district = $1 AND category = $2 \
         AND registered_at >= $3 AND registered_at < $4 ORDER BY registered_at DESC LIMIT 10",
    )
    .bind(district)
    .bind(category)
    .bind(day_start(window.start))
    .bind(day_start(window.end + chrono::Duration::days(1)))
    .fetch_all(&mut *tx)
    .await?;
    let detected_at = Utc::now();
    let inserted = sqlx::query(
        "INSERT INTO spikes (spike_id, category, district, window_start, window_end, count, baseline, ratio, \
         registration_numbers, detected_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (spike_id) DO NOTHING",
    )
    .bind(&id)
    .bind(category)
    .bind(district)
    .bind(window.start)
    .bind(window.end)
    .bind(count as i64)
    .bind(stat.baseline)
    .bind(stat.ratio)
    .bind(&numbers)
    .bind(detected_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        // Already detected (and published) in this window.
        return Ok(None);
    }
    let payload = ev::ProblemSpikeDetected {
        category: category.to_owned(),
        district: district.to_owned(),
        count: u32::try_from(count).unwrap_or(u32::MAX),
        baseline: stat.baseline,
        window_start: Some(timestamp(day_start(window.start))),
        window_end: Some(timestamp(day_start(window.end + chrono::Duration::days(1)))),
        spike_id: id.clone(),
        ratio: stat.ratio,
        window_days: policy.window_days,
        registration_numbers: numbers.clone(),
    };
    enqueue(
        &mut tx,
        &OutboxMessage::event(crate::SERVICE, SPIKE_DETECTED, &id, detected_at, &payload),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(spike_id = %id, count, baseline = stat.baseline, "spike published");
    Ok(Some(SpikeRecord {
        spike_id: id,
        category: category.to_owned(),
        district: district.to_owned(),
        window_start: window.start,
        window_end: window.end,
        count,
        baseline: stat.baseline,
        ratio: stat.ratio,
        registration_numbers: numbers,
        detected_at,
    }))
}

/// Spikes whose window ends in the period, latest first.
pub async fn list(
    reports: &Reports,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<SpikeRecord>, QueryError> {
    let rows = sqlx::query(
        "SELECT spike_id, category, district, window_start, window_end, count, baseline, ratio, \
         registration_numbers, detected_at FROM spikes WHERE window_end BETWEEN $1 AND $2 \
         ORDER BY window_end DESC, ratio DESC, spike_id LIMIT 500",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&reports.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| SpikeRecord {
            spike_id: r.get("spike_id"),
            category: r.get("category"),
            district: r.get("district"),
            window_start: r.get("window_start"),
            window_end: r.get("window_end"),
            count: r.get::<i64, _>("count").max(0) as u64,
            baseline: r.get("baseline"),
            ratio: r.get("ratio"),
            registration_numbers: r.get("registration_numbers"),
            detected_at: r.get("detected_at"),
        })
        .collect())
}

/// Runs the detection every `interval` until shutdown.
pub async fn run_detector(
    reports: Reports,
    policy: SpikePolicy,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if let Err(e) = detect(&reports, &policy, today()).await {
            tracing::warn!(error = %e, "spike detection failed; will retry");
        }
    }
}
