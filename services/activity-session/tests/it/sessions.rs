//! StartSession, CompleteSession and GetCurrentSession: the session lifecycle, one active session
//! per user, other users' sessions, malformed requests.

use stride_kit::convert;
use stride_proto::{
    activity_session::{ActivityKind, GetCurrentSessionRequest, SessionState, StartSessionRequest},
    events,
};
use stride_testkit::{
    authed,
    bus::{assert_invalid, reason},
};
use time::macros::{date, datetime};
use tonic::Code;
use uuid::Uuid;

use crate::support::{FOCUS_25, PUSHUPS, complete_req, start, start_req};

#[tokio::test]
async fn complete_session_reports_the_duration_of_a_25_minute_focus_block() {
    let (mut h, mut probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let user = Uuid::now_v7();
    let token = h.token(user);

    let started = h
        .client
        .start_session(authed(start_req(FOCUS_25), &token))
        .await
        .expect("start")
        .into_inner();
    let s = started.session.expect("session");
    assert_eq!(s.state, SessionState::Active as i32);
    assert_eq!(s.kind, ActivityKind::Focus as i32);
    assert_eq!(
        s.planned_duration.as_ref().map(convert::from_duration),
        Some(time::Duration::minutes(25))
    );
    assert_eq!(
        s.start_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-22 10:00 UTC))
    );

    let current = h
        .client
        .get_current_session(authed(GetCurrentSessionRequest {}, &token))
        .await
        .expect("current");
    assert_eq!(
        current.into_inner().session.map(|c| c.id),
        Some(s.id.clone())
    );

    h.clock.advance(time::Duration::minutes(25));
    let done = h
        .client
        .complete_session(authed(complete_req(&s.id), &token))
        .await
        .expect("complete")
        .into_inner()
        .session
        .expect("session");
    assert_eq!(done.state, SessionState::Completed as i32);
    assert_eq!(
        done.duration.as_ref().map(convert::from_duration),
        Some(time::Duration::minutes(25))
    );
    assert_eq!(
        done.end_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-22 10:25 UTC))
    );
    // No profile yet: the user's day is a UTC day.
    assert_eq!(
        done.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 22))
    );
    assert_eq!(done.timezone, "UTC");

    let current = h
        .client
        .get_current_session(authed(GetCurrentSessionRequest {}, &token))
        .await
        .expect("current");
    assert!(current.into_inner().session.is_none());

    // Completing again is refused; a new session can start now.
    let again = h
        .client
        .complete_session(authed(complete_req(&s.id), &token))
        .await
        .expect_err("already completed");
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(reason(&again), "SESSION_NOT_ACTIVE");
    h.client
        .start_session(authed(start_req(PUSHUPS), &token))
        .await
        .expect("next session");
    let (_, _, _, e) = probe.next::<events::SessionCompleted>().await;
    assert_eq!(e.session_id, s.id);
    h.stop().await;
}

#[tokio::test]
async fn start_session_while_one_is_active_fails_even_when_concurrent() {
    let (mut h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let token = h.token(Uuid::now_v7());
    h.client
        .start_session(authed(start_req(FOCUS_25), &token))
        .await
        .expect("first start");
    let err = h
        .client
        .start_session(authed(start_req(PUSHUPS), &token))
        .await
        .expect_err("second start");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "SESSION_ALREADY_ACTIVE");

    // Racing starts of a fresh user: the unique index lets exactly one win.
    let token = h.token(Uuid::now_v7());
    let attempts = (0..6).map(|_| {
        let mut c = h.client.clone();
        let req = authed(start_req(FOCUS_25), &token);
        async move { c.start_session(req).await }
    });
    let results = futures::future::join_all(attempts).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.code(), Code::FailedPrecondition);
        assert_eq!(reason(r), "SESSION_ALREADY_ACTIVE");
    }
    h.stop().await;
}

#[tokio::test]
async fn complete_session_of_another_user_or_an_unknown_id_is_not_found() {
    let (mut h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let alice = h.token(Uuid::now_v7());
    let bob = h.token(Uuid::now_v7());
    let s = h
        .client
        .start_session(authed(start_req(FOCUS_25), &alice))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("s");

    let err = h
        .client
        .complete_session(authed(complete_req(&s.id), &bob))
        .await
        .expect_err("bob cannot complete alice's session");
    assert_eq!(err.code(), Code::NotFound);
    let err = h
        .client
        .complete_session(authed(complete_req(&Uuid::now_v7().to_string()), &alice))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    // Bob sees no current session; alice's is untouched.
    let current = h
        .client
        .get_current_session(authed(GetCurrentSessionRequest {}, &bob))
        .await
        .expect("current");
    assert!(current.into_inner().session.is_none());
    let current = h
        .client
        .get_current_session(authed(GetCurrentSessionRequest {}, &alice))
        .await
        .expect("current");
    assert_eq!(
        current.into_inner().session.map(|c| c.state),
        Some(SessionState::Active as i32)
    );
    h.stop().await;
}

#[tokio::test]
async fn malformed_requests_name_their_fields() {
    let (mut h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let token = h.token(Uuid::now_v7());

    let err = h
        .client
        .start_session(authed(start_req("not-a-uuid"), &token))
        .await
        .expect_err("bad id");
    assert_invalid(&err, &["activity_id"]);
    let err = h
        .client
        .start_session(authed(
            StartSessionRequest {
                activity_id: String::new(),
                planned_duration: Some(convert::duration(time::Duration::seconds(30))),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect_err("bad id and duration");
    assert_invalid(&err, &["activity_id", "planned_duration"]);
    let err = h
        .client
        .start_session(authed(
            StartSessionRequest {
                activity_id: FOCUS_25.into(),
                planned_duration: Some(convert::duration(
                    time::Duration::hours(4) + time::Duration::seconds(1),
                )),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect_err("too long");
    assert_invalid(&err, &["planned_duration"]);
    let err = h
        .client
        .complete_session(authed(complete_req("x"), &token))
        .await
        .expect_err("bad");
    assert_invalid(&err, &["session_id"]);

    let err = h
        .client
        .start_session(authed(start_req(&Uuid::now_v7().to_string()), &token))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);

    // A custom planned duration within bounds is kept.
    let s = h
        .client
        .start_session(authed(
            StartSessionRequest {
                activity_id: FOCUS_25.into(),
                planned_duration: Some(convert::duration(time::Duration::minutes(50))),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("s");
    assert_eq!(
        s.planned_duration.as_ref().map(convert::from_duration),
        Some(time::Duration::minutes(50))
    );

    let err = h
        .client
        .get_current_session(tonic::Request::new(GetCurrentSessionRequest {}))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}
