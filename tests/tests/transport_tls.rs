//! TLS to the broker and the database, on private servers (the machine's shared ones are
//! never reconfigured) whose certificates the test CA (`tests/keys/tls/`) signed.
//!
//! RabbitMQ: `amqps://` through the platform's broker (`Broker::from_settings`) to a node
//! with a TLS listener that demands a client certificate from the test CA (mutual TLS).
//! With the CA and a client certificate configured a message is published with confirms
//! and consumed, and the node reports the connection as TLS; without the CA, with another
//! CA, without a client certificate or with one from another CA it is refused.
//!
//! PostgreSQL: `sslmode=verify-full` through the platform's `db::connect` to a cluster
//! serving the test server certificate: with `sslrootcert` the test CA the session is
//! encrypted (`pg_stat_ssl`); with another CA, or no root but the system's, it is refused.

use std::path::PathBuf;
use std::time::Duration;

use bakylau_platform::broker::{self, Broker, BrokerTlsSettings};
use bakylau_platform::config::BrokerSettings;
use bakylau_platform::config::DatabaseSettings;
use bakylau_platform::db;
use bakylau_testkit::private::{PrivatePostgres, PrivateRabbit, RabbitTls};
use futures::StreamExt as _;
use lapin::BasicProperties;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueDeclareOptions};
use lapin::types::FieldTable;

fn key(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/keys")).join(name)
}

fn broker(url: &str, ca: Option<&str>, cert: Option<(&str, &str)>) -> Broker {
    let settings = BrokerSettings {
        url: url.to_owned(),
        tls: BrokerTlsSettings {
            ca_file: ca.map(key),
            cert_file: cert.map(|(c, _)| key(c)),
            key_file: cert.map(|(_, k)| key(k)),
        },
        ..Default::default()
    };
    Broker::from_settings(&settings, "amqp-tls-test").expect("readable TLS files")
}

/// Asserts that one connection attempt fails, and shows why (`--nocapture`).
async fn refused(broker: &Broker, what: &str) {
    match tokio::time::timeout(Duration::from_secs(30), broker.try_connect("probe")).await {
        Err(_) => eprintln!("{what}: refused (no answer within 30 s)"),
        Ok(Err(e)) => eprintln!("{what}: refused: {e}"),
        Ok(Ok(conn)) => {
            let _ = conn.close(200, "probe".into()).await;
            panic!("{what}: must be refused");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_with_the_ca_and_a_client_certificate_carries_messages_others_are_refused() {
    let tls = RabbitTls {
        ca_file: key("tls/ca.pem"),
        cert_file: key("tls/server.pem"),
        key_file: key("tls/server.key"),
        require_client_cert: true,
    };
    let mq = tokio::task::spawn_blocking(move || PrivateRabbit::start_with_tls(&tls))
        .await
        .unwrap()
        .expect("a private RabbitMQ node with a TLS listener");
    let url = mq.amqps_url().unwrap();
    let member = Some(("tls/client.pem", "tls/client.key"));

    // The CA and a client certificate from it: publish with confirms, consume.
    let ok = broker(&url, Some("tls/ca.pem"), member);
    let conn = ok
        .try_connect("publish")
        .await
        .expect("amqps:// with the test CA and a client certificate");
    let ch = broker::confirm_channel(&conn).await.unwrap();
    let queue = "tls.test";
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    broker::publish_confirmed(
        &ch,
        "",
        queue,
        b"over TLS",
        BasicProperties::default(),
        Duration::from_secs(10),
    )
    .await
    .expect("the broker confirms the message");
    let mut consumer = ch
        .basic_consume(
            queue.into(),
            "tls-test".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("the message comes back")
        .expect("a delivery")
        .expect("no consumer error");
    assert_eq!(delivery.data, b"over TLS");
    delivery.ack(BasicAckOptions::default()).await.unwrap();

    // The node itself says the connection is TLS.
    let ssl = mq
        .ctl(&["-q", "list_connections", "ssl", "--no-table-headers"])
        .unwrap();
    assert!(
        ssl.lines().any(|l| l.trim() == "true"),
        "the node lists a TLS connection: {ssl:?}"
    );
    conn.close(200, "done".into()).await.unwrap();

    // No CA configured: the system's roots do not include the test CA.
    refused(
        &broker(&url, None, member),
        "a client that does not trust the server's CA",
    )
    .await;
    refused(
        &broker(&url, Some("tls/other-ca.pem"), member),
        "a client trusting another CA",
    )
    .await;
    // The broker demands a client certificate from its CA.
    refused(
        &broker(&url, Some("tls/ca.pem"), None),
        "a client without a certificate",
    )
    .await;
    refused(
        &broker(
            &url,
            Some("tls/ca.pem"),
            Some(("tls/stranger.pem", "tls/stranger.key")),
        ),
        "a client certificate from another CA",
    )
    .await;
    // Plaintext AMQP on the TLS port is no way round it.
    let plain = url.replacen("amqps://", "amqp://", 1);
    refused(
        &broker(&plain, Some("tls/ca.pem"), member),
        "plaintext to the TLS listener",
    )
    .await;
}

#[tokio::test]
async fn unreadable_tls_files_are_a_settings_error() {
    let settings = BrokerSettings {
        url: "amqps://guest:guest@127.0.0.1:1/%2f".into(),
        tls: BrokerTlsSettings {
            ca_file: Some(key("tls/absent.pem")),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = Broker::from_settings(&settings, "amqp-tls-test")
        .err()
        .expect("a missing CA file")
        .to_string();
    assert!(e.contains("absent.pem"), "{e}");

    let settings = BrokerSettings {
        tls: BrokerTlsSettings {
            cert_file: Some(key("tls/client.pem")),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(
        Broker::from_settings(&settings, "amqp-tls-test").is_err(),
        "a certificate without its key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_verify_full_trusts_only_the_configured_root() {
    let (cert, private) = (key("tls/server.pem"), key("tls/server.key"));
    let pg = tokio::task::spawn_blocking(move || PrivatePostgres::start_with_tls(&cert, &private))
        .await
        .unwrap()
        .expect("a private PostgreSQL cluster serving TLS");
    let settings = |query: &str| DatabaseSettings {
        url: format!("{}?{query}", pg.url("postgres")),
        max_connections: 1,
        min_connections: 0,
        acquire_timeout_ms: 10_000,
        ..Default::default()
    };
    let root = |name: &str| format!("sslmode=verify-full&sslrootcert={}", key(name).display());

    let pool = db::connect(&settings(&root("tls/ca.pem")), "public")
        .await
        .expect("verify-full with the test CA");
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(ssl, "the session is encrypted");
    pool.close().await;

    for (query, what) in [
        (
            root("tls/other-ca.pem"),
            "a root that did not sign the server's certificate",
        ),
        (
            "sslmode=verify-full".to_owned(),
            "no root but the system's, which lack the test CA",
        ),
    ] {
        let e = db::connect(&settings(&query), "public")
            .await
            .err()
            .unwrap_or_else(|| panic!("{what} must be refused"))
            .to_string();
        assert!(
            e.to_ascii_lowercase().contains("certificate"),
            "{what}: says why: {e}"
        );
    }
}
