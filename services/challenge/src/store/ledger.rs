//! The `points_ledger`: points awarded, at most one entry per challenge, user and window (its
//! unique key).

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// Pays `points` to `user` for their window of `challenge`, earned at `at` (which orders
/// leaderboard ties). False when that window was already paid: the unique key is the last guard
/// against paying twice.
pub async fn pay(
    conn: &mut PgConnection,
    user: Uuid,
    challenge: Uuid,
    window_start: Date,
    points: i32,
    at: OffsetDateTime,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO points_ledger (id, user_id, challenge_id, window_start, points, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (challenge_id, user_id, window_start) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(challenge)
    .bind(window_start)
    .bind(points)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Moves `source`'s awards to `target`, except for windows the target was paid for itself: a
/// window pays out once, and the target's award stands. The source's remaining entries stay
/// (see [`super::purge_user`]).
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE points_ledger s SET user_id = $2
         WHERE s.user_id = $1 AND NOT EXISTS (
             SELECT 1 FROM points_ledger t
             WHERE t.user_id = $2 AND t.challenge_id = s.challenge_id AND t.window_start = s.window_start)",
    )
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?
    .rows_affected())
}
