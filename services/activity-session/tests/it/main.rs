//! Service tests for activity-session against real PostgreSQL and RabbitMQ.

mod support;
mod user_deleted;
mod user_merged;

use std::collections::HashSet;

use stride_kit::convert;
use stride_proto::{
    activity_session::{
        ActivityKind, CompleteSessionRequest, GetCurrentSessionRequest, ListActivitiesRequest,
        SessionState, StartSessionRequest,
    },
    events,
};
use stride_testkit::authed;
use support::{Harness, Probe, Publisher, assert_invalid, reason};
use time::macros::{date, datetime};
use tonic::Code;
use uuid::Uuid;

const FOCUS_25: &str = "a0000000-0000-4000-8000-000000000001";
const PUSHUPS: &str = "a0000000-0000-4000-8000-000000000005";

fn start_req(activity_id: &str) -> StartSessionRequest {
    StartSessionRequest {
        activity_id: activity_id.into(),
        planned_duration: None,
    }
}

#[tokio::test]
async fn focus_session_of_25_minutes_reports_its_duration() {
    let mut h = Harness::start(datetime!(2026-11-22 10:00 UTC)).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    // A consumer of session.completed.v1 must exist, or the relay keeps retrying the unroutable event.
    let mut probe = Probe::bind(&h.amqp, "session.completed.v1").await;

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
        .complete_session(authed(
            CompleteSessionRequest {
                session_id: s.id.clone(),
            },
            &token,
        ))
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
        .complete_session(authed(
            CompleteSessionRequest {
                session_id: s.id.clone(),
            },
            &token,
        ))
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
async fn a_second_start_while_active_fails_even_when_concurrent() {
    let mut h = Harness::start(datetime!(2026-11-22 10:00 UTC)).await;
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
async fn another_users_or_unknown_session_is_not_found() {
    let mut h = Harness::start(datetime!(2026-11-22 10:00 UTC)).await;
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
        .complete_session(authed(
            CompleteSessionRequest {
                session_id: s.id.clone(),
            },
            &bob,
        ))
        .await
        .expect_err("bob cannot complete alice's session");
    assert_eq!(err.code(), Code::NotFound);
    let err = h
        .client
        .complete_session(authed(
            CompleteSessionRequest {
                session_id: Uuid::now_v7().to_string(),
            },
            &alice,
        ))
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
    let mut h = Harness::start(datetime!(2026-11-22 10:00 UTC)).await;
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
            },
            &token,
        ))
        .await
        .expect_err("too long");
    assert_invalid(&err, &["planned_duration"]);
    let err = h
        .client
        .complete_session(authed(
            CompleteSessionRequest {
                session_id: "x".into(),
            },
            &token,
        ))
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

#[tokio::test]
async fn pagination_covers_every_activity_exactly_once() {
    let mut h = Harness::start(datetime!(2026-11-22 10:00 UTC)).await;
    let token = h.token(Uuid::now_v7());
    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let res = h
            .client
            .list_activities(authed(
                ListActivitiesRequest {
                    page_size: 3,
                    page_token: page_token.clone(),
                    kind: 0,
                },
                &token,
            ))
            .await
            .expect("list")
            .into_inner();
        assert!(res.activities.len() <= 3);
        seen.extend(res.activities.into_iter().map(|a| a.slug));
        pages += 1;
        if res.next_page_token.is_empty() {
            break;
        }
        page_token = res.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 8, "{seen:?}");
    for slug in [
        "focus-25",
        "break-5",
        "break-15",
        "study-45",
        "pushups",
        "squats",
        "plank",
        "jumping-jacks",
    ] {
        assert!(seen.iter().any(|s| s == slug), "{slug} missing");
    }

    let all = h
        .client
        .list_activities(authed(ListActivitiesRequest::default(), &token))
        .await
        .expect("default page")
        .into_inner();
    assert_eq!(all.activities.len(), 8);
    assert!(all.next_page_token.is_empty());
    let focus = all
        .activities
        .iter()
        .find(|a| a.slug == "focus-25")
        .expect("focus-25");
    assert_eq!(focus.id, FOCUS_25);
    assert_eq!(focus.name, "Focus");
    assert_eq!(
        focus.default_duration.as_ref().map(convert::from_duration),
        Some(time::Duration::minutes(25))
    );

    let workouts = h
        .client
        .list_activities(authed(
            ListActivitiesRequest {
                kind: ActivityKind::Workout as i32,
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("workouts")
        .into_inner();
    assert_eq!(workouts.activities.len(), 4);
    assert!(
        workouts
            .activities
            .iter()
            .all(|a| a.kind == ActivityKind::Workout as i32)
    );

    let err = h
        .client
        .list_activities(authed(
            ListActivitiesRequest {
                page_token: "garbage!".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect_err("garbage token");
    assert_invalid(&err, &["page_token"]);
    let err = h
        .client
        .list_activities(authed(
            ListActivitiesRequest {
                page_size: 101,
                kind: 42,
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect_err("too big");
    assert_invalid(&err, &["page_size", "kind"]);
    h.stop().await;
}

fn profile(user: Uuid, timezone: &str, revision: i64) -> events::ProfileUpdated {
    events::ProfileUpdated {
        user_id: user.to_string(),
        display_name: "Ada".into(),
        timezone: timezone.into(),
        locale: "en".into(),
        occur_time: Some(convert::timestamp(datetime!(2026-11-01 00:00 UTC))),
        revision,
        local_date: None,
    }
}

#[tokio::test]
async fn profile_timezone_sets_the_local_date_of_the_session_and_its_event() {
    let mut h = Harness::start(datetime!(2026-11-22 16:05 UTC)).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let profile_service = Publisher::start(&h.amqp, "profile").await;
    let mut probe = Probe::bind(&h.amqp, "session.completed.v1").await;

    let id = profile_service
        .publish(&profile(user, "Asia/Tokyo", 1))
        .await;
    h.consumed(id).await;

    let s = h
        .client
        .start_session(authed(start_req(FOCUS_25), &token))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("s");
    h.clock.advance(time::Duration::minutes(25));
    let done = h
        .client
        .complete_session(authed(
            CompleteSessionRequest {
                session_id: s.id.clone(),
            },
            &token,
        ))
        .await
        .expect("complete")
        .into_inner()
        .session
        .expect("s");
    // 16:30 UTC is 01:30 the next day in Tokyo.
    assert_eq!(
        done.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 23))
    );
    assert_eq!(done.timezone, "Asia/Tokyo");

    let (event_id, event_type, producer, e) = probe.next::<events::SessionCompleted>().await;
    assert_eq!(event_type, "session.completed.v1");
    assert_eq!(producer, "activity-session");
    assert_eq!(event_id.get_version_num(), 7);
    assert_eq!(e.user_id, user.to_string());
    assert_eq!(e.session_id, s.id);
    assert_eq!(e.activity_id, FOCUS_25);
    assert_eq!(e.activity_kind, "focus");
    assert_eq!(
        e.start_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-22 16:05 UTC))
    );
    assert_eq!(
        e.end_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-22 16:30 UTC))
    );
    assert_eq!(
        e.duration.as_ref().map(convert::from_duration),
        Some(time::Duration::minutes(25))
    );
    assert_eq!(
        e.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 23))
    );
    assert_eq!(e.timezone, "Asia/Tokyo");
    // One completion, one event.
    assert!(probe.quiet_for(std::time::Duration::from_millis(500)).await);
    h.stop().await;
}

#[tokio::test]
async fn a_stale_profile_revision_does_not_overwrite_a_newer_one() {
    let h = Harness::start(datetime!(2026-11-22 16:05 UTC)).await;
    let user = Uuid::now_v7();
    let profile_service = Publisher::start(&h.amqp, "profile").await;
    let timezone = || async {
        sqlx::query_scalar::<_, String>("SELECT timezone FROM user_timezones WHERE user_id = $1")
            .bind(user)
            .fetch_one(&h.db)
            .await
            .expect("timezone row")
    };

    let newer = profile_service
        .publish(&profile(user, "Asia/Tokyo", 5))
        .await;
    h.consumed(newer).await;
    let stale = profile_service
        .publish(&profile(user, "Europe/Paris", 3))
        .await;
    h.consumed(stale).await;
    assert_eq!(timezone().await, "Asia/Tokyo");

    let newest = profile_service
        .publish(&profile(user, "Europe/Paris", 6))
        .await;
    h.consumed(newest).await;
    assert_eq!(timezone().await, "Europe/Paris");
    h.stop().await;
}
