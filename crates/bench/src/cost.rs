//! What one appeal costs the machine on its way from RegisterAppeal to `appeal.assigned`,
//! counted from the code (each line names where). Every consumer applies a delivery and
//! its inbox row in one commit. The relays mark a whole batch sent in one commit; at the
//! limit the outbox has a backlog, so each relay takes full batches of `relay_batch`.

pub struct Cost {
    pub commits: f64,
    pub messages: f64,
}

/// `broker.relay_batch` (crates/platform/src/config.rs).
const RELAY_BATCH: f64 = 256.0;

/// (what, durable commits, broker messages: each publish and each delivery counts one)
const STEPS: &[(&str, f64, f64)] = &[
    ("intake: register + outbox row (register.rs)", 1.0, 0.0),
    (
        "outbox relays (broker/outbox.rs): publish appeal.registered, appeal.routed, \
         appeal.assigned and the coupon's applicant.notified; one commit per batch",
        4.0 / RELAY_BATCH,
        4.0,
    ),
    (
        "routing: appeal.registered → decision + appeal.routed (routing.appeals)",
        1.0,
        1.0,
    ),
    (
        "control: appeal.registered (letters data, coupon) and appeal.routed → assignment + \
         appeal.assigned (control.appeals)",
        2.0,
        2.0,
    ),
    (
        "reporting: every event of the appeal into its read model (reporting.events)",
        4.0,
        4.0,
    ),
    (
        "intake: appeal.routed and appeal.assigned checked for a sender to tell (intake.status)",
        2.0,
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
    fn counts_ten_consumer_commits_and_thirteen_messages() {
        let c = per_appeal();
        assert!((c.commits - (10.0 + 4.0 / RELAY_BATCH)).abs() < 1e-9);
        assert_eq!(c.messages, 13.0);
    }
}
