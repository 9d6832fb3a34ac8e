//! analytics' tables: `daily_rollups` (figures per user and local date) and `timezone_hints`
//! (the zone of a user's latest session, until a profile zone arrives in the user directory).
//! Functions run on the caller's connection or transaction and never begin or commit.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{rollup, streak::Run, summary::Day, timezone::Hint};

/// Adds a completed session to its day.
pub async fn add_session(
    conn: &mut PgConnection,
    user: Uuid,
    date: Date,
    session: rollup::Session,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO daily_rollups (user_id, local_date, sessions_completed, focus_sessions, total_seconds)
         VALUES ($1, $2, 1, $3, $4)
         ON CONFLICT (user_id, local_date) DO UPDATE SET
           sessions_completed = daily_rollups.sessions_completed + 1,
           focus_sessions = daily_rollups.focus_sessions + EXCLUDED.focus_sessions,
           total_seconds = daily_rollups.total_seconds + EXCLUDED.total_seconds",
    )
    .bind(user)
    .bind(date)
    .bind(i32::from(session.focus))
    .bind(session.seconds)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds a challenge award to its day.
pub async fn add_points(
    conn: &mut PgConnection,
    user: Uuid,
    date: Date,
    points: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO daily_rollups (user_id, local_date, points) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, local_date) DO UPDATE SET points = daily_rollups.points + EXCLUDED.points",
    )
    .bind(user)
    .bind(date)
    .bind(points)
    .execute(conn)
    .await?;
    Ok(())
}

/// The stored days of `user` from `from` to `to`, by date.
pub async fn rollups(
    conn: &mut PgConnection,
    user: Uuid,
    from: Date,
    to: Date,
) -> sqlx::Result<Vec<Day>> {
    let rows: Vec<(Date, i32, i32, i64)> = sqlx::query_as(
        "SELECT local_date, sessions_completed, focus_sessions, total_seconds FROM daily_rollups
         WHERE user_id = $1 AND local_date BETWEEN $2 AND $3 ORDER BY local_date",
    )
    .bind(user)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(date, sessions_completed, focus_sessions, seconds)| Day {
            date,
            sessions_completed,
            focus_sessions,
            seconds,
        })
        .collect())
}

/// Runs of consecutive dates with at least one completed session, oldest first (gaps and
/// islands: within a run, date minus its rank is constant).
pub async fn active_runs(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<Run>> {
    let rows: Vec<(Date, Date, i64)> = sqlx::query_as(
        "SELECT min(local_date) AS first, max(local_date) AS last, count(*) AS days
         FROM (SELECT local_date, local_date - (row_number() OVER (ORDER BY local_date))::int AS grp
               FROM daily_rollups WHERE user_id = $1 AND sessions_completed > 0) d
         GROUP BY grp ORDER BY first",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(first, last, days)| Run { first, last, days })
        .collect())
}

/// Records the zone of a session that ended at `at`, unless a later session's is stored
/// (session events arrive in any order).
pub async fn observe_hint(conn: &mut PgConnection, user: Uuid, hint: &Hint) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO timezone_hints (user_id, timezone, observed_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET timezone = EXCLUDED.timezone, observed_at = EXCLUDED.observed_at
         WHERE timezone_hints.observed_at < EXCLUDED.observed_at",
    )
    .bind(user)
    .bind(&hint.timezone)
    .bind(hint.observed_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's hint, if a session told one.
pub async fn hint(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Option<Hint>> {
    let row: Option<(String, OffsetDateTime)> =
        sqlx::query_as("SELECT timezone, observed_at FROM timezone_hints WHERE user_id = $1")
            .bind(user)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(timezone, observed_at)| Hint {
        timezone,
        observed_at,
    }))
}

/// Deletes every analytics row of `user` (account deletion, or the source of a merge once
/// moved); returns how many went. The user directory is forgotten separately.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    stride_kit::db::delete_user_rows(
        conn,
        user,
        &[
            "DELETE FROM daily_rollups WHERE user_id = $1",
            "DELETE FROM timezone_hints WHERE user_id = $1",
        ],
    )
    .await
}
/// Adds the daily figures of guest `source` to `target`'s, per local date (streaks follow, being
/// computed from the days). Returns how many days were moved; the source's rows stay for
/// [`purge_user`].
pub async fn merge_rollups(
    conn: &mut PgConnection,
    source: Uuid,
    target: Uuid,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO daily_rollups (user_id, local_date, sessions_completed, focus_sessions, total_seconds, points)
         SELECT $2, local_date, sessions_completed, focus_sessions, total_seconds, points
         FROM daily_rollups WHERE user_id = $1
         ON CONFLICT (user_id, local_date) DO UPDATE SET
           sessions_completed = daily_rollups.sessions_completed + EXCLUDED.sessions_completed,
           focus_sessions = daily_rollups.focus_sessions + EXCLUDED.focus_sessions,
           total_seconds = daily_rollups.total_seconds + EXCLUDED.total_seconds,
           points = daily_rollups.points + EXCLUDED.points",
    )
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Gives `user` the hint `hint` unless it has one already.
pub async fn put_hint(conn: &mut PgConnection, user: Uuid, hint: &Hint) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO timezone_hints (user_id, timezone, observed_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user)
    .bind(&hint.timezone)
    .bind(hint.observed_at)
    .execute(conn)
    .await?;
    Ok(())
}
