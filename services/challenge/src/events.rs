//! Events: the subscriptions (one typed handler per consumed event) and the one place that
//! builds what challenge publishes.
//!
//! - `session.completed.v1` (routine sessions also as a routine completed), `task.completed.v1`
//!   (and its corrections `task.reopened.v1` / `task.deleted.v1`), `reflection.submitted.v1`,
//!   `workout.logged.v1` (moved by `workout.updated.v1`, taken back by `workout.deleted.v1`) and `lesson.completed.v1` become
//!   a `domain::goal::Activity` and go through [`record`]: counted toward the challenges the
//!   user had joined ([`count_activity`]; a window that reaches its target is completed, paid
//!   and announced, `challenge.completed.v1`) and toward rewards ([`rewards::apply`]). A session
//!   whose event says `counts = false` is skipped.
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
    convert::{from_date, from_duration, from_timestamp, local_minute_of_day},
};
use stride_proto::events;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::{
        award::{self, Decision, Occasion},
        goal::{self, Activity, ActivityKind},
        leaderboard::challenge_board,
        rewards::{self as reward, Kind},
    },
    store::{self, progress::WindowRow},
};

pub fn subscriptions(clock: &SharedClock) -> Subscriptions {
    let handlers = Handlers {
        clock: clock.clone(),
    };
    Subscriptions::new()
        .on::<events::SessionCompleted, _>(handlers.clone())
        .on::<events::TaskCompleted, _>(handlers.clone())
        .on::<events::TaskReopened, _>(handlers.clone())
        .on::<events::TaskDeleted, _>(handlers.clone())
        .on::<events::ReflectionSubmitted, _>(handlers.clone())
        .on::<events::WorkoutLogged, _>(handlers.clone())
        .on::<events::WorkoutUpdated, _>(handlers.clone())
        .on::<events::WorkoutDeleted, _>(handlers.clone())
        .on::<events::LessonCompleted, _>(handlers.clone())
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
        record(tx, user, end, &activity, &occasion).await?;
        // A routine session completed is also the routine completed (routine goals, rewards).
        if !e.routine_id.is_empty() {
            let routine = uuid::Uuid::parse_str(&e.routine_id).map_err(|_| {
                HandlerError::Permanent(anyhow::anyhow!(
                    "session.completed.v1 with a malformed routine_id"
                ))
            })?;
            let done = Activity {
                kind: ActivityKind::RoutineCompleted {
                    routine_id: routine,
                },
                local_date: occasion.local_date,
                cause: format!("routine-session:{}", e.session_id),
                reversal: false,
            };
            record(tx, user, end, &done, &occasion).await?;
        }
        Ok(())
    }
}

/// The instant an activity event says it happened: required, as for a session's end.
fn occurred(t: Option<OffsetDateTime>, event: &str) -> Result<OffsetDateTime, HandlerError> {
    t.ok_or_else(|| HandlerError::Permanent(anyhow::anyhow!("{event} without a valid time")))
}

/// A task's completion as an activity: counted on the local date it was completed on (which
/// the task carries), named by the task so a reopen or delete takes back exactly it.
fn task_activity(
    task: &str,
    snapshot: Option<&events::TaskSnapshot>,
    fallback: Option<&stride_proto::Date>,
    reversal: bool,
) -> Option<(Activity, String)> {
    let s = snapshot?;
    let date = s.complete_date.as_ref().or(fallback).and_then(from_date)?;
    Some((
        Activity {
            kind: ActivityKind::TaskCompleted,
            local_date: date,
            cause: format!("task:{task}"),
            reversal,
        },
        s.complete_timezone.clone(),
    ))
}

impl On<events::TaskCompleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::TaskCompleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let at = occurred(
            e.occur_time.as_ref().and_then(from_timestamp),
            "task.completed.v1",
        )?;
        let Some((activity, tz)) =
            task_activity(&e.task_id, e.task.as_ref(), e.local_date.as_ref(), false)
        else {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "task.completed.v1 without a completion date"
            )));
        };
        let tz = if tz.is_empty() {
            e.timezone.clone()
        } else {
            tz
        };
        let occasion = Occasion::session(at, Some(activity.local_date), &tz);
        record(tx, user, at, &activity, &occasion).await
    }
}

impl On<events::TaskReopened> for Handlers {
    /// Takes back the completion the task had (dated by `previous`).
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::TaskReopened,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        take_back_task(
            tx,
            e.user()?,
            TaskTakeBack {
                event: "task.reopened.v1",
                at: e.occur_time.as_ref().and_then(from_timestamp),
                task_id: &e.task_id,
                task: e.previous.as_ref(),
                local_date: e.local_date.as_ref(),
                timezone: &e.timezone,
            },
        )
        .await
    }
}

impl On<events::TaskDeleted> for Handlers {
    /// A completed task deleted takes its completion back; an open one counted nothing.
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::TaskDeleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        if !e.task.as_ref().is_some_and(|t| t.completed) {
            return Ok(());
        }
        take_back_task(
            tx,
            user,
            TaskTakeBack {
                event: "task.deleted.v1",
                at: e.occur_time.as_ref().and_then(from_timestamp),
                task_id: &e.task_id,
                task: e.task.as_ref(),
                local_date: e.local_date.as_ref(),
                timezone: &e.timezone,
            },
        )
        .await
    }
}

/// What a reopen or a delete says about the completion it takes back.
struct TaskTakeBack<'a> {
    event: &'static str,
    at: Option<OffsetDateTime>,
    task_id: &'a str,
    /// The task as it was when completed (its completion date).
    task: Option<&'a events::TaskSnapshot>,
    local_date: Option<&'a stride_proto::Date>,
    timezone: &'a str,
}

/// Records the reversal of a task's completion; a task with no completion date counted nothing.
async fn take_back_task(tx: &mut Tx, user: Uuid, t: TaskTakeBack<'_>) -> Result<(), HandlerError> {
    let at = occurred(t.at, t.event)?;
    let Some((activity, _)) = task_activity(t.task_id, t.task, t.local_date, true) else {
        return Ok(());
    };
    let occasion = Occasion::session(at, t.local_date.and_then(from_date), t.timezone);
    record(tx, user, at, &activity, &occasion).await
}

impl On<events::ReflectionSubmitted> for Handlers {
    /// A shutdown reflection: the shutdown goals and stats (with its local clock-out time).
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::ReflectionSubmitted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let at = occurred(
            e.submit_time.as_ref().and_then(from_timestamp),
            "reflection.submitted.v1",
        )?;
        let occasion =
            Occasion::session(at, e.local_date.as_ref().and_then(from_date), &e.timezone);
        let activity = Activity {
            kind: ActivityKind::ShutdownReflection {
                minute_of_day: local_minute_of_day(at, &occasion.timezone),
            },
            local_date: occasion.local_date,
            cause: format!("reflection:{}", e.reflection_id),
            reversal: false,
        };
        record(tx, user, at, &activity, &occasion).await
    }
}

impl On<events::WorkoutLogged> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::WorkoutLogged,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let at = occurred(
            e.occur_time.as_ref().and_then(from_timestamp),
            "workout.logged.v1",
        )?;
        let occasion =
            Occasion::session(at, e.local_date.as_ref().and_then(from_date), &e.timezone);
        let activity = workout(&e.log_id, e.figures.as_ref(), occasion.local_date, false);
        record(tx, user, at, &activity, &occasion).await
    }
}

impl On<events::WorkoutUpdated> for Handlers {
    /// Only a new performed date matters to goals: the log moves from the old date's window to
    /// the new one. (Its XP and counters stay: it is still one workout.)
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::WorkoutUpdated,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let performed = |f: Option<&events::WorkoutFigures>| {
            f.and_then(|f| f.date_performed.as_ref())
                .and_then(from_date)
        };
        let (Some(before), Some(after)) =
            (performed(e.before.as_ref()), performed(e.after.as_ref()))
        else {
            return Ok(());
        };
        if before == after {
            return Ok(());
        }
        let at = occurred(
            e.occur_time.as_ref().and_then(from_timestamp),
            "workout.updated.v1",
        )?;
        let occasion =
            Occasion::session(at, e.local_date.as_ref().and_then(from_date), &e.timezone);
        let old = workout(&e.log_id, e.before.as_ref(), before, true);
        count_activity(tx, user, at, &old, &occasion).await?;
        let new = workout(&e.log_id, e.after.as_ref(), after, false);
        count_activity(tx, user, at, &new, &occasion).await
    }
}

impl On<events::WorkoutDeleted> for Handlers {
    /// Takes the log back.
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::WorkoutDeleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let at = occurred(
            e.occur_time.as_ref().and_then(from_timestamp),
            "workout.deleted.v1",
        )?;
        let occasion =
            Occasion::session(at, e.local_date.as_ref().and_then(from_date), &e.timezone);
        let activity = workout(&e.log_id, e.figures.as_ref(), occasion.local_date, true);
        record(tx, user, at, &activity, &occasion).await
    }
}

/// A workout log as an activity: it counts on the date it was performed (which the figures
/// carry; `fallback`, the logging date, for a log without one).
fn workout(
    log: &str,
    figures: Option<&events::WorkoutFigures>,
    fallback: time::Date,
    reversal: bool,
) -> Activity {
    Activity {
        kind: ActivityKind::WorkoutLogged,
        local_date: figures
            .and_then(|f| f.date_performed.as_ref())
            .and_then(from_date)
            .unwrap_or(fallback),
        cause: format!("workout:{log}"),
        reversal,
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
        let at = occurred(
            e.complete_time.as_ref().and_then(from_timestamp),
            "lesson.completed.v1",
        )?;
        let occasion =
            Occasion::session(at, e.local_date.as_ref().and_then(from_date), &e.timezone);
        let activity = Activity {
            kind: ActivityKind::LessonCompleted,
            local_date: occasion.local_date,
            cause: format!("lesson:{}", e.lesson_id),
            reversal: false,
        };
        record(tx, user, at, &activity, &occasion).await
    }
}

/// One activity of `user` at `at`: toward their challenges, then toward rewards (XP, counters,
/// achievements, levels) — the same cause names it in both, so a redelivery or a reversal
/// changes each exactly once.
pub async fn record(
    tx: &mut Tx,
    user: Uuid,
    at: OffsetDateTime,
    activity: &Activity,
    occasion: &Occasion,
) -> Result<(), HandlerError> {
    count_activity(tx, user, at, activity, occasion).await?;
    rewards::apply(tx, user, &reward_activity(activity), occasion).await
}

/// The rewards rules' view of an activity.
fn reward_activity(a: &Activity) -> reward::Activity {
    let (kind, amount) = match &a.kind {
        ActivityKind::Session { kind, minutes } => (Kind::session(kind), i64::from(*minutes)),
        ActivityKind::TaskCompleted => (Kind::TaskCompleted, 0),
        ActivityKind::ShutdownReflection { .. } => (Kind::ReflectionSubmitted, 0),
        ActivityKind::WorkoutLogged => (Kind::WorkoutLogged, 0),
        ActivityKind::RoutineCompleted { .. } => (Kind::RoutineCompleted, 0),
        ActivityKind::LessonCompleted => (Kind::LessonCompleted, 0),
    };
    reward::Activity {
        kind,
        local_date: a.local_date,
        amount,
        cause: a.cause.clone(),
        reversal: a.reversal,
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
        let board = challenge_board(c.id, window.start);
        store::leaderboard::set_score(tx, &board, user, i64::from(w.current), at).await?;
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

    use crate::{
        domain::award::Occasion,
        store::{periods::Settled, progress::WindowRow},
    };

    /// `user` joined challenge `c` (or was auto-joined as its owner) at `at`, on local date
    /// `today` in `tz`: the window shown to them now.
    pub fn challenge_joined(
        user: Uuid,
        c: &crate::store::challenges::ChallengeRow,
        at: time::OffsetDateTime,
        today: time::Date,
        tz: &str,
    ) -> events::ChallengeJoined {
        let schedule = c.schedule();
        let w = schedule.shown(today);
        events::ChallengeJoined {
            user_id: user.to_string(),
            challenge_id: c.id.to_string(),
            title: c.title.clone(),
            window_start: Some(date(w.start)),
            window_end: w.end.map(date),
            weekly: schedule == crate::domain::challenge::Schedule::Weekly,
            occur_time: Some(timestamp(at)),
            local_date: Some(date(today)),
            timezone: tz.to_owned(),
        }
    }

    /// `user` left challenge `challenge` at `at`.
    pub fn challenge_left(
        user: Uuid,
        challenge: Uuid,
        at: time::OffsetDateTime,
        today: time::Date,
        tz: &str,
    ) -> events::ChallengeLeft {
        events::ChallengeLeft {
            user_id: user.to_string(),
            challenge_id: challenge.to_string(),
            occur_time: Some(timestamp(at)),
            local_date: Some(date(today)),
            timezone: tz.to_owned(),
        }
    }

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
