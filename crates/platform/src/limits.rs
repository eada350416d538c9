//! Limits against abusive callers and broken input (issue 9): a per-caller token bucket in
//! front of chosen gRPC methods, and the codes of requests that do not decode. A caller over its rate gets `RESOURCE_EXHAUSTED` with a retry hint (in the
//! message and as `google.rpc.RetryInfo`) before the call reaches the service.
//!
//! The limiter keeps at most `max_callers` buckets, so a flood of distinct callers costs
//! bounded memory: when full, buckets that have refilled (idle callers) are dropped first,
//! and if none has, the new caller shares one overflow bucket.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tonic::codegen::{BoxFuture, Service, http};

/// `per_second` calls on average with bursts of `burst`; `per_second = 0` turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    pub per_second: f64,
    pub burst: u32,
    /// Distinct callers tracked at most (bounded memory).
    pub max_callers: usize,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            per_second: 0.0,
            burst: 1,
            max_callers: 100_000,
        }
    }
}

/// One caller's token bucket. Pure: time comes in as an argument.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Self {
            tokens: burst,
            at: now,
        }
    }

    fn refill(&mut self, per_second: f64, burst: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_second).min(burst);
        self.at = now;
    }

    /// Takes one token, or says how long until one is there.
    fn take(&mut self, per_second: f64, burst: f64, now: Instant) -> Result<(), Duration> {
        self.refill(per_second, burst, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / per_second))
        }
    }
}

const OVERFLOW: &str = "\u{0}overflow";

/// Token buckets keyed by caller.
#[derive(Debug)]
pub struct KeyedLimiter {
    settings: RateLimitSettings,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl KeyedLimiter {
    pub fn new(settings: RateLimitSettings) -> Self {
        Self {
            settings,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.settings.per_second > 0.0
    }

    /// `Ok` lets the call through; `Err` is how long the caller should wait.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if !self.enabled() {
            return Ok(());
        }
        let (rate, burst) = (
            self.settings.per_second,
            f64::from(self.settings.burst.max(1)),
        );
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let key = if buckets.contains_key(key) || buckets.len() < self.settings.max_callers {
            key
        } else {
            // Full: forget callers whose bucket has refilled (they lose nothing by it).
            buckets.retain(|_, b| {
                b.refill(rate, burst, now);
                b.tokens < burst
            });
            if buckets.len() < self.settings.max_callers {
                key
            } else {
                OVERFLOW
            }
        };
        buckets
            .entry(key.to_owned())
            .or_insert_with(|| Bucket::full(burst, now))
            .take(rate, burst, now)
    }

    pub fn tracked_callers(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or_default()
    }
}

/// Who is calling, for the limiter: the verified caller the auth layer put into the
/// request (its token's subject), else the peer's IP address (not the port: one client,
/// many connections). Unverified metadata is never a key: a client could pick a fresh name
/// per call and escape the limit.
pub fn caller_key<B>(request: &http::Request<B>) -> String {
    if let Some(caller) = request.extensions().get::<crate::auth::Caller>() {
        return format!(
            "sub:{}",
            caller.subject.chars().take(128).collect::<String>()
        );
    }
    match request
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|i| i.remote_addr())
    {
        Some(SocketAddr::V4(a)) => format!("ip:{}", a.ip()),
        Some(SocketAddr::V6(a)) => format!("ip:{}", a.ip()),
        None => "unknown".into(),
    }
}

/// `RESOURCE_EXHAUSTED` naming the limit, with `google.rpc.RetryInfo`.
pub fn rate_limited_status(
    method: &str,
    settings: &RateLimitSettings,
    wait: Duration,
) -> tonic::Status {
    use tonic_types::StatusExt as _;
    let wait_ms = wait.as_millis().max(1);
    tonic::Status::with_error_details(
        tonic::Code::ResourceExhausted,
        format!(
            "rate limit: at most {} {method} calls per second per caller (bursts of {}); retry after {wait_ms} ms",
            settings.per_second, settings.burst
        ),
        tonic_types::ErrorDetails::with_retry_info(Some(wait)),
    )
}

/// Tower layer for `Server::builder().layer(..)`, inside the auth layer (the rate limit is
/// keyed by the verified caller): bad bytes are the caller's fault, long refusals are
/// clipped, and `methods` (last path segment, e.g. `RegisterAppeal`) may be limited per
/// caller.
///
/// tonic reports a body that does not decode as the request message (not protobuf, a
/// string that is not UTF-8) as INTERNAL, as gRPC's status-code table suggests; for this
/// system INTERNAL means "our fault", so those become INVALID_ARGUMENT with the decoder's
/// reason. A request over `max_decoding_message_size` (tonic: OUT_OF_RANGE) becomes
/// RESOURCE_EXHAUSTED, which the gRPC spec names for a message larger than allowed; the
/// message keeps the found size and the limit.
#[derive(Clone, Default)]
pub struct GuardLayer {
    limiter: Option<Arc<KeyedLimiter>>,
    methods: Arc<[&'static str]>,
}

impl GuardLayer {
    /// Limits `methods` per caller with `settings` (off when `per_second` is 0).
    pub fn rate_limit(mut self, settings: RateLimitSettings, methods: &[&'static str]) -> Self {
        self.limiter = Some(Arc::new(KeyedLimiter::new(settings)));
        self.methods = methods.into();
        self
    }
}

impl<S> tower_layer::Layer<S> for GuardLayer {
    type Service = Guard<S>;
    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            limiter: self.limiter.clone(),
            methods: self.methods.clone(),
        }
    }
}

/// A gRPC service behind [`GuardLayer`].
#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    limiter: Option<Arc<KeyedLimiter>>,
    methods: Arc<[&'static str]>,
}

/// The code a trailers-only error response should carry instead of its own, if any.
pub(crate) fn recode(status: &str, message: &str) -> Option<&'static str> {
    // grpc-message is percent-encoded (spaces as %20).
    let message = message.replace("%20", " ");
    match status {
        "13" if message.starts_with("failed to decode Protobuf message") => Some("3"),
        "11" if message.contains("message length too large") => Some("8"),
        _ => None,
    }
}

/// Concurrent calls (HTTP/2 streams) one client connection may have open; more wait in
/// the client. Well above the load generator's 64 in flight.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 256;

/// Longest `grpc-message` a refusal carries, in encoded bytes. Messages that quote the
/// request (an unknown id, a bad value) could otherwise exceed the client's header limit
/// (16 KiB in h2) and reach the caller as a broken connection instead of a reason.
pub const MAX_STATUS_MESSAGE: usize = 1024;
/// Longest `grpc-status-details-bin` kept (base64); longer details are dropped.
pub const MAX_STATUS_DETAILS: usize = 8 * 1024;

/// `message` (percent-encoded, as in `grpc-message`) cut to at most `max` bytes at a
/// character boundary, with "…" appended when cut.
fn clip_status_message(message: &str, max: usize) -> Option<String> {
    const ELLIPSIS: &str = "%E2%80%A6";
    if message.len() <= max {
        return None;
    }
    let budget = max.saturating_sub(ELLIPSIS.len());
    let bytes = message.as_bytes();
    // Walk tokens (`%XX` or one byte); `cut` is the last start of a character, so
    // everything before it is whole characters.
    let (mut at, mut cut) = (0, 0);
    while at < bytes.len() {
        let (len, byte) = match bytes.get(at + 1..at + 3) {
            Some(hex) if bytes[at] == b'%' => (
                3,
                std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .unwrap_or(b'?'),
            ),
            _ => (1, bytes[at]),
        };
        if !(0x80..0xC0).contains(&byte) {
            cut = at;
        }
        if at + len > budget {
            break;
        }
        at += len;
    }
    Some(format!("{}{ELLIPSIS}", &message[..cut]))
}

impl<S, B> Service<http::Request<B>> for Guard<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if let Some(limiter) = self.limiter.as_ref().filter(|l| l.enabled()) {
            let method = request.uri().path().rsplit('/').next().unwrap_or_default();
            if let Some(method) = self.methods.iter().find(|m| **m == method)
                && let Err(wait) = limiter.check(&caller_key(&request), Instant::now())
            {
                metrics::counter!("bakylau_rate_limited_total", "method" => *method).increment(1);
                let status = rate_limited_status(method, &limiter.settings, wait);
                return Box::pin(async move { Ok(status.into_http()) });
            }
        }
        let fut = self.inner.call(request);
        Box::pin(async move {
            let mut response = fut.await?;
            let headers = response.headers();
            let code = headers
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .zip(headers.get("grpc-message").and_then(|v| v.to_str().ok()))
                .and_then(|(s, m)| recode(s, m));
            if let Some(code) = code {
                response
                    .headers_mut()
                    .insert("grpc-status", http::HeaderValue::from_static(code));
            }
            let clipped = response
                .headers()
                .get("grpc-message")
                .and_then(|v| v.to_str().ok())
                .and_then(|m| clip_status_message(m, MAX_STATUS_MESSAGE))
                .and_then(|m| http::HeaderValue::from_str(&m).ok());
            if let Some(m) = clipped {
                response.headers_mut().insert("grpc-message", m);
            }
            // Details (google.rpc.BadRequest) quoting a huge value: the message says why.
            if response
                .headers()
                .get("grpc-status-details-bin")
                .is_some_and(|d| d.len() > MAX_STATUS_DETAILS)
            {
                response.headers_mut().remove("grpc-status-details-bin");
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: f64, burst: u32, max_callers: usize) -> KeyedLimiter {
        KeyedLimiter::new(RateLimitSettings {
            per_second,
            burst,
            max_callers,
        })
    }

    #[test]
    fn a_burst_passes_then_the_caller_waits_for_the_rate() {
        let l = limiter(2.0, 3, 10);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check("a", t0).is_ok());
        }
        let wait = l.check("a", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        // Another caller is not affected.
        assert!(l.check("b", t0).is_ok());
        // Half a second later one more call is allowed, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert!(l.check("a", t1).is_ok());
        assert!(l.check("a", t1).is_err());
    }

    #[test]
    fn off_when_the_rate_is_zero() {
        let l = limiter(0.0, 1, 10);
        let t = Instant::now();
        assert!((0..1000).all(|_| l.check("a", t).is_ok()));
        assert_eq!(l.tracked_callers(), 0);
    }

    #[test]
    fn many_callers_cost_bounded_memory() {
        let l = limiter(1.0, 1, 100);
        let t0 = Instant::now();
        for i in 0..10_000 {
            let _ = l.check(&format!("caller{i}"), t0);
        }
        assert!(l.tracked_callers() <= 101, "{}", l.tracked_callers());
        // Once the early callers' buckets refill they make room for new ones.
        let later = t0 + Duration::from_secs(5);
        assert!(l.check("newcomer", later).is_ok());
        assert!(l.tracked_callers() <= 101);
    }

    #[test]
    fn the_key_is_the_verified_caller_never_the_user_header() {
        let mut r = http::Request::new(());
        r.headers_mut()
            .insert("x-bakylau-user", "registrar-7".parse().unwrap());
        assert_eq!(caller_key(&r), "unknown");
        r.extensions_mut().insert(crate::auth::Caller {
            subject: "registrar-7".into(),
            role: crate::auth::Role::Registrar,
            body: None,
            source: None,
        });
        assert_eq!(caller_key(&r), "sub:registrar-7");
    }

    #[test]
    fn undecodable_and_oversized_requests_are_the_callers_fault() {
        assert_eq!(
            recode(
                "13",
                "failed%20to%20decode%20Protobuf%20message: invalid wire type"
            ),
            Some("3")
        );
        assert_eq!(
            recode(
                "11",
                "Error,%20decoded%20message%20length%20too%20large: found 9 bytes, the limit is: 4 bytes"
            ),
            Some("8")
        );
        assert_eq!(recode("13", "internal%20error"), None);
        assert_eq!(recode("11", "page%20out%20of%20range"), None);
    }

    #[test]
    fn long_status_messages_are_clipped_at_a_character() {
        assert_eq!(clip_status_message("short", 10), None);
        let cyrillic = "%D0%B6".repeat(1000); // "ж" × 1000
        let clipped = clip_status_message(&cyrillic, 100).unwrap();
        assert!(clipped.len() <= 100, "{}", clipped.len());
        assert!(clipped.ends_with("%D0%B6%E2%80%A6"), "{clipped}");
        let ascii = "a".repeat(5000);
        let clipped = clip_status_message(&ascii, 1024).unwrap();
        assert!(clipped.len() <= 1024 && clipped.starts_with("aaa"));
    }

    #[test]
    fn the_refusal_names_the_limit_and_carries_retry_info() {
        use tonic_types::StatusExt as _;
        let s = rate_limited_status(
            "RegisterAppeal",
            &RateLimitSettings {
                per_second: 5.0,
                burst: 10,
                max_callers: 1,
            },
            Duration::from_millis(150),
        );
        assert_eq!(s.code(), tonic::Code::ResourceExhausted);
        assert!(s.message().contains("5 RegisterAppeal calls per second"));
        assert!(s.message().contains("retry after 150 ms"));
        let retry = s.get_error_details().retry_info().cloned().unwrap();
        assert_eq!(retry.retry_delay, Some(Duration::from_millis(150)));
    }
}
