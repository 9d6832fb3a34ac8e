//! SignInWithIdToken with Google and Facebook: the first sign-in creates the account, the next
//! signs it in; verified emails link to the account that verified them, unverified ones never
//! join accounts; racing first sign-ins end in one account.

use serde_json::json;
use stride_proto::auth as pb;
use stride_testkit::{authed, oidc};

use crate::support::{
    counts, email_code_sign_in, identities,
    providers::{FACEBOOK_APP, id_token_sign_in, sign_in_google, world},
    send_code, signup_req,
};

#[tokio::test]
async fn google_first_sign_in_creates_an_account_and_the_next_signs_it_in() {
    let w = world().await;
    let token = w.google_token("g-100", Some(("New.User@Example.com", true)), "nonce-1");
    let first = sign_in_google(&w.h, &token, "nonce-1").await.unwrap();
    assert!(first.created);
    let user = first.user.unwrap();
    assert!(!user.is_anonymous);
    // A verified email no account uses becomes the account's email, normalised.
    assert_eq!(user.email, "new.user@example.com");
    assert!(user.email_verified);
    let tokens = first.tokens.unwrap();

    let ids = identities(&w.h, &tokens.access_token).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0].provider(), pb::Provider::Google);
    assert_eq!(ids[0].subject, "g-100");
    assert_eq!(ids[0].email, "new.user@example.com");
    assert!(ids[0].email_verified && ids[0].primary);
    assert_eq!(counts(&w.h).await, (1, 1));

    // Later, with a fresh token (new nonce) from a second client id of ours: same account.
    w.h.clock.advance(time::Duration::seconds(30));
    let claims = oidc::with(
        oidc::google_claims(
            "stride-ios.apps.example",
            "g-100",
            Some(("new.user@example.com", true)),
            "nonce-2",
            w.now(),
        ),
        "azp",
        json!("stride-ios.apps.example"),
    );
    let second = sign_in_google(&w.h, &w.google_key.mint(&claims), "nonce-2")
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.user.unwrap().id, user.id);
    assert_ne!(
        second.tokens.unwrap().refresh_token,
        tokens.refresh_token,
        "a new session"
    );
    assert_eq!(counts(&w.h).await, (1, 1));
    let ids = identities(&w.h, &tokens.access_token).await;
    assert_eq!(
        ids[0].last_sign_in_time.as_ref().unwrap().seconds,
        w.now(),
        "the identity records its last use"
    );
    w.h.stop().await;
}

#[tokio::test]
async fn a_verified_google_email_links_to_the_account_that_verified_it() {
    let w = world().await;
    // Ann proves her mailbox with a code: her account exists with a verified email.
    let ann = email_code_sign_in(&w.h, "ann@example.com").await;
    assert!(ann.created);
    let ann_user = ann.user.unwrap();
    assert!(ann_user.email_verified);

    let token = w.google_token("g-ann", Some(("ANN@example.com", true)), "n-1");
    let res = sign_in_google(&w.h, &token, "n-1").await.unwrap();
    assert!(!res.created, "linked, not created");
    assert_eq!(res.user.unwrap().id, ann_user.id);
    assert_eq!(counts(&w.h).await, (1, 2));

    let ids = identities(&w.h, &ann.tokens.unwrap().access_token).await;
    let providers: Vec<_> = ids.iter().map(|i| (i.provider(), i.primary)).collect();
    assert_eq!(
        providers,
        [(pb::Provider::Email, true), (pb::Provider::Google, false)],
        "the email stays primary: {ids:?}"
    );
    assert_eq!(ids[1].subject, "g-ann");
    // L4: linked on the provider's word about the email alone, so the owner is told.
    let notice = stride_testkit::eventually(
        stride_testkit::EVENT_DEADLINE,
        "the auto-link notice",
        || {
            let found =
                w.h.sink
                    .mail_to("ann@example.com")
                    .into_iter()
                    .find(|m| m.subject.contains("sign-in method was added"))
                    .map(|m| m.text);
            async move { found }
        },
    )
    .await;
    assert!(notice.contains("a google account"), "{notice}");

    // From now on the Google identity itself signs in, whatever its email says.
    let token = w.google_token("g-ann", Some(("ann.new@example.com", true)), "n-2");
    let again = sign_in_google(&w.h, &token, "n-2").await.unwrap();
    assert!(!again.created);
    assert_eq!(again.user.unwrap().id, ann_user.id);
    assert_eq!(counts(&w.h).await, (1, 2));
    w.h.stop().await;
}

#[tokio::test]
async fn unverified_emails_never_join_accounts() {
    let mut w = world().await;
    // Bob signed up with a password and never verified his email.
    let bob =
        w.h.client
            .signup(signup_req("bob@example.com", "bob", "password-1"))
            .await
            .unwrap()
            .into_inner();
    let (bob_user, bob_tokens) = (bob.user.unwrap(), bob.tokens.unwrap());
    // Cat verified hers with a code.
    let cat = email_code_sign_in(&w.h, "cat@example.com")
        .await
        .user
        .unwrap();

    // Google vouches for bob@: Bob's own claim to it is unproven, so no link, and the new
    // account cannot take the address either.
    let token = w.google_token("g-bob", Some(("bob@example.com", true)), "n");
    let res = sign_in_google(&w.h, &token, "n").await.unwrap();
    assert!(res.created);
    let other = res.user.unwrap();
    assert_ne!(other.id, bob_user.id);
    assert_eq!(other.email, "");

    // Google does not vouch for cat@: no link to Cat's verified account.
    let token = w.google_token("g-cat", Some(("cat@example.com", false)), "n");
    let res = sign_in_google(&w.h, &token, "n").await.unwrap();
    assert!(res.created);
    assert_ne!(res.user.as_ref().unwrap().id, cat.id);
    assert_eq!(res.user.unwrap().email, "");

    // An unverified address nobody uses is not taken either.
    let token = w.google_token("g-dan", Some(("dan@example.com", false)), "n");
    let res = sign_in_google(&w.h, &token, "n").await.unwrap();
    assert!(res.created);
    assert_eq!(res.user.unwrap().email, "");
    assert_eq!(counts(&w.h).await, (5, 5));

    // Once Bob verifies his email (VerifyEmail), a new Google identity vouching for it links.
    let code = send_code(
        &w.h,
        Some(&bob_tokens.access_token),
        pb::CodePurpose::VerifyEmail,
        "",
        "bob@example.com",
    )
    .await;
    let verified =
        w.h.client
            .verify_email(authed(
                pb::VerifyEmailRequest { code },
                &bob_tokens.access_token,
            ))
            .await
            .unwrap()
            .into_inner();
    assert!(verified.user.unwrap().email_verified);
    let token = w.google_token("g-bob-2", Some(("bob@example.com", true)), "n");
    let res = sign_in_google(&w.h, &token, "n").await.unwrap();
    assert!(!res.created);
    assert_eq!(res.user.unwrap().id, bob_user.id);
    assert_eq!(counts(&w.h).await, (5, 6));
    w.h.stop().await;
}

#[tokio::test]
async fn a_google_email_linked_to_another_account_is_not_taken_as_an_address() {
    let mut w = world().await;
    let (ann, tokens) = {
        let res =
            w.h.client
                .signup(signup_req("ann@example.com", "ann", "password-1"))
                .await
                .unwrap()
                .into_inner();
        (res.user.unwrap(), res.tokens.unwrap())
    };
    // Ann adds a second, proved address.
    let access = tokens.access_token.as_str();
    let code = send_code(
        &w.h,
        Some(access),
        pb::CodePurpose::Link,
        "ann@work.example",
        "ann@work.example",
    )
    .await;
    w.h.client
        .link_identity(authed(
            pb::LinkIdentityRequest {
                proof: Some(pb::AccountProof {
                    proof: Some(pb::account_proof::Proof::CurrentPassword(
                        "password-1".into(),
                    )),
                }),
                credential: Some(pb::link_identity_request::Credential::Code(
                    pb::CodeCredential {
                        channel: pb::CodeChannel::Email.into(),
                        address: "ann@work.example".into(),
                        code,
                    },
                )),
            },
            access,
        ))
        .await
        .unwrap();

    // A Google account vouching for that address is a new account, without the address.
    let token = w.google_token("g-work", Some(("ann@work.example", true)), "n");
    let res = sign_in_google(&w.h, &token, "n").await.unwrap();
    assert!(res.created);
    assert_eq!(res.user.unwrap().email, "");
    // The address still reaches Ann's account only.
    let res = email_code_sign_in(&w.h, "ann@work.example").await;
    assert_eq!(res.user.unwrap().id, ann.id);
    w.h.stop().await;
}

#[tokio::test]
async fn facebook_sign_in_creates_an_account_then_signs_it_in() {
    let w = world().await;
    let claims = oidc::facebook_claims(
        FACEBOOK_APP,
        "fb-10158",
        Some("ann@example.com"),
        "fb-nonce",
        w.now(),
    );
    let token = w.facebook_key.mint(&claims);
    let first = id_token_sign_in(&w.h, pb::Provider::Facebook, &token, "fb-nonce")
        .await
        .unwrap();
    assert!(first.created);
    let user = first.user.unwrap();
    // Facebook does not say the email is verified, so the account does not take it.
    assert_eq!(user.email, "");
    let tokens = first.tokens.unwrap();
    let ids = identities(&w.h, &tokens.access_token).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].provider(), pb::Provider::Facebook);
    assert_eq!(ids[0].subject, "fb-10158");
    assert!(!ids[0].email_verified && ids[0].primary);

    w.h.clock.advance(time::Duration::minutes(10));
    let claims = oidc::facebook_claims(FACEBOOK_APP, "fb-10158", None, "fb-2", w.now());
    let token = w.facebook_key.mint(&claims);
    let second = id_token_sign_in(&w.h, pb::Provider::Facebook, &token, "fb-2")
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.user.unwrap().id, user.id);
    assert_eq!(counts(&w.h).await, (1, 1));
    assert_eq!(
        w.facebook.hits(),
        1,
        "the key set was fetched once and cached"
    );
    w.h.stop().await;
}

#[tokio::test]
async fn racing_first_sign_ins_of_one_identity_end_in_one_account() {
    let w = world().await;
    let token = w.google_token("g-race", Some(("race@example.com", true)), "nonce-r");
    let mut calls = Vec::new();
    for _ in 0..6 {
        let mut client = w.h.client.clone();
        let token = token.clone();
        calls.push(tokio::spawn(async move {
            client
                .sign_in_with_id_token(pb::SignInWithIdTokenRequest {
                    provider: pb::Provider::Google.into(),
                    id_token: token,
                    nonce: "nonce-r".into(),
                    timezone: String::new(),
                })
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for c in calls {
        let r = c.await.unwrap().expect("every racer is signed in");
        created += usize::from(r.created);
        ids.insert(r.user.unwrap().id);
    }
    assert_eq!(ids.len(), 1, "one account");
    assert_eq!(created, 1, "created once");
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.stop().await;
}
