//! `lesson.completed.v1` and `quiz.completed.v1` → topic mastery. Each fact is kept once (by
//! lesson and by attempt id) and the per-topic figures are additions plus a newest-wins latest
//! attempt: delivery order does not matter and a replay of the log gives the same rows.

use sqlx::PgConnection;
use stride_bus::HandlerError;
use stride_kit::convert::from_timestamp;
use stride_proto::events;
use uuid::Uuid;

use crate::{
    domain::mastery,
    store::mastery::{self as store, Attempt, Lesson},
};

fn permanent(what: String) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!(what))
}

fn id_field(event: &str, field: &str, value: &str) -> Result<(), HandlerError> {
    if value.trim().is_empty() || value.len() > 128 || value.contains('\0') {
        return Err(permanent(format!("{event}: {field} is empty or too long")));
    }
    Ok(())
}

pub async fn on_lesson_completed(
    conn: &mut PgConnection,
    user: Uuid,
    e: events::LessonCompleted,
) -> Result<(), HandlerError> {
    const E: &str = "lesson.completed.v1";
    id_field(E, "lesson_id", &e.lesson_id)?;
    id_field(E, "topic_id", &e.topic_id)?;
    if e.subject_id.contains('\0') {
        return Err(permanent(format!("{E}: subject_id holds NUL")));
    }
    let lesson = Lesson {
        lesson_id: &e.lesson_id,
        topic_id: &e.topic_id,
        subject_id: &e.subject_id,
        completed_at: e
            .complete_time
            .as_ref()
            .and_then(from_timestamp)
            .map(stride_kit::clock::db_precision),
    };
    store::add_lesson(conn, user, &lesson).await?;
    Ok(())
}

pub async fn on_quiz_completed(
    conn: &mut PgConnection,
    user: Uuid,
    e: events::QuizCompleted,
) -> Result<(), HandlerError> {
    const E: &str = "quiz.completed.v1";
    id_field(E, "quiz_attempt_id", &e.quiz_attempt_id)?;
    id_field(E, "topic_id", &e.topic_id)?;
    let percent = mastery::percent(e.correct_count, e.question_count).ok_or_else(|| {
        permanent(format!(
            "{E}: {} of {} questions is not a result",
            e.correct_count, e.question_count
        ))
    })?;
    let submit_time = e
        .submit_time
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| permanent(format!("{E}: submit_time is missing or invalid")))?;
    let title: String = e
        .topic_title
        .trim()
        .chars()
        .filter(|c| *c != '\0')
        .take(200)
        .collect();
    let attempt = Attempt {
        attempt_id: &e.quiz_attempt_id,
        topic_id: &e.topic_id,
        subject_id: &e.subject_id,
        topic_title: &title,
        correct: e.correct_count,
        questions: e.question_count,
        percent,
        submit_time: stride_kit::clock::db_precision(submit_time),
    };
    store::add_attempt(conn, user, &attempt).await?;
    Ok(())
}
