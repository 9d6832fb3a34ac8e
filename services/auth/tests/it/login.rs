//! Login: one answer for a wrong password and an unknown email (in content and in time), the
//! lockout and per-address throttling of failures, and rehashing at login.

use stride_proto::auth as pb;
use stride_testkit::{EVENT_DEADLINE, bus::reason};
use tonic::Code;
use uuid::Uuid;

use crate::support::{
    login, login_with, request_reset, reset, reset_token, signup, signup_req, start, start_with,
};

#[tokio::test]
async fn login_wrong_password_and_unknown_email_answer_the_same() {
    let mut h = start().await;
    let signed = h
        .client
        .signup(signup_req("bob@example.com", "bob", "password-1"))
        .await
        .unwrap()
        .into_inner();

    let ok = h
        .client
        .login(pb::LoginRequest {
            email: " BOB@example.com".into(),
            password: "password-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.user.unwrap().id, signed.user.unwrap().id);
    let tokens = ok.tokens.unwrap();
    assert_ne!(tokens.refresh_token, signed.tokens.unwrap().refresh_token);

    let wrong = h
        .client
        .login(pb::LoginRequest {
            email: "bob@example.com".into(),
            password: "password-2".into(),
        })
        .await
        .unwrap_err();
    let unknown = h
        .client
        .login(pb::LoginRequest {
            email: "nobody@example.com".into(),
            password: "password-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(
        (wrong.code(), wrong.message()),
        (unknown.code(), unknown.message())
    );
    assert_eq!(reason(&wrong), "INVALID_CREDENTIALS");
    assert_eq!(reason(&unknown), "INVALID_CREDENTIALS");
    h.stop().await;
}

#[tokio::test]
async fn failed_logins_lock_the_account_the_same_way_known_or_not_but_reset_still_works() {
    let h = start().await;
    signup(&h, "ola@example.com", "ola").await;
    // An attacker fails five times on the victim and on an unknown address.
    for email in ["ola@example.com", "ghost@example.com"] {
        for _ in 0..5 {
            let e = login_with(&h, email, "wrong password!").await.unwrap_err();
            assert_eq!(e.code(), Code::Unauthenticated);
            assert_eq!(reason(&e), "INVALID_CREDENTIALS");
        }
    }
    // Now both are throttled, with one generic answer, even with the right password.
    let victim = login_with(&h, "ola@example.com", "password-1")
        .await
        .unwrap_err();
    let ghost = login_with(&h, "ghost@example.com", "password-1")
        .await
        .unwrap_err();
    assert_eq!(victim.code(), Code::ResourceExhausted);
    assert_eq!(ghost.code(), victim.code());
    assert_eq!(ghost.message(), victim.message());
    assert_eq!(reason(&victim), "TOO_MANY_ATTEMPTS");

    // The lockout does not keep the owner from resetting, and the reset lifts it.
    assert_eq!(request_reset(&h, "ola@example.com").await.code(), Code::Ok);
    let mail = h
        .sink
        .wait_for_mail("ola@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    reset(&h, &reset_token(&mail.text), "recovered passphrase")
        .await
        .expect("reset works while locked");
    login_with(&h, "ola@example.com", "recovered passphrase")
        .await
        .expect("lockout lifted by the reset");
    h.stop().await;
}

#[tokio::test]
async fn failed_logins_are_throttled_per_client_address() {
    let mut h = start_with(|s| {
        s.limits.login_failures_per_ip = 6;
    })
    .await;
    signup(&h, "pia@example.com", "pia").await;
    // Spread over many accounts (so no single account locks), from one address.
    for i in 0..6 {
        let e = login_with(&h, &format!("spray{i}@example.com"), "wrong password!")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
    }
    let e = login_with(&h, "pia@example.com", "password-1")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    // The gateway's view of the client counts, not what the client claims: another address
    // (as the gateway would set it) is not throttled.
    let mut req = tonic::Request::new(pb::LoginRequest {
        email: "pia@example.com".into(),
        password: "password-1".into(),
    });
    req.metadata_mut().insert(
        stride_kit::authn::CLIENT_IP_HEADER,
        "203.0.113.9".parse().unwrap(),
    );
    h.client.login(req).await.expect("another address");
    h.stop().await;
}

#[tokio::test]
async fn unknown_email_and_wrong_password_take_comparable_time() {
    let h = start().await;
    signup(&h, "quy@example.com", "quy").await;
    // Alternate so machine noise hits both alike; compare medians loosely (both verify one
    // argon2 hash, the difference is one indexed lookup).
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..4 {
        let t = std::time::Instant::now();
        login_with(&h, "quy@example.com", &format!("wrong password {i}"))
            .await
            .unwrap_err();
        known.push(t.elapsed());
        let t = std::time::Instant::now();
        login_with(&h, &format!("nobody{i}@example.com"), "wrong password!")
            .await
            .unwrap_err();
        unknown.push(t.elapsed());
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[2].as_secs_f64(), unknown[2].as_secs_f64());
    // A missing hash check would make the unknown path ~10× faster; allow generous noise.
    assert!(u > k / 4.0 && k > u / 4.0, "known {k:.4}s unknown {u:.4}s");
    h.stop().await;
}

#[tokio::test]
async fn hashes_made_with_older_parameters_are_replaced_at_login() {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
    let h = start().await;
    let (u, _) = signup(&h, "tao@example.com", "tao").await;
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8_192, 1, 1, None).unwrap(),
    )
    .hash_password(b"password-1")
    .unwrap()
    .to_string();
    let pool = &h.db;
    let id = Uuid::parse_str(&u.id).unwrap();
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(&weak)
        .execute(pool)
        .await
        .unwrap();
    login(&h, "tao@example.com").await;
    let (now,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{now}");
    assert!(!stride_auth::password::needs_rehash(&now));
    assert!(stride_auth::password::needs_rehash(&weak));
    login(&h, "tao@example.com").await;
    h.stop().await;
}
