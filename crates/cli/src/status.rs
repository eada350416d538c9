//! `bakylau status`: is each service up and ready (`grpc.health.v1`)? The local stack's
//! start script waits on it.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::Global;
use crate::client;
use crate::error::Unreachable;
use crate::output::{self, OutputFormat};

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Keep checking until every service is up, for at most this many seconds
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,
    /// Check only this service (repeat for several); all five when absent
    #[arg(long = "service", value_name = "NAME", value_parser = ["intake", "routing", "control", "reception", "reporting"])]
    pub services: Vec<String>,
}

/// One service to check. New services join this list with their own address flag.
struct Target {
    name: &'static str,
    grpc_name: &'static str,
    addr: String,
}

fn targets(g: &Global) -> Vec<Target> {
    use bakylau_proto::service_names as names;
    [
        ("intake", names::INTAKE, &g.intake),
        ("routing", names::ROUTING, &g.routing),
        ("control", names::CONTROL, &g.control),
        ("reception", names::RECEPTION, &g.reception),
        ("reporting", names::REPORTING, &g.reporting),
    ]
    .into_iter()
    .map(|(name, grpc_name, addr)| Target {
        name,
        grpc_name,
        addr: client::normalize_addr(addr),
    })
    .collect()
}

/// `SERVING`, `NOT_SERVING`, … or `UNREACHABLE (connection refused)`.
async fn check(t: &Target) -> String {
    let channel = match client::connect(
        t.name,
        &t.addr,
        Duration::from_secs(2),
        Duration::from_secs(3),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            return match e.downcast_ref::<Unreachable>() {
                Some(u) => format!("UNREACHABLE ({})", u.detail),
                None => format!("UNREACHABLE ({e})"),
            };
        }
    };
    let reply = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: t.grpc_name.to_owned(),
        })
        .await;
    match reply {
        Ok(r) => ServingStatus::try_from(r.into_inner().status)
            .map(|s| s.as_str_name().to_owned())
            .unwrap_or_else(|_| "UNKNOWN".into()),
        Err(s) => format!(
            "ERROR ({}: {})",
            crate::error::code_name(s.code()),
            s.message()
        ),
    }
}

pub async fn run(args: StatusArgs, g: &Global) -> Result<()> {
    let targets: Vec<Target> = targets(g)
        .into_iter()
        .filter(|t| args.services.is_empty() || args.services.iter().any(|s| s == t.name))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(args.wait.unwrap_or(0));
    let statuses = loop {
        let mut statuses = Vec::with_capacity(targets.len());
        for t in &targets {
            statuses.push(check(t).await);
        }
        if statuses.iter().all(|s| s == "SERVING") || Instant::now() >= deadline {
            break statuses;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    match g.output {
        OutputFormat::Text => {
            let rows: Vec<Vec<String>> = targets
                .iter()
                .zip(&statuses)
                .map(|(t, s)| vec![t.name.to_owned(), t.addr.clone(), s.clone()])
                .collect();
            output::print(&output::table(&["SERVICE", "ADDRESS", "STATUS"], &rows))?;
        }
        OutputFormat::Json => {
            let services: Vec<_> = targets
                .iter()
                .zip(&statuses)
                .map(|(t, s)| json!({ "service": t.name, "address": t.addr, "status": s }))
                .collect();
            output::print_json(&json!({ "services": services }))?;
        }
    }
    let down: Vec<&str> = targets
        .iter()
        .zip(&statuses)
        .filter(|(_, s)| *s != "SERVING")
        .map(|(t, _)| t.name)
        .collect();
    if !down.is_empty() {
        bail!("not serving: {}", down.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_service_nobody_runs_is_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = Target {
            name: "intake",
            grpc_name: bakylau_proto::service_names::INTAKE,
            addr: format!("http://127.0.0.1:{port}"),
        };
        assert_eq!(check(&t).await, "UNREACHABLE (connection refused)");
    }
}
