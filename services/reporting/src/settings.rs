//! Reporting's settings: the platform's sections plus the analysis policy.

use bakylau_platform::config::{BrokerSettings, DatabaseSettings, GrpcSettings, MetricsSettings};
use serde::{Deserialize, Serialize};

use crate::domain::spike::SpikePolicy;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub broker: BrokerSettings,
    pub grpc: GrpcSettings,
    pub metrics: MetricsSettings,
    pub reporting: ReportingSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::default(),
            broker: BrokerSettings::default(),
            grpc: GrpcSettings::with_listen("127.0.0.1:50055"),
            metrics: MetricsSettings {
                listen: "127.0.0.1:9105".into(),
            },
            reporting: ReportingSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportingSettings {
    /// Content analysis reads the texts of at most this many of the period's latest
    /// appeals (keeps a query within a second at ten million appeals).
    pub analysis_sample: u32,
    /// Jaccard similarity of word stems at which two appeals are the same problem.
    pub cluster_similarity: f64,
    pub spikes: SpikePolicy,
    /// How often the spike detector runs, in seconds; 0 turns the background run off (the
    /// `Spikes` call with `detect` still runs it).
    pub spike_interval_secs: u64,
}

impl Default for ReportingSettings {
    fn default() -> Self {
        Self {
            analysis_sample: 20_000,
            cluster_similarity: 0.3,
            spikes: SpikePolicy::default(),
            spike_interval_secs: 300,
        }
    }
}
