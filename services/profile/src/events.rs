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
pub const CONSUMES: [&str; 3] = [
    events::UserRegistered::TYPE,
    events::UserDeleted::TYPE,
    events::UserMerged::TYPE,
];

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
            events::UserMerged::TYPE => {
                let ev = env.decode::<events::UserMerged>()?;
                let (source, target) = merged_ids(&ev)?;
                let now = store::micros(self.clock.now());
                // Idempotent: once the source's row is gone a replay changes nothing and
                // announces nothing. The target's consumers learn its new state from the usual
                // profile.updated.v1 (next revision); each purges the source on this event itself.
                let merged = store::merge(tx, source, target, now).await?;
                if let Some(row) = &merged {
                    stride_bus::outbox::enqueue(tx, &row.event()).await?;
                }
                tracing::info!(%source, %target, changed = merged.is_some(), "user merged: profile merged");
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

/// `(source, target)` of a merge: two different UUIDs, or the event can never apply.
fn merged_ids(ev: &events::UserMerged) -> Result<(uuid::Uuid, uuid::Uuid), HandlerError> {
    let parse = |field: &str, raw: &str| {
        uuid::Uuid::parse_str(raw).map_err(|_| {
            HandlerError::Permanent(anyhow::anyhow!(
                "user.merged.v1 {field} {raw:?} is not a UUID"
            ))
        })
    };
    let source = parse("source_user_id", &ev.source_user_id)?;
    let target = parse("target_user_id", &ev.target_user_id)?;
    if source == target {
        return Err(HandlerError::Permanent(anyhow::anyhow!(
            "user.merged.v1 merges {source} into itself"
        )));
    }
    Ok((source, target))
}
