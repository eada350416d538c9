//! gRPC bootstrap shared by every service: `grpc.health.v1` driven by readiness (NOT_SERVING
//! while Postgres or the broker is lost, and during shutdown), reflection, trace context
//! from metadata, request metrics by method and code, authentication, hostile-input guards,
//! the audit log, a server-side time limit, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::transport::server::{Router, TcpIncoming};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use bakylau_proto::audit::v1::audit_log_server::AuditLogServer;

use crate::audit::{self, AuditLayer, AuditLogApi, AuditTrail};
use crate::auth::{AuthLayer, Policy, Verifier};
use crate::config::GrpcSettings;
use crate::grpc_metrics::{self, GrpcMetricsLayer};
use crate::health::Readiness;
use crate::limits::GuardLayer;
use crate::telemetry;

/// The server router every service builds on: its calls are counted and timed; every call
/// but health and reflection needs a verified bearer token the policy allows; hostile input
/// is refused as the caller's fault; reads of personal data and changes are audited.
pub type MeteredRouter = Router<
    tower_layer::Stack<
        AuditLayer,
        tower_layer::Stack<
            GuardLayer,
            tower_layer::Stack<
                AuthLayer,
                tower_layer::Stack<GrpcMetricsLayer, tower_layer::Identity>,
            >,
        >,
    >,
>;

#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error("gRPC reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC listen address {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// What a service brings to the shared router.
pub struct ServiceFrame<'a> {
    pub settings: &'a GrpcSettings,
    /// Full gRPC name, as health and reflection report it.
    pub name: &'static str,
    pub policy: Policy,
    /// The service's own pool: its audit log lives in its schema.
    pub pool: &'a PgPool,
    /// Background work of the router (JWKS reload) stops with it.
    pub shutdown: &'a CancellationToken,
    /// Per-caller limits on some methods (intake's RegisterAppeal).
    pub guard: GuardLayer,
}

/// A server router with health, reflection and the audit log's query service already
/// added; the service adds its own. Health starts NOT_SERVING (tonic-health would report
/// `""` as serving) until `watch_health` has seen every dependency up. Layers, outermost
/// first: metrics (every call, refusals included, by method and code under the service's
/// label), auth (token and policy), guard (hostile input, rate limits), audit.
pub async fn router(frame: ServiceFrame<'_>) -> Result<(MeteredRouter, HealthReporter), GrpcError> {
    let ServiceFrame {
        settings,
        name: service_name,
        policy,
        pool,
        shutdown,
        guard,
    } = frame;
    let verifier = Verifier::load(&settings.auth).await?;
    tokio::spawn(verifier.clone().refresh(shutdown.clone()));
    let policies: Arc<[Policy]> = Arc::new([policy, audit::POLICY]);
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    reporter
        .set_service_status(service_name, ServingStatus::NotServing)
        .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(bakylau_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // Only what this server serves, not every service in the shared descriptors.
            .with_service_name(service_name)
            .with_service_name(bakylau_proto::service_names::AUDIT_LOG)
            .with_service_name("grpc.health.v1.Health")
    };
    // v1alpha too: Python's grpcio-reflection and older grpcurl still ask for it.
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let audit_log = AuditLogServer::new(AuditLogApi { pool: pool.clone() });
    let mut server = Server::builder();
    if let Some(tls) = crate::tls::server_config(&settings.tls)? {
        server = server.tls_config(tls)?;
    }
    let router = server
        .timeout(Duration::from_millis(settings.request_timeout_ms))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        // Bounded work per client connection (issue 9): h2 would otherwise accept any number.
        .max_concurrent_streams(Some(crate::limits::MAX_STREAMS_PER_CONNECTION))
        .trace_fn(telemetry::grpc_server_span)
        .layer(GrpcMetricsLayer::new(grpc_metrics::service_label(
            service_name,
        )))
        .layer(AuthLayer::new(verifier, policies.clone()))
        .layer(guard)
        .layer(AuditLayer::new(AuditTrail::start(pool.clone()), policies))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(audit_log);
    Ok((router, reporter))
}

pub async fn bind(settings: &GrpcSettings) -> Result<TcpListener, GrpcError> {
    TcpListener::bind(&settings.listen)
        .await
        .map_err(|source| GrpcError::Bind {
            addr: settings.listen.clone(),
            source,
        })
}

/// Serves until `shutdown` fires, then finishes the calls in flight.
pub async fn serve(
    router: MeteredRouter,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), GrpcError> {
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    router
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await?;
    Ok(())
}

/// Keeps `grpc.health.v1` in step with readiness: checks Postgres every second and flips
/// `""` and `service_name` between SERVING and NOT_SERVING.
pub async fn watch_health(
    reporter: HealthReporter,
    service_name: &'static str,
    readiness: Arc<Readiness>,
    pool: PgPool,
    shutdown: CancellationToken,
) {
    let mut last = None;
    loop {
        let db_up = crate::db::is_healthy(&pool).await;
        readiness.set("postgres", db_up);
        let status = if readiness.is_ready() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if last != Some(status) {
            reporter.set_service_status("", status).await;
            reporter.set_service_status(service_name, status).await;
            if status == ServingStatus::NotServing {
                tracing::warn!(down = ?readiness.down_links(), "not serving");
            } else {
                tracing::info!("serving");
            }
            last = Some(status);
        }
        tokio::select! {
            _ = shutdown.cancelled() => {
                reporter.set_service_status("", ServingStatus::NotServing).await;
                reporter.set_service_status(service_name, ServingStatus::NotServing).await;
                return;
            }
            _ = readiness.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// A token cancelled on SIGTERM or SIGINT.
pub fn shutdown_on_signals(readiness: Arc<Readiness>) -> CancellationToken {
    let token = CancellationToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = ctrl_c.await;
                        readiness.begin_shutdown();
                        fire.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        readiness.begin_shutdown();
        fire.cancel();
    });
    token
}

/// `INVALID_ARGUMENT` with `message` and a `google.rpc.BadRequest` naming each field at
/// fault, for clients that read the details.
pub fn invalid_argument<F, M>(
    message: impl Into<String>,
    violations: impl IntoIterator<Item = (F, M)>,
) -> tonic::Status
where
    F: Into<String>,
    M: Into<String>,
{
    let details = tonic_types::ErrorDetails::with_bad_request(
        violations
            .into_iter()
            .map(|(field, text)| tonic_types::FieldViolation::new(field, text))
            .collect::<Vec<_>>(),
    );
    use tonic_types::StatusExt as _;
    tonic::Status::with_error_details(tonic::Code::InvalidArgument, message, details)
}
