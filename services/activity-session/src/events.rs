//! Events: the subscriptions (one typed handler per consumed event) and the one place that
//! builds what activity-session publishes.
//!
//! - `profile.updated.v1` keeps each user's timezone in the shared user directory
//!   (`stride_bus::directory`), for the local date of completed sessions.
//! - `user.deleted.v1` purges the user's sessions, session events, routines and directory entry.
//! - `user.merged.v1` moves the guest's sessions, session events and routines to the target.

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
}
