//! Events: the subscriptions (one typed handler per consumed event) and the one place that
//! builds what profile publishes.
//!
//! - `user.registered.v1` creates the profile and announces it.
//! - `user.deleted.v1` purges it (no announcement: every consumer purges on the same event).
//! - `user.merged.v1` fills the target's empty fields from the guest's and forgets the guest.

use stride_bus::{Envelope, HandlerError, Merged as _, On, Subject as _, Subscriptions, Tx};
use stride_kit::{clock::SharedClock, convert::timezone_or_utc};
use stride_proto::events;

use crate::store;

pub fn subscriptions(clock: &SharedClock) -> Subscriptions {
    let handlers = Handlers {
        clock: clock.clone(),
    };
    Subscriptions::new()
        .on::<events::UserRegistered, _>(handlers.clone())
        .on::<events::UserDeleted, _>(handlers.clone())
        .on::<events::UserMerged, _>(handlers)
        .on::<events::SessionCompleted, _>(crate::notifications::events::Handlers {
            clock: clock.clone(),
        })
}

#[derive(Clone)]
pub struct Handlers {
    clock: SharedClock,
}

impl On<events::UserRegistered> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserRegistered,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        // The zone the device reported at sign-up; anything unusable starts as UTC. A profile
        // that already exists (the event replayed under another id) stays as it is.
        let tz = timezone_or_utc(&e.timezone);
        crate::notifications::store::set_email(tx, user, &e.email).await?;
        if let Some(row) = store::create(tx, user, &e.username, tz, self.clock.now_db()).await? {
            tx.publish(&publish::profile_updated(&row)).await?;
        }
        Ok(())
    }
}

impl On<events::UserDeleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserDeleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        // Idempotent: a replay (or a user we never saw) deletes nothing.
        let purged = store::purge_user(tx, user).await?
            + crate::notifications::store::purge_user(tx, user).await?
            + crate::export::store::purge_user(tx, user).await?.len() as u64;
        tracing::info!(%user, purged, "user deleted: profile purged");
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
        // Idempotent: once the source's row is gone a replay changes nothing and announces
        // nothing. The target's consumers learn its new state from the usual profile.updated.v1
        // (next revision); each forgets the source on this event itself.
        let merged = store::merge(tx, m.source, m.target, self.clock.now_db()).await?;
        crate::notifications::store::merge_user(tx, m.source, m.target).await?;
        crate::export::store::purge_user(tx, m.source).await?;
        if let Some(row) = &merged {
            tx.publish(&publish::profile_updated(row)).await?;
        }
        tracing::info!(source = %m.source, target = %m.target, changed = merged.is_some(), "user merged: profile merged");
        Ok(())
    }
}

/// What profile publishes.
pub mod publish {
    use stride_kit::convert::{date, local_date, timestamp};
    use stride_proto::events;

    use crate::store::ProfileRow;

    /// The full current state, as consumers keep it (`stride_bus::directory`).
    pub fn profile_updated(row: &ProfileRow) -> events::ProfileUpdated {
        events::ProfileUpdated {
            user_id: row.user_id.to_string(),
            display_name: row.display_name.clone(),
            timezone: row.timezone.clone(),
            locale: row.locale.clone(),
            occur_time: Some(timestamp(row.updated_at)),
            revision: row.revision,
            local_date: Some(date(local_date(row.updated_at, &row.timezone))),
        }
    }
}
