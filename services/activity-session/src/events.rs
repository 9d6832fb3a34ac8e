//! Events: the subscriptions (one typed handler per consumed event) and the one place that
//! builds what activity-session publishes.
//!
//! - `profile.updated.v1` keeps each user's timezone in the shared user directory
//!   (`stride_bus::directory`), for the local date of completed sessions.
//! - `user.deleted.v1` purges the user's sessions, session events, routines, tasks, shutdown
//!   reflections, lesson progress, user plans, workout logs and directory entry.
//! - `user.merged.v1` moves the guest's sessions, session events, routines, tasks, reflections,
//!   lesson progress, user plans and workout logs to the target account.

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
        let sessions = store::sessions::purge_user(tx, user).await?
            + store::routines::purge_user(tx, user).await?;
        // Tasks, shutdown reflections, lesson progress (issue 13, part C).
        let part_c = store::tasks::purge_user(tx, user).await?
            + store::reflections::purge_user(tx, user).await?
            + store::learning::purge_user(tx, user).await?;
        // Logs first: they refer to the user's plans.
        let logs = store::workouts::purge_user(tx, user).await?;
        let plans = store::plans::purge_user(tx, user).await?;
        let purged = sessions + part_c + logs + plans + directory::forget(tx, user).await?;
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
        // Tasks and shutdown reflections all move; a lesson both completed keeps the earlier
        // completion (issue 13, part C).
        let part_c = store::tasks::merge(tx, m.source, m.target).await?
            + store::reflections::merge(tx, m.source, m.target).await?
            + store::learning::merge(tx, m.source, m.target).await?;
        tracing::info!(
            moved = part_c,
            "user merged: tasks, reflections, lesson progress moved"
        );
        // User plans and workout logs all move; a template both run keeps the target's run
        // (store::plans::merge).
        let today = merge_date(&e);
        let plans = store::plans::merge(tx, m.source, m.target, today).await?;
        let logs = store::workouts::merge(tx, m.source, m.target).await?;
        tracing::info!(plans, logs, "user merged: plans and workout logs moved");
        let routines = store::routines::merge(tx, m.source, m.target).await?;
        directory::forget(tx, m.source).await?;
        tracing::info!(
            source = %m.source,
            target = %m.target,
            moved = merged.moved,
            dropped = merged.dropped,
            routines,
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

/// What activity-session publishes: one event per state change of a session, each with the
/// session as it is after the change (`SessionFacts`), the user's zone and the local date then.
pub mod publish {
    use stride_kit::convert::{date, duration, local_date, timestamp};
    use stride_proto::events;
    use time::OffsetDateTime;

    use crate::{
        domain::session::{Action, State},
        store::sessions::SessionRow,
    };

    fn secs(s: i64) -> prost_types::Duration {
        duration(time::Duration::seconds(s))
    }

    fn facts(s: &SessionRow, at: OffsetDateTime) -> events::SessionFacts {
        events::SessionFacts {
            kind: s.kind.as_str().to_owned(),
            activity_id: s.activity_id.map(|a| a.to_string()).unwrap_or_default(),
            routine_id: s.routine_id.map(|r| r.to_string()).unwrap_or_default(),
            start_time: Some(timestamp(s.started_at)),
            planned_duration: Some(secs(i64::from(s.planned_seconds))),
            active_duration: Some(secs(i64::from(s.timer().active_secs_at(at)))),
            step: s.step,
            step_count: s.step_count,
        }
    }

    /// The event a transition to `s` by `action` at `at` announces, if any (`next` and
    /// `previous` announce nothing: consumers have no use for steps yet).
    pub fn transition(
        s: &SessionRow,
        action: Action,
        at: OffsetDateTime,
        tz: &str,
    ) -> Option<Event> {
        let user_id = s.user_id.to_string();
        let session_id = s.id.to_string();
        let session = Some(facts(s, at));
        let occur_time = Some(timestamp(at));
        let timezone = tz.to_owned();
        let day = Some(date(local_date(at, tz)));
        macro_rules! ev {
            ($t:ident) => {
                events::$t {
                    user_id,
                    session_id,
                    session,
                    occur_time,
                    timezone,
                    local_date: day,
                }
            };
        }
        Some(match action {
            Action::Pause => Event::Paused(ev!(SessionPaused)),
            Action::Resume => Event::Resumed(ev!(SessionResumed)),
            Action::Stop => Event::Stopped(ev!(SessionStopped)),
            Action::Abort => Event::Aborted(ev!(SessionAborted)),
            Action::Complete if s.state == State::Completed => Event::Completed(completed(s)),
            Action::Complete | Action::Next | Action::Previous => return None,
        })
    }

    /// `session.started.v1` for `s`, just started.
    pub fn started(s: &SessionRow, tz: &str) -> events::SessionStarted {
        events::SessionStarted {
            user_id: s.user_id.to_string(),
            session_id: s.id.to_string(),
            session: Some(facts(s, s.started_at)),
            occur_time: Some(timestamp(s.started_at)),
            timezone: tz.to_owned(),
            local_date: Some(date(s.start_local_date)),
        }
    }

    /// `session.completed.v1` for `s`, completed: its active time, and whether it counts.
    pub fn completed(s: &SessionRow) -> events::SessionCompleted {
        let end = s.ended_at.unwrap_or(s.since);
        events::SessionCompleted {
            user_id: s.user_id.to_string(),
            session_id: s.id.to_string(),
            activity_id: s.activity_id.map(|a| a.to_string()).unwrap_or_default(),
            activity_kind: s.kind.as_str().to_owned(),
            start_time: Some(timestamp(s.started_at)),
            end_time: Some(timestamp(end)),
            duration: Some(secs(i64::from(s.timer().active_secs_at(end)))),
            local_date: s.local_date.map(date),
            timezone: s.timezone.clone().unwrap_or_default(),
            counts: Some(s.counts.unwrap_or(false)),
            count_reason: s.count_reason.clone().unwrap_or_default(),
            planned_duration: Some(secs(i64::from(s.planned_seconds))),
            routine_id: s.routine_id.map(|r| r.to_string()).unwrap_or_default(),
            step: s.step,
            step_count: s.step_count,
        }
    }

    /// One of the transition events.
    pub enum Event {
        Paused(events::SessionPaused),
        Resumed(events::SessionResumed),
        Completed(events::SessionCompleted),
        Stopped(events::SessionStopped),
        Aborted(events::SessionAborted),
    }

    // ---- tasks, shutdown reflections, learning (issue 13, part C) ----

    use stride_kit::convert::timestamp as ts;
    use uuid::Uuid;

    use crate::store::{
        learning::{LessonRow, ProgressRow},
        reflections::ReflectionRow,
        tasks::TaskRow,
    };

    /// A task as events carry it.
    pub fn task_snapshot(t: &TaskRow) -> events::TaskSnapshot {
        events::TaskSnapshot {
            title: t.title.clone(),
            priority: t.priority.as_str().to_owned(),
            tags: t.tags.clone(),
            start_time: t.start_at.map(ts),
            due_time: t.due_at.map(ts),
            completed: t.completed,
            complete_time: t.completed_at.map(ts),
            complete_date: t.completed_date.map(date),
            complete_timezone: t.completed_timezone.clone().unwrap_or_default(),
            reminder_enabled: t.reminder_enabled,
            reminder_time: t.reminder_at.map(ts),
        }
    }

    /// When a change happened: the instant, and the user's local date in `timezone` then.
    fn when(
        at: OffsetDateTime,
        timezone: &str,
    ) -> (
        Option<prost_types::Timestamp>,
        Option<stride_proto::Date>,
        String,
    ) {
        (
            Some(ts(at)),
            Some(date(stride_kit::convert::local_date(at, timezone))),
            timezone.to_owned(),
        )
    }

    pub fn task_created(t: &TaskRow, at: OffsetDateTime, timezone: &str) -> events::TaskCreated {
        let (occur_time, local_date, timezone) = when(at, timezone);
        events::TaskCreated {
            user_id: t.user_id.to_string(),
            task_id: t.id.to_string(),
            task: Some(task_snapshot(t)),
            occur_time,
            local_date,
            timezone,
        }
    }

    pub fn task_updated(
        before: &TaskRow,
        after: &TaskRow,
        changed: &[&str],
        at: OffsetDateTime,
        timezone: &str,
    ) -> events::TaskUpdated {
        let (occur_time, local_date, timezone) = when(at, timezone);
        events::TaskUpdated {
            user_id: after.user_id.to_string(),
            task_id: after.id.to_string(),
            before: Some(task_snapshot(before)),
            after: Some(task_snapshot(after)),
            changed_fields: changed.iter().map(|f| (*f).to_owned()).collect(),
            occur_time,
            local_date,
            timezone,
        }
    }

    pub fn task_completed(
        t: &TaskRow,
        at: OffsetDateTime,
        timezone: &str,
    ) -> events::TaskCompleted {
        let (occur_time, local_date, timezone) = when(at, timezone);
        events::TaskCompleted {
            user_id: t.user_id.to_string(),
            task_id: t.id.to_string(),
            task: Some(task_snapshot(t)),
            occur_time,
            local_date,
            timezone,
        }
    }

    pub fn task_reopened(
        previous: &TaskRow,
        t: &TaskRow,
        at: OffsetDateTime,
        timezone: &str,
    ) -> events::TaskReopened {
        let (occur_time, local_date, timezone) = when(at, timezone);
        events::TaskReopened {
            user_id: t.user_id.to_string(),
            task_id: t.id.to_string(),
            previous: Some(task_snapshot(previous)),
            task: Some(task_snapshot(t)),
            occur_time,
            local_date,
            timezone,
        }
    }

    pub fn task_deleted(t: &TaskRow, at: OffsetDateTime, timezone: &str) -> events::TaskDeleted {
        let (occur_time, local_date, timezone) = when(at, timezone);
        events::TaskDeleted {
            user_id: t.user_id.to_string(),
            task_id: t.id.to_string(),
            task: Some(task_snapshot(t)),
            occur_time,
            local_date,
            timezone,
        }
    }

    /// The note stays here: consumers learn only whether there is one.
    pub fn reflection_submitted(r: &ReflectionRow) -> events::ReflectionSubmitted {
        events::ReflectionSubmitted {
            user_id: r.user_id.to_string(),
            reflection_id: r.id.to_string(),
            productivity_rating: r.productivity_rating.as_str().to_owned(),
            has_note: !r.note.is_empty(),
            mindful_disconnect_completed: r.mindful_disconnect_completed.clone(),
            focus_session_id: r
                .focus_session_id
                .map(|s| s.to_string())
                .unwrap_or_default(),
            submit_time: Some(ts(r.submitted_at)),
            local_date: Some(date(r.local_date)),
            timezone: r.timezone.clone(),
        }
    }

    pub fn lesson_completed(user: Uuid, l: &LessonRow, p: &ProgressRow) -> events::LessonCompleted {
        events::LessonCompleted {
            user_id: user.to_string(),
            lesson_id: l.id.to_string(),
            topic_id: l.topic_id.to_string(),
            subject_id: l.subject_id.to_string(),
            lesson_title: l.title.clone(),
            estimated_minutes: l.estimated_minutes,
            complete_time: Some(ts(p.completed_at)),
            local_date: Some(date(p.local_date)),
            timezone: p.timezone.clone(),
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

    pub fn plan_assigned(
        plan: &PlanRow,
        days_total: i32,
        training_dates: &[time::Date],
        at: &At<'_>,
    ) -> events::PlanAssigned {
        events::PlanAssigned {
            user_id: plan.user_id.to_string(),
            user_plan_id: plan.id.to_string(),
            plan_id: plan.plan_id.to_string(),
            start_date: Some(date(plan.start_date)),
            days_total,
            occur_time: Some(timestamp(at.now)),
            local_date: Some(date(at.local_date)),
            timezone: at.timezone.to_owned(),
            training_dates: training_dates.iter().copied().map(date).collect(),
        }
    }

    /// A plan paused, resumed or removed: its status now and the training dates still ahead
    /// (none unless active).
    pub fn plan_rescheduled(
        plan: &PlanRow,
        training_dates: &[time::Date],
        at: &At<'_>,
    ) -> events::PlanRescheduled {
        events::PlanRescheduled {
            user_id: plan.user_id.to_string(),
            user_plan_id: plan.id.to_string(),
            status: plan.status.as_str().to_owned(),
            training_dates: training_dates.iter().copied().map(date).collect(),
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
