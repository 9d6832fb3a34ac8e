//! Reactions to other services' events: an account deletion purges the user's usage rows.

use sqlx::PgConnection;
use stride_bus::{
    Envelope, Event as _,
    consumer::{Handler, HandlerError},
};
use stride_proto::events;

/// Event types bound to `ai-coach.events`.
pub const CONSUMES: [&str; 1] = [events::UserDeleted::TYPE];

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
