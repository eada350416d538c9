//! Reception's settings: the platform's sections plus the reception's own.

use std::path::PathBuf;

use bakylau_platform::config::{BrokerSettings, DatabaseSettings, GrpcSettings, MetricsSettings};
use bakylau_platform::personal_data::PersonalDataSettings;
use serde::{Deserialize, Serialize};

use crate::domain::booking::HoldingPolicy;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub broker: BrokerSettings,
    pub grpc: GrpcSettings,
    pub metrics: MetricsSettings,
    pub reception: ReceptionSettings,
    /// Keys of the visitors' pseudonyms and of their sealed personal data
    /// (`[personal_data]`; `BAKYLAU_RECEPTION__PERSONAL_DATA__SEALING_KEY_FILE` etc.).
    pub personal_data: PersonalDataSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::default(),
            broker: BrokerSettings::default(),
            grpc: GrpcSettings::with_listen("127.0.0.1:50054"),
            metrics: MetricsSettings {
                listen: "127.0.0.1:9104".into(),
            },
            reception: ReceptionSettings::default(),
            personal_data: PersonalDataSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ReceptionSettings {
    /// Intake's gRPC address (`http://127.0.0.1:50051`): earlier appeals are looked up and
    /// appeals raised at a reception registered there. Empty: not available.
    pub intake_addr: String,
    /// Control's gRPC address (`http://127.0.0.1:50053`): instructions given at a reception
    /// are created there. Empty: not available.
    pub control_addr: String,
    /// Time limit of one call to intake or control.
    pub downstream_timeout_ms: u64,
    /// Officials and schedules loaded at start (TOML); empty uses the demo data built in.
    pub officials_file: Option<PathBuf>,
    /// Load the officials file at start (only what is not in the database yet).
    pub load_officials: bool,
    /// Working-day calendar folder (`kz-*.toml`); empty uses the calendar built in.
    pub calendar_dir: Option<PathBuf>,
    pub holding: HoldingPolicy,
    /// A reminder to the visitor is due this many hours before the reception.
    pub reminder_hours_before: u32,
    /// How often reminders are made and the free-slot gauges refreshed.
    pub sweep_interval_ms: u64,
    /// Region written into the locality of appeals registered at a reception.
    pub region: String,
    /// Days after a reception (or after joining the waiting list) when the visitor's
    /// personal data is erased; the booking is kept. 0 keeps it.
    pub personal_data_days: u32,
}

impl Default for ReceptionSettings {
    fn default() -> Self {
        Self {
            intake_addr: String::new(),
            control_addr: String::new(),
            downstream_timeout_ms: 10_000,
            officials_file: None,
            load_officials: true,
            calendar_dir: None,
            holding: HoldingPolicy::default(),
            reminder_hours_before: 24,
            sweep_interval_ms: 30_000,
            region: "Алматинская область".into(),
            // Five years, as intake keeps its applicants'.
            personal_data_days: 5 * 365 + 1,
        }
    }
}
