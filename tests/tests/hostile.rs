//! Hostile clients at the socket (issue 9): every RPC of every service, over real gRPC,
//! gets well-framed but generated requests — each message built field by field from the
//! services' own protobuf descriptors, with hostile values (NUL and control characters,
//! very long strings, unknown enum numbers, out-of-range timestamps, NaN, deep nesting,
//! random callers and roles). No call may end in INTERNAL or UNKNOWN, every call ends
//! within its deadline, and every service is still SERVING afterwards.
//!
//! Requests per RPC: `BAKYLAU_FUZZ_RPC_CASES` (default 40; `deploy/local/fuzz.sh` runs
//! more). `BAKYLAU_FUZZ_SEED` repeats a run; the seed is printed.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Stack;
use prost::Message as _;
use prost::bytes::{Buf as _, BufMut as _};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

// ---- a raw codec: the request is already protobuf bytes ---------------------------------

#[derive(Default, Clone)]
struct Raw;

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

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}

// ---- a small deterministic generator ----------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "",
    " ",
    "ALM-2026-000001",
    "ALM-2026-000001\u{0}",
    "019ab3c4-0000-7000-8000-000000000000",
    "00000000-0000-0000-0000-000000000000",
    "akimat.talgar",
    "housing",
    "talgar",
    "controller",
    "registrar",
    "executor",
    "head",
    "admin",
    "900101300017",
    "+77015550000",
    "a@b.kz",
    "2026-13-45",
    "2026-03-20T09:15:00+05:00",
    "Прошу отремонтировать дорогу",
    "Жол жөндеу",
    "\u{202e}evil\u{202d}",
    "\u{0}",
    "\u{1}\u{7f}\u{1b}[31m",
    "😀",
    "%s%s%n",
    "'; DROP TABLE appeals; --",
    "../../etc/passwd",
    "-1",
    "9999999999999999999999",
    "NaN",
];

fn string(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=4 => (*rng.pick(WORDS)).to_owned(),
        5 => {
            let n = rng.below(40) as usize;
            (0..n)
                .map(|_| char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('?'))
                .collect()
        }
        6 => "ж".repeat(1 + rng.below(20_000) as usize),
        7 => format!("{}-{}", rng.pick(WORDS), rng.below(1000)),
        _ => {
            let n = rng.below(16) as usize;
            (0..n)
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect()
        }
    }
}

fn varint(rng: &mut Rng) -> u64 {
    match rng.below(8) {
        0 => 0,
        1 => 1 + rng.below(8),
        2 => u64::MAX,            // -1 as int32/int64
        3 => i64::MIN as u64,     // the most negative int64
        4 => u64::from(u32::MAX), // 4294967295
        5 => i32::MAX as u64,
        6 => rng.below(1_000_000),
        _ => rng.next(),
    }
}

fn double(rng: &mut Rng) -> f64 {
    *rng.pick(&[
        0.0,
        -0.0,
        43.25,
        76.95,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN_POSITIVE,
        -1e300,
    ])
}

struct Schema {
    messages: BTreeMap<String, DescriptorProto>,
}

impl Schema {
    fn load() -> Schema {
        let set = FileDescriptorSet::decode(bakylau_proto::FILE_DESCRIPTOR_SET)
            .expect("the services' descriptors");
        let mut messages = BTreeMap::new();
        fn walk(prefix: &str, m: &DescriptorProto, out: &mut BTreeMap<String, DescriptorProto>) {
            let name = format!("{prefix}.{}", m.name());
            for nested in &m.nested_type {
                walk(&name, nested, out);
            }
            out.insert(name, m.clone());
        }
        for f in &set.file {
            for m in &f.message_type {
                walk(&format!(".{}", f.package()), m, &mut messages);
            }
        }
        Schema { messages }
    }

    /// `(method, full input type)` of each RPC of `service` (e.g. `bakylau.intake.v1.IntakeService`).
    fn methods(service: &str) -> Vec<(String, String)> {
        let set = FileDescriptorSet::decode(bakylau_proto::FILE_DESCRIPTOR_SET).unwrap();
        for f in &set.file {
            for s in &f.service {
                if format!("{}.{}", f.package(), s.name()) == service {
                    return s
                        .method
                        .iter()
                        .map(|m| (m.name().to_owned(), m.input_type().to_owned()))
                        .collect();
                }
            }
        }
        panic!("no service {service} in the descriptors");
    }

    /// A well-formed encoding of `type_name` with hostile values in its fields.
    fn message(&self, type_name: &str, rng: &mut Rng, depth: u32) -> Vec<u8> {
        let Some(m) = self.messages.get(type_name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for field in &m.field {
            // Most fields set, some left out; deeper messages sparser.
            if !rng.chance(if depth == 0 { 80 } else { 55 }) {
                continue;
            }
            let times = if field.label() == Label::Repeated {
                rng.below(4)
            } else {
                1
            };
            for _ in 0..times {
                self.field(field, rng, depth, &mut out);
            }
        }
        out
    }

    fn field(
        &self,
        f: &prost_types::FieldDescriptorProto,
        rng: &mut Rng,
        depth: u32,
        out: &mut Vec<u8>,
    ) {
        use prost::encoding::{WireType, encode_key, encode_varint};
        let tag = f.number() as u32;
        match f.r#type() {
            Type::String => {
                encode_key(tag, WireType::LengthDelimited, out);
                let s = string(rng);
                encode_varint(s.len() as u64, out);
                out.extend_from_slice(s.as_bytes());
            }
            Type::Bytes => {
                encode_key(tag, WireType::LengthDelimited, out);
                let n = rng.below(64) as usize;
                encode_varint(n as u64, out);
                out.extend((0..n).map(|_| rng.next() as u8));
            }
            Type::Message | Type::Group => {
                if depth > 5 {
                    return;
                }
                let body = self.message(f.type_name(), rng, depth + 1);
                encode_key(tag, WireType::LengthDelimited, out);
                encode_varint(body.len() as u64, out);
                out.extend_from_slice(&body);
            }
            Type::Enum => {
                encode_key(tag, WireType::Varint, out);
                // Known numbers mostly, unknown ones too.
                let v = if rng.chance(70) {
                    rng.below(8)
                } else {
                    varint(rng)
                };
                encode_varint(v, out);
            }
            Type::Bool => {
                encode_key(tag, WireType::Varint, out);
                encode_varint(rng.below(2), out);
            }
            Type::Int32 | Type::Int64 | Type::Uint32 | Type::Uint64 => {
                encode_key(tag, WireType::Varint, out);
                let mut v = varint(rng);
                if matches!(f.r#type(), Type::Uint32) {
                    v &= u64::from(u32::MAX);
                }
                encode_varint(v, out);
            }
            Type::Sint32 | Type::Sint64 => {
                encode_key(tag, WireType::Varint, out);
                encode_varint(varint(rng), out);
            }
            Type::Double => {
                encode_key(tag, WireType::SixtyFourBit, out);
                out.put_f64_le(double(rng));
            }
            Type::Float => {
                encode_key(tag, WireType::ThirtyTwoBit, out);
                out.put_f32_le(double(rng) as f32);
            }
            Type::Fixed64 | Type::Sfixed64 => {
                encode_key(tag, WireType::SixtyFourBit, out);
                out.put_u64_le(varint(rng));
            }
            Type::Fixed32 | Type::Sfixed32 => {
                encode_key(tag, WireType::ThirtyTwoBit, out);
                out.put_u32_le(varint(rng) as u32);
            }
        }
    }
}

fn rpc_cases() -> u64 {
    std::env::var("BAKYLAU_FUZZ_RPC_CASES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(40)
}

fn seed() -> u64 {
    std::env::var("BAKYLAU_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

async fn channel(addr: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(addr.to_owned())
        .unwrap()
        .connect()
        .await
        .expect("connect")
}

/// Bearer tokens to send: one per role (executors of two bodies), a token signed by a key
/// the services do not trust, and garbage.
fn tokens() -> Vec<String> {
    use bakylau_platform::auth::{ALL_ROLES, Role};
    use bakylau_testkit::auth::mint;
    let mut t: Vec<String> = ALL_ROLES.iter().map(|r| mint(*r, None, None)).collect();
    t.push(mint(Role::Executor, Some("akimat.karasay"), None));
    t.push(mint(Role::Integration, None, Some("urn:kz:other")));
    let foreign = bakylau_platform::auth::TokenMinter::from_file(
        &bakylau_testkit::auth::foreign_key_path(),
        Some(bakylau_testkit::auth::KEY_ID.into()),
        bakylau_testkit::auth::ISSUER,
        bakylau_testkit::auth::AUDIENCE,
    )
    .expect("the foreign test key")
    .mint(
        "test.intruder",
        Role::Controller,
        None,
        None,
        Duration::from_secs(600),
    )
    .expect("a foreign token");
    t.push(foreign);
    t.push("not-a-jwt".into());
    t.push("e30.e30.".into());
    t
}

fn request(body: Vec<u8>, rng: &mut Rng, tokens: &[String]) -> tonic::Request<Vec<u8>> {
    let mut r = tonic::Request::new(body);
    // A deadline on every call: a hang is a failure, not a stuck test.
    r.set_timeout(Duration::from_secs(20));
    if rng.chance(90) {
        let token = rng.pick(tokens);
        r.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ASCII"),
        );
    }
    r
}

async fn call(
    ch: Channel,
    path: &str,
    req: tonic::Request<Vec<u8>>,
) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = http::uri::PathAndQuery::try_from(path.to_owned()).unwrap();
    grpc.unary(req, path, Raw).await.map(|r| r.into_inner())
}

/// One line per RPC: how its calls ended. Fails on INTERNAL or UNKNOWN, naming the first
/// request that got it (hex) so it can be replayed.
async fn fuzz_service(service: &str, addr: &str, rng: &mut Rng) -> Vec<String> {
    let schema = Schema::load();
    let tokens = tokens();
    let ch = channel(addr).await;
    let mut failures = Vec::new();
    for (method, input) in Schema::methods(service) {
        let path = format!("/{service}/{method}");
        let mut codes: BTreeMap<String, u64> = BTreeMap::new();
        for _ in 0..rpc_cases() {
            let body = schema.message(&input, rng, 0);
            let req = request(body.clone(), rng, &tokens);
            let started = std::time::Instant::now();
            let outcome = call(ch.clone(), &path, req).await;
            let code = match &outcome {
                Ok(_) => Code::Ok,
                Err(s) => s.code(),
            };
            *codes.entry(format!("{code:?}")).or_default() += 1;
            if matches!(code, Code::Internal | Code::Unknown)
                || started.elapsed() > Duration::from_secs(21)
            {
                let message = outcome
                    .err()
                    .map(|s| s.message().to_owned())
                    .unwrap_or_default();
                if failures.len() < 20 {
                    failures.push(format!(
                        "{path}: {code:?} {message:?} after {:?} for request {}",
                        started.elapsed(),
                        hex::encode(&body[..body.len().min(2048)])
                    ));
                }
            }
        }
        println!("FUZZRPC {path} {codes:?}");
    }
    failures
}

async fn health(addr: &str) -> bool {
    common::serving_within(addr, Duration::from_secs(10)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rpc_survives_generated_hostile_requests() {
    let stack = Stack::start().await;
    let seed = seed();
    println!("BAKYLAU_FUZZ_SEED={seed}");
    let mut rng = Rng(seed);
    let services = [
        (bakylau_proto::service_names::INTAKE, stack.intake.clone()),
        (bakylau_proto::service_names::ROUTING, stack.routing.clone()),
        (bakylau_proto::service_names::CONTROL, stack.control.clone()),
        (
            bakylau_proto::service_names::RECEPTION,
            stack.reception.clone(),
        ),
        (
            bakylau_proto::service_names::REPORTING,
            stack.reporting.clone(),
        ),
        // Served by every service through the shared router; intake's stands for all.
        (
            bakylau_proto::service_names::AUDIT_LOG,
            stack.intake.clone(),
        ),
    ];
    let mut failures = Vec::new();
    for (service, addr) in &services {
        failures.extend(fuzz_service(service, addr, &mut rng).await);
        assert!(
            health(addr).await,
            "{service} is not SERVING after the fuzz"
        );
    }
    stack.stop().await;
    assert!(
        failures.is_empty(),
        "seed {seed}: {} call(s) ended badly:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_and_undecodable_requests_are_refused_naming_why() {
    let stack = Stack::start().await;
    let limit = bakylau_platform::config::GrpcSettings::default().max_message_bytes;
    let ch = channel(&stack.intake).await;
    let path = "/bakylau.intake.v1.IntakeService/RegisterAppeal";

    // One byte over the configured limit: a text field of that size.
    let mut big = Vec::new();
    prost::encoding::encode_key(16, prost::encoding::WireType::LengthDelimited, &mut big);
    prost::encoding::encode_varint(limit as u64, &mut big);
    big.resize(big.len() + limit, b'a');
    let mut rng = Rng(7);
    let tokens = [bakylau_testkit::auth::mint(
        bakylau_platform::auth::Role::Registrar,
        None,
        None,
    )];
    let request = |body: Vec<u8>, rng: &mut Rng| {
        let mut r = request(body, rng, &tokens);
        r.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", tokens[0]).parse().unwrap(),
        );
        r
    };
    let s = call(ch.clone(), path, request(big, &mut rng))
        .await
        .expect_err("an oversized request is refused");
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    assert!(
        s.message().contains(&limit.to_string()),
        "names the limit: {s:?}"
    );

    // Bytes that are not a protobuf message at all: refused as bad input, not INTERNAL.
    for garbage in [
        vec![0xff; 16],
        vec![0x0a, 0x80],
        b"{\"json\":true}".to_vec(),
    ] {
        let s = call(ch.clone(), path, request(garbage.clone(), &mut rng))
            .await
            .expect_err("garbage is refused");
        assert_eq!(s.code(), Code::InvalidArgument, "{garbage:?}: {s:?}");
        assert!(s.message().contains("decode"), "{s:?}");
    }

    // A string that is not UTF-8 in a string field.
    let mut bad_utf8 = Vec::new();
    prost::encoding::encode_key(
        16,
        prost::encoding::WireType::LengthDelimited,
        &mut bad_utf8,
    );
    prost::encoding::encode_varint(2, &mut bad_utf8);
    bad_utf8.extend_from_slice(&[0xc3, 0x28]);
    let s = call(ch.clone(), path, request(bad_utf8, &mut rng))
        .await
        .expect_err("invalid UTF-8 is refused");
    assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");

    assert!(health(&stack.intake).await);
    stack.stop().await;
}
