//! The OAuth 2.0 authorization code flow with PKCE for server-side web sign-in (Google).
//!
//! The service creates `state`, a PKCE `code_verifier` and a raw nonce, keeps them, and sends the
//! browser to [`authorization_url`] (`response_type=code`, `code_challenge` =
//! BASE64URL(SHA-256(verifier)) with `code_challenge_method=S256` (RFC 7636), `nonce` =
//! hex SHA-256(raw nonce), as the ID token checks in [`crate::oidc`] expect). On the redirect it
//! trades the code at the token endpoint with [`TokenEndpoint::exchange`] (form-encoded
//! `grant_type=authorization_code`, `code`, `redirect_uri`, `client_id`, `client_secret`,
//! `code_verifier`) and verifies the returned `id_token` like any other Google ID token.
//! (<https://developers.google.com/identity/protocols/oauth2/web-server>,
//! <https://developers.google.com/identity/openid-connect/openid-connect>)

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::error::{IdpError, reason};
use crate::facebook::check_endpoint;

pub const GOOGLE_AUTH_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// What a sign-in asks Google for.
pub const SIGN_IN_SCOPE: &str = "openid email profile";
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// RFC 7636 S256: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), no padding.
pub fn pkce_challenge(code_verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()))
}

/// What goes into the authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub code_verifier: &'a str,
    /// The raw nonce; the URL carries its lowercase hex SHA-256.
    pub raw_nonce: &'a str,
    /// Optional `login_hint` (an email or Google's `sub`).
    pub login_hint: Option<&'a str>,
}

/// The URL to send the browser to.
pub fn authorization_url(auth_url: &str, r: &AuthorizationRequest<'_>) -> Result<String, IdpError> {
    let mut url = check_endpoint(auth_url, "authorization")
        .map_err(|e| IdpError::NotConfigured(format!("oauth: {e}")))?;
    let challenge = pkce_challenge(r.code_verifier);
    let nonce = hex::encode(Sha256::digest(r.raw_nonce.as_bytes()));
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", r.client_id)
            .append_pair("redirect_uri", r.redirect_uri)
            .append_pair("scope", SIGN_IN_SCOPE)
            .append_pair("state", r.state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("nonce", &nonce)
            .append_pair("prompt", "select_account");
        if let Some(hint) = r.login_hint.filter(|h| !h.is_empty()) {
            q.append_pair("login_hint", hint);
        }
    }
    Ok(url.into())
}

/// The token endpoint, with our client's credentials.
#[derive(Clone)]
pub struct TokenEndpoint {
    url: reqwest::Url,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("url", &self.url.as_str())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenReply {
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorReply {
    error: Option<String>,
    error_description: Option<String>,
}

fn unavailable(detail: impl Into<String>) -> IdpError {
    IdpError::KeysUnavailable(anyhow::anyhow!("token endpoint: {}", detail.into()))
}

impl TokenEndpoint {
    pub fn new(url: &str, client_id: &str, client_secret: &str) -> Result<Self, IdpError> {
        let not_configured = |what: &str| IdpError::NotConfigured(format!("oauth: {what}"));
        let url = check_endpoint(url, "token").map_err(|e| not_configured(&e))?;
        if client_id.trim().is_empty() || client_secret.trim().is_empty() {
            return Err(not_configured("client id and secret are required"));
        }
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| not_configured(&format!("HTTP client: {e}")))?;
        Ok(Self {
            url,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            http,
        })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Trades `code` for the ID token. `invalid_grant` (a wrong, used or expired code, or a
    /// verifier that does not match) is [`reason::OAUTH_CODE_INVALID`]; our own credentials or
    /// redirect URI being refused, and an unreachable endpoint, are `KeysUnavailable` (an
    /// operator problem, not the caller's).
    pub async fn exchange(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<String, IdpError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", &self.client_secret)
            .append_pair("code_verifier", code_verifier)
            .finish();
        let response = self
            .http
            .post(self.url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        if status.is_success() {
            let reply: TokenReply = serde_json::from_slice(&bytes)
                .map_err(|e| unavailable(format!("undecodable answer: {e}")))?;
            return reply.id_token.filter(|t| !t.is_empty()).ok_or_else(|| {
                IdpError::invalid(reason::ID_TOKEN_MALFORMED, "the answer has no id_token")
            });
        }
        let error = serde_json::from_slice::<ErrorReply>(&bytes).ok();
        let (code, description) = error
            .map(|e| {
                (
                    e.error.unwrap_or_default(),
                    e.error_description.unwrap_or_default(),
                )
            })
            .unwrap_or_default();
        if status.is_client_error() && code == "invalid_grant" {
            return Err(IdpError::invalid(
                reason::OAUTH_CODE_INVALID,
                format!("invalid_grant: {description}"),
            ));
        }
        Err(unavailable(format!("HTTP {status}: {code}: {description}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_base64url_of_sha256() {
        // Known answer from Python: base64.urlsafe_b64encode(sha256(v).digest()).rstrip(b"=")
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r7wW1gFWFOEjXk"),
            "bwWFMyPfdG9qreDhH2lmftFx_dFeLDalzcT1gb_j68g"
        );
    }

    #[test]
    fn authorization_url_carries_every_parameter() {
        let url = authorization_url(
            GOOGLE_AUTH_URL,
            &AuthorizationRequest {
                client_id: "web.apps.example",
                redirect_uri: "https://app.example/auth/google/callback",
                state: "st4te",
                code_verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r7wW1gFWFOEjXk",
                raw_nonce: "raw",
                login_hint: Some("ann@example.com"),
            },
        )
        .unwrap();
        let parsed = reqwest::Url::parse(&url).unwrap();
        assert_eq!(&url[..parsed.as_str().find('?').unwrap()], GOOGLE_AUTH_URL);
        let q: std::collections::HashMap<String, String> =
            parsed.query_pairs().into_owned().collect();
        let want = [
            ("response_type", "code"),
            ("client_id", "web.apps.example"),
            ("redirect_uri", "https://app.example/auth/google/callback"),
            ("scope", "openid email profile"),
            ("state", "st4te"),
            (
                "code_challenge",
                "bwWFMyPfdG9qreDhH2lmftFx_dFeLDalzcT1gb_j68g",
            ),
            ("code_challenge_method", "S256"),
            ("login_hint", "ann@example.com"),
        ];
        for (k, v) in want {
            assert_eq!(q.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert_eq!(q["nonce"], hex::encode(Sha256::digest(b"raw")));
        assert!(!url.contains("dBjftJeZ4CVP"), "the verifier stays secret");
        assert!(
            authorization_url(
                "http://accounts.example/auth",
                &AuthorizationRequest {
                    client_id: "c",
                    redirect_uri: "r",
                    state: "s",
                    code_verifier: "v",
                    raw_nonce: "n",
                    login_hint: None,
                }
            )
            .is_err()
        );
    }

    #[test]
    fn token_endpoint_configuration_is_checked() {
        assert!(TokenEndpoint::new(GOOGLE_TOKEN_URL, "id", "secret").is_ok());
        assert!(TokenEndpoint::new("http://oauth2.example/token", "id", "secret").is_err());
        assert!(TokenEndpoint::new(GOOGLE_TOKEN_URL, "id", " ").is_err());
        let shown = format!(
            "{:?}",
            TokenEndpoint::new(GOOGLE_TOKEN_URL, "id", "s3cr3t").unwrap()
        );
        assert!(!shown.contains("s3cr3t"));
    }
}
