//! Reactions to other services' events: keep each user's timezone from `profile.updated.v1`,
//! purge a deleted account's data on `user.deleted.v1`.

use sqlx::PgConnection;
use stride_bus::{
    Envelope, Event as _,
    consumer::{Handler, HandlerError},
};
use stride_proto::events;

pub const PROFILE_UPDATED: &str = events::ProfileUpdated::TYPE;
pub const USER_DELETED: &str = events::UserDeleted::TYPE;

/// Timezone a user has until their profile says otherwise.
pub const DEFAULT_TIMEZONE: &str = "UTC";

pub struct EventHandler;

impl Handler for EventHandler {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandlerError> {
        match env.event_type.as_str() {
            PROFILE_UPDATED => profile_updated(tx, env.decode()?).await,
            USER_DELETED => user_deleted(tx, env.decode()?).await,
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
