//! What H's queries read from the daily rollups and from its own tables: a range's rows and
//! totals, and the per-user totals the dashboard shows. Also H's purge and merge.

use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use crate::domain::{
    csv::{Day, Row},
    rollup::StreakKind,
    streak::{self, Streaks},
};

/// The days of `user` in `from..=to` that have figures, with their points.
pub async fn rows(
    conn: &mut PgConnection,
    user: Uuid,
    from: Date,
    to: Date,
) -> sqlx::Result<Vec<Row>> {
    let rows: Vec<(Date, i32, i32, i64, i64)> = sqlx::query_as(
        "SELECT local_date, sessions_completed, focus_sessions, total_seconds, points::bigint
         FROM daily_rollups WHERE user_id = $1 AND local_date BETWEEN $2 AND $3 ORDER BY local_date",
    )
    .bind(user)
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(date, sessions_completed, focus_sessions, seconds, points)| Row {
                day: Day {
                    date,
                    sessions_completed,
                    focus_sessions,
                    seconds,
                },
                points,
            },
        )
        .collect())
}

/// A range's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub sessions_completed: i32,
    pub focus_sessions: i32,
    pub seconds: i64,
    pub active_days: i32,
    pub points: i64,
}

pub fn totals(rows: &[Row]) -> Totals {
    rows.iter().fold(Totals::default(), |t, r| Totals {
        sessions_completed: t
            .sessions_completed
            .saturating_add(r.day.sessions_completed),
        focus_sessions: t.focus_sessions.saturating_add(r.day.focus_sessions),
        seconds: t.seconds.saturating_add(r.day.seconds),
        active_days: t.active_days + i32::from(r.day.sessions_completed > 0),
        points: t.points.saturating_add(r.points),
    })
}

/// Lessons completed and topics started, all time (one row per topic).
pub async fn study(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<(i32, i32)> {
    let (lessons, topics): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(sum(lessons_completed), 0)::bigint, count(*) FROM topic_mastery WHERE user_id = $1",
    )
    .bind(user)
    .fetch_one(conn)
    .await?;
    Ok((
        i32::try_from(lessons).unwrap_or(i32::MAX),
        i32::try_from(topics).unwrap_or(i32::MAX),
    ))
}

/// Deletes every row of H's tables for `user`; returns how many went.
pub async fn purge(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    stride_kit::db::delete_user_rows(
        conn,
        user,
        &[
            "DELETE FROM evaluation_scores WHERE user_id = $1",
            "DELETE FROM evaluations WHERE user_id = $1",
            "DELETE FROM lessons_completed WHERE user_id = $1",
            "DELETE FROM quiz_attempts WHERE user_id = $1",
            "DELETE FROM topic_mastery WHERE user_id = $1",
            "DELETE FROM share_cards WHERE user_id = $1",
        ],
    )
    .await
}

/// Moves `source`'s rows of H's tables to `target`, counting nothing twice; `source`'s
/// leftovers go with [`purge`].
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(super::evaluations::merge(conn, source, target).await?
        + super::mastery::merge(conn, source, target).await?
        + super::share::merge(conn, source, target).await?)
}

/// The activity streak on `today` under the user's grace and freeze settings.
pub async fn activity_streak(
    conn: &mut PgConnection,
    user: Uuid,
    today: Date,
) -> sqlx::Result<Streaks> {
    let policy = super::settings::policy(conn, user).await?;
    let runs = super::active_runs(conn, user, StreakKind::Activity).await?;
    Ok(streak::streaks(
        &runs,
        today,
        streak::anchor(StreakKind::Activity),
        policy,
    ))
}
