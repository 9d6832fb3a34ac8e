//! Practice sessions, their transcripts and evaluations, and the improvement plan (focus areas and
//! rollups, rebuilt from the evaluations). Every read is scoped to the caller: another user's
//! row is simply not found. Functions run on the caller's connection or transaction.

use serde_json::Value;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub preparation_type: String,
    pub meeting_subtype: String,
    pub agenda: String,
    pub tone: String,
    pub focus: String,
    pub timezone: String,
    pub status: String,
    pub turns: i32,
    pub created_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
    pub overall_score: Option<i32>,
    pub evaluation_id: Option<Uuid>,
}

const SESSION_COLUMNS: &str =
    "s.id, s.preparation_type, s.meeting_subtype, s.agenda, s.tone, s.focus, s.timezone,
    s.status, s.turns, s.created_at, s.completed_at, s.overall_score,
    (SELECT e.id FROM practice_evaluations e WHERE e.session_id = s.id) AS evaluation_id";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MessageRow {
    pub role: String,
    pub text: String,
    pub turn: i32,
    pub created_at: OffsetDateTime,
}

pub struct NewSession<'a> {
    pub id: Uuid,
    pub user: Uuid,
    pub preparation_type: &'a str,
    pub meeting_subtype: &'a str,
    pub agenda: &'a str,
    pub tone: &'a str,
    pub focus: &'a str,
    pub timezone: &'a str,
    pub at: OffsetDateTime,
}

pub async fn insert_session(conn: &mut PgConnection, s: &NewSession<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO practice_sessions (id, user_id, preparation_type, meeting_subtype, agenda, tone, focus, timezone, status, turns, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'in_progress', 0, $9)",
    )
    .bind(s.id)
    .bind(s.user)
    .bind(s.preparation_type)
    .bind(s.meeting_subtype)
    .bind(s.agenda)
    .bind(s.tone)
    .bind(s.focus)
    .bind(s.timezone)
    .bind(s.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends a transcript entry at the next position.
pub async fn append_message(
    conn: &mut PgConnection,
    session: Uuid,
    role: &str,
    text: &str,
    turn: i32,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO practice_messages (session_id, seq, role, text, turn, created_at)
         SELECT $1, COALESCE(max(seq), 0) + 1, $2, $3, $4, $5 FROM practice_messages WHERE session_id = $1",
    )
    .bind(session)
    .bind(role)
    .bind(text)
    .bind(turn)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The caller's session; `lock` takes the row for the transaction (concurrent messages and
/// completion of one session serialize).
pub async fn session(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<SessionRow>> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM practice_sessions s WHERE s.id = $1 AND s.user_id = $2{}",
        if lock { " FOR UPDATE OF s" } else { "" }
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(user)
        .fetch_optional(conn)
        .await
}

pub async fn transcript(conn: &mut PgConnection, session: Uuid) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(
        "SELECT role, text, turn, created_at FROM practice_messages WHERE session_id = $1 ORDER BY seq",
    )
    .bind(session)
    .fetch_all(conn)
    .await
}

pub async fn set_turns(conn: &mut PgConnection, session: Uuid, turns: i32) -> sqlx::Result<()> {
    sqlx::query("UPDATE practice_sessions SET turns = $2 WHERE id = $1")
        .bind(session)
        .bind(turns)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_completed(
    conn: &mut PgConnection,
    session: Uuid,
    at: OffsetDateTime,
    score: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE practice_sessions SET status = 'completed', completed_at = $2, overall_score = $3 WHERE id = $1",
    )
    .bind(session)
    .bind(at)
    .bind(score)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_archived(
    conn: &mut PgConnection,
    session: Uuid,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE practice_sessions SET status = 'archived', archived_at = $2 WHERE id = $1")
        .bind(session)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// What ListPracticeSessions filters on (None: any).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// None: every status but archived.
    pub status: Option<&'static str>,
    pub preparation_type: Option<&'static str>,
    /// Inclusive bounds on the creation date (UTC).
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub min_score: Option<i32>,
    pub max_score: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Date,
    Score,
    Type,
}

/// One page of the caller's sessions at `offset`, the number matching and their mean score.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    f: &Filter,
    order: Order,
    ascending: bool,
    offset: i64,
    limit: i64,
) -> sqlx::Result<(Vec<SessionRow>, i64, Option<f64>)> {
    const WHERE: &str = "s.user_id = $1
        AND (($2::text IS NULL AND s.status <> 'archived') OR s.status = $2)
        AND ($3::text IS NULL OR s.preparation_type = $3)
        AND ($4::date IS NULL OR s.created_at >= $4::date::timestamp AT TIME ZONE 'UTC')
        AND ($5::date IS NULL OR s.created_at < ($5::date + 1)::timestamp AT TIME ZONE 'UTC')
        AND ($6::int IS NULL OR s.overall_score >= $6)
        AND ($7::int IS NULL OR s.overall_score <= $7)";
    // The sort key comes from a closed enum, never from the caller's text.
    let dir = if ascending { "ASC" } else { "DESC" };
    let key = match order {
        Order::Date => format!("s.created_at {dir}"),
        Order::Score => format!("s.overall_score {dir} NULLS LAST, s.created_at DESC"),
        Order::Type => format!("s.preparation_type {dir}, s.created_at DESC"),
    };
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM practice_sessions s WHERE {WHERE} ORDER BY {key}, s.id DESC OFFSET $8 LIMIT $9"
    );
    let rows: Vec<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(user)
        .bind(f.status)
        .bind(f.preparation_type)
        .bind(f.start)
        .bind(f.end)
        .bind(f.min_score)
        .bind(f.max_score)
        .bind(offset)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    let (total, avg): (i64, Option<f64>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*), avg(s.overall_score)::float8 FROM practice_sessions s WHERE {WHERE}"
    )))
    .bind(user)
    .bind(f.status)
    .bind(f.preparation_type)
    .bind(f.start)
    .bind(f.end)
    .bind(f.min_score)
    .bind(f.max_score)
    .fetch_one(conn)
    .await?;
    Ok((rows, total, avg))
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EvaluationRow {
    pub id: Uuid,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub preparation_type: String,
    pub rubric_version: String,
    pub overall_score: i32,
    pub overall_label: String,
    pub dimension_scores: Value,
    pub improvement_areas: Value,
    pub practice_suggestions: Value,
    pub summary: String,
    pub path: String,
    pub model: String,
    pub reason: String,
    pub answer_id: Uuid,
    pub created_at: OffsetDateTime,
}

pub async fn insert_evaluation(conn: &mut PgConnection, e: &EvaluationRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO practice_evaluations (id, session_id, user_id, preparation_type, rubric_version, overall_score,
            overall_label, dimension_scores, improvement_areas, practice_suggestions, summary, path, model, reason, answer_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(e.id)
    .bind(e.session_id)
    .bind(e.user_id)
    .bind(&e.preparation_type)
    .bind(&e.rubric_version)
    .bind(e.overall_score)
    .bind(&e.overall_label)
    .bind(&e.dimension_scores)
    .bind(&e.improvement_areas)
    .bind(&e.practice_suggestions)
    .bind(&e.summary)
    .bind(&e.path)
    .bind(&e.model)
    .bind(&e.reason)
    .bind(e.answer_id)
    .bind(e.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

const EVALUATION_COLUMNS: &str = "id, session_id, user_id, preparation_type, rubric_version, overall_score, overall_label,
    dimension_scores, improvement_areas, practice_suggestions, summary, path, model, reason, answer_id, created_at";

pub async fn evaluation(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<EvaluationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVALUATION_COLUMNS} FROM practice_evaluations WHERE id = $1 AND user_id = $2"
    )))
    .bind(id)
    .bind(user)
    .fetch_optional(conn)
    .await
}

pub async fn session_evaluation(
    conn: &mut PgConnection,
    user: Uuid,
    session: Uuid,
) -> sqlx::Result<Option<EvaluationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {EVALUATION_COLUMNS} FROM practice_evaluations WHERE session_id = $1 AND user_id = $2"
    )))
    .bind(session)
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// Rebuilds the user's improvement plan from every evaluation: the focus areas (evaluations
/// naming each dimension, with the latest wording) and the rollups (average, best, latest per
/// dimension and overall). Run in the transaction that adds an evaluation, and after a merge.
pub async fn rebuild_plan(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM practice_focus_areas WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO practice_focus_areas (user_id, dimension, occurrences, area, suggestion, last_seen)
         SELECT $1, a.dimension, count(DISTINCT a.id)::int,
                (array_agg(a.area ORDER BY a.created_at DESC, a.id DESC))[1],
                (array_agg(a.suggestion ORDER BY a.created_at DESC, a.id DESC))[1],
                max(a.created_at)
         FROM (SELECT e.id, e.created_at, x->>'dimension' AS dimension, x->>'area' AS area, x->>'suggestion' AS suggestion
               FROM practice_evaluations e, jsonb_array_elements(e.improvement_areas) x
               WHERE e.user_id = $1) a
         GROUP BY a.dimension",
    )
    .bind(user)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM practice_rollups WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO practice_rollups (user_id, dimension, sessions, average, best, latest)
         SELECT $1, d.dimension, count(*)::int, avg(d.score)::float8, max(d.score),
                (array_agg(d.score ORDER BY d.created_at DESC, d.id DESC))[1]
         FROM (SELECT e.id, e.created_at, x->>'dimension' AS dimension, (x->>'score')::int AS score
               FROM practice_evaluations e, jsonb_array_elements(e.dimension_scores) x
               WHERE e.user_id = $1
               UNION ALL
               SELECT e.id, e.created_at, 'overall', e.overall_score
               FROM practice_evaluations e WHERE e.user_id = $1) d
         GROUP BY d.dimension",
    )
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FocusRow {
    pub dimension: String,
    pub occurrences: i32,
    pub area: String,
    pub suggestion: String,
    pub last_seen: OffsetDateTime,
}

/// The most recurring focus areas first (the latest on ties).
pub async fn focus_areas(
    conn: &mut PgConnection,
    user: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<FocusRow>> {
    sqlx::query_as(
        "SELECT dimension, occurrences, area, suggestion, last_seen FROM practice_focus_areas
         WHERE user_id = $1 ORDER BY occurrences DESC, last_seen DESC, dimension LIMIT $2",
    )
    .bind(user)
    .bind(limit)
    .fetch_all(conn)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RollupRow {
    pub dimension: String,
    pub sessions: i32,
    pub average: f64,
    pub best: i32,
    pub latest: i32,
}

pub async fn rollups(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<RollupRow>> {
    sqlx::query_as(
        "SELECT dimension, sessions, average, best, latest FROM practice_rollups
         WHERE user_id = $1 ORDER BY dimension = 'overall' DESC, dimension",
    )
    .bind(user)
    .fetch_all(conn)
    .await
}

/// The latest evaluation's practice suggestions.
pub async fn latest_suggestions(
    conn: &mut PgConnection,
    user: Uuid,
) -> sqlx::Result<Option<Value>> {
    sqlx::query_scalar(
        "SELECT practice_suggestions FROM practice_evaluations WHERE user_id = $1
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(user)
    .fetch_optional(conn)
    .await
}

/// Deletes everything of `user` (account deletion); returns the sessions deleted (their
/// messages and evaluations cascade).
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    for table in [
        "practice_focus_areas",
        "practice_rollups",
        "practice_evaluations",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE user_id = $1"
        )))
        .bind(user)
        .execute(&mut *conn)
        .await?;
    }
    Ok(
        sqlx::query("DELETE FROM practice_sessions WHERE user_id = $1")
            .bind(user)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Gives `source`'s sessions and evaluations to `target` and rebuilds both plans (account
/// merge); returns the sessions moved. Idempotent.
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    let moved = sqlx::query("UPDATE practice_sessions SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query("UPDATE practice_evaluations SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?;
    rebuild_plan(conn, source).await?;
    rebuild_plan(conn, target).await?;
    Ok(moved)
}
