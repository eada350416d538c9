//! What one appeal costs the machine on its way from RegisterAppeal to `appeal.assigned`,
//! counted from the code (each line names where). The relays' "mark sent" commits are
//! counted one per message although they batch under load, so the limit is conservative.

pub struct Cost {
    pub commits: f64,
    pub messages: f64,
}

/// (what, durable commits, broker messages: each publish and each delivery counts one)
const STEPS: &[(&str, f64, f64)] = &[
    ("intake: register + outbox row (register.rs)", 1.0, 0.0),
    (
        "outbox relays: publish appeal.registered, appeal.routed, appeal.assigned and the \
         coupon's applicant.notified; mark each sent",
        4.0,
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
