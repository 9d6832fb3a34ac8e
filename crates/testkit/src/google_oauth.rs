//! A stand-in for Google's OAuth 2.0 token endpoint (axum on 127.0.0.1:0), speaking its
//! protocol: `POST /token` with a form-encoded `grant_type=authorization_code`, `code`,
//! `redirect_uri`, `client_id`, `client_secret`, `code_verifier`; `200` with
//! `{access_token, expires_in, scope, token_type, id_token}`, or `{"error", "error_description"}`
//! (`invalid_client` 401; `invalid_grant` 400 for an unknown, used or expired code or a PKCE
//! verifier that does not match; `redirect_uri_mismatch` 400).
//!
//! A test plays the user's consent with [`TokenEndpoint::grant`]: the code will be exchanged
//! only with the redirect URI and the PKCE challenge of the authorization request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest as _, Sha256};

pub const CLIENT_SECRET: &str = "GOCSPX-stand-in-secret";

#[derive(Clone)]
struct Grant {
    redirect_uri: String,
    code_challenge: String,
    id_token: String,
}

struct Shared {
    client_id: String,
    grants: Mutex<HashMap<String, Grant>>,
    exchanges: Mutex<usize>,
}

/// The stand-in. Dropping it stops the server.
pub struct TokenEndpoint {
    /// What to configure as the token URL.
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response()
}

async fn token(State(shared): State<Arc<Shared>>, body: String) -> Response {
    *shared.exchanges.lock().unwrap() += 1;
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    if get("client_id") != shared.client_id || get("client_secret") != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    if get("grant_type") != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type: ",
        );
    }
    // A code is spent by its first exchange, whatever the outcome.
    let Some(grant) = shared.grants.lock().unwrap().remove(&get("code")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
    };
    if get("redirect_uri") != grant.redirect_uri {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "Bad Request",
        );
    }
    let verifier = get("code_verifier");
    if verifier.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Missing code verifier.",
        );
    }
    if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != grant.code_challenge {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid code verifier.",
        );
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        json!({
            "access_token": "ya29.a0AfB_stand-in",
            "expires_in": 3599,
            "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
            "token_type": "Bearer",
            "id_token": grant.id_token,
        })
        .to_string(),
    )
        .into_response()
}

impl TokenEndpoint {
    /// The endpoint for our web client `client_id` (its secret is [`CLIENT_SECRET`]).
    pub async fn start(client_id: &str) -> Self {
        let shared = Arc::new(Shared {
            client_id: client_id.to_owned(),
            grants: Mutex::new(HashMap::new()),
            exchanges: Mutex::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/token", axum::routing::post(token))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}/token"),
            shared,
            task,
        }
    }

    /// The user consented: `code` can be exchanged once, with `redirect_uri` and a verifier
    /// matching `code_challenge`, for `id_token`.
    pub fn grant(&self, code: &str, redirect_uri: &str, code_challenge: &str, id_token: &str) {
        self.shared.grants.lock().unwrap().insert(
            code.to_owned(),
            Grant {
                redirect_uri: redirect_uri.to_owned(),
                code_challenge: code_challenge.to_owned(),
                id_token: id_token.to_owned(),
            },
        );
    }

    /// Exchanges attempted so far.
    pub fn exchanges(&self) -> usize {
        *self.shared.exchanges.lock().unwrap()
    }
}
