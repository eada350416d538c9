//! Wires routing together: settings, telemetry, then `bakylau_routing::run`.
//!
//! `bakylau-routing evaluate [--cv K] [...]` instead prints the classifier's precision,
//! recall and F1 per category (k-fold cross-validation on the training part, or the
//! held-out split) and exits; `bakylau-routing train` writes the model file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bakylau_platform::{config, grpc, health::Readiness, telemetry};
use bakylau_routing::domain::classifier::{Classifier, TrainOptions};
use bakylau_routing::{SERVICE, run, settings::Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings: Settings = config::load(SERVICE, &Settings::default())?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("evaluate") => return evaluate(&args[1..], &settings),
        Some("train") => return train(&args[1..], &settings),
        _ => {}
    }
    let telemetry = telemetry::init(SERVICE)?;
    telemetry::init_metrics(&settings.metrics.listen)?;
    let readiness = Arc::new(Readiness::new());
    let shutdown = grpc::shutdown_on_signals(readiness.clone());
    let listener = grpc::bind(&settings.grpc).await?;
    let result = run(settings, listener, shutdown, readiness).await;
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "routing stopped with an error");
    }
    telemetry.shutdown();
    result
}

/// Parses the training options shared by `evaluate` and `train`; returns false for an
/// argument that is not one of them.
fn train_option(
    a: &str,
    it: &mut std::slice::Iter<'_, String>,
    opts: &mut TrainOptions,
) -> anyhow::Result<bool> {
    let mut number = |what: &str| -> anyhow::Result<f64> {
        it.next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{what} needs a number"))
    };
    match a {
        "--epochs" => opts.epochs = number(a)? as usize,
        "--learning-rate" => opts.learning_rate = number(a)? as f32,
        "--l2" => opts.l2 = number(a)? as f32,
        "--keyword-weight" => opts.keyword_weight = number(a)? as f32,
        "--word-weight" => opts.word_weight = number(a)? as f32,
        "--char-min" => opts.char_min = number(a)? as usize,
        "--char-max" => opts.char_max = number(a)? as usize,
        "--min-df" => opts.min_df = number(a)? as u32,
        "--top-on-leaves" => opts.top_on_leaves = number(a)? != 0.0,
        "--average" => opts.average = number(a)? != 0.0,
        "--temperature" => opts.temperature = number(a)? as f32,
        _ => return Ok(false),
    }
    Ok(true)
}

const OPTIONS_HELP: &str = "[--epochs N] [--learning-rate X] [--l2 X] [--keyword-weight X] [--word-weight X] [--char-min N] [--char-max N] [--min-df N] [--top-on-leaves 0|1] [--average 0|1] [--temperature X]";

fn evaluate(args: &[String], settings: &Settings) -> anyhow::Result<()> {
    let mut data_dir = settings.routing.data_dir.clone();
    let mut threshold = settings.routing.confidence_threshold;
    let mut folds = None;
    let mut opts = TrainOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--data-dir" => data_dir = it.next().map(Into::into),
            "--threshold" => {
                threshold = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| anyhow::anyhow!("--threshold needs a number"))?
            }
            "--cv" => {
                folds = Some(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| anyhow::anyhow!("--cv needs a number of folds"))?,
                )
            }
            "-h" | "--help" => {
                println!(
                    "usage: bakylau-routing evaluate [--data-dir DIR] [--threshold X] [--cv K] {OPTIONS_HELP}\n\
                     --cv K: k-fold cross-validation on the training part only (tune with this);\n\
                     without it: train on the training part, score the held-out split once."
                );
                return Ok(());
            }
            other => {
                if !train_option(other, &mut it, &mut opts)? {
                    anyhow::bail!("unknown argument {other:?}; see --help")
                }
            }
        }
    }
    match folds {
        Some(k) => {
            let cv = bakylau_routing::cross_validation(data_dir.as_deref(), k, &opts)?;
            print!("{}", bakylau_routing::domain::evaluation::cv_report(&cv));
        }
        None => {
            let e = bakylau_routing::evaluation(data_dir.as_deref(), threshold, &opts)?;
            print!("{}", bakylau_routing::domain::evaluation::report(&e));
        }
    }
    Ok(())
}

/// `bakylau-routing train`: trains on the whole corpus and writes the model the service
/// loads at start (commit it with the corpus; a test checks it is not stale).
fn train(args: &[String], settings: &Settings) -> anyhow::Result<()> {
    let mut data_dir = settings.routing.data_dir.clone();
    let mut out: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--data-dir" => data_dir = it.next().map(Into::into),
            "--out" => out = it.next().map(Into::into),
            "-h" | "--help" => {
                println!(
                    "usage: bakylau-routing train [--data-dir DIR] [--out FILE]\n\
                     Trains the classifier on DIR/corpus/corpus.jsonl (default options) and \
                     writes FILE (default DIR/model/classifier.bin)."
                );
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}; see --help"),
        }
    }
    let out = match (out, &data_dir) {
        (Some(out), _) => out,
        (None, Some(dir)) => dir.join(bakylau_routing::MODEL_FILE),
        (None, None) => anyhow::bail!("give --data-dir (e.g. services/routing/data) or --out"),
    };
    let started = Instant::now();
    let model = bakylau_routing::train_classifier(data_dir.as_deref())?;
    let trained = started.elapsed();
    let bytes = model.to_bytes();
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, &bytes)?;
    let started = Instant::now();
    let loaded = Classifier::from_bytes(&bytes)?;
    let load = started.elapsed();
    anyhow::ensure!(
        loaded == model,
        "the written model does not load back identical"
    );
    println!(
        "model {}  {} bytes  written to {}  (trained in {} ms, loads in {} ms)",
        model.name(),
        bytes.len(),
        out.display(),
        trained.as_millis(),
        load.as_millis()
    );
    Ok(())
}
