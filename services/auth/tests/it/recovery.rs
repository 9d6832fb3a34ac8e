//! Password change and reset, login throttling and the lockout that must not block a reset.

use std::{sync::Arc, time::Duration};

use stride_kit::{Clock as _, ManualClock, SystemClock};
use stride_proto::auth as pb;
use stride_testkit::authed;
use tonic::Code;

use super::{
    bad_fields, harness, harness_with, login, reason, refresh, sessions, signup, signup_req,
};

pub(crate) const MAIL_WAIT: Duration = Duration::from_secs(20);

/// The token in a reset mail.
pub(crate) fn reset_token(text: &str) -> String {
    let start = text
        .find("reset token in the app: ")
        .expect("token in mail")
        + 24;
    text[start..]
        .split_whitespace()
        .next()
        .expect("token")
        .to_owned()
}

/// The 6-digit code in a code mail or SMS.
pub(crate) fn code_in(text: &str) -> String {
    let start = text.find("code is ").expect("code in message") + 8;
    text[start..start + 6].to_owned()
}

fn now_clock() -> ManualClock {
    ManualClock::new(SystemClock.now())
}

async fn request_reset(h: &mut super::Harness, email: &str) -> tonic::Status {
    match h
        .client
        .request_password_reset(pb::RequestPasswordResetRequest {
            email: email.into(),
        })
        .await
    {
        Ok(_) => tonic::Status::ok(""),
        Err(e) => e,
    }
}

async fn reset(h: &mut super::Harness, token: &str, password: &str) -> Result<(), tonic::Status> {
    h.client
        .reset_password(pb::ResetPasswordRequest {
            token: token.into(),
            new_password: password.into(),
        })
        .await
        .map(drop)
}

async fn login_with(
    h: &mut super::Harness,
    email: &str,
    password: &str,
) -> Result<pb::LoginResponse, tonic::Status> {
    h.client
        .login(pb::LoginRequest {
            email: email.into(),
            password: password.into(),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn reset_request_answers_the_same_for_known_and_unknown_emails() {
    let mut h = harness(Arc::new(stride_kit::SystemClock)).await;
    signup(&mut h.client, "kim@example.com", "kim").await;
    let known = request_reset(&mut h, "kim@example.com").await;
    let unknown = request_reset(&mut h, "nobody@example.com").await;
    assert_eq!(known.code(), Code::Ok);
    assert_eq!(unknown.code(), Code::Ok);
    assert_eq!(known.message(), unknown.message());
    // Only the real account gets mail.
    h.sink
        .wait_for_mail("kim@example.com", MAIL_WAIT)
        .await
        .expect("reset mail");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.sink.mail_to("nobody@example.com").is_empty());
    // Malformed input is the one thing that is told apart.
    let bad = request_reset(&mut h, "not-an-email").await;
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&bad), ["email"]);
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn reset_token_is_single_use_ends_every_session_and_does_not_sign_in() {
    let clock = now_clock();
    let mut h = harness(Arc::new(clock.clone())).await;
    let (_, first) = signup(&mut h.client, "lee@example.com", "lee").await;
    let second = login(&mut h.client, "lee@example.com").await;
    // A pending sign-in code must die with the reset too.
    h.client
        .send_code(pb::SendCodeRequest {
            channel: pb::CodeChannel::Email.into(),
            address: "lee@example.com".into(),
            purpose: pb::CodePurpose::SignIn.into(),
        })
        .await
        .unwrap();
    let code_mail = h
        .sink
        .wait_for_mail("lee@example.com", MAIL_WAIT)
        .await
        .unwrap();
    let code = code_in(&code_mail.text);

    assert_eq!(
        request_reset(&mut h, "lee@example.com").await.code(),
        Code::Ok
    );
    let mail = h
        .sink
        .wait_for_mail_after("lee@example.com", code_mail.id, MAIL_WAIT)
        .await
        .unwrap();
    let token = reset_token(&mail.text);
    assert!(token.len() >= 43, "256-bit token: {token}");
    // The stored form is a hash, never the token.
    let pool = sqlx::PgPool::connect(&h.db).await.unwrap();
    let (stored,): (Vec<u8>,) = sqlx::query_as("SELECT token_hash FROM password_resets")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&token));

    // A common password is refused without spending the token.
    let weak = reset(&mut h, &token, "password123").await.unwrap_err();
    assert_eq!(bad_fields(&weak), ["new_password"]);
    reset(&mut h, &token, "a brand new passphrase")
        .await
        .unwrap();
    // Single use.
    let again = reset(&mut h, &token, "another new passphrase")
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated);
    assert_eq!(reason(&again), "RESET_TOKEN_INVALID");
    // Every session ended: both refresh tokens are dead.
    for t in [&first, &second] {
        assert_eq!(
            refresh(&mut h.client, &t.refresh_token)
                .await
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
    }
    // The pending code died.
    let err = h
        .client
        .sign_in_with_code(pb::SignInWithCodeRequest {
            channel: pb::CodeChannel::Email.into(),
            address: "lee@example.com".into(),
            code,
            timezone: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "CODE_INVALID");
    // Not signed in by the reset; the new password works, the old does not.
    assert!(
        login_with(&mut h, "lee@example.com", "password-1")
            .await
            .is_err()
    );
    login_with(&mut h, "lee@example.com", "a brand new passphrase")
        .await
        .expect("new password");
    pool.close().await;
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn reset_tokens_expire_within_an_hour_die_when_replaced_and_resends_cool_down() {
    let clock = now_clock();
    let mut h = harness(Arc::new(clock.clone())).await;
    signup(&mut h.client, "mo@example.com", "moe").await;
    request_reset(&mut h, "mo@example.com").await;
    let m1 = h
        .sink
        .wait_for_mail("mo@example.com", MAIL_WAIT)
        .await
        .unwrap();
    let t1 = reset_token(&m1.text);

    // Within the cooldown: same answer, no second mail.
    request_reset(&mut h, "mo@example.com").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.sink.mail_to("mo@example.com").len(), 1);

    // After it: a new token, and the old one dies.
    clock.advance(time::Duration::seconds(61));
    request_reset(&mut h, "mo@example.com").await;
    let m2 = h
        .sink
        .wait_for_mail_after("mo@example.com", m1.id, MAIL_WAIT)
        .await
        .unwrap();
    let t2 = reset_token(&m2.text);
    assert_ne!(t1, t2);
    assert_eq!(
        reason(
            &reset(&mut h, &t1, "fresh passphrase one")
                .await
                .unwrap_err()
        ),
        "RESET_TOKEN_INVALID"
    );

    // An hour later the new one has expired as well.
    clock.advance(time::Duration::minutes(60) + time::Duration::seconds(1));
    assert_eq!(
        reason(
            &reset(&mut h, &t2, "fresh passphrase two")
                .await
                .unwrap_err()
        ),
        "RESET_TOKEN_INVALID"
    );
    login_with(&mut h, "mo@example.com", "password-1")
        .await
        .expect("password unchanged");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn change_password_needs_the_current_one_and_ends_other_sessions() {
    let mut h = harness(Arc::new(stride_kit::SystemClock)).await;
    let (_, here) = signup(&mut h.client, "ned@example.com", "ned").await;
    let there = login(&mut h.client, "ned@example.com").await;
    let change = |current: &str, new: &str| pb::ChangePasswordRequest {
        current_password: current.into(),
        new_password: new.into(),
    };
    let wrong = h
        .client
        .change_password(authed(
            change("not it at all", "a new passphrase"),
            &here.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let weak = h
        .client
        .change_password(authed(
            change("password-1", "qwertyuiop"),
            &here.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&weak), ["new_password"]);

    let done = h
        .client
        .change_password(authed(
            change("password-1", "a new passphrase"),
            &here.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.revoked_sessions, 1);
    // The other session is gone, this one lives on.
    assert_eq!(
        refresh(&mut h.client, &there.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let here2 = refresh(&mut h.client, &here.refresh_token)
        .await
        .expect("this session stays");
    let list = sessions(&mut h.client, &here2.access_token, 0, "")
        .await
        .unwrap();
    assert_eq!(list.sessions.len(), 1);
    assert!(
        login_with(&mut h, "ned@example.com", "password-1")
            .await
            .is_err()
    );
    login_with(&mut h, "ned@example.com", "a new passphrase")
        .await
        .unwrap();
    // The owner is told.
    let notice = h
        .sink
        .wait_for_mail("ned@example.com", MAIL_WAIT)
        .await
        .unwrap();
    assert!(
        notice.subject.contains("password was changed"),
        "{}",
        notice.subject
    );
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn failed_logins_lock_the_account_the_same_way_known_or_not_but_reset_still_works() {
    let mut h = harness(Arc::new(stride_kit::SystemClock)).await;
    signup(&mut h.client, "ola@example.com", "ola").await;
    // An attacker fails five times on the victim and on an unknown address.
    for email in ["ola@example.com", "ghost@example.com"] {
        for _ in 0..5 {
            let e = login_with(&mut h, email, "wrong password!")
                .await
                .unwrap_err();
            assert_eq!(e.code(), Code::Unauthenticated);
            assert_eq!(reason(&e), "INVALID_CREDENTIALS");
        }
    }
    // Now both are throttled, with one generic answer, even with the right password.
    let victim = login_with(&mut h, "ola@example.com", "password-1")
        .await
        .unwrap_err();
    let ghost = login_with(&mut h, "ghost@example.com", "password-1")
        .await
        .unwrap_err();
    assert_eq!(victim.code(), Code::ResourceExhausted);
    assert_eq!(ghost.code(), victim.code());
    assert_eq!(ghost.message(), victim.message());
    assert_eq!(reason(&victim), "TOO_MANY_ATTEMPTS");

    // The lockout does not keep the owner from resetting, and the reset lifts it.
    assert_eq!(
        request_reset(&mut h, "ola@example.com").await.code(),
        Code::Ok
    );
    let mail = h
        .sink
        .wait_for_mail("ola@example.com", MAIL_WAIT)
        .await
        .unwrap();
    reset(&mut h, &reset_token(&mail.text), "recovered passphrase")
        .await
        .expect("reset works while locked");
    login_with(&mut h, "ola@example.com", "recovered passphrase")
        .await
        .expect("lockout lifted by the reset");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn failed_logins_are_throttled_per_client_address() {
    let mut h = harness_with(Arc::new(stride_kit::SystemClock), |s| {
        s.limits.login_failures_per_ip = 6;
    })
    .await;
    signup(&mut h.client, "pia@example.com", "pia").await;
    // Spread over many accounts (so no single account locks), from one address.
    for i in 0..6 {
        let e = login_with(&mut h, &format!("spray{i}@example.com"), "wrong password!")
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
    }
    let e = login_with(&mut h, "pia@example.com", "password-1")
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
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_email_and_wrong_password_take_comparable_time() {
    let mut h = harness(Arc::new(stride_kit::SystemClock)).await;
    signup(&mut h.client, "quy@example.com", "quy").await;
    // Alternate so machine noise hits both alike; compare medians loosely (both verify one
    // argon2 hash, the difference is one indexed lookup).
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..4 {
        let t = std::time::Instant::now();
        login_with(&mut h, "quy@example.com", &format!("wrong password {i}"))
            .await
            .unwrap_err();
        known.push(t.elapsed());
        let t = std::time::Instant::now();
        login_with(&mut h, &format!("nobody{i}@example.com"), "wrong password!")
            .await
            .unwrap_err();
        unknown.push(t.elapsed());
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[2].as_secs_f64(), unknown[2].as_secs_f64());
    // A missing hash check would make the unknown path ~10× faster; allow generous noise.
    assert!(u > k / 4.0 && k > u / 4.0, "known {k:.4}s unknown {u:.4}s");
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn common_passwords_are_refused_at_signup() {
    let mut h = harness(Arc::new(stride_kit::SystemClock)).await;
    for weak in ["password", "Password123", "iloveyou1", "qwertyuiop"] {
        let e = h
            .client
            .signup(signup_req("rae@example.com", "rae", weak))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{weak}");
        assert_eq!(bad_fields(&e), ["password"], "{weak}");
    }
    h.running.stop().await.unwrap();
}
