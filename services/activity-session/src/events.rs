//! Events: the subscriptions (one typed handler per consumed event) and the one place that
//! builds what activity-session publishes.
//!
//! - `profile.updated.v1` keeps each user's timezone in the shared user directory
//!   (`stride_bus::directory`), for the local date of completed sessions.
//! - `user.deleted.v1` purges the user's sessions, user plans, workout logs and directory entry.
//! - `user.merged.v1` moves the guest's sessions, user plans and workout logs to the target account.

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
        // Logs first: they refer to the user's plans.
        let logs = store::workouts::purge_user(tx, user).await?;
        let plans = store::plans::purge_user(tx, user).await?;
        let purged = sessions + logs + plans + directory::forget(tx, user).await?;
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
        // User plans and workout logs all move; a template both run keeps the target's run
        // (store::plans::merge).
        let today = merge_date(&e);
        let plans = store::plans::merge(tx, m.source, m.target, today).await?;
        let logs = store::workouts::merge(tx, m.source, m.target).await?;
        tracing::info!(plans, logs, "user merged: plans and workout logs moved");
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

/// The target's local date of a merge, as auth computed it (the UTC date of the merge when the
/// event lacks it).
fn merge_date(e: &events::UserMerged) -> time::Date {
    use stride_kit::convert::{from_date, from_timestamp};
    e.local_date
        .as_ref()
        .and_then(from_date)
        .or_else(|| {
            e.occur_time
                .as_ref()
                .and_then(from_timestamp)
                .map(|t| t.date())
        })
        .unwrap_or(time::Date::MIN)
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

    // ---- workout logs and user plans (issue 13, part D) ----

    use crate::domain::{plans::Progress, workouts::Figures};
    use crate::store::{plans::PlanRow, workouts::LogRow};

    /// When, and on which local date in which zone, a change of the user's happened.
    pub struct At<'a> {
        pub now: time::OffsetDateTime,
        pub local_date: time::Date,
        pub timezone: &'a str,
    }

    /// What `log` counts for with figures `f` (the stored ones, or the ones before an update).
    pub fn figures(log: &LogRow, f: &Figures) -> events::WorkoutFigures {
        events::WorkoutFigures {
            exercise_id: log.exercise_id.to_string(),
            user_plan_id: log.user_plan_id.map(|u| u.to_string()).unwrap_or_default(),
            plan_exercise_id: log
                .plan_exercise_id
                .map(|u| u.to_string())
                .unwrap_or_default(),
            date_performed: Some(date(f.date_performed)),
            sets: f.sets,
            reps: f.reps,
            weight_kg: f.weight_kg,
            duration: Some(duration(time::Duration::seconds(i64::from(
                f.duration_secs,
            )))),
            volume_kg: f.volume_kg(),
        }
    }

    pub fn workout_logged(log: &LogRow, at: &At<'_>) -> events::WorkoutLogged {
        events::WorkoutLogged {
            user_id: log.user_id.to_string(),
            log_id: log.id.to_string(),
            figures: Some(figures(log, &log.figures())),
            occur_time: Some(timestamp(at.now)),
            local_date: Some(date(at.local_date)),
            timezone: at.timezone.to_owned(),
        }
    }

    pub fn workout_updated(before: &LogRow, after: &LogRow, at: &At<'_>) -> events::WorkoutUpdated {
        events::WorkoutUpdated {
            user_id: after.user_id.to_string(),
            log_id: after.id.to_string(),
            before: Some(figures(before, &before.figures())),
            after: Some(figures(after, &after.figures())),
            occur_time: Some(timestamp(at.now)),
            local_date: Some(date(at.local_date)),
            timezone: at.timezone.to_owned(),
        }
    }

    pub fn workout_deleted(log: &LogRow, at: &At<'_>) -> events::WorkoutDeleted {
        events::WorkoutDeleted {
            user_id: log.user_id.to_string(),
            log_id: log.id.to_string(),
            figures: Some(figures(log, &log.figures())),
            occur_time: Some(timestamp(at.now)),
            local_date: Some(date(at.local_date)),
            timezone: at.timezone.to_owned(),
        }
    }

    pub fn plan_assigned(plan: &PlanRow, days_total: i32, at: &At<'_>) -> events::PlanAssigned {
        events::PlanAssigned {
            user_id: plan.user_id.to_string(),
            user_plan_id: plan.id.to_string(),
            plan_id: plan.plan_id.to_string(),
            start_date: Some(date(plan.start_date)),
            days_total,
            occur_time: Some(timestamp(at.now)),
            local_date: Some(date(at.local_date)),
            timezone: at.timezone.to_owned(),
        }
    }

    pub fn plan_completed(plan: &PlanRow, p: &Progress, at: &At<'_>) -> events::PlanCompleted {
        events::PlanCompleted {
            user_id: plan.user_id.to_string(),
            user_plan_id: plan.id.to_string(),
            plan_id: plan.plan_id.to_string(),
            days_total: p.days_total,
            days_done: p.days_done,
            occur_time: Some(timestamp(at.now)),
            local_date: Some(date(at.local_date)),
            timezone: at.timezone.to_owned(),
        }
    }
}
