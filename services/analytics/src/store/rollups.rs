//! `daily_rollups` (figures per user and local date), `active_runs` (the runs of active dates
//! per streak kind) and `timezone_hints`
//! (the zone of a user's latest session, until a profile zone arrives in the user directory).
//! Functions run on the caller's connection or transaction and never begin or commit.

use std::sync::OnceLock;

use sqlx::{PgConnection, Row as _, postgres::PgRow};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::{
    rollup::{self, Figures, StreakKind},
    streak::{Policy, Run},
    timezone::Hint,
};

/// The SQL adding a [`Figures`] delta to a day, returning the day's new figures (built once
/// from the column list, which is this crate's constant).
fn add_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let cols = Figures::COLUMNS;
        let params: Vec<String> = (3..cols.len() + 3).map(|i| format!("${i}")).collect();
        let sets: Vec<String> = cols
            .iter()
            .map(|c| format!("{c} = daily_rollups.{c} + EXCLUDED.{c}"))
            .collect();
        let returning: Vec<String> = cols.iter().map(|c| format!("{c}::int8")).collect();
        format!(
            "INSERT INTO daily_rollups (user_id, local_date, {}) VALUES ($1, $2, {})
             ON CONFLICT (user_id, local_date) DO UPDATE SET {} RETURNING {}",
            cols.join(", "),
            params.join(", "),
            sets.join(", "),
            returning.join(", ")
        )
    })
}

/// Adds `delta` (negative for a correction) to `user`'s `date`, and keeps the runs of every
/// streak kind whose activity on that day changed. Returns the day's figures after.
pub async fn add(
    conn: &mut PgConnection,
    user: Uuid,
    date: Date,
    delta: &Figures,
) -> sqlx::Result<Figures> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(add_sql()))
        .bind(user)
        .bind(date);
    for v in delta.values() {
        q = q.bind(v);
    }
    let row = q.fetch_one(&mut *conn).await?;
    let values = (0..Figures::COLUMNS.len())
        .map(|i| row.try_get::<i64, _>(i))
        .collect::<sqlx::Result<Vec<i64>>>()?;
    let after = Figures::from_values(&values);
    let before = after - *delta;
    for (kind, active) in rollup::streak_changes(&before, &after) {
        if active {
            join_runs(conn, user, kind, date).await?;
        } else {
            split_runs(conn, user, kind, date).await?;
        }
    }
    Ok(after)
}

/// Moves the day's clocked-out time (its latest shutdown reflection) to `at` if later.
pub async fn clock_out(
    conn: &mut PgConnection,
    user: Uuid,
    date: Date,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE daily_rollups SET clocked_out_at = GREATEST(clocked_out_at, $3)
         WHERE user_id = $1 AND local_date = $2",
    )
    .bind(user)
    .bind(date)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// `date` is no longer active for `kind` (a correction took its last figure away): the run
/// holding it splits around it.
async fn split_runs(
    conn: &mut PgConnection,
    user: Uuid,
    kind: StreakKind,
    date: Date,
) -> sqlx::Result<()> {
    lock_runs(conn, user).await?;
    let run: Option<(Date, Date)> = sqlx::query_as(
        "DELETE FROM active_runs WHERE user_id = $1 AND kind = $2 AND first_date <= $3 AND last_date >= $3
         RETURNING first_date, last_date",
    )
    .bind(user)
    .bind(kind.as_str())
    .bind(date)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((first, last)) = run else {
        return Ok(());
    };
    for (a, b) in [
        (Some(first), date.previous_day()),
        (date.next_day(), Some(last)),
    ] {
        if let (Some(a), Some(b)) = (a, b)
            && a <= b
        {
            sqlx::query(
                "INSERT INTO active_runs (user_id, kind, first_date, last_date) VALUES ($1, $2, $3, $4)",
            )
            .bind(user)
            .bind(kind.as_str())
            .bind(a)
            .bind(b)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// `date` became active: it joins the run ending the day before and the run starting the day
/// after (either, both, or neither: then it is a run of its own). Days arrive in any order,
/// so all four cases happen. A per-user transaction lock keeps two replicas adding adjacent
/// days from each missing the other's run.
async fn join_runs(
    conn: &mut PgConnection,
    user: Uuid,
    kind: StreakKind,
    date: Date,
) -> sqlx::Result<()> {
    lock_runs(conn, user).await?;
    // The run starting the day after, if any, is absorbed…
    let after: Option<Date> = sqlx::query_scalar(
        "DELETE FROM active_runs WHERE user_id = $1 AND kind = $3 AND first_date = $2::date + 1
         RETURNING last_date",
    )
    .bind(user)
    .bind(date)
    .bind(kind.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let last = after.unwrap_or(date);
    // …into the run ending the day before, if any…
    let extended = sqlx::query(
        "UPDATE active_runs SET last_date = $3
         WHERE user_id = $1 AND kind = $4 AND last_date = $2::date - 1",
    )
    .bind(user)
    .bind(date)
    .bind(last)
    .bind(kind.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // …or the day starts a run.
    if extended == 0 {
        sqlx::query(
            "INSERT INTO active_runs (user_id, kind, first_date, last_date) VALUES ($1, $4, $2, $3)
             ON CONFLICT (user_id, kind, first_date) DO UPDATE
               SET last_date = GREATEST(active_runs.last_date, EXCLUDED.last_date)",
        )
        .bind(user)
        .bind(date)
        .bind(last)
        .bind(kind.as_str())
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

/// Recomputes `user`'s runs of every kind from their days (after a merge added days in bulk).
async fn rebuild_runs(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    lock_runs(conn, user).await?;
    sqlx::query("DELETE FROM active_runs WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    let dates: Vec<(Date, Vec<i64>)> = {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT local_date, {} FROM daily_rollups WHERE user_id = $1 ORDER BY local_date",
            int8_columns()
        )))
        .bind(user)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(figures_row).collect::<sqlx::Result<_>>()?
    };
    for kind in StreakKind::ALL {
        let mut runs: Vec<(Date, Date)> = Vec::new();
        for (date, v) in &dates {
            if !kind.active(&Figures::from_values(v)) {
                continue;
            }
            match runs.last_mut() {
                Some(r) if r.1.next_day() == Some(*date) => r.1 = *date,
                _ => runs.push((*date, *date)),
            }
        }
        for (first, last) in runs {
            sqlx::query(
                "INSERT INTO active_runs (user_id, kind, first_date, last_date) VALUES ($1, $2, $3, $4)",
            )
            .bind(user)
            .bind(kind.as_str())
            .bind(first)
            .bind(last)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// The figure columns as int8, for reading into [`Figures`].
fn int8_columns() -> String {
    Figures::COLUMNS
        .iter()
        .map(|c| format!("{c}::int8"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// (local_date, figures in column order) of a row selected as `local_date, int8_columns()`.
fn figures_row(row: &PgRow) -> sqlx::Result<(Date, Vec<i64>)> {
    let date: Date = row.try_get(0)?;
    let values = (1..=Figures::COLUMNS.len())
        .map(|i| row.try_get::<i64, _>(i))
        .collect::<sqlx::Result<Vec<i64>>>()?;
    Ok((date, values))
}

/// `user`'s days with figures from `from` to `to`, by date (days without a row are absent).
pub async fn days(
    conn: &mut PgConnection,
    user: Uuid,
    from: Date,
    to: Date,
) -> sqlx::Result<Vec<(Date, Figures)>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT local_date, {} FROM daily_rollups
         WHERE user_id = $1 AND local_date BETWEEN $2 AND $3 ORDER BY local_date",
        int8_columns()
    )))
    .bind(user)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| figures_row(r).map(|(d, v)| (d, Figures::from_values(&v))))
        .collect()
}

/// What a progress summary needs besides its days, read in one round trip: where the user's
/// zone comes from (profile, else the latest hint), the streak policy, and the streak runs a
/// default policy looks at (see [`summary_read`]).
pub struct SummaryContext {
    pub profile_timezone: Option<String>,
    pub hint_timezone: Option<String>,
    pub policy: Policy,
    pub runs: Vec<(StreakKind, Vec<Run>)>,
}

/// A progress summary's whole read in one statement, so one round trip on one backend: the
/// [`SummaryContext`] (the first row, with no date) and `user`'s days from `from` to `to` (the
/// other rows, by date; days without a row are absent). The runs are only those the default
/// policy (a gap always breaks a streak) can need: per kind the three latest (today's or
/// yesterday's, and one dated after today in a zone ahead) and the longest, two short index
/// scans (active_runs_pkey backwards, active_runs_longest), so nothing grows with history.
/// PostgreSQL returns the runs unordered and undeduplicated: sorting and merging twenty values
/// here is cheaper than the three ordered aggregates and the hash aggregate were (a fifth of the
/// statement's time; single-client `pgbench`, 0.26 – 0.32 → 0.20 – 0.28 ms a call).
pub async fn summary_read(
    conn: &mut PgConnection,
    user: Uuid,
    from: Date,
    to: Date,
) -> sqlx::Result<(SummaryContext, Vec<(Date, Figures)>)> {
    static SQL: OnceLock<String> = OnceLock::new();
    let sql = SQL.get_or_init(|| {
        let n = Figures::COLUMNS.len();
        let nulls = vec!["NULL::int8"; n].join(", ");
        format!(
            "SELECT NULL::date AS local_date, {nulls},
                    (SELECT timezone FROM user_directory WHERE user_id = $1),
                    (SELECT timezone FROM timezone_hints WHERE user_id = $1),
                    s.grace_days, s.freezes_per_month, r.kinds, r.firsts, r.lasts
             FROM (SELECT 1) AS one
             LEFT JOIN streak_settings s ON s.user_id = $1
             CROSS JOIN LATERAL (
               SELECT array_agg(b.kind) AS kinds, array_agg(b.first_date) AS firsts,
                      array_agg(b.last_date) AS lasts
               FROM (SELECT k.kind, x.first_date, x.last_date
                     FROM unnest($4::text[]) AS k(kind)
                     CROSS JOIN LATERAL (
                       (SELECT first_date, last_date FROM active_runs a
                        WHERE a.user_id = $1 AND a.kind = k.kind ORDER BY first_date DESC LIMIT 3)
                       UNION ALL
                       (SELECT first_date, last_date FROM active_runs a
                        WHERE a.user_id = $1 AND a.kind = k.kind
                        ORDER BY last_date - first_date DESC, first_date LIMIT 1)
                     ) x) b
             ) r
             UNION ALL
             SELECT local_date, {cols},
                    NULL::text, NULL::text, NULL::int4, NULL::int4,
                    NULL::text[], NULL::date[], NULL::date[]
             FROM daily_rollups
             WHERE user_id = $1 AND local_date BETWEEN $2 AND $3
             ORDER BY local_date NULLS FIRST",
            cols = int8_columns(),
        )
    });
    let kinds: Vec<&str> = StreakKind::ALL.iter().map(|k| k.as_str()).collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(user)
        .bind(from)
        .bind(to)
        .bind(&kinds)
        .fetch_all(conn)
        .await?;
    let n = Figures::COLUMNS.len();
    let mut context = None;
    let mut days = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Option<Date>, _>(0)?.is_some() {
            let (d, v) = figures_row(row)?;
            days.push((d, Figures::from_values(&v)));
            continue;
        }
        let k: Option<Vec<String>> = row.try_get(n + 5)?;
        let f: Option<Vec<Date>> = row.try_get(n + 6)?;
        let l: Option<Vec<Date>> = row.try_get(n + 7)?;
        let mut runs: Vec<(String, Date, Date)> = k
            .unwrap_or_default()
            .into_iter()
            .zip(f.unwrap_or_default())
            .zip(l.unwrap_or_default())
            .map(|((kind, first), last)| (kind, first, last))
            .collect();
        // By kind, then first date; the longest run is often also one of the latest.
        runs.sort_unstable();
        runs.dedup();
        let grace: Option<i32> = row.try_get(n + 3)?;
        let freezes: Option<i32> = row.try_get(n + 4)?;
        context = Some(SummaryContext {
            profile_timezone: row.try_get(n + 1)?,
            hint_timezone: row.try_get(n + 2)?,
            policy: match (grace, freezes) {
                (Some(g), Some(f)) => super::settings::policy_of(g, f),
                _ => Policy::default(),
            },
            runs: group_runs(&runs),
        });
    }
    let context = context.ok_or(sqlx::Error::RowNotFound)?;
    Ok((context, days))
}

/// The clocked-out time of `user`'s `date`, if a reflection set one.
pub async fn clocked_out(
    conn: &mut PgConnection,
    user: Uuid,
    date: Date,
) -> sqlx::Result<Option<OffsetDateTime>> {
    Ok(sqlx::query_scalar(
        "SELECT clocked_out_at FROM daily_rollups WHERE user_id = $1 AND local_date = $2",
    )
    .bind(user)
    .bind(date)
    .fetch_optional(conn)
    .await?
    .flatten())
}

/// Every run of `user`, of every kind, oldest first per kind: what a non-default streak policy
/// (grace days, freezes) needs, since it may bridge old runs. The default policy's bounded read
/// is part of [`summary_read`].
pub async fn all_runs(
    conn: &mut PgConnection,
    user: Uuid,
) -> sqlx::Result<Vec<(StreakKind, Vec<Run>)>> {
    let rows: Vec<(String, Date, Date)> = sqlx::query_as(
        "SELECT kind, first_date, last_date FROM active_runs WHERE user_id = $1
         ORDER BY kind, first_date",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    Ok(group_runs(&rows))
}

/// Rows of (kind, first, last), ordered by kind and first date, as runs per kind.
fn group_runs(rows: &[(String, Date, Date)]) -> Vec<(StreakKind, Vec<Run>)> {
    StreakKind::ALL
        .into_iter()
        .map(|k| {
            let runs = rows
                .iter()
                .filter(|(kind, ..)| kind == k.as_str())
                .map(|(_, first, last)| Run {
                    first: *first,
                    last: *last,
                    days: (*last - *first).whole_days() + 1,
                })
                .collect();
            (k, runs)
        })
        .collect()
}

/// `user`'s runs of consecutive active dates for `kind`, oldest first (kept by [`add`]).
pub async fn active_runs(
    conn: &mut PgConnection,
    user: Uuid,
    kind: StreakKind,
) -> sqlx::Result<Vec<Run>> {
    let rows: Vec<(Date, Date)> = sqlx::query_as(
        "SELECT first_date, last_date FROM active_runs WHERE user_id = $1 AND kind = $2
         ORDER BY first_date",
    )
    .bind(user)
    .bind(kind.as_str())
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
            "DELETE FROM event_log WHERE user_id = $1",
            "DELETE FROM rollup_baseline WHERE user_id = $1",
            "DELETE FROM tasks WHERE user_id = $1",
            "DELETE FROM streak_settings WHERE user_id = $1",
            "DELETE FROM focus_goals WHERE user_id = $1",
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
    let cols = Figures::COLUMNS.join(", ");
    let sets: Vec<String> = Figures::COLUMNS
        .iter()
        .map(|c| format!("{c} = daily_rollups.{c} + EXCLUDED.{c}"))
        .collect();
    let moved = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO daily_rollups (user_id, local_date, clocked_out_at, {cols})
         SELECT $2, local_date, clocked_out_at, {cols} FROM daily_rollups WHERE user_id = $1
         ON CONFLICT (user_id, local_date) DO UPDATE SET {},
           clocked_out_at = GREATEST(daily_rollups.clocked_out_at, EXCLUDED.clocked_out_at)",
        sets.join(", ")
    )))
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // The pre-log figures add up the same way (the source's rows go with purge_user).
    sqlx::query(
        "INSERT INTO rollup_baseline (user_id, local_date, sessions_completed, focus_sessions, total_seconds, points)
         SELECT $2, local_date, sessions_completed, focus_sessions, total_seconds, points
         FROM rollup_baseline WHERE user_id = $1
         ON CONFLICT (user_id, local_date) DO UPDATE SET
           sessions_completed = rollup_baseline.sessions_completed + EXCLUDED.sessions_completed,
           focus_sessions = rollup_baseline.focus_sessions + EXCLUDED.focus_sessions,
           total_seconds = rollup_baseline.total_seconds + EXCLUDED.total_seconds,
           points = rollup_baseline.points + EXCLUDED.points",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
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
