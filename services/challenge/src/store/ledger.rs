//! The `points_ledger`: append-only, one entry per user and cause (`challenge:<id>:<window>`,
//! `achievement:<id>`). Every entry adds to the points boards of the local date it was earned
//! on (`super::leaderboard`).

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::leaderboard;
use crate::domain::leaderboard::{Metric, boards};

/// Points to award for one cause.
#[derive(Clone, Debug)]
pub struct PointsAward<'a> {
    pub user: Uuid,
    /// Unique per user: the same cause never pays twice.
    pub cause: &'a str,
    /// "challenge" or "achievement".
    pub reason: &'a str,
    pub challenge: Option<Uuid>,
    pub window_start: Option<Date>,
    pub points: i32,
    /// The local date it was earned on: which week and month boards it counts toward.
    pub local_date: Date,
    /// When it was earned, which orders leaderboard ties.
    pub at: OffsetDateTime,
}

/// The cause of a challenge window's points.
pub fn challenge_cause(challenge: Uuid, window_start: Date) -> String {
    format!("challenge:{challenge}:{window_start}")
}

/// Appends `a` unless its cause was paid already; true when it was paid now. The boards follow
/// in the same transaction.
pub async fn award(conn: &mut PgConnection, a: &PointsAward<'_>) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO points_ledger
             (id, user_id, challenge_id, window_start, points, created_at, cause, reason, local_date)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(a.user)
    .bind(a.challenge)
    .bind(a.window_start)
    .bind(a.points)
    .bind(a.at)
    .bind(a.cause)
    .bind(a.reason)
    .bind(a.local_date)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if inserted && a.points != 0 {
        let b = boards(Metric::Points, a.local_date);
        leaderboard::add(conn, &b, a.user, i64::from(a.points), a.at).await?;
    }
    Ok(inserted)
}

/// Pays `points` to `user` for their window of `challenge`, earned at `at` (which orders
/// leaderboard ties), on the local date of `at` in the user's directory timezone. False when
/// that window was already paid: the unique cause is the last guard against paying twice.
/// (Settlement's entry point; [`award`] when the local date is known.)
pub async fn pay(
    conn: &mut PgConnection,
    user: Uuid,
    challenge: Uuid,
    window_start: Date,
    points: i32,
    at: OffsetDateTime,
) -> sqlx::Result<bool> {
    let timezone = stride_bus::directory::timezone(conn, user).await?;
    let local_date = stride_kit::convert::local_date(at, &timezone);
    let cause = challenge_cause(challenge, window_start);
    award(
        conn,
        &PointsAward {
            user,
            cause: &cause,
            reason: "challenge",
            challenge: Some(challenge),
            window_start: Some(window_start),
            points,
            local_date,
            at,
        },
    )
    .await
}

/// Moves `source`'s entries to `target`, except causes the target was paid for itself: a cause
/// pays once, and the target's entry stands. The source's remaining entries stay (see
/// [`super::purge_user`]); the caller rebuilds the target's boards.
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE points_ledger s SET user_id = $2
         WHERE s.user_id = $1 AND NOT EXISTS (
             SELECT 1 FROM points_ledger t WHERE t.user_id = $2 AND t.cause = s.cause)",
    )
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?
    .rows_affected())
}

/// One ledger entry as the history shows it.
#[derive(Debug, sqlx::FromRow)]
pub struct Entry {
    pub id: Uuid,
    pub points: i32,
    pub reason: String,
    pub cause: String,
    pub local_date: Date,
    pub created_at: OffsetDateTime,
}

/// `user`'s entries newest first, after the cursor `(created_at, id)` when given.
pub async fn history(
    conn: &mut PgConnection,
    user: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Entry>> {
    let (at, id) = after.unzip();
    sqlx::query_as(
        "SELECT id, points, reason, cause, local_date, created_at FROM points_ledger
         WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(user)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// `user`'s points in all, and since local date `since`.
pub async fn totals(conn: &mut PgConnection, user: Uuid, since: Date) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT coalesce(sum(points), 0)::bigint,
                coalesce(sum(points) FILTER (WHERE local_date >= $2), 0)::bigint
         FROM points_ledger WHERE user_id = $1",
    )
    .bind(user)
    .bind(since)
    .fetch_one(conn)
    .await
}
