//! Who may call what on control (issue 10). The handlers apply the same role sets (they
//! use these constants) plus the executor's body scope. The auth layer refuses every
//! method missing from [`POLICY`].

use bakylau_platform::audit::Audit;
use bakylau_platform::auth::{MethodPolicy, Policy, Role};

/// Appeals under control, their timelines and letters (personal data): never the analyst.
pub const CASE_READERS: &[Role] = &[
    Role::Registrar,
    Role::Executor,
    Role::Controller,
    Role::Head,
    Role::Auditor,
    Role::System,
];
/// The calendar and the deadline policy: no personal data.
pub const EVERYONE: &[Role] = &[
    Role::Registrar,
    Role::Executor,
    Role::Controller,
    Role::Head,
    Role::Analyst,
    Role::Auditor,
    Role::System,
];
pub const ANSWERERS: &[Role] = &[Role::Executor];
pub const REVIEWERS: &[Role] = &[Role::Controller, Role::Head];
pub const SIGNERS: &[Role] = &[Role::Head];
pub const AKIM_CONTROL: &[Role] = &[Role::Head, Role::Controller];
/// A head's reasoned decision.
pub const EXTENDERS: &[Role] = &[Role::Head];
pub const CALENDAR_EDITORS: &[Role] = &[Role::Controller, Role::Head, Role::System];
pub const POLICY_EDITORS: &[Role] = &[Role::Head, Role::System];
pub const AUDITORS: &[Role] = &[
    Role::Controller,
    Role::Head,
    Role::Auditor,
    Role::Analyst,
    Role::System,
];
pub const ISSUERS: &[Role] = &[Role::Registrar, Role::Controller, Role::Head, Role::System];
pub const REPORTERS: &[Role] = &[
    Role::Executor,
    Role::Registrar,
    Role::Controller,
    Role::Head,
    Role::System,
];
pub const CONTROLLERS: &[Role] = &[Role::Controller, Role::Head];

pub const POLICY: Policy = &[
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/GetAssignment",
        roles: CASE_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/ListDue",
        roles: CASE_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/SubmitAnswer",
        roles: ANSWERERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/ReviewAnswer",
        roles: REVIEWERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/SignOff",
        roles: SIGNERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/SetAkimControl",
        roles: AKIM_CONTROL,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/ExtendDeadline",
        roles: EXTENDERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/GetTimeline",
        roles: CASE_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/ListLetters",
        roles: CASE_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/GetLetter",
        roles: CASE_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/GetCalendar",
        roles: EVERYONE,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/AddHoliday",
        roles: CALENDAR_EDITORS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/RemoveHoliday",
        roles: CALENDAR_EDITORS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/AddTransfer",
        roles: CALENDAR_EDITORS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/RemoveTransfer",
        roles: CALENDAR_EDITORS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/ComputeDeadline",
        roles: EVERYONE,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/ListCalendarChanges",
        roles: EVERYONE,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/GetPolicy",
        roles: EVERYONE,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/UpdatePolicy",
        roles: POLICY_EDITORS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.ControlService/RunAudit",
        roles: AUDITORS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/CreateInstruction",
        roles: ISSUERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/GetInstruction",
        roles: CASE_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/ListInstructions",
        roles: CASE_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/ReportProgress",
        roles: REPORTERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/PlanCheck",
        roles: CONTROLLERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/RecordCheckResult",
        roles: CONTROLLERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/AddConclusion",
        roles: CONTROLLERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/ProposeDiscipline",
        roles: CONTROLLERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/RecordDisciplineDecision",
        roles: CONTROLLERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/CompleteInstruction",
        roles: CONTROLLERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.control.v1.InstructionService/ExtendInstructionDeadline",
        roles: CONTROLLERS,
        audit: Audit::Change,
    },
];
