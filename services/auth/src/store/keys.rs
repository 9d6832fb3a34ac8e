//! `signing_keys`: Ed25519 keys, the private half kept until a day after retirement.

use sqlx::{PgConnection, PgExecutor};
use stride_kit::jwt::SigningKey;
use time::OffsetDateTime;

type KeyRow = (String, Vec<u8>, Vec<u8>);

fn from_row((kid, pkcs8, public): KeyRow) -> SigningKey {
    SigningKey { kid, pkcs8, public }
}

/// Rotations across replicas are serialised under this advisory lock.
pub const ROTATION_LOCK: &str = "stride.auth.signing_keys";

/// The newest key that is not retired.
pub async fn newest_active(db: impl PgExecutor<'_>) -> sqlx::Result<Option<SigningKey>> {
    let row: Option<KeyRow> = sqlx::query_as(
        "SELECT kid, private_pkcs8, public_key FROM signing_keys
         WHERE retired_at IS NULL ORDER BY created_at DESC, kid DESC LIMIT 1",
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(from_row))
}

/// When the newest unretired key was made.
pub async fn newest_active_created(
    conn: &mut PgConnection,
) -> sqlx::Result<Option<OffsetDateTime>> {
    let newest: Option<(OffsetDateTime,)> = sqlx::query_as(
        "SELECT created_at FROM signing_keys WHERE retired_at IS NULL
         ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(newest.map(|(at,)| at))
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    key: &SigningKey,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&key.kid)
        .bind(&key.pkcs8)
        .bind(&key.public)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn retire_active(conn: &mut PgConnection, now: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Withdraws `kid` at once: retired if it was not, no longer published, its private half erased.
/// Whether it was active (a new key must then sign); None when there is no such key.
pub async fn revoke(
    conn: &mut PgConnection,
    kid: &str,
    now: OffsetDateTime,
) -> sqlx::Result<Option<bool>> {
    let row: Option<(bool,)> = sqlx::query_as(
        "UPDATE signing_keys k SET revoked_at = coalesce(k.revoked_at, $2),
                retired_at = coalesce(k.retired_at, $2), private_pkcs8 = ''::bytea
         FROM (SELECT kid, retired_at IS NULL AS active FROM signing_keys WHERE kid = $1 FOR UPDATE) old
         WHERE k.kid = old.kid RETURNING old.active",
    )
    .bind(kid)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(active,)| active))
}

/// (kid, created, retired, revoked) of every stored key, newest first.
pub async fn list(
    db: impl PgExecutor<'_>,
) -> sqlx::Result<
    Vec<(
        String,
        OffsetDateTime,
        Option<OffsetDateTime>,
        Option<OffsetDateTime>,
    )>,
> {
    sqlx::query_as(
        "SELECT kid, created_at, retired_at, revoked_at FROM signing_keys
         ORDER BY created_at DESC, kid DESC",
    )
    .fetch_all(db)
    .await
}

/// Deletes keys retired at or before `before` (private halves nobody needs any more).
pub async fn delete_retired(conn: &mut PgConnection, before: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM signing_keys
         WHERE retired_at IS NOT NULL AND retired_at <= $1 AND revoked_at IS NULL",
    )
    .bind(before)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Public halves of the active keys and those retired after `retired_after`, newest first (the
/// private half is not read).
pub async fn public(
    db: impl PgExecutor<'_>,
    retired_after: OffsetDateTime,
) -> sqlx::Result<Vec<SigningKey>> {
    let rows: Vec<KeyRow> = sqlx::query_as(
        "SELECT kid, ''::bytea, public_key FROM signing_keys
         WHERE revoked_at IS NULL AND (retired_at IS NULL OR retired_at > $1)
         ORDER BY created_at DESC, kid DESC",
    )
    .bind(retired_after)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}
