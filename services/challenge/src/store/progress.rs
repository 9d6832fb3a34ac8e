//! The `progress` table: one count per challenge, participant and window. The row lock an
//! upsert takes serialises concurrent changes to the same window.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{
    award,
    challenge::GoalKind,
    goal::{Effect, Standing},
};

/// A window as a change to its count left it, with what completing it pays.
#[derive(Debug, sqlx::FromRow)]
pub struct WindowRow {
    pub challenge_id: Uuid,
    pub title: String,
    pub points: i32,
    pub target: i32,
    #[sqlx(try_from = "String")]
    pub goal_kind: GoalKind,
    pub window_start: Date,
    pub current: i32,
    /// Completed before the change.
    pub completed: bool,
}

impl WindowRow {
    pub fn standing(&self) -> award::Standing {
        award::Standing {
            current: self.current,
            target: self.target,
            completed: self.completed,
        }
    }
}

/// Columns of [`WindowRow`] over `changed` (rows returned by an upsert of `progress`).
const WINDOWS_OF_CHANGED: &str =
    "SELECT w.challenge_id, c.title, c.points, c.target, c.goal_kind, w.window_start,
        w.current, w.completed_at IS NOT NULL AS completed
    FROM changed w JOIN challenges c ON c.id = w.challenge_id";

/// Sets the contribution of fact `cause` to `user`'s window of `challenge`: a count replaces
/// the amount (a correction), a reversal leaves a tombstone that no later delivery revives.
/// True when the standing contributions changed (a redelivery changes nothing).
pub async fn contribute(
    conn: &mut PgConnection,
    challenge: Uuid,
    user: Uuid,
    cause: &str,
    window_start: Date,
    local_date: Date,
    effect: Effect,
) -> sqlx::Result<bool> {
    let (amount, reversed) = match effect {
        Effect::Count(n) => (n, false),
        Effect::Reverse => (0, true),
    };
    let changed: Option<i32> = sqlx::query_scalar(
        "INSERT INTO contributions (challenge_id, user_id, cause_id, window_start, local_date, amount, reversed)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (challenge_id, user_id, cause_id) DO UPDATE
         SET amount = EXCLUDED.amount, reversed = EXCLUDED.reversed
         WHERE NOT contributions.reversed
           AND (contributions.amount, contributions.reversed) IS DISTINCT FROM (EXCLUDED.amount, EXCLUDED.reversed)
         RETURNING 1",
    )
    .bind(challenge)
    .bind(user)
    .bind(cause)
    .bind(window_start)
    .bind(local_date)
    .bind(amount)
    .bind(reversed)
    .fetch_optional(conn)
    .await?;
    Ok(changed.is_some())
}

/// The contributions that stand in `user`'s window of `challenge`.
pub async fn standing(
    conn: &mut PgConnection,
    challenge: Uuid,
    user: Uuid,
    window_start: Date,
) -> sqlx::Result<Vec<Standing>> {
    let rows: Vec<(Date, i32)> = sqlx::query_as(
        "SELECT local_date, amount FROM contributions
         WHERE challenge_id = $1 AND user_id = $2 AND window_start = $3 AND NOT reversed",
    )
    .bind(challenge)
    .bind(user)
    .bind(window_start)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(local_date, amount)| Standing { local_date, amount })
        .collect())
}

/// Stores `current` as `user`'s count in the window (computed from the standing contributions).
pub async fn set_current(
    conn: &mut PgConnection,
    challenge: Uuid,
    user: Uuid,
    window_start: Date,
    current: i32,
) -> sqlx::Result<WindowRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH changed AS (
             INSERT INTO progress (challenge_id, user_id, window_start, current) VALUES ($1, $2, $3, $4)
             ON CONFLICT (challenge_id, user_id, window_start) DO UPDATE SET current = EXCLUDED.current
             RETURNING challenge_id, window_start, current, completed_at
         ) {WINDOWS_OF_CHANGED}"
    )))
    .bind(challenge)
    .bind(user)
    .bind(window_start)
    .bind(current)
    .fetch_one(conn)
    .await
}

/// Moves `source`'s contributions to `target` (a fact both were counted for stays once). The
/// source's remaining rows go with [`super::purge_user`].
pub async fn merge_contributions(
    conn: &mut PgConnection,
    source: Uuid,
    target: Uuid,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE contributions s SET user_id = $2
         WHERE s.user_id = $1 AND NOT EXISTS (
             SELECT 1 FROM contributions t
             WHERE t.user_id = $2 AND t.challenge_id = s.challenge_id AND t.cause_id = s.cause_id)",
    )
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?
    .rows_affected())
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
