//! DeleteAccount (announced as `user.deleted.v1`), the email change, the audit log and roles.

use stride_kit::Clock as _;
use stride_proto::{Event as _, auth as pb, events};
use stride_testkit::{
    EVENT_DEADLINE, authed,
    bus::{Probe, assert_invalid, reason},
};
use tonic::Code;
use uuid::Uuid;

use crate::support::{
    account_rows, claims, code_in, email_code_sign_in, identities, login, me, password, refresh,
    signup, start,
};

#[tokio::test]
async fn delete_account_with_a_wrong_password_deletes_nothing() {
    let mut h = start().await;
    let (user, tokens) = signup(&h, "max@example.com", "max").await;
    for wrong in ["password-2", "short", &"p".repeat(200)] {
        let err = h
            .client
            .delete_account(authed(
                pb::DeleteAccountRequest {
                    proof: None,
                    password: wrong.to_owned(),
                },
                &tokens.access_token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        assert_eq!(reason(&err), "INVALID_CREDENTIALS");
    }
    let err = h
        .client
        .delete_account(authed(
            pb::DeleteAccountRequest {
                proof: None,
                password: String::new(),
            },
            &tokens.access_token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["password"]);

    assert_eq!(account_rows(&h, &user.id).await, (1, 1));
    refresh(&h, &tokens.refresh_token)
        .await
        .expect("session intact");
    login(&h, "max@example.com").await;
    h.stop().await;
}

#[tokio::test]
async fn delete_account_removes_the_user_and_announces_user_deleted() {
    let mut h = start().await;
    let mut deleted = Probe::bind(&h.amqp, events::UserDeleted::TYPE).await;
    let user = h
        .client
        .signup(pb::SignupRequest {
            email: "ned@example.com".into(),
            username: "Ned".into(),
            password: "password-1".into(),
            timezone: "Pacific/Kiritimati".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let (user, tokens) = (user.user.unwrap(), user.tokens.unwrap());
    let other = login(&h, "ned@example.com").await;

    h.client
        .delete_account(authed(
            pb::DeleteAccountRequest {
                proof: None,
                password: "password-1".into(),
            },
            &tokens.access_token,
        ))
        .await
        .unwrap();

    let (_, kind, producer, ev) = deleted.next::<events::UserDeleted>().await;
    assert_eq!(
        (kind.as_str(), producer.as_str()),
        ("user.deleted.v1", "auth")
    );
    assert_eq!(ev.user_id, user.id);
    assert_eq!(ev.timezone, "Pacific/Kiritimati");
    // The local date is taken in the sign-up zone (UTC+14, so often a day ahead of UTC).
    let occurred = stride_kit::convert::from_timestamp(ev.occur_time.as_ref().unwrap()).unwrap();
    let expected = stride_kit::convert::local_date(occurred, "Pacific/Kiritimati");
    assert_eq!(ev.local_date, Some(stride_kit::convert::date(expected)));

    assert_eq!(account_rows(&h, &user.id).await, (0, 0));
    let err = h
        .client
        .login(pb::LoginRequest {
            email: "ned@example.com".into(),
            password: "password-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "INVALID_CREDENTIALS");
    for t in [&tokens, &other] {
        let err = refresh(&h, &t.refresh_token).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    // The still-unexpired access token cannot delete (or announce) the account twice: its
    // session ended with the account.
    let err = h
        .client
        .delete_account(authed(
            pb::DeleteAccountRequest {
                proof: None,
                password: "password-1".into(),
            },
            &other.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "SESSION_ENDED");

    // Email and username are free again, for a new account.
    let (again, _) = signup(&h, "ned@example.com", "ned").await;
    assert_ne!(again.id, user.id);
    h.stop().await;
}

#[tokio::test]
async fn email_change_verifies_the_new_address_before_switching() {
    let mut h = start().await;
    let (_, t) = signup(&h, "xia@example.com", "xia").await;
    // Taken means proved: an address another account holds unverified does not block (H1).
    signup(&h, "taken@example.com", "taken").await;
    email_code_sign_in(&h, "taken@example.com").await;
    let wrong = h
        .client
        .request_email_change(authed(
            pb::RequestEmailChangeRequest {
                new_email: "new@example.com".into(),
                proof: password("not my password"),
            },
            &t.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    // A taken address answers like a free one, but no code is sent.
    let taken = h
        .client
        .request_email_change(authed(
            pb::RequestEmailChangeRequest {
                new_email: "taken@example.com".into(),
                proof: password("password-1"),
            },
            &t.access_token,
        ))
        .await;
    assert!(taken.is_ok());
    h.client
        .request_email_change(authed(
            pb::RequestEmailChangeRequest {
                new_email: "New@Example.com".into(),
                proof: password("password-1"),
            },
            &t.access_token,
        ))
        .await
        .unwrap();
    let mail = h
        .sink
        .wait_for_mail("new@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    assert!(
        h.sink
            .mail_to("taken@example.com")
            .iter()
            .all(|m| !m.subject.contains("email change"))
    );
    // Nothing changed yet.
    let before = me(&h, &t.access_token).await;
    assert_eq!(before.email, "xia@example.com");
    let bad = h
        .client
        .confirm_email_change(authed(
            pb::ConfirmEmailChangeRequest {
                code: "000000".into(),
            },
            &t.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&bad), "CODE_INVALID");
    let user = h
        .client
        .confirm_email_change(authed(
            pb::ConfirmEmailChangeRequest {
                code: code_in(&mail.text),
            },
            &t.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(user.email, "new@example.com");
    assert!(user.email_verified);
    // The old address is told; login now uses the new one.
    let notice = h
        .sink
        .wait_for_mail("xia@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    assert!(notice.subject.contains("email was changed"));
    login(&h, "new@example.com").await;
    let e = h
        .client
        .login(pb::LoginRequest {
            email: "xia@example.com".into(),
            password: "password-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let ids = identities(&h, &t.access_token).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].subject, "new@example.com");
    assert!(ids[0].email_verified);
    h.stop().await;
}

#[tokio::test]
async fn the_audit_log_records_security_events_for_the_owner_only_and_is_append_only() {
    let mut h = start().await;
    let (u, t) = signup(&h, "uma@example.com", "uma").await;
    let (_, other) = signup(&h, "vic@example.com", "vic").await;
    h.client
        .login(pb::LoginRequest {
            email: "uma@example.com".into(),
            password: "wrong password!".into(),
        })
        .await
        .unwrap_err();
    let mut req = tonic::Request::new(pb::LoginRequest {
        email: "uma@example.com".into(),
        password: "password-1".into(),
    });
    req.metadata_mut().insert(
        stride_kit::authn::CLIENT_IP_HEADER,
        "198.51.100.7".parse().unwrap(),
    );
    req.metadata_mut()
        .insert("user-agent", "stride-test/1.0".parse().unwrap());
    h.client.login(req).await.unwrap();

    let list = |access: String, page_size: i32, page_token: String| {
        authed(
            pb::ListAuditEventsRequest {
                page_size,
                page_token,
            },
            &access,
        )
    };
    let events = h
        .client
        .list_audit_events(list(t.access_token.clone(), 0, String::new()))
        .await
        .unwrap()
        .into_inner()
        .events;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["login.succeeded", "login.failed", "account.created"],
        "newest first"
    );
    assert_eq!(events[0].client_ip, "198.51.100.7");
    assert!(events[0].user_agent.starts_with("stride-test/1.0"));
    assert_eq!(
        events[0].details.get("method").map(String::as_str),
        Some("password")
    );
    // Paging.
    let page = h
        .client
        .list_audit_events(list(t.access_token.clone(), 2, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.events.len(), 2);
    let rest = h
        .client
        .list_audit_events(list(t.access_token.clone(), 2, page.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.events.len(), 1);
    assert_eq!(rest.events[0].kind, "account.created");
    // Someone else sees only their own.
    let theirs = h
        .client
        .list_audit_events(list(other.access_token, 0, String::new()))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(theirs.len(), 1);
    // Append-only: the database itself refuses to rewrite or drop history.
    let id = Uuid::parse_str(&u.id).unwrap();
    for sql in [
        "UPDATE audit_events SET kind = 'nothing' WHERE user_id = $1",
        "DELETE FROM audit_events WHERE user_id = $1",
    ] {
        let e = sqlx::query(sql).bind(id).execute(&h.db).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
    }
    h.stop().await;
}

#[tokio::test]
async fn roles_travel_in_the_token_and_only_admins_assign_them() {
    let mut h = start().await;
    let (root_user, root) = signup(&h, "root@example.com", "root").await;
    let (wes, wes_t) = signup(&h, "wes@example.com", "wes").await;
    assert_eq!(claims(&h, &root.access_token).await.roles, ["user"]);
    let set = |user: &str, roles: &[&str]| pb::SetUserRolesRequest {
        user_id: user.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    };
    let e = h
        .client
        .set_user_roles(authed(
            set(&wes.id, &["user", "admin"]),
            &wes_t.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    // Verifying an email makes no admin (H2: no address that codes reach can): only the
    // operator command does.
    h.client
        .send_code(authed(
            pb::SendCodeRequest {
                channel: pb::CodeChannel::Email.into(),
                address: String::new(),
                purpose: pb::CodePurpose::VerifyEmail.into(),
            },
            &root.access_token,
        ))
        .await
        .unwrap();
    let mail = h
        .sink
        .wait_for_mail("root@example.com", EVENT_DEADLINE)
        .await
        .unwrap();
    let verified = h
        .client
        .verify_email(authed(
            pb::VerifyEmailRequest {
                code: code_in(&mail.text),
            },
            &root.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert!(verified.email_verified);
    assert_eq!(
        claims(&h, &login(&h, "root@example.com").await.access_token)
            .await
            .roles,
        ["user"]
    );
    let now = h.clock.now();
    let out = stride_auth::ops::run(
        &h.db,
        stride_auth::ops::Op::GrantAdmin("root@example.com".into()),
        now,
    )
    .await
    .unwrap();
    assert!(out.contains(&root_user.id), "{out}");
    let admin = login(&h, "root@example.com").await;
    let mut roles = claims(&h, &admin.access_token).await.roles;
    roles.sort();
    assert_eq!(roles, ["admin", "user"]);
    // An unverified or unknown email is refused by the command.
    let e = stride_auth::ops::run(
        &h.db,
        stride_auth::ops::Op::GrantAdmin("wes@example.com".into()),
        now,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("verified email"), "{e}");

    let bad = h
        .client
        .set_user_roles(authed(set(&wes.id, &["admin", "god"]), &admin.access_token))
        .await
        .unwrap_err();
    assert_invalid(&bad, &["roles", "roles"]);
    let missing = h
        .client
        .set_user_roles(authed(
            set(&Uuid::now_v7().to_string(), &["user"]),
            &admin.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let done = h
        .client
        .set_user_roles(authed(
            set(&wes.id, &["user", "admin"]),
            &admin.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(done.roles, ["admin", "user"]);
    let wes2 = login(&h, "wes@example.com").await;
    let mut roles = claims(&h, &wes2.access_token).await.roles;
    roles.sort();
    assert_eq!(roles, ["admin", "user"]);

    // M3: a demoted admin's token still says admin for 15 minutes, but auth reads the stored
    // roles: it cannot re-grant itself.
    h.client
        .set_user_roles(authed(set(&wes.id, &["user"]), &admin.access_token))
        .await
        .unwrap();
    let e = h
        .client
        .set_user_roles(authed(set(&wes.id, &["user", "admin"]), &wes2.access_token))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let stored: Vec<String> = sqlx::query_scalar("SELECT roles FROM users WHERE id = $1")
        .bind(Uuid::parse_str(&wes.id).unwrap())
        .fetch_one(&h.db)
        .await
        .unwrap();
    assert_eq!(stored, ["user"]);
    h.stop().await;
}
