//! Events: the subscriptions (one typed handler per consumed event) and the one place that
//! builds what activity-session publishes.
//!
//! - `profile.updated.v1` keeps each user's timezone in the shared user directory
//!   (`stride_bus::directory`), for the local date of completed sessions.
//! - `user.deleted.v1` purges the user's sessions and directory entry.
//! - `user.merged.v1` moves the guest's sessions to the target account.

use stride_bus::{
    Envelope, HandlerError, Merged as _, On, Subject as _, Subscriptions, Tx, directory,
};
use stride_proto::events;

use crate::store;

pub fn subscriptions() -> Subscriptions {
    Subscriptions::new()
        .on::<events::ProfileUpdated, _>(directory::Replica)
        .on::<events::UserDeleted, _>(Handlers)
        .on::<events::UserMerged, _>(Handlers)
}

#[derive(Clone, Copy, Debug)]
pub struct Handlers;

impl On<events::UserDeleted> for Handlers {
    /// Deletes every row of the user, the active session included. Idempotent. A stale
    /// `profile.updated.v1` arriving afterwards can recreate the directory entry: harmless (a
    /// zone and a name, nothing refers to them) and overwritten like any other.
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserDeleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let sessions = store::sessions::purge_user(tx, user).await?;
        let purged = sessions + directory::forget(tx, user).await?;
        tracing::info!(%user, purged, "user deleted: sessions and timezone purged");
        Ok(())
    }
}

impl On<events::UserMerged> for Handlers {
    /// Moves every session of the guest to the target, then forgets the guest's directory entry
    /// (the target keeps its own, kept current by its profile updates).
    ///
    /// A user has one active session at most. When both have one, the target's stays and the
    /// guest's is dropped: sessions have no cancelled state, and completing it would announce
    /// `session.completed.v1` for work nobody finished, counted by challenge and analytics. An
    /// active session has produced no event yet, so dropping it leaves nothing behind elsewhere,
    /// as if the guest had abandoned it. Completed sessions all move, untouched (they keep the
    /// zone and local date they completed in).
    ///
    /// Idempotent: a replay finds no row of the source and changes nothing.
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserMerged,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let m = e.merge()?;
        let merged = store::sessions::merge(tx, m.source, m.target).await?;
        directory::forget(tx, m.source).await?;
        tracing::info!(
            source = %m.source,
            target = %m.target,
            moved = merged.moved,
            dropped = merged.dropped,
            "user merged: sessions moved"
        );
        Ok(())
    }
}

/// What activity-session publishes.
pub mod publish {
    use stride_kit::convert::{date, duration, timestamp};
    use stride_proto::events;

    use crate::{domain::session::Completion, store::sessions::SessionRow};

    /// `session` completed as `done` says, its local date computed in `timezone`.
    pub fn session_completed(
        session: &SessionRow,
        done: &Completion,
        timezone: &str,
    ) -> events::SessionCompleted {
        events::SessionCompleted {
            user_id: session.user_id.to_string(),
            session_id: session.id.to_string(),
            activity_id: session.activity_id.to_string(),
            activity_kind: session.kind.as_str().to_owned(),
            start_time: Some(timestamp(session.started_at)),
            end_time: Some(timestamp(done.ended_at)),
            duration: Some(duration(time::Duration::seconds(i64::from(
                done.duration_secs,
            )))),
            local_date: Some(date(done.local_date)),
            timezone: timezone.to_owned(),
        }
    }
}
