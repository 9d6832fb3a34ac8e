//! The shared forgery matrix (`stride_kit::jwt::forge`) against auth's own authenticated methods:
//! auth verifies with the keys it publishes from its database, so a forged token must be refused
//! there exactly as at the gateway and in every other service.

use stride_kit::{Clock as _, SystemClock, jwt::forge};
use stride_proto::auth as pb;
use stride_testkit::authed;
use tonic::Code;

use super::system;

#[tokio::test]
async fn list_sessions_refuses_every_forged_token() {
    let mut h = system().await;
    // The key auth signs with (created at start); forgeries signed with it isolate each rule.
    let pool = sqlx::PgPool::connect(&h.db).await.expect("connect");
    let now = SystemClock.now();
    let key = stride_auth::keys::load_or_create(&pool, now)
        .await
        .expect("auth's signing key");
    pool.close().await;
    let user = uuid::Uuid::now_v7();
    let now = now.unix_timestamp();

    let mut wrong = Vec::new();
    for (name, token) in forge::forgeries(&key, user, now) {
        match h
            .client
            .list_sessions(authed(pb::ListSessionsRequest::default(), &token))
            .await
        {
            Err(s) if s.code() == Code::Unauthenticated => {}
            other => wrong.push(format!("{name}: {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "forgeries not refused: {wrong:#?}");

    // The control: the same key, claims exactly as auth issues them.
    let res = h
        .client
        .list_sessions(authed(
            pb::ListSessionsRequest::default(),
            &forge::valid(&key, user, now),
        ))
        .await
        .expect("the control token is accepted");
    assert!(
        res.into_inner().sessions.is_empty(),
        "a user with no sign-ins has no sessions"
    );
    h.running.stop().await.unwrap();
}
