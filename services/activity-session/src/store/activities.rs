//! The `activities` table: the preset catalog, seeded by the migrations and only read here.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
};

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

/// Activities by id, kept once read: the catalog's rows are only ever added (by migrations) and
/// never changed or removed, so a kept row cannot go stale. A miss reads through, so a row a
/// newer replica migrated in is found; misses are not kept, so unknown ids grow nothing. Every
/// session start looks its activity up here instead of in PostgreSQL (one round trip fewer).
#[derive(Clone, Debug, Default)]
pub struct Presets(Arc<RwLock<HashMap<Uuid, ActivityRow>>>);

impl Presets {
    pub async fn get(
        &self,
        conn: &mut PgConnection,
        id: Uuid,
    ) -> sqlx::Result<Option<ActivityRow>> {
        let kept = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned();
        if kept.is_some() {
            return Ok(kept);
        }
        let row = get(conn, id).await?;
        if let Some(row) = &row {
            self.0
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, row.clone());
        }
        Ok(row)
    }
}
