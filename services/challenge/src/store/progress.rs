//! The `progress` table: one count per challenge, participant and window. The row lock an
//! upsert takes serialises concurrent changes to the same window.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::award::Standing;

/// A participant's count in one window.
#[derive(Debug, sqlx::FromRow)]
pub struct ProgressRow {
    pub current: i32,
    pub completed_at: Option<OffsetDateTime>,
}

pub async fn get(
    conn: &mut PgConnection,
    challenge: Uuid,
    user: Uuid,
    window_start: Date,
) -> sqlx::Result<Option<ProgressRow>> {
    sqlx::query_as(
        "SELECT current, completed_at FROM progress
         WHERE challenge_id = $1 AND user_id = $2 AND window_start = $3",
    )
    .bind(challenge)
    .bind(user)
    .bind(window_start)
    .fetch_optional(conn)
    .await
}

/// A window as a change to its count left it, with what completing it pays.
#[derive(Debug, sqlx::FromRow)]
pub struct WindowRow {
    pub challenge_id: Uuid,
    pub title: String,
    pub points: i32,
    pub target: i32,
    pub window_start: Date,
    pub current: i32,
    /// Completed before the change.
    pub completed: bool,
}

impl WindowRow {
    pub fn standing(&self) -> Standing {
        Standing {
            current: self.current,
            target: self.target,
            completed: self.completed,
        }
    }
}

/// Columns of [`WindowRow`] over `changed` (rows returned by an upsert of `progress`).
const WINDOWS_OF_CHANGED: &str =
    "SELECT w.challenge_id, c.title, c.points, c.target, w.window_start,
        w.current, w.completed_at IS NOT NULL AS completed
    FROM changed w JOIN challenges c ON c.id = w.challenge_id";

/// Counts one session in `user`'s window of `challenge`.
pub async fn count_session(
    conn: &mut PgConnection,
    challenge: Uuid,
    user: Uuid,
    window_start: Date,
) -> sqlx::Result<WindowRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH changed AS (
             INSERT INTO progress (challenge_id, user_id, window_start, current) VALUES ($1, $2, $3, 1)
             ON CONFLICT (challenge_id, user_id, window_start) DO UPDATE SET current = progress.current + 1
             RETURNING challenge_id, window_start, current, completed_at
         ) {WINDOWS_OF_CHANGED}"
    )))
    .bind(challenge)
    .bind(user)
    .bind(window_start)
    .fetch_one(conn)
    .await
}

/// Adds `source`'s windows to `target`'s: counts add up, completed at the earlier completion.
/// Returns every window of the target this changed. The source's rows stay (see
/// [`super::purge_user`]).
pub async fn merge(
    conn: &mut PgConnection,
    source: Uuid,
    target: Uuid,
) -> sqlx::Result<Vec<WindowRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH changed AS (
             INSERT INTO progress (challenge_id, user_id, window_start, current, completed_at)
             SELECT challenge_id, $2, window_start, current, completed_at FROM progress WHERE user_id = $1
             ON CONFLICT (challenge_id, user_id, window_start) DO UPDATE
             SET current = progress.current + EXCLUDED.current,
                 completed_at = LEAST(progress.completed_at, EXCLUDED.completed_at)
             RETURNING challenge_id, window_start, current, completed_at
         ) {WINDOWS_OF_CHANGED}
         ORDER BY w.challenge_id, w.window_start"
    )))
    .bind(source)
    .bind(target)
    .fetch_all(conn)
    .await
}

/// Marks `user`'s window of `challenge` completed at `at`.
pub async fn complete(
    conn: &mut PgConnection,
    challenge: Uuid,
    user: Uuid,
    window_start: Date,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE progress SET completed_at = $4
         WHERE challenge_id = $1 AND user_id = $2 AND window_start = $3",
    )
    .bind(challenge)
    .bind(user)
    .bind(window_start)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
