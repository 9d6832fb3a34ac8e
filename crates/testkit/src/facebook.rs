//! A stand-in for the Facebook Graph API (axum on 127.0.0.1:0, under `/v21.0`), speaking its
//! JSON: `GET /debug_token?input_token=…&access_token={app_id}|{app_secret}` answers
//! `{"data": {app_id, type, application, data_access_expires_at, expires_at, is_valid,
//! issued_at, scopes, user_id[, error]}}`, and `GET /me?fields=…&access_token=…&appsecret_proof=…`
//! answers the requested fields; errors are Graph's `{"error": {message, type, code,
//! fbtrace_id}}` with HTTP 400.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::Uri;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

pub const APP_ID: &str = "1234567890";
pub const APP_SECRET: &str = "stand-in-app-secret";

/// What Facebook knows about one access token.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub app_id: String,
    pub user_id: String,
    pub expires_at: i64,
    pub is_valid: bool,
    pub kind: &'static str,
    pub name: String,
    pub email: Option<String>,
}

impl TokenInfo {
    /// A valid user token of our app for `user_id`, expiring at `expires_at`.
    pub fn user(user_id: &str, expires_at: i64) -> Self {
        Self {
            app_id: APP_ID.into(),
            user_id: user_id.into(),
            expires_at,
            is_valid: true,
            kind: "USER",
            name: "Ann Lee".into(),
            email: Some("ann@example.com".into()),
        }
    }
}

#[derive(Default)]
struct Shared {
    tokens: Mutex<HashMap<String, TokenInfo>>,
    /// Answer every request with 500.
    failing: Mutex<bool>,
}

/// The stand-in. Dropping it stops the server.
pub struct Graph {
    /// The Graph base URL to configure (`http://127.0.0.1:port/v21.0`).
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Graph {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn graph_error(message: &str, kind: &str, code: i64) -> Response {
    let body = json!({"error": {
        "message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEfGhIjK",
    }});
    json_response(StatusCode::BAD_REQUEST, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        body.to_string(),
    )
        .into_response()
}

/// The query's pairs, decoded (axum's `Query` is not enabled in this workspace).
fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn proof(token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn debug_token(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let q = query(&uri);
    if *shared.failing.lock().unwrap() {
        return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response();
    }
    if q.get("access_token").map(String::as_str) != Some(&format!("{APP_ID}|{APP_SECRET}")) {
        return graph_error(
            "Invalid OAuth access token signature.",
            "OAuthException",
            190,
        );
    }
    let input = q.get("input_token").cloned().unwrap_or_default();
    let known = shared.tokens.lock().unwrap().get(&input).cloned();
    let Some(t) = known else {
        return json_response(
            StatusCode::OK,
            &json!({"data": {
                "error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
                "is_valid": false,
                "scopes": [],
            }}),
        );
    };
    let mut data = json!({
        "app_id": t.app_id,
        "type": t.kind,
        "application": "Stride",
        "data_access_expires_at": t.expires_at + 86_400 * 90,
        "expires_at": t.expires_at,
        "is_valid": t.is_valid,
        "issued_at": t.expires_at - 5_184_000,
        "scopes": ["email", "public_profile"],
        "granular_scopes": [{"scope": "email"}, {"scope": "public_profile"}],
        "user_id": t.user_id,
    });
    if !t.is_valid {
        data["error"] = json!({
            "code": 190,
            "message": "Error validating access token: The user has not authorized application.",
            "subcode": 458,
        });
    }
    json_response(StatusCode::OK, &json!({ "data": data }))
}

async fn me(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let q = query(&uri);
    let token = q.get("access_token").cloned().unwrap_or_default();
    let known = shared.tokens.lock().unwrap().get(&token).cloned();
    let Some(t) = known.filter(|t| t.is_valid) else {
        return graph_error("Invalid OAuth access token data.", "OAuthException", 190);
    };
    if q.get("appsecret_proof") != Some(&proof(&token)) {
        return graph_error(
            "Invalid appsecret_proof provided in the API argument",
            "GraphMethodException",
            100,
        );
    }
    let fields = q.get("fields").cloned().unwrap_or_else(|| "id,name".into());
    let mut out = serde_json::Map::new();
    for field in fields.split(',') {
        match field {
            "id" => {
                out.insert("id".into(), json!(t.user_id));
            }
            "name" => {
                out.insert("name".into(), json!(t.name));
            }
            "email" => {
                if let Some(e) = &t.email {
                    out.insert("email".into(), json!(e));
                }
            }
            _ => {}
        }
    }
    json_response(StatusCode::OK, &Value::Object(out))
}

impl Graph {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/v21.0/debug_token", axum::routing::get(debug_token))
            .route("/v21.0/me", axum::routing::get(me))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}/v21.0"),
            shared,
            task,
        }
    }

    /// Makes `token` known to Facebook as `info`.
    pub fn add_token(&self, token: &str, info: TokenInfo) {
        self.shared
            .tokens
            .lock()
            .unwrap()
            .insert(token.to_owned(), info);
    }

    pub fn set_failing(&self, failing: bool) {
        *self.shared.failing.lock().unwrap() = failing;
    }
}
