//! OpenID Connect ID tokens from Google and Facebook Limited Login.
//!
//! A client signs in with the provider's SDK and hands us the ID token plus the raw nonce it
//! generated (it passed SHA-256(raw nonce), hex, to the provider). [`OidcProvider::verify`]
//! accepts the token only if all of these hold, in this order:
//!
//! 1. Size ≤ [`MAX_TOKEN_LEN`] and a compact JWS (three base64url parts).
//! 2. Header: `alg` in the allow-list (RS256, ES256) — so no `none` and no HMAC, which would let
//!    anyone "sign" with the public key; no `jwk`/`jku`/`x5u`/`x5c` (key material chosen by the
//!    token's author) and no `crit`; a `kid` that names a key in the provider's JWKS (fetched
//!    from the configured URL only; see the `jwks` module for caching and rate limits), whose
//!    type (and pinned `alg`, if any) fits the header's `alg`.
//! 3. The signature verifies with that key.
//! 4. Claims: `iss` is one of the provider's issuers; `aud` (string or array) contains one of
//!    our client ids, and on a multi-audience token a present `azp` is ours too (so a token
//!    minted for another app cannot be replayed at us); `exp` not passed and `iat`/`nbf` not in
//!    the future, both with the configured leeway; `sub` non-empty.
//! 5. Nonce: the token's `nonce` equals lowercase hex SHA-256(raw nonce), compared in constant
//!    time. This binds the token to the client's sign-in attempt, so a token leaked from another
//!    app or log cannot be replayed. A required nonce that is empty is rejected up front.
//!
//! Failures carry the reason codes in [`crate::reason`]; a provider whose keys cannot be
//! fetched (and none are cached) gives [`IdpError::KeysUnavailable`].

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{IdpError, reason};
use crate::jwks::{JwksCache, KeyType};

/// Largest ID token we look at; real ones are 1–2 KiB.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Default bound on key-set refetches (cold start, expiry, unknown `kid`).
pub const DEFAULT_MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
const MAX_SUBJECT_LEN: usize = 255;
const MAX_KID_LEN: usize = 256;
const MAX_RAW_NONCE_LEN: usize = 1024;

pub const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
pub const FACEBOOK_ISSUER: &str = "https://www.facebook.com";
pub const FACEBOOK_JWKS_URL: &str = "https://limited.facebook.com/.well-known/oauth/openid/jwks/";

/// What a provider is: its issuers, our client ids with it, where its keys are, and the policy.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// "google" or "facebook" (used in logs).
    pub name: &'static str,
    pub issuers: Vec<String>,
    /// Our OAuth client ids (web, iOS, Android...); the token's `aud` must name one.
    pub client_ids: Vec<String>,
    /// The provider's JWKS endpoint: https, or http only to a loopback address (tests).
    pub jwks_url: String,
    /// Clock skew tolerated on `exp`, `iat` and `nbf`.
    pub leeway: Duration,
    pub require_nonce: bool,
    /// At most one key-set fetch per this interval (rounded down to seconds).
    pub min_refetch_interval: Duration,
}

impl OidcConfig {
    fn new(name: &'static str, issuers: &[&str], client_ids: Vec<String>, jwks_url: &str) -> Self {
        Self {
            name,
            issuers: issuers.iter().map(|s| (*s).to_owned()).collect(),
            client_ids,
            jwks_url: jwks_url.to_owned(),
            leeway: Duration::from_secs(60),
            require_nonce: true,
            min_refetch_interval: DEFAULT_MIN_REFETCH_INTERVAL,
        }
    }

    /// Google Sign-In: issuers `https://accounts.google.com` and `accounts.google.com`.
    pub fn google(client_ids: Vec<String>) -> Self {
        Self::new("google", &GOOGLE_ISSUERS, client_ids, GOOGLE_JWKS_URL)
    }

    /// Facebook Limited Login (its OIDC token; classic access tokens are not accepted).
    pub fn facebook(client_ids: Vec<String>) -> Self {
        Self::new(
            "facebook",
            &[FACEBOOK_ISSUER],
            client_ids,
            FACEBOOK_JWKS_URL,
        )
    }

    /// Fetch keys from `url` instead of the provider's published endpoint.
    pub fn with_jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = url.into();
        self
    }
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    /// The provider's stable user id (`sub`); key accounts by (provider, subject), not email.
    pub subject: String,
    pub email: Option<String>,
    /// Only trust `email` for linking accounts when this is true.
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Verifies ID tokens of one provider. Cheap to clone; share one per provider so the key cache
/// is shared too.
#[derive(Clone)]
pub struct OidcProvider {
    inner: Arc<Inner>,
}

struct Inner {
    config: OidcConfig,
    keys: JwksCache,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The parts of a compact JWS we need after the header checks.
#[derive(Debug)]
struct ParsedToken<'a> {
    alg: Algorithm,
    kid: String,
    signing_input: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl OidcProvider {
    /// Checks the configuration and builds the HTTP client. No request is made until the first
    /// [`verify`](Self::verify).
    pub fn new(config: OidcConfig) -> Result<Self, IdpError> {
        let not_configured =
            |what: &str| IdpError::NotConfigured(format!("{}: {what}", config.name));
        if config.client_ids.iter().all(|id| id.trim().is_empty()) {
            return Err(not_configured("no client ids"));
        }
        if config.issuers.iter().all(|iss| iss.trim().is_empty()) {
            return Err(not_configured("no issuers"));
        }
        check_jwks_url(&config.jwks_url).map_err(|e| not_configured(&e))?;
        let keys = JwksCache::new(
            config.name,
            config.jwks_url.clone(),
            config.min_refetch_interval,
        )
        .map_err(|e| not_configured(&format!("{e:#}")))?;
        Ok(Self {
            inner: Arc::new(Inner { config, keys }),
        })
    }

    pub fn name(&self) -> &'static str {
        self.inner.config.name
    }

    pub fn config(&self) -> &OidcConfig {
        &self.inner.config
    }

    /// Verifies `id_token` as described in the module docs. `raw_nonce` is what the client
    /// generated (not the hash); `now` is the caller's clock, also used for the key cache.
    pub async fn verify(
        &self,
        id_token: &str,
        raw_nonce: &str,
        now: SystemTime,
    ) -> Result<OidcIdentity, IdpError> {
        let config = &self.inner.config;
        let now = unix_secs(now);
        if config.require_nonce && raw_nonce.is_empty() {
            return Err(IdpError::invalid(
                reason::ID_TOKEN_NONCE,
                "a nonce is required",
            ));
        }
        if raw_nonce.len() > MAX_RAW_NONCE_LEN {
            return Err(IdpError::invalid(reason::ID_TOKEN_NONCE, "nonce too long"));
        }
        let token = parse_token(id_token)?;
        let key = self.inner.keys.key(&token.kid, now).await?;

        let fits = matches!(
            (token.alg, key.key_type),
            (Algorithm::RS256, KeyType::Rsa) | (Algorithm::ES256, KeyType::EcP256)
        );
        let pinned_ok = key
            .alg
            .as_deref()
            .is_none_or(|alg| alg == alg_name(token.alg));
        if !fits || !pinned_ok {
            return Err(IdpError::invalid(
                reason::ID_TOKEN_ALGORITHM,
                format!("alg {} does not fit key {}", alg_name(token.alg), token.kid),
            ));
        }
        let verified = jsonwebtoken::crypto::verify(
            token.signature,
            token.signing_input.as_bytes(),
            &key.key,
            token.alg,
        )
        .unwrap_or(false);
        if !verified {
            return Err(IdpError::invalid(
                reason::ID_TOKEN_SIGNATURE,
                "signature does not verify",
            ));
        }

        let claims = decode_json_object(token.payload).ok_or_else(|| {
            IdpError::invalid(reason::ID_TOKEN_MALFORMED, "payload is not a JSON object")
        })?;
        check_claims(config, &claims, raw_nonce, now)
    }
}

fn check_jwks_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("bad keys URL {url:?}: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!("keys URL must be https: {url:?}")),
    }
}

fn unix_secs(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        _ => "other",
    }
}

fn malformed(detail: &str) -> IdpError {
    IdpError::invalid(reason::ID_TOKEN_MALFORMED, detail)
}

fn decode_json_object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Splits the token and checks its header (step 1 and 2 of the module docs, except the key).
fn parse_token(token: &str) -> Result<ParsedToken<'_>, IdpError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed("token too large"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("not a compact JWS"));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(malformed("empty header or payload"));
    }
    let header_json =
        decode_json_object(header).ok_or_else(|| malformed("header is not a JSON object"))?;
    let alg = match header_json.get("alg").and_then(Value::as_str) {
        Some("RS256") => Algorithm::RS256,
        Some("ES256") => Algorithm::ES256,
        Some(other) => {
            let shown: String = other.chars().take(16).collect();
            return Err(IdpError::invalid(
                reason::ID_TOKEN_ALGORITHM,
                format!("alg {shown:?} not allowed"),
            ));
        }
        None => return Err(IdpError::invalid(reason::ID_TOKEN_ALGORITHM, "no alg")),
    };
    for forbidden in ["jwk", "jku", "x5u", "x5c", "crit"] {
        if header_json.contains_key(forbidden) {
            return Err(IdpError::invalid(
                reason::ID_TOKEN_ALGORITHM,
                format!("header parameter {forbidden} not allowed"),
            ));
        }
    }
    let kid = match header_json.get("kid").and_then(Value::as_str) {
        Some(kid) if !kid.is_empty() && kid.len() <= MAX_KID_LEN => kid.to_owned(),
        _ => return Err(malformed("kid missing or invalid")),
    };
    if signature.is_empty() {
        return Err(IdpError::invalid(
            reason::ID_TOKEN_SIGNATURE,
            "no signature",
        ));
    }
    Ok(ParsedToken {
        alg,
        kid,
        signing_input: &token[..header.len() + 1 + payload.len()],
        payload,
        signature,
    })
}

fn number(value: Option<&Value>) -> Option<i64> {
    let value = value?;
    // Some issuers write times as floats; fractions do not matter at second granularity.
    value
        .as_i64()
        .or_else(|| value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}

fn string<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

fn check_claims(
    config: &OidcConfig,
    claims: &Map<String, Value>,
    raw_nonce: &str,
    now: i64,
) -> Result<OidcIdentity, IdpError> {
    let iss = string(claims, "iss").unwrap_or_default();
    if !config.issuers.iter().any(|allowed| allowed == iss) {
        let shown: String = iss.chars().take(100).collect();
        return Err(IdpError::invalid(
            reason::ID_TOKEN_ISSUER,
            format!("issuer {shown:?} not accepted"),
        ));
    }

    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let ours = |id: &str| config.client_ids.iter().any(|c| !c.is_empty() && c == id);
    if !audiences.iter().any(|aud| ours(aud)) {
        return Err(IdpError::invalid(
            reason::ID_TOKEN_AUDIENCE,
            "token is not for our client ids",
        ));
    }
    if audiences.len() > 1
        && let Some(azp) = claims.get("azp")
        && !azp.as_str().is_some_and(ours)
    {
        return Err(IdpError::invalid(
            reason::ID_TOKEN_AUDIENCE,
            "azp is not one of our client ids",
        ));
    }

    let leeway = i64::try_from(config.leeway.as_secs()).unwrap_or(i64::MAX);
    let exp = number(claims.get("exp")).ok_or_else(|| malformed("exp missing"))?;
    if now > exp.saturating_add(leeway) {
        return Err(IdpError::invalid(
            reason::ID_TOKEN_EXPIRED,
            format!("expired at {exp}, now {now}"),
        ));
    }
    let iat = number(claims.get("iat")).ok_or_else(|| malformed("iat missing"))?;
    if iat > now.saturating_add(leeway) {
        return Err(IdpError::invalid(
            reason::ID_TOKEN_NOT_YET_VALID,
            format!("issued at {iat}, now {now}"),
        ));
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = number(Some(nbf)).ok_or_else(|| malformed("nbf not a number"))?;
        if nbf > now.saturating_add(leeway) {
            return Err(IdpError::invalid(
                reason::ID_TOKEN_NOT_YET_VALID,
                format!("not before {nbf}, now {now}"),
            ));
        }
    }

    let subject = match string(claims, "sub") {
        Some(sub) if !sub.is_empty() && sub.len() <= MAX_SUBJECT_LEN => sub.to_owned(),
        _ => return Err(malformed("sub missing or invalid")),
    };

    if config.require_nonce || !raw_nonce.is_empty() {
        let expected = hex::encode(Sha256::digest(raw_nonce.as_bytes()));
        let given = string(claims, "nonce").unwrap_or_default();
        if given.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(IdpError::invalid(
                reason::ID_TOKEN_NONCE,
                "nonce does not match",
            ));
        }
    }

    let email = string(claims, "email")
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    let email_verified = email.is_some()
        && match claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            // Google used to send the string form.
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
    let name = string(claims, "name")
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    Ok(OidcIdentity {
        subject,
        email,
        email_verified,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn reason_of<T: std::fmt::Debug>(result: Result<T, IdpError>) -> &'static str {
        result.expect_err("should fail").reason()
    }

    #[test]
    fn header_checks() {
        let body = b64(&json!({"sub": "1"}));
        let token = |h: Value| format!("{}.{body}.c2ln", b64(&h));
        assert!(parse_token(&token(json!({"alg": "RS256", "kid": "k"}))).is_ok());
        assert!(parse_token(&token(json!({"alg": "ES256", "kid": "k"}))).is_ok());
        for alg in ["none", "HS256", "HS512", "RS512", "PS256", "EdDSA", ""] {
            let t = token(json!({"alg": alg, "kid": "k"}));
            assert_eq!(
                reason_of(parse_token(&t)),
                reason::ID_TOKEN_ALGORITHM,
                "{alg}"
            );
        }
        assert_eq!(
            reason_of(parse_token(&token(json!({"kid": "k"})))),
            reason::ID_TOKEN_ALGORITHM
        );
        for extra in ["jwk", "jku", "x5u", "x5c", "crit"] {
            let mut h = json!({"alg": "RS256", "kid": "k"});
            h[extra] = json!("x");
            assert_eq!(
                reason_of(parse_token(&token(h))),
                reason::ID_TOKEN_ALGORITHM,
                "{extra}"
            );
        }
        assert_eq!(
            reason_of(parse_token(&token(json!({"alg": "RS256"})))),
            reason::ID_TOKEN_MALFORMED
        );
        assert_eq!(
            reason_of(parse_token(&token(json!({"alg": "RS256", "kid": 7})))),
            reason::ID_TOKEN_MALFORMED
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!.e30.c2ln",
            ".e30.c2ln",
            "W10.e30.c2ln",
        ] {
            assert_eq!(
                reason_of(parse_token(bad)),
                reason::ID_TOKEN_MALFORMED,
                "{bad}"
            );
        }
        let unsigned = format!("{}.{body}.", b64(&json!({"alg": "RS256", "kid": "k"})));
        assert_eq!(
            reason_of(parse_token(&unsigned)),
            reason::ID_TOKEN_SIGNATURE
        );
        let huge = format!(
            "{}.{}.c2ln",
            b64(&json!({"alg": "RS256", "kid": "k"})),
            "A".repeat(MAX_TOKEN_LEN)
        );
        assert_eq!(reason_of(parse_token(&huge)), reason::ID_TOKEN_MALFORMED);
    }

    fn config() -> OidcConfig {
        OidcConfig::google(vec!["web-client".into(), "ios-client".into()])
    }

    fn good_claims() -> Map<String, Value> {
        let Value::Object(map) = json!({
            "iss": "accounts.google.com", "aud": "web-client", "sub": "1234",
            "exp": 2000, "iat": 1000, "email": "a@example.com", "email_verified": "true",
            "nonce": hex::encode(Sha256::digest(b"raw")),
        }) else {
            unreachable!()
        };
        map
    }

    #[test]
    fn claim_checks() {
        let c = config();
        let ok = check_claims(&c, &good_claims(), "raw", 1500).unwrap();
        assert_eq!(ok.subject, "1234");
        assert!(ok.email_verified, "string \"true\" counts");

        let with = |k: &str, v: Value| {
            let mut m = good_claims();
            m.insert(k.into(), v);
            m
        };
        let without = |k: &str| {
            let mut m = good_claims();
            m.remove(k);
            m
        };
        assert!(
            check_claims(
                &c,
                &with("aud", json!(["other", "ios-client"])),
                "raw",
                1500
            )
            .is_ok()
        );
        let cases = [
            (
                with("aud", json!(["web-client", "other"])).tap_azp("other"),
                reason::ID_TOKEN_AUDIENCE,
            ),
            (with("aud", json!(["other"])), reason::ID_TOKEN_AUDIENCE),
            (with("aud", json!(7)), reason::ID_TOKEN_AUDIENCE),
            (
                with("iss", json!("https://evil.example")),
                reason::ID_TOKEN_ISSUER,
            ),
            (without("iss"), reason::ID_TOKEN_ISSUER),
            (without("exp"), reason::ID_TOKEN_MALFORMED),
            (without("iat"), reason::ID_TOKEN_MALFORMED),
            (with("sub", json!("")), reason::ID_TOKEN_MALFORMED),
            (with("nbf", json!(1561)), reason::ID_TOKEN_NOT_YET_VALID),
            (with("nonce", json!("raw")), reason::ID_TOKEN_NONCE),
            (without("nonce"), reason::ID_TOKEN_NONCE),
        ];
        for (claims, want) in cases {
            assert_eq!(
                reason_of(check_claims(&c, &claims, "raw", 1500)),
                want,
                "{claims:?}"
            );
        }
        // Leeway is inclusive at both ends.
        assert!(check_claims(&c, &good_claims(), "raw", 2060).is_ok());
        assert_eq!(
            reason_of(check_claims(&c, &good_claims(), "raw", 2061)),
            reason::ID_TOKEN_EXPIRED
        );
        assert!(check_claims(&c, &good_claims(), "raw", 940).is_ok());
        assert_eq!(
            reason_of(check_claims(&c, &good_claims(), "raw", 939)),
            reason::ID_TOKEN_NOT_YET_VALID
        );
        // azp of ours on a multi-audience token is fine.
        let multi = with("aud", json!(["web-client", "other"])).tap_azp("ios-client");
        assert!(check_claims(&c, &multi, "raw", 1500).is_ok());
        // Without require_nonce and without a raw nonce, the claim is not looked at.
        let lax = OidcConfig {
            require_nonce: false,
            ..config()
        };
        assert!(check_claims(&lax, &without("nonce"), "", 1500).is_ok());
        assert_eq!(
            reason_of(check_claims(&lax, &good_claims(), "other", 1500)),
            reason::ID_TOKEN_NONCE
        );
        // email_verified without an email, or as a non-boolean, is false.
        assert!(
            !check_claims(&c, &without("email"), "raw", 1500)
                .unwrap()
                .email_verified
        );
        assert!(
            !check_claims(&c, &with("email_verified", json!(1)), "raw", 1500)
                .unwrap()
                .email_verified
        );
    }

    trait TapAzp {
        fn tap_azp(self, azp: &str) -> Self;
    }
    impl TapAzp for Map<String, Value> {
        fn tap_azp(mut self, azp: &str) -> Self {
            self.insert("azp".into(), json!(azp));
            self
        }
    }

    #[test]
    fn constructor_checks() {
        assert!(OidcProvider::new(OidcConfig::google(vec![])).is_err());
        assert!(OidcProvider::new(OidcConfig::facebook(vec!["app".into()])).is_ok());
        let plain = OidcConfig::google(vec!["x".into()]).with_jwks_url("http://keys.example/certs");
        assert_eq!(
            OidcProvider::new(plain).unwrap_err().reason(),
            reason::IDP_NOT_CONFIGURED
        );
        let local = OidcConfig::google(vec!["x".into()]).with_jwks_url("http://127.0.0.1:9/certs");
        assert!(OidcProvider::new(local).is_ok());
    }
}
