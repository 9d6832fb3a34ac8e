//! Challenge awards: points on the day the producer dated them.

use sqlx::PgConnection;
use stride_bus::HandlerError;
use stride_proto::events;

use super::{Entry, local_date};
use crate::{domain::rollup, store};

pub async fn on_challenge_completed(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::ChallengeCompleted,
) -> Result<(), HandlerError> {
    let date = local_date(e.local_date.as_ref())?;
    store::add_points(conn, entry.user, date, rollup::points(e.points_awarded)).await?;
    Ok(())
}
