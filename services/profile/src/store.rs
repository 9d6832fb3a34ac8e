//! The `profiles` table. Functions run on the caller's connection or transaction and never
//! begin or commit.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{self, Changes, Fields};

pub const COLUMNS: &str =
    "user_id, username, display_name, timezone, locale, revision, created_at, updated_at";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProfileRow {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub timezone: String,
    pub locale: String,
    pub revision: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl ProfileRow {
    pub fn fields(&self) -> Fields {
        Fields {
            display_name: self.display_name.clone(),
            timezone: self.timezone.clone(),
            locale: self.locale.clone(),
        }
    }
}

/// Creates the profile of a new account with defaults (revision 1) unless it exists; returns
/// the created row, `None` when it was already there.
pub async fn create(
    tx: &mut PgConnection,
    user_id: Uuid,
    username: &str,
    timezone: &str,
    now: OffsetDateTime,
) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO profiles (user_id, username, display_name, timezone, revision, created_at, updated_at)
         VALUES ($1, $2, $3, $5, 1, $4, $4)
         ON CONFLICT (user_id) DO NOTHING
         RETURNING {COLUMNS}"
    )))
    .bind(user_id)
    .bind(username)
    .bind(domain::initial_display_name(username))
    .bind(now)
    .bind(timezone)
    .fetch_optional(tx)
    .await
}

pub async fn get(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM profiles WHERE user_id = $1"
    )))
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// Applies `changes` and bumps the revision; `None` when the profile does not exist.
pub async fn update(
    tx: &mut PgConnection,
    user_id: Uuid,
    changes: &Changes,
    now: OffsetDateTime,
) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE profiles SET
             display_name = COALESCE($2, display_name),
             timezone = COALESCE($3, timezone),
             locale = COALESCE($4, locale),
             revision = revision + 1,
             updated_at = GREATEST($5, updated_at)
         WHERE user_id = $1
         RETURNING {COLUMNS}"
    )))
    .bind(user_id)
    .bind(&changes.display_name)
    .bind(&changes.timezone)
    .bind(&changes.locale)
    .bind(now)
    .fetch_optional(tx)
    .await
}

/// Deletes every row of `user_id` (account deletion); returns how many went.
pub async fn purge_user(tx: &mut PgConnection, user_id: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM profiles WHERE user_id = $1")
        .bind(user_id)
        .execute(tx)
        .await?
        .rows_affected())
}

/// Merges the profile of guest `source` into `target` (`user.merged.v1`, rule in
/// [`domain::merge`]); a target without a profile takes the source's
/// whole. The source's row is deleted. Returns the target's row when it changed (its revision
/// bumped), `None` when nothing changed — including a replay, which finds no source row.
pub async fn merge(
    tx: &mut PgConnection,
    source: Uuid,
    target: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<Option<ProfileRow>> {
    // Lock both rows in a fixed order so two merges touching the same users cannot deadlock.
    let rows: Vec<ProfileRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM profiles WHERE user_id = ANY($1) ORDER BY user_id FOR UPDATE"
    )))
    .bind([source, target])
    .fetch_all(&mut *tx)
    .await?;
    let Some(from) = rows.iter().find(|r| r.user_id == source) else {
        return Ok(None);
    };
    let Some(into) = rows.iter().find(|r| r.user_id == target) else {
        // The target has no profile yet: the guest's becomes its, under the next revision so
        // consumers that somehow hold an older one for the target take it.
        return sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE profiles SET user_id = $2, revision = revision + 1,
                 updated_at = GREATEST($3, updated_at)
             WHERE user_id = $1
             RETURNING {COLUMNS}"
        )))
        .bind(source)
        .bind(target)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await;
    };
    let (changes, username) = domain::merge(
        &into.fields(),
        &into.username,
        &from.fields(),
        &from.username,
    );
    purge_user(tx, source).await?;
    if username.is_none() && changes.is_empty() {
        return Ok(None);
    }
    if let Some(username) = &username {
        sqlx::query("UPDATE profiles SET username = $2 WHERE user_id = $1")
            .bind(target)
            .bind(username)
            .execute(&mut *tx)
            .await?;
    }
    update(tx, target, &changes, now).await
}
