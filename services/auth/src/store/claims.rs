//! `guest_claims`: a guest's claim (email, username, password) waiting for the email's proof.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct ClaimRow {
    pub username: String,
    pub password_hash: String,
}

/// Stores (or replaces) the pending claim of guest `user`.
pub async fn upsert(
    conn: &mut PgConnection,
    user: Uuid,
    email: &str,
    username: &str,
    hash: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO guest_claims (user_id, email, username, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE
             SET email = $2, username = $3, password_hash = $4, created_at = $5",
    )
    .bind(user)
    .bind(email)
    .bind(username)
    .bind(hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes and returns `user`'s pending claim for `email`, if any.
pub async fn take(
    conn: &mut PgConnection,
    user: Uuid,
    email: &str,
) -> sqlx::Result<Option<ClaimRow>> {
    sqlx::query_as(
        "DELETE FROM guest_claims WHERE user_id = $1 AND email = $2
         RETURNING username, password_hash",
    )
    .bind(user)
    .bind(email)
    .fetch_optional(&mut *conn)
    .await
}

/// Claims older than `before` are forgotten (their code died long ago).
pub async fn delete_created_before(
    db: impl sqlx::PgExecutor<'_>,
    before: OffsetDateTime,
) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM guest_claims WHERE created_at < $1")
            .bind(before)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Forgets `user`'s pending claim.
pub async fn delete(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM guest_claims WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
