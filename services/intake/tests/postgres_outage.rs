//! PostgreSQL stopped and started under a running intake: health turns NOT_SERVING, a
//! registration is refused as UNAVAILABLE (so the client retries) rather than lost, and
//! everything comes back by itself. Alone in its test binary because it stops the
//! machine's database server.

mod common;

use std::process::Command;
use std::time::Duration;

use tonic::Code;

fn cluster(action: &str) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("a Debian PostgreSQL cluster")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .max()
        .expect("a PostgreSQL version");
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", action])
        .status()
        .expect("pg_ctlcluster");
    assert!(status.success(), "pg_ctlcluster {action}");
}

#[tokio::test]
async fn database_outage_is_reported_and_survived() {
    let svc = common::start().await;
    let mut client = svc.client().await;
    client
        .register_appeal(common::request(900, "До сбоя базы"))
        .await
        .unwrap();

    cluster("stop");
    let outage = async {
        assert!(
            common::serving_within(&svc.addr, false, Duration::from_secs(10)).await,
            "health stays SERVING without Postgres"
        );
        let req = common::request(901, "Во время сбоя базы");
        let err = client.register_appeal(req.clone()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        req
    }
    .await;
    cluster("start");

    assert!(
        common::serving_within(&svc.addr, true, Duration::from_secs(30)).await,
        "health does not come back with Postgres"
    );
    // The client retries with the same request_id and gets exactly one appeal.
    let first = client
        .register_appeal(outage.clone())
        .await
        .unwrap()
        .into_inner();
    let again = client.register_appeal(outage).await.unwrap().into_inner();
    assert_eq!(first.appeal.unwrap().id, again.appeal.unwrap().id);
    assert!(again.replayed);
    svc.stop().await;
}
