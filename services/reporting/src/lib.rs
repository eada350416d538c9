//! Bakylau reporting: the read model of every event and the analysis a department head
//! reads — summaries and trends, systemic problems (reg 7.1), the problem map (reg 7.2),
//! spikes (reg 8.3), executive discipline (reg 9.2), monitoring of district and rural bodies
//! (reg 5.9, 6.5) and the semi-annual report (reg 7.6, 9.6, 9.7).

pub mod api;
pub mod bench;
pub mod check;
pub mod domain;
pub mod generator;
pub mod messaging;
pub mod policy;
pub mod projection;
pub mod queries;
pub mod render;
pub mod settings;
pub mod spikes;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bakylau_platform::broker::{Broker, Consumer, OutboxRelay};
use bakylau_platform::health::Readiness;
use bakylau_platform::{CancellationToken, db, grpc};
use bakylau_proto::reporting::v1::reporting_service_server::ReportingServiceServer;
use sqlx::PgPool;

use crate::domain::reference::Directory;
use crate::queries::Reports;

pub const SERVICE: &str = "reporting";
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects to the service's schema and migrates it.
pub async fn connect(settings: &settings::Settings) -> anyhow::Result<PgPool> {
    let pool = db::connect(&settings.database, SERVICE)
        .await
        .context("connecting to Postgres")?;
    db::migrate(&pool, SERVICE, &MIGRATIONS)
        .await
        .context("migrating")?;
    Ok(pool)
}

/// The reports over a migrated pool.
pub fn reports(pool: PgPool, settings: &settings::Settings) -> anyhow::Result<Reports> {
    Ok(Reports {
        pool,
        directory: Arc::new(Directory::embedded().context("loading reference data")?),
        settings: Arc::new(settings.reporting.clone()),
    })
}

/// Runs reporting until `shutdown` fires: migrations, the events consumer, the outbox
/// relay (spikes), the spike detector and the gRPC server. Tests call this with a
/// listener on port 0.
pub async fn run(
    settings: settings::Settings,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
    readiness: Arc<Readiness>,
) -> anyhow::Result<()> {
    let pool = connect(&settings).await?;
    let reports = reports(pool.clone(), &settings)?;
    let broker = Broker::from_settings(&settings.broker, SERVICE)?;
    let confirm_timeout = Duration::from_millis(settings.broker.confirm_timeout_ms);
    let relay = OutboxRelay {
        pool: pool.clone(),
        broker: broker.clone(),
        readiness: readiness.clone(),
        batch: settings.broker.relay_batch,
        confirm_timeout,
        retention: Duration::from_secs(7 * 24 * 3600),
    };
    let consumer = Consumer {
        spec: messaging::events_queue(&settings.broker.retry_delays_ms),
        pool: pool.clone(),
        broker,
        handler: Arc::new(messaging::EventsHandler),
        prefetch: settings.broker.prefetch,
        // One lane: every appeal bumps the same roll-up rows (today's totals), so parallel
        // lanes only queued on those rows' locks (measured: ~10 of 16 lanes waiting, and
        // Postgres spending ~28 ms of CPU per appeal waking them). One lane applies the
        // appeals in order and commits a batch of them at once.
        concurrency: 1,
        batch: settings.broker.consumer_batch,
        readiness: readiness.clone(),
        confirm_timeout,
        link: "broker:reporting.events",
    };
    let relay_task = tokio::spawn(relay.run(shutdown.clone()));
    let consumer_task = tokio::spawn(consumer.run(shutdown.clone()));
    let detector_task = (settings.reporting.spike_interval_secs > 0).then(|| {
        tokio::spawn(spikes::run_detector(
            reports.clone(),
            settings.reporting.spikes.clone(),
            Duration::from_secs(settings.reporting.spike_interval_secs),
            shutdown.clone(),
        ))
    });

    let (router, reporter) = grpc::router(grpc::ServiceFrame {
        settings: &settings.grpc,
        name: bakylau_proto::service_names::REPORTING,
        policy: policy::POLICY,
        pool: &pool,
        shutdown: &shutdown,
        guard: Default::default(),
    })
    .await?;
    let health_task = tokio::spawn(grpc::watch_health(
        reporter,
        bakylau_proto::service_names::REPORTING,
        readiness.clone(),
        pool.clone(),
        shutdown.clone(),
    ));
    let api = ReportingServiceServer::new(api::ReportingApi { reports })
        .max_decoding_message_size(settings.grpc.max_message_bytes)
        .max_encoding_message_size(settings.grpc.max_message_bytes);
    tracing::info!(listen = %listener.local_addr()?, "reporting serving gRPC");
    let served = grpc::serve(router.add_service(api), listener, shutdown.clone()).await;
    shutdown.cancel();
    let _ = tokio::join!(relay_task, consumer_task, health_task);
    if let Some(t) = detector_task {
        let _ = t.await;
    }
    pool.close().await;
    served?;
    Ok(())
}
