//! Who is calling: the caller verified from the bearer token by the auth layer
//! (`bakylau_platform::auth`), with its role and, for an executor, its body.

use tonic::Status;

pub use bakylau_platform::auth::{Caller, Role};

/// The verified caller of `req`; UNAUTHENTICATED when the server has no auth layer.
pub fn caller<T>(req: &tonic::Request<T>) -> Result<Caller, Status> {
    Caller::of(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_without_a_verified_caller_is_unauthenticated() {
        // Headers naming a role are not trusted any more: only the auth layer's Caller is.
        let mut r = tonic::Request::new(());
        r.metadata_mut()
            .insert("x-bakylau-role", "head".parse().unwrap());
        assert_eq!(caller(&r).unwrap_err().code(), tonic::Code::Unauthenticated);
        r.extensions_mut().insert(Caller {
            subject: "u".into(),
            role: Role::Controller,
            body: None,
            source: None,
        });
        let c = caller(&r).unwrap();
        assert!(c.may_access_body("ANY"));
        assert!(c.require(&[Role::Controller], "review").is_ok());
        assert!(c.require(&[Role::Head], "sign off").is_err());
    }
}
