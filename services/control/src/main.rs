//! Wires control together: settings, telemetry, then `bakylau_control::run`.

use std::sync::Arc;

use bakylau_control::{SERVICE, run, settings::Settings};
use bakylau_platform::{config, grpc, health::Readiness, telemetry};

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
        tracing::error!(error = %format!("{e:#}"), "control stopped with an error");
    }
    telemetry.shutdown();
    result
}
