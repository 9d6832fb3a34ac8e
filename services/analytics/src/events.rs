//! Events: the subscriptions, one typed handler per consumed event. analytics publishes nothing.
//!
//! Every figure is an addition and the profile copy is newest-revision-wins, so the order of
//! delivery does not matter; the inbox row in the same transaction absorbs duplicates.
//!
//! - `session.completed.v1` / `challenge.completed.v1` add to the day the producer dated them
//!   (a session whose event says `counts = false` adds nothing)
//!   (never recomputed here: a later zone change must not move a past day).
//! - `profile.updated.v1` keeps the user directory (`stride_bus::directory`).
//! - `user.deleted.v1` purges the user; `user.merged.v1` moves a guest's figures to the target.

// H (issue 15): trends and topic mastery projections.
mod evaluations;
mod mastery;

use stride_bus::{
    Envelope, HandlerError, Merged as _, On, Subject as _, Subscriptions, Tx, directory,
};
use stride_kit::{
    clock::SharedClock,
    convert::{from_date, from_duration, from_timestamp, is_valid_timezone},
};
use stride_proto::events;

use crate::{
    domain::{rollup, timezone},
    store,
};

pub fn subscriptions(clock: &SharedClock) -> Subscriptions {
    let handlers = Handlers {
        clock: clock.clone(),
    };
    Subscriptions::new()
        .on::<events::SessionCompleted, _>(handlers.clone())
        .on::<events::ChallengeCompleted, _>(handlers.clone())
        .on::<events::PracticeSessionEvaluated, _>(handlers.clone())
        .on::<events::LessonCompleted, _>(handlers.clone())
        .on::<events::QuizCompleted, _>(handlers.clone())
        .on::<events::ProfileUpdated, _>(directory::Replica)
        .on::<events::UserDeleted, _>(handlers.clone())
        .on::<events::UserMerged, _>(handlers)
}

#[derive(Clone)]
pub struct Handlers {
    clock: SharedClock,
}

/// The producer's local date; an event without one cannot be placed on any day.
fn local_date(d: Option<&stride_proto::Date>) -> Result<time::Date, HandlerError> {
    d.and_then(from_date)
        .ok_or_else(|| HandlerError::Permanent(anyhow::anyhow!("local_date is missing or invalid")))
}

impl On<events::SessionCompleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::SessionCompleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        // Integrity (activity-session's ADR 0015): a session too short to count adds nothing
        // to the day's figures or the streak. An event without the field predates the rule.
        if e.counts == Some(false) {
            tracing::info!(%user, session = %e.session_id, reason = %e.count_reason, "session does not count");
            return Ok(());
        }
        let date = local_date(e.local_date.as_ref())?;
        let end = e.end_time.as_ref().and_then(from_timestamp);
        let session = rollup::session(
            &e.activity_kind,
            e.duration.as_ref().map(from_duration),
            e.start_time.as_ref().and_then(from_timestamp),
            end,
        );
        store::add_session(tx, user, date, session).await?;
        if is_valid_timezone(&e.timezone) {
            let hint = timezone::Hint {
                timezone: e.timezone,
                observed_at: end.unwrap_or_else(|| self.clock.now_db()),
            };
            store::observe_hint(tx, user, &hint).await?;
        }
        Ok(())
    }
}

impl On<events::ChallengeCompleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::ChallengeCompleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let date = local_date(e.local_date.as_ref())?;
        store::add_points(tx, user, date, rollup::points(e.points_awarded)).await?;
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
        evaluations::on_practice_session_evaluated(tx, user, e).await
    }
}

impl On<events::LessonCompleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::LessonCompleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        mastery::on_lesson_completed(tx, user, e).await
    }
}

impl On<events::QuizCompleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::QuizCompleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        mastery::on_quiz_completed(tx, user, e).await
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
        // Not commutative with the additions: a session/challenge event of this user delivered
        // after the deletion recreates a rollup row for an account that no longer exists
        // (figures only, unreachable without a token). Accepted.
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
        // Like the deletion, a session/challenge event of the guest delivered after the merge
        // recreates a figures-only row under the guest's id. Points announced for both users in
        // one challenge window stay counted on their days here, although challenge keeps only
        // one of the two awards (no event retracts an award). Idempotent: a replay finds no row
        // of the guest.
        let days = store::merge_rollups(tx, m.source, m.target).await?;
        let views = store::figures::merge(tx, m.source, m.target).await?;
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
        tracing::info!(source = %m.source, target = %m.target, days, views, purged, "user merged: analytics moved");
        Ok(())
    }
}
