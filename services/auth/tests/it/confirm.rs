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

pub async fn confirm_with(
    h: &Auth,
    email: &str,
    code: &str,
    password: &str,
) -> Result<pb::ConfirmSignupResponse, tonic::Status> {
    h.client
        .clone()
        .confirm_signup(pb::ConfirmSignupRequest {
            email: email.into(),
            code: code.into(),
            password: password.into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// ConfirmSignup with the password every sign-up here uses first ("password-1").
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
            password: "password-1".into(),
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

/// H1, attack A: the attacker signs up first with the victim's address. The victim signs up
/// too and confirms with the code from the mailbox: the victim's password is the account's, the
/// attacker's never works. (This test replaces the one that asserted the first password won.)
#[tokio::test]
async fn an_attacker_who_signs_up_first_with_the_victims_address_gets_nothing() {
    let mut h = start_with(|s| s.signup_confirmation = true).await;
    h.client
        .signup(signup_req("vin@example.com", "vin", "attacker passphrase"))
        .await
        .unwrap();
    let m1 = h
        .sink
        .wait_for_mail("vin@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    // The victim signs up later with their own password and the same handle they want.
    h.client
        .signup(signup_req("vin@example.com", "vin", "victim passphrase"))
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
            reason(
                &confirm_with(&h, "vin@example.com", &c1, "victim passphrase")
                    .await
                    .unwrap_err()
            ),
            "CODE_INVALID",
            "the resent code replaced the first"
        );
    }
    let done = confirm_with(&h, "vin@example.com", &c2, "victim passphrase")
        .await
        .unwrap();
    assert!(done.password_set);
    login_with(&h, "vin@example.com", "victim passphrase")
        .await
        .expect("the prover's password");
    assert!(
        login_with(&h, "vin@example.com", "attacker passphrase")
            .await
            .is_err(),
        "the first password must not win"
    );
    h.stop().await;
}

/// H1, attack A the other way round: the attacker signs up *after* the victim, so the newest
/// attempt (and the code the victim reads last) carries the attacker's password. The victim
/// confirms with their own password: they get the account, without the stranger's password,
/// and are told.
#[tokio::test]
async fn a_strangers_later_attempt_is_discarded_when_the_owner_confirms() {
    let mut h = start_with(|s| s.signup_confirmation = true).await;
    h.client
        .signup(signup_req("vix@example.com", "vix", "victim passphrase"))
        .await
        .unwrap();
    let m1 = h
        .sink
        .wait_for_mail("vix@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    h.client
        .signup(signup_req("vix@example.com", "evil", "attacker passphrase"))
        .await
        .unwrap();
    let m2 = h
        .sink
        .wait_for_mail_after("vix@example.com", m1.id, EVENT_DEADLINE)
        .await
        .unwrap();
    let done = confirm_with(
        &h,
        "vix@example.com",
        &code_in(&m2.text),
        "victim passphrase",
    )
    .await
    .unwrap();
    assert!(!done.password_set);
    assert!(done.tokens.is_some());
    let user = done.user.unwrap();
    assert!(user.email_verified);
    assert_eq!(
        user.username, "",
        "the stranger's handle went with their password"
    );
    for p in ["attacker passphrase", "victim passphrase"] {
        assert!(login_with(&h, "vix@example.com", p).await.is_err(), "{p}");
    }
    let notice = h
        .sink
        .wait_for_mail_after("vix@example.com", m2.id, EVENT_DEADLINE)
        .await
        .unwrap();
    assert!(notice.text.contains("a password"), "{}", notice.text);
    // The password is required, by name.
    let e = confirm_with(&h, "vix@example.com", "123456", "")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("password"), "{}", e.message());
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
