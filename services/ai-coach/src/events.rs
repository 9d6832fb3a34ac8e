//! Events: the subscriptions, one typed handler per consumed event. ai-coach publishes nothing.
//!
//! - `user.deleted.v1` purges the user's usage rows.
//! - `user.merged.v1` moves a guest's usage rows to the target account.

use stride_bus::{Envelope, HandlerError, Merged as _, On, Subject as _, Subscriptions, Tx};
use stride_proto::events;

use crate::store;

pub fn subscriptions() -> Subscriptions {
    Subscriptions::new()
        .on::<events::UserDeleted, _>(Handlers)
        .on::<events::UserMerged, _>(Handlers)
}

#[derive(Clone, Copy)]
pub struct Handlers;

impl On<events::UserDeleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserDeleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        // Idempotent. A recommendation answered concurrently with the deletion may still record
        // a row afterwards (usage accounting only): accepted.
        let purged = store::purge_user(tx, user).await?
            + crate::answers::purge_user(tx, user).await?
            + store::practice::purge_user(tx, user).await?
            + crate::conversations::purge_user(tx, user).await?
            + store::quiz::purge_user(tx, user).await?
            + store::agents::purge_user(tx, user).await?
            + store::doubt::purge_user(tx, user).await?;
        tracing::info!(%user, purged, "user deleted: recommendations purged");
        Ok(())
    }
}

impl On<events::UserMerged> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserMerged,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let m = e.merge()?;
        // The guest's answers are the target's usage now (one row per answer, no key to
        // combine). Idempotent: a replay finds no row of the source.
        let moved = store::move_user(tx, m.source, m.target).await?
            + crate::answers::move_user(tx, m.source, m.target).await?
            + store::practice::move_user(tx, m.source, m.target).await?
            + crate::conversations::move_user(tx, m.source, m.target).await?
            + store::quiz::move_user(tx, m.source, m.target).await?
            + store::agents::move_user(tx, m.source, m.target).await?
            + store::doubt::move_user(tx, m.source, m.target).await?;
        tracing::info!(source = %m.source, target = %m.target, moved, "user merged: recommendations moved");
        Ok(())
    }
}
