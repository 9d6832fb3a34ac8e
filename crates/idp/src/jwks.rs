//! Fetching and caching a provider's JSON Web Key Set.
//!
//! - Keys are cached for the `Cache-Control: max-age` the provider sends (minus `Age`), clamped
//!   to [`MIN_TTL`]..[`MAX_TTL`]; [`DEFAULT_TTL`] when it sends none.
//! - Fetches of any kind (cold start, expiry, unknown `kid`) happen at most once per
//!   `min_refetch` interval, so a flood of tokens with random `kid`s costs the provider one
//!   request per interval, not one per token.
//! - Concurrent callers that need a fetch share it: one holds the fetch lock, the others wait and
//!   then read its result.
//! - A failed refresh keeps the previous set (with a warning); only a cache that never held keys
//!   reports [`IdpError::KeysUnavailable`].
//! - Time is the caller's `now` (unix seconds) so the auth service's clock (and tests) drive it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use reqwest::header::{ACCEPT, AGE, CACHE_CONTROL, HeaderMap};

use crate::error::{IdpError, reason};

pub(crate) const MIN_TTL: Duration = Duration::from_secs(5 * 60);
pub(crate) const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);
/// Largest key set we read; real ones are a few KiB.
pub(crate) const MAX_BODY: usize = 256 * 1024;
const MAX_KID_LEN: usize = 256;

/// The key families we verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyType {
    Rsa,
    EcP256,
}

/// One usable verification key from the set.
pub(crate) struct VerifyKey {
    pub(crate) key_type: KeyType,
    /// The JWK's `alg`, when the provider pins one.
    pub(crate) alg: Option<String>,
    pub(crate) key: DecodingKey,
}

pub(crate) type KeySet = HashMap<String, Arc<VerifyKey>>;

#[derive(Default)]
struct State {
    /// `None` until a fetch has succeeded.
    keys: Option<Arc<KeySet>>,
    expires_at: i64,
    last_attempt: Option<i64>,
    /// Bumped by every fetch attempt; waiters compare it to know a fetch happened meanwhile.
    attempts: u64,
    /// The last fetch's error, cleared by a successful fetch.
    last_error: Option<String>,
}

enum Decision {
    Hit(Arc<VerifyKey>),
    UnknownKid,
    Unavailable(String),
    Fetch,
}

pub(crate) struct JwksCache {
    provider: &'static str,
    url: String,
    http: reqwest::Client,
    min_refetch: u64,
    state: RwLock<State>,
    fetch_lock: tokio::sync::Mutex<()>,
}

impl JwksCache {
    pub(crate) fn new(
        provider: &'static str,
        url: String,
        min_refetch: Duration,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::limited(3))
            // An https key URL must not be redirected to plain http.
            .https_only(url.starts_with("https://"))
            .build()
            .context("building the HTTP client for key sets")?;
        Ok(Self {
            provider,
            url,
            http,
            min_refetch: min_refetch.as_secs(),
            state: RwLock::new(State::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The key named `kid`, fetching the set when it is cold, expired, or lacks `kid`
    /// (subject to the refetch rate limit).
    pub(crate) async fn key(&self, kid: &str, now: i64) -> Result<Arc<VerifyKey>, IdpError> {
        let seen = {
            let state = self.read();
            match self.decide(&state, kid, now, true) {
                Decision::Fetch => state.attempts,
                other => return finish(other),
            }
        };
        let _fetching = self.fetch_lock.lock().await;
        {
            let state = self.read();
            if state.attempts != seen {
                // Another caller fetched while we waited for the lock: use its result.
                return finish(self.decide(&state, kid, now, false));
            }
        }
        let fetched = self.fetch().await;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.attempts += 1;
        state.last_attempt = Some(now);
        match fetched {
            Ok((keys, ttl)) => {
                tracing::debug!(
                    provider = self.provider,
                    keys = keys.len(),
                    ttl_secs = ttl.as_secs(),
                    "fetched key set"
                );
                state.keys = Some(Arc::new(keys));
                state.expires_at = now.saturating_add_unsigned(ttl.as_secs());
                state.last_error = None;
            }
            Err(error) => {
                tracing::warn!(provider = self.provider, url = %self.url, error = format!("{error:#}"), cached = state.keys.is_some(), "key set fetch failed");
                state.last_error = Some(format!("{error:#}"));
            }
        }
        finish(self.decide(&state, kid, now, false))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a harmful way.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn decide(&self, state: &State, kid: &str, now: i64, allow_fetch: bool) -> Decision {
        let found = state.keys.as_ref().and_then(|keys| keys.get(kid)).cloned();
        let fresh = state.keys.is_some() && now < state.expires_at;
        if let Some(key) = &found
            && fresh
        {
            return Decision::Hit(key.clone());
        }
        let may_fetch = allow_fetch
            && state
                .last_attempt
                .is_none_or(|last| now.abs_diff(last) >= self.min_refetch);
        if may_fetch && kid.len() <= MAX_KID_LEN {
            return Decision::Fetch;
        }
        match (found, &state.last_error) {
            // Stale but still the provider's last word: better than failing every sign-in.
            (Some(key), _) => Decision::Hit(key),
            (None, Some(error)) => Decision::Unavailable(error.clone()),
            (None, None) if state.keys.is_some() => Decision::UnknownKid,
            (None, None) => Decision::Unavailable("key set not fetched yet".into()),
        }
    }

    async fn fetch(&self) -> anyhow::Result<(KeySet, Duration)> {
        let mut response = self
            .http
            .get(&self.url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .with_context(|| format!("GET {}", self.url))?;
        let status = response.status();
        if !status.is_success() {
            bail!("GET {}: HTTP {status}", self.url);
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BODY as u64)
        {
            bail!("GET {}: key set larger than {MAX_BODY} bytes", self.url);
        }
        let ttl = cache_ttl(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("reading {}", self.url))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                bail!("GET {}: key set larger than {MAX_BODY} bytes", self.url);
            }
            body.extend_from_slice(&chunk);
        }
        let keys =
            parse_jwks(&body).with_context(|| format!("parsing the key set from {}", self.url))?;
        if keys.is_empty() {
            // Treat as a failure so a broken publication does not evict the working set.
            bail!("{}: no usable signing keys", self.url);
        }
        Ok((keys, ttl))
    }
}

fn finish(decision: Decision) -> Result<Arc<VerifyKey>, IdpError> {
    match decision {
        Decision::Hit(key) => Ok(key),
        Decision::UnknownKid | Decision::Fetch => Err(IdpError::invalid(
            reason::ID_TOKEN_UNKNOWN_KEY,
            "kid is not in the provider's key set",
        )),
        Decision::Unavailable(error) => Err(IdpError::KeysUnavailable(anyhow!(error))),
    }
}

/// How long to keep a key set, from `Cache-Control: max-age` minus `Age`, clamped.
pub(crate) fn cache_ttl(headers: &HeaderMap) -> Duration {
    let mut max_age = None;
    let mut no_cache = false;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if let Some(secs) = directive.strip_prefix("max-age=") {
                max_age = secs.trim_matches('"').parse::<u64>().ok().or(max_age);
            } else if directive == "no-cache" || directive == "no-store" {
                no_cache = true;
            }
        }
    }
    let age = headers
        .get(AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let ttl = match (no_cache, max_age) {
        (true, _) => MIN_TTL,
        (false, Some(secs)) => Duration::from_secs(secs.saturating_sub(age)),
        (false, None) => DEFAULT_TTL,
    };
    ttl.clamp(MIN_TTL, MAX_TTL)
}

#[derive(serde::Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(serde::Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Parses a JWKS document into the keys we can verify with. Keys that are not for signatures,
/// of unknown type or curve, without a `kid`, or with bad parameters are skipped (one odd key
/// must not take the whole provider down).
pub(crate) fn parse_jwks(body: &[u8]) -> anyhow::Result<KeySet> {
    let set: RawSet = serde_json::from_slice(body)?;
    let mut keys = KeySet::new();
    for value in set.keys {
        let Ok(raw) = serde_json::from_value::<RawKey>(value) else {
            continue;
        };
        let Some(kid) = raw
            .kid
            .clone()
            .filter(|k| !k.is_empty() && k.len() <= MAX_KID_LEN)
        else {
            continue;
        };
        if raw.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let Some(key) = to_verify_key(&raw) else {
            tracing::debug!(kid, kty = raw.kty, "skipping unusable key");
            continue;
        };
        keys.entry(kid).or_insert_with(|| Arc::new(key));
    }
    Ok(keys)
}

fn to_verify_key(raw: &RawKey) -> Option<VerifyKey> {
    let b64 = |v: &Option<String>| {
        v.as_deref()
            .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
    };
    match raw.kty.as_str() {
        "RSA" => {
            let (n, e) = (b64(&raw.n)?, b64(&raw.e)?);
            let n = strip_leading_zeros(&n);
            // Below 2048 bits is not a key a real provider uses; aws-lc would reject it anyway.
            if n.len() < 256 || n.len() > 1024 || e.is_empty() || e.len() > 8 {
                return None;
            }
            Some(VerifyKey {
                key_type: KeyType::Rsa,
                alg: raw.alg.clone(),
                key: DecodingKey::from_rsa_raw_components(n, &e),
            })
        }
        "EC" if raw.crv.as_deref() == Some("P-256") => {
            let (x, y) = (b64(&raw.x)?, b64(&raw.y)?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Some(VerifyKey {
                key_type: KeyType::EcP256,
                alg: raw.alg.clone(),
                key: DecodingKey::from_ec_der(&point),
            })
        }
        _ => None,
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn ttl_follows_max_age_clamped() {
        assert_eq!(cache_ttl(&headers(&[])), DEFAULT_TTL);
        let google = "public, max-age=23456, must-revalidate, no-transform";
        assert_eq!(
            cache_ttl(&headers(&[(CACHE_CONTROL, google)])),
            Duration::from_secs(23456)
        );
        assert_eq!(
            cache_ttl(&headers(&[(CACHE_CONTROL, "max-age=10")])),
            MIN_TTL
        );
        assert_eq!(
            cache_ttl(&headers(&[(CACHE_CONTROL, "MAX-AGE=999999")])),
            MAX_TTL
        );
        assert_eq!(cache_ttl(&headers(&[(CACHE_CONTROL, "no-store")])), MIN_TTL);
        assert_eq!(
            cache_ttl(&headers(&[(CACHE_CONTROL, "max-age=nonsense")])),
            DEFAULT_TTL
        );
        let aged = headers(&[(CACHE_CONTROL, "max-age=7200"), (AGE, "600")]);
        assert_eq!(cache_ttl(&aged), Duration::from_secs(6600));
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn parses_rsa_and_ec_and_skips_the_rest() {
        let n = {
            let mut n = vec![0u8]; // a leading zero some encoders emit
            n.extend(std::iter::repeat_n(0xc5u8, 256));
            b64(&n)
        };
        let e = b64(&[1, 0, 1]);
        let xy = b64(&[7u8; 32]);
        let doc = serde_json::json!({ "keys": [
            { "kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": n, "e": e },
            { "kty": "RSA", "kid": "enc1", "use": "enc", "n": n, "e": e },
            { "kty": "RSA", "kid": "small", "n": b64(&[0xc5; 128]), "e": e },
            { "kty": "EC", "kid": "ec1", "crv": "P-256", "x": xy, "y": xy },
            { "kty": "EC", "kid": "ec384", "crv": "P-384", "x": xy, "y": xy },
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
            { "kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": xy },
            { "kty": "RSA", "n": n, "e": e },
            { "kty": "RSA", "kid": "broken", "n": "!!!", "e": e },
            "not even an object",
        ]});
        let keys = parse_jwks(&serde_json::to_vec(&doc).unwrap()).unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["ec1", "rsa1"]);
        assert_eq!(keys["rsa1"].key_type, KeyType::Rsa);
        assert_eq!(keys["rsa1"].alg.as_deref(), Some("RS256"));
        assert_eq!(keys["ec1"].key_type, KeyType::EcP256);
        assert!(parse_jwks(b"{\"nokeys\":1}").is_err());
        assert!(parse_jwks(b"<html>").is_err());
    }
}
