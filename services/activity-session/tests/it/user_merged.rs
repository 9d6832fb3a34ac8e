//! `user.merged.v1` moves the guest's sessions to the target account (one active session at
//! most: the target's wins) and leaves no row of the guest.

use prost::Message as _;
use stride_bus::Event as _;
use stride_kit::{clock::Clock as _, convert};
use stride_proto::{
    activity_session::{CompleteSessionRequest, GetCurrentSessionRequest, Session},
    events,
};
use stride_testkit::{
    EVENT_DEADLINE, authed,
    bus::{consumed_count, publish_raw},
    eventually,
};
use time::{OffsetDateTime, macros::datetime};
use uuid::Uuid;

use crate::support::{Harness, Probe, Publisher, user_rows};

/// `user.merged.v1` as auth publishes it.
fn merged(source: &str, target: &str, at: OffsetDateTime) -> events::UserMerged {
    events::UserMerged {
        source_user_id: source.into(),
        target_user_id: target.into(),
        occur_time: Some(convert::timestamp(at)),
        timezone: "UTC".into(),
        local_date: Some(convert::date(at.date())),
    }
}

/// Starts a session of `activity` for `user`; completes it after 25 minutes when `complete`.
async fn session(h: &mut Harness, user: Uuid, activity: &str, complete: bool) -> Session {
    let token = h.token(user);
    let s = h
        .client
        .start_session(authed(super::start_req(activity), &token))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("session");
    if !complete {
        return s;
    }
    h.clock.advance(time::Duration::minutes(25));
    h.client
        .complete_session(authed(CompleteSessionRequest { session_id: s.id }, &token))
        .await
        .expect("complete")
        .into_inner()
        .session
        .expect("session")
}

async fn current(h: &mut Harness, user: Uuid) -> Option<Session> {
    let token = h.token(user);
    h.client
        .get_current_session(authed(GetCurrentSessionRequest {}, &token))
        .await
        .expect("current session")
        .into_inner()
        .session
}

/// `(id, state)` of every session of `user`, by id.
async fn sessions(h: &Harness, user: Uuid) -> Vec<(String, String)> {
    sqlx::query_as("SELECT id::text, state FROM sessions WHERE user_id = $1 ORDER BY id")
        .bind(user)
        .fetch_all(&h.db)
        .await
        .expect("sessions")
}

async fn timezone(h: &Harness, user: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT timezone FROM user_timezones WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&h.db)
        .await
        .expect("timezone")
}

fn gone(rows: &[(String, i64)]) -> bool {
    rows.iter().all(|(_, n)| *n == 0)
}

#[tokio::test]
async fn user_merged_moves_the_guests_sessions_and_keeps_the_targets_active_one() {
    let mut h = Harness::start(datetime!(2026-11-22 10:00 UTC)).await;
    // A consumer of session.completed.v1 must exist, or the relay keeps retrying.
    let _probe = Probe::bind(&h.amqp, "session.completed.v1").await;
    let profile_service = Publisher::start(&h.amqp, "profile").await;
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for (u, tz) in [
        (source, "Asia/Tokyo"),
        (target, "Europe/Paris"),
        (bystander, "America/New_York"),
    ] {
        let id = profile_service.publish(&super::profile(u, tz, 1)).await;
        h.consumed(id).await;
    }
    let guest_done = session(&mut h, source, super::FOCUS_25, true).await;
    let guest_active = session(&mut h, source, super::FOCUS_25, false).await;
    let target_done = session(&mut h, target, super::PUSHUPS, true).await;
    let target_active = session(&mut h, target, super::PUSHUPS, false).await;
    session(&mut h, bystander, super::FOCUS_25, true).await;
    session(&mut h, bystander, super::FOCUS_25, false).await;
    let bystander_rows = user_rows(&h.db, bystander).await;
    let bystander_sessions = sessions(&h, bystander).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let merge = merged(&source.to_string(), &target.to_string(), h.clock.now());
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
        current(&mut h, target).await.map(|s| s.id),
        Some(target_active.id.clone())
    );
    assert_eq!(current(&mut h, source).await, None);
    // The moved session keeps what it recorded when it completed (the guest's zone then).
    let (tz, local): (String, time::Date) =
        sqlx::query_as("SELECT timezone, local_date FROM sessions WHERE id = $1::uuid")
            .bind(&guest_done.id)
            .fetch_one(&h.db)
            .await
            .expect("moved session");
    assert_eq!(
        (tz.as_str(), local),
        ("Asia/Tokyo", time::macros::date!(2026 - 11 - 22))
    );
    assert_eq!(timezone(&h, target).await.as_deref(), Some("Europe/Paris"));
    assert_eq!(user_rows(&h.db, bystander).await, bystander_rows);
    assert_eq!(sessions(&h, bystander).await, bystander_sessions);

    // A redelivery of the same message is absorbed; a re-publication under a new id finds no
    // guest row and changes nothing.
    publish_raw(
        &h.amqp,
        event_id,
        events::UserMerged::TYPE,
        "auth",
        &merge.encode_to_vec(),
    )
    .await;
    eventually(EVENT_DEADLINE, "the redelivery is absorbed", || async {
        (consumed_count("activity-session", "duplicate") == 1).then_some(())
    })
    .await;
    let again = auth.publish(&merge).await;
    h.consumed(again).await;
    assert_eq!(sessions(&h, target).await, want);
    assert!(gone(&user_rows(&h.db, source).await));
    assert_eq!(user_rows(&h.db, bystander).await, bystander_rows);
    h.stop().await;
}

#[tokio::test]
async fn user_merged_hands_the_guests_active_session_to_a_target_without_one() {
    let mut h = Harness::start(datetime!(2026-11-22 10:00 UTC)).await;
    let mut probe = Probe::bind(&h.amqp, "session.completed.v1").await;
    let profile_service = Publisher::start(&h.amqp, "profile").await;
    let (source, target) = (Uuid::now_v7(), Uuid::now_v7());
    for (u, tz) in [(source, "Asia/Tokyo"), (target, "Europe/Paris")] {
        let id = profile_service.publish(&super::profile(u, tz, 1)).await;
        h.consumed(id).await;
    }
    let guest_active = session(&mut h, source, super::FOCUS_25, false).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let id = auth
        .publish(&merged(
            &source.to_string(),
            &target.to_string(),
            h.clock.now(),
        ))
        .await;
    h.consumed(id).await;
    assert!(gone(&user_rows(&h.db, source).await));
    assert_eq!(
        current(&mut h, target).await.map(|s| s.id),
        Some(guest_active.id.clone())
    );

    // The target completes it as its own, in its own zone.
    h.clock.advance(time::Duration::minutes(25));
    let token = h.token(target);
    h.client
        .complete_session(authed(
            CompleteSessionRequest {
                session_id: guest_active.id.clone(),
            },
            &token,
        ))
        .await
        .expect("the target completes the guest's session");
    let (_, _, _, ev) = probe.next::<events::SessionCompleted>().await;
    assert_eq!(ev.user_id, target.to_string());
    assert_eq!(ev.session_id, guest_active.id);
    assert_eq!(ev.timezone, "Europe/Paris");
    h.stop().await;
}

#[tokio::test]
async fn user_merged_with_an_invalid_payload_is_dead_lettered() {
    let mut h = Harness::start(datetime!(2026-11-22 10:00 UTC)).await;
    let (source, target) = (Uuid::now_v7(), Uuid::now_v7());
    let guest_active = session(&mut h, source, super::FOCUS_25, false).await;
    let before = (sessions(&h, source).await, sessions(&h, target).await);

    let auth = Publisher::start(&h.amqp, "auth").await;
    let (s, t, now) = (source.to_string(), target.to_string(), h.clock.now());
    for bad in [
        merged("not-a-uuid", &t, now),
        merged(&s, "", now),
        merged(&s, &s, now),
    ] {
        auth.publish(&bad).await;
    }
    publish_raw(
        &h.amqp,
        Uuid::now_v7(),
        events::UserMerged::TYPE,
        "auth",
        b"\xff\xff\xff",
    )
    .await;
    eventually(
        EVENT_DEADLINE,
        "every bad event is dead-lettered",
        || async { (consumed_count("activity-session", "dead_lettered") == 4).then_some(()) },
    )
    .await;
    assert_eq!(consumed_count("activity-session", "handled"), 0);
    assert_eq!(
        (sessions(&h, source).await, sessions(&h, target).await),
        before
    );
    assert_eq!(
        current(&mut h, source).await.map(|s| s.id),
        Some(guest_active.id)
    );
    h.stop().await;
}
