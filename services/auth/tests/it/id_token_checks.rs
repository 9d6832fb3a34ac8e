//! What SignInWithIdToken refuses, and when: every way an ID token can be wrong, times judged by
//! auth's clock, providers not configured, provider keys that cannot be fetched.

use serde_json::json;
use stride_kit::Clock as _;
use stride_proto::auth as pb;
use stride_testkit::{
    bus::{assert_invalid, reason},
    oidc::{self, Provider, TestKey},
};
use tonic::Code;

use crate::support::{
    before_now, counts,
    providers::{
        BOT_TOKEN, FACEBOOK_APP, GOOGLE_CLIENT, assert_refused, id_token_sign_in, sign_in_google,
        sign_in_telegram, telegram_payload, world,
    },
    start_at,
};

#[tokio::test]
async fn rejected_id_tokens_create_nothing() {
    let mut w = world().await;
    let now = w.now();
    let nonce = "raw-nonce-7";
    let valid = || {
        oidc::google_claims(
            GOOGLE_CLIENT,
            "g-7",
            Some(("eve@example.com", true)),
            nonce,
            now,
        )
    };
    let key = &w.google_key;
    let attacker = TestKey::rsa(&key.kid);
    let stranger = TestKey::rsa("not-published");
    let token = key.mint(&valid());
    let (head, rest) = token.split_once('.').unwrap();
    let signature = rest.rsplit_once('.').unwrap().1;
    let altered_payload = oidc::b64(
        &serde_json::to_vec(&oidc::with(valid(), "sub", json!("g-someone-else"))).unwrap(),
    );
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "wrong audience",
            key.mint(&oidc::with(valid(), "aud", json!("another-app"))),
            nonce,
            "ID_TOKEN_AUDIENCE",
        ),
        (
            "our audience among others, azp someone else's",
            key.mint(&oidc::with(
                oidc::with(valid(), "aud", json!([GOOGLE_CLIENT, "another-app"])),
                "azp",
                json!("another-app"),
            )),
            nonce,
            "ID_TOKEN_AUDIENCE",
        ),
        (
            "wrong issuer",
            key.mint(&oidc::with(
                valid(),
                "iss",
                json!("https://accounts.evil.example"),
            )),
            nonce,
            "ID_TOKEN_ISSUER",
        ),
        (
            "Facebook's issuer on the Google endpoint",
            key.mint(&oidc::with(valid(), "iss", json!(oidc::FACEBOOK_ISS))),
            nonce,
            "ID_TOKEN_ISSUER",
        ),
        (
            "expired beyond the leeway",
            key.mint(&oidc::with(
                oidc::with(valid(), "iat", json!(now - 3700)),
                "exp",
                json!(now - 61),
            )),
            nonce,
            "ID_TOKEN_EXPIRED",
        ),
        (
            "issued in the future",
            key.mint(&oidc::with(valid(), "iat", json!(now + 120))),
            nonce,
            "ID_TOKEN_NOT_YET_VALID",
        ),
        (
            "nonce of another attempt",
            key.mint(&valid()),
            "raw-nonce-8",
            "ID_TOKEN_NONCE",
        ),
        (
            "raw nonce in the token instead of its hash",
            key.mint(&oidc::with(valid(), "nonce", json!(nonce))),
            nonce,
            "ID_TOKEN_NONCE",
        ),
        (
            "no nonce in the token",
            key.mint(&oidc::without(valid(), "nonce")),
            nonce,
            "ID_TOKEN_NONCE",
        ),
        (
            "no nonce in the request",
            key.mint(&valid()),
            "",
            "ID_TOKEN_NONCE",
        ),
        (
            "alg none",
            oidc::unsigned(&key.kid, &valid()),
            nonce,
            "ID_TOKEN_ALGORITHM",
        ),
        (
            "signed by another key under the provider's kid",
            attacker.mint(&valid()),
            nonce,
            "ID_TOKEN_SIGNATURE",
        ),
        (
            "payload changed after signing",
            format!("{head}.{altered_payload}.{signature}"),
            nonce,
            "ID_TOKEN_SIGNATURE",
        ),
        (
            "a kid the provider does not publish",
            stranger.mint(&valid()),
            nonce,
            "ID_TOKEN_UNKNOWN_KEY",
        ),
        ("not a JWT", "not-a-jwt".into(), nonce, "ID_TOKEN_MALFORMED"),
        (
            "no subject",
            key.mint(&oidc::without(valid(), "sub")),
            nonce,
            "ID_TOKEN_MALFORMED",
        ),
    ];
    for (case, token, raw_nonce, why) in cases {
        let result = sign_in_google(&w.h, &token, raw_nonce).await;
        assert_refused(result, Code::Unauthenticated, why, case);
    }
    // A Google token presented as Facebook's: Facebook's keys do not know its kid.
    let result = id_token_sign_in(&w.h, pb::Provider::Facebook, &token, nonce).await;
    assert_refused(
        result,
        Code::Unauthenticated,
        "ID_TOKEN_UNKNOWN_KEY",
        "Google token as Facebook",
    );

    // Bad fields are INVALID_ARGUMENT, named.
    for provider in [
        pb::Provider::Unspecified as i32,
        pb::Provider::Email as i32,
        pb::Provider::Telegram as i32,
        99,
    ] {
        let err =
            w.h.client
                .sign_in_with_id_token(pb::SignInWithIdTokenRequest {
                    provider,
                    id_token: token.clone(),
                    nonce: nonce.into(),
                    timezone: String::new(),
                })
                .await
                .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "provider {provider}");
        assert_invalid(&err, &["provider"]);
    }
    // (The time zone is checked before the token fields, so it is reported on its own.)
    let bad = |id_token: &str, nonce: String, timezone: &str| pb::SignInWithIdTokenRequest {
        provider: pb::Provider::Google.into(),
        id_token: id_token.into(),
        nonce,
        timezone: timezone.into(),
    };
    let err =
        w.h.client
            .sign_in_with_id_token(bad("", "n".repeat(600), ""))
            .await
            .unwrap_err();
    assert_invalid(&err, &["id_token", "nonce"]);
    let err =
        w.h.client
            .sign_in_with_id_token(bad(&token, nonce.into(), "Mars/Olympus_Mons"))
            .await
            .unwrap_err();
    assert_invalid(&err, &["timezone"]);

    assert_eq!(counts(&w.h).await, (0, 0), "nothing was created");

    // The control: the untouched token signs in.
    let res = sign_in_google(&w.h, &token, nonce).await.unwrap();
    assert!(res.created);
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.stop().await;
}

#[tokio::test]
async fn id_token_times_are_judged_by_auths_clock() {
    let w = world().await;
    let start = w.now();
    // Minted for an hour from now: its iat lies beyond the leeway for auth's clock.
    let claims = oidc::google_claims(GOOGLE_CLIENT, "g-time", None, "n", start + 3600);
    let token = w.google_key.mint(&claims);
    assert_refused(
        sign_in_google(&w.h, &token, "n").await,
        Code::Unauthenticated,
        "ID_TOKEN_NOT_YET_VALID",
        "an hour early",
    );
    // When auth's clock gets there, the same token is fine...
    w.h.clock.advance(time::Duration::hours(1));
    let res = sign_in_google(&w.h, &token, "n").await.unwrap();
    assert!(res.created);
    // ...until exp (iat + 3600) plus the 60 s leeway has passed.
    w.h.clock.advance(time::Duration::seconds(3590 + 60));
    let res = sign_in_google(&w.h, &token, "n").await.unwrap();
    assert!(!res.created, "still valid at exp + leeway");
    w.h.clock.advance(time::Duration::seconds(1));
    assert_refused(
        sign_in_google(&w.h, &token, "n").await,
        Code::Unauthenticated,
        "ID_TOKEN_EXPIRED",
        "past exp + leeway",
    );
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.stop().await;
}

#[tokio::test]
async fn providers_that_are_not_configured_are_failed_precondition() {
    let key = TestKey::rsa("k1");
    let google = Provider::start(&[&key], None).await;
    let url = google.url.clone();
    // Only Google is set up.
    let h = start_at(before_now(), |s| {
        s.google_client_ids = vec![GOOGLE_CLIENT.into()];
        s.google_jwks_url = Some(url);
    })
    .await;
    let now = h.clock.now().unix_timestamp();
    let fb = key.mint(&oidc::facebook_claims(FACEBOOK_APP, "fb-1", None, "n", now));
    let err = id_token_sign_in(&h, pb::Provider::Facebook, &fb, "n")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "PROVIDER_NOT_CONFIGURED");
    let err = sign_in_telegram(&h, telegram_payload(BOT_TOKEN, now - 5))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "PROVIDER_NOT_CONFIGURED");
    assert_eq!(counts(&h).await, (0, 0));
    // The configured one works.
    let token = key.mint(&oidc::google_claims(GOOGLE_CLIENT, "g-1", None, "n", now));
    assert!(sign_in_google(&h, &token, "n").await.unwrap().created);
    h.stop().await;
}

#[tokio::test]
async fn provider_keys_that_cannot_be_fetched_make_sign_in_unavailable() {
    let w = world().await;
    w.google.set_failing(true);
    let token = w.google_token("g-9", None, "n");
    let err = sign_in_google(&w.h, &token, "n").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(counts(&w.h).await, (0, 0));
    assert_eq!(w.google.hits(), 1);

    // Back up: the next fetch waits for the refetch interval (30 s) of auth's clock, so a
    // flood of sign-ins against a failing provider costs it one request per interval.
    w.google.set_failing(false);
    let err = sign_in_google(&w.h, &token, "n").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(w.google.hits(), 1);
    w.h.clock.advance(time::Duration::seconds(30));
    let res = sign_in_google(&w.h, &token, "n").await.unwrap();
    assert!(res.created);
    assert_eq!(w.google.hits(), 2);

    // Down again after the cache expired (max-age 3600): the last key set still serves.
    w.google.set_failing(true);
    w.h.clock.advance(time::Duration::seconds(3601));
    let token = w.google_token("g-9", None, "n2");
    let res = sign_in_google(&w.h, &token, "n2").await.unwrap();
    assert!(!res.created);
    assert_eq!(w.google.hits(), 3, "a refetch was tried");
    w.h.stop().await;
}
