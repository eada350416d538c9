//! Bakylau reception: officials' personal receptions by pre-registration, video and field
//! receptions and reg 8.7 meetings (reg 6.1 - 6.6): officials and schedules, slots,
//! bookings with pre-screening, the waiting list, holding (check-in, no-shows, outcomes that
//! register appeals in intake and instructions in control), minutes and monitoring.

pub mod api;
pub mod domain;
pub mod downstream;
pub mod events;
pub mod jobs;
pub mod messaging;
pub mod policy;
pub mod seed;
pub mod service;
pub mod settings;
pub mod storage;
pub mod time;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bakylau_platform::broker::{Broker, Consumer, OutboxRelay};
use bakylau_platform::health::Readiness;
use bakylau_platform::personal_data::PersonalDataVault;
use bakylau_platform::{CancellationToken, db, grpc};
use bakylau_proto::reception::v1::reception_service_server::ReceptionServiceServer;

pub const SERVICE: &str = "reception";
/// Rows sealed per transaction by the start-up and periodic sweeps.
pub const SEAL_BATCH: i64 = 200;
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Runs reception until `shutdown` fires: migrations, the officials file, the gRPC server,
/// the outbox relay, the `appeal.closed` consumer and the reminder sweep. Tests call this
/// with a listener on port 0.
pub async fn run(
    settings: settings::Settings,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
    readiness: Arc<Readiness>,
) -> anyhow::Result<()> {
    let pool = db::connect(&settings.database, SERVICE)
        .await
        .context("connecting to Postgres")?;
    db::migrate(&pool, SERVICE, &MIGRATIONS)
        .await
        .context("migrating")?;
    let vault = Arc::new(
        PersonalDataVault::from_settings(&settings.personal_data)
            .context("personal data keys (personal_data)")?,
    );
    if vault.uses_development_keys() {
        tracing::warn!(
            "personal data sealed with a development key: configure personal_data.pseudonym_key_file \
             and personal_data.sealing_key_file before real visitors book"
        );
    }
    // Visitors still stored plain, or sealed under a retired key, are sealed under the
    // current key before anything is served.
    let swept = service::seal_visitors(&pool, &vault, true, SEAL_BATCH)
        .await
        .context("sealing visitors' personal data")?;
    if swept != service::SealSweep::default() {
        tracing::info!(
            sealed = swept.sealed,
            resealed = swept.resealed,
            unopened = swept.unopened,
            "visitors' personal data sealed"
        );
    }
    if settings.reception.load_officials {
        let added = seed::load(&pool, settings.reception.officials_file.as_deref())
            .await
            .context("loading officials")?;
        tracing::info!(added, "officials loaded");
    }
    let calendar = match &settings.reception.calendar_dir {
        Some(dir) => bakylau_calendar::Calendar::load_dir(dir),
        None => bakylau_calendar::Calendar::embedded(),
    }
    .context("loading the working-day calendar")?;
    // Reception calls intake and control as itself; no identity is needed when it calls
    // neither.
    let calls_out = !settings.reception.intake_addr.trim().is_empty()
        || !settings.reception.control_addr.trim().is_empty();
    let identity = if calls_out {
        Some(
            bakylau_platform::auth::ServiceIdentity::new(SERVICE, &settings.grpc.identity)
                .context("reception's service identity (grpc.identity)")?,
        )
    } else {
        None
    };
    let downstream = downstream::Downstream::new(
        &settings.reception.intake_addr,
        &settings.reception.control_addr,
        Duration::from_millis(settings.reception.downstream_timeout_ms),
        identity,
        &settings.grpc.client_tls,
    )
    .context("addresses of intake and control")?;
    let reception = Arc::new(service::Reception {
        pool: pool.clone(),
        calendar: Arc::new(calendar),
        settings: Arc::new(settings.reception.clone()),
        downstream,
        vault,
    });

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
        spec: messaging::closed_queue(&settings.broker.retry_delays_ms),
        pool: pool.clone(),
        broker,
        handler: Arc::new(messaging::AppealClosedHandler),
        prefetch: settings.broker.prefetch,
        concurrency: settings.broker.concurrency,
        batch: settings.broker.consumer_batch,
        readiness: readiness.clone(),
        confirm_timeout,
        link: "broker:reception.appeal_closed",
    };
    let relay_task = tokio::spawn(relay.run(shutdown.clone()));
    let consumer_task = tokio::spawn(consumer.run(shutdown.clone()));
    let jobs_task = tokio::spawn(jobs::run(reception.clone(), shutdown.clone()));

    let (router, reporter) = grpc::router(grpc::ServiceFrame {
        settings: &settings.grpc,
        name: bakylau_proto::service_names::RECEPTION,
        policy: policy::POLICY,
        pool: &pool,
        shutdown: &shutdown,
        guard: Default::default(),
    })
    .await?;
    let health_task = tokio::spawn(grpc::watch_health(
        reporter,
        bakylau_proto::service_names::RECEPTION,
        readiness.clone(),
        pool.clone(),
        shutdown.clone(),
    ));
    let api = ReceptionServiceServer::new(api::ReceptionApi { reception })
        .max_decoding_message_size(settings.grpc.max_message_bytes)
        .max_encoding_message_size(settings.grpc.max_message_bytes);
    tracing::info!(listen = %listener.local_addr()?, "reception serving gRPC");
    let served = grpc::serve(router.add_service(api), listener, shutdown.clone()).await;
    shutdown.cancel();
    let _ = tokio::join!(relay_task, consumer_task, jobs_task, health_task);
    pool.close().await;
    served?;
    Ok(())
}
