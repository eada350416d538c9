//! Tokens for tests: a fixed test signing key (`tests/keys/`, never used outside tests and
//! the local setup) whose JWKS the services under test trust, a `mint` helper and a
//! client interceptor that sends a token on every call.

use std::path::PathBuf;
use std::time::Duration;

pub use bakylau_platform::auth::Role;
use bakylau_platform::auth::{AuthSettings, IdentitySettings, TokenMinter};
use bakylau_platform::config::GrpcSettings;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

pub use bakylau_platform::auth::{Caller, Claims};

pub const ISSUER: &str = "bakylau-test-idp";
pub const AUDIENCE: &str = "bakylau";
pub const KEY_ID: &str = "bakylau-test-1";
/// The executor body and integration source tests use by default.
pub const TEST_BODY: &str = "akimat.talgar";
pub const TEST_SOURCE: &str = "urn:kz:eotinish";

fn keys() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keys")
}

pub fn jwks_path() -> PathBuf {
    keys().join("test-jwks.json")
}

pub fn signing_key_path() -> PathBuf {
    keys().join("test-signing-key.pem")
}

/// A key the services do not trust (same `kid`): its tokens have a bad signature.
pub fn foreign_key_path() -> PathBuf {
    keys().join("other-signing-key.pem")
}

/// Verification against the test key.
pub fn settings() -> AuthSettings {
    AuthSettings {
        jwks: jwks_path().display().to_string(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        ..Default::default()
    }
}

/// A service identity minted from the test key.
pub fn identity() -> IdentitySettings {
    IdentitySettings {
        signing_key_file: Some(signing_key_path()),
        key_id: KEY_ID.into(),
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        ..Default::default()
    }
}

/// Puts the test key's verification and identity into a service's gRPC settings.
pub fn secure(grpc: &mut GrpcSettings) {
    grpc.auth = settings();
    grpc.identity = identity();
}

/// Environment for a service run as a process (`BAKYLAU_<SERVICE>__GRPC__AUTH__...`).
pub fn env(service: &str) -> Vec<(String, String)> {
    let p = format!("BAKYLAU_{}__GRPC__", service.to_uppercase());
    vec![
        (format!("{p}AUTH__JWKS"), jwks_path().display().to_string()),
        (format!("{p}AUTH__ISSUER"), ISSUER.into()),
        (format!("{p}AUTH__AUDIENCE"), AUDIENCE.into()),
        (
            format!("{p}IDENTITY__SIGNING_KEY_FILE"),
            signing_key_path().display().to_string(),
        ),
        (format!("{p}IDENTITY__KEY_ID"), KEY_ID.into()),
        (format!("{p}IDENTITY__ISSUER"), ISSUER.into()),
        (format!("{p}IDENTITY__AUDIENCE"), AUDIENCE.into()),
    ]
}

pub fn minter() -> TokenMinter {
    TokenMinter::from_file(&signing_key_path(), Some(KEY_ID.into()), ISSUER, AUDIENCE)
        .expect("the test signing key")
}

/// A valid token for `role`; an executor gets [`TEST_BODY`] and an integration system
/// [`TEST_SOURCE`] unless given others.
pub fn mint(role: Role, body: Option<&str>, source: Option<&str>) -> String {
    let body = body.or((role == Role::Executor).then_some(TEST_BODY));
    let source = source.or((role == Role::Integration).then_some(TEST_SOURCE));
    minter()
        .mint(
            &format!("test.{role}"),
            role,
            body,
            source,
            Duration::from_secs(3600),
        )
        .expect("mint a test token")
}

/// `Bearer <token>` as metadata.
pub fn bearer(token: &str) -> MetadataValue<Ascii> {
    format!("Bearer {token}").parse().expect("a token is ASCII")
}

/// `message` sent as `role` (with `body` for an executor), overriding a client's default.
pub fn as_role<T>(message: T, role: Role, body: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut()
        .insert("authorization", bearer(&mint(role, body, None)));
    r
}

/// Sends a default token on every call that does not carry one already.
#[derive(Debug, Clone)]
pub struct Token(pub Option<MetadataValue<Ascii>>);

impl Token {
    pub fn of(role: Role) -> Self {
        Token(Some(bearer(&mint(role, None, None))))
    }

    /// No token at all (for tests of refusal).
    pub fn none() -> Self {
        Token(None)
    }
}

impl tonic::service::Interceptor for Token {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0
            && !request.metadata().contains_key("authorization")
        {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

/// A channel whose calls carry a token.
pub type AuthChannel = InterceptedService<Channel, Token>;

pub fn authed(channel: Channel, role: Role) -> AuthChannel {
    InterceptedService::new(channel, Token::of(role))
}

/// Connects to `addr` (`http://host:port`) as `role`.
pub async fn connect_as(addr: &str, role: Role) -> Result<AuthChannel, tonic::transport::Error> {
    let channel = Endpoint::from_shared(addr.to_owned())?.connect().await?;
    Ok(authed(channel, role))
}

/// `make(channel)` with every call carrying a `role` token:
/// `wrap(Role::Registrar, IntakeServiceClient::new, channel)`.
pub fn wrap<C>(role: Role, make: impl FnOnce(AuthChannel) -> C, channel: Channel) -> C {
    make(authed(channel, role))
}

/// Like a generated client's `connect`, carrying a `role` token:
/// `client(Role::Registrar, IntakeServiceClient::new, addr).await`.
pub async fn client<C>(
    role: Role,
    make: impl FnOnce(AuthChannel) -> C,
    addr: impl AsRef<str>,
) -> Result<C, tonic::transport::Error> {
    Ok(make(connect_as(addr.as_ref(), role).await?))
}

/// A token for `subject` as `role` (`"executor"`, ...) of `body`.
pub fn mint_for(subject: &str, role: Role, body: Option<&str>, source: Option<&str>) -> String {
    minter()
        .mint(subject, role, body, source, Duration::from_secs(3600))
        .expect("mint a test token")
}

/// `message` as sent by `user` in `role` (of `body`, for an executor).
pub fn as_user<T>(message: T, user: &str, role: &str, body: Option<&str>) -> tonic::Request<T> {
    let role: Role = role.parse().expect("a known role");
    let mut r = tonic::Request::new(message);
    r.metadata_mut()
        .insert("authorization", bearer(&mint_for(user, role, body, None)));
    r
}
