//! Authentication and authorization of gRPC calls.
//!
//! Every call but `grpc.health.v1` and reflection carries `authorization: Bearer <JWT>`
//! from the region's identity provider. The token is verified against the provider's JWKS
//! (a file, or an `http://` or `https://` URL, reloaded every `refresh_s`; https trusts the
//! system's roots plus `jwks_ca_file`): signature (RS256 or ES256,
//! the algorithm fixed by the key, never by the token), issuer, audience and expiry. Its
//! claims name the caller: `sub`, `role`, `body` (an executor's body code) and `source`
//! (an integration system's source). A per-service policy table (`method path → roles`)
//! decides who may call what; a method missing from the table is refused to everyone. The verified
//! [`Caller`] is put into the request's extensions for the handlers' own scope checks.
//!
//! There is no setting that turns verification off: without a JWKS the server does not
//! start. Local setups and tests mint tokens with a key of their own ([`TokenMinter`]).

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tonic::codegen::Service;
use tonic::{Code, Status};

/// Who may act in Bakylau (issue 10). `System` is a Bakylau service calling another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Registrar,
    /// Bound to one body: sees and answers only that body's appeals.
    Executor,
    Controller,
    /// The akim and the deputies.
    Head,
    /// Reports without personal data.
    Analyst,
    /// Read-only.
    Auditor,
    /// Another government system: inbound registration only, as its own `source`.
    Integration,
    System,
}

/// Every role, for tables and tests that must cover them all.
pub const ALL_ROLES: &[Role] = &[
    Role::Registrar,
    Role::Executor,
    Role::Controller,
    Role::Head,
    Role::Analyst,
    Role::Auditor,
    Role::Integration,
    Role::System,
];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Registrar => "registrar",
            Role::Executor => "executor",
            Role::Controller => "controller",
            Role::Head => "head",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Integration => "integration",
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
        ALL_ROLES
            .iter()
            .copied()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown role {s:?}"))
    }
}

/// The verified caller of one gRPC call, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user (or service) id from `sub`.
    pub subject: String,
    pub role: Role,
    /// The body (organisation code) an executor works for.
    pub body: Option<String>,
    /// The `source` an integration system publishes as.
    pub source: Option<String>,
}

impl Caller {
    /// The caller of `request`, put there by [`AuthLayer`]. Missing only when a server was
    /// built without the layer, which is refused rather than trusted.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("no verified caller"))
    }

    /// Whether the caller may see or act on things of `body`: executors only their own.
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

/// Which roles may call one method.
#[derive(Debug, Clone, Copy)]
pub struct MethodPolicy {
    /// The gRPC path, `/bakylau.intake.v1.IntakeService/RegisterAppeal`.
    pub path: &'static str,
    pub roles: &'static [Role],
    /// Whether its calls go to the audit log, as reads of personal data or as changes.
    pub audit: crate::audit::Audit,
}

/// A service's policy table. Methods not in it are refused to everyone.
pub type Policy = &'static [MethodPolicy];

/// The roles `policy` allows on `path`; `None` for a method it does not name.
pub fn allowed_roles(policy: Policy, path: &str) -> Option<&'static [Role]> {
    policy.iter().find(|p| p.path == path).map(|p| p.roles)
}

/// The roles the first of `policies` that names `path` allows on it.
pub fn allowed_roles_in(policies: &[Policy], path: &str) -> Option<&'static [Role]> {
    policies.iter().find_map(|p| allowed_roles(p, path))
}

/// Calls that need no token: probes and reflection (they carry no data of anyone).
pub fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/") || path.starts_with("/grpc.reflection.")
}

/// How tokens are verified: where the identity provider's keys are, and what a token must
/// say about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// The JWKS: a file path or an `http://` or `https://` URL. Required: the server does
    /// not start without it.
    pub jwks: String,
    /// A CA (PEM) trusted for an `https://` JWKS besides the system's roots: an in-house
    /// identity provider's.
    pub jwks_ca_file: Option<PathBuf>,
    /// The `iss` every token must carry. Required.
    pub issuer: String,
    /// The `aud` every token must carry.
    pub audience: String,
    /// Clock skew tolerated on `exp`/`nbf`, seconds.
    pub leeway_s: u64,
    /// How often the JWKS is read again (key rotation), seconds.
    pub refresh_s: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwks: String::new(),
            jwks_ca_file: None,
            issuer: String::new(),
            audience: "bakylau".into(),
            leeway_s: 30,
            refresh_s: 300,
        }
    }
}

/// How this service proves who it is when it calls another: a token file written by the
/// platform (Kubernetes projected token, re-read as it rotates), or in local setups a
/// signing key from which it mints its own short-lived `system` token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentitySettings {
    pub token_file: Option<PathBuf>,
    pub signing_key_file: Option<PathBuf>,
    /// `kid` of the signing key in the JWKS.
    pub key_id: String,
    pub issuer: String,
    pub audience: String,
    /// Lifetime of a self-minted token, seconds.
    pub ttl_s: u64,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            token_file: None,
            signing_key_file: None,
            key_id: String::new(),
            issuer: String::new(),
            audience: "bakylau".into(),
            ttl_s: 300,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("auth settings: {0}")]
    Settings(String),
    #[error("JWKS {from}: {reason}")]
    Jwks { from: String, reason: String },
    #[error("key file {path}: {reason}")]
    KeyFile { path: PathBuf, reason: String },
    #[error("token: {0}")]
    Token(String),
}

/// The claims of a Bakylau token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
}

/// Why a token was refused; the message names no claim values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("token signed with an unknown key or algorithm")]
    UnknownKey,
    #[error("token signature invalid")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token issuer not accepted")]
    Issuer,
    #[error("token audience not accepted")]
    Audience,
    #[error("token claims invalid: {0}")]
    Claims(&'static str),
}

struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// Where the JWKS is read from.
enum JwksSource {
    File(PathBuf),
    /// An `http://` or `https://` URL, with the client built once from the settings.
    Url {
        url: String,
        client: reqwest::Client,
    },
}

impl JwksSource {
    fn new(settings: &AuthSettings) -> Result<JwksSource, AuthError> {
        let from = settings.jwks.trim();
        if from.starts_with("http://") || from.starts_with("https://") {
            let client = jwks_client(settings.jwks_ca_file.as_deref()).map_err(|reason| {
                AuthError::Jwks {
                    from: from.to_owned(),
                    reason,
                }
            })?;
            Ok(JwksSource::Url {
                url: from.to_owned(),
                client,
            })
        } else {
            Ok(JwksSource::File(PathBuf::from(from)))
        }
    }

    fn name(&self) -> String {
        match self {
            JwksSource::File(path) => path.display().to_string(),
            JwksSource::Url { url, .. } => url.clone(),
        }
    }
}

/// Verifies tokens against the identity provider's current keys.
pub struct Verifier {
    settings: AuthSettings,
    source: JwksSource,
    keys: RwLock<Arc<Vec<Key>>>,
    verified: Mutex<VerifiedTokens>,
}

/// Tokens this verifier has already checked, by their SHA-256, until they expire. A caller
/// sends the same token with every call, and checking an ES256 signature again costs about
/// 0.3 ms of CPU (measured: 15% of intake's CPU under load). Only the signature and the fixed
/// claims are taken from here: the expiry is checked on every call, and new keys empty it.
#[derive(Default)]
struct VerifiedTokens {
    by_digest: std::collections::HashMap<[u8; 32], (Caller, u64)>,
    /// Moves with every new set of keys, so that a token verified under the old keys while
    /// they were replaced is not remembered.
    generation: u64,
}

/// Tokens remembered at most; past it the expired ones go, or else all of them.
const VERIFIED_TOKENS_MAX: usize = 4096;

impl VerifiedTokens {
    fn get(&self, digest: &[u8; 32], now: u64, leeway: u64) -> Result<Option<Caller>, Rejection> {
        match self.by_digest.get(digest) {
            None => Ok(None),
            Some((_, exp)) if exp.saturating_add(leeway) < now => Err(Rejection::Expired),
            Some((caller, _)) => Ok(Some(caller.clone())),
        }
    }

    fn insert(&mut self, digest: [u8; 32], caller: Caller, exp: u64, now: u64, leeway: u64) {
        if self.by_digest.len() >= VERIFIED_TOKENS_MAX {
            self.by_digest
                .retain(|_, (_, exp)| exp.saturating_add(leeway) >= now);
            if self.by_digest.len() >= VERIFIED_TOKENS_MAX {
                self.by_digest.clear();
            }
        }
        self.by_digest.insert(digest, (caller, exp));
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("jwks", &self.settings.jwks)
            .field("issuer", &self.settings.issuer)
            .field("audience", &self.settings.audience)
            .finish()
    }
}

impl Verifier {
    /// Loads the JWKS; refuses settings that would let any token through.
    pub async fn load(settings: &AuthSettings) -> Result<Arc<Verifier>, AuthError> {
        if settings.jwks.trim().is_empty() {
            return Err(AuthError::Settings(
                "grpc.auth.jwks is required (a JWKS file or an http:// or https:// URL)".into(),
            ));
        }
        if settings.issuer.trim().is_empty() {
            return Err(AuthError::Settings("grpc.auth.issuer is required".into()));
        }
        if settings.audience.trim().is_empty() {
            return Err(AuthError::Settings("grpc.auth.audience is required".into()));
        }
        let source = JwksSource::new(settings)?;
        let keys = read_jwks(&source).await?;
        Ok(Arc::new(Verifier {
            settings: settings.clone(),
            source,
            keys: RwLock::new(Arc::new(keys)),
            verified: Mutex::new(VerifiedTokens::default()),
        }))
    }

    /// Reads the JWKS again every `refresh_s` until `shutdown`; a failed read keeps the
    /// keys in hand (the provider being briefly away must not lock everyone out).
    pub async fn refresh(self: Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        let every = Duration::from_secs(self.settings.refresh_s.max(5));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            match read_jwks(&self.source).await {
                Ok(keys) => self.replace_keys(keys),
                Err(e) => tracing::warn!(error = %e, "JWKS reload failed; keeping the old keys"),
            }
        }
    }

    /// New keys: a token verified under a key that is gone must be refused from now on.
    fn replace_keys(&self, keys: Vec<Key>) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        verified.by_digest.clear();
        verified.generation += 1;
    }

    /// The caller a bearer token names, if the token is genuine and current.
    pub fn verify(&self, token: &str) -> Result<Caller, Rejection> {
        use sha2::Digest as _;
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let now = unix_now();
        let leeway = self.settings.leeway_s;
        let generation = {
            let verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(caller) = verified.get(&digest, now, leeway)? {
                return Ok(caller);
            }
            verified.generation
        };
        let (caller, exp) = self.verify_signed(token)?;
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.generation == generation {
            verified.insert(digest, caller.clone(), exp, now, leeway);
        }
        Ok(caller)
    }

    /// Checks the signature and the claims, and gives the caller and the token's expiry.
    fn verify_signed(&self, token: &str) -> Result<(Caller, u64), Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner()).clone();
        // The key decides the algorithm: a token cannot pick a weaker one.
        let key = keys
            .iter()
            .find(|k| {
                k.alg == header.alg
                    && match (&header.kid, &k.kid) {
                        (Some(want), Some(have)) => want == have,
                        (None, _) => keys.len() == 1,
                        (Some(_), None) => true,
                    }
            })
            .ok_or(Rejection::UnknownKey)?;
        let mut validation = Validation::new(key.alg);
        validation.leeway = self.settings.leeway_s;
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_audience(&[self.settings.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::InvalidSignature => Rejection::BadSignature,
                K::ExpiredSignature | K::ImmatureSignature => Rejection::Expired,
                K::InvalidIssuer => Rejection::Issuer,
                K::InvalidAudience => Rejection::Audience,
                K::MissingRequiredClaim(_) | K::Json(_) => Rejection::Claims("missing or bad"),
                _ => Rejection::Malformed,
            }
        })?;
        let exp = data.claims.exp;
        Ok((caller_from(data.claims)?, exp))
    }
}

/// The caller named by verified claims, with the role's bindings enforced.
pub fn caller_from(claims: Claims) -> Result<Caller, Rejection> {
    let role: Role = claims
        .role
        .parse()
        .map_err(|_| Rejection::Claims("unknown role"))?;
    let nonempty = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let body = nonempty(claims.body);
    let source = nonempty(claims.source);
    if claims.sub.trim().is_empty() {
        return Err(Rejection::Claims("empty sub"));
    }
    // An executor without a body, or an integration system without a source, would
    // otherwise be bound to nothing, i.e. to everything.
    if role == Role::Executor && body.is_none() {
        return Err(Rejection::Claims("an executor token must name its body"));
    }
    if role == Role::Integration && source.is_none() {
        return Err(Rejection::Claims(
            "an integration token must name its source",
        ));
    }
    Ok(Caller {
        subject: claims.sub.chars().take(100).collect(),
        role,
        body,
        source,
    })
}

/// Decides one call: the caller, or the status it is refused with. A method missing from
/// the policy is refused to everyone as UNIMPLEMENTED before any token is looked at: a gap
/// in the table fails closed, and made-up paths stay out of the metrics' labels (the
/// metrics layer files UNIMPLEMENTED under `unknown`).
pub fn authorize(
    verifier: &Verifier,
    policies: &[Policy],
    path: &str,
    authorization: Option<&[u8]>,
) -> Result<Caller, Status> {
    let Some(roles) = allowed_roles_in(policies, path) else {
        return Err(Status::unimplemented("no such method"));
    };
    let token = authorization
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| {
            let v = v.trim();
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Status::unauthenticated(Rejection::Missing.to_string()))?;
    let caller = verifier
        .verify(token)
        .map_err(|r| Status::unauthenticated(r.to_string()))?;
    if !roles.contains(&caller.role) {
        return Err(Status::permission_denied(format!(
            "role {} may not call this method",
            caller.role
        )));
    }
    Ok(caller)
}

async fn read_jwks(source: &JwksSource) -> Result<Vec<Key>, AuthError> {
    let err = |reason: String| AuthError::Jwks {
        from: source.name(),
        reason,
    };
    let text = match source {
        JwksSource::Url { url, client } => http_get(client, url).await.map_err(err)?,
        JwksSource::File(path) => tokio::fs::read_to_string(path)
            .await
            .map_err(|e| err(e.to_string()))?,
    };
    parse_jwks(&text).map_err(err)
}

/// The signing keys of a JWKS document; RS256 and ES256 only.
fn parse_jwks(text: &str) -> Result<Vec<Key>, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let alg = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            _ => continue,
        };
        if let Some(declared) = jwk.common.key_algorithm
            && Algorithm::try_from(declared).ok() != Some(alg)
        {
            continue;
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        keys.push(Key {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        });
    }
    if keys.is_empty() {
        return Err("no RS256 or ES256 key in the set".into());
    }
    Ok(keys)
}

/// The largest JWKS document read.
const JWKS_MAX_BYTES: usize = 1024 * 1024;

/// The HTTP client for a JWKS URL: rustls on ring (as tonic), trusting the system's roots
/// plus `ca_file`; 10 s for the whole request, no redirects.
fn jwks_client(ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates are skipped: an https JWKS that needs none of them
    // (an in-house CA) still works, and one that does fails with the certificate error.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(ca) = ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("CA file {}: {e}", ca.display()))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
        if certs.is_empty() {
            return Err(format!("CA file {}: no PEM certificate", ca.display()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| error_chain(&e))
}

/// A GET of at most [`JWKS_MAX_BYTES`]; anything but 200 is refused.
async fn http_get(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let mut response = client
        .get(url)
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("HTTP status {}", status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > JWKS_MAX_BYTES as u64)
    {
        return Err(format!("larger than {JWKS_MAX_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| error_chain(&e))? {
        if body.len() + chunk.len() > JWKS_MAX_BYTES {
            return Err(format!("larger than {JWKS_MAX_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "not UTF-8".into())
}

/// `e` and its causes, `: `-joined: reqwest's own message names only the request, the
/// cause (refused connection, unknown certificate issuer, timeout) is below it.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// Signs tokens: local setups, tests and services' own identities. Never used to verify.
#[derive(Clone)]
pub struct TokenMinter {
    key: EncodingKey,
    alg: Algorithm,
    kid: Option<String>,
    pub issuer: String,
    pub audience: String,
}

impl fmt::Debug for TokenMinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenMinter")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenMinter {
    /// A minter from a PEM private key (PKCS#8 EC P-256 → ES256, or RSA → RS256).
    pub fn from_pem(
        pem: &[u8],
        kid: Option<String>,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AuthError> {
        let (key, alg) = match EncodingKey::from_ec_pem(pem) {
            Ok(k) => (k, Algorithm::ES256),
            Err(_) => (
                EncodingKey::from_rsa_pem(pem).map_err(|e| AuthError::Token(e.to_string()))?,
                Algorithm::RS256,
            ),
        };
        Ok(Self {
            key,
            alg,
            kid: kid.filter(|k| !k.is_empty()),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    pub fn from_file(
        path: &Path,
        kid: Option<String>,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, AuthError> {
        let pem = std::fs::read(path).map_err(|e| AuthError::KeyFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_pem(&pem, kid, issuer, audience)
    }

    /// A token for `subject` as `role`, valid for `ttl`.
    pub fn mint(
        &self,
        subject: &str,
        role: Role,
        body: Option<&str>,
        source: Option<&str>,
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let now = unix_now();
        self.mint_claims(&Claims {
            sub: subject.to_owned(),
            role: role.as_str().to_owned(),
            body: body.map(str::to_owned),
            source: source.map(str::to_owned),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + ttl.as_secs(),
        })
    }

    /// A token with exactly these claims (tests use it for expired or foreign ones).
    pub fn mint_claims(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(self.alg);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, claims, &self.key)
            .map_err(|e| AuthError::Token(e.to_string()))
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// This service's own bearer token for calls to other services.
#[derive(Debug)]
pub struct ServiceIdentity {
    subject: String,
    kind: IdentityKind,
    cached: Mutex<Option<(String, Instant)>>,
}

#[derive(Debug)]
enum IdentityKind {
    File(PathBuf),
    Minter { minter: TokenMinter, ttl: Duration },
}

impl ServiceIdentity {
    /// The identity of service `subject` (`reception`, ...). Exactly one of `token_file`
    /// and `signing_key_file` must be set.
    pub fn new(subject: &str, s: &IdentitySettings) -> Result<Arc<Self>, AuthError> {
        let kind = match (&s.token_file, &s.signing_key_file) {
            (Some(file), None) => IdentityKind::File(file.clone()),
            (None, Some(key)) => {
                if s.issuer.is_empty() || s.audience.is_empty() {
                    return Err(AuthError::Settings(
                        "grpc.identity.issuer and .audience are required with a signing key".into(),
                    ));
                }
                IdentityKind::Minter {
                    minter: TokenMinter::from_file(
                        key,
                        Some(s.key_id.clone()),
                        &s.issuer,
                        &s.audience,
                    )?,
                    ttl: Duration::from_secs(s.ttl_s.max(30)),
                }
            }
            (None, None) => {
                return Err(AuthError::Settings(
                    "grpc.identity needs token_file or signing_key_file to call other services"
                        .into(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(AuthError::Settings(
                    "grpc.identity: set token_file or signing_key_file, not both".into(),
                ));
            }
        };
        let id = Self {
            subject: subject.to_owned(),
            kind,
            cached: Mutex::new(None),
        };
        id.token()?;
        Ok(Arc::new(id))
    }

    /// The current token: cached, renewed at two thirds of its life (a minted token) or
    /// re-read every minute (a rotated file).
    pub fn token(&self) -> Result<String, AuthError> {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, keep) = match &self.kind {
            IdentityKind::File(path) => {
                let t = std::fs::read_to_string(path).map_err(|e| AuthError::KeyFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                (t.trim().to_owned(), Duration::from_secs(60))
            }
            IdentityKind::Minter { minter, ttl } => (
                minter.mint(&self.subject, Role::System, None, None, *ttl)?,
                *ttl * 2 / 3,
            ),
        };
        *cached = Some((token.clone(), Instant::now() + keep));
        Ok(token)
    }

    /// Puts the bearer token on an outgoing request.
    pub fn authorize<T>(
        &self,
        mut request: tonic::Request<T>,
    ) -> Result<tonic::Request<T>, Status> {
        let token = self.token().map_err(|e| {
            tracing::error!(error = %e, "no service token");
            Status::unauthenticated("this service has no token")
        })?;
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("service token is not valid metadata"))?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// A tonic client interceptor carrying a service identity.
#[derive(Debug, Clone)]
pub struct IdentityInterceptor(pub Arc<ServiceIdentity>);

impl tonic::service::Interceptor for IdentityInterceptor {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        self.0.authorize(request)
    }
}

/// Tower layer for `Server::builder().layer(..)`: verifies the bearer token of every call
/// and applies the policy table.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    verifier: Arc<Verifier>,
    policies: Arc<[Policy]>,
}

impl AuthLayer {
    /// `policies`: the service's table and the platform's own (the audit log's).
    pub fn new(verifier: Arc<Verifier>, policies: Arc<[Policy]>) -> Self {
        Self { verifier, policies }
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = Auth<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            verifier: self.verifier.clone(),
            policies: self.policies.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    verifier: Arc<Verifier>,
    policies: Arc<[Policy]>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Auth<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let path = request.uri().path().to_owned();
        if is_public(&path) {
            return Box::pin(self.inner.call(request));
        }
        let decided = authorize(
            &self.verifier,
            &self.policies,
            &path,
            request
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(|v| v.as_bytes()),
        );
        match decided {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                Box::pin(self.inner.call(request))
            }
            Err(status) => {
                if status.code() == Code::Unauthenticated {
                    tracing::info!(method = %path, reason = status.message(), "call refused: unauthenticated");
                } else if status.code() == Code::PermissionDenied {
                    tracing::info!(method = %path, reason = status.message(), "call refused: permission denied");
                }
                Box::pin(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../../tests/keys/test-signing-key.pem");
    const OTHER: &str = include_str!("../../../tests/keys/other-signing-key.pem");
    const JWKS: &str = include_str!("../../../tests/keys/test-jwks.json");

    fn verifier() -> Verifier {
        Verifier {
            settings: AuthSettings {
                jwks: "inline".into(),
                issuer: "test-idp".into(),
                ..Default::default()
            },
            source: JwksSource::File("inline".into()),
            keys: RwLock::new(Arc::new(parse_jwks(JWKS).unwrap())),
            verified: Mutex::new(VerifiedTokens::default()),
        }
    }

    #[test]
    fn a_remembered_token_is_still_refused_once_expired_or_its_key_is_gone() {
        let v = verifier();
        let t = minter(KEY)
            .mint("u-1", Role::Auditor, None, None, Duration::from_secs(60))
            .unwrap();
        assert_eq!(v.verify(&t).unwrap().subject, "u-1");
        assert_eq!(v.verified.lock().unwrap().by_digest.len(), 1);
        assert_eq!(v.verify(&t).unwrap().subject, "u-1");
        // The provider dropped the key: the remembered token goes with it.
        v.replace_keys(Vec::new());
        assert_eq!(v.verify(&t), Err(Rejection::UnknownKey));

        let mut remembered = VerifiedTokens::default();
        let now = unix_now();
        remembered.insert([1; 32], auditor(), now - 100, now - 200, 60);
        assert_eq!(remembered.get(&[1; 32], now, 60), Err(Rejection::Expired));
        assert_eq!(remembered.get(&[2; 32], now, 60), Ok(None));
    }

    fn auditor() -> Caller {
        Caller {
            subject: "u".into(),
            role: Role::Auditor,
            body: None,
            source: None,
        }
    }

    #[test]
    fn remembered_tokens_are_bounded() {
        let caller = auditor();
        let now = unix_now();
        let mut remembered = VerifiedTokens::default();
        for i in 0..VERIFIED_TOKENS_MAX as u32 + 10 {
            let mut digest = [0u8; 32];
            digest[..4].copy_from_slice(&i.to_le_bytes());
            remembered.insert(digest, caller.clone(), now + 60, now, 0);
            assert!(remembered.by_digest.len() <= VERIFIED_TOKENS_MAX);
        }
    }

    fn minter(pem: &str) -> TokenMinter {
        TokenMinter::from_pem(
            pem.as_bytes(),
            Some("bakylau-test-1".into()),
            "test-idp",
            "bakylau",
        )
        .unwrap()
    }

    const POLICY: Policy = &[MethodPolicy {
        path: "/x.S/Read",
        roles: &[Role::Auditor, Role::Executor],
        audit: crate::audit::Audit::Read,
    }];

    fn bearer(t: &str) -> Vec<u8> {
        format!("Bearer {t}").into_bytes()
    }

    #[test]
    fn a_genuine_token_names_the_caller() {
        let t = minter(KEY)
            .mint(
                "u-1",
                Role::Executor,
                Some("ALM-EDU"),
                None,
                Duration::from_secs(60),
            )
            .unwrap();
        let c = authorize(&verifier(), &[POLICY], "/x.S/Read", Some(&bearer(&t))).unwrap();
        assert_eq!(c.role, Role::Executor);
        assert_eq!(c.body.as_deref(), Some("ALM-EDU"));
        assert!(c.may_access_body("ALM-EDU"));
        assert!(!c.may_access_body("ALM-HEALTH"));
    }

    #[test]
    fn missing_foreign_expired_or_misaddressed_tokens_are_unauthenticated() {
        let v = verifier();
        let code = |h: Option<&[u8]>| authorize(&v, &[POLICY], "/x.S/Read", h).unwrap_err().code();
        assert_eq!(code(None), Code::Unauthenticated);
        assert_eq!(code(Some(b"Basic abc")), Code::Unauthenticated);
        assert_eq!(code(Some(b"Bearer not-a-jwt")), Code::Unauthenticated);
        let foreign = minter(OTHER)
            .mint("u", Role::Auditor, None, None, Duration::from_secs(60))
            .unwrap();
        assert_eq!(v.verify(&foreign), Err(Rejection::BadSignature));
        let m = minter(KEY);
        let mut claims = Claims {
            sub: "u".into(),
            role: "auditor".into(),
            body: None,
            source: None,
            iss: "test-idp".into(),
            aud: "bakylau".into(),
            iat: unix_now() - 600,
            exp: unix_now() - 300,
        };
        assert_eq!(
            v.verify(&m.mint_claims(&claims).unwrap()),
            Err(Rejection::Expired)
        );
        claims.exp = unix_now() + 60;
        claims.aud = "someone-else".into();
        assert_eq!(
            v.verify(&m.mint_claims(&claims).unwrap()),
            Err(Rejection::Audience)
        );
        claims.aud = "bakylau".into();
        claims.iss = "another-idp".into();
        assert_eq!(
            v.verify(&m.mint_claims(&claims).unwrap()),
            Err(Rejection::Issuer)
        );
        claims.iss = "test-idp".into();
        assert!(v.verify(&m.mint_claims(&claims).unwrap()).is_ok());
    }

    #[test]
    fn roles_outside_the_table_and_unknown_methods_are_denied() {
        let t = minter(KEY)
            .mint("u", Role::Analyst, None, None, Duration::from_secs(60))
            .unwrap();
        let v = verifier();
        let e = authorize(&v, &[POLICY], "/x.S/Read", Some(&bearer(&t))).unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        let t = minter(KEY)
            .mint("u", Role::Auditor, None, None, Duration::from_secs(60))
            .unwrap();
        let e = authorize(&v, &[POLICY], "/x.S/Write", Some(&bearer(&t))).unwrap_err();
        assert_eq!(e.code(), Code::Unimplemented);
        assert_eq!(
            authorize(&v, &[POLICY], "/x.S/Write", None)
                .unwrap_err()
                .code(),
            Code::Unimplemented
        );
    }

    #[test]
    fn executors_and_integrations_must_be_bound() {
        let m = minter(KEY);
        let v = verifier();
        let t = m
            .mint("u", Role::Executor, None, None, Duration::from_secs(60))
            .unwrap();
        assert!(matches!(v.verify(&t), Err(Rejection::Claims(_))));
        let t = m
            .mint(
                "eo",
                Role::Integration,
                None,
                Some(""),
                Duration::from_secs(60),
            )
            .unwrap();
        assert!(matches!(v.verify(&t), Err(Rejection::Claims(_))));
        let t = m
            .mint(
                "eo",
                Role::Integration,
                None,
                Some("urn:kz:eotinish"),
                Duration::from_secs(60),
            )
            .unwrap();
        assert_eq!(
            v.verify(&t).unwrap().source.as_deref(),
            Some("urn:kz:eotinish")
        );
    }

    #[tokio::test]
    async fn settings_without_a_jwks_or_issuer_do_not_start() {
        assert!(Verifier::load(&AuthSettings::default()).await.is_err());
        let s = AuthSettings {
            jwks: "/nonexistent/jwks.json".into(),
            issuer: "x".into(),
            ..Default::default()
        };
        let e = Verifier::load(&s).await.unwrap_err().to_string();
        assert!(e.contains("/nonexistent/jwks.json"), "{e}");
    }

    #[test]
    fn health_and_reflection_are_public_nothing_else() {
        assert!(is_public("/grpc.health.v1.Health/Check"));
        assert!(is_public(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(!is_public("/bakylau.intake.v1.IntakeService/GetAppeal"));
    }
}
