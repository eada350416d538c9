//! Bakylau routing: decides where every registered appeal goes (reg 5.2, 8.5). Keeps the
//! issue taxonomy, the directory of bodies and the routing rules (seeded from `data/`,
//! editable over gRPC with an audit log), classifies Kazakh and Russian texts, redirects
//! matters excluded by reg 5.2, links near-duplicates, and lets a registrar override.

pub mod api;
pub mod domain;
pub mod engine;
pub mod events;
pub mod messaging;
pub mod policy;
pub mod settings;
pub mod storage;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use bakylau_platform::broker::{Consumer, OutboxRelay};
use bakylau_platform::health::Readiness;
use bakylau_platform::{CancellationToken, db, grpc};
use bakylau_proto::routing::v1::routing_service_server::RoutingServiceServer;

use domain::classifier::{Classifier, Example, TrainOptions, parse_corpus};
use domain::evaluation::{CrossValidation, Evaluation, cross_validate, evaluate};
use domain::reference::{Reference, embedded, parse_seed};

pub const SERVICE: &str = "routing";
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The seed reference data and the labelled corpus: from `data_dir`, else built in.
pub fn load_data(data_dir: Option<&Path>) -> anyhow::Result<(Reference, Vec<Example>)> {
    let (taxonomy, bodies, rules, corpus) = match data_dir {
        Some(dir) => {
            let read = |name: &str| {
                std::fs::read_to_string(dir.join(name))
                    .with_context(|| format!("reading {}", dir.join(name).display()))
            };
            (
                read("taxonomy.toml")?,
                read("bodies.toml")?,
                read("rules.toml")?,
                read("corpus/corpus.jsonl")?,
            )
        }
        None => (
            embedded::TAXONOMY.to_owned(),
            embedded::BODIES.to_owned(),
            embedded::RULES.to_owned(),
            embedded::CORPUS.to_owned(),
        ),
    };
    let reference = parse_seed(&taxonomy, &bodies, &rules).context("reference data")?;
    let corpus = parse_corpus(&corpus).context("corpus")?;
    Ok((reference, corpus))
}

/// Where `bakylau-routing train` writes the model, relative to the data directory.
pub const MODEL_FILE: &str = "model/classifier.bin";

/// The shipped classifier: `data_dir/model/classifier.bin`, else the built-in one. It is
/// not trained here, so a replica is ready in milliseconds.
pub fn load_classifier(data_dir: Option<&Path>) -> anyhow::Result<Classifier> {
    let bytes = match data_dir {
        Some(dir) => {
            let path = dir.join(MODEL_FILE);
            std::fs::read(&path).with_context(|| {
                format!(
                    "reading {} (write it with `bakylau-routing train`)",
                    path.display()
                )
            })?
        }
        None => {
            let classifier = Classifier::from_bytes(embedded::MODEL);
            release_resident_pages(embedded::MODEL);
            return classifier.context(MODEL_CONTEXT);
        }
    };
    Classifier::from_bytes(&bytes).context(MODEL_CONTEXT)
}

const MODEL_CONTEXT: &str =
    "loading the classifier model (rebuild it with `bakylau-routing train`)";

/// Gives back the pages of read-only data embedded in the binary once it has been parsed:
/// the built-in model is 5 MiB that would otherwise stay resident for the process's life.
/// Best effort; the kernel reads them again from the binary if anything touches them.
fn release_resident_pages(data: &'static [u8]) {
    let page = 4096;
    let start = (data.as_ptr() as usize).div_ceil(page) * page;
    let end = (data.as_ptr() as usize + data.len()) / page * page;
    if end > start {
        // SAFETY: the range lies inside a read-only, file-backed mapping of the executable
        // (an `include_bytes!` static); MADV_DONTNEED on such a mapping drops only the
        // resident copies, and later reads refault the same bytes from the file.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// Trains the production model on the whole corpus with the default options (what
/// `bakylau-routing train` writes and what a test compares with the shipped file).
pub fn train_classifier(data_dir: Option<&Path>) -> anyhow::Result<Classifier> {
    let (reference, corpus) = load_data(data_dir)?;
    Ok(Classifier::train(
        &corpus,
        &reference.categories,
        &TrainOptions::default(),
    ))
}

/// The evaluation printed by `bakylau-routing evaluate`: trained on the training part,
/// scored once on the held-out split.
pub fn evaluation(
    data_dir: Option<&Path>,
    threshold: f64,
    opts: &TrainOptions,
) -> anyhow::Result<Evaluation> {
    let (reference, corpus) = load_data(data_dir)?;
    Ok(evaluate(&corpus, &reference.categories, opts, threshold))
}

/// `bakylau-routing evaluate --cv K`: k-fold cross-validation on the training part only,
/// the figures to tune options and the threshold on.
pub fn cross_validation(
    data_dir: Option<&Path>,
    folds: usize,
    opts: &TrainOptions,
) -> anyhow::Result<CrossValidation> {
    let (reference, corpus) = load_data(data_dir)?;
    Ok(cross_validate(&corpus, &reference.categories, opts, folds))
}

/// Runs routing until `shutdown` fires: migrations, the seed, the classifier, the consumer
/// of `appeal.registered`, the outbox relay and the gRPC server. Tests call this with a
/// listener on port 0.
pub async fn run(
    settings: settings::Settings,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
    readiness: Arc<Readiness>,
) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&settings.routing.confidence_threshold) {
        anyhow::bail!("routing.confidence_threshold must be between 0 and 1");
    }
    if !(0.0..=1.0).contains(&settings.routing.duplicate_similarity) {
        anyhow::bail!("routing.duplicate_similarity must be between 0 and 1");
    }
    let (seed, _corpus) = load_data(settings.routing.data_dir.as_deref())?;
    let calendar = match &settings.routing.calendar_dir {
        Some(dir) => bakylau_calendar::Calendar::load_dir(dir),
        None => bakylau_calendar::Calendar::embedded(),
    }
    .context("loading the working-day calendar")?;
    let loading = std::time::Instant::now();
    let classifier = Arc::new(load_classifier(settings.routing.data_dir.as_deref())?);
    tracing::info!(
        model = classifier.name(),
        ms = loading.elapsed().as_millis() as u64,
        "classifier loaded"
    );

    let pool = db::connect(&settings.database, SERVICE)
        .await
        .context("connecting to Postgres")?;
    db::migrate(&pool, SERVICE, &MIGRATIONS)
        .await
        .context("migrating")?;
    {
        let mut tx = pool.begin().await?;
        storage::lock_reference(&mut tx).await?;
        let changed = storage::apply_seed(&mut tx, &seed).await?;
        tx.commit().await?;
        tracing::info!(changed, "reference data seeded");
    }
    let engine = Arc::new(engine::Engine::new(
        pool.clone(),
        classifier,
        Arc::new(calendar),
        Arc::new(settings.routing.clone()),
    ));
    engine.refresh_queue_gauge().await;

    let broker = bakylau_platform::broker::Broker::from_settings(&settings.broker, SERVICE)?;
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
        spec: messaging::appeals_queue(&settings.broker.retry_delays_ms),
        pool: pool.clone(),
        broker,
        handler: Arc::new(messaging::RegisteredHandler {
            engine: engine.clone(),
        }),
        prefetch: settings.broker.prefetch,
        concurrency: settings.broker.concurrency,
        batch: settings.broker.consumer_batch,
        readiness: readiness.clone(),
        confirm_timeout,
        link: "broker:routing.appeals",
    };
    let relay_task = tokio::spawn(relay.run(shutdown.clone()));
    let consumer_task = tokio::spawn(consumer.run(shutdown.clone()));
    let gauge_task = tokio::spawn({
        let engine = engine.clone();
        let shutdown = shutdown.clone();
        async move {
            // Other replicas change the queue too; keep this replica's gauge current.
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => engine.refresh_queue_gauge().await,
                }
            }
        }
    });

    let (router, reporter) = grpc::router(grpc::ServiceFrame {
        settings: &settings.grpc,
        name: bakylau_proto::service_names::ROUTING,
        policy: policy::POLICY,
        pool: &pool,
        shutdown: &shutdown,
        guard: Default::default(),
    })
    .await?;
    let health_task = tokio::spawn(grpc::watch_health(
        reporter,
        bakylau_proto::service_names::ROUTING,
        readiness.clone(),
        pool.clone(),
        shutdown.clone(),
    ));
    let api = RoutingServiceServer::new(api::RoutingApi { engine })
        .max_decoding_message_size(settings.grpc.max_message_bytes)
        .max_encoding_message_size(settings.grpc.max_message_bytes);
    tracing::info!(listen = %listener.local_addr()?, "routing serving gRPC");
    let served = grpc::serve(router.add_service(api), listener, shutdown.clone()).await;
    shutdown.cancel();
    let _ = tokio::join!(relay_task, consumer_task, health_task, gauge_task);
    pool.close().await;
    served?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_model_reads_the_same_after_its_pages_are_given_back() {
        let before = load_classifier(None).unwrap();
        release_resident_pages(embedded::MODEL);
        let on_disk = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("data")
                .join(MODEL_FILE),
        )
        .unwrap();
        assert!(embedded::MODEL == on_disk.as_slice());
        let after = load_classifier(None).unwrap();
        assert!(before.to_bytes() == after.to_bytes());
    }
}
