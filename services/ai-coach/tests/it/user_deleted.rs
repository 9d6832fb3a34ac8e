//! `user.deleted.v1` purges every row of that user and nothing of anyone else.

use stride_kit::clock::Clock as _;
use stride_proto::{ai_coach::GetRecommendationRequest, analytics::GetProgressSummaryRequest};
use stride_testkit::{EVENT_DEADLINE, authed, eventually};
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{Mesh, user_deleted, user_rows};

#[tokio::test]
async fn user_deleted_purges_all_of_that_users_rows_and_only_theirs() {
    let mut mesh = Mesh::start(datetime!(2026-06-10 08:00 UTC)).await;
    let mut coach = mesh.coach(None).await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    let focus = mesh.focus_id.clone();
    for u in [user, other] {
        mesh.complete_sessions(u, &focus, 1).await;
        coach
            .client
            .get_recommendation(authed(
                GetRecommendationRequest { goal: "".into() },
                &mesh.issuer.token(u),
            ))
            .await
            .expect("recommendation");
    }
    let before = user_rows(&coach.db, user).await;
    assert!(before.iter().all(|(_, n)| *n > 0), "{before:?}");
    let others = user_rows(&coach.db, other).await;
    assert_eq!(others, before, "both users have the same rows");

    coach
        .publish_as_auth(&mesh.amqp, &user_deleted(user, mesh.clock.now()))
        .await;
    let db = coach.db.clone();
    eventually(EVENT_DEADLINE, "every row of the user is gone", || {
        let db = db.clone();
        async move {
            let left = user_rows(&db, user).await;
            left.iter().all(|(_, n)| *n == 0).then_some(())
        }
    })
    .await;
    assert_eq!(user_rows(&coach.db, other).await, others);
    // The same event reached analytics on the shared broker: the user's progress is gone too.
    let token = mesh.issuer.token(user);
    eventually(EVENT_DEADLINE, "analytics forgets the user", || {
        let mut progress = mesh.progress.clone();
        let token = token.clone();
        async move {
            let s = progress
                .get_progress_summary(authed(GetProgressSummaryRequest::default(), &token))
                .await
                .ok()?;
            (s.into_inner().sessions_completed == 0).then_some(())
        }
    })
    .await;

    // A second deletion (a retry under a new event id) deletes nothing and fails nothing.
    coach
        .publish_as_auth(&mesh.amqp, &user_deleted(user, mesh.clock.now()))
        .await;
    let db = coach.db.clone();
    eventually(EVENT_DEADLINE, "the second deletion is consumed", || {
        let db = db.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
                .fetch_one(&db)
                .await
                .ok()?;
            (n == 2).then_some(())
        }
    })
    .await;
    assert_eq!(user_rows(&coach.db, other).await, others);
    coach.stop().await;
    mesh.stop().await;
}
