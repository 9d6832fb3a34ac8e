//! Signup (without confirmation, see `confirm`): tokens that verify against GetJwks, every bad
//! field at once, duplicates, common passwords, and `user.registered.v1` on the wire.

use stride_proto::{Event as _, auth as pb, events};
use stride_testkit::bus::{Probe, assert_invalid, reason};
use tonic::Code;

use crate::support::{jwks_verifier, signup_req, start};

#[tokio::test]
async fn signup_returns_tokens_that_verify_against_the_jwks() {
    let mut h = start().await;
    let res = h
        .client
        .signup(signup_req("  Ann@Example.COM ", "Ann_Lee", "correct horse"))
        .await
        .unwrap()
        .into_inner();
    let user = res.user.unwrap();
    let tokens = res.tokens.unwrap();
    assert_eq!(user.email, "ann@example.com");
    assert_eq!(user.username, "Ann_Lee");
    assert_eq!(user.roles, ["user"]);
    assert!(!user.is_anonymous);
    assert_eq!(tokens.token_type, "Bearer");
    assert!(!tokens.refresh_token.is_empty());
    let access_exp = tokens.access_token_expire_time.unwrap().seconds;
    let refresh_exp = tokens.refresh_token_expire_time.unwrap().seconds;
    let created = user.create_time.unwrap().seconds;
    assert_eq!(access_exp - created, 900);
    assert_eq!(refresh_exp - created, 30 * 86_400);

    let jwks = h
        .client
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(
        (jwks.keys[0].kty.as_str(), jwks.keys[0].alg.as_str()),
        ("OKP", "EdDSA")
    );
    let claims = jwks_verifier(&h)
        .await
        .verify(&tokens.access_token)
        .await
        .expect("token verifies against GetJwks");
    assert_eq!(claims.sub, user.id);
    assert_eq!(claims.roles, ["user"]);
    assert_eq!(claims.exp, access_exp);
    assert!(
        uuid::Uuid::parse_str(&claims.sid).is_ok(),
        "sid is the refresh family id"
    );
    h.stop().await;
}

#[tokio::test]
async fn signup_lists_every_bad_field_at_once() {
    let mut h = start().await;
    let err = h
        .client
        .signup(signup_req("not-an-email", "a b", "short"))
        .await
        .unwrap_err();
    assert_invalid(&err, &["email", "username", "password"]);

    // Password length counts characters: 8 two-byte characters pass, the domain needs a dot.
    let err = h
        .client
        .signup(signup_req("a@localhost", "ann", &"é".repeat(8)))
        .await
        .unwrap_err();
    assert_invalid(&err, &["email"]);
    let err = h
        .client
        .signup(signup_req("a@b.co", &"x".repeat(33), &"p".repeat(129)))
        .await
        .unwrap_err();
    assert_invalid(&err, &["username", "password"]);
    h.stop().await;
}

#[tokio::test]
async fn signup_refuses_common_passwords() {
    let mut h = start().await;
    for weak in ["password", "Password123", "iloveyou1", "qwertyuiop"] {
        let e = h
            .client
            .signup(signup_req("rae@example.com", "rae", weak))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{weak}");
        assert_invalid(&e, &["password"]);
    }
    h.stop().await;
}

#[tokio::test]
async fn signup_with_a_taken_email_or_username_is_already_exists() {
    let mut h = start().await;
    h.client
        .signup(signup_req("ann@example.com", "ann", "password-1"))
        .await
        .unwrap();
    // Email compared after trimming and lowercasing; username case-insensitively.
    for (email, username) in [
        ("ANN@example.com ", "someone"),
        ("other@example.com", "ANN"),
    ] {
        let err = h
            .client
            .signup(signup_req(email, username, "password-1"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::AlreadyExists, "{email} {username}");
        assert_eq!(reason(&err), "ACCOUNT_EXISTS");
    }
    h.stop().await;
}

#[tokio::test]
async fn signup_publishes_user_registered() {
    let mut h = start().await;
    let mut probe = Probe::bind(&h.amqp, events::UserRegistered::TYPE).await;

    let user = h
        .client
        .signup(signup_req("fay@example.com", "Fay", "password-1"))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();

    let (p, ev) = probe.delivery::<events::UserRegistered>().await;
    let p = &p;
    assert_eq!(
        p.kind().as_ref().map(|s| s.as_str()),
        Some("user.registered.v1")
    );
    assert_eq!(p.app_id().as_ref().map(|s| s.as_str()), Some("auth"));
    assert_eq!(
        p.content_type().as_ref().map(|s| s.as_str()),
        Some(stride_bus::CONTENT_TYPE)
    );
    let id = uuid::Uuid::parse_str(p.message_id().as_ref().unwrap().as_str()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(ev.user_id, user.id);
    assert_eq!(ev.email, "fay@example.com");
    assert_eq!(ev.username, "Fay");
    assert!(!ev.is_anonymous);
    assert_eq!(ev.occur_time, user.create_time);
    h.stop().await;
}
