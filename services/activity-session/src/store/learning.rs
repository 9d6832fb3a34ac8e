//! Learning content (`subjects`, `topics`, `lessons`: seeded by the migrations, only read here)
//! and each user's `lesson_progress`.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SubjectRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub position: i32,
    pub topic_count: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TopicRow {
    pub id: Uuid,
    pub subject_id: Uuid,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub position: i32,
    pub lesson_count: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LessonRow {
    pub id: Uuid,
    pub topic_id: Uuid,
    pub subject_id: Uuid,
    pub slug: String,
    pub title: String,
    /// Empty in lists.
    pub body_markdown: String,
    pub estimated_minutes: i32,
    pub position: i32,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProgressRow {
    pub lesson_id: Uuid,
    pub topic_id: Uuid,
    pub subject_id: Uuid,
    pub completed_at: OffsetDateTime,
    pub local_date: Date,
    pub timezone: String,
}

/// Subjects by position, after position `after`.
pub async fn subjects(
    conn: &mut PgConnection,
    after: Option<i32>,
    limit: i64,
) -> sqlx::Result<Vec<SubjectRow>> {
    sqlx::query_as(
        "SELECT s.id, s.slug, s.name, s.description, s.position,
                (SELECT count(*) FROM topics t WHERE t.subject_id = s.id) AS topic_count
         FROM subjects s WHERE ($1::integer IS NULL OR s.position > $1)
         ORDER BY s.position LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn subject_exists(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM subjects WHERE id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Topics of `subject` by position, after position `after`.
pub async fn topics(
    conn: &mut PgConnection,
    subject: Uuid,
    after: Option<i32>,
    limit: i64,
) -> sqlx::Result<Vec<TopicRow>> {
    sqlx::query_as(
        "SELECT t.id, t.subject_id, t.slug, t.name, t.description, t.position,
                (SELECT count(*) FROM lessons l WHERE l.topic_id = t.id) AS lesson_count
         FROM topics t WHERE t.subject_id = $1 AND ($2::integer IS NULL OR t.position > $2)
         ORDER BY t.position LIMIT $3",
    )
    .bind(subject)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn topic_exists(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM topics WHERE id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Lessons of `topic` by position, after position `after`, without their bodies.
pub async fn lessons(
    conn: &mut PgConnection,
    topic: Uuid,
    after: Option<i32>,
    limit: i64,
) -> sqlx::Result<Vec<LessonRow>> {
    sqlx::query_as(
        "SELECT l.id, l.topic_id, t.subject_id, l.slug, l.title, '' AS body_markdown,
                l.estimated_minutes, l.position
         FROM lessons l JOIN topics t ON t.id = l.topic_id
         WHERE l.topic_id = $1 AND ($2::integer IS NULL OR l.position > $2)
         ORDER BY l.position LIMIT $3",
    )
    .bind(topic)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Lesson `id` with its body.
pub async fn lesson(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<LessonRow>> {
    sqlx::query_as(
        "SELECT l.id, l.topic_id, t.subject_id, l.slug, l.title, l.body_markdown,
                l.estimated_minutes, l.position
         FROM lessons l JOIN topics t ON t.id = l.topic_id WHERE l.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

const PROGRESS: &str = "SELECT p.lesson_id, l.topic_id, t.subject_id, p.completed_at, \
                        p.local_date, p.timezone \
                        FROM lesson_progress p JOIN lessons l ON l.id = p.lesson_id \
                        JOIN topics t ON t.id = l.topic_id";

/// Records that `user` completed `lesson`; None when they already had (nothing changes).
pub async fn complete(
    conn: &mut PgConnection,
    user: Uuid,
    lesson: Uuid,
    at: OffsetDateTime,
    local_date: Date,
    timezone: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO lesson_progress (user_id, lesson_id, completed_at, local_date, timezone)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, lesson_id) DO NOTHING",
    )
    .bind(user)
    .bind(lesson)
    .bind(at)
    .bind(local_date)
    .bind(timezone)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// `user`'s completion of `lesson`, if any.
pub async fn progress(
    conn: &mut PgConnection,
    user: Uuid,
    lesson: Uuid,
) -> sqlx::Result<Option<ProgressRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PROGRESS} WHERE p.user_id = $1 AND p.lesson_id = $2"
    )))
    .bind(user)
    .bind(lesson)
    .fetch_optional(conn)
    .await
}

/// `user`'s completions, newest first, optionally of one subject or topic, after `after`
/// (completion time, lesson id).
pub async fn progress_list(
    conn: &mut PgConnection,
    user: Uuid,
    subject: Option<Uuid>,
    topic: Option<Uuid>,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<ProgressRow>> {
    let (at, id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PROGRESS} WHERE p.user_id = $1
           AND ($2::uuid IS NULL OR t.subject_id = $2)
           AND ($3::uuid IS NULL OR l.topic_id = $3)
           AND ($4::timestamptz IS NULL OR (p.completed_at, p.lesson_id) < ($4, $5))
         ORDER BY p.completed_at DESC, p.lesson_id DESC LIMIT $6"
    )))
    .bind(user)
    .bind(subject)
    .bind(topic)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Deletes every completion of `user`; returns how many went.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM lesson_progress WHERE user_id = $1")
            .bind(user)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Moves `source`'s completions to `target`. A lesson both completed keeps the earlier
/// completion (the one first announced); a replay moves nothing.
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    sqlx::query(
        "DELETE FROM lesson_progress t USING lesson_progress s
         WHERE t.user_id = $2 AND s.user_id = $1 AND s.lesson_id = t.lesson_id
           AND s.completed_at < t.completed_at",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM lesson_progress s USING lesson_progress t
         WHERE s.user_id = $1 AND t.user_id = $2 AND s.lesson_id = t.lesson_id",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    Ok(
        sqlx::query("UPDATE lesson_progress SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
