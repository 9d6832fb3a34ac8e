//! Sign-in identities: listing, linking (after proving the account), unlinking, the primary one,
//! and guests claiming their account in place.

use std::sync::{Arc, RwLock};

use stride_kit::{Verifier, jwt::StaticJwks};
use stride_proto::auth as pb;
use stride_testkit::{EVENT_DEADLINE, authed, oidc};
use tonic::{Code, Status};

use super::{
    Harness, bad_fields,
    external::{
        GOOGLE_CLIENT, counts, email_code_sign_in, identities, last_mail, send_code,
        sign_in_google, world,
    },
    reason, signup_req,
};

const PASSWORD: &str = "password-1";

async fn signup(h: &mut Harness, email: &str, username: &str) -> (pb::User, pb::TokenPair) {
    let res = h
        .client
        .signup(signup_req(email, username, PASSWORD))
        .await
        .expect("signup")
        .into_inner();
    (res.user.unwrap(), res.tokens.unwrap())
}

fn password(p: &str) -> Option<pb::AccountProof> {
    Some(pb::AccountProof {
        proof: Some(pb::account_proof::Proof::CurrentPassword(p.into())),
    })
}

fn reauth_code(code: &str) -> Option<pb::AccountProof> {
    Some(pb::AccountProof {
        proof: Some(pb::account_proof::Proof::ReauthenticationCode(code.into())),
    })
}

fn email_credential(address: &str, code: &str) -> pb::link_identity_request::Credential {
    pb::link_identity_request::Credential::Code(pb::CodeCredential {
        channel: pb::CodeChannel::Email.into(),
        address: address.into(),
        code: code.into(),
    })
}

fn id_token_credential(token: &str, nonce: &str) -> pb::link_identity_request::Credential {
    pb::link_identity_request::Credential::IdToken(pb::IdTokenCredential {
        provider: pb::Provider::Google.into(),
        id_token: token.into(),
        nonce: nonce.into(),
    })
}

async fn link(
    h: &mut Harness,
    access: &str,
    proof: Option<pb::AccountProof>,
    credential: Option<pb::link_identity_request::Credential>,
) -> Result<pb::LinkIdentityResponse, Status> {
    h.client
        .link_identity(authed(
            pb::LinkIdentityRequest { proof, credential },
            access,
        ))
        .await
        .map(|r| r.into_inner())
}

/// A LINK code for `address`, sent for the caller of `access`.
async fn link_code(h: &mut Harness, access: &str, address: &str) -> String {
    send_code(h, Some(access), pb::CodePurpose::Link, address, address).await
}

/// A re-authentication code; it goes to the account's own address, `mailbox`.
async fn reauthentication_code(h: &mut Harness, access: &str, mailbox: &str) -> String {
    send_code(
        h,
        Some(access),
        pb::CodePurpose::Reauthenticate,
        "",
        mailbox,
    )
    .await
}

async fn unlink(h: &mut Harness, access: &str, id: &str) -> Result<(), Status> {
    h.client
        .unlink_identity(authed(
            pb::UnlinkIdentityRequest {
                identity_id: id.into(),
            },
            access,
        ))
        .await
        .map(drop)
}

async fn set_primary(h: &mut Harness, access: &str, id: &str) -> Result<(), Status> {
    h.client
        .set_primary_identity(authed(
            pb::SetPrimaryIdentityRequest {
                identity_id: id.into(),
            },
            access,
        ))
        .await
        .map(drop)
}

async fn me(h: &mut Harness, access: &str) -> pb::User {
    h.client
        .get_me(authed(pb::GetMeRequest {}, access))
        .await
        .expect("get me")
        .into_inner()
        .user
        .unwrap()
}

/// The claims of one of auth's access tokens, checked against the keys auth publishes.
async fn claims_of(h: &mut Harness, access: &str) -> stride_kit::authn::Claims {
    let keys = h
        .client
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    Verifier::new(Arc::new(StaticJwks(Arc::new(RwLock::new(keys)))))
        .verify(access)
        .await
        .expect("auth's token verifies")
}

fn primaries(ids: &[pb::Identity]) -> Vec<&str> {
    ids.iter()
        .filter(|i| i.primary)
        .map(|i| i.subject.as_str())
        .collect()
}

#[tokio::test]
async fn a_password_signup_has_one_primary_email_identity() {
    let mut w = world().await;
    let (user, tokens) = signup(&mut w.h, "Ann@Example.com", "ann").await;
    let ids = identities(&mut w.h, &tokens.access_token).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let email = &ids[0];
    assert_eq!(email.provider(), pb::Provider::Email);
    assert_eq!(email.subject, "ann@example.com");
    assert_eq!(email.email, "ann@example.com");
    assert!(email.primary);
    assert!(!email.email_verified, "not proved yet");
    assert_eq!(email.create_time, user.create_time);
    assert!(uuid::Uuid::parse_str(&email.id).is_ok());

    let err =
        w.h.client
            .list_identities(pb::ListIdentitiesRequest {})
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn an_email_proved_by_a_link_code_is_linked_with_the_current_password() {
    let mut w = world().await;
    let (user, tokens) = signup(&mut w.h, "ann@example.com", "ann").await;
    let access = tokens.access_token.as_str();
    let code = link_code(&mut w.h, access, "ann.work@example.com").await;
    let before = last_mail(&w.h.sink, "ann@example.com");
    let res = link(
        &mut w.h,
        access,
        password(PASSWORD),
        Some(email_credential(" Ann.Work@Example.com", &code)),
    )
    .await
    .unwrap();
    let linked = res.identity.unwrap();
    assert_eq!(linked.provider(), pb::Provider::Email);
    assert_eq!(linked.subject, "ann.work@example.com");
    assert!(linked.email_verified, "the code proved it");
    assert!(!linked.primary);
    assert!(res.tokens.is_none(), "not a guest: the session goes on");
    let after = res.user.unwrap();
    assert_eq!(after.id, user.id);
    assert_eq!(after.email, "ann@example.com", "the account address stays");

    let ids = identities(&mut w.h, access).await;
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1].id, linked.id);
    assert_eq!(primaries(&ids), ["ann@example.com"]);
    // The account's address hears about it.
    let notice =
        w.h.sink
            .wait_for_mail_after("ann@example.com", before, EVENT_DEADLINE)
            .await
            .unwrap();
    assert!(
        notice.subject.contains("sign-in method was added"),
        "{notice:?}"
    );

    // The linked address signs in to the same account.
    let res = email_code_sign_in(&mut w.h, "ann.work@example.com").await;
    assert!(!res.created);
    assert_eq!(res.user.unwrap().id, user.id);

    // A link code is single use.
    let err = link(
        &mut w.h,
        access,
        password(PASSWORD),
        Some(email_credential("ann.work@example.com", &code)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "CODE_INVALID");
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn linking_without_a_valid_proof_links_nothing() {
    let mut w = world().await;
    let (_, tokens) = signup(&mut w.h, "bob@example.com", "bob").await;
    let access = tokens.access_token.as_str();
    let code = link_code(&mut w.h, access, "bob.home@example.com").await;
    let credential = || Some(email_credential("bob.home@example.com", &code));

    let err = link(&mut w.h, access, password("password-2"), credential())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "INVALID_CREDENTIALS");

    let err = link(&mut w.h, access, None, credential())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["proof"]);
    let err = link(
        &mut w.h,
        access,
        Some(pb::AccountProof { proof: None }),
        credential(),
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&err), ["proof"]);

    let err = link(&mut w.h, access, reauth_code("123456"), credential())
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "no re-authentication code was sent"
    );

    let err = link(&mut w.h, access, password(PASSWORD), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["credential"]);

    // The right proof with a wrong code is no better.
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let err = link(
        &mut w.h,
        access,
        password(PASSWORD),
        Some(email_credential("bob.home@example.com", wrong)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "CODE_INVALID");

    let err =
        w.h.client
            .link_identity(pb::LinkIdentityRequest {
                proof: password(PASSWORD),
                credential: credential(),
            })
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "no token");

    assert_eq!(identities(&mut w.h, access).await.len(), 1);
    assert_eq!(counts(&w.h).await, (1, 1));

    // The refused attempts left the link code alone: with the password it still links.
    link(&mut w.h, access, password(PASSWORD), credential())
        .await
        .unwrap();
    assert_eq!(identities(&mut w.h, access).await.len(), 2);
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_reauthentication_code_proves_the_account() {
    let mut w = world().await;
    // A passwordless account: the code is its only proof.
    let cyd = email_code_sign_in(&mut w.h, "cyd@example.com").await;
    let access = cyd.tokens.unwrap().access_token;
    let proof = reauthentication_code(&mut w.h, &access, "cyd@example.com").await;
    let code = link_code(&mut w.h, &access, "cyd@work.example").await;
    let res = link(
        &mut w.h,
        &access,
        reauth_code(&proof),
        Some(email_credential("cyd@work.example", &code)),
    )
    .await
    .unwrap();
    assert_eq!(res.identity.unwrap().subject, "cyd@work.example");

    // Used up: it proves nothing a second time, and no password stands in for it.
    let code = link_code(&mut w.h, &access, "cyd@home.example").await;
    for proof in [reauth_code(&proof), password(PASSWORD)] {
        let err = link(
            &mut w.h,
            &access,
            proof,
            Some(email_credential("cyd@home.example", &code)),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    assert_eq!(identities(&mut w.h, &access).await.len(), 2);
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_google_identity_is_linked_with_its_id_token() {
    let mut w = world().await;
    let (user, tokens) = signup(&mut w.h, "dee@example.com", "dee").await;
    let access = tokens.access_token.as_str();

    // A token that does not verify links nothing.
    let stale = w.google_key.mint(&oidc::google_claims(
        GOOGLE_CLIENT,
        "g-dee",
        None,
        "n",
        w.now() - 7200,
    ));
    let err = link(
        &mut w.h,
        access,
        password(PASSWORD),
        Some(id_token_credential(&stale, "n")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "ID_TOKEN_EXPIRED");
    assert_eq!(identities(&mut w.h, access).await.len(), 1);

    let token = w.google_token("g-dee", Some(("dee.lee@gmail.example", true)), "n-link");
    let res = link(
        &mut w.h,
        access,
        password(PASSWORD),
        Some(id_token_credential(&token, "n-link")),
    )
    .await
    .unwrap();
    let google = res.identity.unwrap();
    assert_eq!(google.provider(), pb::Provider::Google);
    assert_eq!(google.subject, "g-dee");
    assert_eq!(google.email, "dee.lee@gmail.example");
    assert!(!google.primary);
    assert_eq!(res.user.unwrap().email, "dee@example.com");

    // Google sign-in now lands in Dee's account.
    let token = w.google_token("g-dee", Some(("dee.lee@gmail.example", true)), "n-2");
    let res = sign_in_google(&mut w.h, &token, "n-2").await.unwrap();
    assert!(!res.created);
    assert_eq!(res.user.unwrap().id, user.id);
    assert_eq!(counts(&w.h).await, (1, 2));
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn an_identity_of_another_account_cannot_be_linked() {
    let mut w = world().await;
    let (_, eve) = signup(&mut w.h, "eve@example.com", "eve").await;
    email_code_sign_in(&mut w.h, "fay@example.com").await;
    let token = w.google_token("g-fay", None, "n");
    sign_in_google(&mut w.h, &token, "n").await.unwrap();
    // Gil signed in with Google, whose verified email became his account address.
    let token = w.google_token("g-gil", Some(("gil@example.com", true)), "n");
    let gil = sign_in_google(&mut w.h, &token, "n").await.unwrap();
    assert_eq!(gil.user.unwrap().email, "gil@example.com");
    let before = counts(&w.h).await;

    // Fay's Google account (signed in above, an account of its own).
    let token = w.google_token("g-fay", None, "n2");
    let err = link(
        &mut w.h,
        &eve.access_token,
        password(PASSWORD),
        Some(id_token_credential(&token, "n2")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert_eq!(reason(&err), "IDENTITY_IN_USE");

    // Fay's email: Eve can receive the code (in this test), but the address is Fay's.
    let code = link_code(&mut w.h, &eve.access_token, "fay@example.com").await;
    let err = link(
        &mut w.h,
        &eve.access_token,
        password(PASSWORD),
        Some(email_credential("fay@example.com", &code)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert_eq!(reason(&err), "IDENTITY_IN_USE");

    // Gil's address, though his account has no email identity (only Google's).
    let code = link_code(&mut w.h, &eve.access_token, "gil@example.com").await;
    let err = link(
        &mut w.h,
        &eve.access_token,
        password(PASSWORD),
        Some(email_credential("gil@example.com", &code)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert_eq!(reason(&err), "IDENTITY_IN_USE");

    assert_eq!(counts(&w.h).await, before, "nothing linked");
    let ids = identities(&mut w.h, &eve.access_token).await;
    assert_eq!(ids.len(), 1);
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn unlink_keeps_the_last_identity_and_only_touches_the_callers() {
    let mut w = world().await;
    let (_, hal) = signup(&mut w.h, "hal@example.com", "hal").await;
    let (_, ivy) = signup(&mut w.h, "ivy@example.com", "ivy").await;
    let hal_email = identities(&mut w.h, &hal.access_token).await.remove(0);
    let ivy_email = identities(&mut w.h, &ivy.access_token).await.remove(0);

    let err = unlink(&mut w.h, &hal.access_token, &hal_email.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "LAST_IDENTITY");

    // Someone else's identity, or none at all, is NOT_FOUND; a malformed id is a bad field.
    for id in [ivy_email.id.clone(), uuid::Uuid::now_v7().to_string()] {
        let err = unlink(&mut w.h, &hal.access_token, &id).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{id}");
    }
    for bad in ["", "nope"] {
        let err = unlink(&mut w.h, &hal.access_token, bad).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(bad_fields(&err), ["identity_id"]);
    }
    assert_eq!(identities(&mut w.h, &ivy.access_token).await.len(), 1);

    // With a second identity, either may go; the remaining one is primary.
    let code = link_code(&mut w.h, &hal.access_token, "hal@work.example").await;
    let work = link(
        &mut w.h,
        &hal.access_token,
        password(PASSWORD),
        Some(email_credential("hal@work.example", &code)),
    )
    .await
    .unwrap()
    .identity
    .unwrap();
    unlink(&mut w.h, &hal.access_token, &work.id).await.unwrap();
    let ids = identities(&mut w.h, &hal.access_token).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].id, hal_email.id);
    assert!(ids[0].primary);
    let err = unlink(&mut w.h, &hal.access_token, &work.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "already gone");
    assert!(
        email_code_sign_in(&mut w.h, "hal@work.example")
            .await
            .created,
        "the unlinked address no longer reaches Hal's account"
    );
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn unlinking_the_primary_email_hands_its_roles_to_the_remaining_identity() {
    let mut w = world().await;
    let (jo, tokens) = signup(&mut w.h, "jo@example.com", "joe").await;
    let access = tokens.access_token.as_str();
    let code = link_code(&mut w.h, access, "jo@work.example").await;
    link(
        &mut w.h,
        access,
        password(PASSWORD),
        Some(email_credential("jo@work.example", &code)),
    )
    .await
    .unwrap();
    let ids = identities(&mut w.h, access).await;
    let primary = ids.iter().find(|i| i.primary).unwrap().id.clone();
    unlink(&mut w.h, access, &primary).await.unwrap();

    let ids = identities(&mut w.h, access).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(primaries(&ids), ["jo@work.example"]);
    // The password went with its address, which no longer signs in.
    let err =
        w.h.client
            .login(pb::LoginRequest {
                email: "jo@example.com".into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // The remaining (verified) address is the account's address now, so the account can still
    // prove itself with a re-authentication code.
    let user = me(&mut w.h, access).await;
    assert_eq!(user.id, jo.id);
    assert_eq!(user.email, "jo@work.example");
    assert!(user.email_verified);
    let proof = reauthentication_code(&mut w.h, access, "jo@work.example").await;
    let code = link_code(&mut w.h, access, "jo@home.example").await;
    link(
        &mut w.h,
        access,
        reauth_code(&proof),
        Some(email_credential("jo@home.example", &code)),
    )
    .await
    .unwrap();
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn set_primary_identity_moves_the_single_primary_flag() {
    let mut w = world().await;
    let (_, kim) = signup(&mut w.h, "kim@example.com", "kim").await;
    let (_, lou) = signup(&mut w.h, "lou@example.com", "lou").await;
    let token = w.google_token("g-kim", None, "n");
    let google = link(
        &mut w.h,
        &kim.access_token,
        password(PASSWORD),
        Some(id_token_credential(&token, "n")),
    )
    .await
    .unwrap()
    .identity
    .unwrap();

    set_primary(&mut w.h, &kim.access_token, &google.id)
        .await
        .unwrap();
    let ids = identities(&mut w.h, &kim.access_token).await;
    assert_eq!(primaries(&ids), ["g-kim"]);
    // Again: nothing changes.
    set_primary(&mut w.h, &kim.access_token, &google.id)
        .await
        .unwrap();
    assert_eq!(
        primaries(&identities(&mut w.h, &kim.access_token).await),
        ["g-kim"]
    );
    let email = ids.iter().find(|i| !i.primary).unwrap().id.clone();
    set_primary(&mut w.h, &kim.access_token, &email)
        .await
        .unwrap();
    assert_eq!(
        primaries(&identities(&mut w.h, &kim.access_token).await),
        ["kim@example.com"]
    );

    // Lou cannot touch Kim's identities, and hers stay as they are.
    let err = set_primary(&mut w.h, &lou.access_token, &google.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = set_primary(&mut w.h, &lou.access_token, "x")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["identity_id"]);
    assert_eq!(
        primaries(&identities(&mut w.h, &lou.access_token).await),
        ["lou@example.com"]
    );
    assert_eq!(
        primaries(&identities(&mut w.h, &kim.access_token).await),
        ["kim@example.com"]
    );
    w.h.running.stop().await.unwrap();
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
    let guest_claims = claims_of(&mut w.h, access).await;
    assert!(guest_claims.is_anonymous);
    assert!(identities(&mut w.h, access).await.is_empty());

    let code = link_code(&mut w.h, access, "gus@example.com").await;
    let res = link(
        &mut w.h,
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

    // A new pair that no longer says anonymous, in the same session.
    let tokens = res.tokens.expect("a claimed guest gets new tokens");
    let claims = claims_of(&mut w.h, &tokens.access_token).await;
    assert!(!claims.is_anonymous);
    assert_eq!(claims.sub, gus.id);
    assert_eq!(claims.sid, guest_claims.sid);
    let me_now = me(&mut w.h, &tokens.access_token).await;
    assert!(!me_now.is_anonymous);
    assert_eq!(me_now.email, "gus@example.com");

    // No longer a guest: the next link needs proof.
    let code = link_code(&mut w.h, &tokens.access_token, "gus@work.example").await;
    let err = link(
        &mut w.h,
        &tokens.access_token,
        None,
        Some(email_credential("gus@work.example", &code)),
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&err), ["proof"]);
    // And the address signs in to the claimed account.
    let res = email_code_sign_in(&mut w.h, "gus@example.com").await;
    assert!(!res.created);
    assert_eq!(res.user.unwrap().id, gus.id);
    w.h.running.stop().await.unwrap();
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
        &mut w.h,
        &guest_tokens.access_token,
        None,
        Some(id_token_credential(&token, "n")),
    )
    .await
    .unwrap();
    assert_eq!(res.user.as_ref().unwrap().id, guest_user.id);
    assert!(!res.user.unwrap().is_anonymous);
    let tokens = res.tokens.unwrap();
    assert!(!claims_of(&mut w.h, &tokens.access_token).await.is_anonymous);
    let token = w.google_token("g-guest", None, "n2");
    let res = sign_in_google(&mut w.h, &token, "n2").await.unwrap();
    assert!(!res.created);
    assert_eq!(res.user.unwrap().id, guest_user.id);
    w.h.running.stop().await.unwrap();
}

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
    let user = res.user.unwrap();
    assert_eq!(user.id, guest_user.id);
    assert!(!user.is_anonymous);
    assert_eq!(user.email, "max@example.com");
    assert_eq!(user.username, "max");
    let tokens = res.tokens.unwrap();
    assert!(!claims_of(&mut w.h, &tokens.access_token).await.is_anonymous);
    let ids = identities(&mut w.h, &tokens.access_token).await;
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
    let (_, ned) = signup(&mut w.h, "ned@example.com", "ned").await;
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
    assert_eq!(
        me(&mut w.h, &ned.access_token).await.email,
        "ned@example.com"
    );
    w.h.running.stop().await.unwrap();
}
