//! SignInWithFacebookAccessToken: Android/JS SDK access tokens, inspected by a stand-in Graph
//! API (`stride_testkit::facebook`); the identity is the one Limited Login ID tokens reach.

use stride_proto::auth as pb;
use stride_testkit::{
    bus::assert_invalid,
    facebook::{APP_ID, APP_SECRET, Graph, TokenInfo},
    oidc,
};
use tonic::{Code, Status};

use crate::support::{
    Auth, PASSWORD, counts, identities, link, password,
    providers::{FACEBOOK_APP, World, assert_refused, id_token_sign_in, world_with},
    signup, start,
};

async fn world_with_graph(g: &Graph) -> World {
    let url = g.url.clone();
    world_with(|s| {
        s.signins.facebook_app_secret = Some(APP_SECRET.into());
        s.signins.facebook_graph_url = url;
    })
    .await
}

async fn sign_in(
    h: &Auth,
    access_token: &str,
) -> Result<pb::SignInWithFacebookAccessTokenResponse, Status> {
    h.client
        .clone()
        .sign_in_with_facebook_access_token(pb::SignInWithFacebookAccessTokenRequest {
            access_token: access_token.into(),
            timezone: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn an_sdk_access_token_signs_in_to_the_limited_login_identity() {
    assert_eq!(APP_ID, FACEBOOK_APP, "one app for both paths");
    let g = Graph::start().await;
    let w = world_with_graph(&g).await;
    g.add_token("EAAGood", TokenInfo::user("10158", w.now() + 3600));
    let first = sign_in(&w.h, "EAAGood").await.unwrap();
    assert!(first.created);
    let user = first.user.unwrap();
    // Facebook's email is not trusted: not the account's address.
    assert_eq!(user.email, "");
    let ids = identities(&w.h, &first.tokens.unwrap().access_token).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].provider(), pb::Provider::Facebook);
    assert_eq!(ids[0].subject, "10158");

    // The iOS Limited Login ID token of the same user lands in the same account.
    let claims = oidc::facebook_claims(FACEBOOK_APP, "10158", None, "fb-n", w.now());
    let ios = id_token_sign_in(
        &w.h,
        pb::Provider::Facebook,
        &w.facebook_key.mint(&claims),
        "fb-n",
    )
    .await
    .unwrap();
    assert!(!ios.created);
    assert_eq!(ios.user.unwrap().id, user.id);
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.stop().await;
}

#[tokio::test]
async fn hostile_access_tokens_are_refused_and_create_nothing() {
    let g = Graph::start().await;
    let w = world_with_graph(&g).await;
    let now = w.now();
    g.add_token(
        "EAAOtherApp",
        TokenInfo {
            app_id: "555".into(),
            ..TokenInfo::user("1", now + 3600)
        },
    );
    g.add_token("EAAExpired", TokenInfo::user("2", now - 1));
    g.add_token(
        "EAARevoked",
        TokenInfo {
            is_valid: false,
            ..TokenInfo::user("3", now + 3600)
        },
    );
    let cases = [
        ("wrong app id", "EAAOtherApp", "FACEBOOK_TOKEN_AUDIENCE"),
        ("expired", "EAAExpired", "FACEBOOK_TOKEN_EXPIRED"),
        ("revoked", "EAARevoked", "FACEBOOK_TOKEN_INVALID"),
        ("unknown", "EAAUnknown", "FACEBOOK_TOKEN_INVALID"),
    ];
    for (case, token, why) in cases {
        assert_refused(sign_in(&w.h, token).await, Code::Unauthenticated, why, case);
    }
    assert_invalid(&sign_in(&w.h, "").await.unwrap_err(), &["access_token"]);
    assert_invalid(
        &sign_in(&w.h, &"E".repeat(5000)).await.unwrap_err(),
        &["access_token"],
    );
    g.set_failing(true);
    g.add_token("EAAGood", TokenInfo::user("4", now + 3600));
    let down = sign_in(&w.h, "EAAGood").await.unwrap_err();
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    assert_eq!(counts(&w.h).await, (0, 0));
    w.h.stop().await;
}

#[tokio::test]
async fn without_an_app_secret_access_tokens_are_off() {
    let h = start().await;
    assert_refused(
        sign_in(&h, "EAAGood").await,
        Code::FailedPrecondition,
        "PROVIDER_NOT_CONFIGURED",
        "no app secret",
    );
    h.stop().await;
}

#[tokio::test]
async fn an_sdk_access_token_links_to_a_signed_in_account_with_proof() {
    let g = Graph::start().await;
    let w = world_with_graph(&g).await;
    g.add_token("EAALink", TokenInfo::user("20177", w.now() + 3600));
    let (user, tokens) = signup(&w.h, "fay@example.com", "fay").await;
    let access = tokens.access_token.as_str();
    let token = || {
        Some(pb::link_identity_request::Credential::FacebookAccessToken(
            "EAALink".into(),
        ))
    };
    // Without proof of the account, nothing is linked.
    let e = link(&w.h, access, None, token()).await.unwrap_err();
    assert_ne!(e.code(), Code::Ok);
    // An empty token names the field.
    let e = link(
        &w.h,
        access,
        password(PASSWORD),
        Some(pb::link_identity_request::Credential::FacebookAccessToken(
            String::new(),
        )),
    )
    .await
    .unwrap_err();
    assert_invalid(&e, &["facebook_access_token"]);

    let linked = link(&w.h, access, password(PASSWORD), token())
        .await
        .unwrap()
        .identity
        .unwrap();
    assert_eq!(linked.provider(), pb::Provider::Facebook);
    assert_eq!(linked.subject, "20177");
    // Signing in with the same token now reaches the account it was linked to.
    let again = sign_in(&w.h, "EAALink").await.unwrap();
    assert!(!again.created);
    assert_eq!(again.user.unwrap().id, user.id);
    w.h.stop().await;
}
