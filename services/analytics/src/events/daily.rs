//! The other day figures: shutdown reflections (and the day's clocked-out time), lessons,
//! workout logs (added, corrected, taken back — on the date performed), coach evaluations.

use sqlx::PgConnection;
use stride_bus::HandlerError;
use stride_kit::convert::{from_date, from_timestamp};
use stride_proto::events::{self, WorkoutFigures};
use time::Date;
use uuid::Uuid;

use super::{Entry, local_date};
use crate::{
    domain::rollup::{self, Figures},
    store,
};

pub async fn on_reflection_submitted(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::ReflectionSubmitted,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    store::add(
        conn,
        entry.user,
        date,
        &rollup::reflection(&e.productivity_rating),
    )
    .await?;
    if let Some(at) = e.submit_time.as_ref().and_then(from_timestamp) {
        store::clock_out(conn, entry.user, date, at).await?;
    }
    Ok(())
}

pub async fn on_lesson_completed(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::LessonCompleted,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    let delta = Figures {
        lessons: 1,
        lesson_minutes: i64::from(e.estimated_minutes.max(0)),
        ..Figures::default()
    };
    store::add(conn, entry.user, date, &delta).await?;
    Ok(())
}

pub async fn on_practice_session_evaluated(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::PracticeSessionEvaluated,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    let delta = Figures {
        evaluations: 1,
        evaluation_score_sum: i64::from(e.overall_score.clamp(0, 100)),
        ..Figures::default()
    };
    store::add(conn, entry.user, date, &delta).await?;
    Ok(())
}

/// Adds (sign 1) or takes back (sign -1) one workout log on the date it was performed
/// (the event's date when the figures lack one).
async fn workout(
    conn: &mut PgConnection,
    user: Uuid,
    f: Option<&WorkoutFigures>,
    fallback: Date,
    sign: i64,
) -> Result<(), HandlerError> {
    let default = WorkoutFigures::default();
    let f = f.unwrap_or(&default);
    let date = f
        .date_performed
        .as_ref()
        .and_then(from_date)
        .unwrap_or(fallback);
    let delta = rollup::workout(f.volume_kg);
    store::add(conn, user, date, &if sign < 0 { -delta } else { delta }).await?;
    Ok(())
}

pub async fn on_workout_logged(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::WorkoutLogged,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    workout(conn, entry.user, e.figures.as_ref(), date, 1).await
}

pub async fn on_workout_updated(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::WorkoutUpdated,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    workout(conn, entry.user, e.before.as_ref(), date, -1).await?;
    workout(conn, entry.user, e.after.as_ref(), date, 1).await
}

pub async fn on_workout_deleted(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::WorkoutDeleted,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    workout(conn, entry.user, e.figures.as_ref(), date, -1).await
}
