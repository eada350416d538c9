//! Telemetry: JSON logs to stdout, spans exported over OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, W3C trace context over AMQP headers and gRPC
//! metadata, Prometheus metrics. Spans and logs carry ids and registration numbers only,
//! never personal data (IIN/BIN, names, phones, appeal text).

use std::collections::HashMap;

use lapin::types::{AMQPValue, FieldTable, LongString};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, layer::SubscriberExt, util::SubscriberInitExt};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    #[error("metrics exporter: {0}")]
    Metrics(String),
    #[error("a global subscriber is already set: {0}")]
    Subscriber(String),
}

/// Flushes and shuts the tracer provider down when the service stops, so the last spans
/// are not lost.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }
}

/// Installs logging and tracing for `service`. The log level comes from `RUST_LOG`
/// (default `info`).
pub fn init(service: &'static str) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    // A provider is installed even without an exporter: spans still get trace ids, which
    // travel to the next service and appear in the logs.
    let provider = builder.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer(service);

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,lapin=warn,sqlx=warn,h2=warn,tower=warn,hyper=warn")
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false),
        )
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
    Ok(TelemetryGuard { provider })
}

/// Serves Prometheus metrics on `listen` (`GET /metrics`); an empty address disables it.
pub fn init_metrics(listen: &str) -> Result<(), TelemetryError> {
    if listen.is_empty() {
        return Ok(());
    }
    let addr: std::net::SocketAddr = listen
        .parse()
        .map_err(|e| TelemetryError::Metrics(format!("metrics.listen {listen:?}: {e}")))?;
    crate::grpc_metrics::with_buckets(metrics_exporter_prometheus::PrometheusBuilder::new())
        .map_err(|e| TelemetryError::Metrics(e.to_string()))?
        .with_http_listener(addr)
        .install()
        .map_err(|e| TelemetryError::Metrics(e.to_string()))
}

/// The W3C trace context of the current span, as `traceparent`/`tracestate` pairs: stored
/// with an outbox row so its later publication continues the request's trace.
pub fn current_trace_context() -> HashMap<String, String> {
    let cx = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier
}

/// Makes `span` a child of the context in `carrier`. Call before the span is entered.
pub fn set_parent_from_map(span: &tracing::Span, carrier: &HashMap<String, String>) {
    let cx = TraceContextPropagator::new().extract(carrier);
    let _ = span.set_parent(cx);
}

/// Writes the current span's trace context into AMQP headers, as long strings.
pub fn inject_amqp(span: &tracing::Span, headers: &mut FieldTable) {
    let cx = span.context();
    let mut injector = AmqpHeaders(headers);
    TraceContextPropagator::new().inject_context(&cx, &mut injector);
}

/// Makes `span` a child of the trace context found in AMQP headers (long strings or byte
/// arrays: other languages' clients send either).
pub fn set_parent_from_amqp(span: &tracing::Span, headers: Option<&FieldTable>) {
    let Some(headers) = headers else { return };
    let mut map = HashMap::new();
    for key in ["traceparent", "tracestate"] {
        if let Some(value) = headers.inner().get(key).and_then(amqp_string) {
            map.insert(key.to_owned(), value);
        }
    }
    if !map.is_empty() {
        set_parent_from_map(span, &map);
    }
}

/// Reads an AMQP header value that carries text.
pub fn amqp_string(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        AMQPValue::ByteArray(b) => Some(String::from_utf8_lossy(b.as_slice()).into_owned()),
        _ => None,
    }
}

struct AmqpHeaders<'a>(&'a mut FieldTable);

impl Injector for AmqpHeaders<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0
            .insert(key.into(), AMQPValue::LongString(LongString::from(value)));
    }
}

/// gRPC client side: puts the current span's context into request metadata.
pub fn inject_grpc(metadata: &mut tonic::metadata::MetadataMap) {
    let cx = tracing::Span::current().context();
    let mut injector = GrpcMetadata(metadata);
    TraceContextPropagator::new().inject_context(&cx, &mut injector);
}

/// A tonic interceptor for clients that propagates the trace context.
pub fn grpc_trace_interceptor(
    mut request: tonic::Request<()>,
) -> Result<tonic::Request<()>, tonic::Status> {
    inject_grpc(request.metadata_mut());
    Ok(request)
}

struct GrpcMetadata<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for GrpcMetadata<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            value.parse(),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// gRPC server side: the span of one call, child of the caller's trace context.
pub fn grpc_server_span(request: &http::Request<()>) -> tracing::Span {
    let span = tracing::info_span!(
        "grpc.request",
        otel.name = %request.uri().path(),
        rpc.system = "grpc",
        rpc.method = %request.uri().path(),
    );
    let cx = TraceContextPropagator::new().extract(&HttpHeaders(request.headers()));
    let _ = span.set_parent(cx);
    span
}

struct HttpHeaders<'a>(&'a http::HeaderMap);

impl Extractor for HttpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amqp_headers_are_read_as_strings_or_bytes() {
        let long = AMQPValue::LongString(LongString::from("00-abc-def-01"));
        assert_eq!(amqp_string(&long).as_deref(), Some("00-abc-def-01"));
        let bytes = AMQPValue::ByteArray(b"00-abc".to_vec().into());
        assert_eq!(amqp_string(&bytes).as_deref(), Some("00-abc"));
        assert_eq!(amqp_string(&AMQPValue::Boolean(true)), None);
    }
}
