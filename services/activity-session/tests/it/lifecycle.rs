//! `user.deleted.v1` and `user.merged.v1`: the shared conformance suite, then what
//! activity-session's merge does with sessions (all move; one active session at most, the
//! target's wins).

use stride_kit::Clock as _;
use stride_proto::events;
use stride_testkit::{
    authed,
    bus::{Publisher, user_rows},
    conformance, fixtures,
};
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::support::{
    FOCUS_25, Harness, PUSHUPS, complete_req, current, directory_timezone, session, sessions, start,
};

/// Gives `user` a directory entry (from a profile update), a completed session and an active one.
async fn seed(h: &Harness, profile: &Publisher, user: Uuid) {
    let id = profile
        .publish(&fixtures::profile_updated(
            user,
            "Ada",
            "Europe/Paris",
            1,
            h.clock.now(),
        ))
        .await;
    h.consumed(id).await;
    session(h, user, FOCUS_25, true).await;
    session(h, user, FOCUS_25, false).await;
    crate::support::routine(h, user, "Morning", vec![crate::support::step(PUSHUPS, 60)]).await;
}

async fn set_timezone(h: &Harness, profile: &Publisher, user: Uuid, tz: &str) {
    let id = profile
        .publish(&fixtures::profile_updated(
            user,
            "Ada",
            tz,
            1,
            h.clock.now(),
        ))
        .await;
    h.consumed(id).await;
}

fn gone(rows: &[(String, i64)]) -> bool {
    rows.iter().all(|(_, n)| *n == 0)
}

#[tokio::test]
async fn user_deleted_keeps_the_lifecycle_contract() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let profile = Publisher::start(&h.amqp, "profile").await;
    conformance::user_deleted(&h, |u| seed(&h, &profile, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn user_merged_keeps_the_lifecycle_contract() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let profile = Publisher::start(&h.amqp, "profile").await;
    conformance::user_merged(&h, |u| seed(&h, &profile, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn user_merged_moves_the_guests_sessions_and_keeps_the_targets_active_one() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let profile = Publisher::start(&h.amqp, "profile").await;
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for (u, tz) in [
        (source, "Asia/Tokyo"),
        (target, "Europe/Paris"),
        (bystander, "America/New_York"),
    ] {
        set_timezone(&h, &profile, u, tz).await;
    }
    let guest_done = session(&h, source, FOCUS_25, true).await;
    let guest_active = session(&h, source, FOCUS_25, false).await;
    let target_done = session(&h, target, PUSHUPS, true).await;
    let target_active = session(&h, target, PUSHUPS, false).await;
    session(&h, bystander, FOCUS_25, true).await;
    session(&h, bystander, FOCUS_25, false).await;
    let bystander_rows = user_rows(&h.db, bystander).await;
    let bystander_sessions = sessions(&h, bystander).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let merge = fixtures::user_merged(&source.to_string(), &target.to_string(), h.clock.now());
    let event_id = auth.publish(&merge).await;
    h.consumed(event_id).await;

    assert!(gone(&user_rows(&h.db, source).await), "no row of the guest");
    // The guest's completed session is the target's now; its active one was dropped because the
    // target's own active session wins.
    let mut want = vec![
        (guest_done.id.clone(), "completed".to_owned()),
        (target_done.id.clone(), "completed".to_owned()),
        (target_active.id.clone(), "active".to_owned()),
    ];
    want.sort();
    assert_eq!(sessions(&h, target).await, want);
    let none: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE id = $1::uuid")
        .bind(&guest_active.id)
        .fetch_one(&h.db)
        .await
        .expect("count");
    assert_eq!(none, 0);
    assert_eq!(
        current(&h, target).await.map(|s| s.id),
        Some(target_active.id.clone())
    );
    assert_eq!(current(&h, source).await, None);
    // The moved session keeps what it recorded when it completed (the guest's zone then).
    let (tz, local): (String, time::Date) =
        sqlx::query_as("SELECT timezone, local_date FROM sessions WHERE id = $1::uuid")
            .bind(&guest_done.id)
            .fetch_one(&h.db)
            .await
            .expect("moved session");
    assert_eq!((tz.as_str(), local), ("Asia/Tokyo", date!(2026 - 11 - 22)));
    assert_eq!(
        directory_timezone(&h, target).await.as_deref(),
        Some("Europe/Paris")
    );
    assert_eq!(directory_timezone(&h, source).await, None);
    assert_eq!(user_rows(&h.db, bystander).await, bystander_rows);
    assert_eq!(sessions(&h, bystander).await, bystander_sessions);

    // A re-publication under a new id finds no guest row and changes nothing (a redelivery of
    // the same id is the conformance suite's).
    let again = auth.publish(&merge).await;
    h.consumed(again).await;
    assert_eq!(sessions(&h, target).await, want);
    assert!(gone(&user_rows(&h.db, source).await));
    assert_eq!(user_rows(&h.db, bystander).await, bystander_rows);
    h.stop().await;
}

#[tokio::test]
async fn user_merged_hands_the_guests_active_session_to_a_target_without_one() {
    let (mut h, mut probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let profile = Publisher::start(&h.amqp, "profile").await;
    let (source, target) = (Uuid::now_v7(), Uuid::now_v7());
    for (u, tz) in [(source, "Asia/Tokyo"), (target, "Europe/Paris")] {
        set_timezone(&h, &profile, u, tz).await;
    }
    let guest_active = session(&h, source, FOCUS_25, false).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let id = auth
        .publish(&fixtures::user_merged(
            &source.to_string(),
            &target.to_string(),
            h.clock.now(),
        ))
        .await;
    h.consumed(id).await;
    assert!(gone(&user_rows(&h.db, source).await));
    assert_eq!(
        current(&h, target).await.map(|s| s.id),
        Some(guest_active.id.clone())
    );

    // The guest can no longer act on it, though the service kept it as the guest's.
    h.clock.advance(time::Duration::minutes(25));
    let refused = h
        .client
        .complete_session(authed(complete_req(&guest_active.id), &h.token(source)))
        .await
        .expect_err("the guest's session is the target's now");
    assert_eq!(refused.code(), tonic::Code::NotFound, "{refused:?}");

    // The target completes it as its own, in its own zone.
    let token = h.token(target);
    h.client
        .complete_session(authed(complete_req(&guest_active.id), &token))
        .await
        .expect("the target completes the guest's session");
    let (_, _, _, ev) = probe.next::<events::SessionCompleted>().await;
    assert_eq!(ev.user_id, target.to_string());
    assert_eq!(ev.session_id, guest_active.id);
    assert_eq!(ev.timezone, "Europe/Paris");
    h.stop().await;
}
