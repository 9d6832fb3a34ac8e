//! `user.deleted.v1` purges every row of that user and nothing of anyone else.

use stride_kit::clock::Clock as _;
use stride_proto::challenge::GetLeaderboardRequest;
use stride_testkit::{EVENT_DEADLINE, authed, eventually};
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{Harness, Probe, Publisher, user_deleted, user_rows};

#[tokio::test]
async fn user_deleted_purges_all_of_that_users_rows_and_only_theirs() {
    let mut h = Harness::start(datetime!(2026-11-18 09:00 UTC)).await;
    let profile_service = Publisher::start(&h.amqp, "profile").await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    // A consumer of challenge.completed.v1 must exist, or the relay keeps retrying.
    let _probe = Probe::bind(&h.amqp, "challenge.completed.v1").await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    for u in [user, other] {
        let id = profile_service
            .publish(&super::profile(u, "Ann", "UTC"))
            .await;
        h.consumed(id).await;
        let token = h.token(u);
        super::join(&mut h, &token).await;
        // Three focus sessions complete the weekly challenge: progress and points.
        for hour in [10, 12, 14] {
            let end = datetime!(2026-11-18 00:00 UTC) + time::Duration::hours(hour);
            let id = activity
                .publish(&super::session(u, "focus", end, "UTC"))
                .await;
            h.consumed(id).await;
        }
    }
    let before = user_rows(&h.db, user).await;
    assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");
    let others = user_rows(&h.db, other).await;
    assert_eq!(others, before, "both users have the same rows");

    let auth = Publisher::start(&h.amqp, "auth").await;
    auth.publish(&user_deleted(user, h.clock.now())).await;
    let db = h.db.clone();
    eventually(EVENT_DEADLINE, "every row of the user is gone", || {
        let db = db.clone();
        async move {
            let left = user_rows(&db, user).await;
            left.iter().all(|(_, n)| *n == 0).then_some(())
        }
    })
    .await;
    assert_eq!(user_rows(&h.db, other).await, others);

    // The deleted user left the leaderboard; the other one leads it alone.
    let board = h
        .client
        .get_leaderboard(authed(GetLeaderboardRequest { top_n: 10 }, &h.token(other)))
        .await
        .expect("board")
        .into_inner();
    let me = board.me.expect("me");
    assert_eq!((me.rank, me.points), (1, 50));
    assert_eq!(board.entries.len(), 1, "{:?}", board.entries);

    // A second deletion (a retry under a new event id) deletes nothing and fails nothing.
    let again = auth.publish(&user_deleted(user, h.clock.now())).await;
    h.consumed(again).await;
    assert_eq!(user_rows(&h.db, other).await, others);
    h.stop().await;
}
