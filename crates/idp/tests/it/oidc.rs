//! OIDC ID tokens against the stand-in provider.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use stride_idp::{IdpError, OidcConfig, OidcProvider, reason};

use crate::provider::{
    CLIENT_ID, Provider, RAW_NONCE, T0, TestKey, at, b64, claims, hashed_nonce, sign_raw,
};

fn google(provider: &Provider) -> OidcProvider {
    OidcProvider::new(
        OidcConfig::google(vec![CLIENT_ID.into()]).with_jwks_url(provider.url.clone()),
    )
    .unwrap()
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[track_caller]
fn assert_reason<T: std::fmt::Debug>(result: Result<T, IdpError>, want: &str) {
    match result {
        Err(IdpError::InvalidToken { reason, detail }) => assert_eq!(reason, want, "{detail}"),
        other => panic!("expected {want}, got {other:?}"),
    }
}

#[tokio::test]
async fn valid_token_gives_identity() {
    let key = TestKey::rsa("k1");
    let provider = Provider::start(&[&key], Some(3600)).await;
    let idp = google(&provider);

    let identity = idp
        .verify(&key.mint(&claims(T0)), RAW_NONCE, at(T0))
        .await
        .unwrap();
    assert_eq!(identity.subject, "110169484474386276334");
    assert_eq!(identity.email.as_deref(), Some("ann@example.com"));
    assert!(identity.email_verified);
    assert_eq!(identity.name.as_deref(), Some("Ann Lee"));
    assert_eq!(provider.hits(), 1);

    // The bare-host issuer Google also uses, a string email_verified, and an audience array.
    let older = with(
        with(claims(T0), "iss", json!("accounts.google.com")),
        "email_verified",
        json!("true"),
    );
    let older = with(older, "aud", json!(["someone-else", CLIENT_ID]));
    let identity = idp
        .verify(&key.mint(&older), RAW_NONCE, at(T0))
        .await
        .unwrap();
    assert!(identity.email_verified);
    // Unverified email is reported as such.
    let unverified = with(claims(T0), "email_verified", json!(false));
    assert!(
        !idp.verify(&key.mint(&unverified), RAW_NONCE, at(T0))
            .await
            .unwrap()
            .email_verified
    );
}

#[tokio::test]
async fn es256_token_verifies() {
    let key = TestKey::ec("ec1");
    let provider = Provider::start(&[&key], None).await;
    let identity = google(&provider)
        .verify(&key.mint(&claims(T0)), RAW_NONCE, at(T0))
        .await
        .unwrap();
    assert_eq!(identity.subject, "110169484474386276334");
}

#[tokio::test]
async fn facebook_limited_login() {
    let key = TestKey::rsa("fb1");
    let provider = Provider::start(&[&key], None).await;
    let config =
        OidcConfig::facebook(vec!["1234567890".into()]).with_jwks_url(provider.url.clone());
    let idp = OidcProvider::new(config).unwrap();
    let fb = json!({
        "iss": "https://www.facebook.com", "aud": "1234567890", "sub": "10158", "iat": T0,
        "exp": T0 + 3600, "nonce": hashed_nonce(RAW_NONCE), "name": "Ann", "email": "ann@example.com",
    });
    let identity = idp.verify(&key.mint(&fb), RAW_NONCE, at(T0)).await.unwrap();
    assert_eq!(identity.subject, "10158");
    assert!(!identity.email_verified, "facebook sends no email_verified");
    // A Google token is not a Facebook token.
    let google_token = key.mint(&with(claims(T0), "aud", json!("1234567890")));
    assert_reason(
        idp.verify(&google_token, RAW_NONCE, at(T0)).await,
        reason::ID_TOKEN_ISSUER,
    );
}

#[tokio::test]
async fn claim_failures_have_their_reasons() {
    let key = TestKey::rsa("k1");
    let provider = Provider::start(&[&key], None).await;
    let idp = google(&provider);
    let cases = [
        (
            "wrong iss",
            with(claims(T0), "iss", json!("https://accounts.evil.example")),
            reason::ID_TOKEN_ISSUER,
        ),
        (
            "aud not ours",
            with(claims(T0), "aud", json!("another-app")),
            reason::ID_TOKEN_AUDIENCE,
        ),
        (
            "aud array not ours",
            with(claims(T0), "aud", json!(["a", "b"])),
            reason::ID_TOKEN_AUDIENCE,
        ),
        (
            "foreign azp on multi-aud",
            with(
                with(claims(T0), "aud", json!([CLIENT_ID, "b"])),
                "azp",
                json!("b"),
            ),
            reason::ID_TOKEN_AUDIENCE,
        ),
        (
            "expired",
            with(claims(T0), "exp", json!(T0 - 61)),
            reason::ID_TOKEN_EXPIRED,
        ),
        (
            "iat in future",
            with(claims(T0), "iat", json!(T0 + 61)),
            reason::ID_TOKEN_NOT_YET_VALID,
        ),
        (
            "nonce missing",
            without(claims(T0), "nonce"),
            reason::ID_TOKEN_NONCE,
        ),
        (
            "nonce wrong",
            with(claims(T0), "nonce", json!(hashed_nonce("other"))),
            reason::ID_TOKEN_NONCE,
        ),
        (
            "nonce not hashed",
            with(claims(T0), "nonce", json!(RAW_NONCE)),
            reason::ID_TOKEN_NONCE,
        ),
        (
            "nonce uppercase hex",
            with(
                claims(T0),
                "nonce",
                json!(hashed_nonce(RAW_NONCE).to_uppercase()),
            ),
            reason::ID_TOKEN_NONCE,
        ),
        (
            "sub empty",
            with(claims(T0), "sub", json!("")),
            reason::ID_TOKEN_MALFORMED,
        ),
        (
            "exp missing",
            without(claims(T0), "exp"),
            reason::ID_TOKEN_MALFORMED,
        ),
    ];
    for (name, claims, want) in cases {
        let result = idp.verify(&key.mint(&claims), RAW_NONCE, at(T0)).await;
        match result {
            Err(IdpError::InvalidToken { reason, .. }) => assert_eq!(reason, want, "{name}"),
            other => panic!("{name}: expected {want}, got {other:?}"),
        }
    }
    // Within the leeway both ways is fine.
    let edge = with(
        with(claims(T0), "exp", json!(T0 - 60)),
        "iat",
        json!(T0 + 60),
    );
    assert!(
        idp.verify(&key.mint(&edge), RAW_NONCE, at(T0))
            .await
            .is_ok()
    );
    // The caller must supply the raw nonce.
    assert_reason(
        idp.verify(&key.mint(&claims(T0)), "", at(T0)).await,
        reason::ID_TOKEN_NONCE,
    );
    assert_reason(
        idp.verify(&key.mint(&claims(T0)), "other", at(T0)).await,
        reason::ID_TOKEN_NONCE,
    );
    // One key-set fetch for all of it.
    assert_eq!(provider.hits(), 1);
}

#[tokio::test]
async fn forged_headers_are_rejected() {
    let key = TestKey::rsa("k1");
    let attacker = TestKey::rsa("evil");
    let provider = Provider::start(&[&key], None).await;
    let idp = google(&provider);
    let body = claims(T0);

    // alg none, unsigned.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"k1","typ":"JWT"}"#),
        b64(&serde_json::to_vec(&body).unwrap())
    );
    assert_reason(
        idp.verify(&none, RAW_NONCE, at(T0)).await,
        reason::ID_TOKEN_ALGORITHM,
    );
    let none_sig = format!("{none}c2ln");
    assert_reason(
        idp.verify(&none_sig, RAW_NONCE, at(T0)).await,
        reason::ID_TOKEN_ALGORITHM,
    );

    // HS256 "signed" with the provider's public key bytes (the classic key-confusion attack), in
    // every form an attacker might guess the verifier would use as the HMAC secret.
    let jwk_text = serde_json::to_vec(&key.jwk).unwrap();
    for secret in [key.public_der.as_slice(), jwk_text.as_slice()] {
        let hs = sign_raw(
            &json!({"alg": "HS256", "kid": "k1", "typ": "JWT"}),
            &body,
            &EncodingKey::from_secret(secret),
            Algorithm::HS256,
        );
        assert_reason(
            idp.verify(&hs, RAW_NONCE, at(T0)).await,
            reason::ID_TOKEN_ALGORITHM,
        );
    }

    // The attacker's own key embedded in the header, or pointed to.
    let mut attacker_jwk = attacker.jwk.clone();
    attacker_jwk["kid"] = json!("k1");
    for (param, value) in [
        ("jwk", attacker_jwk),
        ("jku", json!("https://evil.example/jwks")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("x5c", json!([b64(&attacker.public_der)])),
    ] {
        let mut header = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
        header[param] = value;
        let token = sign_raw(&header, &body, &attacker.encoding, Algorithm::RS256);
        assert_reason(
            idp.verify(&token, RAW_NONCE, at(T0)).await,
            reason::ID_TOKEN_ALGORITHM,
        );
    }

    // The attacker's key under the provider's kid: the signature fails.
    let impostor = sign_raw(
        &json!({"alg": "RS256", "kid": "k1"}),
        &body,
        &attacker.encoding,
        Algorithm::RS256,
    );
    assert_reason(
        idp.verify(&impostor, RAW_NONCE, at(T0)).await,
        reason::ID_TOKEN_SIGNATURE,
    );

    // ES256 claimed for an RSA key.
    let ec = TestKey::ec("whatever");
    let mismatched = sign_raw(
        &json!({"alg": "ES256", "kid": "k1"}),
        &body,
        &ec.encoding,
        Algorithm::ES256,
    );
    assert_reason(
        idp.verify(&mismatched, RAW_NONCE, at(T0)).await,
        reason::ID_TOKEN_ALGORITHM,
    );

    // No kid at all.
    let no_kid = sign_raw(
        &json!({"alg": "RS256"}),
        &body,
        &key.encoding,
        Algorithm::RS256,
    );
    assert_reason(
        idp.verify(&no_kid, RAW_NONCE, at(T0)).await,
        reason::ID_TOKEN_MALFORMED,
    );
}

#[tokio::test]
async fn tampered_payload_fails_signature() {
    let key = TestKey::rsa("k1");
    let provider = Provider::start(&[&key], None).await;
    let idp = google(&provider);
    let token = key.mint(&claims(T0));
    let parts: Vec<&str> = token.split('.').collect();
    let changed = b64(&serde_json::to_vec(&with(claims(T0), "sub", json!("1"))).unwrap());
    let tampered = format!("{}.{changed}.{}", parts[0], parts[2]);
    assert_reason(
        idp.verify(&tampered, RAW_NONCE, at(T0)).await,
        reason::ID_TOKEN_SIGNATURE,
    );
    // One flipped signature character, too.
    let mut sig = parts[2].to_owned();
    let flipped = if sig.ends_with('A') { 'B' } else { 'A' };
    sig.pop();
    sig.push(flipped);
    let bad_sig = format!("{}.{}.{sig}", parts[0], parts[1]);
    assert_reason(
        idp.verify(&bad_sig, RAW_NONCE, at(T0)).await,
        reason::ID_TOKEN_SIGNATURE,
    );
}

#[tokio::test]
async fn oversized_token_is_rejected_without_fetching() {
    let key = TestKey::rsa("k1");
    let provider = Provider::start(&[&key], None).await;
    let idp = google(&provider);
    let padded = with(claims(T0), "pad", json!("x".repeat(17 * 1024)));
    assert_reason(
        idp.verify(&key.mint(&padded), RAW_NONCE, at(T0)).await,
        reason::ID_TOKEN_MALFORMED,
    );
    assert_eq!(provider.hits(), 0);
}

#[tokio::test]
async fn unknown_and_removed_keys() {
    let old = TestKey::rsa("old");
    let new = TestKey::rsa("new");
    let stranger = TestKey::rsa("stranger");
    let provider = Provider::start(&[&old, &new], Some(600)).await;
    let idp = google(&provider);

    assert!(
        idp.verify(&old.mint(&claims(T0)), RAW_NONCE, at(T0))
            .await
            .is_ok()
    );
    // Unknown kid right after a fetch: no refetch (rate limit), unknown key.
    let r = idp
        .verify(&stranger.mint(&claims(T0 + 1)), RAW_NONCE, at(T0 + 1))
        .await;
    assert_reason(r, reason::ID_TOKEN_UNKNOWN_KEY);
    assert_eq!(provider.hits(), 1);
    // Later the refetch happens, and the kid is still unknown.
    let r = idp
        .verify(&stranger.mint(&claims(T0 + 40)), RAW_NONCE, at(T0 + 40))
        .await;
    assert_reason(r, reason::ID_TOKEN_UNKNOWN_KEY);
    assert_eq!(provider.hits(), 2);

    // The provider retires "old"; once our copy expires (max-age 600 from the fetch at T0+40)
    // its tokens stop verifying.
    provider.set_keys(&[&new]);
    let t = T0 + 40 + 601;
    assert_reason(
        idp.verify(&old.mint(&claims(t)), RAW_NONCE, at(t)).await,
        reason::ID_TOKEN_UNKNOWN_KEY,
    );
    assert_eq!(provider.hits(), 3);
    assert!(
        idp.verify(&new.mint(&claims(t)), RAW_NONCE, at(t))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 3);
}

#[tokio::test]
async fn key_rotation_refetches_once() {
    let k1 = TestKey::rsa("2026-a");
    let k2 = TestKey::rsa("2026-b");
    let provider = Provider::start(&[&k1], Some(86_400)).await;
    let idp = google(&provider);
    assert!(
        idp.verify(&k1.mint(&claims(T0)), RAW_NONCE, at(T0))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 1);

    // The provider publishes k2 and starts signing with it; our cache is still fresh.
    provider.set_keys(&[&k1, &k2]);
    let t = T0 + 31;
    let identity = idp
        .verify(&k2.mint(&claims(t)), RAW_NONCE, at(t))
        .await
        .unwrap();
    assert_eq!(identity.email.as_deref(), Some("ann@example.com"));
    assert_eq!(provider.hits(), 2, "one refetch for the new kid");
    // Both keys are now cached.
    assert!(
        idp.verify(&k2.mint(&claims(t + 1)), RAW_NONCE, at(t + 1))
            .await
            .is_ok()
    );
    assert!(
        idp.verify(&k1.mint(&claims(t + 1)), RAW_NONCE, at(t + 1))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 2);
}

fn random_kid_tokens(signer: &TestKey, count: usize, now: i64, tag: &str) -> Vec<String> {
    (0..count)
        .map(|i| {
            sign_raw(
                &json!({"alg": "RS256", "kid": format!("{tag}-{i}")}),
                &claims(now),
                &signer.encoding,
                Algorithm::RS256,
            )
        })
        .collect()
}

#[tokio::test]
async fn unknown_kid_flood_fetches_at_most_once_per_interval() {
    let key = TestKey::rsa("k1");
    let attacker = TestKey::rsa("evil");
    let provider = Provider::start(&[&key], Some(86_400)).await;
    // Slow answers make the concurrent callers really overlap.
    provider.set_delay(Duration::from_millis(100));
    let idp = google(&provider);
    assert!(
        idp.verify(&key.mint(&claims(T0)), RAW_NONCE, at(T0))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 1);

    let flood = |now: i64, tag: &'static str| {
        let idp = idp.clone();
        let tokens = random_kid_tokens(&attacker, 50, now, tag);
        async move {
            let results =
                futures::future::join_all(tokens.iter().map(|t| idp.verify(t, RAW_NONCE, at(now))))
                    .await;
            for r in results {
                assert_reason(r, reason::ID_TOKEN_UNKNOWN_KEY);
            }
        }
    };
    flood(T0 + 5, "a").await;
    assert_eq!(provider.hits(), 1, "within 30 s of the last fetch: none");
    flood(T0 + 31, "b").await;
    assert_eq!(provider.hits(), 2, "50 concurrent unknown kids: one fetch");
    flood(T0 + 45, "c").await;
    assert_eq!(provider.hits(), 2);
    flood(T0 + 61, "d").await;
    assert_eq!(provider.hits(), 3);
    // Genuine tokens keep working throughout.
    assert!(
        idp.verify(&key.mint(&claims(T0 + 62)), RAW_NONCE, at(T0 + 62))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 3);
}

#[tokio::test]
async fn min_refetch_interval_is_configurable() {
    let key = TestKey::rsa("k1");
    let attacker = TestKey::rsa("evil");
    let provider = Provider::start(&[&key], None).await;
    let config = OidcConfig {
        min_refetch_interval: Duration::from_secs(5),
        ..OidcConfig::google(vec![CLIENT_ID.into()]).with_jwks_url(provider.url.clone())
    };
    let idp = OidcProvider::new(config).unwrap();
    assert!(
        idp.verify(&key.mint(&claims(T0)), RAW_NONCE, at(T0))
            .await
            .is_ok()
    );
    for (i, token) in random_kid_tokens(&attacker, 3, T0, "x").iter().enumerate() {
        let now = T0 + 5 * (i as i64 + 1);
        assert_reason(
            idp.verify(token, RAW_NONCE, at(now)).await,
            reason::ID_TOKEN_UNKNOWN_KEY,
        );
    }
    assert_eq!(provider.hits(), 4);
}

#[tokio::test]
async fn concurrent_cold_callers_share_one_fetch() {
    let key = TestKey::rsa("k1");
    let provider = Provider::start(&[&key], None).await;
    provider.set_delay(Duration::from_millis(200));
    let idp = google(&provider);
    let token = key.mint(&claims(T0));
    let results =
        futures::future::join_all((0..20).map(|_| idp.verify(&token, RAW_NONCE, at(T0)))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(provider.hits(), 1);
}

#[tokio::test]
async fn cache_follows_max_age() {
    let key = TestKey::rsa("k1");
    let provider = Provider::start(&[&key], Some(900)).await;
    let idp = google(&provider);
    let verify_at = |t: i64| {
        let idp = idp.clone();
        let token = key.mint(&claims(t));
        async move { idp.verify(&token, RAW_NONCE, at(t)).await.unwrap() }
    };
    verify_at(T0).await;
    verify_at(T0 + 1).await;
    assert_eq!(provider.hits(), 1, "second verify is served from the cache");
    verify_at(T0 + 899).await;
    assert_eq!(provider.hits(), 1);
    verify_at(T0 + 900).await;
    assert_eq!(provider.hits(), 2, "refreshed when max-age ran out");
}

#[tokio::test]
async fn cache_ttl_default_and_clamp() {
    let key = TestKey::rsa("k1");
    // No Cache-Control: one hour.
    let provider = Provider::start(&[&key], None).await;
    let idp = google(&provider);
    for (t, hits) in [(T0, 1), (T0 + 3599, 1), (T0 + 3600, 2)] {
        idp.verify(&key.mint(&claims(t)), RAW_NONCE, at(t))
            .await
            .unwrap();
        assert_eq!(provider.hits(), hits, "at +{}", t - T0);
    }
    // max-age=10 is raised to five minutes.
    let provider = Provider::start(&[&key], Some(10)).await;
    let idp = google(&provider);
    for (t, hits) in [(T0, 1), (T0 + 11, 1), (T0 + 299, 1), (T0 + 300, 2)] {
        idp.verify(&key.mint(&claims(t)), RAW_NONCE, at(t))
            .await
            .unwrap();
        assert_eq!(provider.hits(), hits, "at +{}", t - T0);
    }
}

#[tokio::test]
async fn provider_down_with_warm_cache_still_verifies() {
    let key = TestKey::rsa("k1");
    let provider = Provider::start(&[&key], Some(3600)).await;
    let idp = google(&provider);
    assert!(
        idp.verify(&key.mint(&claims(T0)), RAW_NONCE, at(T0))
            .await
            .is_ok()
    );
    provider.set_failing(true);

    // Fresh cache: no request at all.
    assert!(
        idp.verify(&key.mint(&claims(T0 + 10)), RAW_NONCE, at(T0 + 10))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 1);
    // Expired: the refresh fails, the old set keeps serving.
    let t = T0 + 3601;
    assert!(
        idp.verify(&key.mint(&claims(t)), RAW_NONCE, at(t))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 2);
    // And the failing provider is not retried on every call.
    assert!(
        idp.verify(&key.mint(&claims(t + 10)), RAW_NONCE, at(t + 10))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 2);
    assert!(
        idp.verify(&key.mint(&claims(t + 30)), RAW_NONCE, at(t + 30))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 3);
    // A broken document (no usable keys) does not replace the good set either.
    provider.set_failing(false);
    provider.set_jwks(json!({"keys": []}));
    assert!(
        idp.verify(&key.mint(&claims(t + 60)), RAW_NONCE, at(t + 60))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 4);
    // Back to normal: the next allowed refresh succeeds and resets the expiry.
    provider.set_keys(&[&key]);
    assert!(
        idp.verify(&key.mint(&claims(t + 90)), RAW_NONCE, at(t + 90))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 5);
    assert!(
        idp.verify(&key.mint(&claims(t + 200)), RAW_NONCE, at(t + 200))
            .await
            .is_ok()
    );
    assert_eq!(provider.hits(), 5);
}

#[tokio::test]
async fn provider_down_with_cold_cache_is_unavailable() {
    let key = TestKey::rsa("k1");
    let provider = Provider::start(&[&key], None).await;
    provider.set_failing(true);
    let idp = google(&provider);
    let token = key.mint(&claims(T0));
    let err = idp.verify(&token, RAW_NONCE, at(T0)).await.unwrap_err();
    assert!(matches!(err, IdpError::KeysUnavailable(_)), "{err:?}");
    assert_eq!(err.reason(), reason::IDP_UNAVAILABLE);
    assert!(err.to_string().contains("503"), "{err}");
    // Retried only after the interval; then it recovers.
    provider.set_failing(false);
    assert!(matches!(
        idp.verify(&token, RAW_NONCE, at(T0 + 5)).await,
        Err(IdpError::KeysUnavailable(_))
    ));
    assert_eq!(provider.hits(), 1);
    assert!(idp.verify(&token, RAW_NONCE, at(T0 + 30)).await.is_ok());
    assert_eq!(provider.hits(), 2);
}

#[tokio::test]
async fn unreachable_or_bad_key_endpoints_are_unavailable() {
    let key = TestKey::rsa("k1");
    let token = key.mint(&claims(T0));
    // Nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/certs", closed.local_addr().unwrap());
    drop(closed);
    let idp =
        OidcProvider::new(OidcConfig::google(vec![CLIENT_ID.into()]).with_jwks_url(url)).unwrap();
    assert!(matches!(
        idp.verify(&token, RAW_NONCE, at(T0)).await,
        Err(IdpError::KeysUnavailable(_))
    ));

    let provider = Provider::start(&[&key], None).await;
    for body in [b"<html>oops</html>".to_vec(), vec![b' '; 300 * 1024]] {
        provider.set_body(Some(body));
        let err = google(&provider)
            .verify(&token, RAW_NONCE, at(T0))
            .await
            .unwrap_err();
        assert!(matches!(err, IdpError::KeysUnavailable(_)), "{err:?}");
    }
}
