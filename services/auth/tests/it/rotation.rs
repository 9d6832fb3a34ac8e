//! Signing keys rotate on schedule; tokens signed before a rotation keep verifying.

use std::sync::Arc;

use stride_kit::{Clock as _, ManualClock, SystemClock};
use stride_proto::auth as pb;
use stride_testkit::authed;

use super::{harness_with, signup};

#[tokio::test]
async fn keys_rotate_on_schedule_and_old_tokens_keep_verifying() {
    // Eight days ago: after the schedule's days pass, tokens are minted near the wall clock,
    // which is what token expiry is checked against.
    let clock = ManualClock::new(SystemClock.now() - time::Duration::days(8));
    let mut h = harness_with(Arc::new(clock.clone()), |s| {
        s.key_rotation = time::Duration::days(7);
    })
    .await;
    let (_, first) = signup(&mut h.client, "bea@example.com", "bea").await;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    let old_kid = kid(&first.access_token);
    let jwks = |h: &mut super::Harness| {
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
    assert_eq!(jwks(&mut h).await, std::slice::from_ref(&old_kid));

    // Not due yet: nothing happens.
    let pool = sqlx::PgPool::connect(&h.db).await.unwrap();
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
    let before = super::login(&mut h.client, "bea@example.com").await;
    assert_eq!(kid(&before.access_token), old_kid);
    let new_kid = ring
        .rotate_if_due(&pool, clock.now(), time::Duration::days(7))
        .await
        .unwrap()
        .expect("rotated");
    assert_ne!(new_kid, old_kid);
    let mut published = jwks(&mut h).await;
    published.sort();
    let mut want = vec![old_kid.clone(), new_kid.clone()];
    want.sort();
    assert_eq!(published, want);

    // The running service picks the new key up on its next schedule check (every minute);
    // restart-free: ask it through the same schedule entry point.
    h.running.stop().await.unwrap();
    let sink = h.sink.clone();
    let db = h.db.clone();
    let mut h = super::harness_on(
        Arc::new(clock.clone()),
        db,
        stride_auth::settings::Settings {
            mail_url: sink.smtp_url().into(),
            sms_url: sink.sms_url().into(),
            signup_confirmation: false,
            key_rotation: time::Duration::days(7),
            ..Default::default()
        },
        sink,
    )
    .await;
    let after = super::login(&mut h.client, "bea@example.com").await;
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
    assert_eq!(jwks(&mut h).await, [new_kid]);
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM signing_keys WHERE kid = $1")
        .bind(&old_kid)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    pool.close().await;
    h.running.stop().await.unwrap();
}
