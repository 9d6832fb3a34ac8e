//! RecordSessionEvent, GetSession, ListSessions: the state machine through the API (every
//! refused transition says the current state), active time without pauses, a routine's steps,
//! integrity (`counts`) on `session.completed.v1`, the other session events, others' ids.

use stride_kit::convert;
use stride_proto::{
    Event as _,
    activity_session::{
        self as pb, GetSessionRequest, ListSessionsRequest, SessionAction as A, SessionKind,
        SessionState, StartSessionRequest,
    },
    events,
};
use stride_testkit::{
    authed,
    bus::{Probe, assert_invalid, reason},
};
use time::{Duration, macros::datetime};
use tonic::Code;
use uuid::Uuid;

use crate::support::{
    BREAK_5, FOCUS_25, PUSHUPS, STUDY_45, act, complete_req, routine, start, start_req, step,
};

fn secs(d: &Option<prost_types::Duration>) -> i64 {
    d.as_ref()
        .map(convert::from_duration)
        .unwrap_or_default()
        .whole_seconds()
}

#[tokio::test]
async fn pauses_are_excluded_and_a_long_enough_session_counts() {
    let (mut h, mut completed) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let mut others = Probe::bind(&h.amqp, events::SessionPaused::TYPE).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let s = h
        .client
        .start_session(authed(start_req(FOCUS_25), &token))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("s");
    h.clock.advance(Duration::minutes(10));
    let p = act(&h, user, &s.id, A::Pause).await.expect("pause");
    assert_eq!(p.state, SessionState::Paused as i32);
    assert_eq!(secs(&p.duration), 600);
    let (_, _, _, paused) = others.next::<events::SessionPaused>().await;
    assert_eq!(paused.session_id, s.id);
    let facts = paused.session.expect("facts");
    assert_eq!(
        (facts.kind.as_str(), secs(&facts.active_duration)),
        ("focus", 600)
    );

    // A paused timer stands still: a refresh restores it as it was.
    h.clock.advance(Duration::minutes(30));
    let current = crate::support::current(&h, user).await.expect("current");
    assert_eq!(
        (current.state, secs(&current.duration)),
        (SessionState::Paused as i32, 600)
    );
    assert!(current.paused_time.is_some());

    act(&h, user, &s.id, A::Resume).await.expect("resume");
    h.clock.advance(Duration::minutes(5));
    let done = act(&h, user, &s.id, A::Complete).await.expect("complete");
    assert_eq!(done.state, SessionState::Completed as i32);
    assert_eq!(
        secs(&done.duration),
        15 * 60,
        "45 minutes of wall time, 15 active"
    );
    assert!(done.counts, "15 of 25 planned minutes is over half");
    assert_eq!(done.count_reason, "ACTIVE_TIME_REACHED_MINIMUM");
    let (_, _, _, e) = completed.next::<events::SessionCompleted>().await;
    assert_eq!((e.counts, secs(&e.duration)), (Some(true), 900));
    assert_eq!(e.count_reason, "ACTIVE_TIME_REACHED_MINIMUM");
    assert_eq!(secs(&e.planned_duration), 1500);
    h.stop().await;
}

#[tokio::test]
async fn three_instant_completions_do_not_count() {
    // The seed's exploit: start and complete three times within a second.
    let (mut h, mut completed) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    for _ in 0..3 {
        let s = h
            .client
            .start_session(authed(start_req(FOCUS_25), &token))
            .await
            .expect("start")
            .into_inner()
            .session
            .expect("s");
        let done = h
            .client
            .complete_session(authed(complete_req(&s.id), &token))
            .await
            .expect("complete")
            .into_inner()
            .session
            .expect("s");
        assert!(!done.counts);
        assert_eq!(done.count_reason, "ACTIVE_TIME_BELOW_MINIMUM");
        let (_, _, _, e) = completed.next::<events::SessionCompleted>().await;
        assert_eq!(e.counts, Some(false));
    }
    h.stop().await;
}

#[tokio::test]
async fn every_impossible_transition_is_refused_naming_the_current_state() {
    let (mut h, _p) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let s = h
        .client
        .start_session(authed(start_req(FOCUS_25), &token))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("s");

    let refused = |e: tonic::Status, reason_: &str, state: &str| {
        assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
        assert_eq!(reason(&e), reason_);
        assert!(e.message().contains(state), "{} names {state}", e.message());
    };
    // Running: resume is impossible; a single activity has no next or previous step.
    refused(
        act(&h, user, &s.id, A::Resume).await.unwrap_err(),
        "SESSION_INVALID_TRANSITION",
        "running",
    );
    refused(
        act(&h, user, &s.id, A::Next).await.unwrap_err(),
        "SESSION_STEP_OUT_OF_RANGE",
        "last step",
    );
    refused(
        act(&h, user, &s.id, A::Previous).await.unwrap_err(),
        "SESSION_STEP_OUT_OF_RANGE",
        "first step",
    );
    act(&h, user, &s.id, A::Pause).await.expect("pause");
    refused(
        act(&h, user, &s.id, A::Pause).await.unwrap_err(),
        "SESSION_INVALID_TRANSITION",
        "paused",
    );
    act(&h, user, &s.id, A::Stop)
        .await
        .expect("stop early from paused");
    // Terminal: everything is refused, naming the state.
    for a in [
        A::Pause,
        A::Resume,
        A::Next,
        A::Previous,
        A::Complete,
        A::Stop,
        A::Abort,
    ] {
        refused(
            act(&h, user, &s.id, a).await.unwrap_err(),
            "SESSION_NOT_ACTIVE",
            "stopped",
        );
    }
    let err = h
        .client
        .complete_session(authed(complete_req(&s.id), &token))
        .await
        .unwrap_err();
    refused(err, "SESSION_NOT_ACTIVE", "stopped");

    // Aborted is terminal too; and a stopped session frees the slot for a new one.
    let s2 = h
        .client
        .start_session(authed(start_req(BREAK_5), &token))
        .await
        .expect("start after stop")
        .into_inner()
        .session
        .expect("s");
    act(&h, user, &s2.id, A::Abort).await.expect("abort");
    refused(
        act(&h, user, &s2.id, A::Resume).await.unwrap_err(),
        "SESSION_NOT_ACTIVE",
        "aborted",
    );

    // Malformed: the fields are named.
    let err = act(&h, user, "nope", A::Unspecified).await.unwrap_err();
    assert_invalid(&err, &["session_id", "action"]);
    let err = act(&h, user, &s.id, A::Start).await.unwrap_err();
    assert_invalid(&err, &["action"]);
    h.stop().await;
}

#[tokio::test]
async fn a_second_start_names_the_live_session() {
    let (mut h, _p) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let s = h
        .client
        .start_session(authed(start_req(FOCUS_25), &token))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("s");
    act(&h, user, &s.id, A::Pause).await.expect("pause");
    let err = h
        .client
        .start_session(authed(start_req(PUSHUPS), &token))
        .await
        .expect_err("a paused session is still live");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "SESSION_ALREADY_ACTIVE");
    assert!(err.message().contains(&s.id), "{}", err.message());
    h.stop().await;
}

#[tokio::test]
async fn a_routine_session_steps_through_the_routine() {
    let (mut h, mut completed) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let r = routine(
        &h,
        user,
        "Circuit",
        vec![step(PUSHUPS, 60), step(BREAK_5, 30), step(PUSHUPS, 60)],
    )
    .await;
    let s = h
        .client
        .start_session(authed(
            StartSessionRequest {
                routine_id: r.id.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("s");
    assert_eq!(s.session_kind, SessionKind::Routine as i32);
    assert_eq!(
        (s.step, s.step_count, secs(&s.planned_duration)),
        (0, 3, 150)
    );
    assert_eq!(s.routine_id, r.id);
    h.clock.advance(Duration::seconds(60));
    assert_eq!(act(&h, user, &s.id, A::Next).await.expect("next").step, 1);
    assert_eq!(
        act(&h, user, &s.id, A::Previous)
            .await
            .expect("previous")
            .step,
        0
    );
    act(&h, user, &s.id, A::Next).await.expect("next");
    act(&h, user, &s.id, A::Next).await.expect("next");
    let err = act(&h, user, &s.id, A::Next).await.unwrap_err();
    assert_eq!(reason(&err), "SESSION_STEP_OUT_OF_RANGE");
    h.clock.advance(Duration::seconds(30));
    let done = act(&h, user, &s.id, A::Complete).await.expect("complete");
    assert_eq!((done.step, secs(&done.duration)), (2, 90));
    assert!(done.counts, "90 of 150 s");
    let (_, _, _, e) = completed.next::<events::SessionCompleted>().await;
    assert_eq!(
        (
            e.activity_kind.as_str(),
            e.routine_id.as_str(),
            e.step_count
        ),
        ("routine", r.id.as_str(), 3)
    );

    // A preset can be started too; someone else's routine cannot.
    let preset = "b0000000-0000-4000-8000-000000000002";
    h.client
        .start_session(authed(
            StartSessionRequest {
                routine_id: preset.into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("preset");
    let bob = h.token(Uuid::now_v7());
    let err = h
        .client
        .start_session(authed(
            StartSessionRequest {
                routine_id: r.id.clone(),
                ..Default::default()
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn study_and_workout_references_are_checked_for_shape_and_kind() {
    let (mut h, _p) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let token = h.token(Uuid::now_v7());
    let lesson = Uuid::now_v7().to_string();
    let err = h
        .client
        .start_session(authed(
            StartSessionRequest {
                activity_id: STUDY_45.into(),
                lesson_id: "x".into(),
                plan_day_id: "y".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["lesson_id", "plan_day_id"]);
    let err = h
        .client
        .start_session(authed(
            StartSessionRequest {
                activity_id: FOCUS_25.into(),
                topic_id: lesson.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["topic_id"]);
    let err = h
        .client
        .start_session(authed(
            StartSessionRequest {
                activity_id: FOCUS_25.into(),
                routine_id: lesson.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["routine_id"]);
    let s = h
        .client
        .start_session(authed(
            StartSessionRequest {
                activity_id: STUDY_45.into(),
                lesson_id: lesson.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("study with a lesson")
        .into_inner()
        .session
        .expect("s");
    assert_eq!(
        (s.lesson_id, s.session_kind),
        (lesson, SessionKind::Study as i32)
    );
    h.stop().await;
}

#[tokio::test]
async fn get_and_list_sessions_are_the_callers_own_with_filters_and_pages() {
    let (mut h, _p) = start(datetime!(2026-11-20 10:00 UTC)).await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let token = h.token(alice);
    let mut ids = Vec::new();
    // One session a day for three days: focus, pushups, focus.
    for activity in [FOCUS_25, PUSHUPS, FOCUS_25] {
        let s = crate::support::session(&h, alice, activity, true).await;
        ids.push(s.id);
        h.clock.advance(Duration::days(1));
    }
    crate::support::session(&h, bob, FOCUS_25, true).await;

    let got = h
        .client
        .get_session(authed(
            GetSessionRequest {
                session_id: ids[1].clone(),
            },
            &token,
        ))
        .await
        .expect("get")
        .into_inner()
        .session
        .expect("s");
    assert_eq!(got.kind, pb::ActivityKind::Workout as i32);
    let err = h
        .client
        .get_session(authed(
            GetSessionRequest {
                session_id: ids[1].clone(),
            },
            &h.token(bob),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = h
        .client
        .get_session(authed(
            GetSessionRequest {
                session_id: "1".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["session_id"]);

    let list = |req: ListSessionsRequest| {
        let mut c = h.client.clone();
        let token = token.clone();
        async move { c.list_sessions(authed(req, &token)).await }
    };
    // Pages of two, newest first, cover alice's three sessions once.
    let first = list(ListSessionsRequest {
        page_size: 2,
        ..Default::default()
    })
    .await
    .expect("p1")
    .into_inner();
    let second = list(ListSessionsRequest {
        page_size: 2,
        page_token: first.next_page_token.clone(),
        ..Default::default()
    })
    .await
    .expect("p2")
    .into_inner();
    let seen: Vec<String> = first
        .sessions
        .iter()
        .chain(&second.sessions)
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(seen, vec![ids[2].clone(), ids[1].clone(), ids[0].clone()]);
    assert!(second.next_page_token.is_empty());
    // By kind, and by local start date.
    let focus = list(ListSessionsRequest {
        kind: SessionKind::Focus as i32,
        ..Default::default()
    })
    .await
    .expect("kind")
    .into_inner();
    assert_eq!(focus.sessions.len(), 2);
    let day = |d: u8| {
        Some(convert::date(
            time::Date::from_calendar_date(2026, time::Month::November, d).unwrap(),
        ))
    };
    let on_21 = list(ListSessionsRequest {
        start_date: day(21),
        end_date: day(21),
        ..Default::default()
    })
    .await
    .expect("range")
    .into_inner();
    assert_eq!(
        on_21
            .sessions
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>(),
        vec![ids[1].clone()]
    );
    let err = list(ListSessionsRequest {
        start_date: day(22),
        end_date: day(21),
        kind: 42,
        page_size: 101,
        page_token: "junk".into(),
    })
    .await
    .unwrap_err();
    assert_invalid(&err, &["page_size", "page_token", "kind", "end_date"]);
    h.stop().await;
}

#[tokio::test]
async fn racing_actions_on_one_session_each_apply_once_or_are_refused() {
    // Live transitions store by compare-and-set, without a lock: racing calls must still apply
    // to the session one at a time, each logged and announced exactly once.
    let (h, mut completed) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let user = Uuid::now_v7();
    let s = crate::support::session(&h, user, FOCUS_25, false).await;
    h.clock.advance(Duration::minutes(20));
    // Every connection of the service's pool open first, so the racing calls really overlap
    // (instead of queueing behind connections being opened).
    let warm = (0..8).map(|_| crate::support::current(&h, user));
    futures::future::join_all(warm).await;
    let completes = (0..8).map(|_| act(&h, user, &s.id, A::Complete));
    let results = futures::future::join_all(completes).await;
    let done = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(done, 1, "exactly one completion wins: {results:?}");
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        assert_eq!(reason(err), "SESSION_NOT_ACTIVE");
    }
    let (_, _, _, e) = completed.next::<events::SessionCompleted>().await;
    assert_eq!(e.session_id, s.id);
    let (logged, announced): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM session_events WHERE session_id = $1 AND action = 'complete'),
                (SELECT count(*) FROM outbox WHERE event_type = 'session.completed.v1')",
    )
    .bind(Uuid::parse_str(&s.id).expect("id"))
    .fetch_one(&h.db)
    .await
    .expect("counts");
    assert_eq!((logged, announced), (1, 1));

    // Pauses and resumes racing each other alternate: every one that succeeded is logged.
    let s = crate::support::session(&h, user, PUSHUPS, false).await;
    let flips = (0..10).map(|i| {
        act(
            &h,
            user,
            &s.id,
            if i % 2 == 0 { A::Pause } else { A::Resume },
        )
    });
    let ok = futures::future::join_all(flips)
        .await
        .into_iter()
        .filter(|r| r.is_ok())
        .count();
    assert!(ok >= 1);
    let (pauses, resumes): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE action = 'pause'), count(*) FILTER (WHERE action = 'resume')
         FROM session_events WHERE session_id = $1",
    )
    .bind(Uuid::parse_str(&s.id).expect("id"))
    .fetch_one(&h.db)
    .await
    .expect("counts");
    assert_eq!(
        (pauses + resumes) as usize,
        ok,
        "one log entry per applied action"
    );
    // Applied one at a time, they alternate from running: never two pauses in a row.
    let paused = pauses - resumes;
    assert!(
        paused == 0 || paused == 1,
        "{pauses} pauses, {resumes} resumes"
    );
    let current = crate::support::current(&h, user).await.expect("current");
    let expected = if paused == 1 {
        SessionState::Paused
    } else {
        SessionState::Active
    };
    assert_eq!(current.state, expected as i32);
    h.stop().await;
}

#[tokio::test]
async fn a_session_changed_behind_the_kept_copy_is_read_again() {
    // The service computes a live transition from its kept copy of the session; another replica
    // changing the session in between (here, straight in the table) must be noticed, never
    // written over, and a refusal computed from a stale copy must not reach the caller.
    let (h, _completed) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let user = Uuid::now_v7();
    let s = crate::support::session(&h, user, FOCUS_25, false).await;
    let id = Uuid::parse_str(&s.id).expect("id");
    let elsewhere = |state: &'static str, active_secs: i64| {
        let (db, at) = (h.db.clone(), stride_kit::Clock::now_db(&h.clock));
        async move {
            sqlx::query("UPDATE sessions SET state = $2, active_ms = $3, since = $4 WHERE id = $1")
                .bind(id)
                .bind(state)
                .bind(active_secs * 1000)
                .bind(at)
                .execute(&db)
                .await
                .expect("another replica's write");
        }
    };
    h.clock.advance(Duration::minutes(5));
    elsewhere("paused", 300).await;
    h.clock.advance(Duration::minutes(10));
    // The kept copy is still running, where a resume is refused; the session is paused.
    let resumed = act(&h, user, &s.id, A::Resume).await.expect("resume");
    assert_eq!(
        (resumed.state, secs(&resumed.duration)),
        (SessionState::Active as i32, 300)
    );
    h.clock.advance(Duration::minutes(2));
    elsewhere("paused", 420).await;
    h.clock.advance(Duration::minutes(3));
    let done = act(&h, user, &s.id, A::Complete).await.expect("complete");
    assert_eq!(
        secs(&done.duration),
        420,
        "completed from the paused session, not the kept running copy (600 s)"
    );
    h.stop().await;
}
