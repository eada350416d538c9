//! The machine's raw limits, measured with the drivers the services use: durable
//! single-row Postgres commits (sqlx, `synchronous_commit` on) and persistent RabbitMQ
//! messages published with confirms and consumed with acks on a quorum queue (lapin).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};

/// Durable commits per second of one-row inserts from `connections` sessions at once.
pub async fn postgres_commits(url: &str, connections: u32, duration: Duration) -> Result<f64> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .connect(url)
        .await
        .context("connecting to Postgres")?;
    let table = format!("bench_commits_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (id bigserial PRIMARY KEY, payload text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
    )))
    .execute(&pool)
    .await?;
    let insert = format!("INSERT INTO {table} (payload) VALUES ($1)");
    let commits = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + duration;
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (pool, insert, commits) = (pool.clone(), insert.clone(), commits.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < stop {
                sqlx::query(sqlx::AssertSqlSafe(insert.as_str()))
                    .bind("an appeal-sized row of text for the benchmark")
                    .execute(&pool)
                    .await?;
                commits.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, sqlx::Error>(())
        }));
    }
    let started = Instant::now();
    for w in workers {
        w.await??;
    }
    let elapsed = started.elapsed();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(commits.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64())
}

/// Persistent messages per second through a quorum queue: published with confirms (a window
/// of `window` unconfirmed), consumed with manual acks and prefetch `window`.
pub async fn rabbitmq_messages(url: &str, window: usize, duration: Duration) -> Result<f64> {
    let conn = Connection::connect(url, ConnectionProperties::default())
        .await
        .context("connecting to RabbitMQ")?;
    let queue = format!("bench.raw.{}", uuid::Uuid::now_v7().simple());
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let admin = conn.create_channel().await?;
    admin
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
    let consumer_ch = conn.create_channel().await?;
    consumer_ch
        .basic_qos(window as u16, BasicQosOptions::default())
        .await?;
    let mut consumer = consumer_ch
        .basic_consume(
            queue.as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let consumed = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let counter = {
        let (consumed, done) = (consumed.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(500), consumer.next()).await {
                    Ok(Some(Ok(d))) => {
                        d.ack(BasicAckOptions::default()).await?;
                        consumed.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => break,
                    Err(_) => continue,
                }
            }
            // Handed back, not dropped: its cancel is sent explicitly below.
            Ok::<_, lapin::Error>(consumer)
        })
    };
    let publisher = conn.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let body = vec![b'x'; 1024];
    let started = Instant::now();
    let mut in_flight = std::collections::VecDeque::new();
    while started.elapsed() < duration {
        let confirm = publisher
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?;
        in_flight.push_back(confirm);
        if in_flight.len() >= window
            && let Some(c) = in_flight.pop_front()
        {
            c.await?;
        }
    }
    for c in in_flight {
        c.await?;
    }
    let elapsed = started.elapsed();
    let consumed_in_time = consumed.load(Ordering::Relaxed);
    done.store(true, Ordering::Relaxed);
    // Cancel the consumer before deleting its queue: a delete with the consumer still on
    // it raced lapin's own cancel and broke the connection (UNEXPECTED-FRAME cancel-ok).
    if let Ok(Ok(_consumer)) = counter.await {
        consumer_ch
            .basic_cancel("bench".into(), BasicCancelOptions::default())
            .await?;
    }
    consumer_ch.close(200, "benchmark done".into()).await?;
    admin
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await?;
    conn.close(200, "benchmark done".into()).await?;
    Ok(consumed_in_time as f64 / elapsed.as_secs_f64())
}

/// Appeals routing already holds from the last 30 days (its near-duplicate window): each
/// new appeal is compared with those of its district and topic, so the pipeline's pace
/// depends on how many there are.
pub async fn appeals_in_duplicate_window(url: &str) -> Result<i64> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .context("connecting to Postgres")?;
    let n = sqlx::query_scalar(
        "SELECT count(*) FROM routing.appeals WHERE registered_at > now() - interval '30 days'",
    )
    .fetch_one(&pool)
    .await
    .context("counting routing's appeals")?;
    pool.close().await;
    Ok(n)
}
