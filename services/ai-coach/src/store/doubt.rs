//! The `doubts` table. Functions run on the caller's connection or transaction and never begin
//! or commit.

use sqlx::{PgConnection, types::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::doubt::Answer;

#[derive(Debug, sqlx::FromRow)]
pub struct DoubtRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub question: String,
    pub subject_id: Option<Uuid>,
    pub topic_id: Option<Uuid>,
    pub answer: Json<Answer>,
    pub path: String,
    pub model: String,
    pub reason: String,
    pub answer_id: Uuid,
    pub created_at: OffsetDateTime,
}

pub async fn insert(conn: &mut PgConnection, d: &DoubtRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO doubts (id, user_id, question, subject_id, topic_id, answer, path, model, reason, answer_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(d.id)
    .bind(d.user_id)
    .bind(&d.question)
    .bind(d.subject_id)
    .bind(d.topic_id)
    .bind(&d.answer)
    .bind(&d.path)
    .bind(&d.model)
    .bind(&d.reason)
    .bind(d.answer_id)
    .bind(d.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's doubt; another user's is None.
pub async fn get(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<Option<DoubtRow>> {
    sqlx::query_as("SELECT * FROM doubts WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// The user's doubts, newest first, after the (created_at, id) cursor.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<DoubtRow>> {
    sqlx::query_as(
        "SELECT * FROM doubts
         WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(user)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// user.deleted.v1: every doubt of the user.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM doubts WHERE user_id = $1")
        .bind(user)
        .execute(conn)
        .await?
        .rows_affected())
}

/// user.merged.v1: the guest's doubts become the target's.
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE doubts SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
