//! gRPC adapter: `bakylau.reporting.v1.ReportingService`. Validates requests (bad input is
//! `INVALID_ARGUMENT` naming the field), calls the reports and renders documents.

use std::time::Instant;

use bakylau_proto::reporting::v1 as pb;
use chrono::NaiveDate;
use tonic::{Request, Response, Status};

use crate::domain::period::{Period, parse_date};
use crate::domain::reference::Lang;
use crate::domain::text::ClusterParams;
use crate::queries::{Dimension, QueryError, Reports, today};
use crate::render::{map, report};
use crate::{projection, spikes};

pub struct ReportingApi {
    pub reports: Reports,
}

/// `INVALID_ARGUMENT` with a `BadRequest` naming the field.
pub fn invalid(field: &str, message: &str) -> Status {
    bakylau_platform::grpc::invalid_argument(format!("{field}: {message}"), [(field, message)])
}

fn query_status(e: QueryError) -> Status {
    match e {
        QueryError::Invalid { field, message } => invalid(&field, &message),
        QueryError::Db(e) if bakylau_platform::db::bad_input(&e).is_some() => {
            bakylau_platform::db::bad_input(&e)
                .unwrap_or_else(|| Status::internal("internal error"))
        }
        QueryError::Db(e) if bakylau_platform::db::is_unavailable(&e) => {
            tracing::warn!(error = %e, "database unavailable");
            Status::unavailable("the read model is temporarily unavailable; retry")
        }
        QueryError::Db(e) => {
            tracing::error!(error = %e, "database error");
            Status::internal("internal error")
        }
        QueryError::Render(e) => {
            tracing::error!(error = %e, "rendering failed");
            Status::internal("internal error")
        }
    }
}

fn period_of(p: Option<&pb::Period>) -> Result<Period, Status> {
    let (from, to) = p.map_or(("", ""), |p| (p.from_date.as_str(), p.to_date.as_str()));
    Period::parse(from, to, today()).map_err(|e| invalid(e.field(), &e.to_string()))
}

fn period_message(p: &Period) -> pb::Period {
    pb::Period {
        from_date: p.from.to_string(),
        to_date: p.to.to_string(),
    }
}

fn lang_of(s: &str) -> Result<Lang, Status> {
    Lang::parse(s).ok_or_else(|| invalid("language", "kk, ru or en"))
}

fn code_filter(field: &str, s: &str) -> Result<String, Status> {
    let s = s.trim();
    if s.len() > 100 || s.chars().any(|c| c.is_control()) {
        return Err(invalid(field, "not a code"));
    }
    Ok(s.to_owned())
}

fn observe(query: &'static str, started: Instant) {
    metrics::histogram!("bakylau_reporting_query_seconds", "query" => query)
        .record(started.elapsed().as_secs_f64());
}

#[tonic::async_trait]
impl pb::reporting_service_server::ReportingService for ReportingApi {
    async fn summary(
        &self,
        request: Request<pb::SummaryRequest>,
    ) -> Result<Response<pb::SummaryResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let period = period_of(req.period.as_ref())?;
        let dim = match pb::Dimension::try_from(req.group_by) {
            Ok(pb::Dimension::Unspecified | pb::Dimension::District) => Dimension::District,
            Ok(pb::Dimension::RuralDistrict) => Dimension::RuralDistrict,
            Ok(pb::Dimension::Category) => Dimension::Category,
            Ok(pb::Dimension::Body) => Dimension::Body,
            Ok(pb::Dimension::Kind) => Dimension::Kind,
            Ok(pb::Dimension::Channel) => Dimension::Channel,
            Ok(pb::Dimension::Region) => Dimension::Region,
            Err(_) => return Err(invalid("group_by", "unknown dimension")),
        };
        let lang = lang_of(&req.language)?;
        let district = code_filter("district", &req.district)?;
        let category = code_filter("category", &req.category)?;
        let s = self
            .reports
            .summary(&period, dim, &district, &category, lang)
            .await
            .map_err(query_status)?;
        observe("summary", started);
        Ok(Response::new(pb::SummaryResponse {
            rows: s
                .rows
                .into_iter()
                .map(|r| pb::SummaryRow {
                    key: r.key,
                    name: r.name,
                    appeals: r.counts.appeals,
                    repeated: r.counts.repeated,
                    collective: r.counts.collective,
                    previous_appeals: r.previous,
                })
                .collect(),
            total_appeals: s.total.appeals,
            total_repeated: s.total.repeated,
            total_collective: s.total.collective,
            previous_total_appeals: s.previous_total,
            series: s
                .series
                .into_iter()
                .map(|(d, c)| pb::TrendPoint {
                    start_date: d.to_string(),
                    appeals: c.appeals,
                    repeated: c.repeated,
                    collective: c.collective,
                })
                .collect(),
            series_granularity: s.granularity.as_str().into(),
            period: Some(period_message(&period)),
        }))
    }

    async fn problems(
        &self,
        request: Request<pb::ProblemsRequest>,
    ) -> Result<Response<pb::ProblemsResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let period = period_of(req.period.as_ref())?;
        let lang = lang_of(&req.language)?;
        if req.max_clusters > 100 {
            return Err(invalid("max_clusters", "at most 100"));
        }
        let params = ClusterParams {
            similarity: self.reports.settings.cluster_similarity,
            min_size: if req.min_size == 0 {
                3
            } else {
                req.min_size as usize
            },
            max_clusters: if req.max_clusters == 0 {
                10
            } else {
                req.max_clusters as usize
            },
            ..Default::default()
        };
        let district = code_filter("district", &req.district)?;
        let category = code_filter("category", &req.category)?;
        let p = self
            .reports
            .problems(&period, &district, &category, &params)
            .await
            .map_err(query_status)?;
        let dir = &self.reports.directory;
        observe("problems", started);
        Ok(Response::new(pb::ProblemsResponse {
            clusters: p
                .clusters
                .into_iter()
                .map(|c| pb::ProblemCluster {
                    label: c.label,
                    terms: c.terms,
                    size: c.size as u64,
                    districts: c
                        .districts
                        .into_iter()
                        .map(|(d, n)| pb::DistrictCount {
                            name: dir.district_name(&d, lang),
                            district: d,
                            count: n,
                        })
                        .collect(),
                    trend: c.trend.as_str().into(),
                    first_half: c.first_half,
                    second_half: c.second_half,
                    example_registration_numbers: c.examples,
                    top_category_name: dir.category_name(&c.top_category, lang),
                    top_category: c.top_category,
                    language: c.language,
                })
                .collect(),
            analysed_appeals: p.analysed,
            total_appeals: p.total,
            period: Some(period_message(&period)),
        }))
    }

    async fn spikes(
        &self,
        request: Request<pb::SpikesRequest>,
    ) -> Result<Response<pb::SpikesResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let lang = lang_of(&req.language)?;
        let as_of: NaiveDate = if req.as_of.trim().is_empty() {
            today()
        } else {
            parse_date(&req.as_of, "as_of").map_err(|e| invalid("as_of", &e.to_string()))?
        };
        let period = period_of(req.period.as_ref())?;
        let mut newly = 0;
        if req.detect {
            newly = spikes::detect(&self.reports, &self.reports.settings.spikes, as_of)
                .await
                .map_err(query_status)?
                .len() as u32;
        }
        // The detection's window may end after the period asked for: include it.
        let to = period
            .to
            .max(self.reports.settings.spikes.window_of(as_of).end);
        let list = spikes::list(
            &self.reports,
            period.from,
            if req.detect { to } else { period.to },
        )
        .await
        .map_err(query_status)?;
        let dir = &self.reports.directory;
        observe("spikes", started);
        Ok(Response::new(pb::SpikesResponse {
            spikes: list
                .into_iter()
                .map(|s| pb::Spike {
                    spike_id: s.spike_id,
                    category_name: dir.category_name(&s.category, lang),
                    category: s.category,
                    district_name: dir.district_name(&s.district, lang),
                    district: s.district,
                    window_start: s.window_start.to_string(),
                    window_end: s.window_end.to_string(),
                    count: s.count,
                    baseline: s.baseline,
                    ratio: s.ratio,
                    detected_at: Some(prost_types::Timestamp {
                        seconds: s.detected_at.timestamp(),
                        nanos: s.detected_at.timestamp_subsec_nanos() as i32,
                    }),
                    registration_numbers: s.registration_numbers,
                })
                .collect(),
            newly_detected: newly,
        }))
    }

    async fn problem_map(
        &self,
        request: Request<pb::ProblemMapRequest>,
    ) -> Result<Response<pb::ProblemMapResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let period = period_of(req.period.as_ref())?;
        let lang = lang_of(&req.language)?;
        let category = code_filter("category", &req.category)?;
        let format = pb::MapFormat::try_from(req.format)
            .map_err(|_| invalid("format", "unknown map format"))?;
        let data = self
            .reports
            .map(&period, &category, lang)
            .await
            .map_err(query_status)?;
        let geojson = map::geojson(&data);
        let (image, media_type) = match format {
            pb::MapFormat::Unspecified | pb::MapFormat::Geojson => {
                (Vec::new(), "application/geo+json".to_owned())
            }
            pb::MapFormat::Svg => (map::svg(&data).into_bytes(), "image/svg+xml".to_owned()),
            pb::MapFormat::Png => {
                let svg = map::svg(&data);
                let png = tokio::task::spawn_blocking(move || map::png(&svg))
                    .await
                    .map_err(|e| query_status(QueryError::Render(e.to_string())))?
                    .map_err(|e| query_status(QueryError::Render(e.to_string())))?;
                (png, "image/png".to_owned())
            }
        };
        observe("map", started);
        Ok(Response::new(pb::ProblemMapResponse {
            geojson,
            image,
            media_type,
            districts: data
                .cells
                .into_iter()
                .map(|c| pb::DistrictCell {
                    district: c.district,
                    name: c.name,
                    appeals: c.appeals,
                    repeated: c.repeated,
                    collective: c.collective,
                    top_categories: c
                        .top_categories
                        .into_iter()
                        .map(|(category, name, count)| pb::CategoryCount {
                            category,
                            name,
                            count,
                        })
                        .collect(),
                    located: c.centroid.is_some(),
                    lat: c.centroid.map_or(0.0, |p| p.0),
                    lon: c.centroid.map_or(0.0, |p| p.1),
                })
                .collect(),
        }))
    }

    async fn discipline(
        &self,
        request: Request<pb::DisciplineRequest>,
    ) -> Result<Response<pb::DisciplineResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let period = period_of(req.period.as_ref())?;
        let lang = lang_of(&req.language)?;
        let prefix = code_filter("body_prefix", &req.body_prefix)?;
        let ranked = self
            .reports
            .discipline(&period, &prefix)
            .await
            .map_err(query_status)?;
        let dir = &self.reports.directory;
        observe("discipline", started);
        Ok(Response::new(pb::DisciplineResponse {
            rows: ranked
                .into_iter()
                .map(|(rank, b)| pb::DisciplineRow {
                    name: dir.body_name(&b.body, lang),
                    average_days_to_answer: b.average_days_to_answer(),
                    on_time_percent: b.on_time_percent(),
                    body: b.body,
                    assigned: b.assigned,
                    answered: b.answered,
                    on_time: b.on_time,
                    late: b.late,
                    overdue: b.overdue,
                    returned_for_rework: b.returned_for_rework,
                    instructions_issued: b.instructions_issued,
                    instructions_completed: b.instructions_completed,
                    instructions_overdue: b.instructions_overdue,
                    rank,
                })
                .collect(),
            period: Some(period_message(&period)),
        }))
    }

    async fn monitoring(
        &self,
        request: Request<pb::MonitoringRequest>,
    ) -> Result<Response<pb::MonitoringResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        let period = period_of(req.period.as_ref())?;
        let lang = lang_of(&req.language)?;
        let district = code_filter("district", &req.district)?;
        let rows = self
            .reports
            .monitoring(&period, &district, lang)
            .await
            .map_err(query_status)?;
        observe("monitoring", started);
        Ok(Response::new(pb::MonitoringResponse {
            rows: rows
                .into_iter()
                .map(|r| pb::MonitoringRow {
                    body: r.body,
                    name: r.name,
                    body_kind: r.kind,
                    district: r.district,
                    appeals_received: r.appeals_received,
                    appeals_assigned: r.activity.assigned,
                    answered_on_time: r.activity.on_time,
                    answered_late: r.activity.late,
                    overdue: r.activity.overdue,
                    returned_for_rework: r.activity.returned_for_rework,
                    receptions_booked: r.receptions_booked,
                    receptions_held: r.receptions_held,
                    receptions_cancelled: r.receptions_cancelled,
                })
                .collect(),
            period: Some(period_message(&period)),
        }))
    }

    async fn semi_annual_report(
        &self,
        request: Request<pb::SemiAnnualReportRequest>,
    ) -> Result<Response<pb::SemiAnnualReportResponse>, Status> {
        let started = Instant::now();
        let req = request.into_inner();
        if !(2000..=2100).contains(&req.year) {
            return Err(invalid("year", "a year between 2000 and 2100"));
        }
        if !(1..=2).contains(&req.half) {
            return Err(invalid("half", "1 (January–June) or 2 (July–December)"));
        }
        let lang = match lang_of(&req.language)? {
            Lang::En => return Err(invalid("language", "the report is written in kk or ru")),
            l => l,
        };
        let format = pb::DocumentFormat::try_from(req.format)
            .map_err(|_| invalid("format", "unknown document format"))?;
        let data: report::SemiAnnual = self
            .reports
            .semiannual(req.year as i32, req.half, lang)
            .await
            .map_err(query_status)?;
        let stem = format!("semiannual-{}-h{}-{}", req.year, req.half, lang.code());
        let (document, media_type, file_name) = match format {
            pb::DocumentFormat::Unspecified | pb::DocumentFormat::Html => (
                data.html().into_bytes(),
                "text/html; charset=utf-8",
                format!("{stem}.html"),
            ),
            pb::DocumentFormat::Pdf => {
                let pdf = tokio::task::spawn_blocking(move || data.pdf())
                    .await
                    .map_err(|e| query_status(QueryError::Render(e.to_string())))?
                    .map_err(|e| query_status(QueryError::Render(e.to_string())))?;
                (pdf, "application/pdf", format!("{stem}.pdf"))
            }
        };
        observe("semiannual", started);
        Ok(Response::new(pb::SemiAnnualReportResponse {
            document,
            media_type: media_type.into(),
            file_name,
        }))
    }

    async fn rebuild(
        &self,
        _request: Request<pb::RebuildRequest>,
    ) -> Result<Response<pb::RebuildResponse>, Status> {
        let started = Instant::now();
        let r = rebuild(&self.reports).await.map_err(query_status)?;
        observe("rebuild", started);
        Ok(Response::new(pb::RebuildResponse {
            events_replayed: r.0,
            appeals: r.1,
            duration_ms: started.elapsed().as_millis() as u64,
        }))
    }
}

/// Rebuilds the read model in one transaction; returns (events replayed, appeals).
pub async fn rebuild(reports: &Reports) -> Result<(u64, u64), QueryError> {
    let mut tx = reports.pool.begin().await?;
    let replayed = projection::rebuild(&mut tx).await?;
    let appeals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM appeals WHERE registered_at IS NOT NULL")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    tracing::info!(replayed, appeals, "read model rebuilt");
    Ok((replayed, appeals.max(0) as u64))
}
