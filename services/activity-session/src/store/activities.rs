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

pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ActivityRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM activities WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The catalog, kept in process. Its rows are only ever added by migrations, never changed or
/// removed, so a kept row cannot go stale: it is read once at start (after this binary's own
/// migrations ran), and listing and look-ups need no round trip. A replica therefore lists the
/// catalog of its own version; during a rolling upgrade a look-up by id of a row a newer
/// replica migrated in still reads through (misses are not kept, so unknown ids grow nothing).
/// Every session start and every `ListActivities` is served from here.
#[derive(Clone, Debug, Default)]
pub struct Presets(Arc<Kept>);

#[derive(Debug, Default)]
struct Kept {
    /// By slug, byte order: the listing's order and its cursor.
    listed: Vec<ActivityRow>,
    /// Ids of `listed`, and rows read through since.
    by_id: RwLock<HashMap<Uuid, ActivityRow>>,
}

impl Presets {
    /// Reads the whole catalog.
    pub async fn load(conn: &mut PgConnection) -> sqlx::Result<Self> {
        let rows: Vec<ActivityRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM activities"
        )))
        .fetch_all(conn)
        .await?;
        Ok(Self::new(rows))
    }

    fn new(mut rows: Vec<ActivityRow>) -> Self {
        rows.sort_by(|a, b| a.slug.cmp(&b.slug));
        let by_id = rows.iter().map(|r| (r.id, r.clone())).collect();
        Self(Arc::new(Kept {
            listed: rows,
            by_id: RwLock::new(by_id),
        }))
    }

    /// Up to `limit` activities by slug after `after`, only of `kind` when given. Keyed by
    /// slug so pages stay stable while the catalog grows.
    pub fn list(&self, after: Option<&str>, kind: Option<Kind>, limit: usize) -> Vec<ActivityRow> {
        let from = after.map_or(0, |a| {
            self.0.listed.partition_point(|r| r.slug.as_str() <= a)
        });
        let rest = self.0.listed.get(from..).unwrap_or_default();
        rest.iter()
            .filter(|r| kind.is_none_or(|k| r.kind == k))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Activity `id` if it is kept (no round trip); [`Presets::get`] reads a miss through.
    pub fn kept(&self, id: Uuid) -> Option<ActivityRow> {
        self.0
            .by_id
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    pub async fn get(
        &self,
        conn: &mut PgConnection,
        id: Uuid,
    ) -> sqlx::Result<Option<ActivityRow>> {
        if let Some(row) = self.kept(id) {
            return Ok(Some(row));
        }
        let row = get(conn, id).await?;
        if let Some(row) = &row {
            self.0
                .by_id
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, row.clone());
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(slug: &str, kind: Kind) -> ActivityRow {
        ActivityRow {
            id: Uuid::now_v7(),
            slug: slug.to_owned(),
            name: slug.to_owned(),
            kind,
            default_seconds: 60,
            description: String::new(),
        }
    }

    fn slugs(rows: &[ActivityRow]) -> Vec<&str> {
        rows.iter().map(|r| r.slug.as_str()).collect()
    }

    #[test]
    fn lists_by_slug_after_the_cursor_and_of_one_kind() {
        let p = Presets::new(vec![
            row("squats", Kind::Workout),
            row("focus", Kind::Focus),
            row("jumping-jacks", Kind::Workout),
            row("break", Kind::Break),
        ]);
        assert_eq!(
            slugs(&p.list(None, None, 10)),
            ["break", "focus", "jumping-jacks", "squats"]
        );
        assert_eq!(slugs(&p.list(None, None, 2)), ["break", "focus"]);
        // The cursor is the last slug served, whether or not it is still in the catalog.
        assert_eq!(
            slugs(&p.list(Some("focus"), None, 10)),
            ["jumping-jacks", "squats"]
        );
        assert_eq!(
            slugs(&p.list(Some("g"), None, 10)),
            ["jumping-jacks", "squats"]
        );
        assert_eq!(slugs(&p.list(Some("squats"), None, 10)), Vec::<&str>::new());
        assert_eq!(
            slugs(&p.list(None, Some(Kind::Workout), 10)),
            ["jumping-jacks", "squats"]
        );
        assert_eq!(
            slugs(&p.list(Some("jumping-jacks"), Some(Kind::Workout), 1)),
            ["squats"]
        );
    }
}
