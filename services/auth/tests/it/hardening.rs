//! The security review's findings (issue 10), each played as an attack against auth: it must fail.
//! See `/docs/auth.md`, "Threat model".

use stride_kit::Clock as _;
use stride_proto::auth as pb;
use stride_testkit::{EVENT_DEADLINE, authed, bus::reason, eventually};
use tonic::{Code, Status};

use crate::support::{
    Auth, PASSWORD, claims, email_code_sign_in, email_credential, identities, jwks_verifier,
    last_mail, link, link_code, login, login_with, mail_code, password, refresh, request_reset,
    reset, reset_token, restart, signup, signup_req, start, start_with,
};

/// The text of the first mail to `to` whose subject contains `subject`.
async fn mail_titled(h: &Auth, to: &str, subject: &str) -> String {
    eventually(
        EVENT_DEADLINE,
        &format!("a mail {subject:?} to {to}"),
        || {
            let found = h
                .sink
                .mail_to(to)
                .into_iter()
                .find(|m| m.subject.contains(subject))
                .map(|m| m.text);
            async move { found }
        },
    )
    .await
}

fn from_ip<T>(message: T, ip: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut()
        .insert("x-stride-client-ip", ip.parse().unwrap());
    req
}

fn sign_in_code_req(address: &str) -> pb::SendCodeRequest {
    pb::SendCodeRequest {
        channel: pb::CodeChannel::Email.into(),
        address: address.into(),
        purpose: pb::CodePurpose::SignIn.into(),
    }
}

fn code_sign_in_req(address: &str, code: &str) -> pb::SignInWithCodeRequest {
    pb::SignInWithCodeRequest {
        channel: pb::CodeChannel::Email.into(),
        address: address.into(),
        code: code.into(),
        timezone: String::new(),
    }
}

/// Sends a sign-in code to `address` (from `ip`) and reads it from the mailbox.
async fn sign_in_code(h: &Auth, address: &str, ip: &str) -> String {
    let after = last_mail(&h.sink, address);
    h.client
        .clone()
        .send_code(from_ip(sign_in_code_req(address), ip))
        .await
        .expect("send code");
    mail_code(&h.sink, address, after).await
}

async fn code_sign_in(
    h: &Auth,
    address: &str,
    code: &str,
    ip: &str,
) -> Result<pb::SignInWithCodeResponse, Status> {
    h.client
        .clone()
        .sign_in_with_code(from_ip(code_sign_in_req(address, code), ip))
        .await
        .map(|r| r.into_inner())
}

/// A six-digit code that is not `code`.
fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn logout_all(h: &Auth, access: &str) -> Result<i32, Status> {
    h.client
        .clone()
        .logout_all(authed(pb::LogoutAllRequest {}, access))
        .await
        .map(|r| r.into_inner().revoked_sessions)
}

// ---- H1: pre-account takeover ----

/// H1 end to end: the attacker signs up with the victim's address (no confirmation in this
/// deployment), links a sign-in of its own and keeps a session. The victim proves the address
/// with an emailed code: the attacker's password no longer works, its identity is gone, its
/// sessions are ended (refresh and auth's sensitive methods), and the victim is told.
#[tokio::test]
async fn proving_an_address_by_code_removes_what_a_stranger_attached_before() {
    let h = start().await;
    let (_, attacker) = signup_with(&h, "vic@example.com", "vic", "attacker passphrase").await;
    let code = link_code(&h, &attacker.access_token, "attacker@evil.example").await;
    link(
        &h,
        &attacker.access_token,
        password("attacker passphrase"),
        Some(email_credential("attacker@evil.example", &code)),
    )
    .await
    .expect("the attacker links its own address");

    let victim = email_code_sign_in(&h, "vic@example.com").await;
    assert!(
        !victim.created,
        "the victim proved the address of the existing account"
    );
    let tokens = victim.tokens.unwrap();
    assert!(victim.user.unwrap().email_verified);

    assert!(
        login_with(&h, "vic@example.com", "attacker passphrase")
            .await
            .is_err(),
        "the attacker's password is gone"
    );
    let e = refresh(&h, &attacker.refresh_token).await.unwrap_err();
    assert_eq!(reason(&e), "REFRESH_TOKEN_REVOKED");
    let e = logout_all(&h, &attacker.access_token).await.unwrap_err();
    assert_eq!(reason(&e), "SESSION_ENDED");
    let ids = identities(&h, &tokens.access_token).await;
    assert_eq!(
        ids.iter().map(|i| i.subject.as_str()).collect::<Vec<_>>(),
        ["vic@example.com"]
    );
    assert!(ids[0].primary && ids[0].email_verified);
    let notice = mail_titled(&h, "vic@example.com", "We secured").await;
    assert!(
        notice.contains("a password, a sign-in with email, 1 signed-in session(s)"),
        "{notice}"
    );
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM audit_events")
        .fetch_all(&h.db)
        .await
        .unwrap();
    assert!(
        kinds
            .iter()
            .any(|k| k == "account.unproved_credentials_removed")
    );
    // The attacker's other address is free again for the attacker's own use.
    assert!(
        login_with(&h, "attacker@evil.example", "attacker passphrase")
            .await
            .is_err()
    );
    h.stop().await;
}

/// H1: identities linked to a never-proved address do not survive the owner's password reset.
#[tokio::test]
async fn a_reset_of_a_never_proved_address_removes_identities_linked_before() {
    let h = start().await;
    let (_, attacker) = signup_with(&h, "rae@example.com", "rae", "attacker passphrase").await;
    let code = link_code(&h, &attacker.access_token, "attacker2@evil.example").await;
    link(
        &h,
        &attacker.access_token,
        password("attacker passphrase"),
        Some(email_credential("attacker2@evil.example", &code)),
    )
    .await
    .unwrap();
    assert!(request_reset(&h, "rae@example.com").await.code() == Code::Ok);
    let mail = mail_titled(&h, "rae@example.com", "Reset your Stride password").await;
    reset(&h, &reset_token(&mail), "owner passphrase")
        .await
        .unwrap();
    let owner = login_with(&h, "rae@example.com", "owner passphrase")
        .await
        .unwrap();
    let ids = identities(&h, &owner.access_token).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0].subject, "rae@example.com");
    assert!(
        mail_titled(&h, "rae@example.com", "We secured")
            .await
            .contains("a sign-in with email")
    );
    h.stop().await;
}

async fn signup_with(
    h: &Auth,
    email: &str,
    username: &str,
    password: &str,
) -> (pb::User, pb::TokenPair) {
    let res = h
        .client
        .clone()
        .signup(signup_req(email, username, password))
        .await
        .unwrap()
        .into_inner();
    (res.user.unwrap(), res.tokens.unwrap())
}

// ---- H2: guessable codes ----

/// H2: wrong codes are budgeted per address across re-sends: past the budget even the right
/// code is refused, the owner is told, and a password reset (the slower recovery) lifts it.
#[tokio::test]
async fn wrong_codes_across_resends_lock_the_address_until_a_reset() {
    let h = start_with(|s| {
        s.limits.code_failures_per_address = 10;
        s.limits.code_sends_per_hour = 10;
    })
    .await;
    signup(&h, "cody@example.com", "cody").await;
    let ip = "192.0.2.10";
    // Two codes, five wrong guesses each (each code dies at its fifth): ten failures.
    for _ in 0..2 {
        let code = sign_in_code(&h, "cody@example.com", ip).await;
        for _ in 0..5 {
            let e = code_sign_in(&h, "cody@example.com", &wrong(&code), ip)
                .await
                .unwrap_err();
            assert_eq!(reason(&e), "CODE_INVALID");
        }
    }
    // A fresh code does not bring fresh guesses: the right one is refused now.
    let code = sign_in_code(&h, "cody@example.com", "192.0.2.11").await;
    let e = code_sign_in(&h, "cody@example.com", &code, "192.0.2.11")
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "TOO_MANY_ATTEMPTS");
    assert!(
        mail_titled(
            &h,
            "cody@example.com",
            "codes for your Stride account are paused"
        )
        .await
        .contains("reset it")
    );
    // The password still works; a reset lifts the pause.
    login(&h, "cody@example.com").await;
    request_reset(&h, "cody@example.com").await;
    let mail = mail_titled(&h, "cody@example.com", "Reset your Stride password").await;
    reset(&h, &reset_token(&mail), "new passphrase 1")
        .await
        .unwrap();
    let code = sign_in_code(&h, "cody@example.com", "192.0.2.12").await;
    code_sign_in(&h, "cody@example.com", &code, "192.0.2.12")
        .await
        .expect("unlocked by the reset");
    h.stop().await;
}

/// H2: wrong codes are budgeted per client address (across target addresses) and globally.
#[tokio::test]
async fn wrong_codes_are_budgeted_per_client_and_globally() {
    let h = start_with(|s| {
        s.limits.code_failures_per_ip_per_hour = 3;
        s.limits.code_failures_global_per_hour = 5;
    })
    .await;
    let guesser = "198.51.100.7";
    for n in 0..3 {
        let address = format!("t{n}@example.com");
        let code = sign_in_code(&h, &address, guesser).await;
        code_sign_in(&h, &address, &wrong(&code), guesser)
            .await
            .unwrap_err();
    }
    let code = sign_in_code(&h, "t9@example.com", guesser).await;
    let e = code_sign_in(&h, "t9@example.com", &code, guesser)
        .await
        .unwrap_err();
    assert_eq!(
        reason(&e),
        "TOO_MANY_ATTEMPTS",
        "the client's budget is spent"
    );
    code_sign_in(&h, "t9@example.com", &code, "198.51.100.8")
        .await
        .expect("another client is not held back");
    // Two more failures from elsewhere: the global budget (5) is spent for everyone.
    for (n, ip) in [(10, "203.0.113.1"), (11, "203.0.113.2")] {
        let address = format!("t{n}@example.com");
        let code = sign_in_code(&h, &address, ip).await;
        code_sign_in(&h, &address, &wrong(&code), ip)
            .await
            .unwrap_err();
    }
    let code = sign_in_code(&h, "t12@example.com", "203.0.113.3").await;
    let e = code_sign_in(&h, "t12@example.com", &code, "203.0.113.3")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    h.stop().await;
}

// ---- M1: throttle race ----

/// M1: concurrent wrong logins for one account cannot all pass the check before any failure is
/// counted: at most the limit (5) are ever verified.
#[tokio::test]
async fn concurrent_wrong_logins_verify_at_most_the_limit() {
    let h = start().await;
    signup(&h, "mia@example.com", "mia").await;
    let attempts = (0..40).map(|n| {
        let h = &h;
        async move {
            login_with(h, "mia@example.com", &format!("wrong passphrase {n}"))
                .await
                .unwrap_err()
        }
    });
    let errors = futures::future::join_all(attempts).await;
    let verified = errors
        .iter()
        .filter(|e| reason(e) == "INVALID_CREDENTIALS")
        .count();
    assert!(verified <= 5, "{verified} wrong passwords were checked");
    assert!(
        errors.iter().all(|e| [
            "INVALID_CREDENTIALS",
            "TOO_MANY_ATTEMPTS",
            "TOO_MANY_REQUESTS"
        ]
        .contains(&reason(e).as_str())),
        "{errors:?}"
    );
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE kind = 'login.failed'")
            .fetch_one(&h.db)
            .await
            .unwrap();
    assert!(failed <= 5, "{failed}");
    h.stop().await;
}

// ---- M2: refresh replay grace ----

async fn refresh_from(h: &Auth, token: &str, ip: &str) -> Result<pb::TokenPair, Status> {
    h.client
        .clone()
        .refresh(from_ip(
            pb::RefreshRequest {
                refresh_token: token.into(),
            },
            ip,
        ))
        .await
        .map(|r| r.into_inner().tokens.unwrap())
}

/// M2: a lost rotation answer may be fetched again once, by the client that rotated; a second
/// replay, or a replay from another client, is reuse and ends the session.
#[tokio::test]
async fn a_refresh_replay_is_allowed_once_and_only_to_the_rotating_client() {
    let h = start().await;
    let (_, t0) = signup(&h, "rex@example.com", "rex").await;
    let owner = "192.0.2.50";
    let t1 = refresh_from(&h, &t0.refresh_token, owner).await.unwrap();
    let again = refresh_from(&h, &t0.refresh_token, owner).await.unwrap();
    assert_eq!(
        again.refresh_token, t1.refresh_token,
        "one replay, same pair"
    );
    let e = refresh_from(&h, &t0.refresh_token, owner)
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "REFRESH_TOKEN_REUSED");
    assert!(refresh_from(&h, &t1.refresh_token, owner).await.is_err());

    // A thief replaying within the grace from elsewhere: reuse, the session ends.
    let (_, s0) = signup(&h, "rey@example.com", "rey").await;
    let s1 = refresh_from(&h, &s0.refresh_token, owner).await.unwrap();
    let e = refresh_from(&h, &s0.refresh_token, "203.0.113.66")
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "REFRESH_TOKEN_REUSED");
    let e = refresh_from(&h, &s1.refresh_token, owner)
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "REFRESH_TOKEN_REVOKED");
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT kind FROM audit_events WHERE kind IN ('session.replayed', 'session.reuse_detected')
         AND client_ip IS NOT NULL ORDER BY id",
    )
    .fetch_all(&h.db)
    .await
    .unwrap();
    assert_eq!(
        kinds,
        [
            "session.replayed",
            "session.reuse_detected",
            "session.reuse_detected"
        ]
    );
    h.stop().await;
}

// ---- M3 / L1: ended sessions at auth's sensitive methods ----

/// M3: once a session is ended (here by the owner's LogoutAll from another device), its
/// unexpired access token no longer works for LinkIdentity, UnlinkIdentity, SetPrimaryIdentity,
/// LogoutAll, ChangePassword or DeleteAccount.
#[tokio::test]
async fn an_ended_sessions_access_token_cannot_change_the_account() {
    let h = start().await;
    let (_, thief) = signup(&h, "tia@example.com", "tia").await;
    let owner = login(&h, "tia@example.com").await;
    let ids = identities(&h, &owner.access_token).await;
    assert_eq!(logout_all(&h, &owner.access_token).await.unwrap(), 2);
    let owner = login(&h, "tia@example.com").await;
    let mut c = h.client.clone();
    let checks: Vec<Status> = vec![
        link(&h, &thief.access_token, password(PASSWORD), None)
            .await
            .unwrap_err(),
        c.unlink_identity(authed(
            pb::UnlinkIdentityRequest {
                identity_id: ids[0].id.clone(),
                proof: password(PASSWORD),
            },
            &thief.access_token,
        ))
        .await
        .unwrap_err(),
        c.set_primary_identity(authed(
            pb::SetPrimaryIdentityRequest {
                identity_id: ids[0].id.clone(),
                proof: password(PASSWORD),
            },
            &thief.access_token,
        ))
        .await
        .unwrap_err(),
        logout_all(&h, &thief.access_token).await.unwrap_err(),
        c.change_password(authed(
            pb::ChangePasswordRequest {
                current_password: PASSWORD.into(),
                new_password: "thief passphrase".into(),
            },
            &thief.access_token,
        ))
        .await
        .unwrap_err(),
        c.delete_account(authed(
            pb::DeleteAccountRequest {
                proof: None,
                password: PASSWORD.into(),
            },
            &thief.access_token,
        ))
        .await
        .unwrap_err(),
    ];
    for e in &checks {
        assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        assert_eq!(reason(e), "SESSION_ENDED");
    }
    // The owner's fresh session is untouched.
    refresh(&h, &owner.refresh_token).await.unwrap();
    h.stop().await;
}

// ---- M4: enumeration ----

/// M4a: a public handle answers the same whatever address comes with it.
#[tokio::test]
async fn a_username_does_not_reveal_its_email() {
    let mut h = start_with(|s| s.signup_confirmation = true).await;
    h.client
        .signup(signup_req("ann@example.com", "ann", PASSWORD))
        .await
        .unwrap();
    let code = mail_code(&h.sink, "ann@example.com", 0).await;
    h.client
        .confirm_signup(pb::ConfirmSignupRequest {
            email: "ann@example.com".into(),
            code,
            password: PASSWORD.into(),
        })
        .await
        .unwrap();
    let mut answers = Vec::new();
    for email in ["guess@example.com", "ann@example.com"] {
        let e = h
            .client
            .signup(signup_req(email, "Ann", "another passphrase"))
            .await
            .unwrap_err();
        answers.push((e.code(), reason(&e), e.message().to_owned()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].1, "USERNAME_TAKEN");
    h.stop().await;
}

/// M4c: RequestEmailChange does the same send accounting for a taken address as for a free one,
/// so its limit tells nothing; L10: a guest cannot change its email.
#[tokio::test]
async fn email_change_answers_and_limits_alike_for_taken_and_free_addresses() {
    let mut h = start().await;
    let (_, me_t) = signup(&h, "eve@example.com", "eve").await;
    // A proved (verified) holder of the taken address.
    email_code_sign_in(&h, "held@example.com").await;
    let mut answers = Vec::new();
    for target in ["held@example.com", "free@example.com"] {
        let mut codes = Vec::new();
        for _ in 0..4 {
            let r = h
                .client
                .request_email_change(authed(
                    pb::RequestEmailChangeRequest {
                        new_email: target.into(),
                        proof: password(PASSWORD),
                    },
                    &me_t.access_token,
                ))
                .await;
            codes.push(r.map_err(|e| reason(&e)).map(|_| ()));
        }
        answers.push(codes);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0][3], Err("TOO_MANY_ATTEMPTS".to_owned()));
    assert!(
        h.sink
            .mail_to("held@example.com")
            .iter()
            .all(|m| !m.subject.contains("email change")),
        "no code goes to a taken address"
    );
    // L10: a guest holds nothing to prove; it claims its account first.
    let guest = h
        .client
        .signup_guest(pb::SignupGuestRequest::default())
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let e = h
        .client
        .request_email_change(authed(
            pb::RequestEmailChangeRequest {
                new_email: "g@example.com".into(),
                proof: None,
            },
            &guest.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "SIGN_IN_REQUIRED");
    h.stop().await;
}

// ---- M5: SMS pumping and mail bombing ----

/// M5 / L8: public sign-in sends are budgeted per client address and globally, and they do not
/// use up the budget of an account's own codes.
#[tokio::test]
async fn public_sign_in_sends_are_budgeted_per_client_and_globally() {
    let mut h = start_with(|s| {
        s.limits.sign_in_sends_per_ip_per_hour = 2;
        s.limits.sign_in_sends_global_per_hour = 4;
    })
    .await;
    let send = |address: String, ip: &'static str| {
        let mut c = h.client.clone();
        async move {
            c.send_code(from_ip(sign_in_code_req(&address), ip))
                .await
                .map(drop)
        }
    };
    send("p1@example.com".into(), "192.0.2.80").await.unwrap();
    send("p2@example.com".into(), "192.0.2.80").await.unwrap();
    let e = send("p3@example.com".into(), "192.0.2.80")
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "TOO_MANY_ATTEMPTS");
    send("p3@example.com".into(), "192.0.2.81").await.unwrap();
    send("p4@example.com".into(), "192.0.2.82").await.unwrap();
    let e = send("p5@example.com".into(), "192.0.2.83")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "the global budget");

    // L8: three public sign-in sends to an account's address leave its own codes alone.
    let (_, t) = signup(&h, "own@example.com", "own").await;
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let _ = send("own@example.com".into(), ip).await;
    }
    h.client
        .send_code(authed(
            pb::SendCodeRequest {
                channel: pb::CodeChannel::Email.into(),
                address: String::new(),
                purpose: pb::CodePurpose::Reauthenticate.into(),
            },
            &t.access_token,
        ))
        .await
        .expect("re-authentication codes have their own budget");
    h.stop().await;
}

// ---- M7: withdrawing a signing key ----

/// M7: `stride-auth keys revoke <kid>` withdraws a key at once: it is no longer published, a
/// verifier that fetches the keys refuses its tokens, and auth signs with a new key.
/// `keys rotate-now` replaces the active key off schedule, keeping the old one published.
#[tokio::test]
async fn a_revoked_key_is_withdrawn_and_rotate_now_replaces_the_active_key() {
    use stride_auth::ops::{Op, run};
    let h = start().await;
    let (_, t) = signup(&h, "kim@example.com", "kim").await;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    let leaked = kid(&t.access_token);
    let now = h.clock.now();

    let out = run(&h.db, Op::RotateNow, now).await.unwrap();
    let rotated = out.trim_start_matches("new signing key ").to_owned();
    assert_ne!(rotated, leaked);
    let jwks = |h: &Auth| {
        let mut c = h.client.clone();
        async move {
            let mut kids: Vec<String> = c
                .get_jwks(pb::GetJwksRequest {})
                .await
                .unwrap()
                .into_inner()
                .keys
                .into_iter()
                .map(|k| k.kid)
                .collect();
            kids.sort();
            kids
        }
    };
    let mut both = vec![leaked.clone(), rotated.clone()];
    both.sort();
    assert_eq!(jwks(&h).await, both, "the retired key stays published");

    let out = run(&h.db, Op::RevokeKey(leaked.clone()), now)
        .await
        .unwrap();
    assert_eq!(out, format!("revoked {leaked}"));
    assert_eq!(jwks(&h).await, vec![rotated.clone()]);
    assert!(
        jwks_verifier(&h)
            .await
            .verify(&t.access_token)
            .await
            .is_err()
    );
    let e = run(&h.db, Op::RevokeKey("nope".into()), now)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no signing key"), "{e}");
    let listed = run(&h.db, Op::ListKeys, now).await.unwrap();
    assert!(
        listed.contains(&format!("{leaked}\t")) && listed.contains("revoked"),
        "{listed}"
    );

    // Revoking the active key makes a new one at once; a restarted auth signs with it.
    let out = run(&h.db, Op::RevokeKey(rotated.clone()), now)
        .await
        .unwrap();
    let fresh = out
        .split("new signing key ")
        .nth(1)
        .expect("a new key")
        .to_owned();
    let h = restart(h, |_| {}).await;
    let t2 = login(&h, "kim@example.com").await;
    assert_eq!(kid(&t2.access_token), fresh);
    assert_eq!(claims(&h, &t2.access_token).await.sub.len(), 36);
    h.stop().await;
}

// ---- L7 / L9 ----

/// L7: the audit log refuses TRUNCATE too.
#[tokio::test]
async fn the_audit_log_cannot_be_truncated() {
    let h = start().await;
    signup(&h, "aud@example.com", "aud").await;
    let e = sqlx::query("TRUNCATE audit_events")
        .execute(&h.db)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    h.stop().await;
}

/// L9: an email change kills reset links sent to the old address and ends other sessions.
#[tokio::test]
async fn an_email_change_kills_the_old_addresses_secrets_and_other_sessions() {
    let mut h = start().await;
    let (_, t) = signup(&h, "old@example.com", "old").await;
    let other = login(&h, "old@example.com").await;
    request_reset(&h, "old@example.com").await;
    let reset_mail = h
        .sink
        .wait_for_mail("old@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    h.client
        .request_email_change(authed(
            pb::RequestEmailChangeRequest {
                new_email: "new@example.com".into(),
                proof: password(PASSWORD),
            },
            &t.access_token,
        ))
        .await
        .unwrap();
    let code = mail_code(&h.sink, "new@example.com", 0).await;
    h.client
        .confirm_email_change(authed(
            pb::ConfirmEmailChangeRequest { code },
            &t.access_token,
        ))
        .await
        .unwrap();
    let e = reset(&h, &reset_token(&reset_mail.text), "taken over 1")
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "RESET_TOKEN_INVALID");
    let e = refresh(&h, &other.refresh_token).await.unwrap_err();
    assert_eq!(reason(&e), "REFRESH_TOKEN_REVOKED");
    refresh(&h, &t.refresh_token)
        .await
        .expect("this session stays");
    h.stop().await;
}
