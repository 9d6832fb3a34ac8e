//! `GET /avatars/<key>` and `GET /avatars/presets/<id>.svg` on profile's HTTP port: avatar URLs
//! point here (or at a CDN in front of it, `PROFILE_PUBLIC_URL`). Public, as avatar
//! URLs are everywhere (leaderboards, cards); a key is unguessable (a UUIDv7 per upload) and a
//! replaced or purged avatar's file is gone.

use axum::{
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use super::storage::SharedStore;

pub fn routes(objects: SharedStore) -> axum::Router {
    axum::Router::new()
        .route("/avatars/presets/{file}", get(preset))
        .route("/avatars/{key}", get(upload))
        .with_state(objects)
}

async fn upload(State(objects): State<SharedStore>, Path(key): Path<String>) -> Response {
    if !super::is_valid_key(&key) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match objects.get(&key).await {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, super::CONTENT_TYPE),
                // A key is never reused: a new upload gets a new one.
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(%key, error = format!("{e:#}"), "avatar read failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

async fn preset(Path(file): Path<String>) -> Response {
    match file.strip_suffix(".svg").and_then(super::preset_svg) {
        Some(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            svg,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
