//! Events: the subscriptions (one typed handler per consumed event) and the one place that
//! builds what profile publishes.
//!
//! - `user.registered.v1` creates the profile and announces it.
//! - `user.deleted.v1` purges it and its uploaded avatar file (no announcement: every consumer
//!   purges on the same event).
//! - `user.merged.v1` fills the target's empty fields (and avatar) from the guest's and forgets
//!   the guest.
//! - `practice_session.evaluated.v1` activates a new user (once).

use stride_bus::{Envelope, HandlerError, Merged as _, On, Subject as _, Subscriptions, Tx};
use stride_kit::{
    clock::SharedClock,
    convert::{from_timestamp, timezone_or_utc},
};
use stride_proto::events;
use uuid::Uuid;

use crate::{
    avatar::{Urls, storage::SharedStore},
    domain, store,
};

pub fn subscriptions(clock: &SharedClock, objects: &SharedStore, urls: &Urls) -> Subscriptions {
    let handlers = Handlers {
        clock: clock.clone(),
        objects: objects.clone(),
        urls: urls.clone(),
    };
    let notify = crate::notifications::events::Handlers {
        clock: clock.clone(),
    };
    Subscriptions::new()
        .on::<events::UserRegistered, _>(handlers.clone())
        .on::<events::UserDeleted, _>(handlers.clone())
        .on::<events::UserMerged, _>(handlers.clone())
        .on::<events::PracticeSessionEvaluated, _>(handlers)
        .on::<events::SessionCompleted, _>(notify.clone())
        .on::<events::TaskCreated, _>(notify.clone())
        .on::<events::TaskUpdated, _>(notify.clone())
        .on::<events::TaskCompleted, _>(notify.clone())
        .on::<events::TaskReopened, _>(notify.clone())
        .on::<events::TaskDeleted, _>(notify.clone())
        .on::<events::ChallengeCompleted, _>(notify.clone())
        .on::<events::ChallengeSettled, _>(notify.clone())
        .on::<events::PlanCompleted, _>(notify.clone())
        .on::<events::ChallengeJoined, _>(notify.clone())
        .on::<events::ChallengeLeft, _>(notify.clone())
        .on::<events::PlanAssigned, _>(notify.clone())
        .on::<events::PlanRescheduled, _>(notify)
}

#[derive(Clone)]
pub struct Handlers {
    clock: SharedClock,
    objects: SharedStore,
    urls: Urls,
}

impl Handlers {
    /// Deletes stored avatar files. Runs before the transaction commits: if the commit then
    /// fails, the redelivery finds the same rows and deletes again (deleting a missing object
    /// succeeds), so a purge never leaves a file behind.
    async fn delete_objects(&self, keys: &[String]) -> Result<(), HandlerError> {
        for key in keys {
            self.objects
                .delete(key)
                .await
                .map_err(HandlerError::Transient)?;
        }
        Ok(())
    }
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
            tx.publish(&publish::profile_updated(&row, &self.urls))
                .await?;
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
        let keys = store::purge_user(tx, user).await?;
        // Notification rows and export rows go in this transaction; the export sweeper
        // removes the archive files no row owns any more.
        let notifications = crate::notifications::store::purge_user(tx, user).await?;
        let exports = crate::export::store::purge_user(tx, user).await?.len();
        self.delete_objects(&keys).await?;
        tracing::info!(%user, avatars = keys.len(), notifications, exports, "user deleted: profile purged");
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
        if let Some(row) = &merged.target {
            tx.publish(&publish::profile_updated(row, &self.urls))
                .await?;
        }
        self.delete_objects(&merged.orphaned_avatars).await?;
        tracing::info!(source = %m.source, target = %m.target, changed = merged.target.is_some(), "user merged: profile merged");
        Ok(())
    }
}

impl On<events::PracticeSessionEvaluated> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::PracticeSessionEvaluated,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let session = Uuid::parse_str(&e.practice_session_id).map_err(|_| {
            HandlerError::Permanent(anyhow::anyhow!(
                "practice_session.evaluated.v1: practice_session_id is not a UUID"
            ))
        })?;
        let at = e
            .evaluate_time
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or_else(|| self.clock.now_db());
        // The state change is the rule's; a user without a profile (deleted meanwhile) or
        // already activated changes nothing.
        let Some(state) = domain::activate(domain::ACTIVATION_NEW) else {
            return Ok(());
        };
        let activated = store::activate(tx, user, state, session, at).await?;
        tracing::info!(%user, %session, activated, "practice session evaluated");
        Ok(())
    }
}

/// What profile publishes.
pub mod publish {
    use stride_kit::convert::{date, local_date, timestamp};
    use stride_proto::events;

    use crate::{avatar::Urls, store::ProfileRow};

    /// The full current state, as consumers keep it (`stride_bus::directory`).
    pub fn profile_updated(row: &ProfileRow, urls: &Urls) -> events::ProfileUpdated {
        events::ProfileUpdated {
            user_id: row.user_id.to_string(),
            display_name: row.display_name.clone(),
            timezone: row.timezone.clone(),
            locale: row.locale.clone(),
            occur_time: Some(timestamp(row.updated_at)),
            revision: row.revision,
            local_date: Some(date(local_date(row.updated_at, &row.timezone))),
            avatar_url: avatar_url(row, urls),
            profile_visibility: visibility_name(row.visibility).into(),
            show_on_leaderboards: row.show_on_leaderboards,
            daily_focus_goal_minutes: row.daily_focus_goal_minutes,
        }
    }

    pub fn avatar_url(row: &ProfileRow, urls: &Urls) -> String {
        match (&row.avatar_key, &row.avatar_preset) {
            (Some(key), _) => urls.upload(key),
            (None, Some(preset)) => urls.preset(preset),
            (None, None) => String::new(),
        }
    }

    fn visibility_name(v: i32) -> &'static str {
        match v {
            crate::domain::VISIBILITY_PUBLIC => "public",
            crate::domain::VISIBILITY_FRIENDS => "friends",
            _ => "private",
        }
    }
}
