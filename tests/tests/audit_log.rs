//! Issue 10: every read of personal data and every change is in the service's audit log,
//! with who, when, what, from where and the result; only the auditor reads the log; the
//! log cannot be altered; and when it cannot be written, the data is not handed out.

mod common;

use std::time::Duration;

use audit::audit_log_client::AuditLogClient;
use bakylau_proto::audit::v1 as audit;
use bakylau_proto::control::v1 as ctl;
use bakylau_proto::intake::v1 as pb;
use ctl::control_service_client::ControlServiceClient;
use pb::intake_service_client::IntakeServiceClient;
use tonic::Code;

async fn records(
    addr: &str,
    filter: audit::ListAuditRecordsRequest,
) -> Result<audit::ListAuditRecordsResponse, tonic::Status> {
    let mut log = AuditLogClient::new(common::channel(addr).await);
    log.list_audit_records(common::as_caller(filter, "auditor-1", "auditor", None))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_changes_are_recorded_and_only_the_auditor_reads_them() {
    let stack = common::Stack::start().await;
    let mut intake = IntakeServiceClient::new(common::channel(&stack.intake).await);

    let registered = intake
        .register_appeal(common::as_caller(
            common::road_complaint(common::valid_iin(41)),
            "registrar-7",
            "registrar",
            None,
        ))
        .await
        .expect("registered")
        .into_inner();
    let appeal = registered.appeal.unwrap();
    let number = appeal.registration_number.clone();

    // A controller reads it through a proxy that says where the request came from.
    let mut read = common::as_caller(
        pb::GetAppealRequest {
            key: Some(pb::get_appeal_request::Key::RegistrationNumber(
                number.clone(),
            )),
        },
        "controller-2",
        "controller",
        None,
    );
    read.metadata_mut()
        .insert("x-forwarded-for", "203.0.113.5".parse().unwrap());
    intake
        .get_appeal(read)
        .await
        .expect("the controller reads it");

    let log = records(
        &stack.intake,
        audit::ListAuditRecordsRequest {
            target: number.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("the auditor reads intake's log");
    assert_eq!(log.records.len(), 2, "{:#?}", log.records);
    let (get, register) = (&log.records[0], &log.records[1]);
    assert!(get.seq > register.seq, "newest first");

    assert_eq!(register.subject, "registrar-7");
    assert_eq!(register.role, "registrar");
    assert_eq!(
        register.method,
        "/bakylau.intake.v1.IntakeService/RegisterAppeal"
    );
    assert_eq!(register.access, "change");
    assert_eq!(register.target_kind, "appeal");
    assert_eq!(register.targets, [appeal.id.clone(), number.clone()]);
    assert_eq!(register.outcome, "OK");
    assert!(register.peer.starts_with("127.0.0.1:"), "{}", register.peer);

    assert_eq!(get.subject, "controller-2");
    assert_eq!(get.method, "/bakylau.intake.v1.IntakeService/GetAppeal");
    assert_eq!(get.access, "read");
    assert_eq!(get.forwarded_for, "203.0.113.5");
    let at = get.at.as_ref().expect("a time");
    let age = chrono::Utc::now().timestamp() - at.seconds;
    assert!((0..120).contains(&age), "recorded {age} s ago");

    // The same records by who and by method; a page at a time.
    let by_subject = records(
        &stack.intake,
        audit::ListAuditRecordsRequest {
            subject: "controller-2".into(),
            method: "GetAppeal".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(by_subject.records.len(), 1);
    assert_eq!(by_subject.records[0].seq, get.seq);
    let first = records(
        &stack.intake,
        audit::ListAuditRecordsRequest {
            target: number.clone(),
            page_size: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(first.records[0].seq, get.seq);
    let second = records(
        &stack.intake,
        audit::ListAuditRecordsRequest {
            target: number.clone(),
            page_size: 1,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(second.records[0].seq, register.seq);
    assert!(second.next_page_token.is_empty());

    // Once control has the appeal, an executor of another body is refused it, and the
    // attempt is on control's log with the refusal.
    let mut control = ControlServiceClient::new(common::channel(&stack.control).await);
    let assigned = bakylau_testkit::eventually(Duration::from_secs(60), || {
        let mut control = control.clone();
        let id = appeal.id.clone();
        async move {
            control
                .get_assignment(common::as_caller(
                    ctl::GetAssignmentRequest {
                        appeal_id: id,
                        ..Default::default()
                    },
                    "controller-2",
                    "controller",
                    None,
                ))
                .await
                .is_ok()
        }
    })
    .await;
    assert!(assigned, "control never assigned the appeal");
    let refused = control
        .get_assignment(common::as_caller(
            ctl::GetAssignmentRequest {
                appeal_id: appeal.id.clone(),
                ..Default::default()
            },
            "executor-9",
            "executor",
            Some("akimat.elsewhere"),
        ))
        .await
        .expect_err("another body's appeal");
    let attempt = records(
        &stack.control,
        audit::ListAuditRecordsRequest {
            subject: "executor-9".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(attempt.records.len(), 1, "{:#?}", attempt.records);
    let attempt = &attempt.records[0];
    assert_eq!(attempt.body, "akimat.elsewhere");
    assert_eq!(attempt.access, "read");
    let seen = format!("{:?}", refused.code());
    assert_eq!(
        attempt.outcome.replace('_', "").to_lowercase(),
        seen.to_lowercase(),
        "the log records what the caller saw"
    );

    // Nobody but the auditor reads the log; bad filters are named.
    for (user, role) in [("registrar-7", "registrar"), ("head-1", "head")] {
        let mut log = AuditLogClient::new(common::channel(&stack.intake).await);
        let s = log
            .list_audit_records(common::as_caller(
                audit::ListAuditRecordsRequest::default(),
                user,
                role,
                None,
            ))
            .await
            .expect_err("not an auditor");
        assert_eq!(s.code(), Code::PermissionDenied, "{role}: {s:?}");
    }
    let s = records(
        &stack.intake,
        audit::ListAuditRecordsRequest {
            access: "peek".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("an unknown access kind");
    assert_eq!(s.code(), Code::InvalidArgument);
    assert!(s.message().contains("access"), "{s:?}");

    // Append-only, for every role with table access, the service's own included.
    let pool = stack.pool("intake").await;
    for sql in [
        "UPDATE audit_log SET subject = 'someone-else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let e = sqlx::query(sql)
            .execute(&pool)
            .await
            .expect_err("the audit log is append-only");
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(kept >= 2, "{kept}");

    // When the log cannot be written the appeal is not handed out.
    sqlx::query("ALTER TABLE audit_log ADD CONSTRAINT test_refuses CHECK (false) NOT VALID")
        .execute(&pool)
        .await
        .unwrap();
    let read_by_id = || {
        common::as_caller(
            pb::GetAppealRequest {
                key: Some(pb::get_appeal_request::Key::Id(appeal.id.clone())),
            },
            "controller-2",
            "controller",
            None,
        )
    };
    let withheld = intake
        .get_appeal(read_by_id())
        .await
        .expect_err("no audit record, no answer");
    assert_eq!(withheld.code(), Code::Unavailable, "{withheld:?}");
    assert!(withheld.message().contains("audit log"), "{withheld:?}");
    sqlx::query("ALTER TABLE audit_log DROP CONSTRAINT test_refuses")
        .execute(&pool)
        .await
        .unwrap();
    intake
        .get_appeal(read_by_id())
        .await
        .expect("answered again once the log is writable");

    stack.stop().await;
}
