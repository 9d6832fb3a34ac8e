//! Workout plan templates: `workout_plans`, their `workout_plan_translations` and their
//! `plan_exercises`. Catalog data: seeded by the migrations and only read here.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::exercise::{Difficulty, Language};

const SELECT: &str = "
    SELECT p.id, p.slug, p.difficulty, p.goals, p.weeks, p.days_per_week, p.featured,
           coalesce(loc.language, en.language) AS language,
           coalesce(loc.name, en.name) AS name,
           coalesce(loc.description, en.description) AS description,
           (SELECT count(DISTINCT pe.exercise_id) FROM plan_exercises pe WHERE pe.plan_id = p.id)
               AS exercise_count
    FROM workout_plans p
    JOIN workout_plan_translations en ON en.plan_id = p.id AND en.language = 'en'
    LEFT JOIN workout_plan_translations loc ON loc.plan_id = p.id AND loc.language = $1";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PlanRow {
    pub id: Uuid,
    pub slug: String,
    #[sqlx(try_from = "String")]
    pub difficulty: Difficulty,
    pub goals: Vec<String>,
    pub weeks: i16,
    pub days_per_week: i16,
    pub featured: bool,
    #[sqlx(try_from = "String")]
    pub language: Language,
    pub name: String,
    pub description: String,
    pub exercise_count: i64,
}

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub featured_only: bool,
    pub difficulty: Option<Difficulty>,
    pub goal: Option<String>,
}

/// Up to `limit` templates by slug after `after`, matching `filter`.
pub async fn list(
    conn: &mut PgConnection,
    language: Language,
    filter: &Filter,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<PlanRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT}
         WHERE (NOT $2 OR p.featured)
           AND ($3::text IS NULL OR p.difficulty = $3)
           AND ($4::text IS NULL OR p.goals @> ARRAY[$4::text])
           AND ($5::text IS NULL OR p.slug > $5)
         ORDER BY p.slug LIMIT $6"
    )))
    .bind(language.as_str())
    .bind(filter.featured_only)
    .bind(filter.difficulty.map(Difficulty::as_str))
    .bind(filter.goal.as_deref())
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    language: Language,
    id: Uuid,
) -> sqlx::Result<Option<PlanRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE p.id = $2")))
        .bind(language.as_str())
        .bind(id)
        .fetch_optional(conn)
        .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PlanExerciseRow {
    pub id: Uuid,
    pub week: i16,
    pub day: i16,
    pub position: i16,
    pub exercise_id: Uuid,
    pub sets: i16,
    pub reps: Option<i16>,
    pub duration_seconds: Option<i32>,
    pub rest_seconds: i32,
}

/// Every exercise slot of `plan`, in schedule order.
pub async fn schedule(conn: &mut PgConnection, plan: Uuid) -> sqlx::Result<Vec<PlanExerciseRow>> {
    sqlx::query_as(
        "SELECT id, week, day, position, exercise_id, sets, reps, duration_seconds, rest_seconds
         FROM plan_exercises WHERE plan_id = $1 ORDER BY week, day, position",
    )
    .bind(plan)
    .fetch_all(conn)
    .await
}
