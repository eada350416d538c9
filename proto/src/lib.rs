//! Protobuf contracts of Bakylau: domain events and the five gRPC services.

pub mod audit {
    pub mod v1 {
        tonic::include_proto!("bakylau.audit.v1");
    }
}
pub mod events {
    pub mod v1 {
        tonic::include_proto!("bakylau.events.v1");
    }
}
pub mod intake {
    pub mod v1 {
        tonic::include_proto!("bakylau.intake.v1");
    }
}
pub mod routing {
    pub mod v1 {
        tonic::include_proto!("bakylau.routing.v1");
    }
}
pub mod control {
    pub mod v1 {
        tonic::include_proto!("bakylau.control.v1");
    }
}
pub mod reception {
    pub mod v1 {
        tonic::include_proto!("bakylau.reception.v1");
    }
}
pub mod reporting {
    pub mod v1 {
        tonic::include_proto!("bakylau.reporting.v1");
    }
}

/// Encoded `FileDescriptorSet` of every Bakylau proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("bakylau_descriptor");

/// Full names of the gRPC services, as health and reflection report them.
pub mod service_names {
    pub const INTAKE: &str = "bakylau.intake.v1.IntakeService";
    pub const ROUTING: &str = "bakylau.routing.v1.RoutingService";
    pub const CONTROL: &str = "bakylau.control.v1.ControlService";
    pub const RECEPTION: &str = "bakylau.reception.v1.ReceptionService";
    pub const REPORTING: &str = "bakylau.reporting.v1.ReportingService";
    /// Served by every service, over its own log.
    pub const AUDIT_LOG: &str = "bakylau.audit.v1.AuditLog";
}
