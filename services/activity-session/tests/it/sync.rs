//! SyncSessionEvents: an offline client's batch applied in order and idempotently, and the
//! plausibility checks that reject a batch with the event's fields named.

use stride_kit::convert;
use stride_proto::activity_session::{
    self as pb, GetSessionRequest, OfflineSessionEvent, SessionAction as A, SessionState,
    StartSessionRequest, SyncSessionEventsRequest,
};
use stride_testkit::{
    authed,
    bus::{assert_invalid, reason},
};
use time::{Duration, OffsetDateTime, macros::datetime};
use tonic::Code;
use uuid::Uuid;

use crate::support::{FOCUS_25, Harness, start, start_req};

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

fn ev(session: Uuid, action: A, at: OffsetDateTime) -> OfflineSessionEvent {
    OfflineSessionEvent {
        event_id: Uuid::now_v7().to_string(),
        session_id: session.to_string(),
        action: action as i32,
        occur_time: Some(convert::timestamp(at)),
        start: (action == A::Start).then(|| StartSessionRequest {
            activity_id: FOCUS_25.into(),
            ..Default::default()
        }),
    }
}

async fn sync(
    h: &Harness,
    user: Uuid,
    events: Vec<OfflineSessionEvent>,
) -> Result<pb::SyncSessionEventsResponse, tonic::Status> {
    h.client
        .clone()
        .sync_session_events(authed(SyncSessionEventsRequest { events }, &h.token(user)))
        .await
        .map(tonic::Response::into_inner)
}

async fn rows(h: &Harness, user: Uuid) -> Vec<(String, String, i64)> {
    sqlx::query_as(
        "SELECT id::text, state, active_ms FROM sessions WHERE user_id = $1 ORDER BY started_at",
    )
    .bind(user)
    .fetch_all(&h.db)
    .await
    .expect("rows")
}

#[tokio::test]
async fn a_batch_applied_twice_changes_nothing_the_second_time() {
    let (h, _p) = start(NOW).await;
    let user = Uuid::now_v7();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let t = |m: i64| NOW - Duration::hours(3) + Duration::minutes(m);
    let batch = vec![
        ev(a, A::Start, t(0)),
        ev(a, A::Pause, t(10)),
        ev(a, A::Resume, t(20)),
        ev(a, A::Complete, t(35)),
        ev(b, A::Start, t(40)),
        ev(b, A::Abort, t(41)),
    ];
    let first = sync(&h, user, batch.clone()).await.expect("first");
    assert_eq!((first.applied, first.duplicates), (6, 0));
    let done = first
        .sessions
        .iter()
        .find(|s| s.id == a.to_string())
        .expect("a");
    assert_eq!(done.state, SessionState::Completed as i32);
    assert_eq!(
        done.duration.as_ref().map(convert::from_duration),
        Some(Duration::minutes(25)),
        "35 minutes, 10 of them paused"
    );
    assert!(done.counts, "25 active minutes of 25 planned");
    let before = rows(&h, user).await;
    let events_before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM session_events WHERE user_id = $1")
            .bind(user)
            .fetch_one(&h.db)
            .await
            .unwrap();
    let outbox_before: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&h.db)
        .await
        .unwrap();

    let again = sync(&h, user, batch).await.expect("again");
    assert_eq!((again.applied, again.duplicates), (0, 6));
    assert_eq!(rows(&h, user).await, before);
    let events_after: i64 =
        sqlx::query_scalar("SELECT count(*) FROM session_events WHERE user_id = $1")
            .bind(user)
            .fetch_one(&h.db)
            .await
            .unwrap();
    let outbox_after: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&h.db)
        .await
        .unwrap();
    assert_eq!(
        (events_after, outbox_after),
        (events_before, outbox_before),
        "nothing re-announced"
    );
    assert_eq!(before.len(), 2);
    assert_eq!(before[1].1, "aborted");
    h.stop().await;
}

#[tokio::test]
async fn implausible_batches_are_rejected_whole_with_the_event_named() {
    let (mut h, _p) = start(NOW).await;
    let user = Uuid::now_v7();
    let a = Uuid::now_v7();

    // In the future beyond the 2-minute skew allowance (2 minutes is fine).
    let err = sync(&h, user, vec![ev(a, A::Start, NOW + Duration::minutes(3))])
        .await
        .unwrap_err();
    assert_invalid(&err, &["events[0].occur_time"]);
    // Out of order within a session.
    let err = sync(
        &h,
        user,
        vec![
            ev(a, A::Start, NOW - Duration::minutes(30)),
            ev(a, A::Pause, NOW - Duration::minutes(40)),
        ],
    )
    .await
    .unwrap_err();
    assert_invalid(&err, &["events[1].occur_time"]);
    assert!(
        rows(&h, user).await.is_empty(),
        "nothing of a rejected batch is applied"
    );
    // An impossible duration: a start more than 24 hours ago, or an end more than 24 hours
    // after the start (the session was synced, the device came back a day later).
    let err = sync(&h, user, vec![ev(a, A::Start, NOW - Duration::hours(25))])
        .await
        .unwrap_err();
    assert_invalid(&err, &["events[0].occur_time"]);
    let old = Uuid::now_v7();
    sync(&h, user, vec![ev(old, A::Start, NOW - Duration::hours(23))])
        .await
        .expect("start");
    h.clock.advance(Duration::hours(2));
    let err = sync(
        &h,
        user,
        vec![ev(old, A::Complete, NOW + Duration::hours(2))],
    )
    .await
    .unwrap_err();
    assert_invalid(&err, &["events[0].occur_time"]);
    sync(&h, user, vec![ev(old, A::Abort, NOW - Duration::hours(22))])
        .await
        .expect("abort it");

    // Overlapping sessions: b starts while a (10:00–10:30) ran.
    let b = Uuid::now_v7();
    sync(
        &h,
        user,
        vec![
            ev(a, A::Start, datetime!(2026-11-22 10:00 UTC)),
            ev(a, A::Complete, datetime!(2026-11-22 10:30 UTC)),
        ],
    )
    .await
    .expect("a");
    let err = sync(
        &h,
        user,
        vec![ev(b, A::Start, datetime!(2026-11-22 10:15 UTC))],
    )
    .await
    .unwrap_err();
    assert_invalid(&err, &["events[0].occur_time"]);
    // ... or b started before a and ends after a started.
    let err = sync(
        &h,
        user,
        vec![
            ev(b, A::Start, datetime!(2026-11-22 09:50 UTC)),
            ev(b, A::Stop, datetime!(2026-11-22 10:05 UTC)),
        ],
    )
    .await
    .unwrap_err();
    assert_invalid(&err, &["events[1].occur_time"]);
    // Reusing a session id for a start.
    let mut reuse = ev(a, A::Start, datetime!(2026-11-22 11:00 UTC));
    reuse.event_id = Uuid::now_v7().to_string();
    let err = sync(&h, user, vec![reuse]).await.unwrap_err();
    assert_invalid(&err, &["events[0].session_id"]);

    // Malformed events name every field.
    let err = sync(
        &h,
        user,
        vec![
            OfflineSessionEvent {
                event_id: "x".into(),
                session_id: String::new(),
                action: 0,
                occur_time: None,
                start: None,
            },
            OfflineSessionEvent {
                start: None,
                ..ev(b, A::Start, NOW)
            },
            OfflineSessionEvent {
                start: Some(start_req(FOCUS_25)),
                ..ev(b, A::Pause, NOW)
            },
        ],
    )
    .await
    .unwrap_err();
    assert_invalid(
        &err,
        &[
            "events[0].event_id",
            "events[0].session_id",
            "events[0].action",
            "events[0].occur_time",
            "events[1].start",
            "events[2].start",
        ],
    );
    let err = sync(&h, user, vec![]).await.unwrap_err();
    assert_invalid(&err, &["events"]);

    // An impossible transition in a batch names the state and the event; another user's session
    // is NOT_FOUND.
    let err = sync(&h, user, vec![ev(a, A::Resume, NOW)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "SESSION_NOT_ACTIVE");
    assert!(
        err.message().starts_with("events[0]: ") && err.message().contains("completed"),
        "{}",
        err.message()
    );
    let err = sync(&h, Uuid::now_v7(), vec![ev(a, A::Pause, NOW)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let got = h
        .client
        .get_session(authed(
            GetSessionRequest {
                session_id: a.to_string(),
            },
            &h.token(user),
        ))
        .await
        .expect("a is intact")
        .into_inner()
        .session
        .expect("s");
    assert_eq!(got.state, SessionState::Completed as i32);
    h.stop().await;
}

#[tokio::test]
async fn an_offline_session_continues_online() {
    let (h, _p) = start(NOW).await;
    let user = Uuid::now_v7();
    let a = Uuid::now_v7();
    sync(
        &h,
        user,
        vec![
            ev(a, A::Start, NOW - Duration::minutes(5)),
            ev(a, A::Pause, NOW - Duration::minutes(1)),
        ],
    )
    .await
    .expect("sync");
    let current = crate::support::current(&h, user).await.expect("live");
    assert_eq!(
        (current.id.as_str(), current.state),
        (a.to_string().as_str(), SessionState::Paused as i32)
    );
    assert_eq!(
        current.duration.as_ref().map(convert::from_duration),
        Some(Duration::minutes(4))
    );
    crate::support::act(&h, user, &a.to_string(), A::Resume)
        .await
        .expect("resume online");
    h.clock.advance(Duration::minutes(10));
    let done = crate::support::act(&h, user, &a.to_string(), A::Complete)
        .await
        .expect("complete");
    assert_eq!(
        done.duration.as_ref().map(convert::from_duration),
        Some(Duration::minutes(14))
    );
    h.stop().await;
}
