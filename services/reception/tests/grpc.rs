//! Reception over real gRPC on the real database and broker: validation, refusals that name
//! the field, officials, schedules, the waiting list, holding, minutes and monitoring.

mod common;

use std::time::Duration;

use bakylau_proto::events::v1 as ev;
use bakylau_proto::reception::v1 as pb;
use bakylau_testkit::TestEnv;
use chrono::{Datelike, Duration as Days, Utc};
use prost::Message as _;
use tonic::Code;

fn kz_today() -> chrono::NaiveDate {
    bakylau_calendar::kz_date(Utc::now())
}

#[tokio::test]
async fn demo_officials_load_once_and_edits_survive_a_restart() {
    let env = TestEnv::new().await.unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    let officials = client
        .list_officials(pb::ListOfficialsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .officials;
    assert!(officials.len() >= 15, "{}", officials.len());
    let talgar = officials.iter().find(|o| o.id == "akim.talgar").unwrap();
    assert_eq!(talgar.body, "akimat.talgar");
    assert_eq!(talgar.kind, "district_akim");
    assert!(officials.iter().any(|o| o.kind == "presidential_assistant"));

    // Edit an official over gRPC, restart: the file does not overwrite the edit.
    let mut edited = talgar.clone();
    edited.topics.push("health".into());
    client
        .save_official(pb::SaveOfficialRequest {
            official: Some(edited),
        })
        .await
        .unwrap();
    service.stop().await;
    let service = common::start(&env).await;
    let mut client = service.client().await;
    let again = client
        .list_officials(pb::ListOfficialsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .officials;
    assert_eq!(again.len(), officials.len());
    let talgar = client
        .get_official(pb::GetOfficialRequest {
            id: "akim.talgar".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(talgar.topics.contains(&"health".to_string()));
    let schedule = client
        .get_schedule(pb::GetScheduleRequest {
            official_id: "akim.talgar".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(schedule.weekly.len(), 2);
    // By topic: officials covering hospital care.
    let health = client
        .list_officials(pb::ListOfficialsRequest {
            topic: "health.hospital_care".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .officials;
    assert!(health.iter().any(|o| o.id == "head.health"));
    assert!(health.iter().all(|o| o.id != "head.education"));
    service.stop().await;
}

#[tokio::test]
async fn bad_requests_name_every_field() {
    let env = TestEnv::new().await.unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    let err = client.book(pb::BookRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        common::bad_fields(&err),
        [
            "slot_id",
            "visitor.full_name",
            "visitor.iin",
            "visitor.phone",
            "issue",
            "language"
        ]
    );
    let mut wrong_iin = common::book_request("akim@2030-01-01T10:00", 1);
    wrong_iin.visitor.as_mut().unwrap().iin = "900101300120".into();
    let err = client.book(wrong_iin).await.unwrap_err();
    assert!(
        common::bad_fields(&err).contains(&"visitor.iin".to_string()),
        "{err:?}"
    );
    // No personal data in the message.
    assert!(!err.message().contains("900101300120"));

    let err = client
        .set_schedule(pb::SetScheduleRequest {
            official_id: "akim".into(),
            weekly: vec![pb::WeeklyHours {
                weekday: 9,
                start: "12:00".into(),
                end: "10:00".into(),
                slot_minutes: 20,
                format: "video".into(),
                kind: "personal".into(),
                venue: None,
            }],
            publish_days_ahead: 30,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        common::bad_fields(&err),
        ["weekly[0].weekday", "weekly[0].end", "weekly[0].venue.link"]
    );
    let err = client
        .save_official(pb::SaveOfficialRequest {
            official: Some(pb::Official {
                id: "x".into(),
                kind: "mayor".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(common::bad_fields(&err), ["official.kind"]);
    let err = client
        .get_official(pb::GetOfficialRequest {
            id: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .cancel(pb::CancelRequest {
            booking_id: "not-a-uuid".into(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(common::bad_fields(&err), ["booking_id"]);
    service.stop().await;
}

#[tokio::test]
async fn bookings_in_the_past_on_days_off_outside_hours_or_on_leave_are_refused() {
    let env = TestEnv::new().await.unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    common::setup_official(&mut client, common::OFFICIAL).await;
    let base = client.clone();
    let refused = |slot: String| {
        let mut client = base.clone();
        async move {
            let err = client
                .book(common::book_request(&slot, 1))
                .await
                .expect_err("refused");
            assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
            assert_eq!(common::bad_fields(&err), ["slot_id"]);
            err.message().to_owned()
        }
    };
    let today = kz_today();
    let o = common::OFFICIAL;
    let past = format!("{o}@{}T09:00", today - Days::days(7));
    assert!(refused(past).await.contains("in the past"));

    // The next Saturday: a weekend day, although the official has hours on Saturdays.
    let saturday = (1..=7)
        .map(|d| today + Days::days(d))
        .find(|d| d.weekday() == chrono::Weekday::Sat)
        .unwrap();
    let msg = refused(format!("{o}@{saturday}T10:00")).await;
    assert!(msg.contains("weekend") || msg.contains("holiday"), "{msg}");

    // A public holiday from the calendar: 16 December, Independence Day.
    let year = if today.month() == 12 && today.day() >= 16 {
        today.year() + 1
    } else {
        today.year()
    };
    let independence = chrono::NaiveDate::from_ymd_opt(year, 12, 16).unwrap();
    if independence - today <= Days::days(30) {
        let msg = refused(format!("{o}@{independence}T10:00")).await;
        assert!(msg.contains("no receptions"), "{msg}");
    }

    // A later day with slots, so that 03:00 there is not in the past.
    let slot = common::free_slots(&mut client, o)
        .await
        .into_iter()
        .find(|s| !s.id.contains(&today.to_string()))
        .unwrap();
    let day = slot.id.split('@').nth(1).unwrap()[..10].to_owned();
    let msg = refused(format!("{o}@{day}T03:00")).await;
    assert!(msg.contains("no reception slot"), "{msg}");
    let msg = refused(format!("{o}@{day}T09:10")).await;
    assert!(msg.contains("no reception slot"), "{msg}");
    let far = today + Days::days(60);
    assert!(
        refused(format!("{o}@{far}T10:00"))
            .await
            .contains("published only up to")
    );

    client
        .add_leave(pb::AddLeaveRequest {
            official_id: o.into(),
            leave: Some(pb::Leave {
                id: String::new(),
                from: day.clone(),
                to: day.clone(),
                reason: "business trip".into(),
            }),
        })
        .await
        .unwrap();
    assert!(refused(slot.id.clone()).await.contains("on leave"));
    let free = common::free_slots(&mut client, o).await;
    assert!(
        free.iter().all(|s| !s.id.contains(&day)),
        "no slots on leave"
    );
    service.stop().await;
}

#[tokio::test]
async fn booking_is_idempotent_pre_screened_and_confirmed() {
    let env = TestEnv::new().await.unwrap();
    let mut tap = env.event_tap(&["reception.*"]).await.unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    common::setup_official(&mut client, common::OFFICIAL).await;
    let slot = common::free_slots(&mut client, common::OFFICIAL).await[0]
        .id
        .clone();
    let mut request = common::book_request(&slot, 3);
    request.category = "land.plot_allocation".into();
    request.participants = vec!["deputy_akim.social".into()];
    let first = client.book(request.clone()).await.unwrap().into_inner();
    let again = client.book(request.clone()).await.unwrap().into_inner();
    assert!(!first.replayed);
    assert!(again.replayed);
    let booking = first.booking.unwrap();
    assert_eq!(again.booking.unwrap().id, booking.id);
    assert_eq!(booking.participants, ["deputy_akim.social"]);
    // Land is not the health head's topic: officials covering land are suggested, the
    // akim of the issue's district (Talgar) first.
    let screening = first.pre_screening.unwrap();
    assert!(!screening.within_topics);
    let suggested: Vec<_> = screening
        .suggested_officials
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(
        suggested[..3],
        ["akim.talgar", "head.land_relations", "deputy_akim.economy"],
        "{suggested:?}"
    );
    assert!(screening.notes[0].contains("outside the topics"));

    // The same request id for another slot is refused.
    let other = common::free_slots(&mut client, common::OFFICIAL).await[0]
        .id
        .clone();
    request.slot_id = other;
    let err = client.book(request).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    let notes = client
        .list_notifications(pb::ListNotificationsRequest {
            booking_id: booking.id.clone(),
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner()
        .notifications;
    // One confirmation (a reminder may join it when the slot is within a day).
    let confirmations: Vec<_> = notes.iter().filter(|n| n.kind == "confirmation").collect();
    assert_eq!(confirmations.len(), 1);
    assert_eq!(confirmations[0].phone, "+77015550000");
    assert!(
        !confirmations[0].text.contains("Сапарова"),
        "no visitor name"
    );

    // The event carries ids and codes, no personal data.
    let event = tap
        .next(Duration::from_secs(30))
        .await
        .expect("reception.booked");
    assert_eq!(event.envelope.r#type, "reception.booked");
    assert!(!String::from_utf8_lossy(&event.envelope.payload).contains("Сапарова"));
    assert!(!String::from_utf8_lossy(&event.envelope.payload).contains(&common::iin(3)));
    let changed = ev::ReceptionChanged::decode(event.envelope.payload.as_slice()).unwrap();
    assert_eq!(changed.booking_id, booking.id);
    assert_eq!(changed.body, "dept.health");
    assert_eq!(changed.status, "booked");
    assert_eq!(changed.official_kind, "subdivision_head");

    // A reminder is stored for a visit due within the reminder window (24 h by default),
    // once; a later sweep does not add another.
    let pool = common::pool(&env).await;
    sqlx::query("UPDATE bookings SET starts_at = now() + interval '2 hours' WHERE id = $1::uuid")
        .bind(&booking.id)
        .execute(&pool)
        .await
        .unwrap();
    let reminded = bakylau_testkit::eventually(Duration::from_secs(30), || {
        let mut client = client.clone();
        let id = booking.id.clone();
        async move {
            client
                .list_notifications(pb::ListNotificationsRequest {
                    booking_id: id,
                    limit: 10,
                })
                .await
                .is_ok_and(|r| {
                    r.into_inner()
                        .notifications
                        .iter()
                        .any(|n| n.kind == "reminder")
                })
        }
    })
    .await;
    assert!(reminded, "a reminder is stored");
    let reminder_events = loop {
        let e = tap
            .next(Duration::from_secs(30))
            .await
            .expect("reminder event");
        if e.envelope.r#type == "reception.reminder_due" {
            break e;
        }
    };
    assert_eq!(reminder_events.envelope.subject, booking.id);
    pool.close().await;
    service.stop().await;
}

#[tokio::test]
async fn a_cancelled_slot_goes_to_the_first_person_on_the_waiting_list() {
    let env = TestEnv::new().await.unwrap();
    let mut tap = env
        .event_tap(&["reception.booked", "reception.cancelled"])
        .await
        .unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    common::setup_official(&mut client, common::OFFICIAL).await;
    // A day after today, so it has many free slots whatever the hour.
    let today = format!("@{}T", kz_today());
    let slot = common::free_slots(&mut client, common::OFFICIAL)
        .await
        .into_iter()
        .find(|s| !s.id.contains(&today))
        .unwrap();
    let day = slot.id.split('@').nth(1).unwrap()[..10].to_owned();
    let booked = client
        .book(common::book_request(&slot.id, 1))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    let join = |serial: u32| pb::JoinWaitingListRequest {
        request_id: format!("wait-{serial}"),
        official_id: common::OFFICIAL.into(),
        from: day.clone(),
        to: day.clone(),
        visitor: Some(pb::Visitor {
            full_name: format!("Waiting {serial}"),
            iin: common::iin(100 + serial),
            phone: "+77015550001".into(),
            organisation: String::new(),
        }),
        issue: "Очередь на операцию".into(),
        category: "health".into(),
        language: "kk".into(),
        district: "ile".into(),
    };
    // While the day has free slots nobody is put on the waiting list.
    let err = client.join_waiting_list(join(1)).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("book one instead"),
        "{}",
        err.message()
    );
    // Fill the day.
    let rest: Vec<_> = common::free_slots(&mut client, common::OFFICIAL)
        .await
        .into_iter()
        .filter(|s| s.id.contains(&format!("@{day}T")))
        .collect();
    for (i, s) in rest.iter().enumerate() {
        client
            .book(common::book_request(&s.id, 200 + i as u32))
            .await
            .unwrap();
    }
    let first = client
        .join_waiting_list(join(1))
        .await
        .unwrap()
        .into_inner();
    let second = client
        .join_waiting_list(join(2))
        .await
        .unwrap()
        .into_inner();
    let replay = client
        .join_waiting_list(join(1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.position, second.position), (1, 2));
    assert_eq!(replay.id, first.id, "joining is idempotent on request_id");

    let cancelled = client
        .cancel(pb::CancelRequest {
            booking_id: booked.id.clone(),
            reason: "the visitor cannot come".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, "cancelled");
    let err = client
        .cancel(pb::CancelRequest {
            booking_id: booked.id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let list = client
        .list_waiting_list(pb::ListWaitingListRequest {
            official_id: common::OFFICIAL.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let served = list.iter().find(|e| e.id == first.id).unwrap();
    assert_eq!(served.status, "booked");
    assert_eq!(list.iter().find(|e| e.id == second.id).unwrap().position, 1);
    let filled = client
        .get_booking(pb::GetBookingRequest {
            id: served.booking_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(filled.slot_id, slot.id);
    assert_eq!(filled.waiting_list_entry_id, first.id);
    assert_eq!(filled.visitor.unwrap().full_name, "Waiting 1");
    let notes = client
        .list_notifications(pb::ListNotificationsRequest {
            booking_id: filled.id.clone(),
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner()
        .notifications;
    assert_eq!(notes[0].kind, "waitlist_booked");

    let events = tap.collect(rest.len() + 3, Duration::from_secs(30)).await;
    let kinds: Vec<_> = events.iter().map(|e| e.envelope.r#type.as_str()).collect();
    let booked = kinds.iter().filter(|k| **k == "reception.booked").count();
    assert_eq!(booked, rest.len() + 2);
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["reception.cancelled", "reception.booked"]
    );
    let last = events[events.len() - 1].envelope.payload.as_slice();
    let last = ev::ReceptionChanged::decode(last).unwrap();
    assert_eq!(last.booking_id, filled.id);
    assert_eq!(last.waiting_list_entry_id, first.id);
    service.stop().await;
}

#[tokio::test]
async fn reschedule_moves_a_booking_and_refuses_a_taken_slot() {
    let env = TestEnv::new().await.unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    common::setup_official(&mut client, common::OFFICIAL).await;
    let slots = common::free_slots(&mut client, common::OFFICIAL).await;
    let a = client
        .book(common::book_request(&slots[0].id, 1))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    let b = client
        .book(common::book_request(&slots[1].id, 2))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    let err = client
        .reschedule(pb::RescheduleRequest {
            booking_id: a.id.clone(),
            slot_id: b.slot_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("already booked"));
    let moved = client
        .reschedule(pb::RescheduleRequest {
            booking_id: a.id.clone(),
            slot_id: slots[2].id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.slot_id, slots[2].id);
    let free = common::free_slots(&mut client, common::OFFICIAL).await;
    assert!(
        free.iter().any(|s| s.id == slots[0].id),
        "the old slot is free again"
    );
    let err = client
        .reschedule(pb::RescheduleRequest {
            booking_id: a.id.clone(),
            slot_id: "akim@2030-01-01T10:00".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(common::bad_fields(&err), ["slot_id"]);
    service.stop().await;
}

#[tokio::test]
async fn holding_a_reception_check_in_no_show_outcome_minutes_and_monitoring() {
    let env = TestEnv::new().await.unwrap();
    let mut tap = env
        .event_tap(&["reception.held", "reception.no_show"])
        .await
        .unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    common::setup_official(&mut client, common::OFFICIAL).await;
    let slots = common::free_slots(&mut client, common::OFFICIAL).await;
    let visit = client
        .book(common::book_request(&slots[0].id, 1))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    let absent = client
        .book(common::book_request(&slots[1].id, 2))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    let dropped = client
        .book(common::book_request(&slots[2].id, 3))
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    client
        .cancel(pb::CancelRequest {
            booking_id: dropped.id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap();

    // An outcome needs a checked-in visitor.
    let explained = pb::RecordOutcomeRequest {
        booking_id: visit.id.clone(),
        outcome: "explained".into(),
        note: "Explained the queue for planned surgery".into(),
        ..Default::default()
    };
    let err = client.record_outcome(explained.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let checked = client
        .check_in(pb::CheckInRequest {
            booking_id: visit.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.status, "checked_in");
    let err = client
        .mark_no_show(pb::MarkNoShowRequest {
            booking_id: visit.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let held = client
        .record_outcome(explained.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.status, "held");
    assert_eq!(held.outcomes.len(), 1);
    // A retry records nothing twice.
    let again = client.record_outcome(explained).await.unwrap().into_inner();
    assert_eq!(again.outcomes.len(), 1);
    let err = client
        .record_outcome(pb::RecordOutcomeRequest {
            booking_id: visit.id.clone(),
            outcome: "appeal_registered".into(),
            appeal: Some(pb::AppealDetails {
                kind: "complaint".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "intake is not configured: {err:?}"
    );
    let err = client
        .record_outcome(pb::RecordOutcomeRequest {
            booking_id: visit.id.clone(),
            outcome: "scolded".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(common::bad_fields(&err), ["outcome"]);

    let no_show = client
        .mark_no_show(pb::MarkNoShowRequest {
            booking_id: absent.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(no_show.status, "no_show");

    let events = tap.collect(2, Duration::from_secs(30)).await;
    let kinds: Vec<_> = events.iter().map(|e| e.envelope.r#type.as_str()).collect();
    assert_eq!(kinds, ["reception.held", "reception.no_show"]);
    let held_event = ev::ReceptionChanged::decode(events[0].envelope.payload.as_slice()).unwrap();
    assert_eq!(held_event.outcome, "explained");

    // Minutes of a future reception are refused; of today's, kept.
    let day = visit.slot_id.split('@').nth(1).unwrap()[..10].to_owned();
    let err = client
        .record_minutes(pb::RecordMinutesRequest {
            official_id: common::OFFICIAL.into(),
            date: (kz_today() + Days::days(40)).to_string(),
            text: "x".into(),
            attendees: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(common::bad_fields(&err), ["date"]);
    let today = kz_today().to_string();
    let minutes = client
        .record_minutes(pb::RecordMinutesRequest {
            official_id: common::OFFICIAL.into(),
            date: today.clone(),
            text: "Received citizens on health care; one complaint explained.".into(),
            attendees: vec!["Test Official".into(), "Secretary".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(minutes.attendees.len(), 2);
    let read = client
        .get_minutes(pb::GetMinutesRequest {
            official_id: common::OFFICIAL.into(),
            date: today,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.text, minutes.text);

    let report = client
        .monitor(pb::MonitorRequest {
            from: kz_today().to_string(),
            to: (kz_today() + Days::days(30)).to_string(),
            body: "dept.health".into(),
            official_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let row = report
        .officials
        .iter()
        .find(|o| o.official_id == common::OFFICIAL)
        .unwrap();
    let stats = row.stats.unwrap();
    assert_eq!(
        (stats.scheduled, stats.held, stats.no_shows, stats.cancelled),
        (2, 1, 1, 1)
    );
    assert!(stats.free_slots > 0);
    assert!(stats.days_to_next_free_slot >= 0);
    let body = report
        .bodies
        .iter()
        .find(|b| b.body == "dept.health")
        .unwrap();
    assert!(body.stats.unwrap().held >= 1);
    let _ = day;
    service.stop().await;
}

#[tokio::test]
async fn field_sessions_and_meetings_are_booked_the_same_way() {
    let env = TestEnv::new().await.unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    // A working day at least two days ahead, free of the weekly hours of akim.talgar
    // (Wednesday in person, Friday video).
    let calendar = bakylau_calendar::Calendar::embedded().unwrap();
    let date = (2..30)
        .map(|d| kz_today() + Days::days(d))
        .find(|d| {
            calendar.is_working_day(*d)
                && !matches!(d.weekday(), chrono::Weekday::Wed | chrono::Weekday::Fri)
        })
        .unwrap();
    let session = pb::Session {
        id: String::new(),
        date: date.to_string(),
        start: "10:00".into(),
        end: "12:00".into(),
        slot_minutes: 30,
        format: "field".into(),
        kind: "personal".into(),
        venue: Some(pb::Venue {
            place: "Бельбулак ауылы, мәдениет үйі".into(),
            district: "talgar".into(),
            ..Default::default()
        }),
        travelling_officials: vec!["deputy_akim.talgar".into(), "head.energy_housing".into()],
        note: "Field reception in a rural district (reg 6.4)".into(),
    };
    let mut no_place = session.clone();
    no_place.venue = None;
    let err = client
        .add_session(pb::AddSessionRequest {
            official_id: "akim.talgar".into(),
            session: Some(no_place),
        })
        .await
        .unwrap_err();
    assert_eq!(
        common::bad_fields(&err),
        ["session.venue.place", "session.venue.district"]
    );
    let schedule = client
        .add_session(pb::AddSessionRequest {
            official_id: "akim.talgar".into(),
            session: Some(session.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(schedule.sessions.len(), 1);
    let err = client
        .add_session(pb::AddSessionRequest {
            official_id: "akim.talgar".into(),
            session: Some(session),
        })
        .await
        .unwrap_err();
    assert_eq!(
        common::bad_fields(&err),
        ["session.start"],
        "overlap refused"
    );

    let slots = common::free_slots(&mut client, "akim.talgar").await;
    let field: Vec<_> = slots.iter().filter(|s| s.format == "field").collect();
    assert_eq!(field.len(), 4);
    assert_eq!(field[0].venue.as_ref().unwrap().district, "talgar");
    let mut request = common::book_request(&field[0].id, 5);
    request.category = "housing_utilities.water_supply".into();
    let booked = client.book(request).await.unwrap().into_inner();
    let booking = booked.booking.unwrap();
    assert_eq!(booking.format, "field");
    assert_eq!(booking.session_id, schedule.sessions[0].id);
    assert!(booked.pre_screening.unwrap().within_topics);

    // A reg 8.7 meeting: the social deputy's Thursday hours are meetings.
    let meeting = common::free_slots(&mut client, "deputy_akim.social")
        .await
        .into_iter()
        .find(|s| s.kind == "meeting")
        .expect("a meeting slot");
    let mut request = common::book_request(&meeting.id, 6);
    request.visitor.as_mut().unwrap().organisation = "Қоғамдық бірлестік «Мейірім»".into();
    request.category = "social_protection.disability".into();
    let booking = client
        .book(request)
        .await
        .unwrap()
        .into_inner()
        .booking
        .unwrap();
    assert_eq!(booking.kind, "meeting");
    assert_eq!(
        booking.visitor.unwrap().organisation,
        "Қоғамдық бірлестік «Мейірім»"
    );

    let removed = client
        .remove_session(pb::RemoveSessionRequest {
            official_id: "akim.talgar".into(),
            session_id: schedule.sessions[0].id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(removed.sessions.is_empty());
    // The booking made in it stands.
    let still = client
        .get_booking(pb::GetBookingRequest { id: booking.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(still.status, "booked");
    service.stop().await;
}
