//! Pure rules of instructions (reg 9.1 – 9.7, 8.4): who may issue one, its number, its
//! deadline on the working-day calendar, and the state machines of the instruction, its
//! on-site checks and its disciplinary proposals. No I/O here.

use bakylau_calendar::{Calendar, CalendarError};
use chrono::NaiveDate;
use uuid::Uuid;

/// One problem with one field of a request, named as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldIssue {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Joins issues into one readable line for a status message.
pub fn describe(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A closed set of lower-case codes, as they travel in the API, the database and events.
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s.trim() { $($code => Some($name::$variant),)+ _ => None }
            }

            /// The codes, for error messages.
            pub fn choices() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

codes! {
    /// Who gave the instruction: the bodies of reg 9.1 and 8.4, the akim and, at a personal
    /// reception, the akim's deputies or another receiving official (reg 6.1).
    Issuer {
        President = "president",
        StateCounsellor = "state_counsellor",
        PresidentialAdministration = "presidential_administration",
        PresidentialAppealsControl = "presidential_appeals_control",
        Akim = "akim",
        DeputyAkim = "deputy_akim",
        ReceptionOfficial = "reception_official",
    }
}

codes! {
    /// Where an instruction stands. Overdue is a mark, not a status (see [`is_overdue`]).
    Status {
        Issued = "issued",
        InProgress = "in_progress",
        Completed = "completed",
    }
}

codes! {
    /// An on-site check of execution (reg 9.3): planned, then done or cancelled.
    CheckStatus {
        Planned = "planned",
        Done = "done",
        Cancelled = "cancelled",
    }
}

codes! {
    /// The verdict of a conclusion on the monitoring of an instruction (reg 9.7).
    ConclusionOutcome {
        Executed = "executed",
        PartiallyExecuted = "partially_executed",
        NotExecuted = "not_executed",
    }
}

codes! {
    /// Disciplinary measures of the Law on Civil Service (art. 40) that reg 9.5 proposals name.
    DisciplineMeasure {
        Remark = "remark",
        Reprimand = "reprimand",
        SevereReprimand = "severe_reprimand",
        IncompleteComplianceWarning = "incomplete_compliance_warning",
        Demotion = "demotion",
        Dismissal = "dismissal",
    }
}

codes! {
    /// A disciplinary proposal (reg 9.5): proposed → accepted | rejected; accepted → applied.
    DisciplineStatus {
        Proposed = "proposed",
        Accepted = "accepted",
        Rejected = "rejected",
        Applied = "applied",
    }
}

/// A rule of the instruction's life that a request broke (FAILED_PRECONDITION).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the instruction is completed; it takes no more {0}")]
    Completed(&'static str),
    #[error("the on-site check is {0}; only a planned check takes a result")]
    CheckNotPlanned(CheckStatus),
    #[error("{0} on-site check(s) still planned: record them as done or cancelled first")]
    ChecksPending(usize),
    #[error("the disciplinary proposal is {from}; it cannot become {to}")]
    Discipline {
        from: DisciplineStatus,
        to: DisciplineStatus,
    },
}

// ---------------------------------------------------------------- numbering

pub const NUMBER_PREFIX: &str = "INS";

/// `INS-2026-0001`: per year of issue, gap-free (the counter is taken in the issuing
/// transaction), at least four digits.
pub fn format_number(year: i32, sequence: i64) -> String {
    format!("{NUMBER_PREFIX}-{year}-{sequence:04}")
}

/// The year and sequence of a number [`format_number`] made.
pub fn parse_number(number: &str) -> Option<(i32, i64)> {
    let rest = number
        .trim()
        .strip_prefix(NUMBER_PREFIX)?
        .strip_prefix('-')?;
    let (year, seq) = rest.split_once('-')?;
    if year.len() != 4 || seq.len() < 4 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let seq: i64 = seq.parse().ok()?;
    (seq > 0 && format_number(year, seq) == number.trim()).then_some((year, seq))
}

// ---------------------------------------------------------------- deadline

/// How the issuer set the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    Date(NaiveDate),
    WorkingDays(u32),
}

/// Longest period in working days an instruction may be given (about a year).
pub const MAX_WORKING_DAYS: u32 = 250;

/// The due date of an instruction issued on `issued_on`, and the working days it was
/// given in. A period in working days counts from the day after issue (the calendar's
/// convention, APPK art. 76); a date that falls on a day off moves to the next working
/// day, as every deadline does. Strict about calendar data: a deadline is never guessed.
pub fn due_date(
    calendar: &Calendar,
    issued_on: NaiveDate,
    deadline: Deadline,
) -> Result<(NaiveDate, Option<u32>), FieldIssue> {
    let beyond = |field: &str, e: CalendarError| {
        FieldIssue::new(field, "beyond_calendar", format!("cannot be computed: {e}"))
    };
    match deadline {
        Deadline::WorkingDays(n) => {
            if n == 0 || n > MAX_WORKING_DAYS {
                return Err(FieldIssue::new(
                    "working_days",
                    "out_of_range",
                    format!("between 1 and {MAX_WORKING_DAYS}"),
                ));
            }
            let due = calendar
                .add_working_days(issued_on, n)
                .map_err(|e| beyond("working_days", e))?;
            Ok((due, Some(n)))
        }
        Deadline::Date(date) => {
            if date < issued_on {
                return Err(FieldIssue::new(
                    "due_date",
                    "in_past",
                    format!("{date} is before the day of issue {issued_on}"),
                ));
            }
            let due = calendar
                .try_working_day_on_or_after(date)
                .map_err(|e| beyond("due_date", e))?;
            Ok((due, None))
        }
    }
}

/// Why an extension was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtensionError {
    Rule(RuleError),
    Invalid(FieldIssue),
}

/// A new due date decided on `today`: by date or working days from today, not for a
/// completed instruction, and later than the current due date (else it is no extension).
pub fn extended_due(
    calendar: &Calendar,
    status: Status,
    current_due: NaiveDate,
    today: NaiveDate,
    deadline: Deadline,
) -> Result<(NaiveDate, Option<u32>), ExtensionError> {
    if status == Status::Completed {
        return Err(ExtensionError::Rule(RuleError::Completed(
            "deadline extensions",
        )));
    }
    let (due, days) = due_date(calendar, today, deadline).map_err(ExtensionError::Invalid)?;
    if due <= current_due {
        let field = match deadline {
            Deadline::Date(_) => "due_date",
            Deadline::WorkingDays(_) => "working_days",
        };
        return Err(ExtensionError::Invalid(FieldIssue::new(
            field,
            "not_later",
            format!("gives {due}, not later than the current due date {current_due}"),
        )));
    }
    Ok((due, days))
}

/// An instruction not completed whose last day has passed (the due date itself is in time).
pub fn is_overdue(status: Status, due: NaiveDate, today: NaiveDate) -> bool {
    status != Status::Completed && today > due
}

/// Whether the sweep must escalate: overdue and not yet escalated for this due date, so
/// each overdue state escalates once; a new due date would make a new one.
pub fn needs_escalation(
    status: Status,
    due: NaiveDate,
    escalated_for: Option<NaiveDate>,
    today: NaiveDate,
) -> bool {
    is_overdue(status, due, today) && escalated_for != Some(due)
}

/// Completed after the due date.
pub fn completed_late(due: NaiveDate, completed_on: NaiveDate) -> bool {
    completed_on > due
}

// ---------------------------------------------------------------- state machines

/// A progress report moves an issued instruction into progress; a completed one takes none.
pub fn after_progress(status: Status) -> Result<Status, RuleError> {
    match status {
        Status::Completed => Err(RuleError::Completed("progress reports")),
        Status::Issued | Status::InProgress => Ok(Status::InProgress),
    }
}

/// Planning a check: not on a completed instruction.
pub fn may_plan_check(status: Status) -> Result<(), RuleError> {
    match status {
        Status::Completed => Err(RuleError::Completed("on-site checks")),
        _ => Ok(()),
    }
}

/// A check's result: only a planned check becomes done or cancelled.
pub fn check_result(current: CheckStatus, outcome: CheckStatus) -> Result<CheckStatus, RuleError> {
    match (current, outcome) {
        (CheckStatus::Planned, CheckStatus::Done | CheckStatus::Cancelled) => Ok(outcome),
        (CheckStatus::Planned, CheckStatus::Planned) => Err(RuleError::CheckNotPlanned(current)),
        _ => Err(RuleError::CheckNotPlanned(current)),
    }
}

/// Completion: once, and not while an on-site check is still planned. Conclusions and
/// disciplinary proposals stay possible after it (reg 9.5, 9.7 follow execution).
pub fn may_complete(status: Status, planned_checks: usize) -> Result<(), RuleError> {
    if status == Status::Completed {
        return Err(RuleError::Completed("completion"));
    }
    if planned_checks > 0 {
        return Err(RuleError::ChecksPending(planned_checks));
    }
    Ok(())
}

/// The tracking of a disciplinary proposal (reg 9.5).
pub fn discipline_transition(
    from: DisciplineStatus,
    to: DisciplineStatus,
) -> Result<DisciplineStatus, RuleError> {
    use DisciplineStatus::*;
    match (from, to) {
        (Proposed, Accepted | Rejected) | (Accepted, Applied) => Ok(to),
        _ => Err(RuleError::Discipline { from, to }),
    }
}

// ---------------------------------------------------------------- validation

/// Body codes as the directory of bodies has them (`akim_office.hr`, `talgar`, `ALM-EDU`).
pub fn is_valid_body_code(code: &str) -> bool {
    (1..=100).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// Trimmed text; an issue if required and empty, or longer than `max` characters, or
/// carrying control characters other than line breaks and tabs.
pub fn text(
    field: &str,
    value: &str,
    required: bool,
    max: usize,
    issues: &mut Vec<FieldIssue>,
) -> String {
    let value = value.trim();
    if required && value.is_empty() {
        issues.push(FieldIssue::new(field, "required", "required"));
    } else if value.chars().count() > max {
        issues.push(FieldIssue::new(
            field,
            "too_long",
            format!("at most {max} characters"),
        ));
    } else if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        issues.push(FieldIssue::new(
            field,
            "invalid",
            "contains control characters",
        ));
    }
    value.to_owned()
}

/// An ISO date (`2026-03-20`); `None` and an issue when malformed, `None` when empty.
pub fn date(field: &str, value: &str, issues: &mut Vec<FieldIssue>) -> Option<NaiveDate> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok();
    if parsed.is_none() {
        issues.push(FieldIssue::new(
            field,
            "invalid",
            "not a date like 2026-03-20",
        ));
    }
    parsed
}

/// A code of a closed set; an issue naming the choices when absent or unknown.
pub fn code<T>(
    field: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    choices: impl Fn() -> String,
    issues: &mut Vec<FieldIssue>,
) -> Option<T> {
    let parsed = parse(value);
    if parsed.is_none() {
        let code = if value.trim().is_empty() {
            "required"
        } else {
            "invalid"
        };
        issues.push(FieldIssue::new(
            field,
            code,
            format!("one of {}", choices()),
        ));
    }
    parsed
}

/// A body code field.
pub fn body(field: &str, value: &str, issues: &mut Vec<FieldIssue>) -> String {
    let value = value.trim();
    if value.is_empty() {
        issues.push(FieldIssue::new(field, "required", "required: a body code"));
    } else if !is_valid_body_code(value) {
        issues.push(FieldIssue::new(
            field,
            "invalid",
            "a body code: letters, digits, '.', '_', '-', at most 100",
        ));
    }
    value.to_owned()
}

/// A date of something already done: not after `today`, not before `earliest`.
pub fn past_date(
    field: &str,
    value: &str,
    today: NaiveDate,
    earliest: NaiveDate,
    issues: &mut Vec<FieldIssue>,
) -> NaiveDate {
    let Some(d) = date(field, value, issues) else {
        return today;
    };
    if d > today {
        issues.push(FieldIssue::new(field, "in_future", "is in the future"));
    } else if d < earliest {
        issues.push(FieldIssue::new(
            field,
            "too_early",
            format!("before {earliest}"),
        ));
    }
    d
}

/// A request to issue an instruction, as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct NewInstructionInput {
    pub issuer: String,
    pub issuer_official: String,
    pub issuer_reference: String,
    pub title: String,
    pub text: String,
    pub lead_executor: String,
    pub co_executors: Vec<String>,
    pub appeal_ids: Vec<String>,
    pub due_date: String,
    pub working_days: u32,
    pub source: String,
}

/// An instruction that passed validation, with its due date computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInstruction {
    pub issuer: Issuer,
    pub issuer_official: String,
    pub issuer_reference: String,
    pub title: String,
    pub text: String,
    pub lead_executor: String,
    pub co_executors: Vec<String>,
    pub appeal_ids: Vec<Uuid>,
    pub due_date: NaiveDate,
    pub working_days: Option<u32>,
    pub source: String,
}

pub const MAX_CO_EXECUTORS: usize = 30;
pub const MAX_APPEALS: usize = 200;

/// Validates a new instruction issued on `issued_on`; every problem is reported at once.
/// `default_working_days` applies when neither a date nor working days were given.
pub fn validate_new(
    input: &NewInstructionInput,
    issued_on: NaiveDate,
    calendar: &Calendar,
    default_working_days: u32,
) -> Result<NewInstruction, Vec<FieldIssue>> {
    let mut issues = Vec::new();
    let issuer = code(
        "issuer",
        &input.issuer,
        Issuer::parse,
        Issuer::choices,
        &mut issues,
    );
    let official_required = issuer == Some(Issuer::ReceptionOfficial);
    let issuer_official = text(
        "issuer_official",
        &input.issuer_official,
        official_required,
        300,
        &mut issues,
    );
    let issuer_reference = text(
        "issuer_reference",
        &input.issuer_reference,
        false,
        200,
        &mut issues,
    );
    let title = text("title", &input.title, true, 300, &mut issues);
    let body_text = text("text", &input.text, true, 20_000, &mut issues);
    let lead = body("lead_executor", &input.lead_executor, &mut issues);
    let mut co_executors: Vec<String> = Vec::new();
    if input.co_executors.len() > MAX_CO_EXECUTORS {
        issues.push(FieldIssue::new(
            "co_executors",
            "too_many",
            format!("at most {MAX_CO_EXECUTORS}"),
        ));
    }
    for (i, co) in input.co_executors.iter().enumerate() {
        let field = format!("co_executors[{i}]");
        let co = body(&field, co, &mut issues);
        if co == lead {
            issues.push(FieldIssue::new(field, "duplicate", "is the lead executor"));
        } else if co_executors.contains(&co) {
            issues.push(FieldIssue::new(field, "duplicate", "named twice"));
        } else {
            co_executors.push(co);
        }
    }
    let mut appeal_ids: Vec<Uuid> = Vec::new();
    // Given on appeals (reg 9.1), or at a personal reception (reg 6.1) whose booking the
    // `source` names, when the visitor's issue was not registered as an appeal.
    if input.appeal_ids.is_empty() && input.source.trim().is_empty() {
        issues.push(FieldIssue::new(
            "appeal_ids",
            "required",
            "an instruction is given on one or more appeals (reg 9.1), or names its source",
        ));
    } else if input.appeal_ids.len() > MAX_APPEALS {
        issues.push(FieldIssue::new(
            "appeal_ids",
            "too_many",
            format!("at most {MAX_APPEALS}"),
        ));
    }
    for (i, id) in input.appeal_ids.iter().enumerate() {
        match Uuid::parse_str(id.trim()) {
            Ok(id) if !appeal_ids.contains(&id) => appeal_ids.push(id),
            Ok(_) => {} // the same appeal twice is the same tie
            Err(_) => issues.push(FieldIssue::new(
                format!("appeal_ids[{i}]"),
                "invalid",
                "not an appeal id (UUID)",
            )),
        }
    }
    let source = text("source", &input.source, false, 200, &mut issues);
    let deadline = match (
        date("due_date", &input.due_date, &mut issues),
        input.working_days,
    ) {
        (Some(_), n) if n > 0 => {
            issues.push(FieldIssue::new(
                "working_days",
                "conflict",
                "give either due_date or working_days, not both",
            ));
            None
        }
        (Some(d), _) => Some(Deadline::Date(d)),
        (None, 0) if input.due_date.trim().is_empty() => {
            Some(Deadline::WorkingDays(default_working_days))
        }
        (None, 0) => None,
        (None, n) => Some(Deadline::WorkingDays(n)),
    };
    let due = deadline.and_then(|d| match due_date(calendar, issued_on, d) {
        Ok(due) => Some(due),
        Err(issue) => {
            issues.push(issue);
            None
        }
    });
    match (issuer, due) {
        (Some(issuer), Some((due_date, working_days))) if issues.is_empty() => Ok(NewInstruction {
            issuer,
            issuer_official,
            issuer_reference,
            title,
            text: body_text,
            lead_executor: lead,
            co_executors,
            appeal_ids,
            due_date,
            working_days,
            source,
        }),
        _ => Err(issues),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn calendar() -> Calendar {
        Calendar::embedded().expect("shipped calendar")
    }

    fn input() -> NewInstructionInput {
        NewInstructionInput {
            issuer: "akim".into(),
            title: "Repair the road in Talgar".into(),
            text: "Check the complaints and report on the measures taken.".into(),
            lead_executor: "akim_office.roads".into(),
            co_executors: vec!["talgar".into()],
            appeal_ids: vec![Uuid::now_v7().to_string()],
            ..Default::default()
        }
    }

    #[test]
    fn numbers_are_padded_and_parse_back() {
        assert_eq!(format_number(2026, 1), "INS-2026-0001");
        assert_eq!(format_number(2026, 12345), "INS-2026-12345");
        assert_eq!(parse_number("INS-2026-0001"), Some((2026, 1)));
        assert_eq!(parse_number("INS-2026-12345"), Some((2026, 12345)));
        for bad in [
            "INS-2026-1",
            "INS-26-0001",
            "ALM-2026-0001",
            "INS-2026-0000",
            "INS-2026-00a1",
        ] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_number_parses_back(year in 2000i32..2100, seq in 1i64..10_000_000) {
            prop_assert_eq!(parse_number(&format_number(year, seq)), Some((year, seq)));
        }

        #[test]
        fn numbers_sort_like_their_sequence_within_four_digits(a in 1i64..10_000, b in 1i64..10_000) {
            prop_assert_eq!(format_number(2026, a).cmp(&format_number(2026, b)), a.cmp(&b));
        }

        #[test]
        fn working_day_deadlines_land_on_working_days_and_grow_with_n(
            offset in 0i64..700, n in 1u32..60,
        ) {
            let cal = calendar();
            let issued = d(2025, 1, 1) + chrono::Duration::days(offset);
            let (due, days) = due_date(&cal, issued, Deadline::WorkingDays(n)).unwrap();
            prop_assert!(cal.is_working_day(due));
            prop_assert_eq!(days, Some(n));
            prop_assert_eq!(cal.working_days_between(issued, due), i64::from(n));
            let (later, _) = due_date(&cal, issued, Deadline::WorkingDays(n + 1)).unwrap();
            prop_assert!(later > due);
        }

        #[test]
        fn explicit_dates_move_only_forward_to_a_working_day(offset in 0i64..700, ahead in 0i64..60) {
            let cal = calendar();
            let issued = d(2025, 1, 1) + chrono::Duration::days(offset);
            let asked = issued + chrono::Duration::days(ahead);
            let (due, days) = due_date(&cal, issued, Deadline::Date(asked)).unwrap();
            prop_assert!(due >= asked);
            prop_assert!(cal.is_working_day(due));
            prop_assert_eq!(days, None);
            if cal.is_working_day(asked) {
                prop_assert_eq!(due, asked);
            }
        }

        #[test]
        fn escalation_happens_once_per_due_date(
            due_off in 0i64..100, today_off in 0i64..100, completed in any::<bool>(),
        ) {
            let due = d(2026, 1, 1) + chrono::Duration::days(due_off);
            let today = d(2026, 1, 1) + chrono::Duration::days(today_off);
            let status = if completed { Status::Completed } else { Status::InProgress };
            let first = needs_escalation(status, due, None, today);
            prop_assert_eq!(first, !completed && today > due);
            // Once escalated for this due date, never again for it.
            prop_assert!(!needs_escalation(status, due, Some(due), today));
        }
    }

    #[test]
    fn deadline_across_nauryz_counts_working_days_only() {
        // 2026: Nauryz (21–23 March) and the day off moved from its Saturday fall inside
        // the period, so 15 working days from 18 March end on 13 April.
        let cal = calendar();
        let (due, _) = due_date(&cal, d(2026, 3, 18), Deadline::WorkingDays(15)).unwrap();
        assert_eq!(due, d(2026, 4, 13));
    }

    #[test]
    fn a_due_date_on_a_holiday_moves_to_the_next_working_day() {
        let cal = calendar();
        // 1 May 2026 is a Friday and a holiday: the deadline moves to Monday 4 May.
        let (due, _) = due_date(&cal, d(2026, 4, 20), Deadline::Date(d(2026, 5, 1))).unwrap();
        assert_eq!(due, d(2026, 5, 4));
    }

    #[test]
    fn deadlines_in_the_past_or_beyond_the_calendar_are_refused() {
        let cal = calendar();
        let e = due_date(&cal, d(2026, 4, 20), Deadline::Date(d(2026, 4, 19))).unwrap_err();
        assert_eq!((e.field.as_str(), e.code.as_str()), ("due_date", "in_past"));
        let e = due_date(&cal, d(2027, 12, 1), Deadline::WorkingDays(60)).unwrap_err();
        assert_eq!(e.code, "beyond_calendar");
        let e = due_date(&cal, d(2026, 4, 20), Deadline::WorkingDays(0)).unwrap_err();
        assert_eq!(e.code, "out_of_range");
    }

    #[test]
    fn overdue_starts_the_day_after_the_due_date() {
        let due = d(2026, 4, 13);
        assert!(!is_overdue(Status::Issued, due, due));
        assert!(is_overdue(Status::Issued, due, d(2026, 4, 14)));
        assert!(!is_overdue(Status::Completed, due, d(2026, 5, 1)));
        assert!(needs_escalation(
            Status::InProgress,
            due,
            Some(d(2026, 4, 1)),
            d(2026, 4, 14)
        ));
        assert!(completed_late(due, d(2026, 4, 14)));
        assert!(!completed_late(due, due));
    }

    #[test]
    fn extensions_move_the_due_date_later_only() {
        let cal = calendar();
        let due = d(2026, 4, 13);
        let today = d(2026, 4, 10);
        let (new, days) = extended_due(
            &cal,
            Status::InProgress,
            due,
            today,
            Deadline::WorkingDays(10),
        )
        .unwrap();
        assert!(new > due && cal.is_working_day(new));
        assert_eq!(days, Some(10));
        let e = extended_due(
            &cal,
            Status::Issued,
            due,
            today,
            Deadline::Date(d(2026, 4, 13)),
        );
        assert!(matches!(e, Err(ExtensionError::Invalid(i)) if i.code == "not_later"));
        let e = extended_due(
            &cal,
            Status::Completed,
            due,
            today,
            Deadline::WorkingDays(5),
        );
        assert!(matches!(e, Err(ExtensionError::Rule(_))));
        let e = extended_due(
            &cal,
            Status::Issued,
            due,
            today,
            Deadline::Date(d(2026, 4, 1)),
        );
        assert!(matches!(e, Err(ExtensionError::Invalid(i)) if i.code == "in_past"));
    }

    #[test]
    fn the_instruction_state_machine() {
        assert_eq!(after_progress(Status::Issued), Ok(Status::InProgress));
        assert_eq!(after_progress(Status::InProgress), Ok(Status::InProgress));
        assert!(after_progress(Status::Completed).is_err());
        assert!(may_plan_check(Status::Completed).is_err());
        assert_eq!(may_complete(Status::InProgress, 0), Ok(()));
        assert_eq!(
            may_complete(Status::Issued, 2),
            Err(RuleError::ChecksPending(2))
        );
        assert!(may_complete(Status::Completed, 0).is_err());
    }

    #[test]
    fn checks_take_one_result() {
        use CheckStatus::*;
        assert_eq!(check_result(Planned, Done), Ok(Done));
        assert_eq!(check_result(Planned, Cancelled), Ok(Cancelled));
        assert!(check_result(Planned, Planned).is_err());
        assert!(check_result(Done, Cancelled).is_err());
        assert!(check_result(Cancelled, Done).is_err());
    }

    #[test]
    fn discipline_is_tracked_in_order() {
        use DisciplineStatus::*;
        for (from, to, ok) in [
            (Proposed, Accepted, true),
            (Proposed, Rejected, true),
            (Accepted, Applied, true),
            (Proposed, Applied, false),
            (Rejected, Applied, false),
            (Applied, Rejected, false),
            (Accepted, Accepted, false),
            (Proposed, Proposed, false),
        ] {
            assert_eq!(
                discipline_transition(from, to).is_ok(),
                ok,
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn codes_round_trip() {
        for i in Issuer::ALL {
            assert_eq!(Issuer::parse(i.as_str()), Some(*i));
        }
        for m in DisciplineMeasure::ALL {
            assert_eq!(DisciplineMeasure::parse(m.as_str()), Some(*m));
        }
        assert_eq!(Issuer::parse("king"), None);
    }

    #[test]
    fn a_valid_instruction_gets_the_default_deadline() {
        let cal = calendar();
        let issued = d(2026, 3, 18);
        let new = validate_new(&input(), issued, &cal, 15).unwrap();
        assert_eq!(new.issuer, Issuer::Akim);
        assert_eq!(new.due_date, d(2026, 4, 13));
        assert_eq!(new.working_days, Some(15));
        assert_eq!(new.co_executors, vec!["talgar".to_owned()]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let cal = calendar();
        let bad = NewInstructionInput {
            issuer: "reception_official".into(),
            title: " ".into(),
            lead_executor: "bad code!".into(),
            co_executors: vec!["talgar".into(), "talgar".into()],
            appeal_ids: vec!["nope".into()],
            due_date: "2026-13-01".into(),
            ..input()
        };
        let issues = validate_new(&bad, d(2026, 3, 18), &cal, 15).unwrap_err();
        let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
        for f in [
            "issuer_official",
            "title",
            "lead_executor",
            "co_executors[1]",
            "appeal_ids[0]",
            "due_date",
        ] {
            assert!(fields.contains(&f), "{f} not named in {fields:?}");
        }
        let none = NewInstructionInput {
            appeal_ids: vec![],
            issuer: String::new(),
            due_date: "2026-04-01".into(),
            working_days: 5,
            ..input()
        };
        let issues = validate_new(&none, d(2026, 3, 18), &cal, 15).unwrap_err();
        let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, vec!["issuer", "appeal_ids", "working_days"]);
        // At a reception the booking may be the only tie.
        let at_reception = NewInstructionInput {
            appeal_ids: vec![],
            source: "reception:0190f0e0-0000-7000-8000-000000000001".into(),
            ..input()
        };
        assert!(validate_new(&at_reception, d(2026, 3, 18), &cal, 15).is_ok());
    }

    #[test]
    fn body_codes() {
        for ok in ["talgar", "akim_office.hr", "ALM-EDU"] {
            assert!(is_valid_body_code(ok), "{ok}");
        }
        for bad in ["", "a b", "кодекс", &"x".repeat(101)] {
            assert!(!is_valid_body_code(bad), "{bad}");
        }
    }

    #[test]
    fn past_dates_are_bounded() {
        let mut issues = Vec::new();
        let today = d(2026, 4, 20);
        assert_eq!(
            past_date("done_on", "", today, d(2026, 1, 1), &mut issues),
            today
        );
        past_date("done_on", "2026-04-21", today, d(2026, 1, 1), &mut issues);
        past_date("done_on", "2025-12-31", today, d(2026, 1, 1), &mut issues);
        let codes: Vec<&str> = issues.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(codes, vec!["in_future", "too_early"]);
    }
}
