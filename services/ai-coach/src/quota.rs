//! The per-user daily quota of model-backed answers. The day is the UTC day: the same for every
//! replica and needing no profile lookup; the reset time is documented in docs/ai-coach.md.
//! Handlers that may call the model charge one call at their start (only when a model is
//! configured); rules answers are free.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::PgConnection;
use stride_kit::{AppError, AppResult, clock::SharedClock};
use uuid::Uuid;

use crate::config::DEFAULT_DAILY_QUOTA;

/// The process's limit, set once from the config at start (`set_daily_limit`).
static DAILY_LIMIT: AtomicU32 = AtomicU32::new(DEFAULT_DAILY_QUOTA);

pub fn set_daily_limit(limit: u32) {
    DAILY_LIMIT.store(limit, Ordering::Relaxed);
}

pub fn daily_limit() -> u32 {
    DAILY_LIMIT.load(Ordering::Relaxed)
}

/// Charges one model-backed answer to `user_id` for today (UTC); RESOURCE_EXHAUSTED naming the
/// limit once the day's calls reach it. Atomic: concurrent calls cannot overshoot.
pub async fn charge(conn: &mut PgConnection, user_id: Uuid, clock: &SharedClock) -> AppResult<()> {
    let limit = daily_limit();
    let day = clock.now().date();
    let charged: Option<i32> = sqlx::query_scalar(
        "INSERT INTO quota_days (user_id, day, calls) SELECT $1, $2, 1 WHERE $3 > 0
         ON CONFLICT (user_id, day) DO UPDATE SET calls = quota_days.calls + 1
           WHERE quota_days.calls < $3
         RETURNING calls",
    )
    .bind(user_id)
    .bind(day)
    .bind(i32::try_from(limit).unwrap_or(i32::MAX))
    .fetch_optional(conn)
    .await?;
    match charged {
        Some(_) => Ok(()),
        None => Err(exhausted(limit)),
    }
}

/// Today's (UTC) model-backed calls of `user_id`.
pub async fn used_today(
    conn: &mut PgConnection,
    user_id: Uuid,
    clock: &SharedClock,
) -> sqlx::Result<u32> {
    let calls: Option<i32> =
        sqlx::query_scalar("SELECT calls FROM quota_days WHERE user_id = $1 AND day = $2")
            .bind(user_id)
            .bind(clock.now().date())
            .fetch_optional(conn)
            .await?;
    Ok(calls.and_then(|c| u32::try_from(c).ok()).unwrap_or(0))
}

pub fn exhausted(limit: u32) -> AppError {
    AppError::ResourceExhausted {
        reason: "AI_DAILY_QUOTA",
        message: format!(
            "the daily limit of {limit} coach answers is reached; it resets at 00:00 UTC"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_names_the_limit_and_the_reset() {
        let AppError::ResourceExhausted { message, .. } = exhausted(200) else {
            panic!("RESOURCE_EXHAUSTED");
        };
        assert!(
            message.contains("200") && message.contains("UTC"),
            "{message}"
        );
    }
}
