//! A booking's lifecycle (reg 6.1): booked → checked in → held (with outcomes) or no-show;
//! booked → cancelled. Who may do what, and when, relative to the slot.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::string_enum;

string_enum!(
    BookingStatus {
        Booked = "booked",
        CheckedIn = "checked_in",
        Held = "held",
        NoShow = "no_show",
        Cancelled = "cancelled",
    }
);

string_enum!(
    /// What the official decided for the visitor (reg 6.1).
    OutcomeKind {
        /// Explained on the spot; nothing further.
        Explained = "explained",
        /// An appeal registered in intake with channel `reception`.
        AppealRegistered = "appeal_registered",
        /// An instruction created in control.
        InstructionGiven = "instruction_given",
    }
);

/// Times around a slot when holding actions are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HoldingPolicy {
    /// Check-in opens this many minutes before the slot.
    pub check_in_opens_minutes: i64,
    /// A visitor not checked in this many minutes after the start may be marked a no-show.
    pub no_show_after_minutes: i64,
    /// A booking may be cancelled or moved up to this many minutes before its start.
    pub change_until_minutes: i64,
}

impl Default for HoldingPolicy {
    fn default() -> Self {
        Self {
            check_in_opens_minutes: 120,
            no_show_after_minutes: 15,
            change_until_minutes: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the booking is {0}")]
    WrongStatus(BookingStatus),
    #[error("check-in opens at {0}")]
    TooEarly(NaiveDateTime),
    #[error("the slot has started; it can no longer be changed")]
    TooLate,
    #[error("the visitor is checked in; record an outcome instead")]
    CheckedIn,
    #[error("an outcome of kind {0} is already recorded")]
    DuplicateOutcome(OutcomeKind),
}

pub enum Action<'a> {
    CheckIn,
    NoShow,
    Cancel,
    Reschedule,
    /// Recording an outcome; `already` are the kinds recorded before.
    Outcome(OutcomeKind, &'a [OutcomeKind]),
}

/// The status after `action`, or why it is not allowed. Times are local.
pub fn transition(
    status: BookingStatus,
    action: Action<'_>,
    starts_at: NaiveDateTime,
    now: NaiveDateTime,
    policy: &HoldingPolicy,
) -> Result<BookingStatus, TransitionError> {
    use BookingStatus::*;
    match action {
        Action::CheckIn => match status {
            Booked => {
                let opens = starts_at - Duration::minutes(policy.check_in_opens_minutes);
                if now < opens {
                    Err(TransitionError::TooEarly(opens))
                } else {
                    Ok(CheckedIn)
                }
            }
            other => Err(TransitionError::WrongStatus(other)),
        },
        Action::NoShow => match status {
            Booked => {
                let from = starts_at + Duration::minutes(policy.no_show_after_minutes);
                if now < from {
                    Err(TransitionError::TooEarly(from))
                } else {
                    Ok(NoShow)
                }
            }
            CheckedIn => Err(TransitionError::CheckedIn),
            other => Err(TransitionError::WrongStatus(other)),
        },
        Action::Cancel | Action::Reschedule => match status {
            Booked => {
                if now > starts_at - Duration::minutes(policy.change_until_minutes) {
                    Err(TransitionError::TooLate)
                } else {
                    Ok(if matches!(action, Action::Cancel) {
                        Cancelled
                    } else {
                        Booked
                    })
                }
            }
            CheckedIn => Err(TransitionError::CheckedIn),
            other => Err(TransitionError::WrongStatus(other)),
        },
        Action::Outcome(kind, already) => match status {
            CheckedIn | Held => {
                if already.contains(&kind) {
                    Err(TransitionError::DuplicateOutcome(kind))
                } else {
                    Ok(Held)
                }
            }
            other => Err(TransitionError::WrongStatus(other)),
        },
    }
}

impl BookingStatus {
    /// Whether the booking occupies its slot (everything but a cancellation).
    pub fn occupies_slot(self) -> bool {
        self != BookingStatus::Cancelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BookingStatus::*;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn check_in_opens_before_the_slot() {
        let p = HoldingPolicy::default();
        assert_eq!(
            transition(Booked, Action::CheckIn, at(10, 0), at(7, 0), &p),
            Err(TransitionError::TooEarly(at(8, 0)))
        );
        assert_eq!(
            transition(Booked, Action::CheckIn, at(10, 0), at(9, 0), &p),
            Ok(CheckedIn)
        );
        assert_eq!(
            transition(Cancelled, Action::CheckIn, at(10, 0), at(9, 0), &p),
            Err(TransitionError::WrongStatus(Cancelled))
        );
    }

    #[test]
    fn no_show_only_after_the_grace_period_and_not_when_checked_in() {
        let p = HoldingPolicy::default();
        assert!(transition(Booked, Action::NoShow, at(10, 0), at(10, 5), &p).is_err());
        assert_eq!(
            transition(Booked, Action::NoShow, at(10, 0), at(10, 20), &p),
            Ok(NoShow)
        );
        assert_eq!(
            transition(CheckedIn, Action::NoShow, at(10, 0), at(10, 20), &p),
            Err(TransitionError::CheckedIn)
        );
    }

    #[test]
    fn cancel_and_reschedule_only_before_the_start() {
        let p = HoldingPolicy::default();
        assert_eq!(
            transition(Booked, Action::Cancel, at(10, 0), at(9, 0), &p),
            Ok(Cancelled)
        );
        assert_eq!(
            transition(Booked, Action::Reschedule, at(10, 0), at(9, 0), &p),
            Ok(Booked)
        );
        assert_eq!(
            transition(Booked, Action::Cancel, at(10, 0), at(10, 1), &p),
            Err(TransitionError::TooLate)
        );
        assert_eq!(
            transition(Held, Action::Cancel, at(10, 0), at(9, 0), &p),
            Err(TransitionError::WrongStatus(Held))
        );
    }

    #[test]
    fn outcomes_need_a_checked_in_visitor_and_are_not_doubled() {
        let p = HoldingPolicy::default();
        let explained = [OutcomeKind::Explained];
        assert_eq!(
            transition(
                Booked,
                Action::Outcome(OutcomeKind::Explained, &[]),
                at(10, 0),
                at(10, 0),
                &p
            ),
            Err(TransitionError::WrongStatus(Booked))
        );
        assert_eq!(
            transition(
                CheckedIn,
                Action::Outcome(OutcomeKind::Explained, &[]),
                at(10, 0),
                at(10, 0),
                &p
            ),
            Ok(Held)
        );
        assert_eq!(
            transition(
                Held,
                Action::Outcome(OutcomeKind::AppealRegistered, &explained),
                at(10, 0),
                at(10, 0),
                &p
            ),
            Ok(Held)
        );
        assert_eq!(
            transition(
                Held,
                Action::Outcome(OutcomeKind::Explained, &explained),
                at(10, 0),
                at(10, 0),
                &p
            ),
            Err(TransitionError::DuplicateOutcome(OutcomeKind::Explained))
        );
    }
}
