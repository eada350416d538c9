//! The identity provider's JWKS over https, from a tiny HTTPS server on a loopback socket
//! whose certificate the test CA (`tests/keys/tls/`) signed: with that CA configured a
//! token signed by the test key verifies; without it, with another CA, or with an answer
//! other than 200, the verifier does not load (so the service does not start).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bakylau_platform::auth::{AuthSettings, Role, TokenMinter, Verifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const ISSUER: &str = "jwks-https-test";
const KEY_ID: &str = "bakylau-test-1";

fn key(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/keys")).join(name)
}

/// Serves `status` with `body` to every request, over TLS with the test server
/// certificate (`localhost`, `127.0.0.1`); returns `https://127.0.0.1:port/jwks.json`.
async fn serve(status: &'static str, body: &'static str) -> String {
    let certs = CertificateDer::pem_file_iter(key("tls/server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let private = PrivateKeyDer::from_pem_file(key("tls/server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, private)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

fn settings(url: &str, ca: Option<&str>) -> AuthSettings {
    AuthSettings {
        jwks: url.to_owned(),
        jwks_ca_file: ca.map(key),
        issuer: ISSUER.into(),
        ..Default::default()
    }
}

/// Why the verifier does not load (shown with `--nocapture`).
async fn load_error(settings: &AuthSettings) -> String {
    let e = tokio::time::timeout(Duration::from_secs(20), Verifier::load(settings))
        .await
        .expect("the JWKS read gives up within its own 10 s")
        .expect_err("the verifier must not load")
        .to_string();
    eprintln!("refused: {e}");
    e
}

#[tokio::test]
async fn a_jwks_over_https_from_a_configured_ca_verifies_tokens() {
    let url = serve("200 OK", include_str!("../../../tests/keys/test-jwks.json")).await;
    let verifier = Verifier::load(&settings(&url, Some("tls/ca.pem")))
        .await
        .expect("JWKS over https with the test CA");
    let minter = TokenMinter::from_file(
        &key("test-signing-key.pem"),
        Some(KEY_ID.into()),
        ISSUER,
        "bakylau",
    )
    .unwrap();
    let token = minter
        .mint(
            "registrar-1",
            Role::Registrar,
            None,
            None,
            Duration::from_secs(60),
        )
        .unwrap();
    let caller = verifier.verify(&token).expect("a token of the test key");
    assert_eq!(caller.role, Role::Registrar);
    assert_eq!(caller.subject, "registrar-1");

    let foreign = TokenMinter::from_file(
        &key("other-signing-key.pem"),
        Some(KEY_ID.into()),
        ISSUER,
        "bakylau",
    )
    .unwrap()
    .mint(
        "registrar-1",
        Role::Registrar,
        None,
        None,
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(verifier.verify(&foreign).is_err(), "a key not in the JWKS");
}

#[tokio::test]
async fn an_untrusted_https_server_is_refused() {
    let url = serve("200 OK", include_str!("../../../tests/keys/test-jwks.json")).await;

    let e = load_error(&settings(&url, None)).await;
    assert!(e.contains(&url), "names the JWKS: {e}");
    assert!(
        e.to_ascii_lowercase().contains("certificate"),
        "says the certificate is not trusted: {e}"
    );

    let e = load_error(&settings(&url, Some("tls/other-ca.pem"))).await;
    assert!(
        e.to_ascii_lowercase().contains("certificate"),
        "another CA: {e}"
    );
}

#[tokio::test]
async fn an_answer_other_than_200_is_refused() {
    let url = serve("404 Not Found", "{\"keys\":[]}").await;
    let e = load_error(&settings(&url, Some("tls/ca.pem"))).await;
    assert!(e.contains("HTTP status 404"), "{e}");
}

#[tokio::test]
async fn a_missing_ca_file_is_a_clear_error() {
    let e = load_error(&settings(
        "https://127.0.0.1:1/jwks.json",
        Some("tls/absent.pem"),
    ))
    .await;
    assert!(e.contains("absent.pem"), "{e}");
}

#[tokio::test]
async fn a_jwks_over_plain_http_still_loads() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let body = include_str!("../../../tests/keys/test-jwks.json");
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tcp.write_all(response.as_bytes()).await;
        }
    });
    Verifier::load(&settings(&url, None))
        .await
        .expect("JWKS over http");
}
