//! Usage accounting.

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

/// One answered recommendation.
pub struct Usage<'a> {
    pub user_id: Uuid,
    /// `rules`, `llm` or `rules_fallback`.
    pub source: &'static str,
    pub model: Option<&'a str>,
    pub prompt_tokens: i32,
    pub completion_tokens: i32,
    pub at: OffsetDateTime,
}

pub async fn record(pool: &PgPool, u: &Usage<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO recommendations (id, user_id, source, model, prompt_tokens, completion_tokens, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(u.user_id)
    .bind(u.source)
    .bind(u.model)
    .bind(u.prompt_tokens)
    .bind(u.completion_tokens)
    .bind(u.at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes every row of `user_id` (account deletion); returns how many went.
pub async fn purge_user(tx: &mut sqlx::PgConnection, user_id: Uuid) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM recommendations WHERE user_id = $1")
            .bind(user_id)
            .execute(tx)
            .await?
            .rows_affected(),
    )
}

/// Gives every row of `source` to `target` (account merge); returns how many moved.
pub async fn move_user(
    tx: &mut sqlx::PgConnection,
    source: Uuid,
    target: Uuid,
) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE recommendations SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(tx)
            .await?
            .rows_affected(),
    )
}
