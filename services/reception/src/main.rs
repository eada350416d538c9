//! Wires reception together: settings, telemetry, then `bakylau_reception::run`.

use std::sync::Arc;

use bakylau_platform::{config, grpc, health::Readiness, telemetry};
use bakylau_reception::{SERVICE, run, settings::Settings};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings: Settings = config::load(SERVICE, &Settings::default())?;
    let telemetry = telemetry::init(SERVICE)?;
    telemetry::init_metrics(&settings.metrics.listen)?;
    let readiness = Arc::new(Readiness::new());
    let shutdown = grpc::shutdown_on_signals(readiness.clone());
    let listener = grpc::bind(&settings.grpc).await?;
    let result = run(settings, listener, shutdown, readiness).await;
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "reception stopped with an error");
    }
    telemetry.shutdown();
    result
}
