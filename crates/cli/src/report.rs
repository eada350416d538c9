//! `bakylau report`: the reporting service's analysis (reg 5.9, 7.1, 7.2, 7.6, 8.3, 9.2):
//! summaries and trends, systemic problems, spikes, the problem map, discipline, monitoring
//! of local bodies, the semi-annual report, and rebuilding the read model.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use bakylau_proto::reporting::v1 as pb;
use bakylau_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::Global;
use crate::client;
use crate::output::{OutputFormat, print, print_json, table, truncate};

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Appeals by district, category, body, kind or channel, with the previous period and a series
    Summary(SummaryArgs),
    /// Systemic problems: clusters of similar appeals with labels, spread and trend (reg 7.1)
    Problems(ProblemsArgs),
    /// Spikes of a category in a district far above its baseline (reg 8.3)
    Spikes(SpikesArgs),
    /// The map of problem issues by district as GeoJSON, SVG or PNG (reg 7.2)
    Map(MapArgs),
    /// Executive discipline per body and its ranking (reg 9.2)
    Discipline(DisciplineArgs),
    /// Appeals and receptions of district and rural bodies (reg 5.9, 6.5)
    Monitoring(MonitoringArgs),
    /// The semi-annual report as HTML or PDF, in Kazakh or Russian (reg 7.6, 9.6, 9.7)
    Semiannual(SemiannualArgs),
    /// Empty the read model and replay every stored event
    Rebuild,
}

#[derive(Args, Debug, Clone)]
pub struct PeriodArgs {
    /// First day (YYYY-MM-DD); default one year before --to
    #[arg(long)]
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD); default today
    #[arg(long)]
    pub to: Option<String>,
    /// Language of names: kk, ru or en
    #[arg(long, default_value = "ru")]
    pub language: String,
}

impl PeriodArgs {
    fn period(&self) -> Option<pb::Period> {
        Some(pb::Period {
            from_date: self.from.clone().unwrap_or_default(),
            to_date: self.to.clone().unwrap_or_default(),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum By {
    /// district or city
    District,
    /// rural district within its district
    RuralDistrict,
    /// category of the issue
    Category,
    /// lead executor body
    Body,
    /// kind of appeal
    Kind,
    /// channel it came by
    Channel,
    /// region
    Region,
}

#[derive(Args, Debug)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub period: PeriodArgs,
    /// Group by this dimension
    #[arg(long, value_enum, default_value = "district")]
    pub by: By,
    /// Only this district (with --by district or category)
    #[arg(long)]
    pub district: Option<String>,
    /// Only this category (with --by district or category)
    #[arg(long)]
    pub category: Option<String>,
}

#[derive(Args, Debug)]
pub struct ProblemsArgs {
    #[command(flatten)]
    pub period: PeriodArgs,
    /// Only this district
    #[arg(long)]
    pub district: Option<String>,
    /// Only this category
    #[arg(long)]
    pub category: Option<String>,
    /// Most clusters to show
    #[arg(long, default_value_t = 10)]
    pub max: u32,
    /// Smallest cluster worth showing
    #[arg(long, default_value_t = 3)]
    pub min_size: u32,
}

#[derive(Args, Debug)]
pub struct SpikesArgs {
    #[command(flatten)]
    pub period: PeriodArgs,
    /// Run the detection now (new spikes are published to the working-group trigger)
    #[arg(long)]
    pub detect: bool,
    /// Day whose window the detection looks at (YYYY-MM-DD); default today
    #[arg(long)]
    pub as_of: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MapFormat {
    /// GeoJSON FeatureCollection
    Geojson,
    /// SVG image
    Svg,
    /// PNG image
    Png,
}

#[derive(Args, Debug)]
pub struct MapArgs {
    #[command(flatten)]
    pub period: PeriodArgs,
    /// What to produce
    #[arg(long, value_enum, default_value = "geojson")]
    pub format: MapFormat,
    /// Only this category
    #[arg(long)]
    pub category: Option<String>,
    /// Write the map to this file (else the table is printed)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DisciplineArgs {
    #[command(flatten)]
    pub period: PeriodArgs,
    /// Only bodies whose code starts with this (e.g. akimat.)
    #[arg(long)]
    pub body_prefix: Option<String>,
}

#[derive(Args, Debug)]
pub struct MonitoringArgs {
    #[command(flatten)]
    pub period: PeriodArgs,
    /// Only this district
    #[arg(long)]
    pub district: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DocumentFormat {
    /// HTML page with tables and charts
    Html,
    /// PDF document
    Pdf,
}

#[derive(Args, Debug)]
pub struct SemiannualArgs {
    /// Year of the report
    #[arg(long)]
    pub year: u32,
    /// Half-year: 1 (January–June) or 2 (July–December)
    #[arg(long)]
    pub half: u32,
    /// Language of the document: kk or ru
    #[arg(long, default_value = "ru")]
    pub language: String,
    /// Document format
    #[arg(long, value_enum, default_value = "html")]
    pub format: DocumentFormat,
    /// Write the document to this file (default: the name the service gives it)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

async fn connect(g: &Global) -> Result<ReportingServiceClient<client::Authed>> {
    let channel = client::channel("reporting", &g.reporting).await?;
    Ok(ReportingServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024))
}

pub async fn run(cmd: ReportCommand, g: &Global) -> Result<()> {
    let mut c = connect(g).await?;
    match cmd {
        ReportCommand::Summary(a) => {
            let r = c
                .summary(client::request(
                    pb::SummaryRequest {
                        period: a.period.period(),
                        group_by: dimension(a.by) as i32,
                        district: a.district.unwrap_or_default(),
                        category: a.category.unwrap_or_default(),
                        language: a.period.language.clone(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Json => print_json(&summary_json(&r)),
                OutputFormat::Text => print(&summary_text(&r)),
            }
        }
        ReportCommand::Problems(a) => {
            let r = c
                .problems(client::request(
                    pb::ProblemsRequest {
                        period: a.period.period(),
                        district: a.district.unwrap_or_default(),
                        category: a.category.unwrap_or_default(),
                        max_clusters: a.max,
                        min_size: a.min_size,
                        language: a.period.language.clone(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Json => print_json(&problems_json(&r)),
                OutputFormat::Text => print(&problems_text(&r)),
            }
        }
        ReportCommand::Spikes(a) => {
            let r = c
                .spikes(client::request(
                    pb::SpikesRequest {
                        period: a.period.period(),
                        detect: a.detect,
                        as_of: a.as_of.unwrap_or_default(),
                        language: a.period.language.clone(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Json => print_json(&spikes_json(&r)),
                OutputFormat::Text => print(&spikes_text(&r)),
            }
        }
        ReportCommand::Map(a) => {
            let format = match a.format {
                MapFormat::Geojson => pb::MapFormat::Geojson,
                MapFormat::Svg => pb::MapFormat::Svg,
                MapFormat::Png => pb::MapFormat::Png,
            };
            let r = c
                .problem_map(client::request(
                    pb::ProblemMapRequest {
                        period: a.period.period(),
                        format: format as i32,
                        category: a.category.unwrap_or_default(),
                        language: a.period.language.clone(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            if let Some(out) = &a.out {
                let bytes = if a.format == MapFormat::Geojson {
                    r.geojson.as_bytes().to_vec()
                } else {
                    r.image.clone()
                };
                write_file(out, &bytes)?;
                return print(&format!(
                    "{} written ({} bytes, {})",
                    out.display(),
                    bytes.len(),
                    r.media_type
                ));
            }
            match (g.output, a.format) {
                (OutputFormat::Json, _) => print(&r.geojson),
                (OutputFormat::Text, MapFormat::Geojson) => print(&map_text(&r)),
                (OutputFormat::Text, _) => Err(crate::error::usage(
                    "an image needs --out FILE (or use --format geojson)",
                )),
            }
        }
        ReportCommand::Discipline(a) => {
            let r = c
                .discipline(client::request(
                    pb::DisciplineRequest {
                        period: a.period.period(),
                        language: a.period.language.clone(),
                        body_prefix: a.body_prefix.unwrap_or_default(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Json => print_json(&discipline_json(&r)),
                OutputFormat::Text => print(&discipline_text(&r)),
            }
        }
        ReportCommand::Monitoring(a) => {
            let r = c
                .monitoring(client::request(
                    pb::MonitoringRequest {
                        period: a.period.period(),
                        district: a.district.unwrap_or_default(),
                        language: a.period.language.clone(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Json => print_json(&monitoring_json(&r)),
                OutputFormat::Text => print(&monitoring_text(&r)),
            }
        }
        ReportCommand::Semiannual(a) => {
            let r = c
                .semi_annual_report(client::request(
                    pb::SemiAnnualReportRequest {
                        year: a.year,
                        half: a.half,
                        language: a.language.clone(),
                        format: match a.format {
                            DocumentFormat::Html => pb::DocumentFormat::Html,
                            DocumentFormat::Pdf => pb::DocumentFormat::Pdf,
                        } as i32,
                    },
                    g,
                ))
                .await?
                .into_inner();
            let out = a.out.unwrap_or_else(|| PathBuf::from(&r.file_name));
            write_file(&out, &r.document)?;
            match g.output {
                OutputFormat::Json => print_json(&json!({
                    "file": out.display().to_string(), "bytes": r.document.len(), "media_type": r.media_type
                })),
                OutputFormat::Text => print(&format!(
                    "{} written ({} bytes)",
                    out.display(),
                    r.document.len()
                )),
            }
        }
        ReportCommand::Rebuild => {
            let r = c
                .rebuild(client::request(pb::RebuildRequest {}, g))
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Json => print_json(&json!({
                    "events_replayed": r.events_replayed, "appeals": r.appeals, "duration_ms": r.duration_ms
                })),
                OutputFormat::Text => print(&format!(
                    "Read model rebuilt: {} events replayed, {} appeals, {} ms",
                    r.events_replayed, r.appeals, r.duration_ms
                )),
            }
        }
    }
}

fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn dimension(by: By) -> pb::Dimension {
    match by {
        By::District => pb::Dimension::District,
        By::RuralDistrict => pb::Dimension::RuralDistrict,
        By::Category => pb::Dimension::Category,
        By::Body => pb::Dimension::Body,
        By::Kind => pb::Dimension::Kind,
        By::Channel => pb::Dimension::Channel,
        By::Region => pb::Dimension::Region,
    }
}

fn change(now: u64, before: u64) -> String {
    if before == 0 {
        "—".into()
    } else {
        format!(
            "{:+.1}%",
            (now as f64 - before as f64) * 100.0 / before as f64
        )
    }
}

fn period_line(p: &Option<pb::Period>) -> String {
    p.as_ref()
        .map(|p| format!("{} — {}", p.from_date, p.to_date))
        .unwrap_or_default()
}

pub fn summary_text(r: &pb::SummaryResponse) -> String {
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            vec![
                truncate(&row.name, 50),
                row.appeals.to_string(),
                row.repeated.to_string(),
                row.collective.to_string(),
                row.previous_appeals.to_string(),
                change(row.appeals, row.previous_appeals),
            ]
        })
        .collect();
    let mut s = format!(
        "Period {}: {} appeals ({} repeated, {} collective); previous period {} ({})\n\n",
        period_line(&r.period),
        r.total_appeals,
        r.total_repeated,
        r.total_collective,
        r.previous_total_appeals,
        change(r.total_appeals, r.previous_total_appeals)
    );
    s.push_str(&table(
        &[
            "NAME",
            "APPEALS",
            "REPEATED",
            "COLLECTIVE",
            "PREVIOUS",
            "CHANGE",
        ],
        &rows,
    ));
    s.push_str(&format!("\nBy {}:\n", r.series_granularity));
    let max = r.series.iter().map(|p| p.appeals).max().unwrap_or(1).max(1);
    for p in &r.series {
        let bar = "█".repeat(((p.appeals * 40).div_ceil(max)) as usize);
        s.push_str(&format!("{}  {:>8}  {bar}\n", p.start_date, p.appeals));
    }
    s
}

pub fn summary_json(r: &pb::SummaryResponse) -> Value {
    json!({
        "period": period_line(&r.period),
        "total_appeals": r.total_appeals,
        "total_repeated": r.total_repeated,
        "total_collective": r.total_collective,
        "previous_total_appeals": r.previous_total_appeals,
        "rows": r.rows.iter().map(|row| json!({
            "key": row.key, "name": row.name, "appeals": row.appeals, "repeated": row.repeated,
            "collective": row.collective, "previous_appeals": row.previous_appeals,
        })).collect::<Vec<_>>(),
        "series_granularity": r.series_granularity,
        "series": r.series.iter().map(|p| json!({
            "start_date": p.start_date, "appeals": p.appeals, "repeated": p.repeated, "collective": p.collective,
        })).collect::<Vec<_>>(),
    })
}

pub fn problems_text(r: &pb::ProblemsResponse) -> String {
    let mut s = format!(
        "Period {}: {} appeals, the latest {} analysed; {} systemic problems\n",
        period_line(&r.period),
        r.total_appeals,
        r.analysed_appeals,
        r.clusters.len()
    );
    for (i, c) in r.clusters.iter().enumerate() {
        let districts: Vec<String> = c
            .districts
            .iter()
            .take(5)
            .map(|d| format!("{} ({})", d.name, d.count))
            .collect();
        s.push_str(&format!(
            "\n{}. {} — {} appeals, {} ({} → {})\n   category: {}\n   districts: {}\n   e.g. {}\n",
            i + 1,
            c.label,
            c.size,
            c.trend,
            c.first_half,
            c.second_half,
            c.top_category_name,
            districts.join(", "),
            c.example_registration_numbers.join(", ")
        ));
    }
    s
}

pub fn problems_json(r: &pb::ProblemsResponse) -> Value {
    json!({
        "period": period_line(&r.period),
        "analysed_appeals": r.analysed_appeals,
        "total_appeals": r.total_appeals,
        "clusters": r.clusters.iter().map(|c| json!({
            "label": c.label, "terms": c.terms, "size": c.size, "trend": c.trend,
            "first_half": c.first_half, "second_half": c.second_half,
            "top_category": c.top_category, "language": c.language,
            "districts": c.districts.iter().map(|d| json!({"district": d.district, "name": d.name, "count": d.count})).collect::<Vec<_>>(),
            "example_registration_numbers": c.example_registration_numbers,
        })).collect::<Vec<_>>(),
    })
}

pub fn spikes_text(r: &pb::SpikesResponse) -> String {
    let rows: Vec<Vec<String>> = r
        .spikes
        .iter()
        .map(|s| {
            vec![
                format!("{} — {}", s.window_start, s.window_end),
                truncate(&s.district_name, 30),
                truncate(&s.category_name, 36),
                s.count.to_string(),
                format!("{:.1}", s.baseline),
                format!("×{:.1}", s.ratio),
            ]
        })
        .collect();
    let mut s = String::new();
    if r.newly_detected > 0 {
        s.push_str(&format!(
            "{} new spike(s) detected and published\n\n",
            r.newly_detected
        ));
    }
    if rows.is_empty() {
        s.push_str("No spikes.\n");
    } else {
        s.push_str(&table(
            &[
                "WINDOW", "DISTRICT", "CATEGORY", "COUNT", "BASELINE", "RATIO",
            ],
            &rows,
        ));
    }
    s
}

pub fn spikes_json(r: &pb::SpikesResponse) -> Value {
    json!({
        "newly_detected": r.newly_detected,
        "spikes": r.spikes.iter().map(|s| json!({
            "spike_id": s.spike_id, "category": s.category, "district": s.district,
            "window_start": s.window_start, "window_end": s.window_end, "count": s.count,
            "baseline": s.baseline, "ratio": s.ratio, "registration_numbers": s.registration_numbers,
        })).collect::<Vec<_>>(),
    })
}

pub fn map_text(r: &pb::ProblemMapResponse) -> String {
    let mut cells: Vec<&pb::DistrictCell> = r.districts.iter().collect();
    cells.sort_by(|a, b| b.appeals.cmp(&a.appeals).then(a.district.cmp(&b.district)));
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|c| {
            vec![
                truncate(&c.name, 36),
                c.appeals.to_string(),
                c.top_categories
                    .iter()
                    .map(|t| format!("{} ({})", t.name, t.count))
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    table(&["DISTRICT", "APPEALS", "TOP CATEGORIES"], &rows)
}

pub fn discipline_text(r: &pb::DisciplineResponse) -> String {
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|d| {
            vec![
                d.rank.to_string(),
                truncate(&d.name, 44),
                d.assigned.to_string(),
                d.answered.to_string(),
                format!("{:.1}", d.on_time_percent),
                d.overdue.to_string(),
                d.returned_for_rework.to_string(),
                format!("{:.1}", d.average_days_to_answer),
                d.instructions_overdue.to_string(),
            ]
        })
        .collect();
    format!(
        "Period {}\n\n{}",
        period_line(&r.period),
        table(
            &[
                "RANK",
                "BODY",
                "ASSIGNED",
                "ANSWERED",
                "ON TIME %",
                "OVERDUE",
                "RETURNED",
                "AVG DAYS",
                "INSTR. OVERDUE"
            ],
            &rows
        )
    )
}

pub fn discipline_json(r: &pb::DisciplineResponse) -> Value {
    json!({
        "period": period_line(&r.period),
        "rows": r.rows.iter().map(|d| json!({
            "rank": d.rank, "body": d.body, "name": d.name, "assigned": d.assigned, "answered": d.answered,
            "on_time": d.on_time, "late": d.late, "overdue": d.overdue, "returned_for_rework": d.returned_for_rework,
            "average_days_to_answer": d.average_days_to_answer, "on_time_percent": d.on_time_percent,
            "instructions_issued": d.instructions_issued, "instructions_completed": d.instructions_completed,
            "instructions_overdue": d.instructions_overdue,
        })).collect::<Vec<_>>(),
    })
}

pub fn monitoring_text(r: &pb::MonitoringResponse) -> String {
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|m| {
            vec![
                truncate(&m.name, 48),
                m.appeals_received.to_string(),
                m.appeals_assigned.to_string(),
                m.answered_on_time.to_string(),
                m.answered_late.to_string(),
                m.overdue.to_string(),
                m.receptions_held.to_string(),
                m.receptions_cancelled.to_string(),
            ]
        })
        .collect();
    format!(
        "Period {}\n\n{}",
        period_line(&r.period),
        table(
            &[
                "BODY",
                "RECEIVED",
                "ASSIGNED",
                "ON TIME",
                "LATE",
                "OVERDUE",
                "RECEPTIONS HELD",
                "CANCELLED"
            ],
            &rows
        )
    )
}

pub fn monitoring_json(r: &pb::MonitoringResponse) -> Value {
    json!({
        "period": period_line(&r.period),
        "rows": r.rows.iter().map(|m| json!({
            "body": m.body, "name": m.name, "body_kind": m.body_kind, "district": m.district,
            "appeals_received": m.appeals_received, "appeals_assigned": m.appeals_assigned,
            "answered_on_time": m.answered_on_time, "answered_late": m.answered_late, "overdue": m.overdue,
            "returned_for_rework": m.returned_for_rework, "receptions_booked": m.receptions_booked,
            "receptions_held": m.receptions_held, "receptions_cancelled": m.receptions_cancelled,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_text_shows_rows_change_and_series() {
        let r = pb::SummaryResponse {
            rows: vec![pb::SummaryRow {
                key: "talgar".into(),
                name: "Талгарский район".into(),
                appeals: 12,
                repeated: 2,
                collective: 1,
                previous_appeals: 10,
            }],
            total_appeals: 12,
            previous_total_appeals: 10,
            series: vec![pb::TrendPoint {
                start_date: "2026-03-01".into(),
                appeals: 12,
                ..Default::default()
            }],
            series_granularity: "month".into(),
            period: Some(pb::Period {
                from_date: "2026-01-01".into(),
                to_date: "2026-06-30".into(),
            }),
            ..Default::default()
        };
        let text = summary_text(&r);
        assert!(text.contains("Талгарский район"));
        assert!(text.contains("+20.0%"));
        assert!(text.contains("2026-03-01"));
        assert_eq!(summary_json(&r)["rows"][0]["key"], "talgar");
    }

    #[test]
    fn change_without_a_previous_period_is_a_dash() {
        assert_eq!(change(5, 0), "—");
        assert_eq!(change(5, 10), "-50.0%");
    }
}
