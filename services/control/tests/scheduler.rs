//! The durable scheduler: reminders and escalation survive a restart and fire once, and
//! two replicas on one database never fire the same job twice.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bakylau_control::clock::ManualClock;
use bakylau_testkit::TestEnv;
use chrono::TimeZone;
use common::*;

async fn fired(pool: &sqlx::PgPool, action: &str) -> Vec<(uuid::Uuid, i64)> {
    sqlx::query_as("SELECT appeal_id, count(*) FROM timeline WHERE action = $1 GROUP BY appeal_id")
        .bind(action)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn pending_jobs(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE done_at IS NULL")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_due_while_stopped_fire_once_after_restart() {
    let env = TestEnv::new().await.unwrap();
    let clock = Arc::new(ManualClock::new(march_18()));
    let running = start(&env, settings_for(&env), clock.clone()).await;
    let mut tap = env
        .event_tap(&["appeal.deadline_approaching", "appeal.overdue"])
        .await
        .unwrap();
    let mut client = running.client().await;
    let id = uuid::Uuid::now_v7().to_string();
    publish(
        &env,
        "appeal.routed",
        &id,
        &routed(&id, "ALM-2026-000301", march_18(), "ALM-ROADS", &[]),
    )
    .await;
    let a = wait_status(&mut client, &id, "assigned").await;
    assert_eq!(a.due_date, "2026-04-13");
    let pool = pool(&env).await;
    // Reminders 3 and 1 working days before, and the escalation.
    assert_eq!(pending_jobs(&pool).await, 3);
    running.stop().await;

    // Time passes while the service is down: both reminders fall due (8 and 10 April).
    clock.set(chrono::Utc.with_ymd_and_hms(2026, 4, 10, 5, 0, 0).unwrap());
    let running = start(&env, settings_for(&env), clock.clone()).await;
    let ok = bakylau_testkit::eventually(WAIT, || async { pending_jobs(&pool).await == 1 }).await;
    assert!(ok, "reminders did not fire after the restart");
    running.stop().await;

    // Down again past the deadline: the escalation fires after the next start.
    clock.set(chrono::Utc.with_ymd_and_hms(2026, 4, 14, 4, 0, 0).unwrap());
    let running = start(&env, settings_for(&env), clock.clone()).await;
    let ok = bakylau_testkit::eventually(WAIT, || async { pending_jobs(&pool).await == 0 }).await;
    assert!(ok, "the escalation did not fire after the restart");
    let mut client = running.client().await;
    let a = wait_status(&mut client, &id, "assigned").await;
    assert!(a.overdue);
    assert_eq!(a.working_days_left, -1);

    let events = tap.collect(4, Duration::from_secs(15)).await;
    let mut types: Vec<_> = events.iter().map(|e| e.envelope.r#type.as_str()).collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "appeal.deadline_approaching",
            "appeal.deadline_approaching",
            "appeal.overdue"
        ]
    );
    // Another restart fires nothing again.
    running.stop().await;
    let running = start(&env, settings_for(&env), clock.clone()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(tap.next(Duration::from_secs(3)).await.is_none());
    assert_eq!(fired(&pool, "reminder").await[0].1, 2);
    assert_eq!(fired(&pool, "overdue").await[0].1, 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_fire_each_job_exactly_once() {
    let env = TestEnv::new().await.unwrap();
    let clock = Arc::new(ManualClock::new(march_18()));
    let mut s1 = settings_for(&env);
    s1.control.scheduler.worker_name = Some("replica-1".into());
    s1.control.scheduler.batch = 3;
    let mut s2 = settings_for(&env);
    s2.control.scheduler.worker_name = Some("replica-2".into());
    s2.control.scheduler.batch = 3;
    let one = start(&env, s1, clock.clone()).await;
    let two = start(&env, s2, clock.clone()).await;
    let mut tap = env.event_tap(&["appeal.overdue"]).await.unwrap();
    let mut client = one.client().await;
    let n = 30;
    let mut ids = Vec::new();
    for i in 0..n {
        let id = uuid::Uuid::now_v7().to_string();
        let number = format!("ALM-2026-{:06}", 400 + i);
        publish(
            &env,
            "appeal.routed",
            &id,
            &routed(&id, &number, march_18(), "ALM-ROADS", &[]),
        )
        .await;
        ids.push(id);
    }
    for id in &ids {
        wait_status(&mut client, id, "assigned").await;
    }
    let pool = pool(&env).await;
    assert_eq!(pending_jobs(&pool).await, 3 * n as i64);

    // Both reminders of every appeal fall due at once for both replicas, then the
    // escalations.
    clock.set(chrono::Utc.with_ymd_and_hms(2026, 4, 10, 5, 0, 0).unwrap());
    let ok =
        bakylau_testkit::eventually(WAIT, || async { pending_jobs(&pool).await == n as i64 }).await;
    assert!(ok, "reminders did not fire");
    clock.set(chrono::Utc.with_ymd_and_hms(2026, 4, 14, 4, 0, 0).unwrap());
    let ok = bakylau_testkit::eventually(WAIT, || async { pending_jobs(&pool).await == 0 }).await;
    assert!(ok, "escalations did not fire");

    let overdue = fired(&pool, "overdue").await;
    assert_eq!(overdue.len(), n);
    assert!(overdue.iter().all(|(_, c)| *c == 1), "{overdue:?}");
    let reminders = fired(&pool, "reminder").await;
    assert_eq!(reminders.len(), n);
    assert!(reminders.iter().all(|(_, c)| *c == 2), "{reminders:?}");
    let by_worker: Vec<(String, i64)> = sqlx::query_as(
        "SELECT fired_by, count(*) FROM jobs WHERE outcome = 'fired' GROUP BY fired_by",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let total: i64 = by_worker.iter().map(|(_, c)| c).sum();
    assert_eq!(total, 3 * n as i64, "{by_worker:?}");

    let events = tap.collect(n + 1, Duration::from_secs(10)).await;
    assert_eq!(events.len(), n, "each escalation published once");
    let mut per_subject: HashMap<String, usize> = HashMap::new();
    for e in &events {
        *per_subject.entry(e.envelope.subject.clone()).or_default() += 1;
    }
    assert_eq!(per_subject.len(), n);

    one.stop().await;
    two.stop().await;
}
