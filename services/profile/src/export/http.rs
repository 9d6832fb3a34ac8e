//! `GET /v1/exports/{export_id}/archive` on profile's HTTP port: the archive, to whoever shows
//! its download token (`?token=`) or the owner's access token (`Authorization: Bearer`).
//! Anything else — unknown, someone else's, not finished, expired, a wrong token — is the same
//! 404, so the answer tells a stranger nothing.

use std::{path::PathBuf, sync::Arc};

use axum::{
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use sqlx::PgPool;
use stride_kit::{Verifier, clock::SharedClock};
use uuid::Uuid;

use super::{domain, store};

#[derive(Clone)]
pub struct Download {
    pub pool: PgPool,
    pub verifier: Arc<Verifier>,
    pub clock: SharedClock,
    pub dir: PathBuf,
}

/// `token=…` from the query string (the token is base64url: nothing to decode).
fn token_param(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|kv| kv.strip_prefix("token="))
}

pub fn router(d: Download) -> axum::Router {
    axum::Router::new()
        .route(
            "/v1/exports/{export_id}/archive",
            axum::routing::get(archive),
        )
        .with_state(d)
}

async fn archive(
    State(d): State<Download>,
    Path(export_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    match serve(&d, &export_id, token_param(query.as_deref()), &headers).await {
        Ok(r) => r,
        Err(code) => (code, code.canonical_reason().unwrap_or_default()).into_response(),
    }
}

async fn serve(
    d: &Download,
    export_id: &str,
    token: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, StatusCode> {
    let id = Uuid::parse_str(export_id).map_err(|_| StatusCode::NOT_FOUND)?;
    let mut conn = d
        .pool
        .acquire()
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let row = match (token, headers.get(header::AUTHORIZATION)) {
        (Some(t), _) if !t.is_empty() && t.len() <= 128 => {
            store::by_token(&mut conn, &domain::token_hash(t))
                .await
                .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
                .filter(|r| r.export_id == id)
        }
        (_, Some(auth)) => {
            let caller = d
                .verifier
                .caller(auth.to_str().ok())
                .await
                .map_err(|_| StatusCode::UNAUTHORIZED)?;
            store::by_id(&mut conn, id)
                .await
                .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
                .filter(|r| r.user_id == caller.user_id)
        }
        _ => return Err(StatusCode::UNAUTHORIZED),
    };
    let row = row.ok_or(StatusCode::NOT_FOUND)?;
    drop(conn);
    let file = match (&row.file_name, row.expires_at > d.clock.now()) {
        (Some(f), true) if row.state == "succeeded" => f.clone(),
        _ => return Err(StatusCode::NOT_FOUND),
    };
    let bytes = tokio::fs::read(d.dir.join(&file))
        .await
        .map_err(|_| StatusCode::NOT_FOUND)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"stride-export-{id}.tar.gz\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
