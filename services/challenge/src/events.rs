//! Events: the subscriptions (one typed handler per consumed event) and the one place that
//! builds what challenge publishes.
//!
//! - `session.completed.v1` counts toward the challenges the user had joined; a window that
//!   reaches its target is completed, paid and announced (`challenge.completed.v1`); a session whose event says `counts = false` is skipped. Every
//!   input becomes a `domain::goal::Activity` counted by [`count_activity`]: wiring another
//!   event (tasks, reflections, workouts, routines, lessons) is building its `Activity`.
//! - `profile.updated.v1` keeps the user directory (names on leaderboards, "today" for progress).
//! - `user.deleted.v1` purges the user's memberships, progress, points and directory entry.
//! - `user.merged.v1` moves a guest's memberships, progress and points to the target account.

use stride_bus::{
    Envelope, HandlerError, Merged as _, On, Subject as _, Subscriptions, Tx, directory,
};
use stride_kit::{
    clock::SharedClock,
    convert::{from_date, from_duration, from_timestamp},
};
use stride_proto::events;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::{
        award::{self, Decision, Occasion},
        goal::{self, Activity, ActivityKind},
    },
    store::{self, progress::WindowRow},
};

pub fn subscriptions(clock: &SharedClock) -> Subscriptions {
    let handlers = Handlers {
        clock: clock.clone(),
    };
    Subscriptions::new()
        .on::<events::SessionCompleted, _>(handlers.clone())
        .on::<events::ProfileUpdated, _>(directory::Replica)
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
        meta: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        // Integrity (activity-session's ADR 0015): a session too short to count earns no
        // progress. An event without the field predates the rule and counts.
        if e.counts == Some(false) {
            tracing::info!(%user, session = %e.session_id, reason = %e.count_reason, "session does not count");
            return Ok(());
        }
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
        let minutes = e
            .duration
            .as_ref()
            .map_or(0, |d| from_duration(d).whole_minutes());
        // A session names itself; one without an id is named by its message.
        let cause = if e.session_id.is_empty() {
            format!("message:{}", meta.id)
        } else {
            format!("session:{}", e.session_id)
        };
        let activity = Activity {
            kind: ActivityKind::Session {
                kind: e.activity_kind.clone(),
                minutes: i32::try_from(minutes).unwrap_or(i32::MAX),
            },
            local_date: occasion.local_date,
            cause,
            reversal: false,
        };
        count_activity(tx, user, end, &activity, &occasion).await
    }
}

/// Counts `activity` of `user`, which happened at `at`, toward every challenge they had joined
/// by then whose goal counts it and whose window holds its local date, once per participation
/// and cause (a redelivery changes nothing; a correction replaces the amount; a reversal takes it
/// back). The count is recomputed from the standing contributions; reaching the target
/// completes the window and pays it once ([`settle`]). A settled window counts nothing more.
pub async fn count_activity(
    tx: &mut Tx,
    user: Uuid,
    at: OffsetDateTime,
    activity: &Activity,
    occasion: &Occasion,
) -> Result<(), HandlerError> {
    if let ActivityKind::ShutdownReflection { minute_of_day } = activity.kind {
        store::stats::record_shutdown(
            tx,
            user,
            &activity.cause,
            activity.local_date,
            minute_of_day,
            activity.reversal,
        )
        .await?;
    }
    for c in store::challenges::counting(tx, user, at).await? {
        let Some(effect) = c.goal().effect(activity) else {
            continue;
        };
        let Some(window) = c.schedule().window_of(activity.local_date) else {
            continue;
        };
        // A window without end (a system challenge of old) is never settled.
        if let Some(end) = window.end
            && !store::periods::ensure_open(tx, c.id, window.start, end).await?
        {
            continue;
        }
        let changed = store::progress::contribute(
            tx,
            c.id,
            user,
            &activity.cause,
            window.start,
            activity.local_date,
            effect,
        )
        .await?;
        if !changed {
            continue;
        }
        let standing = store::progress::standing(tx, c.id, user, window.start).await?;
        let current = goal::progress(c.goal_kind, &standing);
        let w = store::progress::set_current(tx, c.id, user, window.start, current).await?;
        settle(tx, user, &w, occasion).await?;
    }
    Ok(())
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
        store::progress::merge_contributions(tx, m.source, m.target).await?;
        store::stats::merge_shutdowns(tx, m.source, m.target).await?;
        let mut windows = Vec::new();
        // Counts add up, then each window is recounted from the combined contributions (a
        // days-in-a-row goal does not add up).
        for w in store::progress::merge(tx, m.source, m.target).await? {
            let standing =
                store::progress::standing(tx, w.challenge_id, m.target, w.window_start).await?;
            let current = goal::progress(w.goal_kind, &standing);
            let mut w2 =
                store::progress::set_current(tx, w.challenge_id, m.target, w.window_start, current)
                    .await?;
            w2.completed = w.completed;
            windows.push(w2);
        }
        store::ledger::merge(tx, m.source, m.target).await?;
        let dropped =
            store::purge_user(tx, m.source).await? + directory::forget(tx, m.source).await?;
        let occasion = Occasion::merge(
            e.occur_time.as_ref().and_then(from_timestamp),
            self.clock.now_db(),
            e.local_date.as_ref().and_then(from_date),
            &e.timezone,
        );
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
        tracing::info!(user_id = %user, challenge_id = %w.challenge_id, window = %w.window_start, points = w.points, "challenge completed");
    }
    Ok(())
}

/// What challenge publishes.
pub mod publish {
    use stride_kit::convert::{date, timestamp};
    use stride_proto::events;
    use uuid::Uuid;

    use crate::{
        domain::award::Occasion,
        store::{periods::Settled, progress::WindowRow},
    };

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

    /// Window `s` of a challenge was settled at `at`.
    pub fn challenge_settled(s: &Settled, at: time::OffsetDateTime) -> events::ChallengeSettled {
        events::ChallengeSettled {
            challenge_id: s.challenge_id.to_string(),
            title: s.title.clone(),
            owner_id: s.owner_id.map(|o| o.to_string()).unwrap_or_default(),
            window_start: Some(date(s.window_start)),
            window_end: Some(date(s.window_end)),
            settle_time: Some(timestamp(at)),
            ended_early: s.ended_early,
            participant_count: s.participant_count,
            completed_count: s.completed_count,
            top: s
                .top
                .iter()
                .map(|p| events::ChallengePlacing {
                    user_id: p.user_id.to_string(),
                    rank: p.rank,
                    current: p.current,
                    completed: p.completed,
                })
                .collect(),
        }
    }
}
