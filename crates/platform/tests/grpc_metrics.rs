//! Real gRPC calls over a loopback socket to a server built by `grpc::router` are counted
//! by method and status code and timed, as Prometheus renders them.

use std::convert::Infallible;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use bakylau_platform::CancellationToken;
use bakylau_platform::auth::{AuthSettings, MethodPolicy, Role, TokenMinter};
use bakylau_platform::config::GrpcSettings;
use bakylau_platform::grpc;
use bakylau_platform::grpc_metrics::{self, REQUEST_DURATION, REQUESTS_TOTAL};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// One recorder per test process (the recorder is global, as in a service).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        grpc_metrics::with_buckets(PrometheusBuilder::new())
            .unwrap()
            .install_recorder()
            .expect("the only recorder in this test process")
    })
}

/// A service that refuses every call as a pre-review failure does.
#[derive(Clone)]
struct Refusing;

impl tonic::server::NamedService for Refusing {
    const NAME: &'static str = "bakylau.probe.v1.Probe";
}

impl tonic::codegen::Service<http::Request<Body>> for Refusing {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<Body>) -> Self::Future {
        let status = grpc::invalid_argument("the IIN is wrong", [("iin", "wrong check digit")]);
        std::future::ready(Ok(status.into_http()))
    }
}

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/keys");
const POLICY: &[MethodPolicy] = &[MethodPolicy {
    path: "/bakylau.probe.v1.Probe/Submit",
    roles: &[Role::Registrar],
    audit: bakylau_platform::audit::Audit::No,
}];

/// `Bearer <token>` for a registrar, signed with the test key.
fn bearer() -> tonic::metadata::MetadataValue<tonic::metadata::Ascii> {
    let minter = TokenMinter::from_file(
        std::path::Path::new(&format!("{KEYS}/test-signing-key.pem")),
        Some("bakylau-test-1".into()),
        "metrics-test",
        "bakylau",
    )
    .unwrap();
    let token = minter
        .mint("r", Role::Registrar, None, None, Duration::from_secs(60))
        .unwrap();
    format!("Bearer {token}").parse().unwrap()
}

/// A server labelled `service` with health, reflection and `Refusing`, on a loopback port.
async fn serve(grpc_service_name: &'static str) -> (Channel, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = GrpcSettings::with_listen("");
    settings.auth = AuthSettings {
        jwks: format!("{KEYS}/test-jwks.json"),
        issuer: "metrics-test".into(),
        ..Default::default()
    };
    // Never connected: the probe method is not audited, so nothing writes.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://127.0.0.1:1/unused")
        .unwrap();
    let shutdown = CancellationToken::new();
    let (router, _reporter) = grpc::router(grpc::ServiceFrame {
        settings: &settings,
        name: grpc_service_name,
        policy: POLICY,
        pool: &pool,
        shutdown: &shutdown,
        guard: Default::default(),
    })
    .await
    .unwrap();
    tokio::spawn(grpc::serve(
        router.add_service(Refusing),
        listener,
        shutdown.clone(),
    ));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    (channel, shutdown)
}

/// The value of the sample of `name` whose labels include all of `labels`.
fn sample(rendered: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    rendered.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (label_text, value) = rest.rsplit_once("} ")?;
        labels
            .iter()
            .all(|(k, v)| label_text.split(',').any(|l| l == format!("{k}=\"{v}\"")))
            .then(|| value.trim().parse().ok())?
    })
}

async fn call_unary(channel: Channel, path: &'static str) -> tonic::Status {
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let mut request = tonic::Request::new(());
    request.metadata_mut().insert("authorization", bearer());
    client
        .unary::<(), (), _>(
            request,
            http::uri::PathAndQuery::from_static(path),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .expect_err("the call is refused")
}

#[tokio::test]
async fn calls_are_counted_by_method_and_code_and_timed() {
    let handle = recorder();
    let (channel, shutdown) = serve("bakylau.counted.v1.CountedService").await;
    let mut health = HealthClient::new(channel.clone());
    for _ in 0..2 {
        health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health answers");
    }
    let not_found = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .expect_err("an unknown service's health");
    assert_eq!(not_found.code(), tonic::Code::NotFound);
    let refused = call_unary(channel.clone(), "/bakylau.probe.v1.Probe/Submit").await;
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let unknown = call_unary(channel.clone(), "/nobody.Here/Anything").await;
    assert_eq!(unknown.code(), tonic::Code::Unimplemented);

    let rendered = handle.render();
    let count = |method: &str, code: &str| {
        sample(
            &rendered,
            REQUESTS_TOTAL,
            &[("service", "counted"), ("method", method), ("code", code)],
        )
    };
    assert_eq!(
        count("/grpc.health.v1.Health/Check", "Ok"),
        Some(2.0),
        "{rendered}"
    );
    assert_eq!(
        count("/grpc.health.v1.Health/Check", "NotFound"),
        Some(1.0),
        "{rendered}"
    );
    assert_eq!(
        count("/bakylau.probe.v1.Probe/Submit", "InvalidArgument"),
        Some(1.0),
        "{rendered}"
    );
    assert_eq!(count("/bakylau.probe.v1.Probe/Submit", "Ok"), None);
    // A path nobody serves is not a label of its own.
    assert_eq!(count("unknown", "Unimplemented"), Some(1.0), "{rendered}");
    assert!(!rendered.contains("nobody.Here"), "{rendered}");

    // The duration is a histogram with buckets, one observation per call.
    let check = [
        ("service", "counted"),
        ("method", "/grpc.health.v1.Health/Check"),
    ];
    assert_eq!(
        sample(&rendered, &format!("{REQUEST_DURATION}_count"), &check),
        Some(3.0),
        "{rendered}"
    );
    assert_eq!(
        sample(
            &rendered,
            &format!("{REQUEST_DURATION}_bucket"),
            &[check[0], check[1], ("le", "+Inf")]
        ),
        Some(3.0),
        "{rendered}"
    );
    assert!(
        sample(
            &rendered,
            &format!("{REQUEST_DURATION}_bucket"),
            &[check[0], check[1], ("le", "30")]
        )
        .is_some(),
        "the 30 s bucket: {rendered}"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn a_call_the_client_abandons_counts_as_cancelled() {
    let handle = recorder();
    let (channel, shutdown) = serve("bakylau.abandoned.v1.AbandonedService").await;
    let mut health = HealthClient::new(channel);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch starts")
        .into_inner();
    watch.message().await.expect("a first status").unwrap();
    drop(watch);
    let labels = [
        ("service", "abandoned"),
        ("method", "/grpc.health.v1.Health/Watch"),
        ("code", "Cancelled"),
    ];
    // The server sees the stream reset after the client dropped it; wait for that.
    let mut counted = None;
    for _ in 0..200 {
        counted = sample(&handle.render(), REQUESTS_TOTAL, &labels);
        if counted.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counted, Some(1.0), "{}", handle.render());
    shutdown.cancel();
}
