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

/// The key that signs new tokens, swapped in place when the schedule rotates it.
pub struct KeyRing {
    current: std::sync::RwLock<Arc<SigningKey>>,
}

impl KeyRing {
    pub fn new(key: SigningKey) -> Self {
        Self {
            current: std::sync::RwLock::new(Arc::new(key)),
        }
    }

    pub fn current(&self) -> Arc<SigningKey> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, key: SigningKey) {
        let mut cur = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cur.kid != key.kid {
            tracing::info!(kid = %key.kid, "signing with a new key");
            *cur = Arc::new(key);
        }
    }

    /// Rotates when the newest active key is older than `period`, then picks up the newest key
    /// (possibly made by another replica). Returns the kid of a key this call created.
    pub async fn rotate_if_due(
        &self,
        pool: &PgPool,
        now: OffsetDateTime,
        period: time::Duration,
    ) -> anyhow::Result<Option<String>> {
        let mut tx = pool.begin().await?;
        // One rotation at a time across replicas; the others wait, then see the fresh key.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('stride.auth.signing_keys'))")
            .execute(&mut *tx)
            .await?;
        let newest: Option<(OffsetDateTime,)> = sqlx::query_as(
            "SELECT created_at FROM signing_keys WHERE retired_at IS NULL
             ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let mut created = None;
        if newest.is_none_or(|(at,)| at + period <= now) {
            let key = SigningKey::generate()?;
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&key.kid)
                .bind(&key.pkcs8)
                .bind(&key.public)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            created = Some(key.kid.clone());
        }
        // Private halves past their grace are no longer needed by anyone: delete them.
        sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= $1")
            .bind(now - RETIRED_GRACE)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if let Some(kid) = &created {
            tracing::info!(%kid, "rotated the signing key");
        }
        if let Some(k) = newest_active(pool).await? {
            self.set(k);
        }
        Ok(created)
    }

    /// Checks the rotation schedule every minute until `token` is cancelled.
    pub fn spawn_schedule(
        self: &Arc<Self>,
        pool: PgPool,
        clock: stride_kit::clock::SharedClock,
        period: time::Duration,
        token: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        let ring = self.clone();
        tokio::spawn(async move {
            // `start` has just applied the schedule: the first check is a minute out.
            let every = std::time::Duration::from_secs(60);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = token.cancelled() => return Ok(()),
                    _ = tick.tick() => {}
                }
                if let Err(e) = ring.rotate_if_due(&pool, clock.now(), period).await {
                    tracing::warn!(error = %e, "signing key rotation check failed");
                }
            }
        })
    }
}
