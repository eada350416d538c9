//! Loads officials and their schedules from a TOML file at start (reg 6.1). Idempotent:
//! only officials and schedules not in the database yet are written, so edits made over
//! gRPC survive restarts.

use std::path::Path;

use serde::Deserialize;
use sqlx::PgPool;

use crate::domain::official::Official;
use crate::domain::schedule::{Schedule, WeeklyHours};
use crate::domain::{Format, ReceptionKind, Venue, describe};
use crate::storage;

/// The demo officials of Almaty Region built into the binary.
pub const DEMO: &str = include_str!("../data/officials.toml");

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("officials file: {0}")]
    Read(#[from] std::io::Error),
    #[error("officials file: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("officials file, official {id}: {problems}")]
    Invalid { id: String, problems: String },
    #[error("officials file: unsupported schema_version {0}")]
    Version(u32),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

#[derive(Deserialize)]
struct File {
    schema_version: u32,
    #[serde(default)]
    official: Vec<SeedOfficial>,
}

#[derive(Deserialize)]
struct SeedOfficial {
    #[serde(flatten)]
    official: Official,
    #[serde(default)]
    schedule: Option<SeedSchedule>,
}

#[derive(Deserialize)]
struct SeedSchedule {
    publish_days_ahead: u32,
    #[serde(default)]
    weekly: Vec<SeedWeekly>,
}

/// Weekly hours as written in the file: times as `HH:MM`.
#[derive(Deserialize)]
struct SeedWeekly {
    weekday: u32,
    start: String,
    end: String,
    slot_minutes: u32,
    format: Format,
    kind: ReceptionKind,
    #[serde(default)]
    venue: Venue,
}

/// Officials with their schedules, checked.
pub fn parse(text: &str) -> Result<Vec<(Official, Schedule)>, SeedError> {
    let file: File = toml::from_str(text)?;
    if file.schema_version != 1 {
        return Err(SeedError::Version(file.schema_version));
    }
    let mut out = Vec::new();
    for s in file.official {
        let id = s.official.id.clone();
        let invalid = |problems: String| SeedError::Invalid {
            id: id.clone(),
            problems,
        };
        let issues = s.official.check();
        if !issues.is_empty() {
            return Err(invalid(describe(&issues)));
        }
        let mut schedule = Schedule::default();
        if let Some(seed) = s.schedule {
            schedule.publish_days_ahead = seed.publish_days_ahead;
            for w in seed.weekly {
                let time = |t: &str| {
                    crate::domain::schedule::parse_time(t)
                        .ok_or_else(|| invalid(format!("time {t:?} is not HH:MM")))
                };
                schedule.weekly.push(WeeklyHours {
                    weekday: w.weekday,
                    start: time(&w.start)?,
                    end: time(&w.end)?,
                    slot_minutes: w.slot_minutes,
                    format: w.format,
                    kind: w.kind,
                    venue: w.venue,
                });
            }
        }
        let issues = schedule.check_weekly();
        if !issues.is_empty() {
            return Err(invalid(describe(&issues)));
        }
        out.push((s.official, schedule));
    }
    Ok(out)
}

/// Writes what is missing; returns how many officials were added.
pub async fn load(pool: &PgPool, file: Option<&Path>) -> Result<usize, SeedError> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)?,
        None => DEMO.to_owned(),
    };
    let officials = parse(&text)?;
    let mut tx = pool.begin().await?;
    let mut added = 0;
    // Supervisors may come later in the file; foreign keys are on schedules only.
    for (official, schedule) in &officials {
        if storage::save_official(&mut tx, official, storage::SOURCE_SEED, true).await? {
            added += 1;
        }
        storage::save_schedule(&mut tx, &official.id, schedule, true).await?;
    }
    tx.commit().await?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_data_is_valid_and_covers_every_kind_of_official() {
        let officials = parse(DEMO).unwrap();
        assert!(officials.len() >= 15);
        let ids: std::collections::HashSet<_> =
            officials.iter().map(|(o, _)| o.id.as_str()).collect();
        assert_eq!(ids.len(), officials.len(), "ids are unique");
        for (o, _) in &officials {
            assert!(
                o.supervisor_id.is_empty() || ids.contains(o.supervisor_id.as_str()),
                "{} has an unknown supervisor",
                o.id
            );
        }
        use crate::domain::official::OfficialKind::*;
        for kind in [
            Akim,
            DeputyAkim,
            OfficeHead,
            SubdivisionHead,
            DistrictAkim,
            CityAkim,
            PresidentialAssistant,
        ] {
            assert!(
                officials.iter().any(|(o, _)| o.kind == kind),
                "{kind} missing"
            );
        }
        // Somebody receives on every working weekday.
        for wd in 1..=5 {
            assert!(
                officials
                    .iter()
                    .any(|(_, s)| s.weekly.iter().any(|w| w.weekday == wd))
            );
        }
    }

    /// The body of the President's Assistant (reg 6.3): a national body, outside the
    /// region's directory of bodies.
    const OUTSIDE_THE_DIRECTORY: &[&str] = &["presidential_administration"];

    #[test]
    fn the_demo_bodies_and_districts_are_in_routings_directory() {
        #[derive(Deserialize)]
        struct Coded {
            code: String,
        }
        #[derive(Deserialize)]
        struct Directory {
            body: Vec<Coded>,
            district: Vec<Coded>,
        }
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../routing/data/bodies.toml");
        let text = std::fs::read_to_string(path).expect("routing's directory of bodies");
        let directory: Directory = toml::from_str(&text).unwrap();
        let bodies: std::collections::HashSet<_> =
            directory.body.iter().map(|b| b.code.as_str()).collect();
        let districts: std::collections::HashSet<_> =
            directory.district.iter().map(|d| d.code.as_str()).collect();
        for (o, _) in parse(DEMO).unwrap() {
            assert!(
                bodies.contains(o.body.as_str())
                    || OUTSIDE_THE_DIRECTORY.contains(&o.body.as_str()),
                "{}: body {} is not in the directory of bodies",
                o.id,
                o.body
            );
            assert!(
                o.district.is_empty() || districts.contains(o.district.as_str()),
                "{}: district {} is not in the directory",
                o.id,
                o.district
            );
        }
    }

    #[test]
    fn a_bad_file_names_the_official() {
        let text = "schema_version = 1\n[[official]]\nid = \"x\"\nfull_name = \"\"\nposition = \"p\"\nkind = \"akim\"\nbody = \"b\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains("official x") && err.contains("official.full_name"),
            "{err}"
        );
    }
}
