//! Guests: SignupGuest (limited per address), MergeGuest into a signed-in account, and a guest
//! claiming its account in place (ClaimGuest, or LinkIdentity without proof).

use stride_proto::{Event as _, auth as pb, events};
use stride_testkit::{
    authed,
    bus::{Probe, assert_invalid, reason, user_rows},
};
use tonic::Code;
use uuid::Uuid;

use crate::support::{
    Auth, PASSWORD, claims, email_code_sign_in, email_credential, id_token_credential, identities,
    link, link_code, mail_code, me,
    providers::{sign_in_google, world},
    refresh, signup, start, start_with,
};

async fn guest(h: &Auth) -> (pb::User, pb::TokenPair) {
    let r = h
        .client
        .clone()
        .signup_guest(pb::SignupGuestRequest {
            timezone: "Europe/Paris".into(),
        })
        .await
        .expect("guest")
        .into_inner();
    (r.user.unwrap(), r.tokens.unwrap())
}

#[tokio::test]
async fn guests_get_real_anonymous_tokens_and_are_limited_per_address() {
    let mut h = start_with(|s| s.limits.guests_per_ip_per_hour = 3).await;
    let mut registered = Probe::bind(&h.amqp, events::UserRegistered::TYPE).await;
    let (user, tokens) = guest(&h).await;
    assert!(user.is_anonymous);
    assert!(user.email.is_empty());
    let c = claims(&h, &tokens.access_token).await;
    assert!(c.is_anonymous);
    assert_eq!(c.sub, user.id);
    // Real tokens: authenticated calls and refresh work.
    assert_eq!(me(&h, &tokens.access_token).await.id, user.id);
    refresh(&h, &tokens.refresh_token).await.expect("refresh");
    let (_, _, _, ev) = registered.next::<events::UserRegistered>().await;
    assert_eq!(ev.user_id, user.id);
    assert!(ev.is_anonymous);
    assert_eq!(ev.timezone, "Europe/Paris");

    guest(&h).await;
    guest(&h).await;
    let e = h
        .client
        .signup_guest(pb::SignupGuestRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    h.stop().await;
}

#[tokio::test]
async fn ipv6_addresses_of_one_64_share_one_guest_budget() {
    let mut h = start_with(|s| s.limits.guests_per_ip_per_hour = 2).await;
    let from = |ip: &str| {
        let mut req = tonic::Request::new(pb::SignupGuestRequest::default());
        req.metadata_mut()
            .insert(stride_kit::authn::CLIENT_IP_HEADER, ip.parse().unwrap());
        req
    };
    // One host rotating through its /64 (privacy addresses) is one client.
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"] {
        h.client
            .signup_guest(from(ip))
            .await
            .expect("within budget");
    }
    let e = h
        .client
        .signup_guest(from("2001:db8:1:2:abcd::42"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted);
    // The next /64 is another client.
    h.client
        .signup_guest(from("2001:db8:1:3::1"))
        .await
        .expect("another network");
    h.stop().await;
}

#[tokio::test]
async fn merging_a_guest_moves_it_into_the_signed_in_account_and_announces_it() {
    let mut h = start().await;
    let mut merged = Probe::bind(&h.amqp, events::UserMerged::TYPE).await;
    let (g, gt) = guest(&h).await;
    let (u, ut) = signup(&h, "sam@example.com", "sam").await;

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
    assert_invalid(&bad, &["guest_access_token"]);
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
    let (_, g2t) = guest(&h).await;
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
        refresh(&h, &gt.refresh_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let left = user_rows(&h.db, Uuid::parse_str(&g.id).unwrap()).await;
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
    h.stop().await;
}

/// H1: ClaimGuest attaches no address without proof. It mails a LINK code; linking the address
/// with it finishes the claim (the username and password apply then) in the same user id.
#[tokio::test]
async fn claim_guest_keeps_the_user_id_and_only_guests_may_claim() {
    let mut w = world().await;
    let guest =
        w.h.client
            .signup_guest(pb::SignupGuestRequest::default())
            .await
            .unwrap()
            .into_inner();
    let (guest_user, guest_tokens) = (guest.user.unwrap(), guest.tokens.unwrap());
    let claim = |token: &str| {
        authed(
            pb::ClaimGuestRequest {
                email: "Max@Example.com".into(),
                username: "max".into(),
                password: PASSWORD.into(),
            },
            token,
        )
    };
    let res =
        w.h.client
            .claim_guest(claim(&guest_tokens.access_token))
            .await
            .unwrap()
            .into_inner();
    assert!(res.confirmation_required);
    assert!(res.tokens.is_none());
    let user = res.user.unwrap();
    assert_eq!(user.id, guest_user.id);
    assert!(user.is_anonymous, "nothing is attached before the proof");
    assert_eq!(user.email, "");
    assert!(
        w.h.client
            .login(pb::LoginRequest {
                email: "max@example.com".into(),
                password: PASSWORD.into(),
            })
            .await
            .is_err()
    );
    let code = mail_code(&w.h.sink, "max@example.com", 0).await;
    let linked = link(
        &w.h,
        &guest_tokens.access_token,
        None,
        Some(email_credential("max@example.com", &code)),
    )
    .await
    .unwrap();
    let user = linked.user.unwrap();
    assert_eq!(user.id, guest_user.id);
    assert!(!user.is_anonymous);
    assert_eq!(user.email, "max@example.com");
    assert!(user.email_verified);
    assert_eq!(user.username, "max");
    let tokens = linked.tokens.unwrap();
    assert!(!claims(&w.h, &tokens.access_token).await.is_anonymous);
    let ids = identities(&w.h, &tokens.access_token).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(
        (ids[0].provider(), ids[0].subject.as_str(), ids[0].primary),
        (pb::Provider::Email, "max@example.com", true)
    );
    let login =
        w.h.client
            .login(pb::LoginRequest {
                email: "max@example.com".into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap()
            .into_inner();
    assert_eq!(login.user.unwrap().id, guest_user.id);

    // Claimed once: the old guest token cannot claim again, nor can a regular account.
    let err =
        w.h.client
            .claim_guest(claim(&guest_tokens.access_token))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "NOT_A_GUEST");
    let (_, ned) = signup(&w.h, "ned@example.com", "ned").await;
    let err =
        w.h.client
            .claim_guest(authed(
                pb::ClaimGuestRequest {
                    email: "ned2@example.com".into(),
                    username: "ned2".into(),
                    password: PASSWORD.into(),
                },
                &ned.access_token,
            ))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "NOT_A_GUEST");
    assert_eq!(me(&w.h, &ned.access_token).await.email, "ned@example.com");
    w.h.stop().await;
}

/// H1 attack B and M4b: a guest claiming with someone else's address gets the very answer a free
/// address gets, attaches nothing, and does not block the owner from signing up.
#[tokio::test]
async fn a_guest_claiming_a_strangers_address_attaches_nothing_and_learns_nothing() {
    let mut w = world().await;
    let (_, owner) = signup(&w.h, "own@example.com", "own").await;
    let guest =
        w.h.client
            .signup_guest(pb::SignupGuestRequest::default())
            .await
            .unwrap()
            .into_inner();
    let token = guest.tokens.unwrap().access_token;
    let ask = |email: &str, username: &str| {
        authed(
            pb::ClaimGuestRequest {
                email: email.into(),
                username: username.into(),
                password: "attacker passphrase".into(),
            },
            &token,
        )
    };
    let taken =
        w.h.client
            .claim_guest(ask("own@example.com", "evil1"))
            .await
            .unwrap()
            .into_inner();
    let free =
        w.h.client
            .claim_guest(ask("vic@example.com", "evil2"))
            .await
            .unwrap()
            .into_inner();
    assert_eq!(
        taken, free,
        "the same answer for a taken and a free address"
    );
    assert_eq!(me(&w.h, &owner.access_token).await.email, "own@example.com");
    // The free address: nothing attached, the owner signs up as if nothing happened.
    assert!(
        w.h.client
            .login(pb::LoginRequest {
                email: "vic@example.com".into(),
                password: "attacker passphrase".into(),
            })
            .await
            .is_err()
    );
    let (vic, _) = signup(&w.h, "vic@example.com", "vic").await;
    assert_ne!(vic.id, free.user.unwrap().id);
    w.h.stop().await;
}

#[tokio::test]
async fn a_guest_claims_itself_by_linking_an_email_without_proof() {
    let mut w = world().await;
    let guest =
        w.h.client
            .signup_guest(pb::SignupGuestRequest::default())
            .await
            .unwrap()
            .into_inner();
    let (gus, guest_tokens) = (guest.user.unwrap(), guest.tokens.unwrap());
    assert!(gus.is_anonymous);
    let access = guest_tokens.access_token.as_str();
    let guest_claims = claims(&w.h, access).await;
    assert!(guest_claims.is_anonymous);
    assert!(identities(&w.h, access).await.is_empty());

    let code = link_code(&w.h, access, "gus@example.com").await;
    let res = link(
        &w.h,
        access,
        None,
        Some(email_credential("gus@example.com", &code)),
    )
    .await
    .unwrap();
    let user = res.user.unwrap();
    assert_eq!(user.id, gus.id, "claimed in place");
    assert!(!user.is_anonymous);
    assert_eq!(user.email, "gus@example.com");
    assert!(user.email_verified);
    let identity = res.identity.unwrap();
    assert!(identity.primary, "the first identity is the primary one");

    // A new pair that no longer says anonymous, in a new session; the guest's session ends, so
    // no copy of its refresh token outlives the claim (L2).
    let tokens = res.tokens.expect("a claimed guest gets new tokens");
    let claims = claims(&w.h, &tokens.access_token).await;
    assert!(!claims.is_anonymous);
    assert_eq!(claims.sub, gus.id);
    assert_ne!(claims.sid, guest_claims.sid);
    let e = refresh(&w.h, &guest_tokens.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(reason(&e), "REFRESH_TOKEN_REVOKED");
    let me_now = me(&w.h, &tokens.access_token).await;
    assert!(!me_now.is_anonymous);
    assert_eq!(me_now.email, "gus@example.com");

    // No longer a guest: the next link needs proof.
    let code = link_code(&w.h, &tokens.access_token, "gus@work.example").await;
    let err = link(
        &w.h,
        &tokens.access_token,
        None,
        Some(email_credential("gus@work.example", &code)),
    )
    .await
    .unwrap_err();
    assert_invalid(&err, &["proof"]);
    // And the address signs in to the claimed account.
    let res = email_code_sign_in(&w.h, "gus@example.com").await;
    assert!(!res.created);
    assert_eq!(res.user.unwrap().id, gus.id);
    w.h.stop().await;
}

#[tokio::test]
async fn a_guest_claims_itself_by_linking_google() {
    let mut w = world().await;
    let guest =
        w.h.client
            .signup_guest(pb::SignupGuestRequest::default())
            .await
            .unwrap()
            .into_inner();
    let (guest_user, guest_tokens) = (guest.user.unwrap(), guest.tokens.unwrap());
    let token = w.google_token("g-guest", None, "n");
    let res = link(
        &w.h,
        &guest_tokens.access_token,
        None,
        Some(id_token_credential(&token, "n")),
    )
    .await
    .unwrap();
    assert_eq!(res.user.as_ref().unwrap().id, guest_user.id);
    assert!(!res.user.unwrap().is_anonymous);
    let tokens = res.tokens.unwrap();
    assert!(!claims(&w.h, &tokens.access_token).await.is_anonymous);
    let token = w.google_token("g-guest", None, "n2");
    let res = sign_in_google(&w.h, &token, "n2").await.unwrap();
    assert!(!res.created);
    assert_eq!(res.user.unwrap().id, guest_user.id);
    w.h.stop().await;
}
