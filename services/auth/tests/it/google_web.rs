//! Google's server-side web flow: StartGoogleSignIn hands out the authorization URL (PKCE S256,
//! state, nonce), FinishGoogleSignIn takes the redirect's code and state. Google's token
//! endpoint is a stand-in (`stride_testkit::google_oauth`) that checks the redirect URI and the
//! PKCE verifier as Google does; the ID token it returns is minted by the OIDC stand-in's key.

use std::collections::HashMap;

use serde_json::json;
use stride_kit::Clock as _;
use stride_proto::auth as pb;
use stride_testkit::{
    bus::assert_invalid,
    google_oauth::{CLIENT_SECRET, TokenEndpoint},
    oidc,
};
use tonic::{Code, Status};

use crate::support::{
    Auth, counts, identities,
    providers::{GOOGLE_CLIENT, World, assert_refused, world_with},
    start,
};

const REDIRECT: &str = "https://app.example/auth/google/callback";

async fn web_world(token: &TokenEndpoint) -> World {
    let url = token.url.clone();
    world_with(|s| {
        s.signins.google_client_secret = Some(CLIENT_SECRET.into());
        s.signins.google_web_client_id = Some(GOOGLE_CLIENT.into());
        s.signins.google_redirect_uris = vec![REDIRECT.into(), "http://localhost:3000/cb".into()];
        s.signins.google_token_url = url;
    })
    .await
}

async fn start_sign_in(
    h: &Auth,
    redirect_uri: &str,
) -> Result<pb::StartGoogleSignInResponse, Status> {
    h.client
        .clone()
        .start_google_sign_in(pb::StartGoogleSignInRequest {
            redirect_uri: redirect_uri.into(),
            login_hint: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn finish(
    h: &Auth,
    code: &str,
    state: &str,
) -> Result<pb::FinishGoogleSignInResponse, Status> {
    h.client
        .clone()
        .finish_google_sign_in(pb::FinishGoogleSignInRequest {
            code: code.into(),
            state: state.into(),
            timezone: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Plays the user consenting at Google: `code` will be exchanged for an ID token of `subject`
/// carrying the authorization request's nonce, tuned by `tune`.
fn consent(
    w: &World,
    token: &TokenEndpoint,
    started: &pb::StartGoogleSignInResponse,
    code: &str,
    subject: &str,
    tune: impl FnOnce(serde_json::Value) -> serde_json::Value,
) {
    let q = query(&started.authorization_url);
    let claims = oidc::google_claims(
        GOOGLE_CLIENT,
        subject,
        Some(("ann@example.com", true)),
        "x",
        w.now(),
    );
    let claims = tune(oidc::with(claims, "nonce", json!(q["nonce"])));
    token.grant(
        code,
        &q["redirect_uri"],
        &q["code_challenge"],
        &w.google_key.mint(&claims),
    );
}

#[tokio::test]
async fn the_web_flow_signs_in_and_finds_the_account_again() {
    let token = TokenEndpoint::start(GOOGLE_CLIENT).await;
    let w = web_world(&token).await;
    let started = start_sign_in(&w.h, REDIRECT).await.unwrap();
    let q = query(&started.authorization_url);
    assert!(
        started
            .authorization_url
            .starts_with("https://accounts.google.com/o/oauth2/v2/auth?")
    );
    for (k, v) in [
        ("response_type", "code"),
        ("client_id", GOOGLE_CLIENT),
        ("redirect_uri", REDIRECT),
        ("code_challenge_method", "S256"),
        ("scope", "openid email profile"),
    ] {
        assert_eq!(q[k], v, "{k}");
    }
    assert_eq!(q["state"], started.state);
    assert_eq!(q["code_challenge"].len(), 43);
    assert_eq!(q["nonce"].len(), 64);
    assert_eq!(
        started.expire_time.unwrap().seconds,
        w.h.clock.now().unix_timestamp() + 600
    );

    consent(&w, &token, &started, "4/0AQlEd8x-code-1", "g-ann", |c| c);
    let first = finish(&w.h, "4/0AQlEd8x-code-1", &started.state)
        .await
        .unwrap();
    assert!(first.created);
    let user = first.user.unwrap();
    assert_eq!(user.email, "ann@example.com");
    let ids = identities(&w.h, &first.tokens.unwrap().access_token).await;
    assert_eq!(ids[0].provider(), pb::Provider::Google);
    assert_eq!(ids[0].subject, "g-ann");

    let again = start_sign_in(&w.h, "http://localhost:3000/cb")
        .await
        .unwrap();
    assert_ne!(again.state, started.state);
    consent(&w, &token, &again, "4/0AQlEd8x-code-2", "g-ann", |c| c);
    let second = finish(&w.h, "4/0AQlEd8x-code-2", &again.state)
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.user.unwrap().id, user.id);
    w.h.stop().await;
}

#[tokio::test]
async fn a_state_serves_one_callback_and_only_in_time() {
    let token = TokenEndpoint::start(GOOGLE_CLIENT).await;
    let w = web_world(&token).await;
    let started = start_sign_in(&w.h, REDIRECT).await.unwrap();
    consent(&w, &token, &started, "code-a", "g-1", |c| c);
    finish(&w.h, "code-a", &started.state).await.unwrap();

    // Reused, unknown: refused before Google is asked again.
    let asked = token.exchanges();
    for (case, state) in [
        ("reused state", started.state.clone()),
        ("unknown state", "bm90LWlzc3VlZA".to_owned()),
    ] {
        assert_refused(
            finish(&w.h, "code-a", &state).await,
            Code::Unauthenticated,
            "OAUTH_STATE_INVALID",
            case,
        );
    }
    // Expired: ten minutes and a second later.
    let late = start_sign_in(&w.h, REDIRECT).await.unwrap();
    consent(&w, &token, &late, "code-b", "g-2", |c| c);
    w.h.clock
        .advance(time::Duration::minutes(10) + time::Duration::seconds(1));
    let e = finish(&w.h, "code-b", &late.state).await.unwrap_err();
    assert!(e.message().contains("state"), "{e:?}");
    assert_refused(
        Err::<(), _>(e),
        Code::Unauthenticated,
        "OAUTH_STATE_INVALID",
        "expired state",
    );
    assert_eq!(token.exchanges(), asked);
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.stop().await;
}

#[tokio::test]
async fn redirects_off_the_allow_list_are_invalid() {
    let token = TokenEndpoint::start(GOOGLE_CLIENT).await;
    let w = web_world(&token).await;
    for bad in [
        "https://evil.example/auth/google/callback",
        "https://app.example/auth/google/callback/../../evil",
        "https://app.example/auth/google/callback?next=https://evil.example",
        "https://app.example.evil.example/auth/google/callback",
        "",
    ] {
        let e = start_sign_in(&w.h, bad).await.unwrap_err();
        assert_invalid(&e, &["redirect_uri"]);
    }
    let e = finish(&w.h, "", "").await.unwrap_err();
    assert_invalid(&e, &["code", "state"]);
    w.h.stop().await;
}

#[tokio::test]
async fn bad_codes_and_bad_id_tokens_are_refused() {
    let token = TokenEndpoint::start(GOOGLE_CLIENT).await;
    let w = web_world(&token).await;
    // A code Google never issued, and one granted for another PKCE challenge.
    let s1 = start_sign_in(&w.h, REDIRECT).await.unwrap();
    assert_refused(
        finish(&w.h, "forged", &s1.state).await,
        Code::Unauthenticated,
        "OAUTH_CODE_INVALID",
        "unknown code",
    );
    let s2 = start_sign_in(&w.h, REDIRECT).await.unwrap();
    let q = query(&s2.authorization_url);
    let claims = oidc::with(
        oidc::google_claims(GOOGLE_CLIENT, "g-3", None, "x", w.now()),
        "nonce",
        json!(q["nonce"]),
    );
    token.grant(
        "stolen",
        REDIRECT,
        "another-challenge-of-the-attacker-0000000000",
        &w.google_key.mint(&claims),
    );
    assert_refused(
        finish(&w.h, "stolen", &s2.state).await,
        Code::Unauthenticated,
        "OAUTH_CODE_INVALID",
        "PKCE mismatch",
    );

    // Google's answer carries an ID token bound to another nonce, or for another client.
    let s3 = start_sign_in(&w.h, REDIRECT).await.unwrap();
    consent(&w, &token, &s3, "code-n", "g-4", |c| {
        oidc::with(c, "nonce", json!(oidc::hashed_nonce("other")))
    });
    assert_refused(
        finish(&w.h, "code-n", &s3.state).await,
        Code::Unauthenticated,
        "ID_TOKEN_NONCE",
        "nonce",
    );
    let s4 = start_sign_in(&w.h, REDIRECT).await.unwrap();
    consent(&w, &token, &s4, "code-a", "g-5", |c| {
        oidc::with(c, "aud", json!("someone-else.apps.example"))
    });
    assert_refused(
        finish(&w.h, "code-a", &s4.state).await,
        Code::Unauthenticated,
        "ID_TOKEN_AUDIENCE",
        "audience",
    );
    assert_eq!(counts(&w.h).await, (0, 0));
    w.h.stop().await;
}

#[tokio::test]
async fn without_a_client_secret_the_web_flow_is_off() {
    let h = start().await;
    assert_refused(
        start_sign_in(&h, REDIRECT).await,
        Code::FailedPrecondition,
        "PROVIDER_NOT_CONFIGURED",
        "start",
    );
    assert_refused(
        finish(&h, "c", "s").await,
        Code::FailedPrecondition,
        "PROVIDER_NOT_CONFIGURED",
        "finish",
    );
    h.stop().await;
}
