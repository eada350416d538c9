//! gRPC request metrics: for every call a server answers,
//! `bakylau_grpc_server_requests_total{service,method,code}` and
//! `bakylau_grpc_server_request_duration_seconds{service,method}`.
//!
//! `service` is the Bakylau service (`intake`, ...), `method` the gRPC path
//! (`/bakylau.intake.v1.IntakeService/RegisterAppeal`), `code` the gRPC status name
//! (`Ok`, `InvalidArgument`, ...). Labels come only from the path and the status, never
//! from a request's content, so no personal data can reach them.
//!
//! The code is read where gRPC puts it: the `grpc-status` header of a trailers-only
//! response (every error tonic returns) or the trailers after the body (every success);
//! a body that ends without one counts as `Ok`. A call dropped before it finished (the
//! client went away, or the server's time limit cancelled it) counts as `Cancelled`,
//! which is what tonic answers on its time limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};
use tonic::Code;
use tonic::codegen::Service;

pub const REQUESTS_TOTAL: &str = "bakylau_grpc_server_requests_total";
pub const REQUEST_DURATION: &str = "bakylau_grpc_server_request_duration_seconds";

/// Histogram buckets in seconds: from a cached lookup (~1 ms) to the server's 30 s limit.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The `method` label of calls to paths this server does not serve: any client can send
/// any path, and each must not become a new time series.
pub const UNKNOWN_METHOD: &str = "unknown";

/// Gives the duration a real histogram (buckets, so p95 aggregates across replicas)
/// instead of the exporter's default per-process summary.
pub fn with_buckets(builder: PrometheusBuilder) -> Result<PrometheusBuilder, BuildError> {
    builder.set_buckets_for_metric(Matcher::Full(REQUEST_DURATION.to_owned()), DURATION_BUCKETS)
}

/// `bakylau.intake.v1.IntakeService` → `intake`: the label of the service a server runs.
pub fn service_label(grpc_service_name: &'static str) -> &'static str {
    let mut parts = grpc_service_name.split('.');
    match (parts.next(), parts.next()) {
        (Some("bakylau"), Some(name)) if !name.is_empty() => name,
        _ => grpc_service_name,
    }
}

/// The status name used as the `code` label.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "Ok",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

fn status_in(headers: &http::HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .map(|v| Code::from_bytes(v.as_bytes()))
}

/// Tower layer for `Server::builder().layer(..)`.
#[derive(Debug, Clone, Copy)]
pub struct GrpcMetricsLayer {
    service: &'static str,
}

impl GrpcMetricsLayer {
    /// `service` is the label value, e.g. `intake`.
    pub fn new(service: &'static str) -> Self {
        Self { service }
    }
}

impl<S> tower_layer::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            service: self.service,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    service: &'static str,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for GrpcMetrics<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let call = Call {
            service: self.service,
            method: request.uri().path().to_owned(),
            started: Instant::now(),
            recorded: false,
        };
        ResponseFuture {
            inner: self.inner.call(request),
            call: Some(call),
        }
    }
}

/// One call being measured; recorded exactly once, as `Cancelled` if dropped unfinished.
struct Call {
    service: &'static str,
    method: String,
    started: Instant,
    recorded: bool,
}

impl Call {
    fn finish(mut self, code: Code) {
        self.record(code);
    }

    fn record(&mut self, code: Code) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        // A path no service here serves answers UNIMPLEMENTED; keep it out of the labels.
        let method = if code == Code::Unimplemented {
            UNKNOWN_METHOD.to_owned()
        } else {
            std::mem::take(&mut self.method)
        };
        // Literal names (= REQUESTS_TOTAL, REQUEST_DURATION): deploy/validate finds them so.
        metrics::counter!(
            "bakylau_grpc_server_requests_total",
            "service" => self.service,
            "method" => method.clone(),
            "code" => code_name(code),
        )
        .increment(1);
        metrics::histogram!(
            "bakylau_grpc_server_request_duration_seconds",
            "service" => self.service,
            "method" => method,
        )
        .record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}

pin_project_lite::pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
{
    type Output = Result<http::Response<MeteredBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                let call = match (call, status_in(response.headers())) {
                    // Trailers-only: the status is already here and no body follows.
                    (Some(call), Some(code)) => {
                        call.finish(code);
                        None
                    }
                    (call, _) => call,
                };
                Ok(response.map(|inner| MeteredBody { inner, call }))
            }
            Err(e) => {
                // Tonic's routes never fail; an error here reaches the client as UNKNOWN.
                if let Some(call) = call {
                    call.finish(Code::Unknown);
                }
                Err(e)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// The response body, watched for the trailers that carry the status.
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B: Body> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(code) = f.trailers_ref().and_then(status_in)
                    && let Some(call) = this.call.take()
                {
                    call.finish(code);
                }
            }
            Some(Err(_)) => {
                if let Some(call) = this.call.take() {
                    call.finish(Code::Internal);
                }
            }
            None => {
                if let Some(call) = this.call.take() {
                    call.finish(Code::Ok);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_label_is_the_bakylau_service() {
        assert_eq!(
            service_label(bakylau_proto::service_names::INTAKE),
            "intake"
        );
        assert_eq!(
            service_label(bakylau_proto::service_names::REPORTING),
            "reporting"
        );
        assert_eq!(service_label("other.Service"), "other.Service");
    }

    #[test]
    fn status_names_read_from_the_header() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(status_in(&headers), None);
        headers.insert("grpc-status", http::HeaderValue::from_static("3"));
        assert_eq!(status_in(&headers).map(code_name), Some("InvalidArgument"));
        headers.insert("grpc-status", http::HeaderValue::from_static("0"));
        assert_eq!(status_in(&headers).map(code_name), Some("Ok"));
    }
}
