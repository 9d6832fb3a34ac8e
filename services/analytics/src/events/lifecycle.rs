//! `user.deleted.v1` purges the user (log and projections); `user.merged.v1` moves a guest's
//! figures, log rows, tasks and settings to the target. `profile.updated.v1` keeps the user
//! directory and the daily focus goal.

use stride_bus::{Envelope, HandlerError, Merged as _, On, Subject as _, Tx, directory};
use stride_kit::clock::SharedClock;
use stride_proto::events;

use crate::{domain::timezone, store};

#[derive(Clone)]
pub struct Handlers {
    pub clock: SharedClock,
}

impl On<events::UserDeleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserDeleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        // Not commutative with the additions: an event of this user delivered after the
        // deletion recreates a log row and figures for an account that no longer exists
        // (unreachable without a token). Accepted.
        let purged = store::purge_user(tx, user).await?
            + store::figures::purge(tx, user).await?
            + directory::forget(tx, user).await?;
        tracing::info!(%user, purged, "user deleted: analytics purged");
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
        // Like the deletion, an event of the guest delivered after the merge recreates a row
        // under the guest's id. Idempotent: a replay finds no row of the guest.
        let days = store::merge_rollups(tx, m.source, m.target).await?;
        let views = store::figures::merge(tx, m.source, m.target).await?;
        let logged = store::log::move_user(tx, m.source, m.target).await?;
        store::tasks::move_user(tx, m.source, m.target).await?;
        store::settings::move_user(tx, m.source, m.target).await?;
        let target_has_zone = directory::get(tx, m.target).await?.is_some()
            || store::hint(tx, m.target).await?.is_some();
        let source_profile = directory::get(tx, m.source).await?.map(|d| d.timezone);
        let source_hint = store::hint(tx, m.source).await?;
        if let Some(hint) = timezone::hint_after_merge(
            target_has_zone,
            source_profile.as_deref(),
            source_hint,
            self.clock.now_db(),
        ) {
            store::put_hint(tx, m.target, &hint).await?;
        }
        let purged = store::purge_user(tx, m.source).await?
            + store::figures::purge(tx, m.source).await?
            + directory::forget(tx, m.source).await?;
        tracing::info!(source = %m.source, target = %m.target, days, views, logged, purged, "user merged: analytics moved");
        Ok(())
    }
}

/// `profile.updated.v1`: the shared user directory, and the daily focus goal (0: unset, the
/// default applies).
#[derive(Clone)]
pub struct Profiles;

impl On<events::ProfileUpdated> for Profiles {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::ProfileUpdated,
        env: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let (goal, revision) = (e.daily_focus_goal_minutes.max(0), e.revision);
        directory::Replica.on(tx, e, env).await?;
        store::settings::put_focus_goal(tx, user, goal, revision).await?;
        Ok(())
    }
}
