//! TLS to Postgres through the platform's own `db::connect`, against the machine's
//! PostgreSQL (`ssl = on` with Debian's self-signed "snakeoil" certificate, which the
//! `postgresql` package creates through `ssl-cert`): `sslmode=verify-ca` with that
//! certificate as the root gives an encrypted session, `verify-full` checks the name too.

use std::path::Path;

use bakylau_platform::config::DatabaseSettings;
use bakylau_platform::db;

/// The certificate Debian's PostgreSQL serves by default.
const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

fn snakeoil() -> &'static str {
    assert!(
        Path::new(SNAKEOIL).exists(),
        "{SNAKEOIL} is missing: this test needs the local PostgreSQL with `ssl = on` and \
         Debian's snakeoil certificate (package ssl-cert, installed with postgresql; \
         `make-ssl-cert generate-default-snakeoil` makes it)"
    );
    SNAKEOIL
}

fn settings(query: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: format!("postgres://postgres@127.0.0.1:5432/postgres?{query}"),
        max_connections: 1,
        min_connections: 0,
        acquire_timeout_ms: 10_000,
        ..Default::default()
    }
}

/// Whether the pool's session is encrypted, as the server sees it.
async fn encrypted(pool: &sqlx::PgPool) -> bool {
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn verify_ca_with_the_servers_root_gives_an_encrypted_session() {
    let pool = db::connect(
        &settings(&format!("sslmode=verify-ca&sslrootcert={}", snakeoil())),
        "public",
    )
    .await
    .expect("TLS to the local PostgreSQL, its certificate verified");
    assert!(encrypted(&pool).await, "the session must be encrypted");
    pool.close().await;

    let plain = db::connect(&settings("sslmode=disable"), "public")
        .await
        .expect("plaintext when asked");
    assert!(!encrypted(&plain).await, "sslmode=disable");
    plain.close().await;
}

/// `verify-full` also checks the name: the snakeoil certificate names `localhost`, not
/// `127.0.0.1`. (A root that did not sign the server's certificate being refused is proved
/// in `tests/tests/transport_tls.rs` on a private cluster with the test CA: here the
/// snakeoil certificate is also in the system's trust folder, `/etc/ssl/certs`, which
/// sqlx trusts besides `sslrootcert`.)
#[tokio::test]
async fn verify_full_refuses_a_certificate_for_another_name() {
    let e = db::connect(
        &settings(&format!("sslmode=verify-full&sslrootcert={}", snakeoil())),
        "public",
    )
    .await
    .expect_err("the certificate names localhost, not 127.0.0.1")
    .to_string();
    assert!(
        e.to_ascii_lowercase().contains("certificate"),
        "says why: {e}"
    );

    let mut by_name = settings(&format!("sslmode=verify-full&sslrootcert={}", snakeoil()));
    by_name.url = by_name.url.replace("127.0.0.1", "localhost");
    let pool = db::connect(&by_name, "public")
        .await
        .expect("verify-full by the certificate's name");
    assert!(encrypted(&pool).await);
    pool.close().await;
}
