//! LinkIdentity: an email (proved by a LINK code) or a Google identity (by its ID token) joins
//! the caller's account, once the caller proved the account (password or re-authentication
//! code); identities of other accounts never move.

use stride_proto::auth as pb;
use stride_testkit::{
    EVENT_DEADLINE,
    bus::{assert_invalid, reason},
    oidc,
};
use tonic::Code;

use crate::support::{
    PASSWORD, counts, email_code_sign_in, email_credential, id_token_credential, identities,
    last_mail, link, link_code, password, primaries,
    providers::{GOOGLE_CLIENT, sign_in_google, world},
    reauth_code, reauthentication_code, signup,
};

#[tokio::test]
async fn an_email_proved_by_a_link_code_is_linked_with_the_current_password() {
    let w = world().await;
    let (user, tokens) = signup(&w.h, "ann@example.com", "ann").await;
    let access = tokens.access_token.as_str();
    let code = link_code(&w.h, access, "ann.work@example.com").await;
    let before = last_mail(&w.h.sink, "ann@example.com");
    let res = link(
        &w.h,
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

    let ids = identities(&w.h, access).await;
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
    let res = email_code_sign_in(&w.h, "ann.work@example.com").await;
    assert!(!res.created);
    assert_eq!(res.user.unwrap().id, user.id);

    // A link code is single use.
    let err = link(
        &w.h,
        access,
        password(PASSWORD),
        Some(email_credential("ann.work@example.com", &code)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "CODE_INVALID");
    w.h.stop().await;
}

#[tokio::test]
async fn linking_without_a_valid_proof_links_nothing() {
    let mut w = world().await;
    let (_, tokens) = signup(&w.h, "bob@example.com", "bob").await;
    let access = tokens.access_token.as_str();
    let code = link_code(&w.h, access, "bob.home@example.com").await;
    let credential = || Some(email_credential("bob.home@example.com", &code));

    let err = link(&w.h, access, password("password-2"), credential())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "INVALID_CREDENTIALS");

    let err = link(&w.h, access, None, credential()).await.unwrap_err();
    assert_invalid(&err, &["proof"]);
    let err = link(
        &w.h,
        access,
        Some(pb::AccountProof { proof: None }),
        credential(),
    )
    .await
    .unwrap_err();
    assert_invalid(&err, &["proof"]);

    let err = link(&w.h, access, reauth_code("123456"), credential())
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "no re-authentication code was sent"
    );

    let err = link(&w.h, access, password(PASSWORD), None)
        .await
        .unwrap_err();
    assert_invalid(&err, &["credential"]);

    // The right proof with a wrong code is no better.
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let err = link(
        &w.h,
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

    assert_eq!(identities(&w.h, access).await.len(), 1);
    assert_eq!(counts(&w.h).await, (1, 1));

    // The refused attempts left the link code alone: with the password it still links.
    link(&w.h, access, password(PASSWORD), credential())
        .await
        .unwrap();
    assert_eq!(identities(&w.h, access).await.len(), 2);
    w.h.stop().await;
}

#[tokio::test]
async fn a_reauthentication_code_proves_the_account() {
    let w = world().await;
    // A passwordless account: the code is its only proof.
    let cyd = email_code_sign_in(&w.h, "cyd@example.com").await;
    let access = cyd.tokens.unwrap().access_token;
    let proof = reauthentication_code(&w.h, &access, "cyd@example.com").await;
    let code = link_code(&w.h, &access, "cyd@work.example").await;
    let res = link(
        &w.h,
        &access,
        reauth_code(&proof),
        Some(email_credential("cyd@work.example", &code)),
    )
    .await
    .unwrap();
    assert_eq!(res.identity.unwrap().subject, "cyd@work.example");

    // Used up: it proves nothing a second time, and no password stands in for it.
    let code = link_code(&w.h, &access, "cyd@home.example").await;
    for proof in [reauth_code(&proof), password(PASSWORD)] {
        let err = link(
            &w.h,
            &access,
            proof,
            Some(email_credential("cyd@home.example", &code)),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    assert_eq!(identities(&w.h, &access).await.len(), 2);
    w.h.stop().await;
}

#[tokio::test]
async fn a_google_identity_is_linked_with_its_id_token() {
    let w = world().await;
    let (user, tokens) = signup(&w.h, "dee@example.com", "dee").await;
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
        &w.h,
        access,
        password(PASSWORD),
        Some(id_token_credential(&stale, "n")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err), "ID_TOKEN_EXPIRED");
    assert_eq!(identities(&w.h, access).await.len(), 1);

    let token = w.google_token("g-dee", Some(("dee.lee@gmail.example", true)), "n-link");
    let res = link(
        &w.h,
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
    let res = sign_in_google(&w.h, &token, "n-2").await.unwrap();
    assert!(!res.created);
    assert_eq!(res.user.unwrap().id, user.id);
    assert_eq!(counts(&w.h).await, (1, 2));
    w.h.stop().await;
}

#[tokio::test]
async fn an_identity_of_another_account_cannot_be_linked() {
    let w = world().await;
    let (_, eve) = signup(&w.h, "eve@example.com", "eve").await;
    email_code_sign_in(&w.h, "fay@example.com").await;
    let token = w.google_token("g-fay", None, "n");
    sign_in_google(&w.h, &token, "n").await.unwrap();
    // Gil signed in with Google, whose verified email became his account address.
    let token = w.google_token("g-gil", Some(("gil@example.com", true)), "n");
    let gil = sign_in_google(&w.h, &token, "n").await.unwrap();
    assert_eq!(gil.user.unwrap().email, "gil@example.com");
    let before = counts(&w.h).await;

    // Fay's Google account (signed in above, an account of its own).
    let token = w.google_token("g-fay", None, "n2");
    let err = link(
        &w.h,
        &eve.access_token,
        password(PASSWORD),
        Some(id_token_credential(&token, "n2")),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert_eq!(reason(&err), "IDENTITY_IN_USE");

    // Fay's email: Eve can receive the code (in this test), but the address is Fay's.
    let code = link_code(&w.h, &eve.access_token, "fay@example.com").await;
    let err = link(
        &w.h,
        &eve.access_token,
        password(PASSWORD),
        Some(email_credential("fay@example.com", &code)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert_eq!(reason(&err), "IDENTITY_IN_USE");

    // Gil's address, though his account has no email identity (only Google's).
    let code = link_code(&w.h, &eve.access_token, "gil@example.com").await;
    let err = link(
        &w.h,
        &eve.access_token,
        password(PASSWORD),
        Some(email_credential("gil@example.com", &code)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert_eq!(reason(&err), "IDENTITY_IN_USE");

    assert_eq!(counts(&w.h).await, before, "nothing linked");
    let ids = identities(&w.h, &eve.access_token).await;
    assert_eq!(ids.len(), 1);
    w.h.stop().await;
}
