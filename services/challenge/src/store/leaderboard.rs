//! The points leaderboard, read from the ledger; names come from the user directory
//! (`stride_bus::directory`, kept from `profile.updated.v1`).

use sqlx::PgConnection;
use uuid::Uuid;

/// One user's line: total points and rank.
#[derive(Debug, sqlx::FromRow)]
pub struct Ranked {
    pub user_id: Uuid,
    /// Empty when no profile update for the user was seen.
    pub display_name: String,
    pub points: i64,
    pub rank: i64,
}

/// Totals per user, ranked by points and then by who reached their total first (the latest
/// award's time). Equal points reached at the same instant share a rank; ranks have no gaps.
const RANKED: &str = "WITH totals AS (
        SELECT user_id, sum(points)::bigint AS points, max(created_at) AS reached
        FROM points_ledger GROUP BY user_id
    ), ranked AS (
        SELECT t.user_id, coalesce(u.display_name, '') AS display_name, t.points, t.reached,
               dense_rank() OVER (ORDER BY t.points DESC, t.reached ASC) AS rank
        FROM totals t LEFT JOIN user_directory u ON u.user_id = t.user_id
    )";

/// The first `n` lines, by rank then user id.
pub async fn top(conn: &mut PgConnection, n: i64) -> sqlx::Result<Vec<Ranked>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{RANKED} SELECT user_id, display_name, points, rank FROM ranked ORDER BY rank, user_id LIMIT $1"
    )))
    .bind(n)
    .fetch_all(conn)
    .await
}

/// `user`'s line; none while they have no points.
pub async fn of(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Option<Ranked>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{RANKED} SELECT user_id, display_name, points, rank FROM ranked WHERE user_id = $1"
    )))
    .bind(user)
    .fetch_optional(conn)
    .await
}
