//! Where an appeal stands in control and which steps are allowed (reg 5.3 – 5.6).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Known from `appeal.registered`, not routed yet.
    Registered,
    Assigned,
    AnswerSubmitted,
    ReturnedForRework,
    /// Accepted by a controller; an appeal under the akim's control waits for the head.
    AwaitingSignOff,
    Closed,
    /// Sent outside the office's competence (APPK art. 65).
    Redirected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Registered => "registered",
            Status::Assigned => "assigned",
            Status::AnswerSubmitted => "answer_submitted",
            Status::ReturnedForRework => "returned_for_rework",
            Status::AwaitingSignOff => "awaiting_sign_off",
            Status::Closed => "closed",
            Status::Redirected => "redirected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "registered" => Status::Registered,
            "assigned" => Status::Assigned,
            "answer_submitted" => Status::AnswerSubmitted,
            "returned_for_rework" => Status::ReturnedForRework,
            "awaiting_sign_off" => Status::AwaitingSignOff,
            "closed" => Status::Closed,
            "redirected" => Status::Redirected,
            _ => return None,
        })
    }

    /// An assignment is running: deadlines, reminders and escalation apply.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::Assigned
                | Status::AnswerSubmitted
                | Status::ReturnedForRework
                | Status::AwaitingSignOff
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the appeal is {status}; {action} needs it to be {expected}")]
pub struct TransitionError {
    pub status: Status,
    pub action: &'static str,
    pub expected: &'static str,
}

fn refuse(status: Status, action: &'static str, expected: &'static str) -> TransitionError {
    TransitionError {
        status,
        action,
        expected,
    }
}

/// The lead executor submits an answer.
pub fn submit_answer(status: Status) -> Result<Status, TransitionError> {
    match status {
        Status::Assigned | Status::ReturnedForRework => Ok(Status::AnswerSubmitted),
        s => Err(refuse(
            s,
            "submitting an answer",
            "assigned or returned_for_rework",
        )),
    }
}

/// A controller reviews the submitted answer.
pub fn review(status: Status, accept: bool, akim_control: bool) -> Result<Status, TransitionError> {
    match (status, accept) {
        (Status::AnswerSubmitted, true) if akim_control => Ok(Status::AwaitingSignOff),
        (Status::AnswerSubmitted, true) => Ok(Status::Closed),
        (Status::AnswerSubmitted, false) => Ok(Status::ReturnedForRework),
        (s, _) => Err(refuse(s, "reviewing an answer", "answer_submitted")),
    }
}

/// A head signs off (or rejects) an accepted answer of an appeal under the akim's control.
pub fn sign_off(status: Status, approve: bool) -> Result<Status, TransitionError> {
    match (status, approve) {
        (Status::AwaitingSignOff, true) => Ok(Status::Closed),
        (Status::AwaitingSignOff, false) => Ok(Status::ReturnedForRework),
        (s, _) => Err(refuse(s, "signing off", "awaiting_sign_off")),
    }
}

/// Extending the deadline needs a running assignment.
pub fn extend(status: Status) -> Result<(), TransitionError> {
    if status.is_open() {
        Ok(())
    } else {
        Err(refuse(status, "extending the deadline", "open"))
    }
}

/// Routing (again): anything not finished may be (re)assigned.
pub fn route(status: Status) -> Result<Status, TransitionError> {
    match status {
        Status::Closed => Err(refuse(status, "routing", "not closed")),
        Status::AnswerSubmitted | Status::AwaitingSignOff | Status::ReturnedForRework => {
            // A new executor starts over; the earlier answer stays in the history.
            Ok(Status::Assigned)
        }
        _ => Ok(Status::Assigned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ordinary_path() {
        let s = route(Status::Registered).unwrap();
        let s = submit_answer(s).unwrap();
        let s = review(s, false, false).unwrap();
        assert_eq!(s, Status::ReturnedForRework);
        let s = submit_answer(s).unwrap();
        assert_eq!(review(s, true, false).unwrap(), Status::Closed);
    }

    #[test]
    fn akim_control_needs_the_heads_sign_off() {
        let s = review(Status::AnswerSubmitted, true, true).unwrap();
        assert_eq!(s, Status::AwaitingSignOff);
        assert_eq!(sign_off(s, true).unwrap(), Status::Closed);
        assert_eq!(sign_off(s, false).unwrap(), Status::ReturnedForRework);
        assert!(sign_off(Status::AnswerSubmitted, true).is_err());
    }

    #[test]
    fn no_review_without_an_answer_and_nothing_after_closing() {
        assert!(review(Status::Assigned, true, false).is_err());
        assert!(submit_answer(Status::Closed).is_err());
        assert!(submit_answer(Status::AnswerSubmitted).is_err());
        assert!(extend(Status::Closed).is_err());
        assert!(route(Status::Closed).is_err());
    }

    #[test]
    fn names_round_trip() {
        for s in [
            Status::Registered,
            Status::Assigned,
            Status::AnswerSubmitted,
            Status::ReturnedForRework,
            Status::AwaitingSignOff,
            Status::Closed,
            Status::Redirected,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
