//! H's projections (issue 15) behind `apply`: an event G's daily figures also count goes to
//! `daily` first, then to trends or topic mastery, for the log's owner (after a merge, the
//! target), so a rebuild replays them too.

use sqlx::PgConnection;
use stride_bus::HandlerError;
use stride_proto::events;

use super::{Entry, daily, evaluations, mastery};

pub async fn on_lesson_completed(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::LessonCompleted,
) -> Result<(), HandlerError> {
    daily::on_lesson_completed(conn, entry, e.clone()).await?;
    mastery::on_lesson_completed(conn, entry.user, e).await
}

pub async fn on_practice_session_evaluated(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::PracticeSessionEvaluated,
) -> Result<(), HandlerError> {
    daily::on_practice_session_evaluated(conn, entry, e.clone()).await?;
    evaluations::on_practice_session_evaluated(conn, entry.user, e).await
}

pub async fn on_quiz_completed(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::QuizCompleted,
) -> Result<(), HandlerError> {
    mastery::on_quiz_completed(conn, entry.user, e).await
}
