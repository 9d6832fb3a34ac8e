//! What GetChallengeStats reads, and the `shutdowns` it keeps for it.

use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

/// Records (or, for a reversal, takes back for good) the shutdown reflection `cause` of `user`
/// on `local_date` at `minute_of_day` local time. Idempotent by cause.
pub async fn record_shutdown(
    conn: &mut PgConnection,
    user: Uuid,
    cause: &str,
    local_date: Date,
    minute_of_day: i32,
    reversal: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO shutdowns (user_id, cause_id, local_date, minute_of_day, reversed)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, cause_id) DO UPDATE SET reversed = true
         WHERE EXCLUDED.reversed",
    )
    .bind(user)
    .bind(cause)
    .bind(local_date)
    .bind(minute_of_day.clamp(0, 1439))
    .bind(reversal)
    .execute(conn)
    .await?;
    Ok(())
}

/// The standing shutdowns of `user` on local dates from `since`: (date, minute of day).
pub async fn shutdowns_since(
    conn: &mut PgConnection,
    user: Uuid,
    since: Date,
) -> sqlx::Result<Vec<(Date, i32)>> {
    sqlx::query_as(
        "SELECT local_date, minute_of_day FROM shutdowns
         WHERE user_id = $1 AND local_date >= $2 AND NOT reversed ORDER BY local_date",
    )
    .bind(user)
    .bind(since)
    .fetch_all(conn)
    .await
}

/// Points awarded by challenges (not achievements) and windows completed by `user`.
pub async fn totals(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT (SELECT COALESCE(sum(points), 0)::bigint FROM points_ledger
                 WHERE user_id = $1 AND reason = 'challenge'),
                (SELECT count(*) FROM progress WHERE user_id = $1 AND completed_at IS NOT NULL)",
    )
    .bind(user)
    .fetch_one(conn)
    .await
}

/// Moves `source`'s shutdowns to `target` (a cause both have stays once); the rest goes with
/// [`super::purge_user`].
pub async fn merge_shutdowns(
    conn: &mut PgConnection,
    source: Uuid,
    target: Uuid,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE shutdowns s SET user_id = $2
         WHERE s.user_id = $1 AND NOT EXISTS (
             SELECT 1 FROM shutdowns t WHERE t.user_id = $2 AND t.cause_id = s.cause_id)",
    )
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?
    .rows_affected())
}
