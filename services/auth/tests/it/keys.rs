//! The keys auth signs with: GetJwks keeps retired keys for 20 minutes, keys rotate on schedule, and
//! auth refuses forged tokens with its own keys (the shared forgery matrix).

use stride_kit::{Clock as _, SystemClock, jwt::forge};
use stride_proto::auth as pb;
use stride_testkit::authed;
use tonic::Code;

use crate::support::{Auth, login, restart, signup, start, start_at};

#[tokio::test]
async fn jwks_keeps_retired_keys_for_the_access_token_lifetime_and_skew() {
    let mut h = start().await;
    let now = h.clock.now();
    for (kid, retired) in [
        ("recent", time::Duration::minutes(16)),
        ("old", time::Duration::minutes(21)),
    ] {
        let k = stride_kit::jwt::SigningKey::generate().unwrap();
        sqlx::query(
            "INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, retired_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(kid)
        .bind(&k.pkcs8)
        .bind(&k.public)
        .bind(now - time::Duration::days(30))
        .bind(now - retired)
        .execute(&h.db)
        .await
        .unwrap();
    }
    let keys = h
        .client
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let mut kids: Vec<_> = keys.iter().map(|k| k.kid.as_str()).collect();
    kids.sort();
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids.contains(&"recent") && !kids.contains(&"old"));
    h.stop().await;
}

#[tokio::test]
async fn keys_rotate_on_schedule_and_old_tokens_keep_verifying() {
    // Eight days ago: after the schedule's days pass, tokens are minted near the wall clock,
    // which is what token expiry is checked against.
    let h = start_at(SystemClock.now() - time::Duration::days(8), |s| {
        s.key_rotation = time::Duration::days(7);
    })
    .await;
    let clock = h.clock.clone();
    let (_, first) = signup(&h, "bea@example.com", "bea").await;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    let old_kid = kid(&first.access_token);
    let jwks = |h: &Auth| {
        let mut c = h.client.clone();
        async move {
            c.get_jwks(pb::GetJwksRequest {})
                .await
                .unwrap()
                .into_inner()
                .keys
                .into_iter()
                .map(|k| k.kid)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(jwks(&h).await, std::slice::from_ref(&old_kid));

    // Not due yet: nothing happens.
    let pool = h.db.clone();
    let ring = stride_auth::keys::KeyRing::new(
        stride_auth::keys::load_or_create(&pool, clock.now())
            .await
            .unwrap(),
    );
    clock.advance(time::Duration::days(6));
    assert_eq!(
        ring.rotate_if_due(&pool, clock.now(), time::Duration::days(7))
            .await
            .unwrap(),
        None
    );
    // Due: a token signed just before the rotation, then a new key; the JWKS serves the
    // current and the previous one.
    clock.advance(time::Duration::days(2));
    let before = login(&h, "bea@example.com").await;
    assert_eq!(kid(&before.access_token), old_kid);
    let new_kid = ring
        .rotate_if_due(&pool, clock.now(), time::Duration::days(7))
        .await
        .unwrap()
        .expect("rotated");
    assert_ne!(new_kid, old_kid);
    let mut published = jwks(&h).await;
    published.sort();
    let mut want = vec![old_kid.clone(), new_kid.clone()];
    want.sort();
    assert_eq!(published, want);

    // The running service picks the new key up on its next schedule check (every minute);
    // restart-free: ask it through the same schedule entry point.
    let mut h = restart(h, |s| s.key_rotation = time::Duration::days(7)).await;
    let after = login(&h, "bea@example.com").await;
    assert_eq!(kid(&after.access_token), new_kid);
    // A token signed by the previous key still verifies (auth's own verifier reads the JWKS).
    h.client
        .get_me(authed(pb::GetMeRequest {}, &before.access_token))
        .await
        .expect("pre-rotation token still accepted");
    h.client
        .get_me(authed(pb::GetMeRequest {}, &after.access_token))
        .await
        .expect("new token accepted");

    // A day after the rotation the previous key is no longer published, and its private half
    // is deleted at the next check.
    clock.advance(time::Duration::days(1) + time::Duration::seconds(1));
    ring.rotate_if_due(&pool, clock.now(), time::Duration::days(7))
        .await
        .unwrap();
    assert_eq!(jwks(&h).await, [new_kid]);
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM signing_keys WHERE kid = $1")
        .bind(&old_kid)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    h.stop().await;
}

#[tokio::test]
async fn list_sessions_refuses_every_forged_token() {
    let mut h = start().await;
    // The key auth signs with (created at start); forgeries signed with it isolate each rule.
    let now = h.clock.now();
    let key = stride_auth::keys::load_or_create(&h.db, now)
        .await
        .expect("auth's signing key");
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
    h.stop().await;
}
