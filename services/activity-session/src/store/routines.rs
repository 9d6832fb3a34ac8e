//! The `routines` table: each user's routines, steps stored whole as JSON.

use sqlx::{PgConnection, types::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::routine::Step;

const COLUMNS: &str = "id, name, steps, created_at, updated_at";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RoutineRow {
    pub id: Uuid,
    pub name: String,
    pub steps: Json<Vec<Step>>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    name: &str,
    steps: &[Step],
    now: OffsetDateTime,
) -> sqlx::Result<RoutineRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO routines (id, user_id, name, steps, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(name)
    .bind(Json(steps))
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Routine `id` of `user`; None when missing or someone else's.
pub async fn get(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<RoutineRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM routines WHERE id = $1 AND user_id = $2"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// Up to `limit` routines of `user`, newest first, after the `(created_at, id)` cursor.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<RoutineRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM routines
         WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4"
    )))
    .bind(user)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Replaces routine `id`'s name and steps; None when missing or someone else's.
pub async fn update(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
    name: &str,
    steps: &[Step],
    now: OffsetDateTime,
) -> sqlx::Result<Option<RoutineRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE routines SET name = $3, steps = $4, updated_at = $5
         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(user)
    .bind(name)
    .bind(Json(steps))
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// Deletes routine `id` of `user`; false when missing or someone else's.
pub async fn delete(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM routines WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user)
            .execute(conn)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Which of `ids` name no activity of the catalog.
pub async fn unknown_activities(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT i FROM unnest($1::uuid[]) AS i WHERE NOT EXISTS (SELECT 1 FROM activities a WHERE a.id = i)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await
}

pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM routines WHERE user_id = $1")
        .bind(user)
        .execute(conn)
        .await?
        .rows_affected())
}

/// Moves every routine of `source` to `target` (routines never collide: both keep theirs).
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE routines SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
