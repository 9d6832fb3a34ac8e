//! Events: the subscriptions (one typed handler per consumed event) and the one place that
//! builds what challenge publishes.
//!
//! - `session.completed.v1` counts toward the challenges the user had joined; a window that
//!   reaches its target is completed, paid and announced (`challenge.completed.v1`).
//! - `profile.updated.v1` keeps the user directory (names on leaderboards, "today" for progress).
//! - `user.deleted.v1` purges the user's memberships, progress, points and directory entry.
//! - `user.merged.v1` moves a guest's memberships, progress and points to the target account.
//! - Rewards ([`rewards`]): every counted activity earns XP, feeds the achievement counters and
//!   the leaderboards; `profile.updated.v1` also says whether the user shows on public boards.

pub mod rewards;

use stride_bus::{
    Envelope, HandlerError, Merged as _, On, Subject as _, Subscriptions, Tx, directory,
};
use stride_kit::{
    clock::SharedClock,
    convert::{from_date, from_timestamp},
};
use stride_proto::events;
use uuid::Uuid;

use crate::{
    domain::{
        award::{self, Decision, Occasion},
        challenge::Window,
        leaderboard::challenge_board,
    },
    store::{self, progress::WindowRow},
};

pub fn subscriptions(clock: &SharedClock) -> Subscriptions {
    let handlers = Handlers {
        clock: clock.clone(),
    };
    Subscriptions::new()
        .on::<events::SessionCompleted, _>(handlers.clone())
        .on::<events::ProfileUpdated, _>(handlers.clone())
        .on::<events::UserDeleted, _>(handlers.clone())
        .on::<events::UserMerged, _>(handlers)
}

#[derive(Clone)]
pub struct Handlers {
    /// Dates a merge's award when the event carries no time.
    clock: SharedClock,
}

impl On<events::SessionCompleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::SessionCompleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let end = e
            .end_time
            .as_ref()
            .and_then(from_timestamp)
            .ok_or_else(|| {
                HandlerError::Permanent(anyhow::anyhow!(
                    "session.completed.v1 without a valid end_time"
                ))
            })?;
        let occasion =
            Occasion::session(end, e.local_date.as_ref().and_then(from_date), &e.timezone);
        for c in store::challenges::counting_sessions(tx, user, &e.activity_kind, end).await? {
            let window = Window::containing(c.recurrence, occasion.local_date);
            let counted = store::progress::count_session(tx, c.id, user, window.start).await?;
            let board = challenge_board(c.id, window.start);
            let current = i64::from(counted.current);
            store::leaderboard::set_score(tx, &board, user, current, end).await?;
            settle(tx, user, &counted, &occasion).await?;
        }
        let activity = rewards::session_activity(&e, occasion.local_date);
        rewards::apply(tx, user, &activity, &occasion).await
    }
}

impl On<events::ProfileUpdated> for Handlers {
    /// The user directory, and whether the user shows on public boards — both only from an
    /// update newer than the one applied (updates may arrive out of order).
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::ProfileUpdated,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let newer = store::leaderboard::directory_revision(tx, user)
            .await?
            .is_none_or(|r| r < e.revision);
        directory::apply(tx, &e).await?;
        if newer {
            store::leaderboard::set_public(tx, user, e.show_on_leaderboards).await?;
        }
        Ok(())
    }
}

impl On<events::UserDeleted> for Handlers {
    /// Idempotent. A stale `session.completed.v1` arriving afterwards finds no membership and
    /// changes nothing; a stale `profile.updated.v1` can recreate a directory entry (a name
    /// nobody ranks).
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserDeleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let purged = store::purge_user(tx, user).await? + directory::forget(tx, user).await?;
        tracing::info!(%user, purged, "user deleted: challenge data purged");
        Ok(())
    }
}

impl On<events::UserMerged> for Handlers {
    /// Memberships, progress and points move to the target (rules in `store::challenges`,
    /// `store::progress`, `store::ledger`); then nothing of the source remains, its directory
    /// entry included (the target keeps its own). A window that reaches the target only by
    /// adding up is completed, paid and announced now, like the session that would have reached
    /// it (`domain::award`), dated at the merge. Idempotent: a replay finds no row of the source.
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserMerged,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let m = e.merge()?;
        store::challenges::merge_memberships(tx, m.source, m.target).await?;
        let windows = store::progress::merge(tx, m.source, m.target).await?;
        store::ledger::merge(tx, m.source, m.target).await?;
        let occasion = Occasion::merge(
            e.occur_time.as_ref().and_then(from_timestamp),
            self.clock.now_db(),
            e.local_date.as_ref().and_then(from_date),
            &e.timezone,
        );
        rewards::merge(tx, m.source, m.target, &occasion).await?;
        let dropped =
            store::purge_user(tx, m.source).await? + directory::forget(tx, m.source).await?;
        for w in &windows {
            settle(tx, m.target, w, &occasion).await?;
        }
        tracing::info!(source = %m.source, target = %m.target, dropped, "user merged: challenge data moved");
        Ok(())
    }
}

/// Applies the award rule to a window whose count changed: completes it, pays its points and
/// announces the completion when the rule says so and the window was not paid yet.
async fn settle(
    tx: &mut Tx,
    user: Uuid,
    w: &WindowRow,
    occasion: &Occasion,
) -> Result<(), HandlerError> {
    if award::decide(w.standing()) != Decision::Award {
        return Ok(());
    }
    store::progress::complete(tx, w.challenge_id, user, w.window_start, occasion.at).await?;
    let paid = store::ledger::pay(
        tx,
        user,
        w.challenge_id,
        w.window_start,
        w.points,
        occasion.at,
    )
    .await?;
    if paid {
        tx.publish(&publish::challenge_completed(user, w, occasion))
            .await?;
        let done = rewards::challenge_activity(w.challenge_id, w.window_start, occasion.local_date);
        rewards::apply(tx, user, &done, occasion).await?;
        tracing::info!(user_id = %user, challenge_id = %w.challenge_id, window = %w.window_start, points = w.points, "challenge completed");
    }
    Ok(())
}

/// What challenge publishes.
pub mod publish {
    use stride_kit::convert::{date, timestamp};
    use stride_proto::events;
    use uuid::Uuid;

    use crate::{domain::award::Occasion, store::progress::WindowRow};

    /// `user` completed window `w` and was paid its points on `occasion`.
    pub fn challenge_completed(
        user: Uuid,
        w: &WindowRow,
        occasion: &Occasion,
    ) -> events::ChallengeCompleted {
        events::ChallengeCompleted {
            user_id: user.to_string(),
            challenge_id: w.challenge_id.to_string(),
            title: w.title.clone(),
            points_awarded: w.points,
            window_start: Some(date(w.window_start)),
            occur_time: Some(timestamp(occasion.at)),
            local_date: Some(date(occasion.local_date)),
            timezone: occasion.timezone.clone(),
        }
    }
}
