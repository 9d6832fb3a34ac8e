//! Event handlers: every effect is commutative (additions, newest-revision-wins), so order of
//! delivery does not matter, and the inbox row in the same transaction absorbs duplicates.
//! The exceptions are `user.deleted.v1`, which purges the user, and `user.merged.v1`, which
//! moves a guest's figures to the target account (see their arms).

use sqlx::PgConnection;
use stride_bus::{
    Envelope, Event,
    consumer::{Handler, HandlerError},
};
use stride_proto::events::{
    ChallengeCompleted, ProfileUpdated, SessionCompleted, UserDeleted, UserMerged,
};
use uuid::Uuid;

use crate::store;

/// Types bound to `analytics.events`.
pub const TYPES: [&str; 5] = [
    SessionCompleted::TYPE,
    ChallengeCompleted::TYPE,
    ProfileUpdated::TYPE,
    UserDeleted::TYPE,
    UserMerged::TYPE,
];

pub struct EventHandler;

fn permanent(msg: String) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!(msg))
}

fn user_id(raw: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(raw).map_err(|_| permanent(format!("user_id {raw:?} is not a UUID")))
}

/// The producer's local date; never recomputed here (a later zone change must not move it).
fn local_date(d: Option<&stride_proto::Date>) -> Result<time::Date, HandlerError> {
    d.and_then(stride_kit::convert::from_date)
        .ok_or_else(|| permanent("local_date is missing or invalid".into()))
}

impl Handler for EventHandler {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandlerError> {
        match env.event_type.as_str() {
            SessionCompleted::TYPE => {
                let e: SessionCompleted = env.decode()?;
                let user = user_id(&e.user_id)?;
                let date = local_date(e.local_date.as_ref())?;
                let seconds = match (&e.duration, &e.start_time, &e.end_time) {
                    (Some(d), _, _) => stride_kit::convert::from_duration(d).whole_seconds(),
                    (None, Some(s), Some(t)) => {
                        match (
                            stride_kit::convert::from_timestamp(s),
                            stride_kit::convert::from_timestamp(t),
                        ) {
                            (Some(s), Some(t)) => (t - s).whole_seconds(),
                            _ => 0,
                        }
                    }
                    _ => 0,
                }
                .max(0);
                let focus = e.activity_kind == "focus";
                store::add_session(tx, user, date, focus, seconds).await?;
                if stride_kit::convert::is_valid_timezone(&e.timezone) {
                    let at = e
                        .end_time
                        .as_ref()
                        .and_then(stride_kit::convert::from_timestamp);
                    store::timezone_hint(tx, user, &e.timezone, at).await?;
                }
            }
            ChallengeCompleted::TYPE => {
                let e: ChallengeCompleted = env.decode()?;
                let user = user_id(&e.user_id)?;
                let date = local_date(e.local_date.as_ref())?;
                store::add_points(tx, user, date, e.points_awarded.max(0)).await?;
            }
            ProfileUpdated::TYPE => {
                let e: ProfileUpdated = env.decode()?;
                let user = user_id(&e.user_id)?;
                // An empty or unknown zone means the profile has none: "today" is then UTC.
                let tz = if stride_kit::convert::is_valid_timezone(&e.timezone) {
                    e.timezone.as_str()
                } else {
                    ""
                };
                store::set_timezone(tx, user, tz, e.revision.max(0)).await?;
            }
            UserDeleted::TYPE => {
                let e: UserDeleted = env.decode()?;
                let user = user_id(&e.user_id)?;
                // Not commutative with the additions above: a session/challenge event of this
                // user delivered after the deletion recreates a rollup row for an account that no
                // longer exists (figures only, unreachable without a token). Accepted.
                let purged = store::purge_user(tx, user).await?;
                tracing::info!(user_id = %user, purged, "user deleted: analytics purged");
            }
            UserMerged::TYPE => {
                let e: UserMerged = env.decode()?;
                let source = user_id(&e.source_user_id)?;
                let target = user_id(&e.target_user_id)?;
                if source == target {
                    return Err(permanent(format!(
                        "user.merged.v1 merges {source} into itself"
                    )));
                }
                // Like the deletion, a session/challenge event of the guest delivered after the
                // merge recreates a figures-only row under the guest's id. Points announced for
                // both users in one challenge window stay counted on their days here, although
                // challenge keeps only one of the two awards (no event retracts an award).
                let moved = store::merge_users(tx, source, target).await?;
                tracing::info!(%source, %target, moved, "user merged: analytics moved");
            }
            other => tracing::debug!(
                event_type = other,
                "ignoring an event type analytics does not use"
            ),
        }
        Ok(())
    }
}
