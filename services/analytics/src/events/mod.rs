//! Events: every consumed event that feeds a figure is first appended to the append-only
//! `event_log` (its id unique: a redelivery is absorbed there), then applied by [`apply`], the
//! one function `stride-analytics rebuild` replays the log through. Projections therefore are a
//! function of the log, and every handler behind `apply` must be order-independent (an
//! addition, or newest-wins): events arrive late and in any order. analytics publishes nothing.
//!
//! Not logged: `profile.updated.v1` (the shared user directory and the focus goal, newest
//! revision wins) and the
//! lifecycle events `user.deleted.v1` / `user.merged.v1`, which act on the log itself (purge,
//! move) besides the projections.
//!
//! Adding a projection fed by an event: a file here with
//! `pub async fn on_<event>(conn, &Entry, event) -> Result<(), HandlerError>`, and its row in
//! the `logged!` table below (the queue binding and the replay follow from it).

mod challenge;
mod daily;
mod lifecycle;
mod session;
mod tasks;
// H (issue 15): trends and topic mastery (chained after the daily figures in `views`).
mod evaluations;
mod mastery;
mod views;

use std::collections::HashMap;

use futures::future::BoxFuture;
use sqlx::PgConnection;
use stride_bus::{Envelope, HandlerError, On, Prepare, Subject, Subscriptions, Tx};
use stride_kit::{clock::SharedClock, convert::from_timestamp};
use stride_proto::{Event, events};
use uuid::Uuid;

use crate::store;
pub use crate::store::log::Entry;

/// What a logged event type says about when its fact happened (the log's `occurred_at`).
pub trait Occurred: Subject {
    fn occurred(&self) -> Option<&prost_types::Timestamp>;
    fn local_date(&self) -> Option<&stride_proto::Date>;
}

/// Declares the logged event types once: each gets its `Occurred` field, its subscription
/// (through [`Log`]) and its arm in [`apply`].
macro_rules! logged {
    ($($t:ident ($time:ident) => $handler:path;)*) => {
        $(impl Occurred for events::$t {
            fn occurred(&self) -> Option<&prost_types::Timestamp> {
                self.$time.as_ref()
            }
            fn local_date(&self) -> Option<&stride_proto::Date> {
                self.local_date.as_ref()
            }
        })*

        fn subscribe_logged(s: Subscriptions, log: &Log) -> Subscriptions {
            s $(.on::<events::$t, _>(log.clone()))*
        }

        /// The log entry of `env` when its type is logged; None otherwise.
        fn entry_of(
            env: &Envelope,
            received_at: time::OffsetDateTime,
        ) -> Option<Result<Entry, HandlerError>> {
            $(if env.event_type == <events::$t as Event>::TYPE {
                return Some(
                    env.decode::<events::$t>()
                        .and_then(|e| entry(&e, env, received_at)),
                );
            })*
            None
        }

        /// Applies one logged event to the projections. The live consumer calls it after
        /// appending the event; the rebuild calls it for every log row, in log order.
        pub async fn apply(conn: &mut PgConnection, entry: &Entry) -> Result<(), HandlerError> {
            $(if entry.event_type == <events::$t as Event>::TYPE {
                let event = decode::<events::$t>(&entry.payload)?;
                return $handler(conn, entry, event).await;
            })*
            Err(HandlerError::Permanent(anyhow::anyhow!(
                "{} is not an event analytics applies",
                entry.event_type
            )))
        }
    };
}

logged! {
    SessionCompleted(end_time) => session::on_session_completed;
    ChallengeCompleted(occur_time) => challenge::on_challenge_completed;
    AchievementUnlocked(occur_time) => challenge::on_achievement_unlocked;
    TaskCreated(occur_time) => tasks::on_task_created;
    TaskUpdated(occur_time) => tasks::on_task_updated;
    TaskCompleted(occur_time) => tasks::on_task_completed;
    TaskReopened(occur_time) => tasks::on_task_reopened;
    TaskDeleted(occur_time) => tasks::on_task_deleted;
    ReflectionSubmitted(submit_time) => daily::on_reflection_submitted;
    LessonCompleted(complete_time) => views::on_lesson_completed;
    WorkoutLogged(occur_time) => daily::on_workout_logged;
    WorkoutUpdated(occur_time) => daily::on_workout_updated;
    WorkoutDeleted(occur_time) => daily::on_workout_deleted;
    PracticeSessionEvaluated(evaluate_time) => views::on_practice_session_evaluated;
    QuizCompleted(submit_time) => views::on_quiz_completed;
    // Kept in the log for projections to come (and so no event of the mesh goes unrouted);
    // no figure reads them yet: a session counts when completed, XP by its awards.
    SessionStarted(occur_time) => kept;
    SessionPaused(occur_time) => kept;
    SessionResumed(occur_time) => kept;
    SessionStopped(occur_time) => kept;
    SessionAborted(occur_time) => kept;
    PlanAssigned(occur_time) => kept;
    PlanCompleted(occur_time) => kept;
    LevelReached(occur_time) => kept;
}

/// A logged event no projection reads yet.
async fn kept<E>(_: &mut PgConnection, _: &Entry, _: E) -> Result<(), HandlerError> {
    Ok(())
}

fn decode<E: Event>(payload: &[u8]) -> Result<E, HandlerError> {
    E::decode(payload)
        .map_err(|e| HandlerError::Permanent(anyhow::anyhow!("undecodable {}: {e}", E::TYPE)))
}

pub fn subscriptions(clock: &SharedClock) -> Subscriptions {
    let log = Log {
        clock: clock.clone(),
    };
    let lifecycle = lifecycle::Handlers {
        clock: clock.clone(),
    };
    subscribe_logged(Subscriptions::new(), &log)
        .prepare(log)
        .on::<events::ProfileUpdated, _>(lifecycle::Profiles)
        .on::<events::UserDeleted, _>(lifecycle.clone())
        .on::<events::UserMerged, _>(lifecycle)
}

/// The consumer of every logged type: append, then apply. A transaction of several events,
/// all logged, appends them all in one statement first ([`Prepare`]); each handler then
/// applies its own.
#[derive(Clone)]
pub struct Log {
    clock: SharedClock,
}

/// `event`'s log entry.
fn entry<E: Occurred>(
    e: &E,
    env: &Envelope,
    received_at: time::OffsetDateTime,
) -> Result<Entry, HandlerError> {
    Ok(Entry {
        event_id: env.id,
        event_type: E::TYPE.to_owned(),
        user: e.user()?,
        occurred_at: e.occurred().and_then(from_timestamp).unwrap_or(received_at),
        local_date: Occurred::local_date(e).and_then(stride_kit::convert::from_date),
        received_at,
        payload: env.payload.clone(),
    })
}

/// The entries the transaction's one append wrote (not those the log had already), by id.
struct Appended(HashMap<Uuid, Entry>);

impl<E: Occurred> On<E> for Log {
    async fn on(&self, tx: &mut Tx, e: E, env: &Envelope) -> Result<(), HandlerError> {
        let fresh = match tx.state_mut::<Appended>() {
            // Appended with the transaction's other events: apply it, or it was logged already.
            Some(appended) => match appended.0.remove(&env.id) {
                Some(entry) => {
                    apply(tx, &entry).await?;
                    true
                }
                None => false,
            },
            None => ingest(tx, &entry(&e, env, self.clock.now_db())?).await?,
        };
        if !fresh {
            tracing::info!(event = %env.id, r#type = E::TYPE, "already logged: absorbed");
        }
        Ok(())
    }
}

impl Prepare for Log {
    fn prepare<'a>(
        &'a self,
        tx: &'a mut Tx,
        envs: &'a [&'a Envelope],
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let received_at = self.clock.now_db();
            let mut entries = Vec::with_capacity(envs.len());
            for env in envs {
                match entry_of(env, received_at) {
                    Some(entry) => entries.push(entry?),
                    // A lifecycle or profile event acts on the log itself (purge, move): every
                    // event of this transaction appends in its turn, around it.
                    None => return Ok(()),
                }
            }
            let fresh = store::log::append_all(tx, &entries).await?;
            let appended = entries
                .into_iter()
                .filter(|e| fresh.contains(&e.event_id))
                .map(|e| (e.event_id, e))
                .collect();
            tx.put(Appended(appended));
            Ok(())
        })
    }
}

/// Appends `entry` to the log and applies it; false (nothing applied) when its id is logged
/// already.
pub async fn ingest(conn: &mut PgConnection, entry: &Entry) -> Result<bool, HandlerError> {
    if !store::log::append(conn, entry).await? {
        return Ok(false);
    }
    apply(conn, entry).await?;
    Ok(true)
}

/// The producer's local date; an event without one cannot be placed on any day.
pub(crate) fn local_date(d: Option<&stride_proto::Date>) -> Result<time::Date, HandlerError> {
    d.and_then(stride_kit::convert::from_date)
        .ok_or_else(|| HandlerError::Permanent(anyhow::anyhow!("local_date is missing or invalid")))
}
