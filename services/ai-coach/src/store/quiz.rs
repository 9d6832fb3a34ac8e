//! The `quizzes` and `quiz_attempts` tables. Functions run on the caller's connection or
//! transaction and never begin or commit.

use sqlx::{PgConnection, types::Json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::quiz::{Question, QuestionResult};

#[derive(Debug, sqlx::FromRow)]
pub struct QuizRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub topic_id: Uuid,
    pub subject_id: Uuid,
    pub topic_title: String,
    pub questions: Json<Vec<Question>>,
    pub path: String,
    pub model: String,
    pub reason: String,
    pub answer_id: Uuid,
    pub timezone: String,
    pub created_at: OffsetDateTime,
}

pub async fn insert_quiz(conn: &mut PgConnection, q: &QuizRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO quizzes (id, user_id, topic_id, subject_id, topic_title, questions, path, model, reason, answer_id, timezone, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(q.id)
    .bind(q.user_id)
    .bind(q.topic_id)
    .bind(q.subject_id)
    .bind(&q.topic_title)
    .bind(&q.questions)
    .bind(&q.path)
    .bind(&q.model)
    .bind(&q.reason)
    .bind(q.answer_id)
    .bind(&q.timezone)
    .bind(q.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's quiz; another user's is None.
pub async fn quiz(conn: &mut PgConnection, user: Uuid, id: Uuid) -> sqlx::Result<Option<QuizRow>> {
    sqlx::query_as("SELECT * FROM quizzes WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .fetch_optional(conn)
        .await
}

#[derive(Debug, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub quiz_id: Uuid,
    pub request_id: Uuid,
    pub topic_id: Uuid,
    pub topic_title: String,
    pub answers: Vec<i32>,
    pub results: Json<Vec<QuestionResult>>,
    pub correct_count: i32,
    pub question_count: i32,
    pub created_at: OffsetDateTime,
}

/// Inserts the attempt unless the user already made one with this request id; true when
/// inserted.
pub async fn insert_attempt(conn: &mut PgConnection, a: &AttemptRow) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO quiz_attempts (id, user_id, quiz_id, request_id, topic_id, topic_title, answers, results, correct_count, question_count, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (user_id, request_id) DO NOTHING",
    )
    .bind(a.id)
    .bind(a.user_id)
    .bind(a.quiz_id)
    .bind(a.request_id)
    .bind(a.topic_id)
    .bind(&a.topic_title)
    .bind(&a.answers)
    .bind(&a.results)
    .bind(a.correct_count)
    .bind(a.question_count)
    .bind(a.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn attempt_by_request(
    conn: &mut PgConnection,
    user: Uuid,
    request: Uuid,
) -> sqlx::Result<Option<AttemptRow>> {
    sqlx::query_as("SELECT * FROM quiz_attempts WHERE user_id = $1 AND request_id = $2")
        .bind(user)
        .bind(request)
        .fetch_optional(conn)
        .await
}

/// The user's attempts, newest first, after the (created_at, id) cursor.
pub async fn attempts(
    conn: &mut PgConnection,
    user: Uuid,
    topic: Option<Uuid>,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<AttemptRow>> {
    sqlx::query_as(
        "SELECT * FROM quiz_attempts
         WHERE user_id = $1 AND ($2::uuid IS NULL OR topic_id = $2)
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
         ORDER BY created_at DESC, id DESC LIMIT $5",
    )
    .bind(user)
    .bind(topic)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// user.deleted.v1: every quiz and attempt of the user.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    let a = sqlx::query("DELETE FROM quiz_attempts WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let q = sqlx::query("DELETE FROM quizzes WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(a + q)
}

/// user.merged.v1: the guest's quizzes and attempts become the target's. A request id both
/// used keeps the target's attempt (the guest's is dropped: the retry key stays unique).
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    sqlx::query(
        "DELETE FROM quiz_attempts s USING quiz_attempts t
         WHERE s.user_id = $1 AND t.user_id = $2 AND s.request_id = t.request_id",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    let q = sqlx::query("UPDATE quizzes SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let a = sqlx::query("UPDATE quiz_attempts SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(q + a)
}
