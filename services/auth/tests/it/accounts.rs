//! Guests and merging, rehashing, the audit log, roles, email verification and change.

use std::sync::Arc;

use stride_kit::SystemClock;
use stride_proto::{auth as pb, events};
use stride_testkit::{authed, bus::Probe};
use tonic::Code;
use uuid::Uuid;

use super::{
    bad_fields, harness, harness_with, login, reason, recovery::MAIL_WAIT, recovery::code_in,
    signup,
};

async fn guest(h: &mut super::Harness) -> (pb::User, pb::TokenPair) {
    let r = h
        .client
        .signup_guest(pb::SignupGuestRequest {
            timezone: "Europe/Paris".into(),
        })
        .await
        .expect("guest")
        .into_inner();
    (r.user.unwrap(), r.tokens.unwrap())
}

async fn me(h: &mut super::Harness, access: &str) -> pb::User {
    h.client
        .get_me(authed(pb::GetMeRequest {}, access))
        .await
        .expect("me")
        .into_inner()
        .user
        .unwrap()
}

async fn claims(h: &mut super::Harness, access: &str) -> stride_kit::authn::Claims {
    let keys = h
        .client
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let v = stride_kit::Verifier::new(Arc::new(stride_kit::jwt::StaticJwks(Arc::new(
        std::sync::RwLock::new(keys),
    ))));
    v.verify(access).await.expect("verifies")
}

#[tokio::test]
async fn guests_get_real_anonymous_tokens_and_are_limited_per_address() {
    let mut h = harness_with(Arc::new(SystemClock), |s| {
        s.limits.guests_per_ip_per_hour = 3
    })
    .await;
    let mut registered = Probe::bind(&h.amqp, "user.registered.v1").await;
    let (user, tokens) = guest(&mut h).await;
    assert!(user.is_anonymous);
    assert!(user.email.is_empty());
    let c = claims(&mut h, &tokens.access_token).await;
    assert!(c.is_anonymous);
    assert_eq!(c.sub, user.id);
    // Real tokens: authenticated calls and refresh work.
    assert_eq!(me(&mut h, &tokens.access_token).await.id, user.id);
    super::refresh(&mut h.client, &tokens.refresh_token)
        .await
        .expect("refresh");
    let (_, _, _, ev) = registered.next::<events::UserRegistered>().await;
    assert_eq!(ev.user_id, user.id);
    assert!(ev.is_anonymous);
    assert_eq!(ev.timezone, "Europe/Paris");

    guest(&mut h).await;
    guest(&mut h).await;
    let e = h
        .client
        .signup_guest(pb::SignupGuestRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn merging_a_guest_moves_it_into_the_signed_in_account_and_announces_it() {
    let mut h = harness(Arc::new(SystemClock)).await;
    let mut merged = Probe::bind(&h.amqp, "user.merged.v1").await;
    let (g, gt) = guest(&mut h).await;
    let (u, ut) = signup(&mut h.client, "sam@example.com", "sam").await;

    // Proof of holding the guest is its token; anything else is refused.
    let bad = h
        .client
        .merge_guest(authed(
            pb::MergeGuestRequest {
                guest_access_token: ut.access_token.clone(),
            },
            &ut.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&bad), ["guest_access_token"]);
    let forged = h
        .client
        .merge_guest(authed(
            pb::MergeGuestRequest {
                guest_access_token: "e30.e30.".into(),
            },
            &ut.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::InvalidArgument);
    // A guest cannot absorb another guest.
    let (_, g2t) = guest(&mut h).await;
    let e = h
        .client
        .merge_guest(authed(
            pb::MergeGuestRequest {
                guest_access_token: gt.access_token.clone(),
            },
            &g2t.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);

    let done = h
        .client
        .merge_guest(authed(
            pb::MergeGuestRequest {
                guest_access_token: gt.access_token.clone(),
            },
            &ut.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.merged_user_id, g.id);
    let (_, kind, producer, ev) = merged.next::<events::UserMerged>().await;
    assert_eq!(
        (kind.as_str(), producer.as_str()),
        ("user.merged.v1", "auth")
    );
    assert_eq!(ev.source_user_id, g.id);
    assert_eq!(ev.target_user_id, u.id);
    assert_eq!(ev.timezone, "UTC");
    // The guest is gone at auth: its refresh token is dead, no row of it remains.
    assert_eq!(
        super::refresh(&mut h.client, &gt.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let pool = sqlx::PgPool::connect(&h.db).await.unwrap();
    let left = stride_testkit::bus::user_rows(&pool, Uuid::parse_str(&g.id).unwrap()).await;
    assert!(left.iter().all(|(_, n)| *n == 0), "{left:?}");
    // Twice is not possible.
    let e = h
        .client
        .merge_guest(authed(
            pb::MergeGuestRequest {
                guest_access_token: gt.access_token,
            },
            &ut.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    pool.close().await;
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn hashes_made_with_older_parameters_are_replaced_at_login() {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
    let mut h = harness(Arc::new(SystemClock)).await;
    let (u, _) = signup(&mut h.client, "tao@example.com", "tao").await;
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8_192, 1, 1, None).unwrap(),
    )
    .hash_password(b"password-1")
    .unwrap()
    .to_string();
    let pool = sqlx::PgPool::connect(&h.db).await.unwrap();
    let id = Uuid::parse_str(&u.id).unwrap();
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(&weak)
        .execute(&pool)
        .await
        .unwrap();
    login(&mut h.client, "tao@example.com").await;
    let (now,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{now}");
    assert!(!stride_auth::password::needs_rehash(&now));
    assert!(stride_auth::password::needs_rehash(&weak));
    login(&mut h.client, "tao@example.com").await;
    pool.close().await;
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn the_audit_log_records_security_events_for_the_owner_only_and_is_append_only() {
    let mut h = harness(Arc::new(SystemClock)).await;
    let (u, t) = signup(&mut h.client, "uma@example.com", "uma").await;
    let (_, other) = signup(&mut h.client, "vic@example.com", "vic").await;
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
    let pool = sqlx::PgPool::connect(&h.db).await.unwrap();
    let id = Uuid::parse_str(&u.id).unwrap();
    for sql in [
        "UPDATE audit_events SET kind = 'nothing' WHERE user_id = $1",
        "DELETE FROM audit_events WHERE user_id = $1",
    ] {
        let e = sqlx::query(sql).bind(id).execute(&pool).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
    }
    pool.close().await;
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn roles_travel_in_the_token_and_only_admins_assign_them() {
    let mut h = harness_with(Arc::new(SystemClock), |s| {
        s.admin_emails = vec!["root@example.com".into()];
    })
    .await;
    let (_, root) = signup(&mut h.client, "root@example.com", "root").await;
    let (wes, wes_t) = signup(&mut h.client, "wes@example.com", "wes").await;
    // Listed but not yet verified: no admin role.
    assert_eq!(claims(&mut h, &root.access_token).await.roles, ["user"]);
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

    // Verify the email: the next token carries admin.
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
        .wait_for_mail("root@example.com", MAIL_WAIT)
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
    let admin = login(&mut h.client, "root@example.com").await;
    assert_eq!(
        claims(&mut h, &admin.access_token).await.roles,
        ["user", "admin"]
    );

    let bad = h
        .client
        .set_user_roles(authed(set(&wes.id, &["admin", "god"]), &admin.access_token))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["roles", "roles"]);
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
    let wes2 = login(&mut h.client, "wes@example.com").await;
    let mut roles = claims(&mut h, &wes2.access_token).await.roles;
    roles.sort();
    assert_eq!(roles, ["admin", "user"]);
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn email_change_verifies_the_new_address_before_switching() {
    let mut h = harness(Arc::new(SystemClock)).await;
    let (_, t) = signup(&mut h.client, "xia@example.com", "xia").await;
    signup(&mut h.client, "taken@example.com", "taken").await;
    let proof = |p: &str| {
        Some(pb::AccountProof {
            proof: Some(pb::account_proof::Proof::CurrentPassword(p.into())),
        })
    };
    let wrong = h
        .client
        .request_email_change(authed(
            pb::RequestEmailChangeRequest {
                new_email: "new@example.com".into(),
                proof: proof("not my password"),
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
                proof: proof("password-1"),
            },
            &t.access_token,
        ))
        .await;
    assert!(taken.is_ok());
    h.client
        .request_email_change(authed(
            pb::RequestEmailChangeRequest {
                new_email: "New@Example.com".into(),
                proof: proof("password-1"),
            },
            &t.access_token,
        ))
        .await
        .unwrap();
    let mail = h
        .sink
        .wait_for_mail("new@example.com", MAIL_WAIT)
        .await
        .unwrap();
    assert!(h.sink.mail_to("taken@example.com").is_empty());
    // Nothing changed yet.
    let before = me(&mut h, &t.access_token).await;
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
        .wait_for_mail("xia@example.com", MAIL_WAIT)
        .await
        .unwrap();
    assert!(notice.subject.contains("email was changed"));
    login(&mut h.client, "new@example.com").await;
    let e = h
        .client
        .login(pb::LoginRequest {
            email: "xia@example.com".into(),
            password: "password-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let ids = h
        .client
        .list_identities(authed(pb::ListIdentitiesRequest {}, &t.access_token))
        .await
        .unwrap()
        .into_inner()
        .identities;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].subject, "new@example.com");
    assert!(ids[0].email_verified);
    h.running.stop().await.unwrap();
}
