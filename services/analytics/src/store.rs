//! SQL for rollups, timezones and streaks.

use sqlx::{PgConnection, PgPool};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

pub async fn add_session(
    tx: &mut PgConnection,
    user: Uuid,
    date: Date,
    focus: bool,
    seconds: i64,
) -> Result<(), sqlx::Error> {
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
    .bind(i32::from(focus))
    .bind(seconds)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn add_points(
    tx: &mut PgConnection,
    user: Uuid,
    date: Date,
    points: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO daily_rollups (user_id, local_date, points) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, local_date) DO UPDATE SET points = daily_rollups.points + EXCLUDED.points",
    )
    .bind(user)
    .bind(date)
    .bind(points)
    .execute(tx)
    .await?;
    Ok(())
}

/// Stores the profile's zone unless a newer (or equal) revision is already stored.
pub async fn set_timezone(
    tx: &mut PgConnection,
    user: Uuid,
    tz: &str,
    revision: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_timezones (user_id, timezone, revision) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET timezone = EXCLUDED.timezone, revision = EXCLUDED.revision,
           observed_at = now()
         WHERE user_timezones.revision < EXCLUDED.revision",
    )
    .bind(user)
    .bind(tz)
    .bind(revision)
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes every row of `user` (account deletion); returns how many went. Idempotent.
pub async fn purge_user(tx: &mut PgConnection, user: Uuid) -> Result<u64, sqlx::Error> {
    let mut purged = 0;
    for sql in [
        "DELETE FROM daily_rollups WHERE user_id = $1",
        "DELETE FROM user_timezones WHERE user_id = $1",
    ] {
        purged += sqlx::query(sql)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    Ok(purged)
}

/// Merges guest `source` into `target` (`user.merged.v1`); returns how many rows of the source
/// went. Daily rollups add up per local date, so streaks (computed from the days) follow. The
/// target's timezone wins; a target with none yet takes the guest's as a hint (revision -1), which
/// the target's first profile revision replaces. Idempotent: a replay finds no source row.
pub async fn merge_users(
    tx: &mut PgConnection,
    source: Uuid,
    target: Uuid,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
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
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO user_timezones (user_id, timezone, revision, observed_at)
         SELECT $2, timezone, -1, observed_at FROM user_timezones WHERE user_id = $1
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *tx)
    .await?;
    purge_user(tx, source).await
}

/// Until a profile update arrives, the zone of the user's latest session stands in (revision
/// -1); a profile revision always wins over it.
pub async fn timezone_hint(
    tx: &mut PgConnection,
    user: Uuid,
    tz: &str,
    at: Option<OffsetDateTime>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_timezones (user_id, timezone, revision, observed_at) VALUES ($1, $2, -1, COALESCE($3, now()))
         ON CONFLICT (user_id) DO UPDATE SET timezone = EXCLUDED.timezone, observed_at = EXCLUDED.observed_at
         WHERE user_timezones.revision < 0 AND user_timezones.observed_at < EXCLUDED.observed_at",
    )
    .bind(user)
    .bind(tz)
    .bind(at)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn timezone(pool: &PgPool, user: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT timezone FROM user_timezones WHERE user_id = $1")
        .bind(user)
        .fetch_optional(pool)
        .await
}

/// One stored day.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Rollup {
    pub local_date: Date,
    pub sessions_completed: i32,
    pub focus_sessions: i32,
    pub total_seconds: i64,
}

pub async fn rollups(
    pool: &PgPool,
    user: Uuid,
    from: Date,
    to: Date,
) -> Result<Vec<Rollup>, sqlx::Error> {
    sqlx::query_as(
        "SELECT local_date, sessions_completed, focus_sessions, total_seconds FROM daily_rollups
         WHERE user_id = $1 AND local_date BETWEEN $2 AND $3 ORDER BY local_date",
    )
    .bind(user)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// A run of consecutive active dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Run {
    pub first: Date,
    pub last: Date,
    pub days: i64,
}

/// Runs of consecutive dates with at least one completed session (gaps and islands: within a
/// run, date minus its rank is constant).
pub async fn active_runs(pool: &PgPool, user: Uuid) -> Result<Vec<Run>, sqlx::Error> {
    sqlx::query_as(
        "SELECT min(local_date) AS first, max(local_date) AS last, count(*) AS days
         FROM (SELECT local_date, local_date - (row_number() OVER (ORDER BY local_date))::int AS grp
               FROM daily_rollups WHERE user_id = $1 AND sessions_completed > 0) d
         GROUP BY grp ORDER BY first",
    )
    .bind(user)
    .fetch_all(pool)
    .await
}

/// (current, longest) streak in days. The current streak is the run containing `today`, or
/// the one ending yesterday when today has no session yet; days after `today` don't count.
pub fn streaks(runs: &[Run], today: Date) -> (i64, i64) {
    let longest = runs.iter().map(|r| r.days).max().unwrap_or(0);
    let yesterday = today.previous_day();
    let current = runs
        .iter()
        .find_map(|r| {
            if r.first <= today && today <= r.last {
                Some((today - r.first).whole_days() + 1)
            } else if Some(r.last) == yesterday {
                Some(r.days)
            } else {
                None
            }
        })
        .unwrap_or(0);
    (current, longest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn run(first: Date, last: Date) -> Run {
        Run {
            first,
            last,
            days: (last - first).whole_days() + 1,
        }
    }

    #[test]
    fn streak_rules() {
        let runs = [
            run(date!(2026 - 01 - 01), date!(2026 - 01 - 05)),
            run(date!(2026 - 01 - 08), date!(2026 - 01 - 09)),
        ];
        // Today active: counts through today.
        assert_eq!(streaks(&runs, date!(2026 - 01 - 09)), (2, 5));
        // Today not yet active: the run ending yesterday still counts.
        assert_eq!(streaks(&runs, date!(2026 - 01 - 10)), (2, 5));
        // Two days without: broken.
        assert_eq!(streaks(&runs, date!(2026 - 01 - 11)), (0, 5));
        // Looking back from inside a run ignores its future days.
        assert_eq!(streaks(&runs, date!(2026 - 01 - 03)), (3, 5));
        assert_eq!(streaks(&[], date!(2026 - 01 - 03)), (0, 0));
    }
}
