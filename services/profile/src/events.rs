//! Reactions to other services' events.

use sqlx::PgConnection;
use stride_bus::{
    Envelope, Event as _,
    consumer::{Handler, HandlerError},
    outbox::OutboxHandle,
};
use stride_kit::clock::SharedClock;
use stride_proto::events;

use crate::store;

/// Event types bound to `profile.events`.
pub const CONSUMES: [&str; 2] = [events::UserRegistered::TYPE, events::UserDeleted::TYPE];

pub struct ProfileEvents {
    pub clock: SharedClock,
    /// Profile creation emits `profile.updated.v1` through the same transaction.
    pub outbox: OutboxHandle,
}

impl Handler for ProfileEvents {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandlerError> {
        match env.event_type.as_str() {
            events::UserRegistered::TYPE => {
                let ev = env.decode::<events::UserRegistered>()?;
                let user_id = uuid::Uuid::parse_str(&ev.user_id).map_err(|_| {
                    HandlerError::Permanent(anyhow::anyhow!(
                        "user_id {:?} is not a UUID",
                        ev.user_id
                    ))
                })?;
                let now = store::micros(self.clock.now());
                // A profile that already exists (event replayed under another id) stays as is.
                // The zone the device reported at sign-up; anything unusable starts as UTC.
                let timezone = if stride_kit::convert::is_valid_timezone(&ev.timezone) {
                    ev.timezone.as_str()
                } else {
                    "UTC"
                };
                if let Some(row) = store::create(tx, user_id, &ev.username, timezone, now).await? {
                    stride_bus::outbox::enqueue(tx, &row.event()).await?;
                }
                Ok(())
            }
            events::UserDeleted::TYPE => {
                let ev = env.decode::<events::UserDeleted>()?;
                let user_id = uuid::Uuid::parse_str(&ev.user_id).map_err(|_| {
                    HandlerError::Permanent(anyhow::anyhow!(
                        "user_id {:?} is not a UUID",
                        ev.user_id
                    ))
                })?;
                // Idempotent: a replay (or a user we never saw) deletes nothing. No
                // profile.updated.v1 follows: every consumer purges on user.deleted.v1 itself.
                let purged = store::purge_user(tx, user_id).await?;
                tracing::info!(%user_id, purged, "user deleted: profile purged");
                Ok(())
            }
            other => {
                tracing::debug!(
                    event_type = other,
                    "ignoring an event type profile does not handle"
                );
                Ok(())
            }
        }
    }

    fn after_commit(&self, _event: &Envelope) {
        self.outbox.kick();
    }
}
