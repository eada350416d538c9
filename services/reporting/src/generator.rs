//! Data generator for scale tests: writes N synthetic appeals with their lifecycles over
//! two years across Kazakhstan's regions straight into reporting's schema (COPY in
//! batches), together with the roll-ups the projections would have built, plus
//! instructions and receptions. Deterministic for a seed. Rows are marked `synthetic`; a
//! `rebuild` replaces them with what the stored events say.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Almaty;
use serde::Deserialize;
use sqlx::PgPool;

use crate::domain::period::month_start;
use crate::domain::reference::Directory;
use crate::projection::rural_key;

const CORPUS: &str = include_str!("../data/corpus.jsonl");
const BATCH: usize = 50_000;

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub appeals: u64,
    /// Last day of the generated span; the span is `days` long.
    pub until: NaiveDate,
    pub days: u32,
    pub seed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("corpus: {0}")]
    Corpus(String),
}

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn weighted<'a, T>(&mut self, items: &'a [(T, u64)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.below(total);
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].0
    }
}

#[derive(Deserialize)]
struct CorpusLine {
    language: String,
    category: String,
    #[serde(default)]
    subcategory: Option<String>,
    text: String,
}

struct Place {
    region: String,
    district: String,
    rurals: Vec<String>,
    /// Rural akimat bodies of the district, matched to `rurals` by index (demo region).
    rural_bodies: Vec<String>,
    akimat: String,
}

fn places(dir: &Directory) -> Vec<(Place, u64)> {
    let mut out = Vec::new();
    for region in &dir.regions {
        if region.code == dir.demo_region {
            for d in &dir.districts {
                let rural: Vec<_> = dir
                    .bodies
                    .iter()
                    .filter(|b| {
                        b.kind == "rural_akimat" && b.district.as_deref() == Some(d.code.as_str())
                    })
                    .collect();
                let akimat = dir
                    .bodies
                    .iter()
                    .find(|b| {
                        matches!(b.kind.as_str(), "district_akimat" | "city_akimat")
                            && b.district.as_deref() == Some(d.code.as_str())
                    })
                    .map(|b| b.code.clone())
                    .unwrap_or_else(|| format!("akimat.{}", d.code));
                out.push((
                    Place {
                        region: region.code.clone(),
                        district: d.code.clone(),
                        rurals: rural
                            .iter()
                            .map(|b| b.code.rsplit('.').next().unwrap_or_default().to_owned())
                            .collect(),
                        rural_bodies: rural.iter().map(|b| b.code.clone()).collect(),
                        akimat,
                    },
                    u64::from(region.weight) * 100 / u64::from(region.districts.max(1)),
                ));
            }
        } else {
            for i in 1..=region.districts {
                let district = format!("{}.d{i:02}", region.code);
                out.push((
                    Place {
                        region: region.code.clone(),
                        rurals: (1..=6).map(|r| format!("r{r}")).collect(),
                        rural_bodies: Vec::new(),
                        akimat: format!("akimat.{district}"),
                        district,
                    },
                    // Bigger districts first: a skew like real life.
                    u64::from(region.weight) * 100 / u64::from(region.districts.max(1))
                        * (1 + u64::from(region.districts - i) / 4),
                ));
            }
        }
    }
    out
}

#[derive(Default, Clone, Copy)]
struct C3(i64, i64, i64);

#[derive(Default)]
struct Rollups {
    dims: HashMap<(&'static str, NaiveDate, String), C3>,
    dc: HashMap<(NaiveDate, String, String), C3>,
    bodies: HashMap<(NaiveDate, String), [i64; 13]>,
    receptions: HashMap<(NaiveDate, String), [i64; 3]>,
}

impl Rollups {
    fn count(
        &mut self,
        day: NaiveDate,
        dims: [(&'static str, &str); 8],
        district: &str,
        category: &str,
        r: bool,
        c: bool,
    ) {
        let d = C3(1, i64::from(r), i64::from(c));
        for (dim, key) in dims {
            let e = self.dims.entry((dim, day, key.to_owned())).or_default();
            e.0 += d.0;
            e.1 += d.1;
            e.2 += d.2;
        }
        let e = self
            .dc
            .entry((day, district.to_owned(), category.to_owned()))
            .or_default();
        e.0 += d.0;
        e.1 += d.1;
        e.2 += d.2;
    }

    fn body(&mut self, day: NaiveDate, body: &str, column: usize, n: i64) {
        self.bodies.entry((day, body.to_owned())).or_default()[column] += n;
    }
}

// Columns of body_activity after (grain, day, body), in order.
const ASSIGNED: usize = 0;
const ANSWERED: usize = 1;
const ON_TIME: usize = 2;
const LATE: usize = 3;
const ANSWER_DAYS: usize = 4;
const OVERDUE: usize = 5;
const RETURNED: usize = 6;
const CLOSED: usize = 8;
const INSTR_ISSUED: usize = 9;
const INSTR_COMPLETED: usize = 10;
const INSTR_LATE: usize = 11;
const INSTR_OVERDUE: usize = 12;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn ts(d: NaiveDate, seconds: u32) -> String {
    let naive = d.and_hms_opt(0, 0, 0).expect("midnight") + Duration::seconds(i64::from(seconds));
    Almaty
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc).to_rfc3339())
        .unwrap_or_else(|| naive.and_utc().to_rfc3339())
}

/// What the producer thread hands back once every appeal is written.
struct Produced {
    rollups: Rollups,
    instructions: String,
    receptions: String,
}

const COPY_APPEALS: &str = "COPY appeals (appeal_id, registration_number, registered_at, reg_day, kind, channel, language, \
     region, district, rural_district, collective, repeated, category, subcategory, body, status, due_date, \
     answered_at, answered_on_time, closed_at, overdue, returned, extended, subject, text, synthetic) FROM STDIN";

/// Writes the appeals and their roll-ups. Returns how many appeals were written.
///
/// One thread makes the rows while this task streams the previous batch into COPY, so
/// the generator and Postgres each keep a core busy. Everything goes in one transaction:
/// a failed run leaves nothing behind. Into an empty `appeals` table the secondary indexes
/// are dropped for the load and built once at the end (inside the same transaction, so a
/// failure restores them), which is far cheaper than maintaining them row by row.
pub async fn generate(
    pool: &PgPool,
    dir: &Directory,
    opts: &GenerateOptions,
    mut progress: impl FnMut(u64),
) -> Result<u64, GenerateError> {
    let corpus: Vec<CorpusLine> = CORPUS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .map_err(|e| GenerateError::Corpus(e.to_string()))?;
    let places = places(dir);
    let today = crate::queries::today();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, u64)>(2);
    let producer = tokio::task::spawn_blocking({
        let opts = opts.clone();
        move || produce(&corpus, &places, &opts, today, &tx)
    });
    let mut db = pool.begin().await?;
    sqlx::query("SET LOCAL maintenance_work_mem = '512MB'")
        .execute(&mut *db)
        .await?;
    let deferred = defer_indexes(&mut db).await?;
    let mut written = 0u64;
    while let Some((batch, n)) = rx.recv().await {
        let mut copy = db.copy_in_raw(COPY_APPEALS).await?;
        copy.send(batch.as_bytes()).await?;
        copy.finish().await?;
        written += n;
        progress(written);
    }
    let Produced {
        rollups,
        instructions,
        receptions,
    } = producer
        .await
        .map_err(|e| GenerateError::Corpus(format!("generator thread: {e}")))?;
    let conn: &mut sqlx::PgConnection = &mut db;
    if !instructions.is_empty() {
        let mut copy = conn
            .copy_in_raw(
                "COPY instructions (instruction_id, number, issuer, status, executors, appeal_ids, due_date, \
                 issued_at, completed_at, completed_on_time, overdue) FROM STDIN",
            )
            .await?;
        copy.send(instructions.as_bytes()).await?;
        copy.finish().await?;
    }
    if !receptions.is_empty() {
        let mut copy = conn
            .copy_in_raw(
                "COPY receptions (key, official_id, format, status, district, starts_at, updated_at) FROM STDIN",
            )
            .await?;
        copy.send(receptions.as_bytes()).await?;
        copy.finish().await?;
    }
    restore_indexes(conn, &deferred).await?;
    write_rollups(conn, rollups).await?;
    db.commit().await?;
    Ok(written)
}

/// Drops the secondary indexes of an empty `appeals` table (not its primary key) and
/// returns their definitions, to be built again after the load.
async fn defer_indexes(conn: &mut sqlx::PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM appeals)")
        .fetch_one(&mut *conn)
        .await?;
    if !empty {
        return Ok(Vec::new());
    }
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() \
         AND i.tablename = 'appeals' AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
         WHERE c.conrelid = 'appeals'::regclass AND c.conname = i.indexname)",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX \"{name}\"")))
            .execute(&mut *conn)
            .await?;
    }
    Ok(indexes.into_iter().map(|(_, def)| def).collect())
}

async fn restore_indexes(
    conn: &mut sqlx::PgConnection,
    defs: &[String],
) -> Result<(), sqlx::Error> {
    for def in defs {
        sqlx::query(sqlx::AssertSqlSafe(def.clone()))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Adds the generated counts to the roll-ups (daily and monthly rows) through staging
/// tables, so a generator run on top of existing data adds up.
async fn write_rollups(conn: &mut sqlx::PgConnection, r: Rollups) -> Result<(), sqlx::Error> {
    let mut monthly_dims: HashMap<(&'static str, NaiveDate, String), C3> = HashMap::new();
    let mut text = String::new();
    for ((dim, day, key), c) in &r.dims {
        let m = monthly_dims
            .entry((dim, month_start(*day), key.clone()))
            .or_default();
        m.0 += c.0;
        m.1 += c.1;
        m.2 += c.2;
        let _ = writeln!(
            text,
            "{dim}\td\t{day}\t{}\t{}\t{}\t{}",
            esc(key),
            c.0,
            c.1,
            c.2
        );
    }
    for ((dim, day, key), c) in &monthly_dims {
        let _ = writeln!(
            text,
            "{dim}\tm\t{day}\t{}\t{}\t{}\t{}",
            esc(key),
            c.0,
            c.1,
            c.2
        );
    }
    stage(
        conn,
        "counts_by_dim",
        "dim, grain, day, key, appeals, repeated, collective",
        "(dim, grain, day, key)",
        &["appeals", "repeated", "collective"],
        &text,
    )
    .await?;
    let mut monthly: HashMap<(NaiveDate, String, String), C3> = HashMap::new();
    text.clear();
    for ((day, district, category), c) in &r.dc {
        let m = monthly
            .entry((month_start(*day), district.clone(), category.clone()))
            .or_default();
        m.0 += c.0;
        m.1 += c.1;
        m.2 += c.2;
        let _ = writeln!(
            text,
            "d\t{day}\t{}\t{}\t{}\t{}\t{}",
            esc(district),
            esc(category),
            c.0,
            c.1,
            c.2
        );
    }
    for ((day, district, category), c) in &monthly {
        let _ = writeln!(
            text,
            "m\t{day}\t{}\t{}\t{}\t{}\t{}",
            esc(district),
            esc(category),
            c.0,
            c.1,
            c.2
        );
    }
    stage(
        conn,
        "counts_by_district_category",
        "grain, day, district, category, appeals, repeated, collective",
        "(grain, day, district, category)",
        &["appeals", "repeated", "collective"],
        &text,
    )
    .await?;
    let columns = crate::domain::rollup::BODY_COUNTERS;
    let mut monthly_bodies: HashMap<(NaiveDate, String), [i64; 13]> = HashMap::new();
    text.clear();
    let line = |text: &mut String, grain: char, day: &NaiveDate, body: &str, v: &[i64; 13]| {
        let _ = write!(text, "{grain}\t{day}\t{}", esc(body));
        for x in v {
            let _ = write!(text, "\t{x}");
        }
        text.push('\n');
    };
    for ((day, body), v) in &r.bodies {
        let m = monthly_bodies
            .entry((month_start(*day), body.clone()))
            .or_default();
        for (a, b) in m.iter_mut().zip(v) {
            *a += b;
        }
        line(&mut text, 'd', day, body, v);
    }
    for ((day, body), v) in &monthly_bodies {
        line(&mut text, 'm', day, body, v);
    }
    stage(
        conn,
        "body_activity",
        &format!("grain, day, body, {}", columns.join(", ")),
        "(grain, day, body)",
        &columns,
        &text,
    )
    .await?;
    let mut monthly_rec: HashMap<(NaiveDate, String), [i64; 3]> = HashMap::new();
    text.clear();
    for ((day, district), v) in &r.receptions {
        let m = monthly_rec
            .entry((month_start(*day), district.clone()))
            .or_default();
        for (a, b) in m.iter_mut().zip(v) {
            *a += b;
        }
        let _ = writeln!(
            text,
            "d\t{day}\t{}\t\t{}\t{}\t{}",
            esc(district),
            v[0],
            v[1],
            v[2]
        );
    }
    for ((day, district), v) in &monthly_rec {
        let _ = writeln!(
            text,
            "m\t{day}\t{}\t\t{}\t{}\t{}",
            esc(district),
            v[0],
            v[1],
            v[2]
        );
    }
    stage(
        conn,
        "reception_activity",
        "grain, day, district, body, booked, cancelled, held",
        "(grain, day, district, body)",
        &["booked", "cancelled", "held"],
        &text,
    )
    .await?;
    Ok(())
}

async fn stage(
    conn: &mut sqlx::PgConnection,
    table: &str,
    columns: &str,
    key: &str,
    sums: &[&str],
    data: &str,
) -> Result<(), sqlx::Error> {
    let staging = format!("staging_{table}");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table}) ON COMMIT PRESERVE ROWS"
    )))
    .execute(&mut *conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("TRUNCATE {staging}")))
        .execute(&mut *conn)
        .await?;
    // Rows in key order (the day first), as a projection fed day by day lays them out.
    let mut lines: Vec<&str> = data.lines().collect();
    lines.sort_unstable();
    let mut sorted = lines.join("\n");
    if !sorted.is_empty() {
        sorted.push('\n');
    }
    let mut copy = conn
        .copy_in_raw(&format!("COPY {staging} ({columns}) FROM STDIN"))
        .await?;
    copy.send(sorted.as_bytes()).await?;
    copy.finish().await?;
    let set: Vec<String> = sums
        .iter()
        .map(|c| format!("{c} = {table}.{c} + EXCLUDED.{c}"))
        .collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} ORDER BY {} \
         ON CONFLICT {key} DO UPDATE SET {}",
        key.trim_matches(|c| c == '(' || c == ')'),
        set.join(", ")
    )))
    .execute(&mut *conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {staging}")))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Makes the appeals in batches of COPY text and sends them to the writer; builds the
/// roll-ups, instructions and receptions on the way. Stops early when the writer is gone.
fn produce(
    corpus: &[CorpusLine],
    places: &[(Place, u64)],
    opts: &GenerateOptions,
    today: NaiveDate,
    tx: &tokio::sync::mpsc::Sender<(String, u64)>,
) -> Produced {
    let mut by_category: HashMap<&str, Vec<&CorpusLine>> = HashMap::new();
    for line in corpus.iter().filter(|l| l.category != "excluded") {
        by_category
            .entry(line.category.as_str())
            .or_default()
            .push(line);
    }
    let mut categories: Vec<(&str, u64)> = by_category
        .keys()
        .map(|c| {
            let w = match *c {
                "housing_utilities" => 22,
                "roads_transport" => 14,
                "land" => 12,
                "social_protection" => 11,
                "construction" => 6,
                "other" => 4,
                _ => 5,
            };
            (*c, w)
        })
        .collect();
    categories.sort();
    let place_weights: Vec<(usize, u64)> = places
        .iter()
        .enumerate()
        .map(|(i, (_, w))| (i, *w))
        .collect();
    let kinds = [
        ("application", 45),
        ("complaint", 25),
        ("request", 10),
        ("proposal", 8),
        ("report", 7),
        ("feedback", 5),
    ];
    let channels = [
        ("electronic", 55),
        ("external", 15),
        ("paper_in_person", 15),
        ("paper_post", 10),
        ("reception", 5),
    ];
    let issuers = [
        ("president", 2),
        ("presidential_administration", 3),
        ("state_counsellor", 1),
        ("akim", 10),
    ];
    let start = opts.until - Duration::days(i64::from(opts.days.max(1)) - 1);
    let mut rng = Rng(opts.seed);
    // Appeals are written in the order they were registered, as the projection appends
    // them in real life (the latest appeals share pages, not one page each). Winter
    // peaks and a slow growth (+30 %) over the span.
    let mut days: Vec<u32> = {
        let mut r = Rng(opts.seed ^ 0x5eed_da75);
        let span = u64::from(opts.days);
        (0..opts.appeals)
            .map(|_| {
                let d = r.below(span);
                (if r.chance(25) {
                    d.max(r.below(span))
                } else {
                    d
                }) as u32
            })
            .collect()
    };
    days.sort_unstable();
    let mut rollups = Rollups::default();
    let mut written = 0u64;
    let mut buf = String::with_capacity(BATCH * 400);
    let mut instructions = String::new();
    let mut receptions = String::new();
    while written < opts.appeals {
        let n = (opts.appeals - written).min(BATCH as u64);
        buf.clear();
        for k in 0..n {
            let i = written + k;
            let day = start + Duration::days(i64::from(days[i as usize]));
            let place = &places[*rng.weighted(&place_weights)].0;
            let category = *rng.weighted(&categories);
            let lines = &by_category[category];
            let line = lines[rng.below(lines.len() as u64) as usize];
            let kind = *rng.weighted(&kinds);
            let channel = *rng.weighted(&channels);
            let rural_index = (!place.rurals.is_empty() && rng.chance(40))
                .then(|| rng.below(place.rurals.len() as u64) as usize);
            let rural = rural_index.map_or("", |r| place.rurals[r].as_str());
            let repeated = rng.chance(7);
            let collective = rng.chance(4);
            let body = match rural_index {
                Some(r) if r < place.rural_bodies.len() && rng.chance(50) => {
                    place.rural_bodies[r].clone()
                }
                _ if rng.chance(70) => place.akimat.clone(),
                _ => format!("dept.{}.{category}", place.region),
            };
            let seconds = 9 * 3600 + rng.below(9 * 3600) as u32;
            let due = day + Duration::days(21);
            let assigned_day = day + Duration::days(1);
            let answer_after = if rng.chance(12) {
                22 + rng.below(20)
            } else {
                2 + rng.below(19)
            };
            let answer_day = day + Duration::days(answer_after as i64);
            let answered = answer_day <= today;
            let returned = answered && rng.chance(8);
            let close_day = answer_day + Duration::days(if returned { 7 } else { 2 });
            let closed = close_day <= today;
            let overdue = (answered && answer_day > due) || (!answered && due < today);
            let status = if closed {
                "closed"
            } else if answered {
                "answer_submitted"
            } else if assigned_day <= today {
                "assigned"
            } else {
                "routed"
            };
            let region_code: String = place
                .region
                .chars()
                .filter(|c| c.is_ascii_alphabetic())
                .take(3)
                .collect::<String>()
                .to_uppercase();
            let number = format!("{region_code}-{}-{:08}", day.format("%Y"), i + 1);
            let _ = writeln!(
                buf,
                "g{:x}-{i}\t{number}\t{}\t{day}\t{kind}\t{channel}\t{}\t{}\t{}\t{}\t{}\t{}\t{category}\t{}\t{}\t{status}\t{due}\t{}\t{}\t{}\t{overdue}\t{}\t0\t\t{}\ttrue",
                opts.seed,
                ts(day, seconds),
                line.language,
                place.region,
                place.district,
                esc(rural),
                collective,
                repeated,
                line.subcategory.as_deref().unwrap_or(&line.category),
                body,
                if answered {
                    ts(answer_day, seconds)
                } else {
                    "\\N".into()
                },
                if answered {
                    (answer_day <= due).to_string()
                } else {
                    "\\N".into()
                },
                if closed {
                    ts(close_day, seconds)
                } else {
                    "\\N".into()
                },
                i32::from(returned),
                esc(&line.text),
            );
            let rk = rural_key(&place.district, rural);
            rollups.count(
                day,
                [
                    ("total", ""),
                    ("region", &place.region),
                    ("district", &place.district),
                    ("rural_district", &rk),
                    ("kind", kind),
                    ("channel", channel),
                    ("category", category),
                    ("body", &body),
                ],
                &place.district,
                category,
                repeated,
                collective,
            );
            if assigned_day <= today {
                rollups.body(assigned_day, &body, ASSIGNED, 1);
            }
            if answered {
                rollups.body(answer_day, &body, ANSWERED, 1);
                rollups.body(
                    answer_day,
                    &body,
                    if answer_day <= due { ON_TIME } else { LATE },
                    1,
                );
                rollups.body(answer_day, &body, ANSWER_DAYS, answer_after as i64);
            }
            if overdue {
                rollups.body(due + Duration::days(1), &body, OVERDUE, 1);
            }
            if returned {
                rollups.body(answer_day + Duration::days(3), &body, RETURNED, 1);
            }
            if closed {
                rollups.body(close_day, &body, CLOSED, 1);
            }
            // One instruction per 200 appeals, one reception booking per 40.
            if i.is_multiple_of(200) {
                let issuer = *rng.weighted(&issuers);
                let idue = day + Duration::days(30);
                let done_day = day + Duration::days(10 + rng.below(35) as i64);
                let completed = done_day <= today;
                let on_time = done_day <= idue;
                let i_overdue = (completed && !on_time) || (!completed && idue < today);
                let _ = writeln!(
                    instructions,
                    "g{:x}-i{i}\tП-{i}\t{issuer}\t{}\t{{{body}}}\t{{g{:x}-{i}}}\t{idue}\t{}\t{}\t{}\t{i_overdue}",
                    opts.seed,
                    if completed { "completed" } else { "issued" },
                    opts.seed,
                    ts(day, seconds),
                    if completed {
                        ts(done_day, seconds)
                    } else {
                        "\\N".into()
                    },
                    if completed {
                        on_time.to_string()
                    } else {
                        "\\N".into()
                    },
                );
                rollups.body(day, &body, INSTR_ISSUED, 1);
                if completed {
                    rollups.body(done_day, &body, INSTR_COMPLETED, 1);
                    if !on_time {
                        rollups.body(done_day, &body, INSTR_LATE, 1);
                    }
                }
                if i_overdue {
                    rollups.body(idue + Duration::days(1), &body, INSTR_OVERDUE, 1);
                }
            }
            if i.is_multiple_of(40) {
                let when = day + Duration::days(3 + rng.below(10) as i64);
                let status = if when > today {
                    "booked"
                } else if rng.chance(10) {
                    "cancelled"
                } else {
                    "held"
                };
                let _ = writeln!(
                    receptions,
                    "g{:x}-b{i}\tofficial-{}\tin_person\t{status}\t{}\t{}\t{}",
                    opts.seed,
                    rng.below(50),
                    place.district,
                    ts(when, 36_000),
                    ts(day, seconds),
                );
                let r = rollups
                    .receptions
                    .entry((day, place.district.clone()))
                    .or_default();
                r[0] += 1;
                if status != "booked" {
                    let col = if status == "held" { 2 } else { 1 };
                    rollups
                        .receptions
                        .entry((when, place.district.clone()))
                        .or_default()[col] += 1;
                }
            }
        }
        let batch = std::mem::replace(&mut buf, String::with_capacity(BATCH * 400));
        if tx.blocking_send((batch, n)).is_err() {
            // The writer failed and returns its own error.
            break;
        }
        written += n;
    }
    Produced {
        rollups,
        instructions,
        receptions,
    }
}
