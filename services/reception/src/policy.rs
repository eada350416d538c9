//! Who may call what on reception (issue 10). The auth layer refuses every method missing
//! from [`POLICY`].

use bakylau_platform::audit::Audit;
use bakylau_platform::auth::{MethodPolicy, Policy, Role};

/// Officials, schedules and free slots: no citizen's personal data.
const DIRECTORY_READERS: &[Role] = &[
    Role::Registrar,
    Role::Executor,
    Role::Controller,
    Role::Head,
    Role::Auditor,
    Role::System,
];
/// Who organises receptions: the Department's registrars and controllers.
const ORGANISERS: &[Role] = &[Role::Registrar, Role::Controller];
/// Bookings, waiting lists and minutes name citizens.
const BOOKING_READERS: &[Role] = &[Role::Registrar, Role::Controller, Role::Head, Role::Auditor];
/// Who records what happened at a reception (the official holding it is a head).
const RECORDERS: &[Role] = &[Role::Registrar, Role::Controller, Role::Head];

pub const POLICY: Policy = &[
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/ListOfficials",
        roles: DIRECTORY_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/GetOfficial",
        roles: DIRECTORY_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/SaveOfficial",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/GetSchedule",
        roles: DIRECTORY_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/SetSchedule",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/AddSession",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/RemoveSession",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/AddLeave",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/RemoveLeave",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/ListSlots",
        roles: DIRECTORY_READERS,
        audit: Audit::No,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/PreScreen",
        roles: ORGANISERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/Book",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/GetBooking",
        roles: BOOKING_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/ListBookings",
        roles: BOOKING_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/Cancel",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/Reschedule",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/JoinWaitingList",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/ListWaitingList",
        roles: BOOKING_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/ListNotifications",
        roles: BOOKING_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/CheckIn",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/MarkNoShow",
        roles: ORGANISERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/RecordOutcome",
        roles: RECORDERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/RecordMinutes",
        roles: RECORDERS,
        audit: Audit::Change,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/GetMinutes",
        roles: BOOKING_READERS,
        audit: Audit::Read,
    },
    MethodPolicy {
        path: "/bakylau.reception.v1.ReceptionService/Monitor",
        roles: &[Role::Controller, Role::Head, Role::Analyst, Role::Auditor],
        audit: Audit::No,
    },
];
