//! GetLeaderboard on the all-time board: totals ranked by points (equal points share a rank,
//! listed by who reached them first), names from the profile updates, the caller's own line
//! even outside the top, `top_n` bounded.

use stride_proto::challenge::{self as pb, GetLeaderboardRequest};
use stride_testkit::{
    authed,
    bus::{Publisher, assert_invalid},
};
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{board, boards, deliver, join, leaderboard, profile, session, start};

#[tokio::test]
async fn leaderboard_ranks_by_points_then_earliest_and_includes_me() {
    let (h, _probe) = start(datetime!(2026-11-02 08:00 UTC)).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let profiles = Publisher::start(&h.amqp, "profile").await;
    let (ann, bob, cyd, dan) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    for (u, name) in [(ann, "Ann"), (bob, "Bob"), (cyd, "Cyd"), (dan, "Dan")] {
        deliver(&h, &profiles, &profile(u, name, "UTC")).await;
        join(&h, u).await;
    }
    // Ann completes two weeks (100); Bob and Cyd one each (50), Bob first; Dan nothing. Each
    // of them also unlocked first_session and first_challenge (10 points each).
    let plan = [
        (ann, datetime!(2026-11-03 10:00 UTC), 3),
        (ann, datetime!(2026-11-10 10:00 UTC), 3),
        (bob, datetime!(2026-11-04 10:00 UTC), 3),
        (cyd, datetime!(2026-11-05 10:00 UTC), 3),
    ];
    for (u, start, n) in plan {
        for i in 0..n {
            let end = start + time::Duration::hours(i);
            deliver(&h, &activity, &session(u, "focus", end, "UTC")).await;
        }
    }

    let board = leaderboard(&h, dan, 2).await;
    let top: Vec<_> = board
        .entries
        .iter()
        .map(|e| (e.rank, e.display_name.as_str(), e.points))
        .collect();
    assert_eq!(top, [(1, "Ann", 120), (2, "Bob", 70)]);
    assert_eq!(board.entries[0].user_id, ann.to_string());
    let me = board.me.expect("me");
    assert_eq!(
        (me.rank, me.points, me.display_name.as_str()),
        (0, 0, "Dan")
    );
    assert_eq!(me.user_id, dan.to_string());

    let board = leaderboard(&h, cyd, 1).await;
    assert_eq!(board.entries.len(), 1);
    // Cyd ties with Bob: the same rank, listed after him (he got there first).
    let me = board.me.expect("me outside the top");
    assert_eq!(
        (me.rank, me.points, me.display_name.as_str()),
        (2, 70, "Cyd")
    );

    assert_eq!(leaderboard(&h, cyd, 0).await.entries.len(), 3);
    for bad in [101, -1] {
        let err = boards(&h)
            .get_leaderboard(authed(
                GetLeaderboardRequest {
                    top_n: bad,
                    ..Default::default()
                },
                &h.token(cyd),
            ))
            .await
            .expect_err("top_n out of range");
        assert_invalid(&err, &["top_n"]);
    }
    h.stop().await;
}

#[tokio::test]
async fn a_challenge_board_ranks_this_windows_progress() {
    let (h, _probe) = start(datetime!(2026-11-18 09:00 UTC)).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let profiles = Publisher::start(&h.amqp, "profile").await;
    let (ann, bob, cyd, dan) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    for (u, name) in [(ann, "Ann"), (bob, "Bob"), (cyd, "Cyd"), (dan, "Dan")] {
        deliver(&h, &profiles, &profile(u, name, "UTC")).await;
    }
    for u in [ann, bob, cyd] {
        join(&h, u).await;
    }
    // This week: Ann 2, Bob 1, Cyd 2 (after Ann). Dan has not joined; his session counts for
    // nothing here.
    for (u, hour) in [
        (ann, 10),
        (ann, 11),
        (bob, 12),
        (cyd, 13),
        (cyd, 14),
        (dan, 15),
    ] {
        let end = datetime!(2026-11-18 00:00 UTC) + time::Duration::hours(hour);
        deliver(&h, &activity, &session(u, "focus", end, "UTC")).await;
    }
    let req = pb::GetLeaderboardRequest {
        challenge_id: crate::support::FOCUS_THREE.into(),
        around: 1,
        ..Default::default()
    };
    let b = board(&h, bob, req.clone()).await.expect("board");
    let lines: Vec<_> = b
        .entries
        .iter()
        .map(|e| (e.rank, e.display_name.as_str(), e.points))
        .collect();
    assert_eq!(lines, [(1, "Ann", 2), (1, "Cyd", 2), (3, "Bob", 1)]);
    assert_eq!(b.period_start.map(|d| (d.month, d.day)), Some((11, 16)));
    assert_eq!(b.period_end.map(|d| (d.month, d.day)), Some((11, 22)));
    assert_eq!(b.participant_count, 3);
    let around: Vec<_> = b
        .around_me
        .iter()
        .map(|e| e.display_name.as_str())
        .collect();
    assert_eq!(around, ["Cyd", "Bob"]);
    let me = board(&h, dan, req).await.expect("dan").me.expect("me");
    assert_eq!(
        (me.rank, me.points, me.display_name.as_str()),
        (0, 0, "Dan")
    );
    h.stop().await;
}
