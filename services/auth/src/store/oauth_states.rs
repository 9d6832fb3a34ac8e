//! `oauth_states`: pending server-side web sign-ins (state stored as SHA-256, PKCE verifier,
//! raw nonce, redirect URI), each taken once.

use sqlx::PgExecutor;
use time::OffsetDateTime;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OauthState {
    pub provider: String,
    pub redirect_uri: String,
    pub code_verifier: String,
    pub nonce: String,
    pub expires_at: OffsetDateTime,
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    state_hash: &[u8],
    row: &OauthState,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oauth_states (state_hash, provider, redirect_uri, code_verifier, nonce, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(state_hash)
    .bind(&row.provider)
    .bind(&row.redirect_uri)
    .bind(&row.code_verifier)
    .bind(&row.nonce)
    .bind(now)
    .bind(row.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes and returns the pending sign-in of `state_hash` for `provider` (expired or not: the
/// caller judges), so a state can be used once only, even by two racing callbacks.
pub async fn take(
    db: impl PgExecutor<'_>,
    provider: &str,
    state_hash: &[u8],
) -> sqlx::Result<Option<OauthState>> {
    sqlx::query_as(
        "DELETE FROM oauth_states WHERE state_hash = $1 AND provider = $2
         RETURNING provider, redirect_uri, code_verifier, nonce, expires_at",
    )
    .bind(state_hash)
    .bind(provider)
    .fetch_optional(db)
    .await
}

/// Removes pending sign-ins that expired before `now`.
pub async fn purge_expired(db: impl PgExecutor<'_>, now: OffsetDateTime) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM oauth_states WHERE expires_at <= $1")
        .bind(now)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
