//! `user.deleted.v1` purges every row of that user and nothing of anyone else.

use stride_kit::clock::Clock as _;
use stride_proto::activity_session::{CompleteSessionRequest, StartSessionRequest};
use stride_testkit::{EVENT_DEADLINE, authed, eventually};
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{Harness, Probe, Publisher, user_deleted, user_rows};

#[tokio::test]
async fn user_deleted_purges_all_of_that_users_rows_and_only_theirs() {
    let mut h = Harness::start(datetime!(2026-11-22 10:00 UTC)).await;
    // A consumer of session.completed.v1 must exist, or the relay keeps retrying.
    let _probe = Probe::bind(&h.amqp, "session.completed.v1").await;
    let profile_service = Publisher::start(&h.amqp, "profile").await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    for u in [user, other] {
        let id = profile_service
            .publish(&super::profile(u, "Europe/Paris", 1))
            .await;
        h.consumed(id).await;
        // One completed session, then one left active.
        let token = h.token(u);
        let start = || StartSessionRequest {
            activity_id: super::FOCUS_25.into(),
            planned_duration: None,
        };
        let s = h
            .client
            .start_session(authed(start(), &token))
            .await
            .expect("start")
            .into_inner()
            .session
            .expect("session");
        h.clock.advance(time::Duration::minutes(25));
        h.client
            .complete_session(authed(CompleteSessionRequest { session_id: s.id }, &token))
            .await
            .expect("complete");
        h.client
            .start_session(authed(start(), &token))
            .await
            .expect("start again");
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

    // A second deletion (a retry under a new event id) deletes nothing and fails nothing.
    let again = auth.publish(&user_deleted(user, h.clock.now())).await;
    h.consumed(again).await;
    assert_eq!(user_rows(&h.db, other).await, others);
    h.stop().await;
}
