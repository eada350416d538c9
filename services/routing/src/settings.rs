//! Routing's settings: the platform's sections plus the routing policy.

use std::path::PathBuf;

use bakylau_platform::config::{BrokerSettings, DatabaseSettings, GrpcSettings, MetricsSettings};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub broker: BrokerSettings,
    pub grpc: GrpcSettings,
    pub metrics: MetricsSettings,
    pub routing: RoutingSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::default(),
            broker: BrokerSettings::default(),
            grpc: GrpcSettings::with_listen("127.0.0.1:50052"),
            metrics: MetricsSettings {
                listen: "127.0.0.1:9102".into(),
            },
            routing: RoutingSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RoutingSettings {
    /// Folder with taxonomy.toml, bodies.toml, rules.toml and corpus/corpus.jsonl; empty
    /// uses the copies compiled into the binary.
    pub data_dir: Option<PathBuf>,
    /// Classifier confidence below which an appeal goes to manual routing.
    pub confidence_threshold: f64,
    /// Near-duplicates are looked for among appeals registered this many days apart.
    pub duplicate_window_days: u32,
    /// Estimated Jaccard similarity (MinHash) from which two texts are near-duplicates.
    pub duplicate_similarity: f64,
    /// Working days to tell the applicant of a redirect (APPK art. 65).
    pub redirect_notice_working_days: u32,
    /// Working-day calendar folder (`kz-*.toml`); empty uses the calendar built in.
    pub calendar_dir: Option<PathBuf>,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        Self {
            data_dir: None,
            confidence_threshold: 0.7,
            duplicate_window_days: 30,
            duplicate_similarity: 0.5,
            redirect_notice_working_days: crate::domain::routing::REDIRECT_NOTICE_WORKING_DAYS,
            calendar_dir: None,
        }
    }
}
