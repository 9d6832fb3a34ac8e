//! Sign-up with email confirmation (the production default): the answer never reveals whether an
//! address has an account, and only the mailbox owner can activate one.

use sqlx::PgPool;
use stride_proto::{Event as _, auth as pb, events};
use stride_testkit::{
    EVENT_DEADLINE,
    bus::{Probe, reason},
};
use tonic::Code;

use crate::support::{Auth, code_in, login_with, reset_token, signup_req, start_with};

async fn confirm(
    h: &Auth,
    email: &str,
    code: &str,
) -> Result<pb::ConfirmSignupResponse, tonic::Status> {
    h.client
        .clone()
        .confirm_signup(pb::ConfirmSignupRequest {
            email: email.into(),
            code: code.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn registered_in_outbox(db: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'user.registered.v1'")
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn signup_answers_the_same_for_taken_and_free_emails_and_the_code_activates() {
    let mut h = start_with(|s| s.signup_confirmation = true).await;
    let mut registered = Probe::bind(&h.amqp, events::UserRegistered::TYPE).await;

    // A free address: no tokens yet, a code in the mail, nothing announced, no login.
    let fresh = h
        .client
        .signup(signup_req("una@example.com", "una", "password-1"))
        .await
        .unwrap()
        .into_inner();
    assert!(fresh.confirmation_required);
    assert!(fresh.user.is_none() && fresh.tokens.is_none());
    let mail = h
        .sink
        .wait_for_mail("una@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    assert_eq!(
        registered_in_outbox(&h.db).await,
        0,
        "pending accounts are not announced"
    );
    let pending = login_with(&h, "una@example.com", "password-1")
        .await
        .unwrap_err();
    let unknown = login_with(&h, "nobody@example.com", "password-1")
        .await
        .unwrap_err();
    assert_eq!(
        (pending.code(), reason(&pending)),
        (unknown.code(), reason(&unknown))
    );
    assert_eq!(pending.message(), unknown.message());
    let wrong = confirm(&h, "una@example.com", "000000").await.unwrap_err();
    assert_eq!(reason(&wrong), "CODE_INVALID");

    let done = confirm(&h, "una@example.com", &code_in(&mail.text))
        .await
        .unwrap();
    let user = done.user.unwrap();
    assert!(user.email_verified);
    assert!(done.tokens.is_some());
    let (_, _, _, ev) = registered.next::<events::UserRegistered>().await;
    assert_eq!(ev.user_id, user.id);
    login_with(&h, "una@example.com", "password-1")
        .await
        .expect("active now");

    // The same address again, by someone else: the very same answer; the owner is told, no code
    // is sent, and nothing the caller chose works.
    let taken = h
        .client
        .signup(signup_req("una@example.com", "impostor", "impostor pass 1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        taken, fresh,
        "identical answers for a taken and a free address"
    );
    let notice = h
        .sink
        .wait_for_mail_after("una@example.com", mail.id, EVENT_DEADLINE)
        .await
        .unwrap();
    assert!(
        notice.subject.contains("tried to create"),
        "{}",
        notice.subject
    );
    assert!(!notice.text.contains("code is"));
    assert!(
        login_with(&h, "una@example.com", "impostor pass 1")
            .await
            .is_err()
    );
    let e = confirm(&h, "una@example.com", "123456").await.unwrap_err();
    assert_eq!(reason(&e), "CODE_INVALID");

    // Usernames are public handles: a taken one is said, whatever the address.
    let e = h
        .client
        .signup(signup_req("other@example.com", "UNA", "password-1"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    assert_eq!(reason(&e), "USERNAME_TAKEN");
    h.stop().await;
}

#[tokio::test]
async fn a_second_signup_before_confirming_resends_the_code_but_keeps_the_first_password() {
    let mut h = start_with(|s| s.signup_confirmation = true).await;
    h.client
        .signup(signup_req("vin@example.com", "vin", "first passphrase"))
        .await
        .unwrap();
    let m1 = h
        .sink
        .wait_for_mail("vin@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    h.client
        .signup(signup_req("vin@example.com", "vin", "second passphrase"))
        .await
        .unwrap();
    let m2 = h
        .sink
        .wait_for_mail_after("vin@example.com", m1.id, EVENT_DEADLINE)
        .await
        .unwrap();
    let (c1, c2) = (code_in(&m1.text), code_in(&m2.text));
    if c1 != c2 {
        assert_eq!(
            reason(&confirm(&h, "vin@example.com", &c1).await.unwrap_err()),
            "CODE_INVALID",
            "the resent code replaced the first"
        );
    }
    confirm(&h, "vin@example.com", &c2).await.unwrap();
    // Whoever signs up second cannot plant a password in the account the owner confirms.
    login_with(&h, "vin@example.com", "first passphrase")
        .await
        .expect("first password");
    assert!(
        login_with(&h, "vin@example.com", "second passphrase")
            .await
            .is_err()
    );
    h.stop().await;
}

#[tokio::test]
async fn a_password_reset_also_activates_a_pending_signup() {
    let mut h = start_with(|s| s.signup_confirmation = true).await;
    h.client
        .signup(signup_req("wyn@example.com", "wyn", "forgotten passphrase"))
        .await
        .unwrap();
    let m1 = h
        .sink
        .wait_for_mail("wyn@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    h.client
        .request_password_reset(pb::RequestPasswordResetRequest {
            email: "wyn@example.com".into(),
        })
        .await
        .unwrap();
    let reset = h
        .sink
        .wait_for_mail_after("wyn@example.com", m1.id, EVENT_DEADLINE)
        .await
        .unwrap();
    h.client
        .reset_password(pb::ResetPasswordRequest {
            token: reset_token(&reset.text),
            new_password: "remembered passphrase".into(),
        })
        .await
        .unwrap();
    login_with(&h, "wyn@example.com", "remembered passphrase")
        .await
        .expect("the reset proved the mailbox");
    assert_eq!(registered_in_outbox(&h.db).await, 1);
    h.stop().await;
}
