//! Consistency of the roll-ups: the appeal counters equal what the `appeals` rows say, and
//! every monthly row equals the sum of its month's daily rows. Run by the tests after a
//! rebuild and after the generator, and by the `check` command at any size.

use sqlx::PgPool;

/// Key and value columns of one roll-up table (all keyed by `grain`, `day` and these).
pub struct Rollup {
    pub table: &'static str,
    pub keys: &'static [&'static str],
    pub values: &'static [&'static str],
}

const COUNTS: &[&str] = &["appeals", "repeated", "collective"];

pub const ROLLUPS: &[Rollup] = &[
    Rollup {
        table: "counts_by_dim",
        keys: &["dim", "key"],
        values: COUNTS,
    },
    Rollup {
        table: "counts_by_district_category",
        keys: &["district", "category"],
        values: COUNTS,
    },
    Rollup {
        table: "body_activity",
        keys: &["body"],
        values: &crate::domain::rollup::BODY_COUNTERS,
    },
    Rollup {
        table: "reception_activity",
        keys: &["district", "body"],
        values: &["booked", "cancelled", "held"],
    },
];

/// The dimensions of `counts_by_dim` as SQL expressions over an `appeals` row `a`, as the
/// projection keys them (`projection::rural_key` for the rural district).
const DIMS: &str = "(VALUES ('total', ''), ('region', a.region), ('district', a.district), \
     ('rural_district', a.district || '/' || a.rural_district), ('kind', a.kind), \
     ('channel', a.channel), ('category', a.category), ('body', a.body))";

/// Zero rows (left behind when an appeal moved) count as absent.
fn nonzero(values: &[&str], alias: &str) -> String {
    values
        .iter()
        .map(|v| format!("{alias}.{v} <> 0"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Rows where two aggregates `x` and `y` over `keys` + `values` disagree (missing = 0).
fn differ(keys: &[&str], values: &[&str], x: &str, y: &str) -> String {
    let on: Vec<String> = keys.iter().map(|k| format!("{x}.{k} = {y}.{k}")).collect();
    let diff: Vec<String> = values
        .iter()
        .map(|v| format!("coalesce({x}.{v}, 0) <> coalesce({y}.{v}, 0)"))
        .collect();
    format!(
        "SELECT count(*)::int8 FROM {x} FULL JOIN {y} ON {} WHERE {}",
        on.join(" AND "),
        diff.join(" OR ")
    )
}

/// SQL counting the monthly rows of a roll-up that differ from the sum of their days.
pub fn months_vs_days_sql(r: &Rollup) -> String {
    let keys = r.keys.join(", ");
    let sums: Vec<String> = r
        .values
        .iter()
        .map(|v| format!("sum({v})::int8 AS {v}"))
        .collect();
    let values = r.values.join(", ");
    let mut all_keys = vec!["day"];
    all_keys.extend(r.keys);
    format!(
        "WITH d AS (SELECT date_trunc('month', day)::date AS day, {keys}, {} FROM {t} \
         WHERE grain = 'd' GROUP BY 1, {keys}), \
         m AS (SELECT day, {keys}, {values} FROM {t} WHERE grain = 'm' AND ({})) {}",
        sums.join(", "),
        nonzero(r.values, r.table),
        differ(&all_keys, r.values, "d", "m"),
        t = r.table,
    )
}

/// SQL counting the daily appeal counters that differ from the registered `appeals` rows.
pub fn appeals_vs_rollup_sql(table: &str) -> String {
    let (keys, select, from) = if table == "counts_by_dim" {
        (
            vec!["day", "dim", "key"],
            "d.dim, d.key",
            format!("appeals a CROSS JOIN LATERAL {DIMS} AS d(dim, key)"),
        )
    } else {
        (
            vec!["day", "district", "category"],
            "a.district, a.category",
            "appeals a".to_owned(),
        )
    };
    let group: Vec<String> = (1..=keys.len()).map(|i| i.to_string()).collect();
    format!(
        "WITH raw AS (SELECT a.reg_day AS day, {select}, count(*)::int8 AS appeals, \
         count(*) FILTER (WHERE a.repeated)::int8 AS repeated, \
         count(*) FILTER (WHERE a.collective)::int8 AS collective FROM {from} \
         WHERE a.registered_at IS NOT NULL GROUP BY {}), \
         rolled AS (SELECT {}, appeals, repeated, collective FROM {table} WHERE grain = 'd' AND ({})) {}",
        group.join(", "),
        keys.join(", "),
        nonzero(COUNTS, table),
        differ(&keys, COUNTS, "raw", "rolled"),
    )
}

/// Mismatching rows per check, named `table: what`; all zero when the roll-ups are right.
pub async fn rollups(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let mut out = Vec::new();
    for table in ["counts_by_dim", "counts_by_district_category"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(appeals_vs_rollup_sql(table)))
            .fetch_one(pool)
            .await?;
        out.push((format!("{table}: days vs appeals"), n));
    }
    for r in ROLLUPS {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(months_vs_days_sql(r)))
            .fetch_one(pool)
            .await?;
        out.push((format!("{}: months vs days", r.table), n));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_check_joins_on_every_key_and_compares_every_value() {
        let sql = months_vs_days_sql(&ROLLUPS[2]);
        assert!(sql.contains("d.day = m.day AND d.body = m.body"));
        for v in ROLLUPS[2].values {
            assert!(sql.contains(&format!("coalesce(d.{v}, 0) <> coalesce(m.{v}, 0)")));
            assert!(sql.contains(&format!("sum({v})::int8 AS {v}")));
        }
    }

    #[test]
    fn appeal_check_keys_the_rural_district_like_the_projection() {
        let sql = appeals_vs_rollup_sql("counts_by_dim");
        assert!(sql.contains("a.district || '/' || a.rural_district"));
        assert_eq!(
            crate::projection::rural_key("talgar", "x"),
            format!("{}/{}", "talgar", "x")
        );
        assert!(sql.contains("raw.dim = rolled.dim AND raw.key = rolled.key"));
    }
}
