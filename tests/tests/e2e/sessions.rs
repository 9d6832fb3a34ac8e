//! A routine session through the gateway: build a routine, step through it with pause, resume
//! and next, complete it; a session completed at once does not count, the stepped one does, and
//! analytics adds only the one that counts.

use stride_e2e::Mesh;
use stride_proto::{
    activity_session::{
        CreateRoutineRequest, ListActivitiesRequest, RecordSessionEventRequest, RoutineStep,
        SessionAction, SessionState, StartSessionRequest,
    },
    analytics::GetProgressSummaryRequest,
};
use stride_testkit::{EVENT_DEADLINE, authed, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_routine_session_with_pauses_counts_and_an_instant_one_does_not() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start(&crate::shared_stores().await)
        .await
        .expect("mesh starts");
    let mut c = stride_e2e::grpc_clients(mesh.gateway)
        .await
        .expect("connect");
    let tok = crate::signup(&mut c.auth, "rita").await;

    let activities = c
        .catalog
        .list_activities(authed(
            ListActivitiesRequest {
                page_size: 100,
                ..Default::default()
            },
            &tok,
        ))
        .await
        .expect("catalog")
        .into_inner()
        .activities;
    let id_of = |slug: &str| {
        activities
            .iter()
            .find(|a| a.slug == slug)
            .map(|a| a.id.clone())
            .expect("a preset activity")
    };
    let step = |slug: &str, secs: i64| RoutineStep {
        activity_id: id_of(slug),
        duration: Some(prost_types::Duration {
            seconds: secs,
            nanos: 0,
        }),
    };
    let routine = c
        .routines
        .create_routine(authed(
            CreateRoutineRequest {
                name: "Circuit".into(),
                steps: vec![step("pushups", 60), step("break-5", 30), step("squats", 60)],
            },
            &tok,
        ))
        .await
        .expect("create routine")
        .into_inner()
        .routine
        .expect("routine");

    let start = |c: &mut stride_e2e::Clients<_>| {
        let req = authed(
            StartSessionRequest {
                routine_id: routine.id.clone(),
                ..Default::default()
            },
            &tok,
        );
        let mut s = c.sessions.clone();
        async move {
            s.start_session(req)
                .await
                .expect("start")
                .into_inner()
                .session
                .expect("session")
        }
    };
    let act = |c: &mut stride_e2e::Clients<_>, id: &str, action: SessionAction| {
        let req = authed(
            RecordSessionEventRequest {
                session_id: id.to_owned(),
                action: action as i32,
            },
            &tok,
        );
        let mut s = c.sessions.clone();
        async move {
            s.record_session_event(req)
                .await
                .expect("event")
                .into_inner()
                .session
                .expect("session")
        }
    };

    // Completed the instant it started: recorded, but it does not count.
    let instant = start(&mut c).await;
    let done = act(&mut c, &instant.id, SessionAction::Complete).await;
    assert_eq!(done.state, SessionState::Completed as i32);
    assert!(!done.counts);
    assert_eq!(done.count_reason, "ACTIVE_TIME_BELOW_MINIMUM");

    // Stepped through with a pause: 60 + 30 + 30 s active of 150 planned.
    let s = start(&mut c).await;
    assert_eq!((s.step, s.step_count), (0, 3));
    mesh.clock.advance(time::Duration::seconds(60));
    let paused = act(&mut c, &s.id, SessionAction::Pause).await;
    assert_eq!(paused.state, SessionState::Paused as i32);
    mesh.clock.advance(time::Duration::minutes(10));
    act(&mut c, &s.id, SessionAction::Resume).await;
    assert_eq!(act(&mut c, &s.id, SessionAction::Next).await.step, 1);
    mesh.clock.advance(time::Duration::seconds(30));
    assert_eq!(act(&mut c, &s.id, SessionAction::Next).await.step, 2);
    mesh.clock.advance(time::Duration::seconds(30));
    let done = act(&mut c, &s.id, SessionAction::Complete).await;
    assert_eq!(done.duration.as_ref().map(|d| d.seconds), Some(120));
    assert!(done.counts, "{}", done.count_reason);

    // Analytics counts the stepped session only (the instant one was announced first).
    let summary = eventually(
        EVENT_DEADLINE,
        "analytics counts the routine session",
        || {
            let mut a = c.analytics.clone();
            let tok = tok.clone();
            async move {
                let s = a
                    .get_progress_summary(authed(GetProgressSummaryRequest::default(), &tok))
                    .await
                    .ok()?
                    .into_inner();
                (s.sessions_completed >= 1).then_some(s)
            }
        },
    )
    .await;
    assert_eq!(summary.sessions_completed, 1);
    assert_eq!(
        summary.total_duration.as_ref().map(|d| d.seconds),
        Some(120)
    );
    mesh.stop().await.expect("graceful stop");
}
