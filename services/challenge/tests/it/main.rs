//! Service tests for challenge against real PostgreSQL and RabbitMQ.

mod support;
mod user_deleted;
mod user_merged;

use prost::Message as _;
use stride_kit::convert;
use stride_proto::{
    challenge::{
        GetChallengeRequest, GetChallengeResponse, GetLeaderboardRequest, GoalKind,
        JoinChallengeRequest, ListChallengesRequest, Recurrence,
    },
    events,
};
use stride_testkit::{EVENT_DEADLINE, authed, eventually};
use support::{Harness, Probe, Publisher, assert_invalid, consumed_count, publish_raw};
use time::{
    OffsetDateTime,
    macros::{date, datetime},
};
use tonic::Code;
use uuid::Uuid;

const FOCUS_THREE: &str = "c0000000-0000-4000-8000-000000000001";

/// A session.completed.v1 as activity-session emits it, ending at `end` in `timezone`.
fn session(
    user: Uuid,
    kind: &str,
    end: OffsetDateTime,
    timezone: &str,
) -> events::SessionCompleted {
    events::SessionCompleted {
        user_id: user.to_string(),
        session_id: Uuid::now_v7().to_string(),
        activity_id: "a0000000-0000-4000-8000-000000000001".into(),
        activity_kind: kind.into(),
        start_time: Some(convert::timestamp(end - time::Duration::minutes(25))),
        end_time: Some(convert::timestamp(end)),
        duration: Some(convert::duration(time::Duration::minutes(25))),
        local_date: Some(convert::date(convert::local_date(end, timezone))),
        timezone: timezone.into(),
    }
}

fn profile(user: Uuid, name: &str, timezone: &str) -> events::ProfileUpdated {
    events::ProfileUpdated {
        user_id: user.to_string(),
        display_name: name.into(),
        timezone: timezone.into(),
        locale: "en".into(),
        occur_time: None,
        revision: 1,
        local_date: None,
    }
}

async fn join(h: &mut Harness, token: &str) {
    h.client
        .join_challenge(authed(
            JoinChallengeRequest {
                challenge_id: FOCUS_THREE.into(),
            },
            token,
        ))
        .await
        .expect("join");
}

async fn get(h: &mut Harness, token: &str) -> GetChallengeResponse {
    h.client
        .get_challenge(authed(
            GetChallengeRequest {
                challenge_id: FOCUS_THREE.into(),
            },
            token,
        ))
        .await
        .expect("get")
        .into_inner()
}

#[tokio::test]
async fn three_focus_sessions_complete_the_weekly_challenge_and_award_points_once() {
    // Wednesday 2026-11-18; the ISO week runs from Monday the 16th to Sunday the 22nd.
    let mut h = Harness::start(datetime!(2026-11-18 09:00 UTC)).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let mut probe = Probe::bind(&h.amqp, "challenge.completed.v1").await;

    // Before joining: the session does not count.
    let early = activity
        .publish(&session(
            user,
            "focus",
            datetime!(2026-11-18 08:30 UTC),
            "UTC",
        ))
        .await;
    h.consumed(early).await;
    join(&mut h, &token).await;
    assert_eq!(
        get(&mut h, &token)
            .await
            .my_progress
            .expect("joined")
            .current,
        0
    );

    // Other kinds do not count either.
    let other = activity
        .publish(&session(
            user,
            "workout",
            datetime!(2026-11-18 10:00 UTC),
            "UTC",
        ))
        .await;
    h.consumed(other).await;
    for hour in [10, 12, 14] {
        let end = datetime!(2026-11-18 00:00 UTC) + time::Duration::hours(hour);
        let id = activity.publish(&session(user, "focus", end, "UTC")).await;
        h.consumed(id).await;
    }

    let res = get(&mut h, &token).await;
    let c = res.challenge.expect("challenge");
    assert!(c.joined);
    assert_eq!(c.participant_count, 1);
    let p = res.my_progress.expect("progress");
    assert_eq!((p.current, p.target, p.completed), (3, 3, true));
    assert_eq!(
        p.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 16))
    );
    assert_eq!(
        p.window_end.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 22))
    );
    assert_eq!(
        p.complete_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-18 14:00 UTC))
    );
    assert_eq!(
        p.join_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-18 09:00 UTC))
    );

    let (event_id, event_type, producer, e) = probe.next::<events::ChallengeCompleted>().await;
    assert_eq!(
        (event_type.as_str(), producer.as_str()),
        ("challenge.completed.v1", "challenge")
    );
    assert_eq!(event_id.get_version_num(), 7);
    assert_eq!(e.user_id, user.to_string());
    assert_eq!(e.challenge_id, FOCUS_THREE);
    assert_eq!(e.title, "Focus Three");
    assert_eq!(e.points_awarded, 50);
    assert_eq!(
        e.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 16))
    );
    assert_eq!(
        e.occur_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-18 14:00 UTC))
    );
    assert_eq!(
        e.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 18))
    );
    assert_eq!(e.timezone, "UTC");

    // A fourth session keeps counting but never pays again.
    let fourth = activity
        .publish(&session(
            user,
            "focus",
            datetime!(2026-11-18 16:00 UTC),
            "UTC",
        ))
        .await;
    h.consumed(fourth).await;
    let p = get(&mut h, &token).await.my_progress.expect("progress");
    assert_eq!((p.current, p.completed), (4, true));
    assert!(
        probe.quiet_for(std::time::Duration::from_secs(1)).await,
        "no second challenge.completed.v1"
    );
    let board = h
        .client
        .get_leaderboard(authed(GetLeaderboardRequest { top_n: 0 }, &token))
        .await
        .expect("board");
    let me = board.into_inner().me.expect("me");
    assert_eq!((me.rank, me.points), (1, 50));
    h.stop().await;
}

#[tokio::test]
async fn the_same_event_delivered_twice_counts_once() {
    let mut h = Harness::start(datetime!(2026-11-18 09:00 UTC)).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    join(&mut h, &token).await;

    let event_id = Uuid::now_v7();
    let payload = session(user, "focus", datetime!(2026-11-18 10:00 UTC), "UTC").encode_to_vec();
    for _ in 0..2 {
        publish_raw(
            &h.amqp,
            event_id,
            "session.completed.v1",
            "activity-session",
            &payload,
        )
        .await;
    }
    h.consumed(event_id).await;
    eventually(
        EVENT_DEADLINE,
        "the duplicate delivery absorbed",
        || async { (consumed_count("challenge", "duplicate") == 1).then_some(()) },
    )
    .await;
    assert_eq!(consumed_count("challenge", "handled"), 1);
    let p = get(&mut h, &token).await.my_progress.expect("progress");
    assert_eq!((p.current, p.completed), (1, false));
    h.stop().await;
}

#[tokio::test]
async fn sessions_count_in_the_iso_week_of_their_local_date() {
    // Monday 2026-11-02.
    let mut h = Harness::start(datetime!(2026-11-02 08:00 UTC)).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let profiles = Publisher::start(&h.amqp, "profile").await;
    join(&mut h, &token).await;

    let ends = [
        (datetime!(2026-11-04 12:00 UTC), "UTC"),
        // Sunday 23:30 UTC is already Monday the 9th in Tokyo: the next week's window.
        (datetime!(2026-11-08 23:30 UTC), "Asia/Tokyo"),
        (datetime!(2026-11-11 12:00 UTC), "Asia/Tokyo"),
    ];
    for (end, tz) in ends {
        let id = activity.publish(&session(user, "focus", end, tz)).await;
        h.consumed(id).await;
    }

    h.clock.set(datetime!(2026-11-05 12:00 UTC));
    let p = get(&mut h, &token).await.my_progress.expect("progress");
    assert_eq!(
        p.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 02))
    );
    assert_eq!(p.current, 1);

    h.clock.set(datetime!(2026-11-12 12:00 UTC));
    let p = get(&mut h, &token).await.my_progress.expect("progress");
    assert_eq!(
        p.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 09))
    );
    assert_eq!(
        p.window_end.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 15))
    );
    assert_eq!(p.current, 2);

    // "Now" is read in the caller's stored timezone: Sunday 20:00 UTC is Monday in Tokyo.
    h.clock.set(datetime!(2026-11-08 20:00 UTC));
    assert_eq!(
        get(&mut h, &token)
            .await
            .my_progress
            .expect("progress")
            .window_start
            .as_ref()
            .and_then(convert::from_date),
        Some(date!(2026 - 11 - 02))
    );
    let id = profiles.publish(&profile(user, "Ada", "Asia/Tokyo")).await;
    h.consumed(id).await;
    let p = get(&mut h, &token).await.my_progress.expect("progress");
    assert_eq!(
        p.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 09))
    );
    assert_eq!(p.current, 2);
    h.stop().await;
}

#[tokio::test]
async fn leaderboard_ranks_by_points_then_earliest_and_includes_me() {
    let mut h = Harness::start(datetime!(2026-11-02 08:00 UTC)).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let profiles = Publisher::start(&h.amqp, "profile").await;
    let _probe = Probe::bind(&h.amqp, "challenge.completed.v1").await;
    let (ann, bob, cyd, dan) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    for (u, name) in [(ann, "Ann"), (bob, "Bob"), (cyd, "Cyd"), (dan, "Dan")] {
        let id = profiles.publish(&profile(u, name, "UTC")).await;
        h.consumed(id).await;
        let t = h.token(u);
        join(&mut h, &t).await;
    }
    // Ann completes two weeks (100); Bob and Cyd one each (50), Bob first; Dan nothing.
    let plan = [
        (ann, datetime!(2026-11-03 10:00 UTC), 3),
        (ann, datetime!(2026-11-10 10:00 UTC), 3),
        (bob, datetime!(2026-11-04 10:00 UTC), 3),
        (cyd, datetime!(2026-11-05 10:00 UTC), 3),
    ];
    for (u, start, n) in plan {
        for i in 0..n {
            let id = activity
                .publish(&session(
                    u,
                    "focus",
                    start + time::Duration::hours(i),
                    "UTC",
                ))
                .await;
            h.consumed(id).await;
        }
    }

    let dan_token = h.token(dan);
    let board = h
        .client
        .get_leaderboard(authed(GetLeaderboardRequest { top_n: 2 }, &dan_token))
        .await
        .expect("board")
        .into_inner();
    let top: Vec<_> = board
        .entries
        .iter()
        .map(|e| (e.rank, e.display_name.as_str(), e.points))
        .collect();
    assert_eq!(top, [(1, "Ann", 100), (2, "Bob", 50)]);
    assert_eq!(board.entries[0].user_id, ann.to_string());
    let me = board.me.expect("me");
    assert_eq!(
        (me.rank, me.points, me.display_name.as_str()),
        (0, 0, "Dan")
    );
    assert_eq!(me.user_id, dan.to_string());

    let cyd_token = h.token(cyd);
    let board = h
        .client
        .get_leaderboard(authed(GetLeaderboardRequest { top_n: 1 }, &cyd_token))
        .await
        .expect("board")
        .into_inner();
    assert_eq!(board.entries.len(), 1);
    let me = board.me.expect("me outside the top");
    assert_eq!(
        (me.rank, me.points, me.display_name.as_str()),
        (3, 50, "Cyd")
    );

    let all = h
        .client
        .get_leaderboard(authed(GetLeaderboardRequest { top_n: 0 }, &cyd_token))
        .await
        .expect("board");
    assert_eq!(all.into_inner().entries.len(), 3);
    for bad in [101, -1] {
        let err = h
            .client
            .get_leaderboard(authed(GetLeaderboardRequest { top_n: bad }, &cyd_token))
            .await
            .expect_err("top_n out of range");
        assert_invalid(&err, &["top_n"]);
    }
    h.stop().await;
}

#[tokio::test]
async fn listing_joining_and_lookup_errors() {
    let mut h = Harness::start(datetime!(2026-11-02 08:00 UTC)).await;
    let (ann, bob) = (h.token(Uuid::now_v7()), h.token(Uuid::now_v7()));

    let list = h
        .client
        .list_challenges(authed(ListChallengesRequest::default(), &ann))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.challenges.len(), 1);
    assert!(list.next_page_token.is_empty());
    let c = &list.challenges[0];
    assert_eq!(c.id, FOCUS_THREE);
    assert_eq!(
        (c.title.as_str(), c.description.as_str()),
        ("Focus Three", "Complete 3 focus sessions this week")
    );
    assert_eq!(c.goal_kind, GoalKind::SessionsCompleted as i32);
    assert_eq!(c.recurrence, Recurrence::Weekly as i32);
    assert_eq!(
        (c.activity_kind.as_str(), c.target, c.points, c.is_system),
        ("focus", 3, 50, true)
    );
    assert_eq!((c.joined, c.participant_count), (false, 0));
    assert!(
        get(&mut h, &ann).await.my_progress.is_none(),
        "no progress before joining"
    );

    // Joining twice keeps the first join time.
    join(&mut h, &ann).await;
    h.clock.advance(time::Duration::hours(1));
    let again = h
        .client
        .join_challenge(authed(
            JoinChallengeRequest {
                challenge_id: FOCUS_THREE.into(),
            },
            &ann,
        ))
        .await
        .expect("join again")
        .into_inner();
    assert_eq!(
        again.challenge.as_ref().map(|c| c.participant_count),
        Some(1)
    );
    let p = again.my_progress.expect("progress");
    assert_eq!(
        p.join_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-02 08:00 UTC))
    );
    assert_eq!(
        p.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 02))
    );

    let list = h
        .client
        .list_challenges(authed(ListChallengesRequest::default(), &bob))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        (
            list.challenges[0].joined,
            list.challenges[0].participant_count
        ),
        (false, 1)
    );
    let list = h
        .client
        .list_challenges(authed(
            ListChallengesRequest {
                page_size: 1,
                page_token: String::new(),
            },
            &ann,
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(list.challenges[0].joined);

    let unknown = Uuid::now_v7().to_string();
    let err = h
        .client
        .get_challenge(authed(
            GetChallengeRequest {
                challenge_id: unknown.clone(),
            },
            &ann,
        ))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let err = h
        .client
        .join_challenge(authed(
            JoinChallengeRequest {
                challenge_id: unknown,
            },
            &ann,
        ))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let err = h
        .client
        .get_challenge(authed(
            GetChallengeRequest {
                challenge_id: "nope".into(),
            },
            &ann,
        ))
        .await
        .expect_err("malformed");
    assert_invalid(&err, &["challenge_id"]);
    let err = h
        .client
        .join_challenge(authed(
            JoinChallengeRequest {
                challenge_id: String::new(),
            },
            &ann,
        ))
        .await
        .expect_err("missing");
    assert_invalid(&err, &["challenge_id"]);
    let err = h
        .client
        .list_challenges(authed(
            ListChallengesRequest {
                page_size: 500,
                page_token: "@@".into(),
            },
            &ann,
        ))
        .await
        .expect_err("bad page");
    assert_invalid(&err, &["page_size", "page_token"]);
    let err = h
        .client
        .get_leaderboard(tonic::Request::new(GetLeaderboardRequest { top_n: 0 }))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}
