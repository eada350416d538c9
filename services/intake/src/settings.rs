//! Intake's settings: the platform's sections plus the register's policy.

use std::path::PathBuf;

use bakylau_platform::config::{BrokerSettings, DatabaseSettings, GrpcSettings, MetricsSettings};
use bakylau_platform::limits::RateLimitSettings;
use bakylau_platform::personal_data::PersonalDataSettings;
use serde::{Deserialize, Serialize};

use crate::domain::Officer;
use crate::domain::registration::OfficeHours;
use crate::domain::validation::PreReviewPolicy;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub broker: BrokerSettings,
    pub grpc: GrpcSettings,
    pub metrics: MetricsSettings,
    /// Keys of the applicants' pseudonyms and of the sealed personal data (`[personal_data]`).
    pub personal_data: PersonalDataSettings,
    pub intake: IntakeSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::default(),
            broker: BrokerSettings::default(),
            grpc: GrpcSettings::with_listen("127.0.0.1:50051"),
            metrics: MetricsSettings {
                listen: "127.0.0.1:9101".into(),
            },
            personal_data: PersonalDataSettings::default(),
            intake: IntakeSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IntakeSettings {
    /// Prefix of registration numbers (`ALM-2026-000123`).
    pub office: String,
    pub office_hours: OfficeHours,
    pub pre_review: PreReviewPolicy,
    /// An appeal by the same applicant on a similar subject within this many days is a repeat.
    pub repeat_window_days: u32,
    /// Jaccard similarity of word stems above which two appeals are the same subject.
    pub repeat_similarity: f64,
    /// PEM files of the trusted root and intermediate CAs for signatures; none means every
    /// signature is at best `untrusted`.
    pub trusted_roots: Vec<PathBuf>,
    /// Shown on the coupon of appeals registered without a human registrar.
    pub electronic_officer: Officer,
    /// Working-day calendar folder (`kz-*.toml`); empty uses the calendar built in.
    pub calendar_dir: Option<PathBuf>,
    /// Largest inbound AMQP message, in bytes; larger ones are parked.
    pub max_inbound_bytes: usize,
    /// RegisterAppeal calls per caller (the verified token's subject); over it a caller
    /// gets RESOURCE_EXHAUSTED with a retry hint. `per_second = 0` turns it off.
    pub register_rate: RateLimitSettings,
    /// Registrations stored and committed together at most (one counter lock, one flush).
    pub register_batch: usize,
    /// Registrations waiting for the writer at most; callers beyond wait their turn.
    pub register_queue: usize,
    /// Which broker user may publish inbound appeals as which `source` (reg 8.5, 8.6):
    /// `{ "eotinish" = ["urn:kz:eotinish"] }`. A message must then carry the AMQP
    /// `user_id` (which RabbitMQ checks against the connection) and name a source of that
    /// user; others are parked. Empty: not enforced (a local stack where every system is
    /// `guest`); deployments set it, with a broker user per system and per service.
    pub inbound_senders: std::collections::BTreeMap<String, Vec<String>>,
    pub retention: RetentionSettings,
}

/// How long the register keeps personal data. Appeals themselves (number, kind, dates,
/// locality, text, status) stay: they are the department's record (reg 5.7).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RetentionSettings {
    /// Days after registration when an appeal's sealed applicant, co-signatories, signature
    /// and attachment contents, and a consultation's person, are erased; 0 keeps them.
    pub personal_data_days: u32,
    /// How often the erasure runs, in seconds.
    pub check_interval_s: u64,
    /// Rows erased (or re-sealed under a new key) per transaction.
    pub batch: i64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            // Five years, the keeping period of appeal files in the archival nomenclature.
            personal_data_days: 5 * 365 + 1,
            check_interval_s: 3600,
            batch: 500,
        }
    }
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            office: "ALM".into(),
            office_hours: OfficeHours::default(),
            pre_review: PreReviewPolicy::default(),
            repeat_window_days: 365,
            repeat_similarity: 0.45,
            trusted_roots: Vec::new(),
            electronic_officer: Officer {
                full_name: "Bakylau".into(),
                position: "electronic registration".into(),
            },
            calendar_dir: None,
            max_inbound_bytes: 32 * 1024 * 1024,
            // Far above a person's pace, well below a flood from one client.
            register_rate: RateLimitSettings {
                per_second: 50.0,
                burst: 500,
                max_callers: 100_000,
            },
            register_batch: 128,
            register_queue: 1024,
            inbound_senders: Default::default(),
            retention: RetentionSettings::default(),
        }
    }
}
