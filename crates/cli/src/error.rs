//! What goes wrong, told to the person at the keyboard, and the exit code scripts see:
//! 0 done, 2 the input was wrong (bad flag or file, INVALID_ARGUMENT, NOT_FOUND,
//! ALREADY_EXISTS), 1 anything else (intake unreachable, server trouble).

use std::fmt;
use std::process::ExitCode;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A mistake in what was typed or in an input file, found before calling any service.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

/// The service could not be reached at all.
#[derive(Debug)]
pub struct Unreachable {
    pub service: &'static str,
    pub addr: String,
    pub detail: String,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not reachable at {} ({}).\n\
             Start the local stack with the README's first command (deploy/local/up.sh), \
             or point --{} (env BAKYLAU_{}_ADDR) at a running {}.",
            self.service,
            self.addr,
            self.detail,
            self.service,
            self.service.to_uppercase(),
            self.service
        )
    }
}

impl std::error::Error for Unreachable {}

/// A failed call that is safe to repeat, with how to repeat it.
#[derive(Debug)]
pub struct Retryable {
    pub status: Status,
    pub hint: String,
}

impl fmt::Display for Retryable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            code_name(self.status.code()),
            self.status.message()
        )
    }
}

impl std::error::Error for Retryable {}

/// Prints the error to stderr and gives the exit code.
pub fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let (text, code) = render(&e);
            if !text.is_empty() {
                eprintln!("{text}");
            }
            ExitCode::from(code)
        }
    }
}

/// The message and exit code for an error.
pub fn render(e: &anyhow::Error) -> (String, u8) {
    if let Some(r) = e.downcast_ref::<Retryable>() {
        let (text, code) = render_status(&r.status);
        return (format!("{text}\nhint: {}", r.hint), code);
    }
    if let Some(s) = e.downcast_ref::<Status>() {
        return render_status(s);
    }
    if let Some(u) = e.downcast_ref::<Usage>() {
        return (format!("error: {u}"), 2);
    }
    if let Some(u) = e.downcast_ref::<Unreachable>() {
        return (format!("error: {u}"), 1);
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && io.kind() == std::io::ErrorKind::BrokenPipe
    {
        // The reader of our output went away (`| head`): nothing to say.
        return (String::new(), 0);
    }
    (format!("error: {e:#}"), 1)
}

fn render_status(s: &Status) -> (String, u8) {
    let mut text = format!("error: {}: {}", code_name(s.code()), s.message());
    if s.code() == Code::InvalidArgument {
        for (field, message) in field_violations(s) {
            if field.is_empty() {
                text.push_str(&format!("\n  - {message}"));
            } else {
                text.push_str(&format!("\n  - {field}: {message}"));
            }
        }
    }
    let code = match s.code() {
        Code::InvalidArgument | Code::NotFound | Code::AlreadyExists => 2,
        _ => 1,
    };
    (text, code)
}

/// Each field at fault: from `google.rpc.BadRequest` details when the server sent them,
/// otherwise read from the message (`invalid appeal: a: x; b: y`).
pub fn field_violations(s: &Status) -> Vec<(String, String)> {
    if let Some(bad) = s.get_error_details().bad_request()
        && !bad.field_violations.is_empty()
    {
        return bad
            .field_violations
            .iter()
            .map(|v| (v.field.clone(), v.description.clone()))
            .collect();
    }
    violations_from_message(s.message())
}

pub fn violations_from_message(message: &str) -> Vec<(String, String)> {
    // A leading summary ("invalid appeal: ") has a space in it; a field path has none.
    let rest = match message.split_once(": ") {
        Some((head, rest)) if head.contains(' ') => rest,
        _ => message,
    };
    rest.split("; ")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| match part.split_once(": ") {
            Some((field, msg)) if !field.contains(' ') => (field.to_owned(), msg.to_owned()),
            _ => (String::new(), part.to_owned()),
        })
        .collect()
}

pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, FieldViolation};

    #[test]
    fn invalid_argument_lists_fields_from_the_message_and_exits_2() {
        let s = Status::invalid_argument(
            "invalid appeal: applicant.iin: check digit does not match; text: required: text",
        );
        let (text, code) = render(&anyhow::Error::new(s));
        assert_eq!(code, 2);
        assert_eq!(
            text,
            "error: INVALID_ARGUMENT: invalid appeal: applicant.iin: check digit does not match; \
             text: required: text\n  - applicant.iin: check digit does not match\n  - text: required: text"
        );
    }

    #[test]
    fn invalid_argument_prefers_bad_request_details() {
        let details = ErrorDetails::with_bad_request(vec![FieldViolation::new(
            "attachments[0].media_type",
            "media type \"x\" is not accepted",
        )]);
        let s = Status::with_error_details(Code::InvalidArgument, "invalid appeal", details);
        assert_eq!(
            field_violations(&s),
            vec![(
                "attachments[0].media_type".to_owned(),
                "media type \"x\" is not accepted".to_owned()
            )]
        );
    }

    #[test]
    fn messages_without_a_summary_or_fields() {
        assert_eq!(
            violations_from_message("page_size: at most 500"),
            vec![("page_size".to_owned(), "at most 500".to_owned())]
        );
        assert_eq!(
            violations_from_message("something went wrong"),
            vec![(String::new(), "something went wrong".to_owned())]
        );
    }

    #[test]
    fn exit_codes_by_kind_of_failure() {
        let code = |e: anyhow::Error| render(&e).1;
        assert_eq!(code(Status::not_found("no such appeal").into()), 2);
        assert_eq!(code(Status::already_exists("request_id").into()), 2);
        assert_eq!(code(Status::unavailable("down").into()), 1);
        assert_eq!(code(Status::internal("internal error").into()), 1);
        assert_eq!(code(usage("--from: bad date")), 2);
        assert_eq!(code(anyhow::anyhow!("disk on fire")), 1);
        let (text, c) = render(&anyhow::Error::new(Status::not_found("no such appeal")));
        assert_eq!((text.as_str(), c), ("error: NOT_FOUND: no such appeal", 2));
    }

    #[test]
    fn unreachable_names_the_address_and_the_readme() {
        let e = anyhow::Error::new(Unreachable {
            service: "intake",
            addr: "http://127.0.0.1:50051".into(),
            detail: "connection refused".into(),
        });
        let (text, code) = render(&e);
        assert_eq!(code, 1);
        assert!(text.starts_with(
            "error: intake is not reachable at http://127.0.0.1:50051 (connection refused)"
        ));
        assert!(text.contains("README"));
        assert!(text.contains("BAKYLAU_INTAKE_ADDR"));
    }

    #[test]
    fn retryable_failures_carry_their_hint() {
        let e = anyhow::Error::new(Retryable {
            status: Status::unavailable("the register is temporarily unavailable"),
            hint: "run the same command again with --request-id abc".into(),
        });
        let (text, code) = render(&e);
        assert_eq!(code, 1);
        assert!(text.ends_with("\nhint: run the same command again with --request-id abc"));
    }
}
