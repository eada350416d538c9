//! What every Bakylau service shares: layered configuration, telemetry, Postgres with the
//! service's own schema, RabbitMQ (topology, outbox relay, inbox consumer) and the gRPC
//! bootstrap (health, reflection, shutdown).

pub mod audit;
pub mod auth;
pub mod broker;
pub mod config;
pub mod db;
pub mod grpc;
pub mod grpc_metrics;
pub mod health;
pub mod limits;
pub mod personal_data;
pub mod telemetry;
pub mod tls;

pub use tokio_util::sync::CancellationToken;
