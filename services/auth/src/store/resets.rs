//! `password_resets`: mailed reset tokens, stored as SHA-256.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

/// Whether a reset was requested for `user` after `since` (the resend cooldown).
pub async fn requested_since(
    conn: &mut PgConnection,
    user: Uuid,
    since: OffsetDateTime,
) -> sqlx::Result<bool> {
    let (recent,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM password_resets WHERE user_id = $1 AND created_at > $2)",
    )
    .bind(user)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    Ok(recent)
}

/// Kills `user`'s unused reset tokens (a new one is about to be sent).
pub async fn kill_unused(
    conn: &mut PgConnection,
    user: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
        .bind(user)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    token_hash: &[u8],
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether a usable reset token has `hash` (a check outside any transaction).
pub async fn usable(
    db: impl PgExecutor<'_>,
    hash: &[u8],
    now: OffsetDateTime,
) -> sqlx::Result<bool> {
    let live: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(live.is_some())
}

/// The usable reset token with `hash`, locked: (its id, its user).
pub async fn lock_usable(
    conn: &mut PgConnection,
    hash: &[u8],
    now: OffsetDateTime,
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    sqlx::query_as(
        "SELECT id, user_id FROM password_resets
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE",
    )
    .bind(hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn mark_used(conn: &mut PgConnection, id: Uuid, now: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query("UPDATE password_resets SET used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
