//! Bakylau control: assignments and deadlines on the working-day calendar (reg 5.3),
//! answers and their review (reg 5.4-5.6), letters to applicants (APPK art. 65, 76),
//! instructions (reg 9, 8.4) and record-keeping audits (reg 10.1).

pub mod access;
pub mod api;
pub mod calendar_store;
pub mod clock;
pub mod domain;
pub mod events;
pub mod instructions;
pub mod messaging;
pub mod notifier;
pub mod policy;
pub mod scheduler;
pub mod settings;
pub mod storage;
pub mod workflow;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bakylau_platform::broker::{Broker, Consumer, OutboxRelay};
use bakylau_platform::health::Readiness;
use bakylau_platform::{CancellationToken, db, grpc};
use bakylau_proto::control::v1::control_service_server::ControlServiceServer;

use crate::clock::{Clock, SystemClock};

pub const SERVICE: &str = "control";
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Runs control until `shutdown` fires, on the system clock (shifted by
/// `control.clock_offset_secs`).
pub async fn run(
    settings: settings::Settings,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
    readiness: Arc<Readiness>,
) -> anyhow::Result<()> {
    let clock = Arc::new(SystemClock {
        offset: chrono::Duration::seconds(settings.control.clock_offset_secs),
    });
    run_with_clock(settings, listener, shutdown, readiness, clock).await
}

/// [`run`] with an explicit clock: migrations, the stored calendar, the appeals consumer,
/// the outbox relay, the scheduler, the letter notifier and the gRPC server.
pub async fn run_with_clock(
    settings: settings::Settings,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
    readiness: Arc<Readiness>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    let pool = db::connect(&settings.database, SERVICE)
        .await
        .context("connecting to Postgres")?;
    db::migrate(&pool, SERVICE, &MIGRATIONS)
        .await
        .context("migrating")?;
    settings
        .control
        .policy
        .validate()
        .context("control.policy")?;
    let seed = match &settings.control.calendar_dir {
        Some(dir) => bakylau_calendar::Calendar::load_dir(dir),
        None => bakylau_calendar::Calendar::embedded(),
    }
    .context("loading the working-day calendar")?;
    let calendar = Arc::new(
        calendar_store::CalendarStore::open(&pool, &seed)
            .await
            .context("opening the stored working-day calendar")?,
    );
    let control = Arc::new(workflow::Control {
        pool: pool.clone(),
        calendar: calendar.clone(),
        clock: clock.clone(),
        settings: Arc::new(settings.control.clone()),
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
        spec: messaging::appeals_queue(&settings.broker.retry_delays_ms),
        pool: pool.clone(),
        broker,
        handler: Arc::new(messaging::AppealsHandler {
            control: control.clone(),
        }),
        prefetch: settings.broker.prefetch,
        concurrency: settings.broker.concurrency,
        batch: settings.broker.consumer_batch,
        readiness: readiness.clone(),
        confirm_timeout,
        link: "broker:control.appeals",
    };
    let s = &settings.control.scheduler;
    let scheduler = scheduler::Scheduler {
        control: control.clone(),
        poll: Duration::from_millis(s.poll_ms.max(10)),
        batch: s.batch.max(1),
        refresh: Duration::from_secs(s.refresh_secs.max(1)),
        worker: s.worker_name.clone().unwrap_or_else(|| {
            format!(
                "{}-{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "control".into()),
                std::process::id()
            )
        }),
    };
    let mut tasks = vec![
        tokio::spawn(relay.run(shutdown.clone())),
        tokio::spawn(consumer.run(shutdown.clone())),
        tokio::spawn(scheduler.run(shutdown.clone())),
    ];
    tasks.push(tokio::spawn(instructions::run_overdue_sweep_with(
        pool.clone(),
        instructions::CalendarSource::Stored(calendar.clone()),
        clock.clone(),
        settings.control.instructions.clone(),
        shutdown.clone(),
    )));
    if settings.control.notifier.smtp_host.trim().is_empty() {
        tracing::info!("no SMTP relay configured: letters are stored for postal delivery");
    } else {
        let identity =
            bakylau_platform::auth::ServiceIdentity::new(SERVICE, &settings.grpc.identity)
                .context("control's service identity (grpc.identity), needed to ask intake")?;
        let notifier = notifier::Notifier {
            control: control.clone(),
            settings: settings.control.notifier.clone(),
            identity,
            tls: settings.grpc.client_tls.clone(),
        };
        tasks.push(tokio::spawn(notifier.run(shutdown.clone())));
    }

    let (router, reporter) = grpc::router(grpc::ServiceFrame {
        settings: &settings.grpc,
        name: bakylau_proto::service_names::CONTROL,
        policy: policy::POLICY,
        pool: &pool,
        shutdown: &shutdown,
        guard: Default::default(),
    })
    .await?;
    tasks.push(tokio::spawn(grpc::watch_health(
        reporter,
        bakylau_proto::service_names::CONTROL,
        readiness.clone(),
        pool.clone(),
        shutdown.clone(),
    )));
    let api = ControlServiceServer::new(api::ControlApi {
        control: control.clone(),
    })
    .max_decoding_message_size(settings.grpc.max_message_bytes)
    .max_encoding_message_size(settings.grpc.max_message_bytes);
    let instruction_api = instructions::grpc_service_with(
        pool.clone(),
        instructions::CalendarSource::Stored(calendar.clone()),
        clock.clone(),
        settings.control.instructions.clone(),
    )
    .max_decoding_message_size(settings.grpc.max_message_bytes)
    .max_encoding_message_size(settings.grpc.max_message_bytes);
    tracing::info!(listen = %listener.local_addr()?, "control serving gRPC");
    let served = grpc::serve(
        router.add_service(api).add_service(instruction_api),
        listener,
        shutdown.clone(),
    )
    .await;
    shutdown.cancel();
    for t in tasks {
        let _ = t.await;
    }
    pool.close().await;
    served?;
    Ok(())
}
