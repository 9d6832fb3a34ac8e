//! The `workout_logs` table, and the catalog lookups a log is checked against.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::workouts::Figures;

const COLUMNS: &str = "id, user_id, exercise_id, user_plan_id, plan_exercise_id, date_performed, \
                       sets, reps, weight_kg, duration_seconds, notes, created_at, updated_at";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LogRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub exercise_id: Uuid,
    pub user_plan_id: Option<Uuid>,
    pub plan_exercise_id: Option<Uuid>,
    pub date_performed: Date,
    pub sets: i32,
    pub reps: i32,
    pub weight_kg: f64,
    pub duration_seconds: i32,
    pub notes: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl LogRow {
    pub fn figures(&self) -> Figures {
        Figures {
            date_performed: self.date_performed,
            sets: self.sets,
            reps: self.reps,
            weight_kg: self.weight_kg,
            duration_secs: self.duration_seconds,
            notes: self.notes.clone(),
        }
    }
}

/// Where a log belongs: a library exercise, and the user plan and plan exercise when it was
/// part of one.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub exercise_id: Uuid,
    pub plan: Option<(Uuid, Uuid)>,
}

/// True when the library has exercise `id`.
pub async fn exercise_exists(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM exercises WHERE id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// The library exercise of plan exercise `id`, when it belongs to template `plan_id`.
pub async fn plan_exercise(
    conn: &mut PgConnection,
    plan_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT exercise_id FROM plan_exercises WHERE id = $1 AND plan_id = $2")
        .bind(id)
        .bind(plan_id)
        .fetch_optional(conn)
        .await
}

pub async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    target: Target,
    f: &Figures,
    now: OffsetDateTime,
) -> sqlx::Result<LogRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO workout_logs (id, user_id, exercise_id, user_plan_id, plan_exercise_id,
             date_performed, sets, reps, weight_kg, duration_seconds, notes, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(target.exercise_id)
    .bind(target.plan.map(|(p, _)| p))
    .bind(target.plan.map(|(_, e)| e))
    .bind(f.date_performed)
    .bind(f.sets)
    .bind(f.reps)
    .bind(f.weight_kg)
    .bind(f.duration_secs)
    .bind(&f.notes)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Log `id` of `user`, locked when `lock`; None when it does not exist or is someone else's.
pub async fn get(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<LogRow>> {
    let sql = if lock {
        format!("SELECT {COLUMNS} FROM workout_logs WHERE id = $1 AND user_id = $2 FOR UPDATE")
    } else {
        format!("SELECT {COLUMNS} FROM workout_logs WHERE id = $1 AND user_id = $2")
    };
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(user)
        .fetch_optional(conn)
        .await
}

pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    f: &Figures,
    now: OffsetDateTime,
) -> sqlx::Result<LogRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE workout_logs SET date_performed = $2, sets = $3, reps = $4, weight_kg = $5,
             duration_seconds = $6, notes = $7, updated_at = $8
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(f.date_performed)
    .bind(f.sets)
    .bind(f.reps)
    .bind(f.weight_kg)
    .bind(f.duration_secs)
    .bind(&f.notes)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM workout_logs WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// What a history lists; every filter optional.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter {
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub exercise_id: Option<Uuid>,
    pub plan_exercise_id: Option<Uuid>,
    pub user_plan_id: Option<Uuid>,
}

/// A page of `user`'s logs, newest date first (then newest logged), after the keyset `after`.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    f: Filter,
    after: Option<(Date, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<LogRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM workout_logs
         WHERE user_id = $1
           AND ($2::date IS NULL OR date_performed >= $2)
           AND ($3::date IS NULL OR date_performed <= $3)
           AND ($4::uuid IS NULL OR exercise_id = $4)
           AND ($5::uuid IS NULL OR plan_exercise_id = $5)
           AND ($6::uuid IS NULL OR user_plan_id = $6)
           AND ($7::date IS NULL OR (date_performed, id) < ($7, $8))
         ORDER BY date_performed DESC, id DESC LIMIT $9"
    )))
    .bind(user)
    .bind(f.from)
    .bind(f.to)
    .bind(f.exercise_id)
    .bind(f.plan_exercise_id)
    .bind(f.user_plan_id)
    .bind(after.map(|(d, _)| d))
    .bind(after.map(|(_, id)| id))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Deletes every log of `user`; returns how many went.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM workout_logs WHERE user_id = $1")
        .bind(user)
        .execute(conn)
        .await?
        .rows_affected())
}

/// Moves every log of `source` to `target`.
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE workout_logs SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
