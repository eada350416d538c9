//! The audit log (issue 10): every read of personal data and every change, with who, when,
//! from where, what and the result, appended to the service's own `audit_log` table (kept
//! append-only by the triggers of migration 0002).
//!
//! Each service's policy table classifies every method ([`Audit`]). A call classified as a
//! read or a change is answered only once its record is committed, so nothing is disclosed
//! unrecorded: when the log cannot be written the caller gets UNAVAILABLE instead of the
//! data. Records are committed in groups by one writer, so a busy method (RegisterAppeal)
//! costs a share of a commit, not a commit of its own. The auditor reads the log over
//! `bakylau.audit.v1.AuditLog`, which every service serves.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bakylau_proto::audit::v1 as pb;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgPool;
use tokio::sync::{mpsc, oneshot};
use tonic::codegen::Service;
use tonic::{Request, Response, Status};

use crate::auth::{Caller, MethodPolicy, Policy, Role};

/// What a method does with personal data, for the audit log. Every entry of a policy table
/// says it, so a new method cannot be added without deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// Returns nothing personal (reference data, counts) and changes nothing.
    No,
    /// Returns personal data of applicants or officials.
    Read,
    /// Changes something.
    Change,
}

impl Audit {
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Audit::No => None,
            Audit::Read => Some("read"),
            Audit::Change => Some("change"),
        }
    }
}

/// The audit log's own method: the auditor only.
pub const POLICY: Policy = &[MethodPolicy {
    path: "/bakylau.audit.v1.AuditLog/ListAuditRecords",
    roles: &[Role::Auditor],
    audit: Audit::No,
}];

/// Ids a record names at most; a long list page names its first ones.
pub const MAX_TARGETS: usize = 1000;
/// Records the writer commits together at most.
const WRITE_BATCH: usize = 256;
/// Records waiting for the writer at most; callers wait beyond that.
const WRITE_QUEUE: usize = 4096;

/// What a call read or changed, as its handler names it on the response.
#[derive(Debug, Clone)]
pub struct AuditTarget {
    pub kind: &'static str,
    pub ids: Vec<String>,
}

/// Names on `response` what the call read or changed (`kind` `appeal`, ids), for its
/// audit record.
pub fn about<T, I>(mut response: Response<T>, kind: &'static str, ids: I) -> Response<T>
where
    I: IntoIterator,
    I::Item: ToString,
{
    let ids = ids
        .into_iter()
        .take(MAX_TARGETS)
        .map(|id| id.to_string())
        .collect();
    response.extensions_mut().insert(AuditTarget { kind, ids });
    response
}

/// Names appeals on `response`, each by its id and its registration number, so the
/// auditor finds a record by either.
pub fn about_appeals<T, I, A, B>(response: Response<T>, appeals: I) -> Response<T>
where
    I: IntoIterator<Item = (A, B)>,
    A: ToString,
    B: ToString,
{
    let keys = appeals
        .into_iter()
        .flat_map(|(id, number)| [id.to_string(), number.to_string()]);
    about(response, "appeal", keys)
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    pub subject: String,
    pub role: String,
    pub body: Option<String>,
    pub method: String,
    pub access: &'static str,
    pub target_kind: Option<String>,
    pub targets: Vec<String>,
    pub outcome: &'static str,
    pub peer: Option<String>,
    pub forwarded_for: Option<String>,
    pub trace_id: Option<String>,
}

/// How `policies` classify `path`; a method none of them names changes nothing (the auth
/// layer refuses it anyway).
pub fn classify(policies: &[Policy], path: &str) -> Audit {
    policies
        .iter()
        .flat_map(|p| p.iter())
        .find(|m| m.path == path)
        .map_or(Audit::No, |m| m.audit)
}

/// The canonical name of a gRPC status code (`grpc-status` header value).
pub fn code_name(code: &str) -> &'static str {
    match code {
        "0" => "OK",
        "1" => "CANCELLED",
        "2" => "UNKNOWN",
        "3" => "INVALID_ARGUMENT",
        "4" => "DEADLINE_EXCEEDED",
        "5" => "NOT_FOUND",
        "6" => "ALREADY_EXISTS",
        "7" => "PERMISSION_DENIED",
        "8" => "RESOURCE_EXHAUSTED",
        "9" => "FAILED_PRECONDITION",
        "10" => "ABORTED",
        "11" => "OUT_OF_RANGE",
        "12" => "UNIMPLEMENTED",
        "13" => "INTERNAL",
        "14" => "UNAVAILABLE",
        "15" => "DATA_LOSS",
        "16" => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// The record of a call, before its result is known: who, when, which method, from where.
fn begin<B>(request: &http::Request<B>, caller: &Caller, access: &'static str) -> AuditRecord {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let extensions = request.extensions();
    let peer = extensions
        .get::<TcpConnectInfo>()
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .map(|t| t.get_ref())
        })
        .and_then(|i| i.remote_addr())
        .map(|a| a.to_string());
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect::<String>())
    };
    AuditRecord {
        at: Utc::now(),
        subject: caller.subject.clone(),
        role: caller.role.to_string(),
        body: caller.body.clone(),
        method: request.uri().path().to_owned(),
        access,
        target_kind: None,
        targets: Vec::new(),
        outcome: "OK",
        peer,
        forwarded_for: header("x-forwarded-for"),
        trace_id: current_trace_id(),
    }
}

fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let id = span.span_context();
    id.is_valid().then(|| id.trace_id().to_string())
}

/// The result of the call, from its response: the status (trailers-only responses carry it
/// in the headers; a successful one carries it in trailers, after the data) and what the
/// handler named.
fn finish<B>(record: &mut AuditRecord, response: &http::Response<B>) {
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
    // As the caller will see it: the guard outside recodes decode failures.
    record.outcome = header("grpc-status").map_or("OK", |status| {
        code_name(
            crate::limits::recode(status, header("grpc-message").unwrap_or("")).unwrap_or(status),
        )
    });
    if let Some(target) = response.extensions().get::<AuditTarget>() {
        record.target_kind = Some(target.kind.to_owned());
        record.targets.clone_from(&target.ids);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the audit log cannot be written")]
pub struct AuditUnavailable;

struct Pending {
    record: AuditRecord,
    done: oneshot::Sender<bool>,
}

/// Appends records to `audit_log`: one writer commits what is waiting together and tells
/// each caller once its record is durable. It stops when the last handle is dropped.
#[derive(Clone)]
pub struct AuditTrail {
    sender: mpsc::Sender<Pending>,
}

impl AuditTrail {
    pub fn start(pool: PgPool) -> Self {
        let (sender, receiver) = mpsc::channel(WRITE_QUEUE);
        tokio::spawn(write_loop(pool, receiver));
        Self { sender }
    }

    /// Returns once `record` is committed.
    pub async fn append(&self, record: AuditRecord) -> Result<(), AuditUnavailable> {
        let (done, written) = oneshot::channel();
        self.sender
            .send(Pending { record, done })
            .await
            .map_err(|_| AuditUnavailable)?;
        match written.await {
            Ok(true) => Ok(()),
            _ => Err(AuditUnavailable),
        }
    }
}

async fn write_loop(pool: PgPool, mut receiver: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while receiver.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let records: Vec<&AuditRecord> = batch.iter().map(|p| &p.record).collect();
        let written = match insert(&pool, &records).await {
            Ok(()) => true,
            Err(e) => {
                metrics::counter!("bakylau_audit_write_failures_total").increment(1);
                tracing::error!(error = %e, records = batch.len(), "audit log not written");
                false
            }
        };
        metrics::counter!("bakylau_audit_records_total").increment(batch.len() as u64);
        for pending in batch.drain(..) {
            let _ = pending.done.send(written);
        }
    }
}

/// Ids never hold this; it joins a record's ids into one array element for UNNEST.
const ID_SEPARATOR: char = '\u{1f}';

async fn insert(pool: &PgPool, records: &[&AuditRecord]) -> Result<(), sqlx::Error> {
    let column = |f: fn(&AuditRecord) -> Option<String>| -> Vec<Option<String>> {
        records.iter().map(|r| f(r)).collect()
    };
    let at: Vec<DateTime<Utc>> = records.iter().map(|r| r.at).collect();
    let targets: Vec<String> = records
        .iter()
        .map(|r| {
            r.targets
                .iter()
                .map(|t| t.replace(ID_SEPARATOR, ""))
                .collect::<Vec<_>>()
                .join(&ID_SEPARATOR.to_string())
        })
        .collect();
    sqlx::query(
        "INSERT INTO audit_log (at, subject, role, body, method, access, target_kind, targets, \
                                outcome, peer, forwarded_for, trace_id) \
         SELECT a, s, r, b, m, x, k, string_to_array(t, chr(31)), o, p, f, tr \
         FROM UNNEST($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], \
                     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
                     $12::text[]) AS u(a, s, r, b, m, x, k, t, o, p, f, tr)",
    )
    .bind(at)
    .bind(column(|r| Some(r.subject.clone())))
    .bind(column(|r| Some(r.role.clone())))
    .bind(column(|r| r.body.clone()))
    .bind(column(|r| Some(r.method.clone())))
    .bind(column(|r| Some(r.access.to_owned())))
    .bind(column(|r| r.target_kind.clone()))
    .bind(targets)
    .bind(column(|r| Some(r.outcome.to_owned())))
    .bind(column(|r| r.peer.clone()))
    .bind(column(|r| r.forwarded_for.clone()))
    .bind(column(|r| r.trace_id.clone()))
    .execute(pool)
    .await?;
    Ok(())
}

/// Tower layer for `Server::builder().layer(..)`, inside the auth layer (it needs the
/// verified caller): records the calls `policies` classify as reads or changes.
#[derive(Clone)]
pub struct AuditLayer {
    trail: AuditTrail,
    policies: Arc<[Policy]>,
}

impl AuditLayer {
    pub fn new(trail: AuditTrail, policies: Arc<[Policy]>) -> Self {
        Self { trail, policies }
    }
}

impl<S> tower_layer::Layer<S> for AuditLayer {
    type Service = Audited<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Audited {
            inner,
            trail: self.trail.clone(),
            policies: self.policies.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Audited<S> {
    inner: S,
    trail: AuditTrail,
    policies: Arc<[Policy]>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

impl<S, B> Service<http::Request<B>> for Audited<S>
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
        let access = classify(&self.policies, request.uri().path()).as_str();
        let caller = request.extensions().get::<Caller>();
        let (Some(access), Some(caller)) = (access, caller) else {
            return Box::pin(self.inner.call(request));
        };
        let mut record = begin(&request, caller, access);
        let trail = self.trail.clone();
        let answered = self.inner.call(request);
        Box::pin(async move {
            let response = answered.await?;
            finish(&mut record, &response);
            let method = record.method.clone();
            match trail.append(record).await {
                Ok(()) => Ok(response),
                Err(e) => {
                    tracing::error!(%method, "{e}: the answer is withheld");
                    Ok(Status::unavailable(
                        "the audit log cannot be written; the answer was withheld, retry later",
                    )
                    .into_http())
                }
            }
        })
    }
}

/// `bakylau.audit.v1.AuditLog` over this service's own log.
pub struct AuditLogApi {
    pub pool: PgPool,
}

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

fn invalid(field: &str, why: &str) -> Status {
    crate::grpc::invalid_argument(format!("{field}: {why}"), [(field, why)])
}

fn time_of(
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, Status> {
    t.map(|t| {
        u32::try_from(t.nanos)
            .ok()
            .and_then(|n| DateTime::from_timestamp(t.seconds, n))
            .ok_or_else(|| invalid(field, "not a valid time"))
    })
    .transpose()
}

#[tonic::async_trait]
impl pb::audit_log_server::AuditLog for AuditLogApi {
    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        let r = request.into_inner();
        let size = match r.page_size {
            0 => DEFAULT_PAGE,
            n if n > MAX_PAGE => return Err(invalid("page_size", "at most 500")),
            n => n,
        };
        if !matches!(r.access.as_str(), "" | "read" | "change") {
            return Err(invalid("access", "read or change"));
        }
        let before = match r.page_token.as_str() {
            "" => None,
            t => Some(
                t.parse::<i64>()
                    .map_err(|_| invalid("page_token", "not a token from an earlier page"))?,
            ),
        };
        let since = time_of("since", r.since)?;
        let until = time_of("until", r.until)?;

        let mut q = sqlx::QueryBuilder::new(
            "SELECT seq, at, subject, role, body, method, access, target_kind, targets, \
             outcome, peer, forwarded_for, trace_id FROM audit_log WHERE true",
        );
        if !r.subject.is_empty() {
            q.push(" AND subject = ").push_bind(&r.subject);
        }
        if !r.target.is_empty() {
            q.push(" AND targets @> ARRAY[")
                .push_bind(&r.target)
                .push("]::text[]");
        }
        if !r.method.is_empty() {
            let method = if r.method.starts_with('/') {
                r.method.clone()
            } else {
                format!("/{}", r.method)
            };
            q.push(" AND right(method, length(")
                .push_bind(method.clone())
                .push(")) = ")
                .push_bind(method);
        }
        if !r.access.is_empty() {
            q.push(" AND access = ").push_bind(&r.access);
        }
        if let Some(since) = since {
            q.push(" AND at >= ").push_bind(since);
        }
        if let Some(until) = until {
            q.push(" AND at < ").push_bind(until);
        }
        if let Some(before) = before {
            q.push(" AND seq < ").push_bind(before);
        }
        q.push(" ORDER BY seq DESC LIMIT ")
            .push_bind(i64::from(size) + 1);
        let mut rows: Vec<Row> = q
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| {
                crate::db::bad_input(&e).unwrap_or_else(|| {
                    tracing::error!(error = %e, "reading the audit log");
                    Status::unavailable("the audit log cannot be read now")
                })
            })?;
        let more = rows.len() > size as usize;
        rows.truncate(size as usize);
        let next_page_token = if more {
            rows.last().map(|r| r.seq.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListAuditRecordsResponse {
            records: rows.into_iter().map(Row::into_proto).collect(),
            next_page_token,
        }))
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    at: DateTime<Utc>,
    subject: String,
    role: String,
    body: Option<String>,
    method: String,
    access: String,
    target_kind: Option<String>,
    targets: Vec<String>,
    outcome: String,
    peer: Option<String>,
    forwarded_for: Option<String>,
    trace_id: Option<String>,
}

impl Row {
    fn into_proto(self) -> pb::AuditRecord {
        pb::AuditRecord {
            seq: u64::try_from(self.seq).unwrap_or_default(),
            at: Some(prost_types::Timestamp {
                seconds: self.at.timestamp(),
                nanos: i32::try_from(self.at.timestamp_subsec_nanos()).unwrap_or_default(),
            }),
            subject: self.subject,
            role: self.role,
            body: self.body.unwrap_or_default(),
            method: self.method,
            access: self.access,
            target_kind: self.target_kind.unwrap_or_default(),
            targets: self.targets,
            outcome: self.outcome,
            peer: self.peer.unwrap_or_default(),
            forwarded_for: self.forwarded_for.unwrap_or_default(),
            trace_id: self.trace_id.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: Policy = &[
        MethodPolicy {
            path: "/p.S/GetThing",
            roles: &[Role::Controller],
            audit: Audit::Read,
        },
        MethodPolicy {
            path: "/p.S/ListKinds",
            roles: &[Role::Controller],
            audit: Audit::No,
        },
    ];

    #[test]
    fn methods_are_classified_by_their_policy_entry() {
        let policies = [SERVICE, POLICY];
        assert_eq!(classify(&policies, "/p.S/GetThing"), Audit::Read);
        assert_eq!(classify(&policies, "/p.S/ListKinds"), Audit::No);
        assert_eq!(classify(&policies, "/p.S/Unknown"), Audit::No);
        assert_eq!(
            classify(&policies, "/bakylau.audit.v1.AuditLog/ListAuditRecords"),
            Audit::No
        );
    }

    #[test]
    fn a_record_says_who_from_where_and_the_result() {
        let caller = Caller {
            subject: "executor-3".into(),
            role: Role::Executor,
            body: Some("akimat-almaty".into()),
            source: None,
        };
        let mut request = http::Request::builder()
            .uri("/p.S/GetThing")
            .header("x-forwarded-for", "10.1.2.3")
            .body(())
            .unwrap();
        let addr: std::net::SocketAddr = "192.0.2.7:40000".parse().unwrap();
        request
            .extensions_mut()
            .insert(tonic::transport::server::TcpConnectInfo {
                local_addr: None,
                remote_addr: Some(addr),
            });
        let mut record = begin(&request, &caller, "read");
        assert_eq!(record.subject, "executor-3");
        assert_eq!(record.role, "executor");
        assert_eq!(record.body.as_deref(), Some("akimat-almaty"));
        assert_eq!(record.peer.as_deref(), Some("192.0.2.7:40000"));
        assert_eq!(record.forwarded_for.as_deref(), Some("10.1.2.3"));

        let refused: http::Response<()> = Status::permission_denied("not your body").into_http();
        finish(&mut record, &refused);
        assert_eq!(record.outcome, "PERMISSION_DENIED");
        assert!(record.targets.is_empty());

        let answered = about(Response::new(()), "appeal", ["a1", "a2"]);
        let (metadata, (), extensions) = answered.into_parts();
        let mut http = http::Response::new(());
        *http.headers_mut() = metadata.into_headers();
        *http.extensions_mut() = extensions;
        finish(&mut record, &http);
        assert_eq!(record.outcome, "OK");
        assert_eq!(record.target_kind.as_deref(), Some("appeal"));
        assert_eq!(record.targets, ["a1", "a2"]);
    }

    #[test]
    fn every_code_has_its_canonical_name() {
        assert_eq!(code_name("0"), "OK");
        assert_eq!(code_name("7"), "PERMISSION_DENIED");
        assert_eq!(code_name("16"), "UNAUTHENTICATED");
        assert_eq!(code_name("99"), "UNKNOWN");
    }

    #[test]
    fn a_long_target_list_is_cut() {
        let r = about(Response::new(()), "appeal", 0..5000);
        let target = r.extensions().get::<AuditTarget>().unwrap();
        assert_eq!(target.ids.len(), MAX_TARGETS);
    }
}
