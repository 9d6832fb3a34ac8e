//! The `user_plans` table (templates assigned to users), and what progress reads of the
//! catalog's templates (`workout_plans`, `plan_exercises`) and of `workout_logs`.

use std::collections::{HashMap, HashSet};

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::plans::{Pause, PlanState, Status, TemplateDay};

/// The partial unique index that lets a template run once at a time per user.
pub const ONE_RUNNING: &str = "user_plans_one_running";

const COLUMNS: &str = "id, user_id, plan_id, status, start_date, pause_dates, pause_days, \
                       paused_on, ended_on, created_at, updated_at";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PlanRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub plan_id: Uuid,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub start_date: Date,
    pub pause_dates: Vec<Date>,
    pub pause_days: Vec<i32>,
    pub paused_on: Option<Date>,
    pub ended_on: Option<Date>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl PlanRow {
    pub fn state(&self) -> PlanState {
        PlanState {
            status: self.status,
            start_date: self.start_date,
            pauses: self
                .pause_dates
                .iter()
                .zip(&self.pause_days)
                .map(|(on, days)| Pause {
                    on: *on,
                    days: *days,
                })
                .collect(),
            paused_on: self.paused_on,
            ended_on: self.ended_on,
        }
    }
}

/// A template's shape: its training days per week and its exercises by day.
#[derive(Clone, Debug, Default)]
pub struct Template {
    pub days_per_week: i32,
    pub days: Vec<TemplateDay>,
}

/// The templates `ids` name that exist, with their days.
pub async fn templates(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> sqlx::Result<HashMap<Uuid, Template>> {
    let plans: Vec<(Uuid, i16)> =
        sqlx::query_as("SELECT id, days_per_week FROM workout_plans WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
    let mut out: HashMap<Uuid, Template> = plans
        .into_iter()
        .map(|(id, per_week)| {
            (
                id,
                Template {
                    days_per_week: i32::from(per_week),
                    days: Vec::new(),
                },
            )
        })
        .collect();
    let days: Vec<(Uuid, i16, i16, Vec<Uuid>)> = sqlx::query_as(
        "SELECT plan_id, week, day, array_agg(id ORDER BY position)
         FROM plan_exercises WHERE plan_id = ANY($1)
         GROUP BY plan_id, week, day ORDER BY plan_id, week, day",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    for (plan, week, day, exercises) in days {
        if let Some(t) = out.get_mut(&plan) {
            t.days.push(TemplateDay {
                week: i32::from(week),
                day: i32::from(day),
                exercises,
            });
        }
    }
    Ok(out)
}

/// For each user plan of `ids`, the plan exercises with at least one log of it.
pub async fn logged(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> sqlx::Result<HashMap<Uuid, HashSet<Uuid>>> {
    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT DISTINCT user_plan_id, plan_exercise_id FROM workout_logs
         WHERE user_plan_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
    for (plan, exercise) in rows {
        out.entry(plan).or_default().insert(exercise);
    }
    Ok(out)
}

/// Assigns template `plan_id` to `user` from `start_date`, active. Fails on [`ONE_RUNNING`]
/// when the user runs that template already.
pub async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    plan_id: Uuid,
    start_date: Date,
    now: OffsetDateTime,
) -> sqlx::Result<PlanRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO user_plans (id, user_id, plan_id, status, start_date, created_at, updated_at)
         VALUES ($1, $2, $3, 'active', $4, $5, $5) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(plan_id)
    .bind(start_date)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// User plan `id` of `user`; None when it does not exist or is someone else's.
pub async fn get(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<Option<PlanRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM user_plans WHERE id = $1 AND user_id = $2"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// Like [`get`], locked until the transaction ends.
pub async fn lock(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<Option<PlanRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM user_plans WHERE id = $1 AND user_id = $2 FOR UPDATE"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// Stores a status change of user plan `id`.
pub async fn save(
    conn: &mut PgConnection,
    id: Uuid,
    s: &PlanState,
    now: OffsetDateTime,
) -> sqlx::Result<PlanRow> {
    let dates: Vec<Date> = s.pauses.iter().map(|p| p.on).collect();
    let days: Vec<i32> = s.pauses.iter().map(|p| p.days).collect();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE user_plans SET status = $2, pause_dates = $3, pause_days = $4, paused_on = $5,
             ended_on = $6, updated_at = $7
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(s.status.as_str())
    .bind(dates)
    .bind(days)
    .bind(s.paused_on)
    .bind(s.ended_on)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// A page of `user`'s plans, newest first: of `status`, or of every status but removed.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    status: Option<Status>,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<PlanRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM user_plans
         WHERE user_id = $1
           AND (CASE WHEN $2::text IS NULL THEN status <> 'removed' ELSE status = $2 END)
           AND ($3::uuid IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    )))
    .bind(user)
    .bind(status.map(Status::as_str))
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Deletes every plan of `user` (their logs first: they refer to them); returns how many.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM user_plans WHERE user_id = $1")
        .bind(user)
        .execute(conn)
        .await?
        .rows_affected())
}

/// Moves every plan of `source` to `target`. A template both run (active or paused) keeps the
/// target's run: the source's is removed as of `today` (it and its logs still move, so the
/// history stays). A replay finds no row of the source and changes nothing.
pub async fn merge(
    conn: &mut PgConnection,
    source: Uuid,
    target: Uuid,
    today: Date,
) -> sqlx::Result<u64> {
    sqlx::query(
        "UPDATE user_plans s SET status = 'removed', paused_on = NULL,
             ended_on = COALESCE(s.ended_on, $3)
         WHERE s.user_id = $1 AND s.status IN ('active', 'paused')
           AND EXISTS (SELECT 1 FROM user_plans t WHERE t.user_id = $2 AND t.plan_id = s.plan_id
                         AND t.status IN ('active', 'paused'))",
    )
    .bind(source)
    .bind(target)
    .bind(today)
    .execute(&mut *conn)
    .await?;
    Ok(
        sqlx::query("UPDATE user_plans SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
