//! Reactions to other services' events: keep each user's timezone from `profile.updated.v1`,
//! purge a deleted account's data on `user.deleted.v1`, move a merged guest's sessions to the
//! target account on `user.merged.v1`.

use sqlx::PgConnection;
use stride_bus::{
    Envelope, Event as _,
    consumer::{Handler, HandlerError},
};
use stride_proto::events;

pub const PROFILE_UPDATED: &str = events::ProfileUpdated::TYPE;
pub const USER_DELETED: &str = events::UserDeleted::TYPE;
pub const USER_MERGED: &str = events::UserMerged::TYPE;

/// Event types bound to `activity-session.events`.
pub const CONSUMES: [&str; 3] = [PROFILE_UPDATED, USER_DELETED, USER_MERGED];

/// Timezone a user has until their profile says otherwise.
pub const DEFAULT_TIMEZONE: &str = "UTC";

pub struct EventHandler;

impl Handler for EventHandler {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandlerError> {
        match env.event_type.as_str() {
            PROFILE_UPDATED => profile_updated(tx, env.decode()?).await,
            USER_DELETED => user_deleted(tx, env.decode()?).await,
            USER_MERGED => user_merged(tx, env.decode()?).await,
            other => {
                tracing::debug!(
                    event_type = other,
                    "ignoring an event type this service does not use"
                );
                Ok(())
            }
        }
    }
}

async fn profile_updated(
    tx: &mut PgConnection,
    e: events::ProfileUpdated,
) -> Result<(), HandlerError> {
    let user_id = uuid::Uuid::parse_str(&e.user_id).map_err(|_| {
        HandlerError::Permanent(anyhow::anyhow!(
            "profile.updated.v1 without a valid user_id"
        ))
    })?;
    // A zone we cannot resolve would make every local date silently UTC while the events claim
    // otherwise; record UTC explicitly instead.
    let timezone = if stride_kit::convert::is_valid_timezone(&e.timezone) {
        e.timezone.as_str()
    } else {
        DEFAULT_TIMEZONE
    };
    // Only a newer revision replaces what we have: updates may arrive out of order.
    sqlx::query(
        "INSERT INTO user_timezones (user_id, timezone, revision) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET timezone = EXCLUDED.timezone, revision = EXCLUDED.revision
         WHERE user_timezones.revision < EXCLUDED.revision",
    )
    .bind(user_id)
    .bind(timezone)
    .bind(e.revision)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Deletes every row of the user, active session included. Idempotent. A stale
/// `profile.updated.v1` arriving afterwards can recreate a `user_timezones` row: harmless (a zone,
/// no personal data) and overwritten/ignored like any other.
async fn user_deleted(tx: &mut PgConnection, e: events::UserDeleted) -> Result<(), HandlerError> {
    let user_id = uuid::Uuid::parse_str(&e.user_id).map_err(|_| {
        HandlerError::Permanent(anyhow::anyhow!("user.deleted.v1 without a valid user_id"))
    })?;
    let mut purged = 0;
    for sql in [
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM user_timezones WHERE user_id = $1",
    ] {
        purged += sqlx::query(sql)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tracing::info!(%user_id, purged, "user deleted: sessions and timezone purged");
    Ok(())
}

fn permanent(msg: String) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!(msg))
}

/// Moves every session of the guest `source` to `target`, then forgets the guest's timezone (the
/// target keeps its own, kept current by its profile updates).
///
/// A user has one active session at most (`sessions_one_active`). When both have one, the
/// target's stays and the guest's is dropped: sessions have no cancelled state, and completing it
/// would announce `session.completed.v1` for work nobody finished, counted by challenge and
/// analytics. An active session has produced no event yet, so dropping it leaves nothing behind
/// elsewhere, as if the guest had abandoned it. Completed sessions all move, untouched.
///
/// Idempotent: a replay finds no row of the source and changes nothing.
async fn user_merged(tx: &mut PgConnection, e: events::UserMerged) -> Result<(), HandlerError> {
    let parse = |field: &str, raw: &str| {
        uuid::Uuid::parse_str(raw)
            .map_err(|_| permanent(format!("user.merged.v1 {field} {raw:?} is not a UUID")))
    };
    let source = parse("source_user_id", &e.source_user_id)?;
    let target = parse("target_user_id", &e.target_user_id)?;
    if source == target {
        return Err(permanent(format!(
            "user.merged.v1 merges {source} into itself"
        )));
    }
    // A start by the target racing this would make the move below violate the index: the
    // transaction fails, the event is retried and takes this branch then.
    let dropped = sqlx::query(
        "DELETE FROM sessions WHERE user_id = $1 AND state = 'active'
           AND EXISTS (SELECT 1 FROM sessions WHERE user_id = $2 AND state = 'active')",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let moved = sqlx::query("UPDATE sessions SET user_id = $2 WHERE user_id = $1")
        .bind(source)
        .bind(target)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM user_timezones WHERE user_id = $1")
        .bind(source)
        .execute(&mut *tx)
        .await?;
    tracing::info!(%source, %target, moved, dropped, "user merged: sessions moved");
    Ok(())
}
