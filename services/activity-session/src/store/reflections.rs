//! The `shutdown_reflections` table.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::reflection::Rating;

const COLUMNS: &str = "id, user_id, productivity_rating, note, mindful_disconnect_completed, \
                       focus_session_id, submitted_at, local_date, timezone";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReflectionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    #[sqlx(try_from = "String")]
    pub productivity_rating: Rating,
    pub note: String,
    pub mindful_disconnect_completed: Vec<bool>,
    pub focus_session_id: Option<Uuid>,
    pub submitted_at: OffsetDateTime,
    pub local_date: Date,
    pub timezone: String,
}

/// What a submission stores.
#[derive(Clone, Debug)]
pub struct NewReflection<'a> {
    pub rating: Rating,
    pub note: &'a str,
    pub checklist: &'a [bool],
    pub focus_session_id: Option<Uuid>,
    pub submitted_at: OffsetDateTime,
    pub local_date: Date,
    pub timezone: &'a str,
}

pub async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    r: &NewReflection<'_>,
) -> sqlx::Result<ReflectionRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO shutdown_reflections (id, user_id, productivity_rating, note,
             mindful_disconnect_completed, focus_session_id, submitted_at, local_date, timezone)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(r.rating.as_str())
    .bind(r.note)
    .bind(r.checklist)
    .bind(r.focus_session_id)
    .bind(r.submitted_at)
    .bind(r.local_date)
    .bind(r.timezone)
    .fetch_one(conn)
    .await
}

/// Reflection `id` of `user`; None when it does not exist or is someone else's.
pub async fn get(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ReflectionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM shutdown_reflections WHERE id = $1 AND user_id = $2"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// Up to `limit` reflections of `user`, newest first (ids are UUIDv7), before `before`.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<ReflectionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM shutdown_reflections
         WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
    )))
    .bind(user)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The kind of session `id` when it is `user`'s; None when it does not exist or is someone
/// else's. Reads the sessions table, activity-session's own.
pub async fn session_kind(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT kind FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// Deletes every reflection of `user`; returns how many went.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM shutdown_reflections WHERE user_id = $1")
            .bind(user)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Moves every reflection of `source` to `target`; a replay moves nothing.
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE shutdown_reflections SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
