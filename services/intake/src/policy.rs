//! Who may call what on intake (issue 10), and the scope rules its handlers apply.
//! The auth layer refuses every method missing from [`POLICY`].

use bakylau_platform::audit::Audit;
use bakylau_platform::auth::{Caller, MethodPolicy, Policy, Role};

/// People who work with the register and its personal data (never the analyst).
const REGISTER_READERS: &[Role] = &[
    Role::Registrar,
    Role::Controller,
    Role::Head,
    Role::Auditor,
    Role::System,
];

pub const POLICY: Policy = &[
    MethodPolicy {
        path: "/bakylau.intake.v1.IntakeService/RegisterAppeal",
        roles: &[Role::Registrar, Role::Integration, Role::System],
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.intake.v1.IntakeService/GetAppeal",
        roles: REGISTER_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.intake.v1.IntakeService/ListAppeals",
        roles: REGISTER_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.intake.v1.IntakeService/RecordConsultation",
        roles: &[Role::Registrar],
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.intake.v1.IntakeService/ListConsultations",
        roles: REGISTER_READERS,
        audit: Audit::Read,
    },
];

/// Whether `caller` may register an appeal with this `channel` and `source`: an integration
/// system registers only external appeals, and only as its own source (reg 8.5, 8.6: the
/// law-enforcement and E-Otinish systems publish appeals as themselves).
pub fn may_register(caller: &Caller, channel_external: bool, source: &str) -> Result<(), String> {
    if caller.role != Role::Integration {
        return Ok(());
    }
    if !channel_external {
        return Err("an integration system registers only external appeals".into());
    }
    if caller.source.as_deref() != Some(source.trim()) {
        return Err("an integration system may register appeals only as its own source".into());
    }
    Ok(())
}

/// Broker user → the sources it may publish inbound appeals as (`intake.inbound_senders`).
pub type InboundSenders = std::collections::BTreeMap<String, Vec<String>>;

/// Whether an inbound message published by broker user `sender` may claim `source`: the
/// AMQP counterpart of [`may_register`]. With no senders configured, anyone may.
pub fn may_publish(
    senders: &InboundSenders,
    sender: Option<&str>,
    source: &str,
) -> Result<(), String> {
    if senders.is_empty() {
        return Ok(());
    }
    let Some(sender) = sender else {
        return Err("the message carries no user_id: inbound senders must set it (it is checked by the broker)".into());
    };
    let Some(sources) = senders.get(sender) else {
        return Err(format!(
            "broker user {sender:?} may not publish inbound appeals"
        ));
    };
    if !sources.iter().any(|s| s == source.trim()) {
        return Err(format!(
            "broker user {sender:?} may not publish as source {:?}",
            source.chars().take(100).collect::<String>()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inbound_sender_publishes_only_as_its_own_sources() {
        let senders: InboundSenders =
            [("eotinish".to_owned(), vec!["urn:kz:eotinish".to_owned()])].into();
        assert!(may_publish(&senders, Some("eotinish"), "urn:kz:eotinish").is_ok());
        let e = may_publish(&senders, Some("eotinish"), "urn:kz:prosecutor").unwrap_err();
        assert!(e.contains("may not publish as source"), "{e}");
        assert!(may_publish(&senders, Some("guest"), "urn:kz:eotinish").is_err());
        assert!(
            may_publish(&senders, None, "urn:kz:eotinish")
                .unwrap_err()
                .contains("user_id")
        );
        assert!(may_publish(&InboundSenders::new(), None, "anything").is_ok());
    }

    fn integration(source: &str) -> Caller {
        Caller {
            subject: "eotinish".into(),
            role: Role::Integration,
            body: None,
            source: Some(source.into()),
        }
    }

    #[test]
    fn an_integration_system_registers_only_as_itself() {
        let eo = integration("urn:kz:eotinish");
        assert!(may_register(&eo, true, "urn:kz:eotinish").is_ok());
        assert!(may_register(&eo, true, "urn:kz:prosecutor").is_err());
        assert!(may_register(&eo, false, "urn:kz:eotinish").is_err());
    }

    #[test]
    fn registrars_are_not_bound_to_a_source() {
        let r = Caller {
            subject: "r".into(),
            role: Role::Registrar,
            body: None,
            source: None,
        };
        assert!(may_register(&r, false, "").is_ok());
    }

    #[test]
    fn the_analyst_never_reads_the_register() {
        for p in POLICY {
            if p.path.ends_with("/RegisterAppeal") {
                continue;
            }
            assert!(!p.roles.contains(&Role::Analyst), "{}", p.path);
            assert!(!p.roles.contains(&Role::Integration), "{}", p.path);
        }
    }
}
