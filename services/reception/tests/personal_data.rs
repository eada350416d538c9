//! Visitors' personal data at rest: someone with table access reads neither the IIN nor the
//! name nor the phone of a visitor (bookings and the waiting list), while authorised callers
//! still get them over gRPC; rows from before the upgrade are sealed at start, and rows under
//! a retired key are sealed again under the current one.

mod common;

use bakylau_platform::personal_data::{PersonalDataSettings, PersonalDataVault};
use bakylau_proto::reception::v1 as pb;
use bakylau_testkit::TestEnv;
use sqlx::PgPool;
use uuid::Uuid;

const OFFICIAL: &str = "test.pd_head";

/// An official receiving one 30-minute visitor a day, so one booking fills a day.
async fn one_slot_a_day(client: &mut common::Client) {
    common::setup_official(client, OFFICIAL).await;
    client
        .set_schedule(pb::SetScheduleRequest {
            official_id: OFFICIAL.into(),
            weekly: (1..=7)
                .map(|weekday| pb::WeeklyHours {
                    weekday,
                    start: "10:00".into(),
                    end: "10:30".into(),
                    slot_minutes: 30,
                    format: "in_person".into(),
                    kind: "personal".into(),
                    venue: Some(pb::Venue {
                        room: "Room 2".into(),
                        ..Default::default()
                    }),
                })
                .collect(),
            publish_days_ahead: 30,
        })
        .await
        .expect("set schedule");
}

/// A free slot on a day other than today (nothing of it starts while the test runs).
async fn slot_after_today(client: &mut common::Client) -> pb::Slot {
    let today = bakylau_calendar::kz_date(chrono::Utc::now()).to_string();
    common::free_slots(client, OFFICIAL)
        .await
        .into_iter()
        .find(|s| !s.id.contains(&today))
        .expect("a free slot after today")
}

fn visitor(name: &str, serial: u32, phone: &str, organisation: &str) -> pb::Visitor {
    pb::Visitor {
        full_name: name.into(),
        iin: common::iin(serial),
        phone: phone.into(),
        organisation: organisation.into(),
    }
}

/// Every row of `table`, each as its whole text (`SELECT t::text`): what a reader with
/// table access sees.
async fn rows_as_text(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT t::text FROM {table} t"
    )))
    .fetch_all(pool)
    .await
    .unwrap()
}

fn assert_nowhere(rows: &[String], table: &str, v: &pb::Visitor) {
    assert!(!rows.is_empty(), "{table} has rows");
    for row in rows {
        for (what, value) in [
            ("IIN", v.iin.as_str()),
            ("name", v.full_name.as_str()),
            ("phone", v.phone.as_str()),
            // The phone without its "+", as a careless encoding would keep it.
            ("phone digits", v.phone.trim_start_matches('+')),
        ] {
            assert!(
                !row.contains(value),
                "the visitor's {what} is readable in {table}: {row}"
            );
        }
        if !v.organisation.is_empty() {
            assert!(!row.contains(&v.organisation), "organisation in {table}");
        }
    }
}

#[tokio::test]
async fn visitors_are_unreadable_in_the_tables_and_read_back_over_grpc() {
    let env = TestEnv::new().await.unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    one_slot_a_day(&mut client).await;
    let slot = slot_after_today(&mut client).await;
    let day = slot.id.split('@').nth(1).unwrap()[..10].to_owned();

    let first = visitor("Жұмабекова Ақмарал", 11, "+77017778899", "");
    let mut booking = common::book_request(&slot.id, 11);
    booking.visitor = Some(first.clone());
    let booked = client
        .book(booking)
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    assert_eq!(booked.visitor.as_ref(), Some(&first));

    // The day is full: the next visitor waits.
    let second = visitor("Нұрланов Ерлан", 22, "+77019990011", "ТОО Қайнар-Тест");
    let entry = client
        .join_waiting_list(pb::JoinWaitingListRequest {
            request_id: "pd-wait-1".into(),
            official_id: OFFICIAL.into(),
            from: day.clone(),
            to: day.clone(),
            visitor: Some(second.clone()),
            issue: "Очередь на операцию".into(),
            category: "health".into(),
            language: "kk".into(),
            district: "ile".into(),
        })
        .await
        .unwrap()
        .into_inner();

    let pool = common::pool(&env).await;
    let bookings = rows_as_text(&pool, "bookings").await;
    assert_nowhere(&bookings, "bookings", &first);
    let waiting = rows_as_text(&pool, "waiting_list").await;
    assert_nowhere(&waiting, "waiting_list", &second);
    // The plain columns are not written; the pseudonym and the key id are.
    let (plain, refs, keys): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE visitor_name IS NOT NULL OR visitor_iin IS NOT NULL \
                OR visitor_phone IS NOT NULL OR visitor_organisation IS NOT NULL), \
                count(visitor_ref), count(sealing_key_id) FROM bookings",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((plain, refs, keys), (0, 1, 1));
    let vault = PersonalDataVault::from_settings(&PersonalDataSettings::default()).unwrap();
    let stored_ref: String = sqlx::query_scalar("SELECT visitor_ref FROM waiting_list")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored_ref, vault.pseudonym(&second.iin));

    // Authorised callers read the visitor as before.
    let got = client
        .get_booking(pb::GetBookingRequest {
            id: booked.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.visitor.as_ref(), Some(&first));
    let listed = client
        .list_bookings(pb::ListBookingsRequest {
            official_id: OFFICIAL.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .bookings;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].visitor.as_ref(), Some(&first));

    // A cancellation gives the slot to the waiting visitor: sealed again, for the new row.
    client
        .cancel(pb::CancelRequest {
            booking_id: booked.id.clone(),
            reason: "cannot come".into(),
        })
        .await
        .unwrap();
    let served = client
        .list_waiting_list(pb::ListWaitingListRequest {
            official_id: OFFICIAL.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .find(|e| e.id == entry.id)
        .unwrap();
    assert_eq!(served.status, "booked");
    let filled = client
        .get_booking(pb::GetBookingRequest {
            id: served.booking_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(filled.visitor.as_ref(), Some(&second));
    let bookings = rows_as_text(&pool, "bookings").await;
    assert_eq!(bookings.len(), 2);
    assert_nowhere(&bookings, "bookings", &first);
    assert_nowhere(&bookings, "bookings", &second);
    service.stop().await;
}

#[tokio::test]
async fn rows_from_before_the_upgrade_are_sealed_at_start_and_retired_keys_replaced() {
    let env = TestEnv::new().await.unwrap();
    let keys = std::env::temp_dir().join(format!("bakylau-reception-pd-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&keys).unwrap();
    let pseudonym = keys.join("pseudonym");
    std::fs::write(&pseudonym, "test-pseudonym-key").unwrap();
    let first_key = bakylau_testkit::sealing_key_file(&keys, "2026-01", 1);
    let mut settings = common::settings_for(&env);
    settings.personal_data = PersonalDataSettings {
        pseudonym_key_file: Some(pseudonym.clone()),
        sealing_key_id: "2026-01".into(),
        sealing_key_file: Some(first_key.clone()),
        ..Default::default()
    };

    // Migrations run; then the service stops, and rows are written as the earlier release
    // wrote them: plain.
    let service = common::start_with(settings.clone()).await;
    let mut client = service.client().await;
    one_slot_a_day(&mut client).await;
    let slot = slot_after_today(&mut client).await;
    service.stop().await;

    let pool = common::pool(&env).await;
    let old = visitor("Оспанов Бауыржан", 33, "+77023334455", "ИП Оспанов");
    let booking_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO bookings (id, official_id, body, starts_at, minutes, format, kind, status, \
         visitor_name, visitor_iin, visitor_phone, visitor_organisation, issue, language) \
         VALUES ($1, $2, 'dept.health', $3, 30, 'in_person', 'personal', 'booked', \
         $4, $5, $6, $7, 'Старая запись', 'ru')",
    )
    .bind(booking_id)
    .bind(OFFICIAL)
    .bind(chrono::DateTime::from_timestamp(slot.starts_at.unwrap().seconds, 0).unwrap())
    .bind(&old.full_name)
    .bind(&old.iin)
    .bind(&old.phone)
    .bind(&old.organisation)
    .execute(&pool)
    .await
    .unwrap();
    let waiting = visitor("Ахметова Гүлнар", 44, "+77025556677", "");
    let entry_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO waiting_list (id, official_id, from_date, to_date, visitor_name, \
         visitor_iin, visitor_phone, issue, language) \
         VALUES ($1, $2, current_date, current_date + 30, $3, $4, $5, 'Очередь', 'kk')",
    )
    .bind(entry_id)
    .bind(OFFICIAL)
    .bind(&waiting.full_name)
    .bind(&waiting.iin)
    .bind(&waiting.phone)
    .execute(&pool)
    .await
    .unwrap();
    assert!(
        rows_as_text(&pool, "bookings").await[0].contains(&old.iin),
        "the old row is plain before the start"
    );

    // Sealed before the service serves: once it is SERVING nothing plain is left.
    let service = common::start_with(settings.clone()).await;
    assert_nowhere(&rows_as_text(&pool, "bookings").await, "bookings", &old);
    assert_nowhere(
        &rows_as_text(&pool, "waiting_list").await,
        "waiting_list",
        &waiting,
    );
    let vault = PersonalDataVault::from_settings(&settings.personal_data).unwrap();
    let (reference, key): (String, String) =
        sqlx::query_as("SELECT visitor_ref, sealing_key_id FROM bookings WHERE id = $1")
            .bind(booking_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (reference.as_str(), key.as_str()),
        (vault.pseudonym(&old.iin).as_str(), "2026-01")
    );
    let mut client = service.client().await;
    let got = client
        .get_booking(pb::GetBookingRequest {
            id: booking_id.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.visitor.as_ref(), Some(&old));
    service.stop().await;

    // The key rotates: "2026-01" retires, "2026-07" seals. At start every row moves to it.
    let mut rotated = settings.clone();
    rotated.personal_data.sealing_key_id = "2026-07".into();
    rotated.personal_data.sealing_key_file =
        Some(bakylau_testkit::sealing_key_file(&keys, "2026-07", 2));
    rotated
        .personal_data
        .retired_sealing_key_files
        .insert("2026-01".into(), first_key);
    let service = common::start_with(rotated.clone()).await;
    let key_ids: Vec<String> = sqlx::query_scalar(
        "SELECT sealing_key_id FROM bookings UNION ALL SELECT sealing_key_id FROM waiting_list",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(key_ids, ["2026-07", "2026-07"]);
    let mut client = service.client().await;
    let got = client
        .get_booking(pb::GetBookingRequest {
            id: booking_id.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.visitor.as_ref(), Some(&old));
    // The waiting visitor opens under the new key only, bound to its row.
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT visitor_sealed FROM waiting_list WHERE id = $1")
            .bind(entry_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    let new_only = PersonalDataVault::from_settings(&PersonalDataSettings {
        retired_sealing_key_files: Default::default(),
        ..rotated.personal_data.clone()
    })
    .unwrap();
    let opened: serde_json::Value = new_only.open_json(&sealed, entry_id.as_bytes()).unwrap();
    assert_eq!(opened["full_name"], waiting.full_name.as_str());
    assert_eq!(opened["iin"], waiting.iin.as_str());
    assert!(new_only.open(&sealed, Uuid::now_v7().as_bytes()).is_err());
    service.stop().await;
    let _ = std::fs::remove_dir_all(&keys);
}

#[tokio::test]
async fn notifications_keep_no_phone_and_visitors_past_the_retention_period_are_erased() {
    let env = TestEnv::new().await.unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    one_slot_a_day(&mut client).await;
    let slots = common::free_slots(&mut client, OFFICIAL).await;
    let today = bakylau_calendar::kz_date(chrono::Utc::now()).to_string();
    let mut later = slots.iter().filter(|s| !s.id.contains(&today));
    let (old_slot, new_slot) = (later.next().unwrap(), later.next().unwrap());
    let old = visitor("Сейітова Дана", 55, "+77031112233", "");
    let recent = visitor("Қасымов Нұрлан", 66, "+77034445566", "");
    let book = |slot: &pb::Slot, serial: u32, v: &pb::Visitor| {
        let mut r = common::book_request(&slot.id, serial);
        r.visitor = Some(v.clone());
        r
    };
    let old_booking = client
        .book(book(old_slot, 55, &old))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    let recent_booking = client
        .book(book(new_slot, 66, &recent))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();

    // The confirmation's phone is read through the booking; the notification keeps no copy.
    let pool = common::pool(&env).await;
    assert_nowhere(
        &rows_as_text(&pool, "notifications").await,
        "notifications",
        &old,
    );
    let notified = |id: &str| pb::ListNotificationsRequest {
        booking_id: id.into(),
        limit: 10,
    };
    let n = client
        .list_notifications(notified(&old_booking.id))
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert_eq!(n[0].phone, old.phone);

    // Six years pass for the first booking: the sweep (every second in tests) erases it.
    sqlx::query(
        "UPDATE bookings SET starts_at = starts_at - interval '6 years' WHERE id = $1::uuid",
    )
    .bind(&old_booking.id)
    .execute(&pool)
    .await
    .unwrap();
    let erased = bakylau_testkit::eventually(std::time::Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, bool>(
            "SELECT personal_data_erased_at IS NOT NULL FROM bookings WHERE id = $1::uuid",
        )
        .bind(&old_booking.id)
        .fetch_one(&pool)
        .await
        .unwrap()
    })
    .await;
    assert!(erased, "the old visitor was not erased");
    let (sealed, reference): (Option<Vec<u8>>, Option<String>) =
        sqlx::query_as("SELECT visitor_sealed, visitor_ref FROM bookings WHERE id = $1::uuid")
            .bind(&old_booking.id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((sealed, reference), (None, None));
    let got = client
        .get_booking(pb::GetBookingRequest {
            id: old_booking.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.issue, old_booking.issue, "the booking itself is kept");
    assert_eq!(got.visitor.unwrap_or_default().iin, "");
    let n = client
        .list_notifications(notified(&old_booking.id))
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert_eq!(n[0].phone, "");

    // The recent visitor is untouched.
    let kept = client
        .get_booking(pb::GetBookingRequest {
            id: recent_booking.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(kept.visitor.as_ref(), Some(&recent));
    service.stop().await;
}
