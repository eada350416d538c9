//! gRPC clients of intake (earlier appeals, appeals raised at a reception) and control
//! (instructions given at a reception). Channels connect lazily, so reception starts and
//! serves bookings while either is down; the trace context travels in the metadata, and
//! every call carries reception's own service identity (a `system` token), never a
//! forwarded user's.

use std::time::Duration;

use bakylau_proto::control::v1 as control;
use bakylau_proto::control::v1::instruction_service_client::InstructionServiceClient;
use bakylau_proto::intake::v1 as intake;
use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use std::sync::Arc;

use bakylau_platform::auth::ServiceIdentity;
use bakylau_platform::tls::ClientTlsSettings;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// Trace context and reception's bearer token on every outgoing call.
#[derive(Debug, Clone)]
pub struct Outgoing(Arc<ServiceIdentity>);

impl tonic::service::Interceptor for Outgoing {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let request = bakylau_platform::telemetry::grpc_trace_interceptor(request)?;
        self.0.authorize(request)
    }
}

type Traced = InterceptedService<Channel, Outgoing>;

#[derive(Debug, thiserror::Error)]
pub enum DownstreamError {
    #[error("{0} is not configured (reception.{0}_addr)")]
    NotConfigured(&'static str),
    #[error("{service} is unavailable: {message}")]
    Unavailable {
        service: &'static str,
        message: String,
    },
    /// The other service refused the request; its status is passed on.
    #[error("{service} refused: {}", status.message())]
    Refused {
        service: &'static str,
        status: Status,
    },
    #[error("{0} address: {1}")]
    Address(&'static str, String),
    #[error("calling {0} needs reception's service identity (grpc.identity)")]
    NoIdentity(&'static str),
}

fn classify(service: &'static str, status: Status) -> DownstreamError {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
            DownstreamError::Unavailable {
                service,
                message: status.message().to_owned(),
            }
        }
        _ => DownstreamError::Refused { service, status },
    }
}

fn channel(
    service: &'static str,
    addr: &str,
    timeout: Duration,
    tls: &ClientTlsSettings,
) -> Result<Channel, DownstreamError> {
    let addr = addr.trim();
    let uri = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    Ok(bakylau_platform::tls::endpoint(&uri, tls)
        .map_err(|e| DownstreamError::Address(service, e.to_string()))?
        .timeout(timeout)
        .connect_lazy())
}

/// Who is calling reception (verified by the auth layer): its name is recorded as the
/// author of what reception does for it, including what it asks intake and control for.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub user: String,
    pub role: String,
    pub body: String,
}

impl Caller {
    /// The verified caller of `request`, or an anonymous one (recorded as `reception`).
    pub fn of<T>(request: &Request<T>) -> Self {
        match request.extensions().get::<bakylau_platform::auth::Caller>() {
            Some(c) => Self {
                user: c.subject.clone(),
                role: c.role.to_string(),
                body: c.body.clone().unwrap_or_default(),
            },
            None => Self::default(),
        }
    }

    /// The name recorded as author: the user, or `reception` when none was given.
    pub fn name(&self) -> String {
        if self.user.is_empty() {
            "reception".into()
        } else {
            self.user.clone()
        }
    }

    fn request<T>(&self, message: T) -> Request<T> {
        Request::new(message)
    }
}

#[derive(Clone)]
pub struct Downstream {
    intake: Option<IntakeServiceClient<Traced>>,
    control: Option<InstructionServiceClient<Traced>>,
}

impl Downstream {
    pub fn new(
        intake_addr: &str,
        control_addr: &str,
        timeout: Duration,
        identity: Option<Arc<ServiceIdentity>>,
        tls: &ClientTlsSettings,
    ) -> Result<Self, DownstreamError> {
        let outgoing = |service: &'static str| {
            identity
                .clone()
                .map(Outgoing)
                .ok_or(DownstreamError::NoIdentity(service))
        };
        let intake = match intake_addr.trim() {
            "" => None,
            addr => Some(IntakeServiceClient::with_interceptor(
                channel("intake", addr, timeout, tls)?,
                outgoing("intake")?,
            )),
        };
        let control = match control_addr.trim() {
            "" => None,
            addr => Some(InstructionServiceClient::with_interceptor(
                channel("control", addr, timeout, tls)?,
                outgoing("control")?,
            )),
        };
        Ok(Self { intake, control })
    }

    pub fn has_intake(&self) -> bool {
        self.intake.is_some()
    }

    /// An appeal by id (UUID) or registration number; `None` when intake has no such appeal.
    pub async fn appeal(
        &self,
        key: &str,
        caller: &Caller,
    ) -> Result<Option<intake::Appeal>, DownstreamError> {
        let mut client = self
            .intake
            .clone()
            .ok_or(DownstreamError::NotConfigured("intake"))?;
        let key = match uuid::Uuid::parse_str(key.trim()) {
            Ok(id) => intake::get_appeal_request::Key::Id(id.to_string()),
            Err(_) => intake::get_appeal_request::Key::RegistrationNumber(key.trim().to_owned()),
        };
        match client
            .get_appeal(caller.request(intake::GetAppealRequest { key: Some(key) }))
            .await
        {
            Ok(r) => Ok(Some(r.into_inner())),
            Err(s) if matches!(s.code(), Code::NotFound | Code::InvalidArgument) => Ok(None),
            Err(s) => Err(classify("intake", s)),
        }
    }

    pub async fn register_appeal(
        &self,
        request: intake::RegisterAppealRequest,
        caller: &Caller,
    ) -> Result<intake::RegisterAppealResponse, DownstreamError> {
        let mut client = self
            .intake
            .clone()
            .ok_or(DownstreamError::NotConfigured("intake"))?;
        client
            .register_appeal(caller.request(request))
            .await
            .map(|r| r.into_inner())
            .map_err(|s| classify("intake", s))
    }

    pub async fn create_instruction(
        &self,
        request: control::CreateInstructionRequest,
        caller: &Caller,
    ) -> Result<control::CreateInstructionResponse, DownstreamError> {
        let mut client = self
            .control
            .clone()
            .ok_or(DownstreamError::NotConfigured("control"))?;
        client
            .create_instruction(caller.request(request))
            .await
            .map(|r| r.into_inner())
            .map_err(|s| classify("control", s))
    }
}
