//! Reactions to other services' events: an account deletion purges the user's usage rows; an
//! account merge moves a guest's usage rows to the target account.

use sqlx::PgConnection;
use stride_bus::{
    Envelope, Event as _,
    consumer::{Handler, HandlerError},
};
use stride_proto::events;

/// Event types bound to `ai-coach.events`.
pub const CONSUMES: [&str; 2] = [events::UserDeleted::TYPE, events::UserMerged::TYPE];

pub struct EventHandler;

impl Handler for EventHandler {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandlerError> {
        match env.event_type.as_str() {
            events::UserDeleted::TYPE => {
                let e = env.decode::<events::UserDeleted>()?;
                let user_id = uuid::Uuid::parse_str(&e.user_id).map_err(|_| {
                    HandlerError::Permanent(anyhow::anyhow!(
                        "user_id {:?} is not a UUID",
                        e.user_id
                    ))
                })?;
                // Idempotent. A recommendation answered concurrently with the deletion may still
                // record a row afterwards (usage accounting only): accepted.
                let purged = crate::store::purge_user(tx, user_id).await?;
                tracing::info!(%user_id, purged, "user deleted: recommendations purged");
                Ok(())
            }
            events::UserMerged::TYPE => {
                let e = env.decode::<events::UserMerged>()?;
                let parse = |field: &str, raw: &str| {
                    uuid::Uuid::parse_str(raw).map_err(|_| {
                        HandlerError::Permanent(anyhow::anyhow!(
                            "user.merged.v1 {field} {raw:?} is not a UUID"
                        ))
                    })
                };
                let source = parse("source_user_id", &e.source_user_id)?;
                let target = parse("target_user_id", &e.target_user_id)?;
                if source == target {
                    return Err(HandlerError::Permanent(anyhow::anyhow!(
                        "user.merged.v1 merges {source} into itself"
                    )));
                }
                // The guest's answers are the target's usage now (one row per answer, no key to
                // combine). Idempotent: a replay finds no row of the source.
                let moved = crate::store::move_user(tx, source, target).await?;
                tracing::info!(%source, %target, moved, "user merged: recommendations moved");
                Ok(())
            }
            other => {
                tracing::debug!(
                    event_type = other,
                    "ignoring an event type ai-coach does not handle"
                );
                Ok(())
            }
        }
    }
}
