//! Personal data at rest: sealed in the register, opened only for the gRPC readers, rows
//! from before sealing sealed at start, re-sealed after a key rotation, and erased once the
//! retention period is over — over real gRPC and Postgres.

mod common;

use std::time::Duration;

use bakylau_intake::settings::Settings;
use bakylau_proto::intake::v1 as pb;
use common::{request, settings_for, start_with, test_iin};

const NAME: &str = "Сапарова Айгерім";
const PHONE: &str = "+77015550000";

/// The whole appeals table as text, as someone with table access would read it.
async fn appeals_as_text(pool: &sqlx::PgPool) -> String {
    sqlx::query_scalar::<_, String>("SELECT string_agg(a::text, E'\\n') FROM appeals a")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn get(
    client: &mut pb::intake_service_client::IntakeServiceClient<bakylau_testkit::auth::AuthChannel>,
    id: &str,
) -> pb::Appeal {
    client
        .get_appeal(pb::GetAppealRequest {
            key: Some(pb::get_appeal_request::Key::Id(id.into())),
        })
        .await
        .unwrap()
        .into_inner()
}

fn iin_of(a: &pb::Appeal) -> String {
    match a.applicant.as_ref().and_then(|p| p.party.as_ref()) {
        Some(pb::applicant::Party::Individual(i)) => i.iin.clone(),
        other => panic!("no individual applicant: {other:?}"),
    }
}

fn with_key(mut s: Settings, id: &str, file: std::path::PathBuf) -> Settings {
    s.personal_data.sealing_key_id = id.into();
    s.personal_data.sealing_key_file = Some(file);
    s
}

#[tokio::test]
async fn identity_numbers_names_and_phones_are_not_readable_in_the_table() {
    let env = bakylau_testkit::TestEnv::new().await.unwrap();
    let settings = settings_for(&env);
    let svc = start_with(env, settings).await;
    let mut client = svc.client().await;
    let mut req = request(21, "Прошу отремонтировать дорогу на улице Абая");
    req.co_signatories = vec![pb::Signatory {
        full_name: "Жұмабеков Ерлан".into(),
        iin: test_iin(22),
    }];
    let appeal = client
        .register_appeal(req)
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();

    let pool = svc.pool().await;
    let table = appeals_as_text(&pool).await;
    for secret in [
        test_iin(21).as_str(),
        test_iin(22).as_str(),
        NAME,
        PHONE,
        "Жұмабеков",
    ] {
        assert!(
            !table.contains(secret),
            "{secret} readable in the appeals table"
        );
    }
    let (sealed, key): (Option<Vec<u8>>, Option<String>) =
        sqlx::query_as("SELECT personal_data, sealing_key_id FROM appeals WHERE id = $1::uuid")
            .bind(&appeal.id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(sealed.is_some_and(|s| s.len() > 40));
    assert_eq!(key.as_deref(), Some("dev-1"));

    // The registrar still reads the applicant and the co-signatory.
    let read = get(&mut client, &appeal.id).await;
    assert_eq!(iin_of(&read), test_iin(21));
    assert_eq!(read.co_signatories[0].iin, test_iin(22));
    assert!(read.personal_data_erased_at.is_none());
    let listed = client
        .list_appeals(pb::ListAppealsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(iin_of(&listed.appeals[0]), test_iin(21));

    // A consulted person's name and phone likewise.
    client
        .record_consultation(consultation("c-1"))
        .await
        .unwrap();
    let consultations: String =
        sqlx::query_scalar("SELECT string_agg(c::text, E'\\n') FROM consultations c")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(!consultations.contains(NAME) && !consultations.contains(PHONE));
    let listed = client
        .list_consultations(pb::ListConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.consultations[0].person_name, NAME);
    assert_eq!(listed.consultations[0].person_phone, PHONE);
    svc.stop().await;
}

fn consultation(request_id: &str) -> pb::RecordConsultationRequest {
    pb::RecordConsultationRequest {
        request_id: request_id.into(),
        channel: pb::ConsultationChannel::Phone as i32,
        language: pb::Language::Kk as i32,
        person_name: NAME.into(),
        person_phone: PHONE.into(),
        topic: "social_protection".into(),
        question: "Сұрақ".into(),
        answer: "Жауап".into(),
        given_by: Some(pb::Officer {
            full_name: "Consultant".into(),
            position: "specialist".into(),
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn rows_from_before_sealing_are_sealed_at_start_and_rotation_reseals_them() {
    let env = bakylau_testkit::TestEnv::new().await.unwrap();
    let dir = std::env::temp_dir().join(format!("bakylau-keys-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let first_key = bakylau_testkit::sealing_key_file(&dir, "first", 7);
    let settings = with_key(settings_for(&env), "k1", first_key.clone());
    let svc = start_with(env, settings.clone()).await;
    let mut client = svc.client().await;
    let appeal = client
        .register_appeal(request(31, "Нет отопления в доме"))
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    client
        .record_consultation(consultation("c-legacy"))
        .await
        .unwrap();
    let env = svc.stop().await;

    // Turn the rows back into one written before sealing: plain applicant, no sealed data.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!(
            "{}?options=-csearch_path%3Dintake",
            env.database_url
        ))
        .await
        .unwrap();
    let applicant =
        bakylau_intake::domain::Applicant::Individual(bakylau_intake::domain::Individual {
            iin: test_iin(31),
            full_name: NAME.into(),
            phone: PHONE.into(),
            email: String::new(),
            address: "Талгар".into(),
        });
    sqlx::query(
        "UPDATE appeals SET applicant = $2, co_signatories = '[]', signer_subject = 'CN=САПАРОВА', \
         personal_data = NULL, sealing_key_id = NULL WHERE id = $1::uuid",
    )
    .bind(&appeal.id)
    .bind(sqlx::types::Json(&applicant))
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE consultations SET person_name = $1, person_phone = $2, person_sealed = NULL, \
         sealing_key_id = NULL",
    )
    .bind(NAME)
    .bind(PHONE)
    .execute(&pool)
    .await
    .unwrap();
    assert!(appeals_as_text(&pool).await.contains(&test_iin(31)));

    let svc = start_with(env, settings.clone()).await;
    assert!(!appeals_as_text(&pool).await.contains(&test_iin(31)));
    let key: Option<String> = sqlx::query_scalar("SELECT sealing_key_id FROM appeals")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(key.as_deref(), Some("k1"));
    let mut client = svc.client().await;
    let read = get(&mut client, &appeal.id).await;
    assert_eq!(iin_of(&read), test_iin(31));
    assert_eq!(read.signature.unwrap().signer_subject, "CN=САПАРОВА");
    let plain: (String, Option<String>) =
        sqlx::query_as("SELECT person_name, sealing_key_id FROM consultations")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(plain, (String::new(), Some("k1".into())));
    let listed = client
        .list_consultations(pb::ListConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.consultations[0].person_phone, PHONE);
    let env = svc.stop().await;

    // Rotation: a new current key, the first one retired.
    let mut rotated = with_key(
        settings,
        "k2",
        bakylau_testkit::sealing_key_file(&dir, "second", 9),
    );
    rotated
        .personal_data
        .retired_sealing_key_files
        .insert("k1".into(), first_key);
    let svc = start_with(env, rotated).await;
    let key: Option<String> = sqlx::query_scalar("SELECT sealing_key_id FROM appeals")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(key.as_deref(), Some("k2"));
    let mut client = svc.client().await;
    assert_eq!(iin_of(&get(&mut client, &appeal.id).await), test_iin(31));
    let env = svc.stop().await;

    // Once re-sealed, the retired key is no longer needed.
    let only_second = with_key(settings_for(&env), "k2", dir.join("second"));
    let svc = start_with(env, only_second).await;
    let mut client = svc.client().await;
    assert_eq!(iin_of(&get(&mut client, &appeal.id).await), test_iin(31));
    svc.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn personal_data_past_its_retention_period_is_erased_and_the_appeal_kept() {
    let env = bakylau_testkit::TestEnv::new().await.unwrap();
    let mut settings = settings_for(&env);
    settings.intake.retention.personal_data_days = 1826;
    settings.intake.retention.check_interval_s = 1;
    let svc = start_with(env, settings).await;
    let mut client = svc.client().await;
    let mut old = request(41, "Старое обращение о дороге");
    old.attachments = vec![pb::Attachment {
        name: "photo.pdf".into(),
        media_type: "application/pdf".into(),
        content: b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec(),
        ..Default::default()
    }];
    let old = client
        .register_appeal(old)
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    let recent = client
        .register_appeal(request(42, "Новое обращение о дороге"))
        .await
        .unwrap()
        .into_inner()
        .appeal
        .unwrap();
    client
        .record_consultation(consultation("c-old"))
        .await
        .unwrap();
    let pool = svc.pool().await;
    // Six years pass for the first appeal and the consultation.
    sqlx::query(
        "UPDATE appeals SET registered_at = registered_at - interval '6 years' WHERE id = $1::uuid",
    )
    .bind(&old.id)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("UPDATE consultations SET given_at = given_at - interval '6 years'")
        .execute(&pool)
        .await
        .unwrap();

    let erased = bakylau_testkit::eventually(Duration::from_secs(20), || async {
        get(&mut client.clone(), &old.id)
            .await
            .personal_data_erased_at
            .is_some()
    })
    .await;
    assert!(erased, "the old appeal's personal data was not erased");
    let read = get(&mut client, &old.id).await;
    assert!(read.applicant.is_none());
    assert_eq!(
        read.text, "Старое обращение о дороге",
        "the appeal itself is kept"
    );
    assert_eq!(read.registration_number, old.registration_number);
    assert_eq!(read.attachments[0].name, "photo.pdf");
    let contents: Vec<i32> =
        sqlx::query_scalar("SELECT length(content) FROM attachments WHERE appeal_id = $1::uuid")
            .bind(&old.id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(contents, vec![0], "attachment contents erased");
    let applicant_ref: Option<String> =
        sqlx::query_scalar("SELECT applicant_ref FROM appeals WHERE id = $1::uuid")
            .bind(&old.id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(applicant_ref, None);

    // The recent appeal keeps its applicant.
    let kept = get(&mut client, &recent.id).await;
    assert_eq!(iin_of(&kept), test_iin(42));
    assert!(kept.personal_data_erased_at.is_none());

    let erased: (bool, bool) = sqlx::query_as(
        "SELECT person_sealed IS NULL, personal_data_erased_at IS NOT NULL FROM consultations",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(erased, (true, true), "the consulted person erased");
    let listed = client
        .list_consultations(pb::ListConsultationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.consultations[0].person_name, "");
    svc.stop().await;
}
