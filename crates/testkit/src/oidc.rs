//! A stand-in OpenID Connect provider for tests: generated RSA / EC P-256 keys, a JWKS endpoint
//! over real HTTP (axum on 127.0.0.1:0, with `Cache-Control` like Google's) that counts requests
//! and can be made to fail, and ID-token minting (RS256/ES256 with `kid`) with jsonwebtoken.
//!
//! A client's raw nonce goes to the provider as lowercase hex SHA-256 ([`hashed_nonce`]); the
//! claim helpers put it into `nonce` the same way, so the raw nonce is what a test hands to the
//! service under test.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const CLIENT_ID: &str = "stride-web.apps.example";
pub const GOOGLE_ISS: &str = "https://accounts.google.com";
pub const FACEBOOK_ISS: &str = "https://www.facebook.com";
pub const RAW_NONCE: &str = "n-0S6_WzA2Mj";
/// A fixed "now" so the tests control time completely (2027-01-15).
pub const T0: i64 = 1_800_000_000;

pub fn at(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap())
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hashed_nonce(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))
}

/// A signing key of the stand-in provider.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// The public key as the provider publishes it in DER (X.509 SubjectPublicKeyInfo for RSA).
    pub public_der: Vec<u8>,
}

impl TestKey {
    /// RSA 2048. aws-lc-rs exports the private key only as PKCS#8, while jsonwebtoken's
    /// `EncodingKey::from_rsa_der` hands its bytes to `RsaKeyPair::from_der`, which wants the
    /// PKCS#1 `RSAPrivateKey`: that is the OCTET STRING inside the PKCS#8 `PrivateKeyInfo`.
    pub fn rsa(kid: &str) -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = pair.as_der().unwrap();
        let pkcs1 = pkcs1_from_pkcs8(pkcs8.as_ref());
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let public_der = public.as_der().unwrap().as_ref().to_vec();
        Self {
            kid: kid.into(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(&pkcs1),
            jwk: json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&n), "e": b64(&e) }),
            public_der,
        }
    }

    /// EC P-256; jsonwebtoken takes EC private keys as PKCS#8.
    pub fn ec(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let pkcs8 = pair.to_pkcs8v1().unwrap();
        let point = pair.public_key().as_ref().to_vec(); // 0x04 || x || y
        assert_eq!(point.len(), 65);
        Self {
            kid: kid.into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({ "kty": "EC", "kid": kid, "use": "sig", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]) }),
            public_der: point,
        }
    }

    pub fn mint(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// Signs `header.claims` exactly as given (for headers jsonwebtoken would not produce).
pub fn sign_raw(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(claims).unwrap())
    );
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{signature}")
}

/// Minimal DER walk: PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE,
/// privateKey OCTET STRING (the PKCS#1 RSAPrivateKey), ... }.
fn pkcs1_from_pkcs8(der: &[u8]) -> Vec<u8> {
    fn tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = input[0];
        let (len, header) = match input[1] {
            short if short < 0x80 => (usize::from(short), 2),
            long => {
                let count = usize::from(long & 0x7f);
                let len = input[2..2 + count]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
                (len, 2 + count)
            }
        };
        (tag, &input[header..header + len], &input[header + len..])
    }
    let (tag, info, _) = tlv(der);
    assert_eq!(tag, 0x30);
    let (tag, _version, rest) = tlv(info);
    assert_eq!(tag, 0x02);
    let (tag, _algorithm, rest) = tlv(rest);
    assert_eq!(tag, 0x30);
    let (tag, private_key, _) = tlv(rest);
    assert_eq!(tag, 0x04);
    private_key.to_vec()
}

/// Claims of a valid Google ID token at `now` for [`CLIENT_ID`] and [`RAW_NONCE`].
pub fn claims(now: i64) -> Value {
    google_claims(
        CLIENT_ID,
        "110169484474386276334",
        Some(("ann@example.com", true)),
        RAW_NONCE,
        now,
    )
}

/// A Google ID token's claims as Google issues them: issued 10 s before `now`, valid for an hour,
/// `azp` = `aud` = `client_id`, `nonce` = hex SHA-256(`raw_nonce`). `email` is the address and
/// its `email_verified` flag; `None` leaves both out (no email scope).
pub fn google_claims(
    client_id: &str,
    subject: &str,
    email: Option<(&str, bool)>,
    raw_nonce: &str,
    now: i64,
) -> Value {
    let mut claims = json!({
        "iss": GOOGLE_ISS,
        "azp": client_id,
        "aud": client_id,
        "sub": subject,
        "name": "Ann Lee",
        "iat": now - 10,
        "exp": now + 3590,
        "nonce": hashed_nonce(raw_nonce),
    });
    if let Some((address, verified)) = email {
        claims["email"] = json!(address);
        claims["email_verified"] = json!(verified);
    }
    claims
}

/// A Facebook Limited Login ID token's claims (Facebook sends no `email_verified`).
pub fn facebook_claims(
    app_id: &str,
    subject: &str,
    email: Option<&str>,
    raw_nonce: &str,
    now: i64,
) -> Value {
    let mut claims = json!({
        "iss": FACEBOOK_ISS,
        "aud": app_id,
        "sub": subject,
        "name": "Ann Lee",
        "iat": now - 10,
        "exp": now + 3590,
        "jti": format!("jti-{subject}-{now}"),
        "nonce": hashed_nonce(raw_nonce),
    });
    if let Some(address) = email {
        claims["email"] = json!(address);
    }
    claims
}

/// `claims` with `key` set to `value`.
pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// `claims` without `key`.
pub fn without(mut claims: Value, key: &str) -> Value {
    if let Some(map) = claims.as_object_mut() {
        map.remove(key);
    }
    claims
}

/// An unsigned token (`alg: none`, empty signature) naming `kid`: what a forger sends.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "none", "kid": kid, "typ": "JWT"});
    format!(
        "{}.{}.",
        b64(&serde_json::to_vec(&header).expect("json")),
        b64(&serde_json::to_vec(claims).expect("json"))
    )
}

struct Shared {
    jwks: Mutex<Value>,
    cache_control: Mutex<Option<String>>,
    /// Answer 503 instead of the key set.
    failing: AtomicBool,
    /// Answer with this raw body instead of the key set.
    body_override: Mutex<Option<Vec<u8>>>,
    delay: Mutex<Duration>,
    hits: AtomicUsize,
}

/// The JWKS endpoint. Dropping it stops the server.
pub struct Provider {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.hits.fetch_add(1, Ordering::SeqCst);
    let delay = *shared.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if shared.failing.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let body = shared
        .body_override
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| serde_json::to_vec(&*shared.jwks.lock().unwrap()).unwrap());
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Some(cc) = shared.cache_control.lock().unwrap().clone() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, cc.parse().unwrap());
    }
    response
}

impl Provider {
    /// Serves `keys` with Google's style of `Cache-Control` (max-age as given).
    pub async fn start(keys: &[&TestKey], max_age: Option<u64>) -> Self {
        let shared = Arc::new(Shared {
            jwks: Mutex::new(Value::Null),
            cache_control: Mutex::new(
                max_age.map(|s| format!("public, max-age={s}, must-revalidate, no-transform")),
            ),
            failing: AtomicBool::new(false),
            body_override: Mutex::new(None),
            delay: Mutex::new(Duration::ZERO),
            hits: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/oauth2/v3/certs", axum::routing::get(serve_jwks))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let provider = Self {
            url: format!("http://{addr}/oauth2/v3/certs"),
            shared,
            task,
        };
        provider.set_keys(keys);
        provider
    }

    pub fn set_keys(&self, keys: &[&TestKey]) {
        let jwks: Vec<Value> = keys.iter().map(|k| k.jwk.clone()).collect();
        *self.shared.jwks.lock().unwrap() = json!({ "keys": jwks });
    }

    pub fn set_jwks(&self, jwks: Value) {
        *self.shared.jwks.lock().unwrap() = jwks;
    }

    pub fn set_failing(&self, failing: bool) {
        self.shared.failing.store(failing, Ordering::SeqCst);
    }

    pub fn set_body(&self, body: Option<Vec<u8>>) {
        *self.shared.body_override.lock().unwrap() = body;
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }

    pub fn hits(&self) -> usize {
        self.shared.hits.load(Ordering::SeqCst)
    }
}
