//! Sessions: a completed session adds to the day the producer dated it (never recomputed here:
//! a later zone change must not move a past day); a session whose event says `counts = false`
//! adds nothing.

use sqlx::PgConnection;
use stride_bus::HandlerError;
use stride_kit::convert::{from_duration, from_timestamp, is_valid_timezone};
use stride_proto::events;

use super::{Entry, local_date};
use crate::{
    domain::{rollup, timezone},
    store,
};

pub async fn on_session_completed(
    conn: &mut PgConnection,
    entry: &Entry,
    e: events::SessionCompleted,
) -> Result<(), HandlerError> {
    let user = entry.user;
    // Integrity (activity-session's ADR 0015): a session too short to count adds nothing
    // to the day's figures or the streak. An event without the field predates the rule.
    if e.counts == Some(false) {
        tracing::info!(%user, session = %e.session_id, reason = %e.count_reason, "session does not count");
        return Ok(());
    }
    let date = local_date(e.local_date.as_ref())?;
    let end = e.end_time.as_ref().and_then(from_timestamp);
    let session = rollup::session(
        &e.activity_kind,
        e.duration.as_ref().map(from_duration),
        e.start_time.as_ref().and_then(from_timestamp),
        end,
    );
    let planned = e.planned_duration.as_ref().map(from_duration);
    store::add(
        conn,
        user,
        date,
        &rollup::session_figures(&e.activity_kind, session, planned),
    )
    .await?;
    if is_valid_timezone(&e.timezone) {
        // The receive time, not the clock: a rebuild must reach the same hint.
        let hint = timezone::Hint {
            timezone: e.timezone,
            observed_at: end.unwrap_or(entry.received_at),
        };
        store::observe_hint(conn, user, &hint).await?;
    }
    Ok(())
}
