//! Auth through the gateway with the whole mesh behind it: a guest's progress follows it into a
//! real account (user.merged.v1 applied by every service), passwordless sign-in and password reset
//! over grpc-web with mail delivered over SMTP, and the gateway's view of the client address.

use std::time::Duration;

use stride_e2e::Mesh;
use stride_proto::{
    activity_session::{
        ActivityKind, CompleteSessionRequest, ListActivitiesRequest, StartSessionRequest,
    },
    analytics::GetProgressSummaryRequest,
    auth::{
        CodeChannel, CodePurpose, ListAuditEventsRequest, LoginRequest, MergeGuestRequest,
        RequestPasswordResetRequest, ResetPasswordRequest, SendCodeRequest, SignInWithCodeRequest,
        SignupGuestRequest, SignupRequest,
    },
    profile::GetMyProfileRequest,
};
use stride_testkit::{EVENT_DEADLINE, authed, eventually};
use tonic::Code;

const MAIL: Duration = Duration::from_secs(20);

fn code_in(text: &str) -> String {
    let i = text.find("code is ").expect("code") + 8;
    text[i..i + 6].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_guests_sessions_follow_it_into_the_account_it_merges_into() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start(&super::shared_stores().await)
        .await
        .expect("mesh");
    let mut c = stride_e2e::grpc_clients(mesh.gateway)
        .await
        .expect("connect");

    let guest = c
        .auth
        .signup_guest(SignupGuestRequest {
            timezone: "Europe/Berlin".into(),
        })
        .await
        .expect("guest")
        .into_inner();
    let gtok = guest.tokens.unwrap().access_token;
    let gid = guest.user.unwrap().id;
    // The guest's profile appears (user.registered.v1), then it does two focus sessions.
    eventually(EVENT_DEADLINE, "guest profile", || {
        let mut p = c.profile.clone();
        let t = gtok.clone();
        async move {
            p.get_my_profile(authed(GetMyProfileRequest {}, &t))
                .await
                .ok()
        }
    })
    .await;
    let focus = c
        .catalog
        .list_activities(authed(ListActivitiesRequest::default(), &gtok))
        .await
        .unwrap()
        .into_inner()
        .activities
        .into_iter()
        .find(|a| a.kind() == ActivityKind::Focus)
        .expect("focus");
    for _ in 0..2 {
        let s = c
            .sessions
            .start_session(authed(
                StartSessionRequest {
                    activity_id: focus.id.clone(),
                    planned_duration: None,
                    ..Default::default()
                },
                &gtok,
            ))
            .await
            .unwrap()
            .into_inner()
            .session
            .unwrap();
        mesh.clock.advance(time::Duration::minutes(25));
        c.sessions
            .complete_session(authed(CompleteSessionRequest { session_id: s.id }, &gtok))
            .await
            .unwrap();
    }
    // A real account with one session of its own.
    let user = c
        .auth
        .signup(SignupRequest {
            email: "gus@example.com".into(),
            username: "gus".into(),
            password: "correct horse battery".into(),
            timezone: "Europe/Berlin".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let utok = user.tokens.unwrap().access_token;
    let uid = user.user.unwrap().id;
    let s = c
        .sessions
        .start_session(authed(
            StartSessionRequest {
                activity_id: focus.id.clone(),
                planned_duration: None,
                ..Default::default()
            },
            &utok,
        ))
        .await
        .unwrap()
        .into_inner()
        .session
        .unwrap();
    mesh.clock.advance(time::Duration::minutes(25));
    c.sessions
        .complete_session(authed(CompleteSessionRequest { session_id: s.id }, &utok))
        .await
        .unwrap();
    let sessions_of = |tok: String| {
        let mut a = c.analytics.clone();
        async move {
            a.get_progress_summary(authed(GetProgressSummaryRequest::default(), &tok))
                .await
                .ok()
                .map(|s| s.into_inner().sessions_completed)
        }
    };
    eventually(EVENT_DEADLINE, "analytics has both users' sessions", || {
        let (g, u) = (gtok.clone(), utok.clone());
        async move {
            (sessions_of(g).await == Some(2) && sessions_of(u).await == Some(1)).then_some(())
        }
    })
    .await;

    c.auth
        .merge_guest(authed(
            MergeGuestRequest {
                guest_access_token: gtok.clone(),
            },
            &utok,
        ))
        .await
        .expect("merge");
    eventually(
        EVENT_DEADLINE,
        "the merged sessions count for the account",
        || {
            let u = utok.clone();
            async move { (sessions_of(u).await == Some(3)).then_some(()) }
        },
    )
    .await;
    // No row of the guest is left anywhere once every service applied the merge.
    let guest_id = uuid::Uuid::parse_str(&gid).unwrap();
    let dbs = mesh.databases.clone();
    eventually(EVENT_DEADLINE, "no row of the guest in any service", || {
        let dbs = dbs.clone();
        async move {
            for db in [
                &dbs.auth,
                &dbs.profile,
                &dbs.activity_session,
                &dbs.challenge,
                &dbs.analytics,
                &dbs.ai_coach,
            ] {
                let pool = sqlx::PgPool::connect(db).await.ok()?;
                let rows = stride_testkit::bus::user_rows(&pool, guest_id).await;
                pool.close().await;
                if rows.iter().any(|(_, n)| *n > 0) {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    assert_ne!(gid, uid);
    mesh.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn codes_and_password_reset_over_grpc_web_with_real_mail() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start(&super::shared_stores().await)
        .await
        .expect("mesh");
    let mut c = stride_e2e::grpc_web_clients(mesh.gateway).expect("client");

    // Passwordless: the code travels over SMTP to the sink.
    c.auth
        .send_code(SendCodeRequest {
            channel: CodeChannel::Email.into(),
            address: "hal@example.com".into(),
            purpose: CodePurpose::SignIn.into(),
        })
        .await
        .expect("send code");
    let mail = mesh
        .sink
        .wait_for_mail("hal@example.com", MAIL)
        .await
        .expect("code mail");
    let signed = c
        .auth
        .sign_in_with_code(SignInWithCodeRequest {
            channel: CodeChannel::Email.into(),
            address: "hal@example.com".into(),
            code: code_in(&mail.text),
            timezone: "Asia/Tokyo".into(),
        })
        .await
        .expect("sign in")
        .into_inner();
    assert!(signed.created);
    let first = signed.tokens.unwrap();

    // The account has no password yet: reset sets one, ends the session, does not sign in.
    c.auth
        .request_password_reset(RequestPasswordResetRequest {
            email: "hal@example.com".into(),
        })
        .await
        .expect("reset request");
    let reset = mesh
        .sink
        .wait_for_mail_after("hal@example.com", mail.id, MAIL)
        .await
        .expect("reset mail");
    let i = reset.text.find("reset token in the app: ").unwrap() + 24;
    let token = reset.text[i..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    c.auth
        .reset_password(ResetPasswordRequest {
            token,
            new_password: "a freshly chosen passphrase".into(),
        })
        .await
        .expect("reset");
    let dead = c
        .auth
        .refresh(stride_proto::auth::RefreshRequest {
            refresh_token: first.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(dead.code(), Code::Unauthenticated);

    // The gateway sets the client address; what the client claims is ignored.
    let mut login = tonic::Request::new(LoginRequest {
        email: "hal@example.com".into(),
        password: "a freshly chosen passphrase".into(),
    });
    login.metadata_mut().insert(
        stride_kit::authn::CLIENT_IP_HEADER,
        "203.0.113.66".parse().unwrap(),
    );
    let tok = c
        .auth
        .login(login)
        .await
        .expect("login")
        .into_inner()
        .tokens
        .unwrap();
    let events = c
        .auth
        .list_audit_events(authed(ListAuditEventsRequest::default(), &tok.access_token))
        .await
        .unwrap()
        .into_inner()
        .events;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "login.succeeded",
            "password.reset",
            "password.reset_requested",
            "account.created"
        ]
    );
    assert_eq!(
        events[0].client_ip, "127.0.0.1",
        "the spoofed address was replaced"
    );
    mesh.stop().await.expect("stop");
}

/// H1 played through the gateway: an attacker signs up first with the victim's address (this
/// mesh does not confirm sign-ups, so the attacker even holds a session). The victim proves the
/// address with an emailed code: the attacker's password no longer works and its session is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pre_account_takeover_dies_when_the_owner_proves_the_address() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start(&super::shared_stores().await)
        .await
        .expect("mesh");
    let mut c = stride_e2e::grpc_web_clients(mesh.gateway).expect("client");
    let victim = "victim@example.com";
    let planted = c
        .auth
        .signup(SignupRequest {
            email: victim.into(),
            username: "victim".into(),
            password: "attacker passphrase".into(),
            timezone: String::new(),
        })
        .await
        .expect("the attacker's sign-up")
        .into_inner()
        .tokens;

    c.auth
        .send_code(SendCodeRequest {
            channel: CodeChannel::Email.into(),
            address: victim.into(),
            purpose: CodePurpose::SignIn.into(),
        })
        .await
        .expect("send code");
    let mail = eventually(MAIL, "the sign-in code", || {
        let found = mesh
            .sink
            .mail_to(victim)
            .into_iter()
            .find(|m| m.text.contains("code is "));
        async move { found }
    })
    .await;
    let signed = c
        .auth
        .sign_in_with_code(SignInWithCodeRequest {
            channel: CodeChannel::Email.into(),
            address: victim.into(),
            code: code_in(&mail.text),
            timezone: String::new(),
        })
        .await
        .expect("the owner signs in")
        .into_inner();
    assert!(signed.user.unwrap().email_verified);

    let e = c
        .auth
        .login(LoginRequest {
            email: victim.into(),
            password: "attacker passphrase".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    if let Some(attacker) = planted {
        let e = c
            .auth
            .refresh(stride_proto::auth::RefreshRequest {
                refresh_token: attacker.refresh_token,
            })
            .await
            .unwrap_err();
        assert_eq!(
            e.code(),
            Code::Unauthenticated,
            "the attacker's session ended"
        );
    }
    mesh.stop().await.expect("stop");
}

/// H2 played through the gateway with the default limits: an attacker asks for sign-in codes
/// for the victim's address and guesses; each code dies at its fifth wrong guess, and after ten
/// wrong guesses across re-sends the address is paused, so even the right code is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guessing_codes_across_resends_pauses_the_address() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start(&super::shared_stores().await)
        .await
        .expect("mesh");
    let mut c = stride_e2e::grpc_clients(mesh.gateway)
        .await
        .expect("client");
    let victim = "guessed@example.com";
    let send = SendCodeRequest {
        channel: CodeChannel::Email.into(),
        address: victim.into(),
        purpose: CodePurpose::SignIn.into(),
    };
    let guess = |code: String| SignInWithCodeRequest {
        channel: CodeChannel::Email.into(),
        address: victim.into(),
        code,
        timezone: String::new(),
    };
    let mut codes_seen = 0;
    let next_code = |c: usize| {
        let sink = mesh.sink.clone();
        async move {
            eventually(MAIL, "a sign-in code", || {
                let mails: Vec<_> = sink
                    .mail_to(victim)
                    .into_iter()
                    .filter(|m| m.text.contains("code is "))
                    .collect();
                let found = mails.get(c).map(|m| code_in(&m.text));
                async move { found }
            })
            .await
        }
    };
    for _ in 0..2 {
        c.auth.send_code(send.clone()).await.expect("send");
        let code = next_code(codes_seen).await;
        codes_seen += 1;
        for k in 0..5 {
            // Any six digits but the right ones.
            let wrong = format!(
                "{:06}",
                (code.parse::<u32>().unwrap_or(0) + 1 + k) % 1_000_000
            );
            let e = c.auth.sign_in_with_code(guess(wrong)).await.unwrap_err();
            assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
        }
    }
    c.auth.send_code(send.clone()).await.expect("send");
    let right = next_code(codes_seen).await;
    let e = c.auth.sign_in_with_code(guess(right)).await.unwrap_err();
    assert_eq!(
        e.code(),
        Code::ResourceExhausted,
        "the right code is refused once the address's budget is spent: {e:?}"
    );
    mesh.stop().await.expect("stop");
}
