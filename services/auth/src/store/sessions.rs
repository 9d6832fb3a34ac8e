//! `refresh_tokens` as sessions: one session is one refresh-token family.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

/// Locks every refresh token of `user` (optionally only of `family`) before they are revoked.
/// A refresh in flight holds its token's row lock and adds the rotated token to the family; waiting
/// for it here means the revoking statement that follows (a fresh snapshot under READ COMMITTED)
/// sees that new token too, so a racing rotation cannot outlive the revocation.
async fn lock_tokens(
    conn: &mut PgConnection,
    user: Uuid,
    family: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "SELECT 1 FROM refresh_tokens
         WHERE user_id = $1 AND ($2::uuid IS NULL OR family_id = $2) FOR UPDATE",
    )
    .bind(user)
    .bind(family)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Revokes the user's refresh tokens except those of `keep`; returns how many sessions ended
/// (unrevoked families whose newest token had not expired: what ListSessions would have shown).
pub async fn revoke_all(
    conn: &mut PgConnection,
    user: Uuid,
    keep: Option<Uuid>,
    now: OffsetDateTime,
) -> sqlx::Result<i32> {
    lock_tokens(conn, user, None).await?;
    let (n,): (i64,) = sqlx::query_as(
        "WITH revoked AS (
             UPDATE refresh_tokens SET revoked_at = $2
             WHERE user_id = $1 AND revoked_at IS NULL
               AND ($3::uuid IS NULL OR family_id <> $3)
             RETURNING family_id, expires_at)
         SELECT count(DISTINCT family_id) FILTER (WHERE expires_at > $2) FROM revoked",
    )
    .bind(user)
    .bind(now)
    .bind(keep)
    .fetch_one(&mut *conn)
    .await?;
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

/// Revokes `family` of `user`; false when the user has no such family.
pub async fn revoke(
    conn: &mut PgConnection,
    user: Uuid,
    family: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<bool> {
    lock_tokens(conn, user, Some(family)).await?;
    let revoked = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $3
         WHERE user_id = $1 AND family_id = $2 AND revoked_at IS NULL",
    )
    .bind(user)
    .bind(family)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if revoked > 0 {
        return Ok(true);
    }
    // Ending an already ended session of one's own is a no-op, not an error.
    let (exists,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE user_id = $1 AND family_id = $2)",
    )
    .bind(user)
    .bind(family)
    .fetch_one(&mut *conn)
    .await?;
    Ok(exists)
}

/// Revokes a whole family whoever holds it (a spent token came back); rows changed.
pub async fn revoke_family(
    conn: &mut PgConnection,
    family: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub family_id: Uuid,
    pub created: OffsetDateTime,
    pub last_used: OffsetDateTime,
    pub expires: OffsetDateTime,
}

/// `user`'s live sessions, newest first, after the cursor `after` (created, family), at most
/// `limit`. A family is live while none of its tokens is revoked (revocation covers the whole
/// family and nothing is added afterwards) and its newest token has not expired.
pub async fn live(
    db: impl PgExecutor<'_>,
    user: Uuid,
    now: OffsetDateTime,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<SessionRow>> {
    sqlx::query_as(
        "SELECT family_id, min(created_at) AS created, max(created_at) AS last_used,
                max(expires_at) AS expires
         FROM refresh_tokens WHERE user_id = $1
         GROUP BY family_id
         HAVING bool_and(revoked_at IS NULL) AND max(expires_at) > $2
            AND ($3::timestamptz IS NULL OR (min(created_at), family_id) < ($3, $4))
         ORDER BY min(created_at) DESC, family_id DESC
         LIMIT $5",
    )
    .bind(user)
    .bind(now)
    .bind(after.map(|(created, _)| created))
    .bind(after.map(|(_, family)| family))
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn delete_of_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether `family` is a session of `user` that was never revoked (a revocation covers the whole
/// family) and has not expired.
pub async fn is_live(
    db: impl PgExecutor<'_>,
    user: Uuid,
    family: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<bool> {
    let (live,): (Option<bool>,) = sqlx::query_as(
        "SELECT bool_and(revoked_at IS NULL) AND max(expires_at) > $3
         FROM refresh_tokens WHERE user_id = $1 AND family_id = $2",
    )
    .bind(user)
    .bind(family)
    .bind(now)
    .fetch_one(db)
    .await?;
    Ok(live.unwrap_or(false))
}
