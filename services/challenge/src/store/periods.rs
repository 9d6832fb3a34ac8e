//! `challenge_periods`: the windows of each challenge, created ahead (weekly: by the scheduler;
//! one-off: at creation), kept after they end, settled once.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::settlement::settle_after;

/// Creates the window of every weekly challenge starting on each of `mondays`, unless it exists:
/// an insert keyed by the period, so schedulers racing on several replicas create it once.
/// Returns how many this call created.
pub async fn schedule_weekly(conn: &mut PgConnection, mondays: &[Date]) -> sqlx::Result<u64> {
    let ends: Vec<Date> = mondays
        .iter()
        .map(|d| *d + time::Duration::days(6))
        .collect();
    let settle: Vec<OffsetDateTime> = ends.iter().map(|d| settle_after(*d)).collect();
    Ok(sqlx::query(
        "INSERT INTO challenge_periods (challenge_id, window_start, window_end, settle_after)
         SELECT c.id, w.start, w.end_day, w.settle
         FROM challenges c
         CROSS JOIN unnest($1::date[], $2::date[], $3::timestamptz[]) AS w (start, end_day, settle)
         WHERE c.recurrence = 'weekly'
         ON CONFLICT (challenge_id, window_start) DO NOTHING",
    )
    .bind(mondays)
    .bind(&ends)
    .bind(&settle)
    .execute(conn)
    .await?
    .rows_affected())
}

/// Makes sure the window `start..=end` of `challenge` exists (an activity can arrive before
/// the scheduler ran); returns whether it is still open (not settled). The share lock it takes
/// keeps the settler off the window until the activity is counted (the settler skips it and
/// comes back), and makes the activity wait for a settlement under way, then see it.
pub async fn ensure_open(
    conn: &mut PgConnection,
    challenge: Uuid,
    start: Date,
    end: Date,
) -> sqlx::Result<bool> {
    sqlx::query(
        "INSERT INTO challenge_periods (challenge_id, window_start, window_end, settle_after)
         VALUES ($1, $2, $3, $4) ON CONFLICT (challenge_id, window_start) DO NOTHING",
    )
    .bind(challenge)
    .bind(start)
    .bind(end)
    .bind(settle_after(end))
    .execute(&mut *conn)
    .await?;
    let settled: Option<OffsetDateTime> = sqlx::query_scalar(
        "SELECT settled_at FROM challenge_periods WHERE challenge_id = $1 AND window_start = $2
         FOR SHARE",
    )
    .bind(challenge)
    .bind(start)
    .fetch_one(conn)
    .await?;
    Ok(settled.is_none())
}

/// Replaces the single window of one-off challenge `challenge` (created, or moved before it
/// started: nothing counted in it yet).
pub async fn set_window(
    conn: &mut PgConnection,
    challenge: Uuid,
    start: Date,
    end: Date,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM challenge_periods WHERE challenge_id = $1")
        .bind(challenge)
        .execute(&mut *conn)
        .await?;
    ensure_open(conn, challenge, start, end).await?;
    Ok(())
}

/// A window due for settlement, claimed by this transaction.
#[derive(Debug, sqlx::FromRow)]
pub struct Due {
    pub challenge_id: Uuid,
    pub window_start: Date,
}

/// Up to `limit` windows due at `now`, locked; windows another replica is settling are skipped.
pub async fn claim_due(
    conn: &mut PgConnection,
    now: OffsetDateTime,
    limit: i64,
) -> sqlx::Result<Vec<Due>> {
    sqlx::query_as(
        "SELECT challenge_id, window_start FROM challenge_periods
         WHERE settled_at IS NULL AND settle_after <= $1
         ORDER BY settle_after LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The windows of `challenge` not settled yet, locked (waiting for a settler that holds one;
/// a window it settled meanwhile is left out).
pub async fn claim_open(conn: &mut PgConnection, challenge: Uuid) -> sqlx::Result<Vec<Due>> {
    sqlx::query_as(
        "SELECT challenge_id, window_start FROM challenge_periods
         WHERE challenge_id = $1 AND settled_at IS NULL ORDER BY window_start FOR UPDATE",
    )
    .bind(challenge)
    .fetch_all(conn)
    .await
}

/// A settled window, as `challenge.settled.v1` tells it.
#[derive(Debug)]
pub struct Settled {
    pub challenge_id: Uuid,
    pub title: String,
    pub owner_id: Option<Uuid>,
    pub window_start: Date,
    pub window_end: Date,
    pub ended_early: bool,
    pub participant_count: i32,
    pub completed_count: i32,
    pub top: Vec<Placing>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct Placing {
    pub user_id: Uuid,
    pub rank: i32,
    pub current: i32,
    pub completed: bool,
}

/// Settles a claimed window at `now`: final ranks on every progress row of it (the order of
/// `domain::settlement::ranks`), its counts, and the best ten placings.
pub async fn settle(
    conn: &mut PgConnection,
    challenge: Uuid,
    window_start: Date,
    now: OffsetDateTime,
) -> sqlx::Result<Settled> {
    sqlx::query(
        "UPDATE progress p SET final_rank = r.rank
         FROM (SELECT user_id,
                      RANK() OVER (ORDER BY current DESC, completed_at ASC NULLS LAST)::int AS rank
               FROM progress WHERE challenge_id = $1 AND window_start = $2) r
         WHERE p.challenge_id = $1 AND p.window_start = $2 AND p.user_id = r.user_id",
    )
    .bind(challenge)
    .bind(window_start)
    .execute(&mut *conn)
    .await?;
    let (title, owner_id, window_end, ended_at, participant_count, completed_count): (
        String,
        Option<Uuid>,
        Date,
        Option<OffsetDateTime>,
        i32,
        i32,
    ) = sqlx::query_as(
        "WITH counts AS (
             SELECT count(*)::int AS n, count(completed_at)::int AS done
             FROM progress WHERE challenge_id = $1 AND window_start = $2),
         settled AS (
             UPDATE challenge_periods SET settled_at = $3,
                 participant_count = (SELECT n FROM counts), completed_count = (SELECT done FROM counts)
             WHERE challenge_id = $1 AND window_start = $2
             RETURNING window_end, participant_count, completed_count)
         SELECT c.title, c.owner_id, s.window_end, c.ended_at, s.participant_count, s.completed_count
         FROM settled s JOIN challenges c ON c.id = $1",
    )
    .bind(challenge)
    .bind(window_start)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let top = sqlx::query_as(
        "SELECT user_id, final_rank AS rank, current, completed_at IS NOT NULL AS completed
         FROM progress WHERE challenge_id = $1 AND window_start = $2
         ORDER BY final_rank, user_id LIMIT 10",
    )
    .bind(challenge)
    .bind(window_start)
    .fetch_all(conn)
    .await?;
    Ok(Settled {
        challenge_id: challenge,
        title,
        owner_id,
        window_start,
        window_end,
        ended_early: ended_at.is_some(),
        participant_count,
        completed_count,
        top,
    })
}

/// A window of a challenge with the caller's progress in it.
#[derive(Debug, sqlx::FromRow)]
pub struct PeriodRow {
    pub window_start: Date,
    pub window_end: Date,
    pub settled_at: Option<OffsetDateTime>,
    pub participant_count: i32,
    pub completed_count: i32,
    pub my_current: Option<i32>,
    pub my_completed_at: Option<OffsetDateTime>,
    pub my_final_rank: Option<i32>,
}

/// Up to `limit` windows of `challenge` newest first, before `before` when given, that have
/// begun by `today` (the caller's local date).
pub async fn list(
    conn: &mut PgConnection,
    challenge: Uuid,
    user: Uuid,
    today: Date,
    before: Option<Date>,
    limit: i64,
) -> sqlx::Result<Vec<PeriodRow>> {
    sqlx::query_as(
        "SELECT cp.window_start, cp.window_end, cp.settled_at, cp.participant_count,
                cp.completed_count, pr.current AS my_current, pr.completed_at AS my_completed_at,
                pr.final_rank AS my_final_rank
         FROM challenge_periods cp
         LEFT JOIN progress pr ON pr.challenge_id = cp.challenge_id
             AND pr.window_start = cp.window_start AND pr.user_id = $2
         WHERE cp.challenge_id = $1 AND cp.window_start <= $3
           AND ($4::date IS NULL OR cp.window_start < $4)
         ORDER BY cp.window_start DESC LIMIT $5",
    )
    .bind(challenge)
    .bind(user)
    .bind(today)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await
}
