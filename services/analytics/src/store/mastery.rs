//! `lessons_completed`, `quiz_attempts` (the facts, one row each) and `topic_mastery` (their
//! per-topic figures, kept at write time).

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::mastery::Topic;

pub struct Lesson<'a> {
    pub lesson_id: &'a str,
    pub topic_id: &'a str,
    pub subject_id: &'a str,
    pub completed_at: Option<OffsetDateTime>,
}

pub struct Attempt<'a> {
    pub attempt_id: &'a str,
    pub topic_id: &'a str,
    pub subject_id: &'a str,
    pub topic_title: &'a str,
    pub correct: i32,
    pub questions: i32,
    pub percent: i32,
    pub submit_time: OffsetDateTime,
}

/// Records a completed lesson; its topic counts it once, however often it is announced.
pub async fn add_lesson(conn: &mut PgConnection, user: Uuid, l: &Lesson<'_>) -> sqlx::Result<bool> {
    let new: Option<i32> = sqlx::query_scalar(
        "INSERT INTO lessons_completed (user_id, lesson_id, topic_id, subject_id, completed_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
    )
    .bind(user)
    .bind(l.lesson_id)
    .bind(l.topic_id)
    .bind(l.subject_id)
    .bind(l.completed_at)
    .fetch_optional(&mut *conn)
    .await?;
    if new.is_none() {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO topic_mastery (user_id, topic_id, subject_id, lessons_completed)
         VALUES ($1, $2, $3, 1)
         ON CONFLICT (user_id, topic_id) DO UPDATE
           SET lessons_completed = topic_mastery.lessons_completed + 1",
    )
    .bind(user)
    .bind(l.topic_id)
    .bind(l.subject_id)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Records a quiz attempt; the topic adds it once and takes its result as the latest when no
/// later attempt is stored.
pub async fn add_attempt(
    conn: &mut PgConnection,
    user: Uuid,
    a: &Attempt<'_>,
) -> sqlx::Result<bool> {
    let new: Option<i32> = sqlx::query_scalar(
        "INSERT INTO quiz_attempts (user_id, quiz_attempt_id, topic_id, subject_id, topic_title,
                                    correct_count, question_count, percent, submit_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING 1",
    )
    .bind(user)
    .bind(a.attempt_id)
    .bind(a.topic_id)
    .bind(a.subject_id)
    .bind(a.topic_title)
    .bind(a.correct)
    .bind(a.questions)
    .bind(a.percent)
    .bind(a.submit_time)
    .fetch_optional(&mut *conn)
    .await?;
    if new.is_none() {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO topic_mastery (user_id, topic_id, subject_id, topic_title, quiz_attempts,
                                    quiz_percent_sum, latest_percent, latest_time, latest_attempt_id)
         VALUES ($1, $2, $3, $4, 1, $5, $5, $6, $7)
         ON CONFLICT (user_id, topic_id) DO UPDATE SET
           quiz_attempts = topic_mastery.quiz_attempts + 1,
           quiz_percent_sum = topic_mastery.quiz_percent_sum + EXCLUDED.quiz_percent_sum,
           latest_percent = CASE WHEN topic_mastery.latest_time IS NULL
               OR (EXCLUDED.latest_time, EXCLUDED.latest_attempt_id) > (topic_mastery.latest_time, topic_mastery.latest_attempt_id)
             THEN EXCLUDED.latest_percent ELSE topic_mastery.latest_percent END,
           topic_title = CASE WHEN topic_mastery.latest_time IS NULL
               OR (EXCLUDED.latest_time, EXCLUDED.latest_attempt_id) > (topic_mastery.latest_time, topic_mastery.latest_attempt_id)
             THEN EXCLUDED.topic_title ELSE topic_mastery.topic_title END,
           latest_attempt_id = CASE WHEN topic_mastery.latest_time IS NULL
               OR (EXCLUDED.latest_time, EXCLUDED.latest_attempt_id) > (topic_mastery.latest_time, topic_mastery.latest_attempt_id)
             THEN EXCLUDED.latest_attempt_id ELSE topic_mastery.latest_attempt_id END,
           latest_time = GREATEST(topic_mastery.latest_time, EXCLUDED.latest_time)",
    )
    .bind(user)
    .bind(a.topic_id)
    .bind(a.subject_id)
    .bind(a.topic_title)
    .bind(a.percent)
    .bind(a.submit_time)
    .bind(a.attempt_id)
    .execute(conn)
    .await?;
    Ok(true)
}

type TopicRow = (
    String,
    String,
    String,
    i32,
    i32,
    i64,
    i32,
    Option<OffsetDateTime>,
);

/// The user's topics (of `subject`, when given).
pub async fn topics(
    conn: &mut PgConnection,
    user: Uuid,
    subject: Option<&str>,
) -> sqlx::Result<Vec<Topic>> {
    let rows: Vec<TopicRow> = sqlx::query_as(
        "SELECT topic_id, subject_id, topic_title, lessons_completed, quiz_attempts,
                quiz_percent_sum, latest_percent, latest_time
         FROM topic_mastery WHERE user_id = $1 AND ($2::text IS NULL OR subject_id = $2)",
    )
    .bind(user)
    .bind(subject)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Topic {
            topic_id: r.0,
            subject_id: r.1,
            topic_title: r.2,
            lessons_completed: r.3,
            quiz_attempts: r.4,
            quiz_percent_sum: r.5,
            latest_percent: r.6,
            latest_time: r.7,
        })
        .collect())
}

/// Moves `source`'s lessons and attempts to `target` (a fact both hold counts once) and
/// recomputes the target's topics from them.
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    let mut moved = sqlx::query(
        "INSERT INTO lessons_completed (user_id, lesson_id, topic_id, subject_id, completed_at)
         SELECT $2, lesson_id, topic_id, subject_id, completed_at FROM lessons_completed
         WHERE user_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    moved += sqlx::query(
        "INSERT INTO quiz_attempts (user_id, quiz_attempt_id, topic_id, subject_id, topic_title,
                                    correct_count, question_count, percent, submit_time)
         SELECT $2, quiz_attempt_id, topic_id, subject_id, topic_title, correct_count,
                question_count, percent, submit_time
         FROM quiz_attempts WHERE user_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    recompute(conn, target).await?;
    Ok(moved)
}

/// Rebuilds `user`'s `topic_mastery` from their lessons and attempts.
async fn recompute(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM topic_mastery WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO topic_mastery (user_id, topic_id, subject_id, lessons_completed)
         SELECT $1, topic_id, max(subject_id), count(*) FROM lessons_completed
         WHERE user_id = $1 GROUP BY topic_id",
    )
    .bind(user)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO topic_mastery (user_id, topic_id, subject_id, topic_title, quiz_attempts,
                                    quiz_percent_sum, latest_percent, latest_time, latest_attempt_id)
         SELECT $1, a.topic_id, l.subject_id, l.topic_title, a.n, a.s, l.percent, l.submit_time,
                l.quiz_attempt_id
         FROM (SELECT topic_id, count(*)::int AS n, sum(percent)::bigint AS s FROM quiz_attempts
               WHERE user_id = $1 GROUP BY topic_id) a
         JOIN (SELECT DISTINCT ON (topic_id) topic_id, subject_id, topic_title, percent,
                      submit_time, quiz_attempt_id
               FROM quiz_attempts WHERE user_id = $1
               ORDER BY topic_id, submit_time DESC, quiz_attempt_id DESC) l USING (topic_id)
         ON CONFLICT (user_id, topic_id) DO UPDATE SET
           topic_title = EXCLUDED.topic_title, quiz_attempts = EXCLUDED.quiz_attempts,
           quiz_percent_sum = EXCLUDED.quiz_percent_sum, latest_percent = EXCLUDED.latest_percent,
           latest_time = EXCLUDED.latest_time, latest_attempt_id = EXCLUDED.latest_attempt_id",
    )
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}
