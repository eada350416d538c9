//! What one appeal costs the machine on its way from RegisterAppeal to `appeal.assigned`,
//! counted from the code (each line names where). At the limit every queue has a backlog, so
//! every batch is full: intake commits `register_batch` registrations at once
//! (register_queue.rs), a consumer lane applies up to `consumer_batch` waiting deliveries in
//! one commit, bounded by its share of `prefetch` (broker/consumer.rs), and the relays mark
//! `relay_batch` rows sent in one commit (broker/outbox.rs).

pub struct Cost {
    pub commits: f64,
    pub messages: f64,
}

/// `broker.relay_batch` (crates/platform/src/config.rs).
const RELAY_BATCH: f64 = 256.0;
/// `intake.register_batch` (services/intake/src/settings.rs).
const REGISTER_BATCH: f64 = 128.0;
/// Deliveries per consumer commit: `broker.consumer_batch` (32), bounded by a lane's share
/// of `broker.prefetch`: 256 over the 4 lanes of config/{intake,routing,control}.toml is 64,
/// so the batch setting is the bound.
const CONSUMER_BATCH: f64 = 32.0;
/// Reporting applies its events on one lane (services/reporting/src/lib.rs), so its batches
/// are bounded by `broker.consumer_batch` alone.
const REPORTING_BATCH: f64 = 32.0;

/// (what, durable commits, broker messages: each publish and each delivery counts one)
const STEPS: &[(&str, f64, f64)] = &[
    (
        "intake: register + outbox row (register.rs, register_queue.rs)",
        1.0 / REGISTER_BATCH,
        0.0,
    ),
    (
        "outbox relays (broker/outbox.rs): publish appeal.registered, appeal.routed, \
         appeal.assigned and the coupon's applicant.notified; one commit per batch",
        4.0 / RELAY_BATCH,
        4.0,
    ),
    (
        "routing: appeal.registered → decision + appeal.routed (routing.appeals)",
        1.0 / CONSUMER_BATCH,
        1.0,
    ),
    (
        "control: appeal.registered (letters data, coupon) and appeal.routed → assignment + \
         appeal.assigned (control.appeals)",
        2.0 / CONSUMER_BATCH,
        2.0,
    ),
    (
        "reporting: every event of the appeal into its read model (reporting.events)",
        4.0 / REPORTING_BATCH,
        4.0,
    ),
    (
        "intake: appeal.routed and appeal.assigned checked for a sender to tell (intake.status)",
        2.0 / CONSUMER_BATCH,
        2.0,
    ),
];

pub fn per_appeal() -> Cost {
    Cost {
        commits: STEPS.iter().map(|s| s.1).sum(),
        messages: STEPS.iter().map(|s| s.2).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_batched_commits_and_thirteen_messages() {
        let c = per_appeal();
        let expected =
            1.0 / REGISTER_BATCH + 5.0 / CONSUMER_BATCH + 4.0 / REPORTING_BATCH + 4.0 / RELAY_BATCH;
        assert!((c.commits - expected).abs() < 1e-9);
        assert_eq!(c.messages, 13.0);
    }
}
