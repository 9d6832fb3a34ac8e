//! Refresh: rotation, the replay grace, reuse revoking the whole family (durably), expiry.

use stride_proto::auth as pb;
use stride_testkit::bus::reason;
use tonic::Code;

use crate::support::{jwks_verifier, refresh, restart, signup_req, start};

#[tokio::test]
async fn refresh_rotates_and_a_spent_token_stops_working() {
    let mut h = start().await;
    let first = h
        .client
        .signup(signup_req("cyd@example.com", "cyd", "password-1"))
        .await
        .unwrap()
        .into_inner();
    let t1 = first.tokens.unwrap();
    let t2 = refresh(&h, &t1.refresh_token).await.unwrap();
    assert_ne!(t2.refresh_token, t1.refresh_token);
    assert_ne!(t2.access_token, t1.access_token);

    // Same session: the new access token carries the same family id.
    let verifier = jwks_verifier(&h).await;
    let c1 = verifier.verify(&t1.access_token).await.unwrap();
    let c2 = verifier.verify(&t2.access_token).await.unwrap();
    assert_eq!(c1.sid, c2.sid);

    // A client that lost the answer re-sends t1: it gets the very same pair, nothing new minted.
    let again = refresh(&h, &t1.refresh_token).await.unwrap();
    assert_eq!(again.refresh_token, t2.refresh_token);
    assert_eq!(again.access_token, t2.access_token);
    let tokens: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_tokens")
        .fetch_one(&h.db)
        .await
        .unwrap();
    assert_eq!(tokens, 2, "the replay minted nothing");

    // Once t2 is used, t1 is just a spent token: reuse.
    let t3 = refresh(&h, &t2.refresh_token).await.unwrap();
    let err = refresh(&h, &t1.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "REFRESH_TOKEN_REUSED");
    assert_eq!(
        refresh(&h, &t3.refresh_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    let unknown = refresh(&h, "bm90LWEtdG9rZW4").await.unwrap_err();
    assert_eq!(unknown.code(), Code::Unauthenticated);
    assert_eq!(reason(&unknown), "REFRESH_TOKEN_INVALID");
    h.stop().await;
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_its_whole_family() {
    let mut h = start().await;
    let signed = h
        .client
        .signup(signup_req("dee@example.com", "dee", "password-1"))
        .await
        .unwrap()
        .into_inner();
    let other_session = h
        .client
        .login(pb::LoginRequest {
            email: "dee@example.com".into(),
            password: "password-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let t1 = signed.tokens.unwrap();
    let t2 = refresh(&h, &t1.refresh_token).await.unwrap();
    let t3 = refresh(&h, &t2.refresh_token).await.unwrap();

    // t1 comes back: theft. The answer says so, and the newest token of the family is dead too.
    let err = refresh(&h, &t1.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "REFRESH_TOKEN_REUSED");
    let err = refresh(&h, &t3.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "REFRESH_TOKEN_REVOKED");

    // Reuse right after the revocation still fails, for every token of the family.
    for t in [&t1, &t2, &t3] {
        let err = refresh(&h, &t.refresh_token).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }

    // Another login is another family and keeps working.
    let other = refresh(&h, &other_session.refresh_token)
        .await
        .expect("other family unaffected");

    // The revocation is stored, not remembered: it survives a restart.
    let h = restart(h, |_| {}).await;
    let err = refresh(&h, &t3.refresh_token).await.unwrap_err();
    assert_eq!(reason(&err), "REFRESH_TOKEN_REVOKED");
    refresh(&h, &other.refresh_token)
        .await
        .expect("the other session survives the restart");
    h.stop().await;
}

#[tokio::test]
async fn refresh_tokens_expire_after_thirty_days() {
    let mut h = start().await;
    let signed = h
        .client
        .signup(signup_req("eve@example.com", "eve", "password-1"))
        .await
        .unwrap()
        .into_inner();
    let t1 = signed.tokens.unwrap();
    h.clock.advance(time::Duration::days(29));
    let t2 = refresh(&h, &t1.refresh_token)
        .await
        .expect("valid on day 29");
    h.clock
        .advance(time::Duration::days(30) + time::Duration::seconds(1));
    let err = refresh(&h, &t2.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "REFRESH_TOKEN_EXPIRED");
    h.stop().await;
}
