//! The sink's HTTP API (see the module docs of `sink`).

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Store;
use crate::url::query_param;

const MAX_SMS_TO: usize = 64;
const MAX_SMS_TEXT: usize = 4096;
const MAX_REQUEST_BODY: usize = 64 * 1024;

pub(crate) async fn serve(listener: TcpListener, store: Arc<Store>, token: CancellationToken) {
    let app = Router::new()
        .route("/messages", get(list_mail).delete(clear_mail))
        .route("/messages/latest", get(latest_mail))
        .route("/sms", get(list_sms).post(post_sms).delete(clear_sms))
        .route("/sms/latest", get(latest_sms))
        .route("/healthz", get(ok))
        .route("/readyz", get(ok))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .with_state(store);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(token.cancelled_owned())
        .await;
    if let Err(err) = served {
        tracing::warn!(error = %err, "dev sink: HTTP server stopped");
    }
}

async fn ok() -> &'static str {
    "ok\n"
}

fn to_param(uri: &Uri) -> Option<String> {
    query_param(uri.query(), "to").filter(|to| !to.trim().is_empty())
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no {what}\n")).into_response()
}

async fn list_mail(State(store): State<Arc<Store>>, uri: Uri) -> Response {
    Json(store.mails(to_param(&uri).as_deref())).into_response()
}

async fn latest_mail(State(store): State<Arc<Store>>, uri: Uri) -> Response {
    match store.mails(to_param(&uri).as_deref()).pop() {
        Some(mail) => Json(mail).into_response(),
        None => not_found("mail"),
    }
}

async fn clear_mail(State(store): State<Arc<Store>>) -> StatusCode {
    store.clear_mail();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SmsIn {
    to: String,
    text: String,
}

async fn post_sms(State(store): State<Arc<Store>>, Json(sms): Json<SmsIn>) -> Response {
    let to = sms.to.trim();
    if to.is_empty() || to.len() > MAX_SMS_TO || to.chars().any(char::is_control) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("\"to\" must be 1..={MAX_SMS_TO} bytes without control characters\n"),
        )
            .into_response();
    }
    if sms.text.len() > MAX_SMS_TEXT {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("\"text\" is longer than {MAX_SMS_TEXT} bytes\n"),
        )
            .into_response();
    }
    let stored = store.add_sms(to.to_owned(), sms.text);
    tracing::info!(id = stored.id, to = %stored.to, "dev sink: sms received");
    (StatusCode::CREATED, Json(stored)).into_response()
}

async fn list_sms(State(store): State<Arc<Store>>, uri: Uri) -> Response {
    Json(store.sms(to_param(&uri).as_deref())).into_response()
}

async fn latest_sms(State(store): State<Arc<Store>>, uri: Uri) -> Response {
    match store.sms(to_param(&uri).as_deref()).pop() {
        Some(sms) => Json(sms).into_response(),
        None => not_found("sms"),
    }
}

async fn clear_sms(State(store): State<Arc<Store>>) -> StatusCode {
    store.clear_sms();
    StatusCode::NO_CONTENT
}
