//! Who may call what on intake (issue 10), and the scope rules its handlers apply.
//! The auth layer refuses every method missing from [`POLICY`].

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
    },
    MethodPolicy {
        path: "/bakylau.intake.v1.IntakeService/GetAppeal",
        roles: REGISTER_READERS,
    },
    MethodPolicy {
        path: "/bakylau.intake.v1.IntakeService/ListAppeals",
        roles: REGISTER_READERS,
    },
    MethodPolicy {
        path: "/bakylau.intake.v1.IntakeService/RecordConsultation",
        roles: &[Role::Registrar],
    },
    MethodPolicy {
        path: "/bakylau.intake.v1.IntakeService/ListConsultations",
        roles: REGISTER_READERS,
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

#[cfg(test)]
mod tests {
    use super::*;

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
