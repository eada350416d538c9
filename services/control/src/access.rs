//! Who is calling: identity, role and body from gRPC metadata. Full token authentication
//! comes in a later issue; until then the gateway sets these headers.

use std::fmt;
use std::str::FromStr;

use tonic::Status;

/// Metadata keys carrying the caller's identity.
pub const USER_HEADER: &str = "x-bakylau-user";
pub const ROLE_HEADER: &str = "x-bakylau-role";
pub const BODY_HEADER: &str = "x-bakylau-body";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub role: Role,
    /// The government body (organisation code) the caller works for.
    pub body: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Registrar,
    Executor,
    Controller,
    Head,
    Analyst,
    Auditor,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Registrar => "registrar",
            Role::Executor => "executor",
            Role::Controller => "controller",
            Role::Head => "head",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::System => "system",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "registrar" => Role::Registrar,
            "executor" => Role::Executor,
            "controller" => Role::Controller,
            "head" => Role::Head,
            "analyst" => Role::Analyst,
            "auditor" => Role::Auditor,
            "system" => Role::System,
            other => return Err(format!("unknown role {other:?}")),
        })
    }
}

impl Caller {
    /// Whether the caller may see or act on things of `body`: executors only their own body.
    pub fn may_access_body(&self, body: &str) -> bool {
        match self.role {
            Role::Executor => self.body.as_deref() == Some(body),
            _ => true,
        }
    }

    pub fn require(&self, allowed: &[Role], action: &str) -> Result<(), Status> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(Status::permission_denied(format!(
                "role {} may not {action}",
                self.role
            )))
        }
    }
}

fn header<T>(req: &tonic::Request<T>, key: &str) -> Option<String> {
    req.metadata()
        .get(key)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Reads the caller from the request metadata.
pub fn caller<T>(req: &tonic::Request<T>) -> Result<Caller, Status> {
    let user = header(req, USER_HEADER)
        .ok_or_else(|| Status::unauthenticated(format!("metadata {USER_HEADER} is missing")))?;
    let role = header(req, ROLE_HEADER)
        .ok_or_else(|| Status::unauthenticated(format!("metadata {ROLE_HEADER} is missing")))?;
    let role: Role = role
        .parse()
        .map_err(|e| Status::unauthenticated(format!("metadata {ROLE_HEADER}: {e}")))?;
    let body = header(req, BODY_HEADER);
    if role == Role::Executor && body.is_none() {
        return Err(Status::permission_denied(format!(
            "an executor must name its body in {BODY_HEADER}"
        )));
    }
    Ok(Caller { user, role, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&'static str, &str)]) -> tonic::Request<()> {
        let mut r = tonic::Request::new(());
        for (k, v) in pairs {
            r.metadata_mut().insert(*k, v.parse().unwrap());
        }
        r
    }

    #[test]
    fn reads_a_full_identity() {
        let c = caller(&req(&[
            (USER_HEADER, "u-17"),
            (ROLE_HEADER, "Executor"),
            (BODY_HEADER, "ALM-EDU"),
        ]))
        .unwrap();
        assert_eq!(c.role, Role::Executor);
        assert_eq!(c.body.as_deref(), Some("ALM-EDU"));
        assert!(c.may_access_body("ALM-EDU"));
        assert!(!c.may_access_body("ALM-HEALTH"));
    }

    #[test]
    fn missing_user_is_unauthenticated() {
        let e = caller(&req(&[(ROLE_HEADER, "head")])).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        let e = caller(&req(&[(USER_HEADER, "u"), (ROLE_HEADER, "king")])).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn executor_without_body_is_denied() {
        let e = caller(&req(&[(USER_HEADER, "u"), (ROLE_HEADER, "executor")])).unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn controller_sees_every_body() {
        let c = caller(&req(&[(USER_HEADER, "u"), (ROLE_HEADER, "controller")])).unwrap();
        assert!(c.may_access_body("ANY"));
        assert!(c.require(&[Role::Controller], "review").is_ok());
        assert!(c.require(&[Role::Head], "sign off").is_err());
    }
}
