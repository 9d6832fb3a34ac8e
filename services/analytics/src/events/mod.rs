//! Events: every consumed event that feeds a figure is first appended to the append-only
//! `event_log` (its id unique: a redelivery is absorbed there), then applied by [`apply`], the
//! one function `stride-analytics rebuild` replays the log through. Projections therefore are a
//! function of the log, and every handler behind `apply` must be order-independent (an
//! addition, or newest-wins): events arrive late and in any order. analytics publishes nothing.
//!
//! Not logged: `profile.updated.v1` (the shared user directory, newest revision wins) and the
//! lifecycle events `user.deleted.v1` / `user.merged.v1`, which act on the log itself (purge,
//! move) besides the projections.
//!
//! Adding a projection fed by an event: a file here with
//! `pub async fn on_<event>(conn, &Entry, event) -> Result<(), HandlerError>`, and its row in
//! the `logged!` table below (the queue binding and the replay follow from it).

mod challenge;
mod lifecycle;
mod session;

use sqlx::PgConnection;
use stride_bus::{Envelope, HandlerError, On, Subject, Subscriptions, Tx, directory};
use stride_kit::{clock::SharedClock, convert::from_timestamp};
use stride_proto::{Event, events};

use crate::store;
pub use crate::store::log::Entry;

/// What a logged event type says about when its fact happened (the log's `occurred_at`).
pub trait Occurred: Subject {
    fn occurred(&self) -> Option<&prost_types::Timestamp>;
}

/// Declares the logged event types once: each gets its `Occurred` field, its subscription
/// (through [`Log`]) and its arm in [`apply`].
macro_rules! logged {
    ($($t:ident ($time:ident) => $handler:path;)*) => {
        $(impl Occurred for events::$t {
            fn occurred(&self) -> Option<&prost_types::Timestamp> {
                self.$time.as_ref()
            }
        })*

        fn subscribe_logged(s: Subscriptions, log: &Log) -> Subscriptions {
            s $(.on::<events::$t, _>(log.clone()))*
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
        .on::<events::ProfileUpdated, _>(directory::Replica)
        .on::<events::UserDeleted, _>(lifecycle.clone())
        .on::<events::UserMerged, _>(lifecycle)
}

/// The consumer of every logged type: append, then apply.
#[derive(Clone)]
pub struct Log {
    clock: SharedClock,
}

impl<E: Occurred> On<E> for Log {
    async fn on(&self, tx: &mut Tx, e: E, env: &Envelope) -> Result<(), HandlerError> {
        let entry = Entry {
            event_id: env.id,
            event_type: E::TYPE.to_owned(),
            user: e.user()?,
            occurred_at: e.occurred().and_then(from_timestamp),
            received_at: self.clock.now_db(),
            payload: env.payload.clone(),
        };
        if store::log::append(tx, &entry).await? {
            apply(tx, &entry).await?;
        } else {
            tracing::info!(event = %env.id, r#type = E::TYPE, "already logged: absorbed");
        }
        Ok(())
    }
}

/// The producer's local date; an event without one cannot be placed on any day.
pub(crate) fn local_date(d: Option<&stride_proto::Date>) -> Result<time::Date, HandlerError> {
    d.and_then(stride_kit::convert::from_date)
        .ok_or_else(|| HandlerError::Permanent(anyhow::anyhow!("local_date is missing or invalid")))
}
