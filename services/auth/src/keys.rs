//! Signing keys: the active one signs access tokens; the public set is served by GetJwks.

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::PgPool;
use stride_kit::jwt::SigningKey;
use time::OffsetDateTime;

use crate::store::{self, keys};

/// A retired key is still published this long, so tokens it signed keep verifying until they
/// expire: the access-token lifetime (15 minutes) plus 5 minutes of clock skew. A revoked key is
/// not published at all.
pub const RETIRED_GRACE: time::Duration = time::Duration::minutes(20);

/// Whether a new key is due: there is no active key, or the newest is `period` old.
fn rotation_due(
    newest: Option<OffsetDateTime>,
    now: OffsetDateTime,
    period: time::Duration,
) -> bool {
    newest.is_none_or(|at| at + period <= now)
}

/// The active key, created on first start. Two replicas starting together may both insert;
/// both then pick the newest, and the other key is still published, so nothing breaks.
pub async fn load_or_create(pool: &PgPool, now: OffsetDateTime) -> anyhow::Result<SigningKey> {
    if let Some(k) = keys::newest_active(pool).await? {
        return Ok(k);
    }
    let key = SigningKey::generate()?;
    keys::insert(pool, &key, now).await?;
    tracing::info!(kid = %key.kid, "generated a signing key");
    Ok(keys::newest_active(pool).await?.unwrap_or(key))
}

/// Public keys to publish at `now`: active ones and those retired within [`RETIRED_GRACE`].
pub async fn published(
    pool: &PgPool,
    now: OffsetDateTime,
) -> sqlx::Result<Vec<stride_proto::auth::Jwk>> {
    let keys = keys::public(pool, now - RETIRED_GRACE).await?;
    Ok(keys.iter().map(SigningKey::jwk).collect())
}

/// Retires the active key and makes a new one now, whatever the schedule (an operator's
/// "rotate now"). Running replicas pick the new key up within a minute (their schedule check).
pub async fn rotate_now(pool: &PgPool, now: OffsetDateTime) -> anyhow::Result<String> {
    let mut tx = pool.begin().await?;
    store::advisory_xact_lock(&mut tx, keys::ROTATION_LOCK).await?;
    let key = SigningKey::generate()?;
    keys::retire_active(&mut tx, now).await?;
    keys::insert(&mut *tx, &key, now).await?;
    tx.commit().await?;
    tracing::info!(kid = %key.kid, "rotated the signing key on request");
    Ok(key.kid)
}

/// Withdraws a compromised key: it is no longer published (verifiers drop it at their next key
/// fetch, at most [`stride_kit::authn::JWKS_REFRESH`] later, at once when restarted) and its
/// private half is erased. If it was the active key a new one is made in the same transaction.
/// Returns the new key's kid when one was made; an error when `kid` is unknown.
pub async fn revoke(
    pool: &PgPool,
    kid: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Option<String>> {
    let mut tx = pool.begin().await?;
    store::advisory_xact_lock(&mut tx, keys::ROTATION_LOCK).await?;
    let Some(was_active) = keys::revoke(&mut tx, kid, now).await? else {
        anyhow::bail!("no signing key with kid {kid:?}");
    };
    // Whatever else is active keeps signing; with none left, a fresh key takes over.
    let mut created = None;
    if was_active && keys::newest_active_created(&mut tx).await?.is_none() {
        let key = SigningKey::generate()?;
        keys::insert(&mut *tx, &key, now).await?;
        created = Some(key.kid);
    }
    tx.commit().await?;
    tracing::warn!(%kid, "signing key revoked");
    Ok(created)
}

/// Auth verifies tokens with its own published keys, read from its database (no call to
/// itself). Used by `main` and the tests.
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
        store::advisory_xact_lock(&mut tx, keys::ROTATION_LOCK).await?;
        let newest = keys::newest_active_created(&mut tx).await?;
        let mut created = None;
        if rotation_due(newest, now, period) {
            let key = SigningKey::generate()?;
            keys::retire_active(&mut tx, now).await?;
            keys::insert(&mut *tx, &key, now).await?;
            created = Some(key.kid.clone());
        }
        // Private halves past their grace are no longer needed by anyone: delete them.
        keys::delete_retired(&mut tx, now - RETIRED_GRACE).await?;
        tx.commit().await?;
        if let Some(kid) = &created {
            tracing::info!(%kid, "rotated the signing key");
        }
        if let Some(k) = keys::newest_active(pool).await? {
            self.set(k);
        }
        Ok(created)
    }

    /// Checks the rotation schedule every minute until `token` is cancelled.
    /// Applies the rotation schedule every minute until `stop` (a background task of the
    /// service; `start` has just applied it, so the first check is a minute out).
    pub async fn run_schedule(
        self: Arc<Self>,
        pool: PgPool,
        clock: stride_kit::clock::SharedClock,
        period: time::Duration,
        stop: tokio_util::sync::CancellationToken,
    ) -> anyhow::Result<()> {
        let every = std::time::Duration::from_secs(60);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            if let Err(e) = self.rotate_if_due(&pool, clock.now(), period).await {
                tracing::warn!(error = %e, "signing key rotation check failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;

    #[test]
    fn rotation_is_due_at_the_period() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let period = Duration::days(30);
        assert!(rotation_due(None, now, period));
        assert!(!rotation_due(Some(now - Duration::days(29)), now, period));
        assert!(rotation_due(Some(now - period), now, period));
        assert!(rotation_due(Some(now - Duration::days(90)), now, period));
    }
}
