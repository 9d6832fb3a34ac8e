//! Reactions to other services' events: keep each user's timezone from `profile.updated.v1`.

use sqlx::PgConnection;
use stride_bus::{
    Envelope, Event as _,
    consumer::{Handler, HandlerError},
};
use stride_proto::events;

pub const PROFILE_UPDATED: &str = events::ProfileUpdated::TYPE;

/// Timezone a user has until their profile says otherwise.
pub const DEFAULT_TIMEZONE: &str = "UTC";

pub struct EventHandler;

impl Handler for EventHandler {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandlerError> {
        match env.event_type.as_str() {
            PROFILE_UPDATED => profile_updated(tx, env.decode()?).await,
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
