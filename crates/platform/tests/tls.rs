//! TLS and mutual TLS on a server built by `grpc::router`, over a real loopback socket:
//! a client that trusts the CA and presents a certificate it signed gets through; plaintext,
//! a missing or foreign client certificate and an untrusted server are refused.

use std::path::PathBuf;
use std::time::Duration;

use bakylau_platform::CancellationToken;
use bakylau_platform::auth::{AuthSettings, Policy};
use bakylau_platform::config::GrpcSettings;
use bakylau_platform::grpc;
use bakylau_platform::tls::{ClientTlsSettings, ServerTlsSettings, endpoint};
use tokio::net::TcpListener;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn key(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/keys")).join(name)
}

const NO_METHODS: Policy = &[];

/// A server with `tls` on a loopback port; returns its `http://127.0.0.1:port` address.
async fn serve(tls: ServerTlsSettings, shutdown: &CancellationToken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let mut settings = GrpcSettings::with_listen("");
    settings.auth = AuthSettings {
        jwks: key("test-jwks.json").display().to_string(),
        issuer: "tls-test".into(),
        ..Default::default()
    };
    settings.tls = tls;
    // Never connected: health calls are not audited.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://127.0.0.1:1/unused")
        .unwrap();
    let (router, _reporter) = grpc::router(grpc::ServiceFrame {
        settings: &settings,
        name: "bakylau.probe.v1.Probe",
        policy: NO_METHODS,
        pool: &pool,
        shutdown,
        guard: Default::default(),
    })
    .await
    .unwrap();
    tokio::spawn(grpc::serve(router, listener, shutdown.clone()));
    addr
}

fn mutual() -> ServerTlsSettings {
    ServerTlsSettings {
        cert_file: Some(key("tls/server.pem")),
        key_file: Some(key("tls/server.key")),
        client_ca_file: Some(key("tls/ca.pem")),
    }
}

fn client(ca: &str, cert: Option<(&str, &str)>) -> ClientTlsSettings {
    ClientTlsSettings {
        ca_file: Some(key(ca)),
        cert_file: cert.map(|(c, _)| key(c)),
        key_file: cert.map(|(_, k)| key(k)),
        domain: None,
    }
}

/// Whether a health check over `tls` reaches the server at `addr`.
async fn reaches(addr: &str, tls: &ClientTlsSettings) -> bool {
    let Ok(endpoint) = endpoint(addr, tls) else {
        return false;
    };
    let Ok(channel) = endpoint.timeout(Duration::from_secs(5)).connect().await else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .is_ok()
}

#[tokio::test]
async fn mutual_tls_lets_in_only_clients_with_a_certificate_from_the_ca() {
    let shutdown = CancellationToken::new();
    let addr = serve(mutual(), &shutdown).await;

    let member = client("tls/ca.pem", Some(("tls/client.pem", "tls/client.key")));
    assert!(reaches(&addr, &member).await, "a client of the CA");
    assert!(
        !reaches(&addr, &ClientTlsSettings::default()).await,
        "plaintext"
    );
    assert!(
        !reaches(&addr, &client("tls/ca.pem", None)).await,
        "no client certificate"
    );
    assert!(
        !reaches(
            &addr,
            &client("tls/ca.pem", Some(("tls/stranger.pem", "tls/stranger.key")))
        )
        .await,
        "a certificate from another CA"
    );
    assert!(
        !reaches(
            &addr,
            &client(
                "tls/other-ca.pem",
                Some(("tls/client.pem", "tls/client.key"))
            )
        )
        .await,
        "a server the client's CA did not sign"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn server_tls_without_client_certificates() {
    let shutdown = CancellationToken::new();
    let addr = serve(
        ServerTlsSettings {
            client_ca_file: None,
            ..mutual()
        },
        &shutdown,
    )
    .await;
    assert!(reaches(&addr, &client("tls/ca.pem", None)).await);
    assert!(
        !reaches(&addr, &ClientTlsSettings::default()).await,
        "plaintext"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn without_tls_settings_the_server_speaks_plaintext() {
    let shutdown = CancellationToken::new();
    let addr = serve(ServerTlsSettings::default(), &shutdown).await;
    assert!(reaches(&addr, &ClientTlsSettings::default()).await);
    assert!(
        !reaches(&addr, &client("tls/ca.pem", None)).await,
        "TLS to a plaintext server"
    );
    shutdown.cancel();
}
