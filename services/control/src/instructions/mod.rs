//! Instructions (reg 9, 8.4): instructions of the President, the State Counsellor, the
//! Presidential Administration and its Appeals Control Department, the akim, or an
//! official at a personal reception (reg 6.1), given on appeals: executors, deadline on the
//! working-day calendar, progress reports, on-site checks (reg 9.3), conclusions (reg 9.7),
//! disciplinary proposals (reg 9.5), completion and overdue escalation.
//!
//! `domain` is pure; `storage`, `api` (gRPC `InstructionService`) and `sweep` are adapters.

pub mod api;
pub mod domain;
pub mod events;
pub mod storage;
pub mod sweep;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use bakylau_calendar::Calendar;
use bakylau_platform::CancellationToken;
use bakylau_proto::control::v1::instruction_service_server::InstructionServiceServer;
use serde::{Deserialize, Serialize};

use crate::calendar_store::CalendarStore;
use crate::clock::{Clock, SystemClock};

/// Settings of instructions (section `[control.instructions]` or wherever the service
/// nests them); every key has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct InstructionSettings {
    /// Working days given when an instruction names neither a date nor a period.
    pub default_working_days: u32,
    /// How often the overdue sweep runs, in seconds.
    pub sweep_interval_secs: u64,
    /// Instructions escalated per transaction by the sweep.
    pub sweep_batch: i64,
}

impl Default for InstructionSettings {
    fn default() -> Self {
        Self {
            default_working_days: 15,
            sweep_interval_secs: 60,
            sweep_batch: 100,
        }
    }
}

/// Where deadlines are counted: a calendar fixed at start, or the stored calendar that
/// staff edit over gRPC (then an edit applies to the next instruction without a restart).
#[derive(Clone)]
pub enum CalendarSource {
    Fixed(Arc<Calendar>),
    Stored(Arc<CalendarStore>),
}

impl CalendarSource {
    /// The calendar in force now.
    pub fn current(&self) -> Arc<Calendar> {
        match self {
            CalendarSource::Fixed(c) => c.clone(),
            CalendarSource::Stored(store) => store.get(),
        }
    }
}

/// The gRPC service, to add to the control router: a fixed calendar, the system clock.
pub fn grpc_service(
    pool: sqlx::PgPool,
    calendar: Arc<Calendar>,
    settings: InstructionSettings,
) -> InstructionServiceServer<api::InstructionApi> {
    grpc_service_with(
        pool,
        CalendarSource::Fixed(calendar),
        Arc::new(SystemClock::default()),
        settings,
    )
}

/// [`grpc_service`] on the service's stored calendar and clock (drills shift the clock).
pub fn grpc_service_with(
    pool: sqlx::PgPool,
    calendar: CalendarSource,
    clock: Arc<dyn Clock>,
    settings: InstructionSettings,
) -> InstructionServiceServer<api::InstructionApi> {
    InstructionServiceServer::new(api::InstructionApi {
        pool,
        calendar,
        clock,
        settings,
    })
}

/// The overdue sweep, until `shutdown` fires (spawn it next to the gRPC server).
pub async fn run_overdue_sweep(
    pool: sqlx::PgPool,
    calendar: Arc<Calendar>,
    settings: InstructionSettings,
    shutdown: CancellationToken,
) {
    run_overdue_sweep_with(
        pool,
        CalendarSource::Fixed(calendar),
        Arc::new(SystemClock::default()),
        settings,
        shutdown,
    )
    .await
}

/// [`run_overdue_sweep`] on the stored calendar and the service's clock.
pub async fn run_overdue_sweep_with(
    pool: sqlx::PgPool,
    calendar: CalendarSource,
    clock: Arc<dyn Clock>,
    settings: InstructionSettings,
    shutdown: CancellationToken,
) {
    sweep::run(pool, calendar, clock, settings, shutdown).await
}
