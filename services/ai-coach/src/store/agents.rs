//! The `agent_executions` and `generated_plans` tables. Functions run on the caller's
//! connection or transaction and never begin or commit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, types::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::plan::Plan;

/// One step of an execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    /// "model", "rules" or "failed".
    pub path: String,
    pub reasoning: String,
    pub duration_ms: i64,
    pub attempt: i32,
}

#[derive(Debug, sqlx::FromRow)]
pub struct ExecutionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub steps: Json<Vec<Step>>,
    pub path: String,
    pub model: String,
    pub reason: String,
    pub answer_id: Uuid,
    pub result_id: Option<Uuid>,
    pub duration_ms: i64,
    pub created_at: OffsetDateTime,
}

pub async fn insert_execution(conn: &mut PgConnection, e: &ExecutionRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO agent_executions (id, user_id, kind, steps, path, model, reason, answer_id, result_id, duration_ms, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(e.id)
    .bind(e.user_id)
    .bind(&e.kind)
    .bind(&e.steps)
    .bind(&e.path)
    .bind(&e.model)
    .bind(&e.reason)
    .bind(e.answer_id)
    .bind(e.result_id)
    .bind(e.duration_ms)
    .bind(e.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's execution; another user's is None.
pub async fn execution(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ExecutionRow>> {
    sqlx::query_as("SELECT * FROM agent_executions WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// The user's executions, newest first, after the (created_at, id) cursor.
pub async fn executions(
    conn: &mut PgConnection,
    user: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<ExecutionRow>> {
    sqlx::query_as(
        "SELECT * FROM agent_executions
         WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(user)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub execution_id: Uuid,
    pub title: String,
    pub plan: Json<Plan>,
    pub names: Json<BTreeMap<String, String>>,
    pub level: String,
    pub equipment: Vec<String>,
    pub limitations: Vec<String>,
    pub path: String,
    pub model: String,
    pub reason: String,
    pub answer_id: Uuid,
    pub created_at: OffsetDateTime,
}

pub async fn insert_plan(conn: &mut PgConnection, p: &PlanRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO generated_plans (id, user_id, execution_id, title, plan, names, level, equipment, limitations, path, model, reason, answer_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(p.id)
    .bind(p.user_id)
    .bind(p.execution_id)
    .bind(&p.title)
    .bind(&p.plan)
    .bind(&p.names)
    .bind(&p.level)
    .bind(&p.equipment)
    .bind(&p.limitations)
    .bind(&p.path)
    .bind(&p.model)
    .bind(&p.reason)
    .bind(p.answer_id)
    .bind(p.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's plan; another user's is None.
pub async fn plan(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<Option<PlanRow>> {
    sqlx::query_as("SELECT * FROM generated_plans WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// The user's plans, newest first, after the (created_at, id) cursor.
pub async fn plans(
    conn: &mut PgConnection,
    user: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<PlanRow>> {
    sqlx::query_as(
        "SELECT * FROM generated_plans
         WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(user)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// user.deleted.v1: every execution and plan of the user.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    let plans = sqlx::query("DELETE FROM generated_plans WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let executions = sqlx::query("DELETE FROM agent_executions WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(plans + executions)
}

/// user.merged.v1: the source's executions and plans go to the target.
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    let plans = sqlx::query("UPDATE generated_plans SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let executions = sqlx::query("UPDATE agent_executions SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(plans + executions)
}
