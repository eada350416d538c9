//! Who may call what on routing (issue 10). The auth layer refuses every method missing
//! from [`POLICY`].

use bakylau_platform::audit::Audit;
use bakylau_platform::auth::{MethodPolicy, Policy, Role};

/// The taxonomy, directory and rules: reference data without personal data.
const REFERENCE_READERS: &[Role] = &[
    Role::Registrar,
    Role::Executor,
    Role::Controller,
    Role::Head,
    Role::Analyst,
    Role::Auditor,
    Role::System,
];
/// Routing decisions of single appeals (they quote the appeal's subject).
const DECISION_READERS: &[Role] = &[
    Role::Registrar,
    Role::Controller,
    Role::Head,
    Role::Auditor,
    Role::System,
];
/// Who changes routing (reg 5.2: a human can always override).
pub const WRITERS: &[Role] = &[Role::Registrar, Role::Controller, Role::Head];

pub const POLICY: Policy = &[
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/GetRouting",
        roles: DECISION_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/Reroute",
        roles: WRITERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/ListManualQueue",
        roles: DECISION_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/Classify",
        roles: &[Role::Registrar, Role::Controller, Role::Head, Role::System],
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/ListCategories",
        roles: REFERENCE_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/GetCategory",
        roles: REFERENCE_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/UpsertCategory",
        roles: WRITERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/SetCategoryActive",
        roles: WRITERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/ListBodies",
        roles: REFERENCE_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/GetBody",
        roles: REFERENCE_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/UpsertBody",
        roles: WRITERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/SetBodyActive",
        roles: WRITERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/ListDistricts",
        roles: REFERENCE_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/ListRules",
        roles: REFERENCE_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/UpsertRule",
        roles: WRITERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/SetRuleActive",
        roles: WRITERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.routing.v1.RoutingService/ListChanges",
        roles: &[Role::Registrar, Role::Controller, Role::Head, Role::Auditor],
        audit: Audit::No,
    },
];
