//! Password reset and change: one answer for known and unknown emails, single-use tokens that
//! expire and end every session, cooldowns, and the current password guarding a change.

use std::time::Duration;

use stride_proto::auth as pb;
use stride_testkit::{
    EVENT_DEADLINE, authed,
    bus::{assert_invalid, reason},
};
use tonic::Code;

use crate::support::{
    code_in, login, login_with, refresh, request_reset, reset, reset_token, sessions, signup, start,
};

#[tokio::test]
async fn reset_request_answers_the_same_for_known_and_unknown_emails() {
    let h = start().await;
    signup(&h, "kim@example.com", "kim").await;
    let known = request_reset(&h, "kim@example.com").await;
    let unknown = request_reset(&h, "nobody@example.com").await;
    assert_eq!(known.code(), Code::Ok);
    assert_eq!(unknown.code(), Code::Ok);
    assert_eq!(known.message(), unknown.message());
    // Only the real account gets mail.
    h.sink
        .wait_for_mail("kim@example.com", EVENT_DEADLINE)
        .await
        .expect("reset mail");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.sink.mail_to("nobody@example.com").is_empty());
    // Malformed input is the one thing that is told apart.
    let bad = request_reset(&h, "not-an-email").await;
    assert_invalid(&bad, &["email"]);
    h.stop().await;
}

#[tokio::test]
async fn reset_token_is_single_use_ends_every_session_and_does_not_sign_in() {
    let mut h = start().await;
    let (_, first) = signup(&h, "lee@example.com", "lee").await;
    let second = login(&h, "lee@example.com").await;
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
        .wait_for_mail("lee@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    let code = code_in(&code_mail.text);

    assert_eq!(request_reset(&h, "lee@example.com").await.code(), Code::Ok);
    let mail = h
        .sink
        .wait_for_mail_after("lee@example.com", code_mail.id, EVENT_DEADLINE)
        .await
        .unwrap();
    let token = reset_token(&mail.text);
    assert!(token.len() >= 43, "256-bit token: {token}");
    // The stored form is a hash, never the token.
    let (stored,): (Vec<u8>,) = sqlx::query_as("SELECT token_hash FROM password_resets")
        .fetch_one(&h.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&token));

    // A common password is refused without spending the token.
    let weak = reset(&h, &token, "password123").await.unwrap_err();
    assert_invalid(&weak, &["new_password"]);
    reset(&h, &token, "a brand new passphrase").await.unwrap();
    // Single use.
    let again = reset(&h, &token, "another new passphrase")
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated);
    assert_eq!(reason(&again), "RESET_TOKEN_INVALID");
    // Every session ended: both refresh tokens are dead.
    for t in [&first, &second] {
        assert_eq!(
            refresh(&h, &t.refresh_token).await.unwrap_err().code(),
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
        login_with(&h, "lee@example.com", "password-1")
            .await
            .is_err()
    );
    login_with(&h, "lee@example.com", "a brand new passphrase")
        .await
        .expect("new password");
    h.stop().await;
}

#[tokio::test]
async fn reset_tokens_expire_within_an_hour_die_when_replaced_and_resends_cool_down() {
    let h = start().await;
    signup(&h, "mo@example.com", "moe").await;
    request_reset(&h, "mo@example.com").await;
    let m1 = h
        .sink
        .wait_for_mail("mo@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    let t1 = reset_token(&m1.text);

    // Within the cooldown: same answer, no second mail.
    request_reset(&h, "mo@example.com").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.sink.mail_to("mo@example.com").len(), 1);

    // After it: a new token, and the old one dies.
    h.clock.advance(time::Duration::seconds(61));
    request_reset(&h, "mo@example.com").await;
    let m2 = h
        .sink
        .wait_for_mail_after("mo@example.com", m1.id, EVENT_DEADLINE)
        .await
        .unwrap();
    let t2 = reset_token(&m2.text);
    assert_ne!(t1, t2);
    assert_eq!(
        reason(&reset(&h, &t1, "fresh passphrase one").await.unwrap_err()),
        "RESET_TOKEN_INVALID"
    );

    // An hour later the new one has expired as well.
    h.clock
        .advance(time::Duration::minutes(60) + time::Duration::seconds(1));
    assert_eq!(
        reason(&reset(&h, &t2, "fresh passphrase two").await.unwrap_err()),
        "RESET_TOKEN_INVALID"
    );
    login_with(&h, "mo@example.com", "password-1")
        .await
        .expect("password unchanged");
    h.stop().await;
}

#[tokio::test]
async fn change_password_needs_the_current_one_and_ends_other_sessions() {
    let mut h = start().await;
    let (_, here) = signup(&h, "ned@example.com", "ned").await;
    let there = login(&h, "ned@example.com").await;
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
    assert_invalid(&weak, &["new_password"]);

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
        refresh(&h, &there.refresh_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let here2 = refresh(&h, &here.refresh_token)
        .await
        .expect("this session stays");
    let list = sessions(&h, &here2.access_token, 0, "").await.unwrap();
    assert_eq!(list.sessions.len(), 1);
    assert!(
        login_with(&h, "ned@example.com", "password-1")
            .await
            .is_err()
    );
    login_with(&h, "ned@example.com", "a new passphrase")
        .await
        .unwrap();
    // The owner is told.
    let notice = h
        .sink
        .wait_for_mail("ned@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    assert!(
        notice.subject.contains("password was changed"),
        "{}",
        notice.subject
    );
    h.stop().await;
}
