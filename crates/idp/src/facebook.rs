//! Facebook user access tokens (Android and JavaScript SDKs), checked with the Graph API.
//!
//! Unlike Limited Login's ID token (see [`crate::oidc`]), a classic access token is opaque: only
//! Facebook can say what it is. [`FacebookGraph::verify_access_token`] asks, in this order:
//!
//! 1. `GET {graph}/debug_token?input_token={token}&access_token={app_id}|{app_secret}` — the
//!    token inspection endpoint, authenticated with our app access token. The answer's `data`
//!    must name our `app_id` (a token minted for another app is refused even when valid), must
//!    not be past `expires_at` (0 means no expiry), must be `is_valid`, of `type` `USER` when the
//!    type is given, and carry a `user_id`.
//! 2. `GET {graph}/me?fields=id,name,email&access_token={token}&appsecret_proof={proof}` with
//!    `proof = hex(HMAC-SHA256(app_secret, token))`; the `id` must be the inspected `user_id`.
//!
//! Facebook's `email` is returned but never treated as verified. Failures carry the
//! `FACEBOOK_TOKEN_*` reasons; a Graph API that cannot be reached or answers nonsense gives
//! [`IdpError::KeysUnavailable`].
//! (<https://developers.facebook.com/docs/facebook-login/guides/%20access-tokens/debugging>)

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::{IdpError, reason};

/// Graph API base with a version, as Facebook recommends pinning one.
pub const FACEBOOK_GRAPH_URL: &str = "https://graph.facebook.com/v21.0";
/// Longest access token looked at (real ones are a few hundred characters).
pub const MAX_ACCESS_TOKEN_LEN: usize = 4096;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_FIELD_LEN: usize = 320;

/// Our app with Facebook.
#[derive(Clone)]
pub struct FacebookConfig {
    pub app_id: String,
    pub app_secret: String,
    /// `https://graph.facebook.com/v21.0`; http only to a loopback address (tests).
    pub graph_url: String,
}

impl std::fmt::Debug for FacebookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacebookConfig")
            .field("app_id", &self.app_id)
            .field("graph_url", &self.graph_url)
            .finish_non_exhaustive()
    }
}

/// Who Facebook says the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacebookUser {
    /// The app-scoped user id (the same as Limited Login's `sub`).
    pub id: String,
    pub name: Option<String>,
    /// As Facebook returns it; not verified by us.
    pub email: Option<String>,
}

/// Checks access tokens for one app.
#[derive(Clone, Debug)]
pub struct FacebookGraph {
    config: FacebookConfig,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct DebugTokenReply {
    data: Option<TokenData>,
}

#[derive(Deserialize)]
struct TokenData {
    app_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    expires_at: i64,
    #[serde(default)]
    is_valid: bool,
    user_id: Option<String>,
    error: Option<GraphError>,
}

#[derive(Deserialize, Debug)]
struct GraphError {
    #[serde(default)]
    message: String,
    code: Option<i64>,
}

#[derive(Deserialize)]
struct ErrorReply {
    error: Option<GraphError>,
}

#[derive(Deserialize)]
struct MeReply {
    id: Option<String>,
    name: Option<String>,
    email: Option<String>,
}

/// `url` must be https, or http to a loopback address.
pub(crate) fn check_endpoint(url: &str, what: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| format!("bad {what} URL: {e}"))?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(format!("{what} URL must be https")),
    }
}

fn invalid(reason: &'static str, detail: impl Into<String>) -> IdpError {
    IdpError::invalid(reason, detail)
}

fn unavailable(detail: impl Into<String>) -> IdpError {
    IdpError::KeysUnavailable(anyhow::anyhow!("facebook graph: {}", detail.into()))
}

impl FacebookGraph {
    pub fn new(config: FacebookConfig) -> Result<Self, IdpError> {
        let not_configured = |what: &str| IdpError::NotConfigured(format!("facebook: {what}"));
        if config.app_id.trim().is_empty() || !config.app_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_configured("the app id must be digits"));
        }
        if config.app_secret.trim().is_empty() {
            return Err(not_configured("no app secret"));
        }
        check_endpoint(&config.graph_url, "Graph API").map_err(|e| not_configured(&e))?;
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| not_configured(&format!("HTTP client: {e}")))?;
        Ok(Self { config, http })
    }

    fn endpoint(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url, IdpError> {
        let base = self.config.graph_url.trim().trim_end_matches('/');
        let mut url = reqwest::Url::parse(&format!("{base}/{path}"))
            .map_err(|e| unavailable(format!("bad URL: {e}")))?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    /// One GET; the body of a 2xx as `T`. A Graph error is InvalidToken when `token_errors`
    /// and it is about the token (OAuthException 190 and friends), KeysUnavailable otherwise:
    /// debug_token reports a bad input token inside a 200 answer, so an error status there
    /// means our app credentials are wrong, which is no fault of the caller.
    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        url: reqwest::Url,
        what: &str,
        token_errors: bool,
    ) -> Result<T, IdpError> {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            // The URL carries the tokens: keep it out of the error.
            .map_err(|e| unavailable(format!("{what}: {}", e.without_url())))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unavailable(format!("{what}: {}", e.without_url())))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| unavailable(format!("{what}: undecodable answer: {e}")));
        }
        let error = serde_json::from_slice::<ErrorReply>(&bytes)
            .ok()
            .and_then(|r| r.error);
        match error {
            // 190: invalid OAuth access token; 102: session key invalid; 100 on /me: a bad
            // appsecret_proof or parameter made from the token.
            Some(e)
                if token_errors
                    && status.is_client_error()
                    && matches!(e.code, Some(190 | 102 | 100)) =>
            {
                Err(invalid(
                    reason::FACEBOOK_TOKEN_INVALID,
                    format!("{what}: HTTP {status}: {} ({:?})", e.message, e.code),
                ))
            }
            Some(e) => Err(unavailable(format!(
                "{what}: HTTP {status}: {} ({:?})",
                e.message, e.code
            ))),
            None => Err(unavailable(format!("{what}: HTTP {status}"))),
        }
    }

    /// Checks `token` as described in the module docs at `now_unix`.
    pub async fn verify_access_token(
        &self,
        token: &str,
        now_unix: i64,
    ) -> Result<FacebookUser, IdpError> {
        if token.is_empty()
            || token.len() > MAX_ACCESS_TOKEN_LEN
            || !token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(invalid(
                reason::FACEBOOK_TOKEN_INVALID,
                "not an access token",
            ));
        }
        let app_token = format!("{}|{}", self.config.app_id, self.config.app_secret);
        let url = self.endpoint(
            "debug_token",
            &[("input_token", token), ("access_token", &app_token)],
        )?;
        let reply: DebugTokenReply = self.get(url, "debug_token", false).await?;
        let data = reply
            .data
            .ok_or_else(|| unavailable("debug_token: no data"))?;
        if let Some(app_id) = &data.app_id
            && app_id != &self.config.app_id
        {
            return Err(invalid(
                reason::FACEBOOK_TOKEN_AUDIENCE,
                format!("token of app {app_id}"),
            ));
        }
        if data.expires_at > 0 && data.expires_at <= now_unix {
            return Err(invalid(
                reason::FACEBOOK_TOKEN_EXPIRED,
                format!("expired at {}, now {now_unix}", data.expires_at),
            ));
        }
        if !data.is_valid {
            let detail = data
                .error
                .map(|e| format!("{} ({:?})", e.message, e.code))
                .unwrap_or_default();
            return Err(invalid(
                reason::FACEBOOK_TOKEN_INVALID,
                format!("not valid: {detail}"),
            ));
        }
        if data.app_id.is_none() {
            return Err(invalid(
                reason::FACEBOOK_TOKEN_AUDIENCE,
                "inspection names no app",
            ));
        }
        if data.kind.as_deref().is_some_and(|k| k != "USER") {
            return Err(invalid(
                reason::FACEBOOK_TOKEN_INVALID,
                "not a user access token",
            ));
        }
        let user_id = data
            .user_id
            .filter(|id| !id.is_empty() && id.len() <= MAX_FIELD_LEN)
            .ok_or_else(|| invalid(reason::FACEBOOK_TOKEN_INVALID, "no user_id"))?;

        let proof = appsecret_proof(&self.config.app_secret, token);
        let url = self.endpoint(
            "me",
            &[
                ("fields", "id,name,email"),
                ("access_token", token),
                ("appsecret_proof", &proof),
            ],
        )?;
        let me: MeReply = self.get(url, "me", true).await?;
        if me.id.as_deref() != Some(user_id.as_str()) {
            return Err(invalid(
                reason::FACEBOOK_TOKEN_INVALID,
                "/me is another user than the inspected token",
            ));
        }
        let short = |s: Option<String>| s.filter(|s| !s.is_empty() && s.len() <= MAX_FIELD_LEN);
        Ok(FacebookUser {
            id: user_id,
            name: short(me.name),
            email: short(me.email),
        })
    }
}

/// `hex(HMAC-SHA256(key = app secret, message = access token))`, Graph's `appsecret_proof`.
pub fn appsecret_proof(app_secret: &str, token: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FacebookConfig {
        FacebookConfig {
            app_id: "1234567890".into(),
            app_secret: "s3cret".into(),
            graph_url: FACEBOOK_GRAPH_URL.into(),
        }
    }

    #[test]
    fn appsecret_proof_is_hmac_sha256_hex() {
        // printf '%s' 'EAAB' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            appsecret_proof("s3cret", "EAAB"),
            "e64df38a6d32771377cd96e709efa796268583b5e5f3d9eb15608937bf898bc2"
        );
        assert_ne!(
            appsecret_proof("s3cret", "EAAB"),
            appsecret_proof("other", "EAAB")
        );
    }

    #[test]
    fn configuration_is_checked() {
        assert!(FacebookGraph::new(config()).is_ok());
        let bad = [
            FacebookConfig {
                app_id: "abc".into(),
                ..config()
            },
            FacebookConfig {
                app_secret: " ".into(),
                ..config()
            },
            FacebookConfig {
                graph_url: "http://graph.facebook.com".into(),
                ..config()
            },
        ];
        for c in bad {
            assert_eq!(
                FacebookGraph::new(c).unwrap_err().reason(),
                reason::IDP_NOT_CONFIGURED
            );
        }
        assert!(!format!("{:?}", FacebookGraph::new(config()).unwrap()).contains("s3cret"));
    }
}
