//! analytics' tables: `daily_rollups` (figures per user and local date), `active_runs` (the
//! runs of active dates, for streaks) and `timezone_hints`
//! (the zone of a user's latest session, until a profile zone arrives in the user directory).
//! Functions run on the caller's connection or transaction and never begin or commit.

// H (issue 15): trends, mastery, share cards, figures for the CSV export and the dashboard.
pub mod evaluations;
pub mod figures;
pub mod mastery;
pub mod share;

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{rollup, streak::Run, summary::Day, timezone::Hint};

/// Adds a completed session to its day; the day's first session also joins the user's runs.
pub async fn add_session(
    conn: &mut PgConnection,
    user: Uuid,
    date: Date,
    session: rollup::Session,
) -> sqlx::Result<()> {
    let sessions: i32 = sqlx::query_scalar(
        "INSERT INTO daily_rollups (user_id, local_date, sessions_completed, focus_sessions, total_seconds)
         VALUES ($1, $2, 1, $3, $4)
         ON CONFLICT (user_id, local_date) DO UPDATE SET
           sessions_completed = daily_rollups.sessions_completed + 1,
           focus_sessions = daily_rollups.focus_sessions + EXCLUDED.focus_sessions,
           total_seconds = daily_rollups.total_seconds + EXCLUDED.total_seconds
         RETURNING sessions_completed",
    )
    .bind(user)
    .bind(date)
    .bind(i32::from(session.focus))
    .bind(session.seconds)
    .fetch_one(&mut *conn)
    .await?;
    if sessions == 1 {
        join_runs(conn, user, date).await?;
    }
    Ok(())
}

/// `date` became active: it joins the run ending the day before and the run starting the day
/// after (either, both, or neither: then it is a run of its own). Days arrive in any order,
/// so all four cases happen. A per-user transaction lock keeps two replicas adding adjacent
/// days from each missing the other's run.
async fn join_runs(conn: &mut PgConnection, user: Uuid, date: Date) -> sqlx::Result<()> {
    lock_runs(conn, user).await?;
    // The run starting the day after, if any, is absorbed…
    let after: Option<Date> = sqlx::query_scalar(
        "DELETE FROM active_runs WHERE user_id = $1 AND first_date = $2::date + 1 RETURNING last_date",
    )
    .bind(user)
    .bind(date)
    .fetch_optional(&mut *conn)
    .await?;
    let last = after.unwrap_or(date);
    // …into the run ending the day before, if any…
    let extended = sqlx::query(
        "UPDATE active_runs SET last_date = $3 WHERE user_id = $1 AND last_date = $2::date - 1",
    )
    .bind(user)
    .bind(date)
    .bind(last)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // …or the day starts a run.
    if extended == 0 {
        sqlx::query(
            "INSERT INTO active_runs (user_id, first_date, last_date) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, first_date) DO UPDATE
               SET last_date = GREATEST(active_runs.last_date, EXCLUDED.last_date)",
        )
        .bind(user)
        .bind(date)
        .bind(last)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Serialises changes to `user`'s runs until the transaction ends.
async fn lock_runs(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))")
        .bind(user)
        .execute(conn)
        .await?;
    Ok(())
}

/// Recomputes `user`'s runs from their days (after a merge added days in bulk).
async fn rebuild_runs(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    lock_runs(conn, user).await?;
    sqlx::query("DELETE FROM active_runs WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO active_runs (user_id, first_date, last_date)
         SELECT $1, min(local_date), max(local_date)
         FROM (SELECT local_date, local_date - (row_number() OVER (ORDER BY local_date))::int AS grp
               FROM daily_rollups WHERE user_id = $1 AND sessions_completed > 0) d
         GROUP BY grp",
    )
    .bind(user)
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

/// Runs of consecutive dates with at least one completed session, oldest first (kept by
/// [`add_session`]).
pub async fn active_runs(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<Run>> {
    let rows: Vec<(Date, Date)> = sqlx::query_as(
        "SELECT first_date, last_date FROM active_runs WHERE user_id = $1 ORDER BY first_date",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(first, last)| Run {
            first,
            last,
            days: (last - first).whole_days() + 1,
        })
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
            "DELETE FROM active_runs WHERE user_id = $1",
            "DELETE FROM timezone_hints WHERE user_id = $1",
        ],
    )
    .await
}
/// Adds the daily figures of guest `source` to `target`'s, per local date, and recomputes the
/// target's runs from the merged days. Returns how many days were moved; the source's rows
/// stay for [`purge_user`].
pub async fn merge_rollups(
    conn: &mut PgConnection,
    source: Uuid,
    target: Uuid,
) -> sqlx::Result<u64> {
    let moved = sqlx::query(
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
    .execute(&mut *conn)
    .await?
    .rows_affected();
    rebuild_runs(conn, target).await?;
    Ok(moved)
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
