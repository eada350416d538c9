//! Record-keeping audit checks (reg 10.1), run over what control knows of each appeal.

use bakylau_calendar::Calendar;
use chrono::NaiveDate;

use super::policy::Policy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// Registered after the working day following receipt (APPK art. 64).
    RegisteredLate,
    /// Routed or redirected more than the policy's working days after registration.
    ForwardedLate,
    /// Closed after its due date, or still unanswered past it.
    AnsweredLate,
    /// A letter the applicant was owed is missing, late or could not be delivered.
    ApplicantNotNotified,
    /// Returned for rework more than once (reg 5.6).
    ReturnedMoreThanOnce,
}

impl Check {
    pub const ALL: [Check; 5] = [
        Check::RegisteredLate,
        Check::ForwardedLate,
        Check::AnsweredLate,
        Check::ApplicantNotNotified,
        Check::ReturnedMoreThanOnce,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::RegisteredLate => "registered_late",
            Check::ForwardedLate => "forwarded_late",
            Check::AnsweredLate => "answered_late",
            Check::ApplicantNotNotified => "applicant_not_notified",
            Check::ReturnedMoreThanOnce => "returned_more_than_once",
        }
    }
}

/// A letter the applicant was owed and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `registration_coupon`, `redirection`, `extension`, `answer`.
    pub kind: String,
    /// Last day it was due.
    pub due_by: NaiveDate,
    /// When the letter was written, if it was.
    pub written_on: Option<NaiveDate>,
    /// Delivery failed for good.
    pub failed: bool,
}

/// What the audit needs to know of one appeal (Kazakhstan dates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppealFacts {
    pub received_on: Option<NaiveDate>,
    pub registered_on: Option<NaiveDate>,
    /// Routed or redirected, whichever came first.
    pub forwarded_on: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    pub rework_count: u32,
    pub notices: Vec<Notice>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: Check,
    pub detail: String,
}

fn finding(check: Check, detail: String) -> Finding {
    Finding { check, detail }
}

/// Runs every check on one appeal as of `today`.
pub fn audit_appeal(
    cal: &Calendar,
    policy: &Policy,
    today: NaiveDate,
    f: &AppealFacts,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if let (Some(received), Some(registered)) = (f.received_on, f.registered_on) {
        let latest = cal.next_working_day(received);
        if registered > latest {
            out.push(finding(
                Check::RegisteredLate,
                format!("received {received}, registered {registered}, due by {latest}"),
            ));
        }
    }
    if let Some(registered) = f.registered_on {
        let limit = i64::from(policy.forwarding_working_days);
        match f.forwarded_on {
            Some(on) => {
                let days = cal.working_days_between(registered, on);
                if days > limit {
                    out.push(finding(
                        Check::ForwardedLate,
                        format!(
                            "forwarded {on}, {days} working days after registration (limit {limit})"
                        ),
                    ));
                }
            }
            None => {
                let days = cal.working_days_between(registered, today);
                if days > limit {
                    out.push(finding(
                        Check::ForwardedLate,
                        format!("not forwarded yet, {days} working days after registration (limit {limit})"),
                    ));
                }
            }
        }
    }
    if let Some(due) = f.due_date {
        match f.closed_on {
            Some(closed) if closed > due => out.push(finding(
                Check::AnsweredLate,
                format!("closed {closed}, due {due}"),
            )),
            None if today > due => out.push(finding(
                Check::AnsweredLate,
                format!("still unanswered, due {due}"),
            )),
            _ => {}
        }
    }
    for n in &f.notices {
        let problem = match n.written_on {
            None if today > n.due_by => Some(format!("no {} letter, due by {}", n.kind, n.due_by)),
            Some(on) if on > n.due_by => Some(format!(
                "{} letter written {on}, due by {}",
                n.kind, n.due_by
            )),
            Some(_) if n.failed => Some(format!("{} letter could not be delivered", n.kind)),
            _ => None,
        };
        if let Some(detail) = problem {
            out.push(finding(Check::ApplicantNotNotified, detail));
        }
    }
    if f.rework_count > 1 {
        out.push(finding(
            Check::ReturnedMoreThanOnce,
            format!("returned for rework {} times", f.rework_count),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn checks(f: &AppealFacts, today: NaiveDate) -> Vec<Check> {
        let cal = Calendar::embedded().unwrap();
        audit_appeal(&cal, &Policy::default(), today, f)
            .into_iter()
            .map(|x| x.check)
            .collect()
    }

    fn clean() -> AppealFacts {
        AppealFacts {
            received_on: Some(d(2026, 3, 17)),
            registered_on: Some(d(2026, 3, 18)),
            forwarded_on: Some(d(2026, 3, 19)),
            due_date: Some(d(2026, 4, 13)),
            closed_on: Some(d(2026, 4, 10)),
            rework_count: 1,
            notices: vec![Notice {
                kind: "answer".into(),
                due_by: d(2026, 4, 10),
                written_on: Some(d(2026, 4, 10)),
                failed: false,
            }],
        }
    }

    #[test]
    fn a_clean_appeal_has_no_findings() {
        assert!(checks(&clean(), d(2026, 5, 1)).is_empty());
    }

    #[test]
    fn registration_after_the_next_working_day_is_late() {
        // Received Friday 20 March 2026; 21-25 March are days off (Nauryz and its moves),
        // so the next working day is 26 March: registering then is on time, 27th is late.
        let on_time = AppealFacts {
            received_on: Some(d(2026, 3, 20)),
            registered_on: Some(d(2026, 3, 26)),
            forwarded_on: Some(d(2026, 3, 26)),
            ..clean()
        };
        assert!(!checks(&on_time, d(2026, 5, 1)).contains(&Check::RegisteredLate));
        let late = AppealFacts {
            registered_on: Some(d(2026, 3, 27)),
            forwarded_on: Some(d(2026, 3, 27)),
            ..on_time
        };
        assert!(checks(&late, d(2026, 5, 1)).contains(&Check::RegisteredLate));
    }

    #[test]
    fn forwarding_over_three_working_days_is_late() {
        let late = AppealFacts {
            forwarded_on: Some(d(2026, 3, 27)),
            ..clean()
        };
        assert_eq!(checks(&late, d(2026, 5, 1)), vec![Check::ForwardedLate]);
        let never = AppealFacts {
            forwarded_on: None,
            due_date: None,
            closed_on: None,
            notices: vec![],
            ..clean()
        };
        assert_eq!(checks(&never, d(2026, 3, 19)), vec![]);
        assert_eq!(checks(&never, d(2026, 4, 1)), vec![Check::ForwardedLate]);
    }

    #[test]
    fn closing_after_the_due_date_or_not_at_all_is_late() {
        let late = AppealFacts {
            closed_on: Some(d(2026, 4, 14)),
            notices: vec![],
            ..clean()
        };
        assert_eq!(checks(&late, d(2026, 5, 1)), vec![Check::AnsweredLate]);
        let open = AppealFacts {
            closed_on: None,
            notices: vec![],
            ..clean()
        };
        assert!(checks(&open, d(2026, 4, 13)).is_empty());
        assert_eq!(checks(&open, d(2026, 4, 14)), vec![Check::AnsweredLate]);
    }

    #[test]
    fn missing_late_or_failed_letters_are_findings() {
        let mut f = clean();
        f.notices[0].written_on = None;
        assert_eq!(checks(&f, d(2026, 5, 1)), vec![Check::ApplicantNotNotified]);
        f.notices[0].written_on = Some(d(2026, 4, 14));
        assert_eq!(checks(&f, d(2026, 5, 1)), vec![Check::ApplicantNotNotified]);
        f.notices[0].written_on = Some(d(2026, 4, 10));
        f.notices[0].failed = true;
        assert_eq!(checks(&f, d(2026, 5, 1)), vec![Check::ApplicantNotNotified]);
    }

    #[test]
    fn two_returns_for_rework_are_a_finding() {
        let f = AppealFacts {
            rework_count: 2,
            ..clean()
        };
        assert_eq!(checks(&f, d(2026, 5, 1)), vec![Check::ReturnedMoreThanOnce]);
    }
}
