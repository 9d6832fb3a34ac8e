//! Push through Firebase Cloud Messaging's HTTP v1 API, the provider behind [`PushSender`] in
//! production.
//!
//! Authentication is Google's service-account flow (RFC 7523): an RS256 JWT signed with the
//! account's private key is exchanged at the account's `token_uri` for an OAuth 2 access token,
//! which is cached until shortly before it expires and refreshed once on a 401. Written here
//! rather than taken from `gcp_auth`/`yup-oauth2` because both pull a second HTTP and TLS stack
//! (hyper-rustls on ring) for what is one signed POST with the jsonwebtoken and reqwest we
//! already ship.
//!
//! Errors follow FCM's documented codes: `UNREGISTERED` (404) and an `INVALID_ARGUMENT` about
//! the token mean the device is gone — the scheduler forgets it; anything else (quota,
//! unavailability, a bad key) is a failure the scheduler retries on a later pass.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::deliver::{Push, PushError, PushSender};

/// The OAuth scope FCM's send endpoint accepts.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// Google's production endpoint; tests and emulators point elsewhere.
pub const DEFAULT_ENDPOINT: &str = "https://fcm.googleapis.com";

/// The fields Stride reads from a Google service-account key file (the JSON the Firebase
/// console downloads).
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub private_key_id: String,
    pub private_key: String,
    pub client_email: String,
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Parses a key file, refusing one that cannot sign or names no usable token endpoint.
    pub fn parse(json: &str) -> Result<Self, String> {
        let account: Self =
            serde_json::from_str(json).map_err(|e| format!("not a service-account key: {e}"))?;
        EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|e| format!("private_key is not an RSA key in PEM: {e}"))?;
        if !(account.token_uri.starts_with("https://") || account.token_uri.starts_with("http://"))
        {
            return Err("token_uri must be an http(s) URL".into());
        }
        if account.project_id.is_empty() || account.client_email.is_empty() {
            return Err("project_id and client_email must be set".into());
        }
        Ok(account)
    }
}

/// The FCM HTTP v1 sender.
#[derive(Clone)]
pub struct Fcm {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    account: ServiceAccount,
    key: EncodingKey,
    send_url: String,
    token: Mutex<Option<(String, Instant)>>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Refresh this long before Google's expiry so a token never dies in flight.
const EARLY: Duration = Duration::from_secs(60);

impl Fcm {
    /// `endpoint` is the FCM base URL ([`DEFAULT_ENDPOINT`] in production).
    pub fn new(account: ServiceAccount, endpoint: &str) -> Result<Self, String> {
        let key = EncodingKey::from_rsa_pem(account.private_key.as_bytes())
            .map_err(|e| format!("private_key: {e}"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?;
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            endpoint.trim_end_matches('/'),
            account.project_id
        );
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                account,
                key,
                send_url,
                token: Mutex::new(None),
            }),
        })
    }

    /// A cached access token, or a fresh one from the token endpoint.
    async fn access_token(&self, force: bool) -> Result<String, PushError> {
        let mut cached = self.inner.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && !force
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let a = &self.inner.account;
        // Google checks these against its own clock: wall time, not the service's test clock.
        #[allow(clippy::disallowed_methods, reason = "Google's clock, not domain time")]
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| PushError::Failed(e.to_string()))?
            .as_secs();
        let claims = Claims {
            iss: &a.client_email,
            scope: SCOPE,
            aud: &a.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(a.private_key_id.clone());
        let assertion = jsonwebtoken::encode(&header, &claims, &self.inner.key)
            .map_err(|e| PushError::Failed(format!("signing the token request: {e}")))?;
        // The assertion is base64url and dots: nothing in the form needs escaping but the
        // grant type's colons.
        let form = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        );
        let response = self
            .inner
            .http
            .post(&a.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| PushError::Failed(format!("token endpoint: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(PushError::Failed(format!(
                "token endpoint answered {status}: {}",
                body.chars().take(300).collect::<String>()
            )));
        }
        let t: TokenResponse = response
            .json()
            .await
            .map_err(|e| PushError::Failed(format!("token endpoint: {e}")))?;
        let life = Duration::from_secs(t.expires_in.unwrap_or(3600));
        let until = Instant::now() + life.saturating_sub(EARLY);
        *cached = Some((t.access_token.clone(), until));
        Ok(t.access_token)
    }

    async fn send_once(&self, push: &Push, token: &str) -> Result<Outcome, PushError> {
        let message = serde_json::json!({
            "message": {
                "token": push.token,
                "notification": { "title": push.title, "body": push.body },
                "data": { "kind": push.kind },
            }
        });
        let response = self
            .inner
            .http
            .post(&self.inner.send_url)
            .bearer_auth(token)
            .json(&message)
            .send()
            .await
            .map_err(|e| PushError::Failed(format!("FCM: {e}")))?;
        let status = response.status();
        if status.is_success() {
            return Ok(Outcome::Sent);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Ok(Outcome::Unauthorized);
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Err(classify(status.as_u16(), &body))
    }
}

enum Outcome {
    Sent,
    Unauthorized,
}

/// Maps an FCM error answer to what the scheduler does with the device.
fn classify(status: u16, body: &serde_json::Value) -> PushError {
    let error = &body["error"];
    let fcm_code = error["details"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|d| d["errorCode"].as_str())
        .unwrap_or("");
    let message = error["message"].as_str().unwrap_or("");
    let names_token = message.to_ascii_lowercase().contains("token");
    match (status, fcm_code) {
        // Only FCM's own code: a bare 404 may as well mean a wrong project id, and forgetting
        // every device over a configuration mistake would be worse than retrying.
        (_, "UNREGISTERED") => PushError::Unregistered,
        (400, "INVALID_ARGUMENT") if names_token => PushError::Unregistered,
        _ => PushError::Failed(format!(
            "FCM answered {status} {fcm_code}: {}",
            message.chars().take(300).collect::<String>()
        )),
    }
}

impl PushSender for Fcm {
    fn send(&self, push: Push) -> BoxFuture<'static, Result<(), PushError>> {
        let this = self.clone();
        Box::pin(async move {
            let token = this.access_token(false).await?;
            match this.send_once(&push, &token).await? {
                Outcome::Sent => Ok(()),
                // Revoked or rotated early: one fresh token, one more try.
                Outcome::Unauthorized => {
                    let token = this.access_token(true).await?;
                    match this.send_once(&push, &token).await? {
                        Outcome::Sent => Ok(()),
                        Outcome::Unauthorized => Err(PushError::Failed(
                            "FCM refused a fresh access token (401)".into(),
                        )),
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unregistered_and_bad_tokens_forget_the_device_other_errors_retry() {
        let unregistered = json!({"error": {"code": 404, "status": "NOT_FOUND",
            "message": "Requested entity was not found.",
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                         "errorCode": "UNREGISTERED"}]}});
        assert!(matches!(
            classify(404, &unregistered),
            PushError::Unregistered
        ));
        let bad_token = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "The registration token is not a valid FCM registration token",
            "details": [{"errorCode": "INVALID_ARGUMENT"}]}});
        assert!(matches!(classify(400, &bad_token), PushError::Unregistered));
        let bad_payload = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
            "message": "Invalid JSON payload received.",
            "details": [{"errorCode": "INVALID_ARGUMENT"}]}});
        assert!(matches!(classify(400, &bad_payload), PushError::Failed(_)));
        let quota = json!({"error": {"code": 429, "details": [{"errorCode": "QUOTA_EXCEEDED"}]}});
        assert!(matches!(classify(429, &quota), PushError::Failed(_)));
        assert!(matches!(
            classify(503, &serde_json::Value::Null),
            PushError::Failed(_)
        ));
    }

    #[test]
    fn a_key_file_that_cannot_sign_is_refused() {
        let no_key = json!({"project_id": "p", "private_key_id": "k",
            "private_key": "not a key", "client_email": "a@p.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token"});
        let e = ServiceAccount::parse(&no_key.to_string()).unwrap_err();
        assert!(e.contains("private_key"), "{e}");
        assert!(ServiceAccount::parse("{}").is_err());
    }
}
