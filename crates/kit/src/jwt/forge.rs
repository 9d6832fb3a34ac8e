//! Test support: the shared matrix of forged access tokens.
//!
//! [`forgeries`] builds every token a Stride verifier must refuse — `alg: none`, HMAC algorithm
//! confusion, unknown or mismatched keys, key material or key URLs in the header, wrong
//! `iss`/`aud`/`typ`, bad times, bad subjects, tampering and garbage — and [`valid`] builds the
//! control token that must pass. The kit's verifier, the gateway and auth all run the same list,
//! so a gap found once is closed (and proven) everywhere.
//!
//! Always compiled (small, no extra dependencies) so every crate's tests can use it; nothing in a
//! request path calls it. Tokens are assembled by hand (base64url JSON header and payload, then
//! an Ed25519 or HMAC signature) because `jsonwebtoken` refuses to produce most of them.
//!
//! Every string is printable ASCII, so it fits in an `authorization: Bearer <token>` header.
//! Times are checked against the wall clock by the verifier: pass the current unix time.

use aws_lc_rs::{hmac, signature::Ed25519KeyPair};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{SigningKey, access_claims};
use crate::authn::ACCESS_TOKEN_TYPE;

/// Session id put in forged and control tokens.
pub const SESSION: &str = "forge-session";

/// How a forged token is signed.
enum Sig<'a> {
    /// No signature at all (`header.payload.`).
    Unsigned,
    Ed25519(&'a SigningKey),
    Hmac(hmac::Algorithm, &'a [u8]),
}

fn b64_json(v: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON map serializes"))
}

fn sign_input(input: &str, sig: &Sig<'_>) -> String {
    match sig {
        Sig::Unsigned => String::new(),
        Sig::Ed25519(key) => {
            let pair = Ed25519KeyPair::from_pkcs8(&key.pkcs8).expect("signing key is valid PKCS#8");
            URL_SAFE_NO_PAD.encode(pair.sign(input.as_bytes()).as_ref())
        }
        Sig::Hmac(alg, secret) => {
            let k = hmac::Key::new(*alg, secret);
            URL_SAFE_NO_PAD.encode(hmac::sign(&k, input.as_bytes()).as_ref())
        }
    }
}

/// `base64url(header).base64url(payload).signature` over exactly those encoded parts.
fn jws(header: &Map<String, Value>, payload: &Map<String, Value>, sig: &Sig<'_>) -> String {
    let input = format!("{}.{}", b64_json(header), b64_json(payload));
    let s = sign_input(&input, sig);
    format!("{input}.{s}")
}

/// The header auth writes: `alg` EdDSA, `typ` at+jwt, the key's `kid`.
fn header(kid: &str) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("alg".into(), json!("EdDSA"));
    h.insert("typ".into(), json!(ACCESS_TOKEN_TYPE));
    h.insert("kid".into(), json!(kid));
    h
}

/// The claims auth writes for `user`, valid for 15 minutes from `now`.
fn claims(user: Uuid, now: i64) -> Map<String, Value> {
    let c = access_claims(user, SESSION, vec!["user".into()], false, now, 900);
    match serde_json::to_value(c).expect("claims serialize") {
        Value::Object(m) => m,
        _ => unreachable!("claims serialize to an object"),
    }
}

fn with(mut m: Map<String, Value>, key: &str, v: Value) -> Map<String, Value> {
    m.insert(key.into(), v);
    m
}

fn without(mut m: Map<String, Value>, key: &str) -> Map<String, Value> {
    m.remove(key);
    m
}

/// The control: a token exactly as auth issues it, signed by `key`. It must be accepted.
pub fn valid(key: &SigningKey, user: Uuid, now_unix: i64) -> String {
    jws(
        &header(&key.kid),
        &claims(user, now_unix),
        &Sig::Ed25519(key),
    )
}

/// Ed25519 SubjectPublicKeyInfo DER (RFC 8410) of a raw public key.
fn spki_der(public: &[u8]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(public);
    der
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

fn jwk_json(key: &SigningKey) -> Value {
    let j = key.jwk();
    json!({"kty": j.kty, "crv": j.crv, "x": j.x, "kid": j.kid, "alg": j.alg, "use": j.r#use})
}

/// Every forged token for `user`, each with a short name saying what is wrong with it. `key` is
/// the real signing key (the one the verifier's key set holds): many forgeries are signed with it
/// so that only the rule under test can reject them.
///
/// Deliberately absent: `iat` in the future with `nbf` now. Only `key`'s holder can sign such a
/// token, and `iat` is informational (RFC 7519 §4.1.6); `nbf` and `exp` bound validity.
///
/// # Panics
/// If `key` is not a valid Ed25519 PKCS#8 document, or a fresh attacker key cannot be generated.
pub fn forgeries(key: &SigningKey, user: Uuid, now_unix: i64) -> Vec<(&'static str, String)> {
    let now = now_unix;
    let attacker = SigningKey::generate().expect("attacker key");
    // The attacker's key presented under the real kid.
    let impostor = SigningKey {
        kid: key.kid.clone(),
        ..SigningKey::generate().expect("attacker key")
    };
    let real = Sig::Ed25519(key);
    let h = || header(&key.kid);
    let c = || claims(user, now);
    let good = valid(key, user, now);
    let (good_h, good_p, good_s) = {
        let mut parts = good.splitn(3, '.');
        let mut next = || parts.next().unwrap_or_default().to_owned();
        (next(), next(), next())
    };
    let jwk_x = key.jwk().x;
    let spki = spki_der(&key.public);
    let attacker_url = "https://attacker.example/jwks.json";
    // Not a real certificate: a verifier must refuse the header before looking inside it.
    let fake_cert = base64::engine::general_purpose::STANDARD.encode(spki_der(&attacker.public));
    let expired = with(
        with(
            with(c(), "iat", json!(now - 1020)),
            "nbf",
            json!(now - 1020),
        ),
        "exp",
        json!(now - 120),
    );

    let hs = |alg: &str, mac: hmac::Algorithm, secret: &[u8]| {
        jws(&with(h(), "alg", json!(alg)), &c(), &Sig::Hmac(mac, secret))
    };
    let real_with = |field: &str, v: Value| jws(&with(h(), field, v), &c(), &real);
    let claim = |payload: Map<String, Value>| jws(&h(), &payload, &real);

    vec![
        // --- alg none ---
        (
            "alg none, unsigned",
            jws(&with(h(), "alg", json!("none")), &c(), &Sig::Unsigned),
        ),
        (
            "alg None, unsigned",
            jws(&with(h(), "alg", json!("None")), &c(), &Sig::Unsigned),
        ),
        (
            "alg NONE, unsigned",
            jws(&with(h(), "alg", json!("NONE")), &c(), &Sig::Unsigned),
        ),
        (
            "alg none, bare header, unsigned",
            format!("{}.{good_p}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#)),
        ),
        (
            "alg none with a real EdDSA signature",
            real_with("alg", json!("none")),
        ),
        ("alg missing", jws(&without(h(), "alg"), &c(), &real)),
        // --- HMAC algorithm confusion: the public key used as a shared secret ---
        (
            "HS256 keyed with the raw public key",
            hs("HS256", hmac::HMAC_SHA256, &key.public),
        ),
        (
            "HS256 keyed with the JWK x string",
            hs("HS256", hmac::HMAC_SHA256, jwk_x.as_bytes()),
        ),
        (
            "HS256 keyed with the public key DER",
            hs("HS256", hmac::HMAC_SHA256, &spki),
        ),
        (
            "HS256 keyed with the public key PEM",
            hs("HS256", hmac::HMAC_SHA256, pem(&spki).as_bytes()),
        ),
        (
            "HS384 keyed with the raw public key",
            hs("HS384", hmac::HMAC_SHA384, &key.public),
        ),
        (
            "HS512 keyed with the raw public key",
            hs("HS512", hmac::HMAC_SHA512, &key.public),
        ),
        // --- whose key ---
        (
            "unknown kid (another key, its own random kid)",
            jws(&header(&attacker.kid), &c(), &Sig::Ed25519(&attacker)),
        ),
        (
            "real kid, signed by another key",
            jws(&h(), &c(), &Sig::Ed25519(&impostor)),
        ),
        ("kid missing", jws(&without(h(), "kid"), &c(), &real)),
        ("kid empty", real_with("kid", json!(""))),
        // --- key material or key locations in the header ---
        (
            "jwk header: attacker's key and kid, attacker-signed",
            jws(
                &with(header(&attacker.kid), "jwk", jwk_json(&attacker)),
                &c(),
                &Sig::Ed25519(&attacker),
            ),
        ),
        (
            "jwk header: attacker's key under the real kid, attacker-signed",
            jws(
                &with(h(), "jwk", jwk_json(&impostor)),
                &c(),
                &Sig::Ed25519(&impostor),
            ),
        ),
        (
            "jwk header naming the real key, real signature",
            real_with("jwk", jwk_json(key)),
        ),
        (
            "jku header to an attacker URL, attacker-signed",
            jws(
                &with(header(&attacker.kid), "jku", json!(attacker_url)),
                &c(),
                &Sig::Ed25519(&attacker),
            ),
        ),
        (
            "jku header to an attacker URL, real signature",
            real_with("jku", json!(attacker_url)),
        ),
        (
            "x5u header to an attacker URL, attacker-signed",
            jws(
                &with(header(&attacker.kid), "x5u", json!(attacker_url)),
                &c(),
                &Sig::Ed25519(&attacker),
            ),
        ),
        (
            "x5u header to an attacker URL, real signature",
            real_with("x5u", json!(attacker_url)),
        ),
        (
            "x5c header with an attacker chain, attacker-signed",
            jws(
                &with(header(&attacker.kid), "x5c", json!([fake_cert])),
                &c(),
                &Sig::Ed25519(&attacker),
            ),
        ),
        (
            "x5c header, real signature",
            real_with("x5c", json!([fake_cert])),
        ),
        (
            "x5t header, real signature",
            real_with("x5t", json!(URL_SAFE_NO_PAD.encode([7u8; 20]))),
        ),
        (
            "x5t#S256 header, real signature",
            real_with("x5t#S256", json!(URL_SAFE_NO_PAD.encode([7u8; 32]))),
        ),
        (
            "crit header naming an unknown extension, real signature",
            jws(
                &with(
                    with(h(), "crit", json!(["x-stride"])),
                    "x-stride",
                    json!(true),
                ),
                &c(),
                &real,
            ),
        ),
        // --- type ---
        ("typ JWT", real_with("typ", json!("JWT"))),
        ("typ missing", jws(&without(h(), "typ"), &c(), &real)),
        ("typ id_token+jwt", real_with("typ", json!("id_token+jwt"))),
        // --- issuer and audience ---
        (
            "iss wrong",
            claim(with(c(), "iss", json!("https://attacker.example"))),
        ),
        ("iss missing", claim(without(c(), "iss"))),
        ("aud wrong", claim(with(c(), "aud", json!("someone-else")))),
        ("aud missing", claim(without(c(), "aud"))),
        (
            "aud a list without stride",
            claim(with(c(), "aud", json!(["someone-else"]))),
        ),
        // --- time ---
        ("expired (120 s ago, beyond leeway)", claim(expired)),
        ("exp missing", claim(without(c(), "exp"))),
        (
            "exp not a number",
            claim(with(c(), "exp", json!((now + 900).to_string()))),
        ),
        (
            "nbf in the future (10 min)",
            claim(with(c(), "nbf", json!(now + 600))),
        ),
        ("nbf missing", claim(without(c(), "nbf"))),
        ("iat missing", claim(without(c(), "iat"))),
        // --- subject ---
        ("sub missing", claim(without(c(), "sub"))),
        ("sub not a UUID", claim(with(c(), "sub", json!("admin")))),
        ("sub empty", claim(with(c(), "sub", json!("")))),
        // --- tampering ---
        (
            "payload swapped for another user's, original signature",
            format!(
                "{good_h}.{}.{good_s}",
                b64_json(&claims(Uuid::now_v7(), now))
            ),
        ),
        (
            "payload with an admin role, original signature",
            format!(
                "{good_h}.{}.{good_s}",
                b64_json(&with(c(), "roles", json!(["user", "admin"])))
            ),
        ),
        (
            "header changed, original signature",
            format!(
                "{}.{good_p}.{good_s}",
                b64_json(&with(h(), "cty", json!("JWT")))
            ),
        ),
        (
            "signature truncated",
            format!("{good_h}.{good_p}.{}", &good_s[..good_s.len() - 8]),
        ),
        ("signature removed", format!("{good_h}.{good_p}.")),
        ("signature of another token", {
            let other = valid(key, Uuid::now_v7(), now);
            format!(
                "{good_h}.{good_p}.{}",
                other.rsplit('.').next().unwrap_or_default()
            )
        }),
        ("signature bit-flipped", {
            let mut sig = URL_SAFE_NO_PAD
                .decode(&good_s)
                .expect("own signature decodes");
            sig[0] ^= 1;
            format!("{good_h}.{good_p}.{}", URL_SAFE_NO_PAD.encode(sig))
        }),
        (
            "signature not base64url",
            format!("{good_h}.{good_p}.{}", "*".repeat(86)),
        ),
        ("payload not JSON, real signature", {
            let input = format!("{good_h}.{}", URL_SAFE_NO_PAD.encode(b"hello"));
            let s = sign_input(&input, &real);
            format!("{input}.{s}")
        }),
        ("header not JSON, real signature", {
            let input = format!("{}.{good_p}", URL_SAFE_NO_PAD.encode(b"hello"));
            let s = sign_input(&input, &real);
            format!("{input}.{s}")
        }),
        // --- garbage ---
        ("two segments", format!("{good_h}.{good_p}")),
        ("four segments", format!("{good}.{good_s}")),
        ("empty", String::new()),
        ("one word", "not-a-token".into()),
        ("dots only", "..".into()),
        ("a.b.c", "a.b.c".into()),
        ("not base64url", "!!!.???.***".into()),
        ("raw JSON", r#"{"alg":"none"}.{"sub":"x"}."#.into()),
        ("the JWK itself", key.jwk().x),
    ]
}

#[cfg(test)]
mod tests {
    use std::{
        collections::HashSet,
        sync::{
            Arc, RwLock,
            atomic::{AtomicUsize, Ordering},
        },
    };

    use stride_proto::ai_coach::{
        GetRecommendationRequest, GetRecommendationResponse,
        ai_coach_service_client::AiCoachServiceClient,
        ai_coach_service_server::{AiCoachService, AiCoachServiceServer},
    };
    use tonic::{Code, Request, Response, Status, service::Routes};

    use super::*;
    use crate::{
        Caller, Verifier,
        authn::TokenError,
        jwt::StaticJwks,
        serve::{ServeConfig, spawn},
    };

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    /// A verifier whose key set holds only `key`, as every service's does.
    fn verifier(key: &SigningKey) -> Arc<Verifier> {
        Verifier::new(Arc::new(StaticJwks(Arc::new(RwLock::new(vec![key.jwk()])))))
    }

    #[test]
    fn forgeries_have_distinct_names_and_tokens_and_fit_in_a_header() {
        let key = SigningKey::generate().unwrap();
        let list = forgeries(&key, Uuid::now_v7(), now());
        let names: HashSet<_> = list.iter().map(|(n, _)| *n).collect();
        let tokens: HashSet<_> = list.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(names.len(), list.len(), "duplicate names");
        assert_eq!(tokens.len(), list.len(), "duplicate tokens");
        for (name, token) in &list {
            assert!(
                http::HeaderValue::from_str(&format!("Bearer {token}")).is_ok(),
                "{name} is not a valid header value"
            );
        }
    }

    #[tokio::test]
    async fn the_verifier_accepts_the_control_and_refuses_every_forgery() {
        let key = SigningKey::generate().unwrap();
        let verifier = verifier(&key);
        let user = Uuid::now_v7();
        let control = valid(&key, user, now());
        let caller = verifier
            .caller(Some(&format!("Bearer {control}")))
            .await
            .expect("the control token is accepted");
        assert_eq!(caller.user_id, user);
        assert_eq!(caller.session_id, SESSION);
        // The hand-built control is what auth's own signer produces.
        let claims = verifier.verify(&control).await.unwrap();
        assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str()),
            (crate::authn::ISSUER, crate::authn::AUDIENCE)
        );

        let mut accepted = Vec::new();
        for (name, token) in forgeries(&key, user, now()) {
            match verifier.caller(Some(&format!("Bearer {token}"))).await {
                Ok(c) => accepted.push(format!("{name}: accepted as {}", c.user_id)),
                Err(
                    TokenError::Invalid
                    | TokenError::Expired
                    | TokenError::UnknownKey
                    | TokenError::Malformed,
                ) => {}
                Err(e) => accepted.push(format!("{name}: unexpected {e:?}")),
            }
        }
        assert!(accepted.is_empty(), "forgeries not refused: {accepted:#?}");
    }

    /// Header rules are proven in isolation: the same token without the offending header field
    /// (and signed by the real key) passes, so only that rule refused it.
    #[tokio::test]
    async fn header_key_rules_refuse_tokens_the_signature_alone_would_accept() {
        let key = SigningKey::generate().unwrap();
        let verifier = verifier(&key);
        let user = Uuid::now_v7();
        let c = claims(user, now());
        for (field, value) in [
            ("jwk", jwk_json(&key)),
            ("jku", json!("https://attacker.example/jwks.json")),
            ("x5u", json!("https://attacker.example/cert.pem")),
            ("x5c", json!(["MIIB"])),
            ("x5t", json!("AAAA")),
            ("x5t#S256", json!("AAAA")),
            ("crit", json!(["exp"])),
        ] {
            let token = jws(
                &with(header(&key.kid), field, value),
                &c,
                &Sig::Ed25519(&key),
            );
            assert!(
                matches!(verifier.verify(&token).await, Err(TokenError::Invalid)),
                "{field} in the header is refused"
            );
        }
        let plain = jws(&header(&key.kid), &c, &Sig::Ed25519(&key));
        assert!(verifier.verify(&plain).await.is_ok());
    }

    /// The smallest Stride service: one authenticated method that answers with the caller.
    #[derive(Clone, Default)]
    struct Coach {
        calls: Arc<AtomicUsize>,
    }

    #[tonic::async_trait]
    impl AiCoachService for Coach {
        async fn get_recommendation(
            &self,
            req: Request<GetRecommendationRequest>,
        ) -> Result<Response<GetRecommendationResponse>, Status> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let caller = Caller::of(&req)?;
            Ok(Response::new(GetRecommendationResponse {
                text: caller.user_id.to_string(),
                ..Default::default()
            }))
        }
    }

    fn authed(token: &str) -> Request<GetRecommendationRequest> {
        let mut req = Request::new(GetRecommendationRequest {
            goal: "forge".into(),
        });
        req.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
        req
    }

    #[tokio::test]
    async fn a_service_behind_the_kit_answers_unauthenticated_to_every_forgery() {
        crate::install_crypto_provider();
        let key = SigningKey::generate().unwrap();
        let coach = Coach::default();
        let running = spawn(
            ServeConfig {
                service: "forge-test",
                grpc_addr: "127.0.0.1:0".parse().unwrap(),
                http_addr: "127.0.0.1:0".parse().unwrap(),
                service_names: vec!["stride.ai_coach.v1.AiCoachService".into()],
                verifier: verifier(&key),
                admission: crate::shed::Config::fixed(64),
                http_routes: axum::Router::new(),
            },
            Routes::new(AiCoachServiceServer::new(coach.clone())),
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
        let mut client = AiCoachServiceClient::connect(format!("http://{}", running.grpc_addr))
            .await
            .unwrap();
        let user = Uuid::now_v7();

        let mut wrong = Vec::new();
        for (name, token) in forgeries(&key, user, now()) {
            match client.get_recommendation(authed(&token)).await {
                Err(s) if s.code() == Code::Unauthenticated => {}
                other => wrong.push(format!("{name}: {other:?}")),
            }
        }
        assert!(wrong.is_empty(), "forgeries not refused: {wrong:#?}");
        assert_eq!(
            coach.calls.load(Ordering::SeqCst),
            0,
            "no forgery reached the handler"
        );

        let res = client
            .get_recommendation(authed(&valid(&key, user, now())))
            .await
            .expect("the control token is accepted");
        assert_eq!(res.into_inner().text, user.to_string());
        assert_eq!(coach.calls.load(Ordering::SeqCst), 1);
        running.stop().await.unwrap();
    }
}
