//! The scale generator on the real database: its roll-ups equal what its appeal rows say,
//! the indexes it drops for the load are back, and the reports read what it wrote.

mod common;

use bakylau_reporting::domain::reference::Lang;
use bakylau_reporting::generator::{GenerateOptions, generate};
use bakylau_reporting::queries::{Dimension, today};
use common::*;

async fn appeal_indexes(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'reporting' AND tablename = 'appeals' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn generated_rollups_equal_the_generated_appeals() {
    let env = bakylau_testkit::TestEnv::new().await.unwrap();
    let settings = settings_for(&env);
    let pool = bakylau_reporting::connect(&settings).await.unwrap();
    let reports = bakylau_reporting::reports(pool.clone(), &settings).unwrap();
    let before = appeal_indexes(&pool).await;
    assert!(before.len() > 1, "the migration made secondary indexes");
    let opts = GenerateOptions {
        appeals: 3_000,
        until: today(),
        days: 90,
        seed: 7,
    };
    let mut batches = 0;
    let n = generate(&pool, &reports.directory, &opts, |_| batches += 1)
        .await
        .unwrap();
    assert_eq!((n, batches), (3_000, 1));
    assert_eq!(appeal_indexes(&pool).await, before);
    // A second run adds on top (no index games on a non-empty table).
    generate(
        &pool,
        &reports.directory,
        &GenerateOptions { seed: 8, ..opts },
        |_| {},
    )
    .await
    .unwrap();
    let checks = bakylau_reporting::check::rollups(&pool).await.unwrap();
    assert_eq!(checks.len(), 6);
    for (what, differ) in &checks {
        assert_eq!(*differ, 0, "{what}");
    }
    let period = bakylau_reporting::domain::period::Period::new(
        today() - chrono::Duration::days(89),
        today(),
    )
    .unwrap();
    let summary = reports
        .summary(&period, Dimension::Region, "", "", Lang::Ru)
        .await
        .unwrap();
    assert_eq!(summary.total.appeals, 6_000);
    // A broken roll-up is caught.
    sqlx::query(
        "UPDATE counts_by_district_category SET appeals = appeals + 1 \
         WHERE ctid = (SELECT ctid FROM counts_by_district_category WHERE grain = 'd' LIMIT 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let checks = bakylau_reporting::check::rollups(&pool).await.unwrap();
    let bad: Vec<_> = checks.iter().filter(|(_, n)| *n > 0).collect();
    assert_eq!(bad.len(), 2, "{checks:?}");
    pool.close().await;
}
