//! `bench`: times every report query at the current size of the read model and prints a
//! table. Figures, not assertions: run it after `generate` to see the ≤ 1 s target.

use std::time::Instant;

use chrono::Datelike;

use crate::domain::period::Period;
use crate::domain::reference::Lang;
use crate::domain::text::ClusterParams;
use crate::queries::{Dimension, QueryError, Reports, today};
use crate::render::map;

pub struct Timing {
    pub query: String,
    pub millis: f64,
    pub rows: usize,
}

pub async fn run(reports: &Reports) -> Result<(i64, Vec<Timing>), QueryError> {
    // Registered appeals, from the roll-up (a count(*) of the table takes seconds).
    let appeals: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(appeals), 0)::int8 FROM counts_by_dim WHERE dim = 'total' AND grain = 'm'",
    )
        .fetch_one(&reports.pool)
        .await?;
    let to = today();
    let year = Period::new(to - chrono::Duration::days(364), to)
        .map_err(|e| QueryError::invalid("period", e.to_string()))?;
    let two_years = Period::new(to - chrono::Duration::days(729), to)
        .map_err(|e| QueryError::invalid("period", e.to_string()))?;
    let mut out = Vec::new();
    macro_rules! time {
        ($name:expr, $e:expr) => {{
            let started = Instant::now();
            let rows = $e;
            out.push(Timing {
                query: $name.to_string(),
                millis: started.elapsed().as_secs_f64() * 1000.0,
                rows,
            });
        }};
    }
    for dim in [
        Dimension::District,
        Dimension::RuralDistrict,
        Dimension::Category,
        Dimension::Body,
        Dimension::Kind,
        Dimension::Channel,
        Dimension::Region,
    ] {
        time!(
            format!("summary by {} (2 years)", dim.dim()),
            reports
                .summary(&two_years, dim, "", "", Lang::Ru)
                .await?
                .rows
                .len()
        );
    }
    time!(
        "summary by category in one district (1 year)",
        reports
            .summary(&year, Dimension::Category, "talgar", "", Lang::Ru)
            .await?
            .rows
            .len()
    );
    let params = ClusterParams {
        similarity: reports.settings.cluster_similarity,
        ..Default::default()
    };
    time!(
        "problems: clusters (1 year)",
        reports
            .problems(&year, "", "", &params)
            .await?
            .clusters
            .len()
    );
    time!(
        "problems: clusters in one district",
        reports
            .problems(&year, "talgar", "", &params)
            .await?
            .clusters
            .len()
    );
    time!(
        "spikes: detection scan",
        crate::spikes::scan(reports, &reports.settings.spikes, to).await?
    );
    let data;
    time!("map: GeoJSON (1 year)", {
        let d = reports.map(&year, "", Lang::Ru).await?;
        let n = map::geojson(&d).len();
        data = d;
        n
    });
    time!("map: SVG + PNG rendering", {
        let svg = map::svg(&data);
        map::png(&svg)
            .map_err(|e| QueryError::Render(e.to_string()))?
            .len()
    });
    time!(
        "discipline ranking (1 year)",
        reports.discipline(&year, "").await?.len()
    );
    time!(
        "monitoring of local bodies (1 year)",
        reports.monitoring(&year, "", Lang::Ru).await?.len()
    );
    // The last complete half-year.
    let (half_year, half) = if to.month() > 6 {
        (to.year(), 1)
    } else {
        (to.year() - 1, 2)
    };
    let report;
    time!("semi-annual report: figures", {
        let r = reports.semiannual(half_year, half, Lang::Kk).await?;
        let n = r.categories.len();
        report = r;
        n
    });
    time!("semi-annual report: HTML", report.html().len());
    time!(
        "semi-annual report: PDF",
        report
            .pdf()
            .map_err(|e| QueryError::Render(e.to_string()))?
            .len()
    );
    Ok((appeals, out))
}

pub fn table(appeals: i64, timings: &[Timing]) -> String {
    let mut s = format!("read model: {appeals} appeals\n\n");
    s.push_str(&format!(
        "{:<48} {:>10} {:>10}\n",
        "query", "ms", "rows/bytes"
    ));
    s.push_str(&format!("{}\n", "-".repeat(70)));
    for t in timings {
        s.push_str(&format!(
            "{:<48} {:>10.1} {:>10}\n",
            t.query, t.millis, t.rows
        ));
    }
    s
}
