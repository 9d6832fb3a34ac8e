//! A stand-in for Twilio's Messages API (axum on 127.0.0.1:0), speaking its protocol:
//! `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP basic auth
//! (AccountSid : AuthToken) and a form-encoded body (`To`, `From` or `MessagingServiceSid`,
//! `Body`); `201 Created` with the message resource as Twilio returns it, or Twilio's error
//! object (`{"code", "message", "more_info", "status"}`) for bad credentials (20003), a missing
//! field (21602/21603/21604) or a number told to fail with [`Twilio::refuse`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "stand-in-auth-token";
pub const FROM: &str = "+15005550006";

/// One message Twilio accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub to: String,
    /// `From`, or the `MessagingServiceSid` when that was sent instead.
    pub from: String,
    pub body: String,
}

#[derive(Default)]
struct Shared {
    messages: Mutex<Vec<SentMessage>>,
    /// To → (HTTP status, Twilio code, message).
    refused: Mutex<HashMap<String, (u16, i64, String)>>,
    requests: Mutex<usize>,
}

/// The stand-in. Dropping it stops the server.
pub struct Twilio {
    /// What to configure as the API base URL (`http://127.0.0.1:port`).
    pub base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Twilio {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: StatusCode, code: i64, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn create_message(
    State(shared): State<Arc<Shared>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    *shared.requests.lock().unwrap() += 1;
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    );
    let authorised = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    if sid != ACCOUNT_SID || !authorised {
        let mut r = error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"Twilio API\"".parse().unwrap(),
        );
        return r;
    }
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let fields: HashMap<String, String> = if form_type {
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    } else {
        HashMap::new()
    };
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let (to, body_text) = (get("To"), get("Body"));
    let from = match (get("From"), get("MessagingServiceSid")) {
        (f, _) if !f.is_empty() => f,
        (_, m) => m,
    };
    if to.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        );
    }
    if from.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            21603,
            "The source 'from' phone number is required to send an SMS.",
        );
    }
    if body_text.is_empty() {
        return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    }
    if let Some((status, code, message)) = shared.refused.lock().unwrap().get(&to).cloned() {
        return error(StatusCode::from_u16(status).unwrap(), code, &message);
    }
    let mut messages = shared.messages.lock().unwrap();
    messages.push(SentMessage {
        to: to.clone(),
        from: from.clone(),
        body: body_text.clone(),
    });
    let msid = format!("SM{:032x}", messages.len());
    let now = "Thu, 26 Nov 2026 08:00:00 +0000";
    let uri = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{msid}.json");
    let resource: Value = json!({
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": body_text,
        "date_created": now,
        "date_sent": null,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": if from.starts_with("MG") { Value::Null } else { json!(from) },
        "messaging_service_sid": if from.starts_with("MG") { json!(from) } else { Value::Null },
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": msid,
        "status": if from.starts_with("MG") { "accepted" } else { "queued" },
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{msid}/Media.json")},
        "to": to,
        "uri": uri,
    });
    (
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        resource.to_string(),
    )
        .into_response()
}

impl Twilio {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                axum::routing::post(create_message),
            )
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base_url: format!("http://{addr}"),
            shared,
            task,
        }
    }

    /// Messages accepted so far, oldest first.
    pub fn messages(&self) -> Vec<SentMessage> {
        self.shared.messages.lock().unwrap().clone()
    }

    /// Requests received (accepted or not).
    pub fn requests(&self) -> usize {
        *self.shared.requests.lock().unwrap()
    }

    /// Sends to `to` get this error from now on (e.g. 400 / 21211 "Invalid 'To' Phone Number").
    pub fn refuse(&self, to: &str, status: u16, code: i64, message: &str) {
        self.shared
            .refused
            .lock()
            .unwrap()
            .insert(to.to_owned(), (status, code, message.to_owned()));
    }
}
