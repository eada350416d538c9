//! Issue 10: every RPC of every service × every role, over real gRPC against the five real
//! services. The methods come from `bakylau_proto::FILE_DESCRIPTOR_SET`, so an RPC added
//! without a policy entry fails here. Allowed roles are never refused with
//! PERMISSION_DENIED or UNAUTHENTICATED by the auth layer; other roles get
//! PERMISSION_DENIED; no token, a foreign signature, an expired token and a wrong audience
//! get UNAUTHENTICATED on every method.

mod common;

use std::time::Duration;

use bakylau_platform::auth::{ALL_ROLES, Claims, Policy, Role, TokenMinter, unix_now};
use bakylau_proto::intake::v1 as intake;
use bakylau_testkit::auth::{self as auth, bearer, mint};
use futures::StreamExt as _;
use prost::Message as _;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// Sends and receives raw protobuf bytes, so one client calls any method.
#[derive(Debug, Clone, Default)]
struct Raw;

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut as _;
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf as _;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

/// The status of calling `path` with `body` and `authorization` (OK as `Code::Ok`).
async fn call(
    channel: Channel,
    path: &str,
    body: Vec<u8>,
    authorization: Option<String>,
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("channel ready");
    let mut request = tonic::Request::new(body);
    request.set_timeout(Duration::from_secs(30));
    if let Some(token) = authorization {
        request
            .metadata_mut()
            .insert("authorization", bearer(&token));
    }
    let path = http::uri::PathAndQuery::try_from(path.to_owned()).expect("a path");
    match grpc.unary(request, path, Raw).await {
        Ok(_) => tonic::Status::ok(""),
        Err(s) => s,
    }
}

/// Every gRPC method path of every Bakylau service, by service full name.
fn methods() -> Vec<(String, String)> {
    let set = prost_types::FileDescriptorSet::decode(bakylau_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set");
    let mut out = Vec::new();
    for file in set.file {
        let package = file.package().to_owned();
        for service in &file.service {
            let full = format!("{package}.{}", service.name());
            for m in &service.method {
                out.push((full.clone(), format!("/{full}/{}", m.name())));
            }
        }
    }
    out
}

/// The five services' policy tables.
const SERVICE_POLICIES: [Policy; 5] = [
    bakylau_intake::policy::POLICY,
    bakylau_routing::policy::POLICY,
    bakylau_control::policy::POLICY,
    bakylau_reception::policy::POLICY,
    bakylau_reporting::policy::POLICY,
];

fn policy_of(service: &str) -> Option<Policy> {
    use bakylau_proto::service_names as n;
    Some(match service {
        s if s == n::INTAKE => bakylau_intake::policy::POLICY,
        s if s == n::ROUTING => bakylau_routing::policy::POLICY,
        s if s == n::CONTROL || s == "bakylau.control.v1.InstructionService" => {
            bakylau_control::policy::POLICY
        }
        s if s == n::RECEPTION => bakylau_reception::policy::POLICY,
        s if s == n::REPORTING => bakylau_reporting::policy::POLICY,
        _ => return None,
    })
}

/// The request body a role sends: empty (every field default), except an integration
/// system's registration, which names its own source as its scope requires.
fn body_for(path: &str, role: Role) -> Vec<u8> {
    if role == Role::Integration && path.ends_with("/RegisterAppeal") {
        return intake::RegisterAppealRequest {
            channel: intake::Channel::External as i32,
            source: auth::TEST_SOURCE.into(),
            ..Default::default()
        }
        .encode_to_vec();
    }
    Vec::new()
}

fn refused_by_auth(s: &tonic::Status) -> bool {
    s.code() == Code::Unauthenticated
        || (s.code() == Code::PermissionDenied && s.message().contains("may not call this method"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_by_every_role_is_allowed_or_refused_as_the_policy_says() {
    let stack = common::Stack::start().await;
    let addr_of = |service: &str| -> &str {
        match service.split('.').nth(1) {
            Some("intake") => &stack.intake,
            Some("routing") => &stack.routing,
            Some("control") => &stack.control,
            Some("reception") => &stack.reception,
            Some("reporting") => &stack.reporting,
            other => panic!("no service for {other:?}"),
        }
    };
    let mut channels = std::collections::HashMap::new();
    for a in stack.addrs() {
        channels.insert(a.to_owned(), common::channel(a).await);
    }

    let expired = auth::minter()
        .mint_claims(&Claims {
            sub: "late".into(),
            role: "head".into(),
            body: None,
            source: None,
            iss: auth::ISSUER.into(),
            aud: auth::AUDIENCE.into(),
            iat: unix_now() - 7200,
            exp: unix_now() - 3600,
        })
        .unwrap();
    let elsewhere = TokenMinter::from_file(
        &auth::signing_key_path(),
        Some(auth::KEY_ID.into()),
        auth::ISSUER,
        "another-system",
    )
    .unwrap()
    .mint("head", Role::Head, None, None, Duration::from_secs(600))
    .unwrap();
    let foreign = TokenMinter::from_file(
        &auth::foreign_key_path(),
        Some(auth::KEY_ID.into()),
        auth::ISSUER,
        auth::AUDIENCE,
    )
    .unwrap()
    .mint("head", Role::Head, None, None, Duration::from_secs(600))
    .unwrap();
    let tokens: Vec<(Role, String)> = ALL_ROLES
        .iter()
        .map(|r| (*r, mint(*r, None, None)))
        .collect();

    // Every call to make: (path, label, token, what must hold).
    #[derive(Clone, Copy, Debug)]
    enum Expect {
        NotRefused,
        Denied,
        Unauthenticated,
    }
    let mut calls = Vec::new();
    let mut missing_policy = Vec::new();
    let mut counted = 0usize;
    for (service, path) in methods() {
        if service.starts_with("bakylau.events.") {
            continue;
        }
        // The audit log is served by all five, each over its own log.
        let served: Vec<(String, Policy)> = if service == bakylau_proto::service_names::AUDIT_LOG {
            stack
                .addrs()
                .iter()
                .map(|a| (a.to_string(), bakylau_platform::audit::POLICY))
                .collect()
        } else if let Some(policy) = policy_of(&service) {
            vec![(addr_of(&service).to_owned(), policy)]
        } else {
            missing_policy.push(path);
            continue;
        };
        counted += 1;
        for (addr, policy) in served {
            let Some(allowed) = bakylau_platform::auth::allowed_roles(policy, &path) else {
                missing_policy.push(path.clone());
                continue;
            };
            for (role, token) in &tokens {
                let expect = if allowed.contains(role) {
                    Expect::NotRefused
                } else {
                    Expect::Denied
                };
                calls.push((
                    addr.clone(),
                    path.clone(),
                    role.to_string(),
                    Some(token.clone()),
                    body_for(&path, *role),
                    expect,
                ));
            }
            for (label, token) in [
                ("no token", None),
                ("expired", Some(expired.clone())),
                ("wrong audience", Some(elsewhere.clone())),
                ("foreign signature", Some(foreign.clone())),
                ("not a JWT", Some("abc.def.ghi".to_owned())),
            ] {
                calls.push((
                    addr.clone(),
                    path.clone(),
                    label.to_owned(),
                    token,
                    Vec::new(),
                    Expect::Unauthenticated,
                ));
            }
        }
    }
    assert!(
        missing_policy.is_empty(),
        "RPCs without a policy: {missing_policy:?}"
    );
    assert!(counted >= 87, "only {counted} RPCs found");

    // Every policy entry names a real RPC (no stale or misspelt paths).
    let real: std::collections::HashSet<String> = methods().into_iter().map(|(_, p)| p).collect();
    for policy in SERVICE_POLICIES
        .into_iter()
        .chain([bakylau_platform::audit::POLICY])
    {
        for p in policy {
            assert!(real.contains(p.path), "policy names no RPC: {}", p.path);
        }
    }

    let total = calls.len();
    let failures: Vec<String> = futures::stream::iter(calls)
        .map(|(addr, path, who, token, body, expect)| {
            let channel = channels[&addr].clone();
            async move {
                let status = call(channel, &path, body, token).await;
                let ok = match expect {
                    Expect::NotRefused => !refused_by_auth(&status),
                    Expect::Denied => status.code() == Code::PermissionDenied,
                    Expect::Unauthenticated => status.code() == Code::Unauthenticated,
                };
                (!ok).then(|| {
                    format!(
                        "{path} as {who}: expected {expect:?}, got {:?} {}",
                        status.code(),
                        status.message()
                    )
                })
            }
        })
        .buffer_unordered(16)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} of {total} calls wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    stack.stop().await;
}

/// An integration system registers only as its own source; a registrar's token cannot be
/// replaced by headers naming another role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integration_system_cannot_publish_as_another_source() {
    let stack = common::Stack::start().await;
    let channel = common::channel(&stack.intake).await;
    let path = "/bakylau.intake.v1.IntakeService/RegisterAppeal";
    let eotinish = mint(Role::Integration, None, Some("urn:kz:eotinish"));
    let as_source = |source: &str, channel_kind: intake::Channel| {
        intake::RegisterAppealRequest {
            channel: channel_kind as i32,
            source: source.into(),
            external_id: "EO-1".into(),
            ..Default::default()
        }
        .encode_to_vec()
    };
    let s = call(
        channel.clone(),
        path,
        as_source("urn:kz:prosecutor", intake::Channel::External),
        Some(eotinish.clone()),
    )
    .await;
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
    let s = call(
        channel.clone(),
        path,
        as_source("urn:kz:eotinish", intake::Channel::Electronic),
        Some(eotinish.clone()),
    )
    .await;
    assert_eq!(s.code(), Code::PermissionDenied, "{s:?}");
    // As itself it gets past authorization (the empty appeal then fails pre-review).
    let s = call(
        channel.clone(),
        path,
        as_source("urn:kz:eotinish", intake::Channel::External),
        Some(eotinish),
    )
    .await;
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");

    // The old identity headers are not an identity: without a token they are refused.
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(Vec::new());
    request
        .metadata_mut()
        .insert("x-bakylau-user", "someone".parse().unwrap());
    request
        .metadata_mut()
        .insert("x-bakylau-role", "head".parse().unwrap());
    let s = grpc
        .unary(
            request,
            http::uri::PathAndQuery::from_static("/bakylau.intake.v1.IntakeService/ListAppeals"),
            Raw,
        )
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::Unauthenticated);
    stack.stop().await;
}

/// Issue 10: every method that changes something goes to the audit log as a change, and
/// none that only looks something up is filed as one.
#[test]
fn every_change_is_audited_as_a_change() {
    use bakylau_platform::audit::Audit;
    const CHANGING: &[&str] = &[
        "Add",
        "Remove",
        "Set",
        "Save",
        "Upsert",
        "Record",
        "Submit",
        "Create",
        "Update",
        "Register",
        "Book",
        "Cancel",
        "Reschedule",
        "Join",
        "CheckIn",
        "Mark",
        "Extend",
        "Propose",
        "Complete",
        "Plan",
        "Report",
        "Review",
        "Sign",
        "Rebuild",
        "Reroute",
        "Run",
    ];
    let mut changes = 0;
    for policy in SERVICE_POLICIES {
        for p in policy {
            let method = p.path.rsplit('/').next().unwrap();
            if CHANGING.iter().any(|verb| method.starts_with(verb)) {
                assert_eq!(p.audit, Audit::Change, "{}", p.path);
                changes += 1;
            } else if method.starts_with("Get") || method.starts_with("List") {
                assert_ne!(p.audit, Audit::Change, "{}", p.path);
            }
        }
    }
    assert!(changes >= 44, "only {changes} changing methods found");
}
