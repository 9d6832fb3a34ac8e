//! Signing keys: the active one signs access tokens; the public set is served by GetJwks.

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::PgPool;
use stride_kit::jwt::SigningKey;
use time::OffsetDateTime;

/// A retired key is still published this long, so tokens it signed keep verifying until they
/// expire (they live 15 minutes; a day leaves room for clock skew and cached key sets).
pub const RETIRED_GRACE: time::Duration = time::Duration::days(1);

type KeyRow = (String, Vec<u8>, Vec<u8>);

fn from_row((kid, pkcs8, public): KeyRow) -> SigningKey {
    SigningKey { kid, pkcs8, public }
}

async fn newest_active(pool: &PgPool) -> sqlx::Result<Option<SigningKey>> {
    let row: Option<KeyRow> = sqlx::query_as(
        "SELECT kid, private_pkcs8, public_key FROM signing_keys
         WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(from_row))
}

/// The active key, created on first start. Two replicas starting together may both insert;
/// both then pick the newest, and the other key is still published, so nothing breaks.
pub async fn load_or_create(pool: &PgPool, now: OffsetDateTime) -> anyhow::Result<SigningKey> {
    if let Some(k) = newest_active(pool).await? {
        return Ok(k);
    }
    let key = SigningKey::generate()?;
    sqlx::query("INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&key.kid)
        .bind(&key.pkcs8)
        .bind(&key.public)
        .bind(now)
        .execute(pool)
        .await?;
    tracing::info!(kid = %key.kid, "generated a signing key");
    Ok(newest_active(pool).await?.unwrap_or(key))
}

/// Public keys to publish at `now`: active ones and those retired within [`RETIRED_GRACE`].
pub async fn published(
    pool: &PgPool,
    now: OffsetDateTime,
) -> sqlx::Result<Vec<stride_proto::auth::Jwk>> {
    let rows: Vec<KeyRow> = sqlx::query_as(
        "SELECT kid, ''::bytea, public_key FROM signing_keys
         WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, kid DESC",
    )
    .bind(now - RETIRED_GRACE)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| from_row(r).jwk()).collect())
}

/// Auth verifies tokens with its own published keys, read from its database (no call to
/// itself). Used by `main`; tests pass any verifier since no auth method needs a token yet.
pub struct DbJwks {
    pub pool: PgPool,
    pub clock: stride_kit::clock::SharedClock,
}

impl stride_kit::authn::JwksSource for DbJwks {
    fn fetch(&self) -> BoxFuture<'static, anyhow::Result<Vec<stride_proto::auth::Jwk>>> {
        let pool = self.pool.clone();
        let now = self.clock.now();
        Box::pin(async move { Ok(published(&pool, now).await?) })
    }
}

/// Shared handle to the signing key.
pub type Key = Arc<SigningKey>;
