//! A slot is never booked twice (reg 6.1): 50 concurrent bookings of one slot over real
//! gRPC against the real database; exactly one wins.

mod common;

use std::time::Duration;

use bakylau_testkit::TestEnv;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_bookings_of_one_slot_give_exactly_one_booking() {
    let env = TestEnv::new().await.unwrap();
    let mut tap = env.event_tap(&["reception.booked"]).await.unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    common::setup_official(&mut client, common::OFFICIAL).await;
    let slot = common::free_slots(&mut client, common::OFFICIAL).await[0]
        .id
        .clone();

    let mut calls = Vec::new();
    for i in 0..50u32 {
        let mut client = client.clone();
        let request = common::book_request(&slot, i);
        calls.push(tokio::spawn(async move { client.book(request).await }));
    }
    let mut won = Vec::new();
    let mut refused = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(r) => won.push(r.into_inner()),
            Err(s) => {
                assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
                assert!(s.message().contains("already booked"), "{}", s.message());
                assert!(s.message().contains("slot_id"), "{}", s.message());
                refused += 1;
            }
        }
    }
    assert_eq!(won.len(), 1, "exactly one booking wins");
    assert_eq!(refused, 49);
    let winner = won[0].booking.clone().unwrap();
    assert_eq!(winner.slot_id, slot);
    assert_eq!(winner.status, "booked");

    // The database agrees: one booking occupies the slot.
    let pool = common::pool(&env).await;
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM bookings WHERE official_id = $1 AND status <> 'cancelled'",
    )
    .bind(common::OFFICIAL)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(active, 1);

    // And one `reception.booked` event, about the winner.
    let event = tap
        .next(Duration::from_secs(30))
        .await
        .expect("booked event");
    assert_eq!(event.envelope.subject, winner.id);
    let free = common::free_slots(&mut client, common::OFFICIAL).await;
    assert!(
        free.iter().all(|s| s.id != slot),
        "the slot is no longer free"
    );
    pool.close().await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reschedules_into_one_slot_give_exactly_one_move() {
    let env = TestEnv::new().await.unwrap();
    let service = common::start(&env).await;
    let mut client = service.client().await;
    common::setup_official(&mut client, common::OFFICIAL).await;
    let slots = common::free_slots(&mut client, common::OFFICIAL).await;
    let target = slots[0].id.clone();
    let mut bookings = Vec::new();
    for (i, slot) in slots[1..11].iter().enumerate() {
        let b = client
            .book(common::book_request(&slot.id, i as u32))
            .await
            .unwrap()
            .into_inner();
        bookings.push(b.booking.unwrap().id);
    }
    let mut calls = Vec::new();
    for id in bookings {
        let mut client = client.clone();
        let target = target.clone();
        calls.push(tokio::spawn(async move {
            client
                .reschedule(bakylau_proto::reception::v1::RescheduleRequest {
                    booking_id: id,
                    slot_id: target,
                })
                .await
        }));
    }
    let mut moved = 0;
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => moved += 1,
            Err(s) => assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}"),
        }
    }
    assert_eq!(moved, 1);
    service.stop().await;
}
