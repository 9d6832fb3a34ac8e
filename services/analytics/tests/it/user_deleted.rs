//! `user.deleted.v1` purges every row of that user and nothing of anyone else.

use stride_kit::clock::Clock as _;
use stride_proto::events::ChallengeCompleted;
use stride_testkit::{EVENT_DEADLINE, eventually};
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::support::{Harness, profile, session, user_deleted, user_rows};

#[tokio::test]
async fn user_deleted_purges_all_of_that_users_rows_and_only_theirs() {
    let mut h = Harness::start(datetime!(2026-03-04 12:00 UTC)).await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    for u in [user, other] {
        h.publish(&profile(u, "Europe/Paris", 1)).await;
        h.publish(&session(
            u,
            "focus",
            datetime!(2026-03-03 09:00 UTC),
            25,
            "Europe/Paris",
        ))
        .await;
        h.publish(&ChallengeCompleted {
            user_id: u.to_string(),
            challenge_id: Uuid::now_v7().to_string(),
            title: "Focus week".into(),
            points_awarded: 50,
            window_start: None,
            occur_time: None,
            local_date: Some(stride_kit::convert::date(date!(2026 - 03 - 03))),
            timezone: "Europe/Paris".into(),
        })
        .await;
    }
    h.wait_consumed("handled", 6).await;
    let before = user_rows(&h.db, user).await;
    assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");
    let others = user_rows(&h.db, other).await;
    assert_eq!(others, before, "both users have the same rows");

    h.publish(&user_deleted(user, h.clock.now())).await;
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
    let s = h.summary(user, None).await;
    assert_eq!((s.sessions_completed, s.longest_streak), (0, 0));
    assert_eq!(h.summary(other, None).await.sessions_completed, 1);

    // A second deletion (a retry under a new event id) deletes nothing and fails nothing.
    h.publish(&user_deleted(user, h.clock.now())).await;
    h.wait_consumed("handled", 8).await;
    assert_eq!(user_rows(&h.db, other).await, others);
    h.stop().await;
}
