//! Bakylau intake: the register of appeals. Registers appeals from every channel after
//! pre-review (reg 5.1), keeps the register and the consultations log (reg 5.7, 5.8), and
//! takes appeals from other government systems over AMQP (reg 8.5, 8.6).

pub mod api;
pub mod domain;
pub mod events;
pub mod messaging;
pub mod policy;
pub mod register;
pub mod register_queue;
pub mod retention;
pub mod settings;
pub mod storage;

use std::sync::Arc;

use anyhow::Context as _;
use bakylau_platform::broker::{Broker, Consumer, OutboxRelay};
use bakylau_platform::health::Readiness;
use bakylau_platform::{CancellationToken, db, grpc};
use bakylau_proto::intake::v1::intake_service_server::IntakeServiceServer;

pub const SERVICE: &str = "intake";
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Runs intake until `shutdown` fires: migrations, the gRPC server, the outbox relay and
/// the inbound consumer. Tests call this with a listener on port 0.
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
    let calendar = match &settings.intake.calendar_dir {
        Some(dir) => bakylau_calendar::Calendar::load_dir(dir),
        None => bakylau_calendar::Calendar::embedded(),
    }
    .context("loading the working-day calendar")?;
    let trust = bakylau_signature::TrustStore::from_pem_files(&settings.intake.trusted_roots)
        .context("loading trusted CA certificates")?;
    if !domain::registration::is_valid_office_code(&settings.intake.office) {
        anyhow::bail!("intake.office must be 2-16 upper-case Latin letters or digits");
    }
    let vault =
        bakylau_platform::personal_data::PersonalDataVault::from_settings(&settings.personal_data)
            .context("loading the personal-data keys ([personal_data])")?;
    if vault.uses_development_keys() {
        tracing::warn!(
            "personal_data uses the development keys: set personal_data.pseudonym_key_file and sealing_key_file"
        );
    }
    // Nothing is served before every appeal is sealed under the current key.
    let sealed = retention::seal_all(&pool, &vault, settings.intake.retention.batch)
        .await
        .context("sealing personal data")?;
    if sealed > 0 {
        tracing::info!(
            rows = sealed,
            key = vault.current_key_id(),
            "personal data sealed under the current key"
        );
    }
    let registrar = Arc::new(register::Registrar {
        pool: pool.clone(),
        vault: Arc::new(vault),
        settings: Arc::new(settings.intake.clone()),
        calendar: Arc::new(calendar),
        trust: Arc::new(trust),
    });
    let broker = Broker::from_settings(&settings.broker, SERVICE)?;
    if settings.intake.inbound_senders.is_empty() {
        tracing::warn!(
            "intake.inbound_senders is empty: inbound senders are not bound to their sources"
        );
    }
    let confirm_timeout = std::time::Duration::from_millis(settings.broker.confirm_timeout_ms);

    let relay = OutboxRelay {
        pool: pool.clone(),
        broker: broker.clone(),
        readiness: readiness.clone(),
        batch: settings.broker.relay_batch,
        confirm_timeout,
        retention: std::time::Duration::from_secs(7 * 24 * 3600),
    };
    let consumer = Consumer {
        spec: messaging::inbound_queue(&settings.broker.retry_delays_ms),
        pool: pool.clone(),
        broker,
        handler: Arc::new(messaging::InboundHandler {
            registrar: registrar.clone(),
            max_bytes: settings.intake.max_inbound_bytes,
            senders: Arc::new(settings.intake.inbound_senders.clone()),
        }),
        prefetch: settings.broker.prefetch,
        concurrency: settings.broker.concurrency,
        batch: settings.broker.consumer_batch,
        readiness: readiness.clone(),
        confirm_timeout,
        link: "broker:intake.inbound",
    };
    let status_consumer = Consumer {
        spec: messaging::status_queue(&settings.broker.retry_delays_ms),
        pool: pool.clone(),
        broker: consumer.broker.clone(),
        handler: Arc::new(messaging::StatusHandler),
        prefetch: settings.broker.prefetch,
        concurrency: settings.broker.concurrency,
        batch: settings.broker.consumer_batch,
        readiness: readiness.clone(),
        confirm_timeout,
        link: "broker:intake.status",
    };
    let relay_task = tokio::spawn(relay.run(shutdown.clone()));
    let retention_task = tokio::spawn(retention::run(
        pool.clone(),
        settings.intake.retention.clone(),
        shutdown.clone(),
    ));
    let status_task = tokio::spawn(status_consumer.run(shutdown.clone()));
    let consumer_task = tokio::spawn(consumer.run(shutdown.clone()));

    let (router, reporter) = grpc::router(grpc::ServiceFrame {
        settings: &settings.grpc,
        name: bakylau_proto::service_names::INTAKE,
        policy: policy::POLICY,
        pool: &pool,
        shutdown: &shutdown,
        guard: bakylau_platform::limits::GuardLayer::default()
            // Per-caller limit on registration (issue 9).
            .rate_limit(settings.intake.register_rate, &["RegisterAppeal"]),
    })
    .await?;
    let health_task = tokio::spawn(grpc::watch_health(
        reporter,
        bakylau_proto::service_names::INTAKE,
        readiness.clone(),
        pool.clone(),
        shutdown.clone(),
    ));
    let (queue, register_writer) = register_queue::RegisterQueue::start(
        registrar.clone(),
        settings.intake.register_batch,
        settings.intake.register_queue,
    );
    let api = IntakeServiceServer::new(api::IntakeApi { registrar, queue })
        .max_decoding_message_size(settings.grpc.max_message_bytes)
        .max_encoding_message_size(settings.grpc.max_message_bytes);
    tracing::info!(listen = %listener.local_addr()?, "intake serving gRPC");
    let served = grpc::serve(router.add_service(api), listener, shutdown.clone()).await;
    shutdown.cancel();
    let _ = tokio::join!(
        relay_task,
        retention_task,
        consumer_task,
        status_task,
        health_task,
        register_writer
    );
    pool.close().await;
    served?;
    Ok(())
}
