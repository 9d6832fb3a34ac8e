//! Challenge awards and achievements: points and XP on the day the producer dated them.

use sqlx::PgConnection;
use stride_bus::HandlerError;
use stride_proto::events;

use super::{Entry, local_date};
use crate::{
    domain::rollup::{self, Figures},
    store,
};

pub async fn on_challenge_completed(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::ChallengeCompleted,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    let delta = Figures {
        points: rollup::points(e.points_awarded).into(),
        ..Figures::default()
    };
    store::add(conn, entry.user, date, &delta).await?;
    Ok(())
}

/// An achievement's points and XP, on its day. (level.reached.v1 carries a running total, no
/// day's earning: not consumed; challenge.settled.v1 names no points per user: not consumed.)
pub async fn on_achievement_unlocked(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::AchievementUnlocked,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    let delta = Figures {
        points: rollup::points(e.points_awarded).into(),
        xp: rollup::points(e.xp_awarded).into(),
        ..Figures::default()
    };
    store::add(conn, entry.user, date, &delta).await?;
    Ok(())
}
