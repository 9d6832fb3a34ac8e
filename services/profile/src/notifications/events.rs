//! Events notifications consume: `session.completed.v1` (activity on a local date: the
//! streak-at-risk reminder for the next evening is scheduled, today's is cancelled) and the
//! task events (a task's reminder is armed, moved or cancelled as the task now stands).
//! Challenge-ending reminders are cancelled when the participant completes that window
//! (`challenge.completed.v1`) or the owner ends the challenge early (`challenge.settled.v1`
//! with `ended_early`, for every participant); plan-day reminders when the plan completes
//! (`plan.completed.v1`). They are scheduled from `challenge.joined.v1` (cancelled by
//! `challenge.left.v1`) and from the plan's schedule in `plan.assigned.v1` /
//! `plan.rescheduled.v1` (which replace the plan's pending reminders).

use stride_bus::{Envelope, HandlerError, On, Subject as _, Tx};
use stride_kit::{
    clock::SharedClock,
    convert::{from_date, from_timestamp, local_date, timezone_or_utc},
};
use stride_proto::events;

use super::{
    deliver,
    domain::{self, ChallengeWindow, Kind, LocalTime, Planned, TaskReminder},
    store,
};

#[derive(Clone)]
pub struct Handlers {
    pub clock: SharedClock,
}

impl On<events::SessionCompleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::SessionCompleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        // A session below its minimum is no activity for a streak (issue 13's integrity rule).
        if e.counts == Some(false) {
            return Ok(());
        }
        let tz = timezone_or_utc(&e.timezone);
        // The producer's local date (DESIGN §5); derived from the end time if it is missing.
        let day = e
            .local_date
            .as_ref()
            .and_then(from_date)
            .or_else(|| {
                e.end_time
                    .as_ref()
                    .and_then(from_timestamp)
                    .map(|t| local_date(t, tz))
            })
            .unwrap_or_else(|| local_date(self.clock.now(), tz));
        deliver::on_activity(tx, user, day, tz, self.clock.now_db()).await?;
        Ok(())
    }
}

impl Handlers {
    /// Brings task `task_id`'s reminder in line with the task as an event describes it.
    async fn task(
        &self,
        tx: &mut Tx,
        user: uuid::Uuid,
        task_id: &str,
        task: Option<&events::TaskSnapshot>,
    ) -> Result<(), HandlerError> {
        let now = self.clock.now();
        let rule = match task {
            Some(t) => domain::task_reminder(
                task_id,
                t.reminder_enabled,
                t.completed,
                t.reminder_time.as_ref().and_then(from_timestamp),
                now,
            ),
            None => TaskReminder::Cancel,
        };
        let prefix = domain::task_key_prefix(task_id);
        match rule {
            TaskReminder::Cancel => {
                store::cancel_prefixed(tx, user, Kind::TaskReminder, &prefix, None).await?;
            }
            TaskReminder::Schedule { key, at } => {
                // The user's zone now: the wall time they set is what the reminder keeps if
                // they move (the scheduler recomputes the instant from it).
                let Some(tz) = store::timezone(tx, user).await? else {
                    return Ok(()); // no profile (deleted): nobody to remind
                };
                store::cancel_prefixed(tx, user, Kind::TaskReminder, &prefix, Some(&key)).await?;
                let title = task.map_or("", |t| t.title.as_str());
                let local = LocalTime::at(at, &tz);
                store::schedule(
                    tx,
                    &store::NewReminder {
                        user,
                        kind: Kind::TaskReminder,
                        key: &key,
                        local_due: local.to_primitive(),
                        due_at: local.instant(&tz),
                        title,
                        body: "Task reminder",
                        repeat_weekly: false,
                    },
                    self.clock.now_db(),
                )
                .await?;
            }
        }
        Ok(())
    }
}

macro_rules! on_task {
    ($event:ident, $field:ident) => {
        impl On<events::$event> for Handlers {
            async fn on(
                &self,
                tx: &mut Tx,
                e: events::$event,
                _: &Envelope,
            ) -> Result<(), HandlerError> {
                let user = e.user()?;
                self.task(tx, user, &e.task_id, e.$field.as_ref()).await
            }
        }
    };
}

on_task!(TaskCreated, task);
on_task!(TaskUpdated, after);
on_task!(TaskReopened, task);
on_task!(TaskCompleted, task);

impl On<events::TaskDeleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::TaskDeleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        self.task(tx, user, &e.task_id, None).await
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
        if let Some(start) = e.window_start.as_ref().and_then(from_date) {
            let key = domain::challenge_key(&e.challenge_id, start);
            // Done with this window: no reminder for it, but next week's window gets one.
            if let Some(r) = store::cancel(tx, user, Kind::ChallengeEnding, &key).await?
                && let Some(tz) = store::timezone(tx, user).await?
            {
                store::follow_weekly(tx, &r, &tz, self.clock.now()).await?;
            }
        }
        Ok(())
    }
}

impl On<events::ChallengeSettled> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::ChallengeSettled,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        // A window settled on its last day needs nothing: its reminder fired the day before.
        if e.ended_early {
            let prefix = domain::challenge_key_prefix(&e.challenge_id);
            store::cancel_prefixed_all(tx, Kind::ChallengeEnding, &prefix).await?;
        }
        Ok(())
    }
}

impl On<events::PlanCompleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::PlanCompleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let prefix = domain::plan_key_prefix(&e.user_plan_id);
        store::cancel_prefixed(tx, user, Kind::PlanDayDue, &prefix, None).await?;
        Ok(())
    }
}

impl Handlers {
    /// Arms `planned` reminders of `kind` for `user` in their current zone.
    async fn arm(
        &self,
        tx: &mut Tx,
        user: uuid::Uuid,
        kind: Kind,
        tz: &str,
        planned: &[Planned],
        // The text, and whether it repeats weekly (see store::follow_weekly).
        (title, body, repeat_weekly): (&str, &str, bool),
    ) -> Result<(), HandlerError> {
        for p in planned {
            store::rearm(
                tx,
                &store::NewReminder {
                    user,
                    kind,
                    key: &p.key,
                    local_due: p.at.to_primitive(),
                    due_at: p.at.instant(tz),
                    title,
                    body,
                    repeat_weekly,
                },
                self.clock.now_db(),
            )
            .await?;
        }
        Ok(())
    }

    /// Replaces plan `user_plan_id`'s pending day reminders with one per date still ahead.
    async fn plan_days(
        &self,
        tx: &mut Tx,
        user: uuid::Uuid,
        user_plan_id: &str,
        dates: &[stride_proto::Date],
    ) -> Result<(), HandlerError> {
        let prefix = domain::plan_key_prefix(user_plan_id);
        store::cancel_prefixed(tx, user, Kind::PlanDayDue, &prefix, None).await?;
        let Some(tz) = store::timezone(tx, user).await? else {
            return Ok(()); // no profile (deleted): nobody to remind
        };
        let dates: Vec<time::Date> = dates.iter().filter_map(from_date).collect();
        let planned = domain::plan_day_reminders(user_plan_id, &dates, self.clock.now(), &tz);
        self.arm(
            tx,
            user,
            Kind::PlanDayDue,
            &tz,
            &planned,
            ("Training day", "Your plan has a workout for today", false),
        )
        .await
    }
}

impl On<events::ChallengeJoined> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::ChallengeJoined,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let prefix = domain::challenge_key_prefix(&e.challenge_id);
        let Some(start) = e.window_start.as_ref().and_then(from_date) else {
            return Ok(()); // no window: nothing ends
        };
        let window = ChallengeWindow {
            start,
            end: e.window_end.as_ref().and_then(from_date),
            weekly: e.weekly,
        };
        let Some(tz) = store::timezone(tx, user).await? else {
            return Ok(());
        };
        let planned =
            domain::challenge_ending(&e.challenge_id, window, false, self.clock.now(), &tz);
        let keep = planned.as_ref().map(|p| p.key.as_str());
        store::cancel_prefixed(tx, user, Kind::ChallengeEnding, &prefix, keep).await?;
        self.arm(
            tx,
            user,
            Kind::ChallengeEnding,
            &tz,
            planned.as_slice(),
            (&e.title, "Your challenge ends tomorrow", window.weekly),
        )
        .await
    }
}

impl On<events::ChallengeLeft> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::ChallengeLeft,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        let prefix = domain::challenge_key_prefix(&e.challenge_id);
        store::cancel_prefixed(tx, user, Kind::ChallengeEnding, &prefix, None).await?;
        Ok(())
    }
}

impl On<events::PlanAssigned> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::PlanAssigned,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        self.plan_days(tx, user, &e.user_plan_id, &e.training_dates)
            .await
    }
}

impl On<events::PlanRescheduled> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::PlanRescheduled,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        self.plan_days(tx, user, &e.user_plan_id, &e.training_dates)
            .await
    }
}
