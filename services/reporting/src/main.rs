//! Wires reporting together: settings, telemetry, then `bakylau_reporting::run` — or one of
//! the operator's commands (rebuild the read model, generate data for scale, benchmark).

use std::sync::Arc;

use bakylau_platform::{config, grpc, health::Readiness, telemetry};
use bakylau_reporting::{SERVICE, bench, generator, run, settings::Settings};
use clap::{Parser, Subcommand};

/// Bakylau reporting service.
#[derive(Parser, Debug)]
#[command(name = "bakylau-reporting", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve gRPC and consume events (the default)
    Serve,
    /// Empty the read model and replay every stored event
    Rebuild,
    /// Fill the read model with synthetic appeals and lifecycles (scale tests)
    Generate {
        /// How many appeals
        #[arg(long, default_value_t = 100_000)]
        appeals: u64,
        /// Days covered, ending today
        #[arg(long, default_value_t = 730)]
        days: u32,
        /// Seed of the generator (same seed, same data)
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Time every report query at the current size and print a table
    Bench,
    /// Check the roll-ups against the appeals and their daily rows (fails on a mismatch)
    Check,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings: Settings = config::load(SERVICE, &Settings::default())?;
    let telemetry = telemetry::init(SERVICE)?;
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            telemetry::init_metrics(&settings.metrics.listen)?;
            let readiness = Arc::new(Readiness::new());
            let shutdown = grpc::shutdown_on_signals(readiness.clone());
            let listener = grpc::bind(&settings.grpc).await?;
            run(settings, listener, shutdown, readiness).await
        }
        Command::Rebuild => {
            async {
                let reports = bakylau_reporting::reports(
                    bakylau_reporting::connect(&settings).await?,
                    &settings,
                )?;
                let (events, appeals) = bakylau_reporting::api::rebuild(&reports).await?;
                println!("replayed {events} events; {appeals} appeals in the read model");
                Ok(())
            }
            .await
        }
        Command::Generate {
            appeals,
            days,
            seed,
        } => {
            async {
                let pool = bakylau_reporting::connect(&settings).await?;
                let reports = bakylau_reporting::reports(pool.clone(), &settings)?;
                let started = std::time::Instant::now();
                let opts = generator::GenerateOptions {
                    appeals,
                    until: bakylau_reporting::queries::today(),
                    days,
                    seed,
                };
                let n = generator::generate(&pool, &reports.directory, &opts, |done| {
                    eprintln!(
                        "{done} appeals written ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    );
                })
                .await?;
                // Statistics and the visibility map for the reports' first queries.
                sqlx::raw_sql("VACUUM (ANALYZE)").execute(&pool).await?;
                println!(
                    "generated {n} appeals in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                Ok(())
            }
            .await
        }
        Command::Bench => {
            async {
                let reports = bakylau_reporting::reports(
                    bakylau_reporting::connect(&settings).await?,
                    &settings,
                )?;
                let (appeals, timings) = bench::run(&reports).await?;
                print!("{}", bench::table(appeals, &timings));
                Ok(())
            }
            .await
        }
        Command::Check => {
            async {
                let pool = bakylau_reporting::connect(&settings).await?;
                let mut bad = 0;
                for (what, n) in bakylau_reporting::check::rollups(&pool).await? {
                    println!("{what}: {n} rows differ");
                    bad += n;
                }
                anyhow::ensure!(bad == 0, "{bad} roll-up rows differ");
                Ok(())
            }
            .await
        }
    };
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "reporting stopped with an error");
    }
    telemetry.shutdown();
    result
}
