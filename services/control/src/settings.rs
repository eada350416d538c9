//! Control's settings: the platform's sections plus the control policy, the scheduler,
//! the letter notifier and the calendar.

use std::path::PathBuf;

use bakylau_platform::config::{BrokerSettings, DatabaseSettings, GrpcSettings, MetricsSettings};
use serde::{Deserialize, Serialize};

use crate::domain::policy::Policy;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub broker: BrokerSettings,
    pub grpc: GrpcSettings,
    pub metrics: MetricsSettings,
    pub control: ControlSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings::default(),
            broker: BrokerSettings::default(),
            grpc: GrpcSettings::with_listen("127.0.0.1:50053"),
            metrics: MetricsSettings {
                listen: "127.0.0.1:9103".into(),
            },
            control: ControlSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ControlSettings {
    /// The policy written to the database on first start; afterwards the stored policy
    /// (edited over gRPC) wins.
    pub policy: Policy,
    /// Working-day calendar folder (`kz-*.toml`) to seed the stored calendar from on first
    /// start; empty uses the calendar built in.
    pub calendar_dir: Option<PathBuf>,
    pub scheduler: SchedulerSettings,
    pub notifier: NotifierSettings,
    /// Largest answer attachment, in bytes.
    pub max_attachment_bytes: usize,
    /// Largest total of an answer's attachments, in bytes.
    pub max_answer_bytes: usize,
    /// Shift of the service clock, in seconds. Zero in production; tests and drills use it
    /// to make reminders and escalations due without waiting days.
    pub clock_offset_secs: i64,
    /// Instructions (reg 9): section `[control.instructions]`.
    pub instructions: crate::instructions::InstructionSettings,
}

impl Default for ControlSettings {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            calendar_dir: None,
            scheduler: SchedulerSettings::default(),
            notifier: NotifierSettings::default(),
            max_attachment_bytes: 10 * 1024 * 1024,
            max_answer_bytes: 25 * 1024 * 1024,
            clock_offset_secs: 0,
            instructions: crate::instructions::InstructionSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulerSettings {
    /// How often the worker looks for due jobs.
    pub poll_ms: u64,
    /// Jobs claimed per transaction.
    pub batch: i64,
    /// How often the open/overdue gauges and the calendar version are refreshed.
    pub refresh_secs: u64,
    /// Name of this replica in `jobs.fired_by` (defaults to host name and process id).
    pub worker_name: Option<String>,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            poll_ms: 1000,
            batch: 50,
            refresh_secs: 15,
            worker_name: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifierSettings {
    /// SMTP relay host; empty leaves letters stored for printing and postal delivery.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// Sender address of the Department's letters.
    pub from: String,
    /// Name announced in EHLO.
    pub helo_name: String,
    /// Intake's gRPC address: the applicant's e-mail is read from there at send time and
    /// never stored in control.
    pub intake_addr: String,
    pub poll_ms: u64,
    /// Failed sends are retried this many times, with growing pauses, then marked failed.
    pub max_attempts: i32,
    pub timeout_ms: u64,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        Self {
            smtp_host: String::new(),
            smtp_port: 25,
            from: "noreply@bakylau.local".into(),
            helo_name: "bakylau-control".into(),
            intake_addr: "http://127.0.0.1:50051".into(),
            poll_ms: 2000,
            max_attempts: 5,
            timeout_ms: 10_000,
        }
    }
}
