//! The `recommendations` table: one row per answered recommendation (usage accounting).
//! Functions run on the caller's connection or transaction and never begin or commit.

pub mod agents;
pub mod doubt;
pub mod materials;
pub mod practice;
pub mod quiz;

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::recommendation::Recommendation;

/// Records an answer given to `user` at `at`.
pub async fn record(
    conn: &mut PgConnection,
    user: Uuid,
    r: &Recommendation,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO recommendations (id, user_id, source, model, prompt_tokens, completion_tokens, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(r.source.as_str())
    .bind(r.usage_model.as_deref())
    .bind(r.prompt_tokens)
    .bind(r.completion_tokens)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes every row of `user` (account deletion); returns how many went.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM recommendations WHERE user_id = $1")
            .bind(user)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Gives every row of `source` to `target` (account merge); returns how many moved.
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE recommendations SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
