//! The reports, read from the roll-ups (a period = whole months + daily edges) and, for the
//! content analysis, from the latest appeals' texts. Shared by the gRPC API, the semi-annual
//! report and the `bench` command.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Almaty;
use sqlx::{PgPool, Row};

use crate::domain::discipline::{self, BodyDiscipline};
use crate::domain::period::{Granularity, Period};
use crate::domain::reference::{Directory, Lang};
use crate::domain::text::{self, Cluster, ClusterParams, Doc};
use crate::render::map::{MapCell, MapData};
use crate::render::report::{
    CountRow, DisciplineLine, InstructionRow, ProblemRow, ReceptionRow, SemiAnnual,
};
use crate::settings::ReportingSettings;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("rendering: {0}")]
    Render(String),
}

impl QueryError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        QueryError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Dimension of a summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    District,
    RuralDistrict,
    Category,
    Body,
    Kind,
    Channel,
    Region,
}

impl Dimension {
    pub fn dim(self) -> &'static str {
        match self {
            Dimension::District => "district",
            Dimension::RuralDistrict => "rural_district",
            Dimension::Category => "category",
            Dimension::Body => "body",
            Dimension::Kind => "kind",
            Dimension::Channel => "channel",
            Dimension::Region => "region",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub appeals: u64,
    pub repeated: u64,
    pub collective: u64,
}

impl Counts {
    fn add(&mut self, a: i64, r: i64, c: i64) {
        self.appeals = (self.appeals as i64 + a).max(0) as u64;
        self.repeated = (self.repeated as i64 + r).max(0) as u64;
        self.collective = (self.collective as i64 + c).max(0) as u64;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub key: String,
    pub name: String,
    pub counts: Counts,
    pub previous: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub rows: Vec<SummaryRow>,
    pub total: Counts,
    pub previous_total: u64,
    pub series: Vec<(NaiveDate, Counts)>,
    pub granularity: Granularity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problems {
    pub clusters: Vec<Cluster>,
    pub analysed: u64,
    pub total: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MonitoringRow {
    pub body: String,
    pub name: String,
    pub kind: String,
    pub district: String,
    pub appeals_received: u64,
    pub activity: BodyDiscipline,
    pub receptions_booked: u64,
    pub receptions_held: u64,
    pub receptions_cancelled: u64,
}

/// Binds `$1..$6` of a roll-up query's period filter: `((grain = 'm' AND day BETWEEN $1
/// AND $2) OR (grain = 'd' AND (day BETWEEN $3 AND $4 OR day BETWEEN $5 AND $6)))`.
fn bind_split<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    p: &Period,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    for d in p.split().sql_bounds() {
        q = q.bind(d);
    }
    q
}

/// Start of a local (Asia/Almaty) day, in UTC.
pub fn day_start(d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).expect("midnight exists");
    Almaty
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&Almaty).date_naive()
}

/// The reports over one database.
#[derive(Clone)]
pub struct Reports {
    pub pool: PgPool,
    pub directory: Arc<Directory>,
    pub settings: Arc<ReportingSettings>,
}

fn counts_of(row: &sqlx::postgres::PgRow) -> Counts {
    Counts {
        appeals: row.get::<i64, _>("appeals").max(0) as u64,
        repeated: row.get::<i64, _>("repeated").max(0) as u64,
        collective: row.get::<i64, _>("collective").max(0) as u64,
    }
}

impl Reports {
    fn name_of(&self, dim: Dimension, key: &str, lang: Lang) -> String {
        let d = &self.directory;
        match dim {
            Dimension::District => d.district_name(key, lang),
            Dimension::RuralDistrict => match key.split_once('/') {
                Some((district, rural)) if !rural.is_empty() => {
                    format!("{} / {rural}", d.district_name(district, lang))
                }
                Some((district, _)) => format!("{} / —", d.district_name(district, lang)),
                None => key.to_owned(),
            },
            Dimension::Category => d.category_name(key, lang),
            Dimension::Body => d.body_name(key, lang),
            Dimension::Region if key.is_empty() => d.district_name("", lang),
            _ if key.is_empty() => d.district_name("", lang),
            _ => key.to_owned(),
        }
    }

    /// Counts per key of a dimension over a period, optionally within a district and/or
    /// category (then only by district or category).
    async fn counts(
        &self,
        dim: Dimension,
        period: &Period,
        district: &str,
        category: &str,
    ) -> Result<BTreeMap<String, Counts>, QueryError> {
        let filtered = !district.is_empty() || !category.is_empty();
        let rows = if filtered {
            let sql = match dim {
                Dimension::District => {
                    "SELECT district AS key, sum(appeals)::int8 AS appeals, sum(repeated)::int8 AS repeated, \
                     sum(collective)::int8 AS collective FROM counts_by_district_category WHERE ((grain = 'm' AND day BETWEEN $1 AND $2) OR \
                     (grain = 'd' AND (day BETWEEN $3 AND $4 OR day BETWEEN $5 AND $6))) \
                     AND ($7 = '' OR district = $7) AND ($8 = '' OR category = $8) GROUP BY district"
                }
                Dimension::Category => {
                    "SELECT category AS key, sum(appeals)::int8 AS appeals, sum(repeated)::int8 AS repeated, \
                     sum(collective)::int8 AS collective FROM counts_by_district_category WHERE ((grain = 'm' AND day BETWEEN $1 AND $2) OR \
                     (grain = 'd' AND (day BETWEEN $3 AND $4 OR day BETWEEN $5 AND $6))) \
                     AND ($7 = '' OR district = $7) AND ($8 = '' OR category = $8) GROUP BY category"
                }
                _ => {
                    return Err(QueryError::invalid(
                        "group_by",
                        "with a district or category filter, group by district or category",
                    ));
                }
            };
            bind_split(sqlx::query(sql), period)
                .bind(district)
                .bind(category)
                .fetch_all(&self.pool)
                .await?
        } else {
            bind_split(
                sqlx::query(
                    "SELECT key, sum(appeals)::int8 AS appeals, sum(repeated)::int8 AS repeated, \
                     sum(collective)::int8 AS collective FROM counts_by_dim WHERE dim = $7 AND \
                     ((grain = 'm' AND day BETWEEN $1 AND $2) OR \
                     (grain = 'd' AND (day BETWEEN $3 AND $4 OR day BETWEEN $5 AND $6))) GROUP BY key",
                ),
                period,
            )
            .bind(dim.dim())
            .fetch_all(&self.pool)
            .await?
        };
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>("key"), counts_of(r)))
            .filter(|(_, c)| c.appeals > 0 || c.repeated > 0 || c.collective > 0)
            .collect())
    }

    /// Appeals over time (days or months), optionally within a district and/or category.
    async fn series(
        &self,
        period: &Period,
        district: &str,
        category: &str,
    ) -> Result<Vec<(NaiveDate, Counts)>, QueryError> {
        let rows = if district.is_empty() && category.is_empty() {
            bind_split(
                sqlx::query(
                    "SELECT day, sum(appeals)::int8 AS appeals, sum(repeated)::int8 AS repeated, \
                     sum(collective)::int8 AS collective FROM counts_by_dim WHERE dim = 'total' AND \
                     ((grain = 'm' AND day BETWEEN $1 AND $2) OR (grain = 'd' AND (day BETWEEN $3 AND $4 OR day BETWEEN $5 AND $6))) \
                     GROUP BY day",
                ),
                period,
            )
            .fetch_all(&self.pool)
            .await?
        } else {
            bind_split(
                sqlx::query(
                    "SELECT day, sum(appeals)::int8 AS appeals, sum(repeated)::int8 AS repeated, \
                     sum(collective)::int8 AS collective FROM counts_by_district_category WHERE \
                     ((grain = 'm' AND day BETWEEN $1 AND $2) OR (grain = 'd' AND (day BETWEEN $3 AND $4 OR day BETWEEN $5 AND $6))) \
                     AND ($7 = '' OR district = $7) AND ($8 = '' OR category = $8) GROUP BY day",
                ),
                period,
            )
            .bind(district)
            .bind(category)
            .fetch_all(&self.pool)
            .await?
        };
        let g = period.series_granularity();
        let mut buckets: BTreeMap<NaiveDate, Counts> = BTreeMap::new();
        // Every bucket of the period, also the empty ones.
        let mut d = g.bucket(period.from);
        while d <= period.to {
            buckets.insert(d, Counts::default());
            d = match g {
                Granularity::Day => d + chrono::Duration::days(1),
                Granularity::Month => crate::domain::period::next_month(d),
            };
        }
        for r in &rows {
            let day: NaiveDate = r.get("day");
            let c = counts_of(r);
            buckets.entry(g.bucket(day)).or_default().add(
                c.appeals as i64,
                c.repeated as i64,
                c.collective as i64,
            );
        }
        Ok(buckets.into_iter().collect())
    }

    pub async fn summary(
        &self,
        period: &Period,
        dim: Dimension,
        district: &str,
        category: &str,
        lang: Lang,
    ) -> Result<Summary, QueryError> {
        let now = self.counts(dim, period, district, category).await?;
        let before = self
            .counts(dim, &period.previous(), district, category)
            .await?;
        let mut total = Counts::default();
        let mut rows: Vec<SummaryRow> = now
            .into_iter()
            .map(|(key, counts)| {
                total.add(
                    counts.appeals as i64,
                    counts.repeated as i64,
                    counts.collective as i64,
                );
                SummaryRow {
                    name: self.name_of(dim, &key, lang),
                    previous: before.get(&key).map_or(0, |c| c.appeals),
                    key,
                    counts,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.counts
                .appeals
                .cmp(&a.counts.appeals)
                .then(a.key.cmp(&b.key))
        });
        Ok(Summary {
            rows,
            total,
            previous_total: before.values().map(|c| c.appeals).sum(),
            series: self.series(period, district, category).await?,
            granularity: period.series_granularity(),
        })
    }

    pub async fn problems(
        &self,
        period: &Period,
        district: &str,
        category: &str,
        params: &ClusterParams,
    ) -> Result<Problems, QueryError> {
        let rows = sqlx::query(
            "SELECT registration_number, district, category, language, reg_day, subject, text FROM appeals \
             WHERE registered_at >= $1 AND registered_at < $2 AND ($3 = '' OR district = $3) \
             AND ($4 = '' OR category = $4) ORDER BY registered_at DESC LIMIT $5",
        )
        .bind(day_start(period.from))
        .bind(day_start(period.to + chrono::Duration::days(1)))
        .bind(district)
        .bind(category)
        .bind(i64::from(self.settings.analysis_sample))
        .fetch_all(&self.pool)
        .await?;
        let docs: Vec<Doc> = rows
            .iter()
            .map(|r| {
                let subject: String = r.get("subject");
                let body: String = r.get("text");
                Doc {
                    registration_number: r.get("registration_number"),
                    district: r.get("district"),
                    category: r.get("category"),
                    language: r.get("language"),
                    day: r
                        .get::<Option<NaiveDate>, _>("reg_day")
                        .unwrap_or(period.from),
                    text: format!("{subject} {body}"),
                }
            })
            .collect();
        let analysed = docs.len() as u64;
        let clusters = tokio::task::spawn_blocking({
            let params = params.clone();
            // When the sample holds only the latest part of the period, the trend compares
            // the halves of what was sampled, not of the whole period.
            let earliest = docs.iter().map(|d| d.day).min().unwrap_or(period.from);
            let mid = Period {
                from: earliest.max(period.from),
                to: period.to,
            }
            .midpoint();
            move || text::cluster(&docs, mid, &params)
        })
        .await
        .map_err(|e| QueryError::Render(e.to_string()))?;
        let total = self
            .counts(Dimension::District, period, district, category)
            .await?
            .values()
            .map(|c| c.appeals)
            .sum::<u64>();
        Ok(Problems {
            clusters,
            analysed,
            total: total.max(analysed),
        })
    }

    pub async fn map(
        &self,
        period: &Period,
        category: &str,
        lang: Lang,
    ) -> Result<MapData, QueryError> {
        let rows = bind_split(
            sqlx::query(
                "SELECT district, category, sum(appeals)::int8 AS appeals, sum(repeated)::int8 AS repeated, \
                 sum(collective)::int8 AS collective FROM counts_by_district_category WHERE \
                 ((grain = 'm' AND day BETWEEN $1 AND $2) OR (grain = 'd' AND (day BETWEEN $3 AND $4 OR day BETWEEN $5 AND $6))) \
                 AND ($7 = '' OR category = $7) GROUP BY district, category",
            ),
            period,
        )
        .bind(category)
        .fetch_all(&self.pool)
        .await?;
        let mut by_district: BTreeMap<String, (Counts, Vec<(String, u64)>)> = BTreeMap::new();
        // Every district of the demo region is on the map, also with no appeals.
        for d in &self.directory.districts {
            by_district.entry(d.code.clone()).or_default();
        }
        for r in &rows {
            let c = counts_of(r);
            let entry = by_district.entry(r.get("district")).or_default();
            entry
                .0
                .add(c.appeals as i64, c.repeated as i64, c.collective as i64);
            if c.appeals > 0 {
                entry.1.push((r.get("category"), c.appeals));
            }
        }
        let cells = by_district
            .into_iter()
            .map(|(district, (counts, mut cats))| {
                cats.sort_by(|a, b| {
                    // Categorised first: "not yet categorised" is no problem type.
                    a.0.is_empty()
                        .cmp(&b.0.is_empty())
                        .then(b.1.cmp(&a.1))
                        .then(a.0.cmp(&b.0))
                });
                MapCell {
                    name: self.directory.district_name(&district, lang),
                    centroid: self.directory.district(&district).and_then(|d| d.centroid),
                    district,
                    appeals: counts.appeals,
                    repeated: counts.repeated,
                    collective: counts.collective,
                    top_categories: cats
                        .into_iter()
                        .take(3)
                        .map(|(c, n)| (self.directory.category_name(&c, lang), c, n))
                        .map(|(name, c, n)| (c, name, n))
                        .collect(),
                }
            })
            .collect();
        let (title, label) = match lang {
            Lang::Kk => ("Проблемалық мәселелер картасы", "Өтініштер саны"),
            Lang::En => ("Map of problem issues", "Appeals"),
            Lang::Ru => ("Карта проблемных вопросов", "Количество обращений"),
        };
        let mut subtitle = format!("{} — {}", period.from, period.to);
        if !category.is_empty() {
            subtitle.push_str(&format!(
                " · {}",
                self.directory.category_name(category, lang)
            ));
        }
        Ok(MapData {
            title: title.into(),
            subtitle,
            appeals_label: label.into(),
            cells,
        })
    }

    async fn body_activity(
        &self,
        period: &Period,
        prefix: &str,
    ) -> Result<Vec<BodyDiscipline>, QueryError> {
        let rows = bind_split(
            sqlx::query(
                "SELECT body, sum(assigned)::int8 AS assigned, sum(answered)::int8 AS answered, \
                 sum(on_time)::int8 AS on_time, sum(late)::int8 AS late, sum(answer_days)::int8 AS answer_days, \
                 sum(overdue)::int8 AS overdue, sum(returned)::int8 AS returned, \
                 sum(instructions_issued)::int8 AS instructions_issued, \
                 sum(instructions_completed)::int8 AS instructions_completed, \
                 sum(instructions_overdue)::int8 AS instructions_overdue FROM body_activity WHERE \
                 ((grain = 'm' AND day BETWEEN $1 AND $2) OR (grain = 'd' AND (day BETWEEN $3 AND $4 OR day BETWEEN $5 AND $6))) \
                 AND body <> '' AND ($7 = '' OR starts_with(body, $7)) GROUP BY body",
            ),
            period,
        )
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        let n = |r: &sqlx::postgres::PgRow, c: &str| r.get::<i64, _>(c).max(0) as u64;
        Ok(rows
            .iter()
            .map(|r| BodyDiscipline {
                body: r.get("body"),
                assigned: n(r, "assigned"),
                answered: n(r, "answered"),
                on_time: n(r, "on_time"),
                late: n(r, "late"),
                overdue: n(r, "overdue"),
                returned_for_rework: n(r, "returned"),
                answer_days: n(r, "answer_days"),
                instructions_issued: n(r, "instructions_issued"),
                instructions_completed: n(r, "instructions_completed"),
                instructions_overdue: n(r, "instructions_overdue"),
            })
            .collect())
    }

    pub async fn discipline(
        &self,
        period: &Period,
        prefix: &str,
    ) -> Result<Vec<(u32, BodyDiscipline)>, QueryError> {
        Ok(discipline::rank(self.body_activity(period, prefix).await?))
    }

    /// Receptions per (district, receiving body).
    async fn receptions(
        &self,
        period: &Period,
    ) -> Result<BTreeMap<(String, String), (u64, u64, u64)>, QueryError> {
        let rows = bind_split(
            sqlx::query(
                "SELECT district, body, sum(booked)::int8 AS booked, sum(held)::int8 AS held, sum(cancelled)::int8 AS cancelled \
                 FROM reception_activity WHERE ((grain = 'm' AND day BETWEEN $1 AND $2) OR \
                 (grain = 'd' AND (day BETWEEN $3 AND $4 OR day BETWEEN $5 AND $6))) GROUP BY district, body",
            ),
            period,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    (r.get::<String, _>("district"), r.get::<String, _>("body")),
                    (
                        r.get::<i64, _>("booked").max(0) as u64,
                        r.get::<i64, _>("held").max(0) as u64,
                        r.get::<i64, _>("cancelled").max(0) as u64,
                    ),
                )
            })
            .collect())
    }

    /// Appeals and receptions of district and rural bodies (reg 5.9, 6.5).
    pub async fn monitoring(
        &self,
        period: &Period,
        district: &str,
        lang: Lang,
    ) -> Result<Vec<MonitoringRow>, QueryError> {
        let received = self.counts(Dimension::District, period, "", "").await?;
        let rural = self
            .counts(Dimension::RuralDistrict, period, "", "")
            .await?;
        let activity: HashMap<String, BodyDiscipline> = self
            .body_activity(period, "")
            .await?
            .into_iter()
            .map(|b| (b.body.clone(), b))
            .collect();
        let receptions = self.receptions(period).await?;
        let mut rows = Vec::new();
        for body in self.directory.local_bodies() {
            let body_district = body.district.clone().unwrap_or_default();
            if !district.is_empty() && body_district != district {
                continue;
            }
            let is_rural = body.kind == "rural_akimat";
            let appeals_received = if is_rural {
                // `rural.<district>.<name>`: the appeal's rural district is matched by name.
                let name = body.code.rsplit('.').next().unwrap_or_default();
                rural
                    .iter()
                    .filter(|(k, _)| {
                        k.split_once('/').is_some_and(|(d, r)| {
                            d == body_district && r.to_lowercase().starts_with(name)
                        })
                    })
                    .map(|(_, c)| c.appeals)
                    .sum()
            } else {
                received.get(&body_district).map_or(0, |c| c.appeals)
            };
            // Receptions by the body's own officials, and — for a district or city akimat —
            // those in its district whose event named no body.
            let (mut booked, mut held, mut cancelled) = (0, 0, 0);
            for ((d, b), (bk, h, c)) in &receptions {
                if *b == body.code || (!is_rural && b.is_empty() && *d == body_district) {
                    booked += bk;
                    held += h;
                    cancelled += c;
                }
            }
            rows.push(MonitoringRow {
                body: body.code.clone(),
                name: body.names.get(lang).to_owned(),
                kind: body.kind.clone(),
                district: body_district,
                appeals_received,
                activity: activity.get(&body.code).cloned().unwrap_or_default(),
                receptions_booked: booked,
                receptions_held: held,
                receptions_cancelled: cancelled,
            });
        }
        Ok(rows)
    }

    async fn instructions(&self, period: &Period) -> Result<Vec<InstructionRow>, QueryError> {
        let rows = sqlx::query(
            "SELECT issuer, count(*)::int8 AS issued, count(completed_at)::int8 AS completed, \
             count(*) FILTER (WHERE completed_on_time)::int8 AS on_time, \
             count(*) FILTER (WHERE overdue)::int8 AS overdue, \
             count(*) FILTER (WHERE completed_at IS NULL)::int8 AS in_progress \
             FROM instructions WHERE issued_at >= $1 AND issued_at < $2 GROUP BY issuer ORDER BY 2 DESC, 1",
        )
        .bind(day_start(period.from))
        .bind(day_start(period.to + chrono::Duration::days(1)))
        .fetch_all(&self.pool)
        .await?;
        let n = |r: &sqlx::postgres::PgRow, c: &str| r.get::<i64, _>(c).max(0) as u64;
        Ok(rows
            .iter()
            .map(|r| InstructionRow {
                issuer: r.get("issuer"),
                issued: n(r, "issued"),
                completed: n(r, "completed"),
                completed_on_time: n(r, "on_time"),
                overdue: n(r, "overdue"),
                in_progress: n(r, "in_progress"),
            })
            .collect())
    }

    /// The semi-annual report's figures (reg 7.6, 9.6, 9.7).
    pub async fn semiannual(
        &self,
        year: i32,
        half: u32,
        lang: Lang,
    ) -> Result<SemiAnnual, QueryError> {
        let period = Period::half_year(year, half)
            .ok_or_else(|| QueryError::invalid("half", "1 or 2, in a valid year"))?;
        let to_rows = |s: &Summary| -> Vec<CountRow> {
            s.rows
                .iter()
                .map(|r| CountRow {
                    name: r.name.clone(),
                    appeals: r.counts.appeals,
                    repeated: r.counts.repeated,
                    collective: r.counts.collective,
                    previous: r.previous,
                })
                .collect()
        };
        let by_category = self
            .summary(&period, Dimension::Category, "", "", lang)
            .await?;
        let by_district = self
            .summary(&period, Dimension::District, "", "", lang)
            .await?;
        let problems = self
            .problems(
                &period,
                "",
                "",
                &ClusterParams {
                    similarity: self.settings.cluster_similarity,
                    max_clusters: 10,
                    examples: 3,
                    ..Default::default()
                },
            )
            .await?;
        let discipline = self.discipline(&period, "").await?;
        let receptions = self.receptions(&period).await?;
        Ok(SemiAnnual {
            lang,
            year,
            half,
            period: format!("{} — {}", period.from, period.to),
            total: CountRow {
                name: String::new(),
                appeals: by_category.total.appeals,
                repeated: by_category.total.repeated,
                collective: by_category.total.collective,
                previous: by_category.previous_total,
            },
            months: by_category
                .series
                .iter()
                .map(|(d, c)| (d.format("%Y-%m").to_string(), c.appeals))
                .collect(),
            categories: to_rows(&by_category),
            districts: {
                // A head reads the 50 largest; the rest are summed in one line.
                let mut rows = to_rows(&by_district);
                if rows.len() > 50 {
                    let rest = rows.split_off(50);
                    rows.push(CountRow {
                        name: match lang {
                            Lang::Kk => format!("Басқалары ({})", rest.len()),
                            _ => format!("Прочие ({})", rest.len()),
                        },
                        appeals: rest.iter().map(|r| r.appeals).sum(),
                        repeated: rest.iter().map(|r| r.repeated).sum(),
                        collective: rest.iter().map(|r| r.collective).sum(),
                        previous: rest.iter().map(|r| r.previous).sum(),
                    });
                }
                rows
            },
            problems: problems
                .clusters
                .iter()
                .map(|c| ProblemRow {
                    label: c.label.clone(),
                    size: c.size as u64,
                    districts: c
                        .districts
                        .iter()
                        .take(4)
                        .map(|(d, n)| format!("{} ({n})", self.directory.district_name(d, lang)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    trend: c.trend.as_str().to_owned(),
                    examples: c.examples.join(", "),
                })
                .collect(),
            instructions: self.instructions(&period).await?,
            discipline: discipline
                .into_iter()
                .take(30)
                .map(|(rank, b)| DisciplineLine {
                    rank,
                    body: self.directory.body_name(&b.body, lang),
                    answered: b.answered,
                    on_time_percent: b.on_time_percent(),
                    overdue: b.overdue,
                    returned: b.returned_for_rework,
                    average_days: b.average_days_to_answer(),
                    instructions_overdue: b.instructions_overdue,
                })
                .collect(),
            receptions: {
                let mut per_district: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
                for ((d, _), (b, h, c)) in receptions {
                    let e = per_district.entry(d).or_default();
                    e.0 += b;
                    e.1 += h;
                    e.2 += c;
                }
                per_district
                    .into_iter()
                    .map(|(d, (booked, held, cancelled))| ReceptionRow {
                        district: self.directory.district_name(&d, lang),
                        booked,
                        held,
                        cancelled,
                    })
                    .collect()
            },
        })
    }
}
