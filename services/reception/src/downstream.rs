//! gRPC clients of intake (earlier appeals, appeals raised at a reception) and control
//! (instructions given at a reception). Channels connect lazily, so reception starts and
//! serves bookings while either is down; the trace context travels in the metadata.

use std::time::Duration;

use bakylau_proto::control::v1 as control;
use bakylau_proto::control::v1::instruction_service_client::InstructionServiceClient;
use bakylau_proto::intake::v1 as intake;
use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

type Interceptor = fn(Request<()>) -> Result<Request<()>, Status>;
type Traced = InterceptedService<Channel, Interceptor>;

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
) -> Result<Channel, DownstreamError> {
    let addr = addr.trim();
    let uri = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    Ok(Endpoint::from_shared(uri)
        .map_err(|e| DownstreamError::Address(service, e.to_string()))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .connect_lazy())
}

/// Who is calling: passed on to intake and control so their checks and audit see the
/// real user.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub user: String,
    pub role: String,
    pub body: String,
}

impl Caller {
    pub fn from_metadata(meta: &tonic::metadata::MetadataMap) -> Self {
        let get = |k: &str| {
            meta.get(k)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            user: get("x-bakylau-user"),
            role: get("x-bakylau-role"),
            body: get("x-bakylau-body"),
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
        let mut request = Request::new(message);
        let meta = request.metadata_mut();
        for (key, value) in [
            ("x-bakylau-user", self.name()),
            // Without a caller's role reception acts as a system of the Department.
            (
                "x-bakylau-role",
                if self.role.is_empty() {
                    "system".to_owned()
                } else {
                    self.role.clone()
                },
            ),
            ("x-bakylau-body", self.body.clone()),
        ] {
            if let Ok(v) = value.parse()
                && !value.is_empty()
            {
                meta.insert(key, v);
            }
        }
        request
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
    ) -> Result<Self, DownstreamError> {
        let interceptor: Interceptor = bakylau_platform::telemetry::grpc_trace_interceptor;
        let intake = match intake_addr.trim() {
            "" => None,
            addr => Some(IntakeServiceClient::with_interceptor(
                channel("intake", addr, timeout)?,
                interceptor,
            )),
        };
        let control = match control_addr.trim() {
            "" => None,
            addr => Some(InstructionServiceClient::with_interceptor(
                channel("control", addr, timeout)?,
                interceptor,
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
