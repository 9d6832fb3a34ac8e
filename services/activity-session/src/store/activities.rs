//! The `activities` table: the preset catalog, seeded by the migrations and only read here.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::activity::Kind;

const COLUMNS: &str = "id, slug, name, kind, default_seconds, description";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ActivityRow {
    pub id: Uuid,
    /// Stable key and the listing's order.
    pub slug: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub kind: Kind,
    pub default_seconds: i32,
    pub description: String,
}

/// Up to `limit` activities by slug, after `after`, only of `kind` when given. Keyed by slug so
/// pages stay stable while the catalog grows.
pub async fn list(
    conn: &mut PgConnection,
    after: Option<&str>,
    kind: Option<Kind>,
    limit: i64,
) -> sqlx::Result<Vec<ActivityRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM activities
         WHERE ($1::text IS NULL OR slug > $1) AND ($2::text IS NULL OR kind = $2)
         ORDER BY slug LIMIT $3"
    )))
    .bind(after)
    .bind(kind.map(Kind::as_str))
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ActivityRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM activities WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}
