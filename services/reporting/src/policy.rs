//! Who may call what on reporting (issue 10). The read model holds no personal data, so
//! the analyst reads every report. The auth layer refuses every method missing from
//! [`POLICY`].

use bakylau_platform::audit::Audit;
use bakylau_platform::auth::{MethodPolicy, Policy, Role};

const REPORT_READERS: &[Role] = &[Role::Analyst, Role::Controller, Role::Head, Role::Auditor];

pub const POLICY: Policy = &[
    MethodPolicy {
        path: "/bakylau.reporting.v1.ReportingService/Summary",
        roles: REPORT_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reporting.v1.ReportingService/Problems",
        roles: REPORT_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reporting.v1.ReportingService/Spikes",
        roles: REPORT_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reporting.v1.ReportingService/ProblemMap",
        roles: REPORT_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reporting.v1.ReportingService/Discipline",
        roles: REPORT_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reporting.v1.ReportingService/Monitoring",
        roles: REPORT_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reporting.v1.ReportingService/SemiAnnualReport",
        roles: REPORT_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reporting.v1.ReportingService/Rebuild",
        roles: &[Role::Controller, Role::System],
        audit: Audit::Change,
    },
];
