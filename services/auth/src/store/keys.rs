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

/// Deletes keys retired at or before `before` (private halves nobody needs any more).
pub async fn delete_retired(conn: &mut PgConnection, before: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= $1")
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
         WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, kid DESC",
    )
    .bind(retired_after)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}
