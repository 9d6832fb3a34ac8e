//! Reactions to events: session completions advance challenge progress (and may award points
//! and emit `challenge.completed.v1`); profile updates keep display names and timezones; an
//! account deletion purges the user's memberships, progress, points and name; an account merge
//! moves a guest's memberships, progress and points to the target account.

use sqlx::PgConnection;
use stride_bus::{
    Envelope, Event as _,
    consumer::{Handler, HandlerError},
    outbox::OutboxHandle,
};
use stride_kit::{clock::SharedClock, convert};
use stride_proto::events;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

pub const SESSION_COMPLETED: &str = events::SessionCompleted::TYPE;
pub const PROFILE_UPDATED: &str = events::ProfileUpdated::TYPE;
pub const USER_DELETED: &str = events::UserDeleted::TYPE;
pub const USER_MERGED: &str = events::UserMerged::TYPE;

/// Event types bound to `challenge.events`.
pub const CONSUMES: [&str; 4] = [
    SESSION_COMPLETED,
    PROFILE_UPDATED,
    USER_DELETED,
    USER_MERGED,
];

/// Timezone a user has until their profile says otherwise.
pub const DEFAULT_TIMEZONE: &str = "UTC";
const MAX_DISPLAY_NAME: usize = 100;

/// The single window of a non-recurring challenge.
pub const FOREVER_WINDOW: Date = time::macros::date!(1970 - 01 - 01);

/// First day of the window that contains local date `d`.
pub fn window_start(recurrence: &str, d: Date) -> Date {
    if recurrence == "weekly" {
        convert::week_start(d)
    } else {
        FOREVER_WINDOW
    }
}

pub struct EventHandler {
    pub outbox: OutboxHandle,
    /// Dates a merge's award when the event carries no time.
    pub clock: SharedClock,
}

fn permanent(msg: &str) -> HandlerError {
    HandlerError::Permanent(anyhow::anyhow!("{msg}"))
}

impl Handler for EventHandler {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandlerError> {
        match env.event_type.as_str() {
            SESSION_COMPLETED => session_completed(tx, env.decode()?).await,
            PROFILE_UPDATED => profile_updated(tx, env.decode()?).await,
            USER_DELETED => user_deleted(tx, env.decode()?).await,
            USER_MERGED => user_merged(tx, env.decode()?, self.clock.now()).await,
            other => {
                tracing::debug!(
                    event_type = other,
                    "ignoring an event type this service does not use"
                );
                Ok(())
            }
        }
    }

    fn after_commit(&self, env: &Envelope) {
        // A completion (or a merge) may have enqueued challenge.completed.v1; a spare kick costs
        // one empty poll.
        if env.event_type == SESSION_COMPLETED || env.event_type == USER_MERGED {
            self.outbox.kick();
        }
    }
}

async fn session_completed(
    tx: &mut PgConnection,
    e: events::SessionCompleted,
) -> Result<(), HandlerError> {
    let user_id = Uuid::parse_str(&e.user_id)
        .map_err(|_| permanent("session.completed.v1 without a valid user_id"))?;
    let end_time = e
        .end_time
        .as_ref()
        .and_then(convert::from_timestamp)
        .ok_or_else(|| permanent("session.completed.v1 without a valid end_time"))?;
    // The producer states the local date; derive it only for a producer that left it out.
    let local_date = e
        .local_date
        .as_ref()
        .and_then(convert::from_date)
        .unwrap_or_else(|| convert::local_date(end_time, &e.timezone));

    // Sessions that ended before the user joined do not count.
    let joined: Vec<(Uuid, String, i32, i32, String)> = sqlx::query_as(
        "SELECT c.id, c.title, c.target, c.points, c.recurrence
         FROM participants p JOIN challenges c ON c.id = p.challenge_id
         WHERE p.user_id = $1 AND c.goal_kind = 'sessions_completed' AND c.activity_kind = $2
           AND p.joined_at <= $3
         ORDER BY c.id",
    )
    .bind(user_id)
    .bind(&e.activity_kind)
    .bind(end_time)
    .fetch_all(&mut *tx)
    .await?;

    for (challenge_id, title, target, points, recurrence) in joined {
        let window = window_start(&recurrence, local_date);
        // The row lock taken by the upsert serialises concurrent events of the same window.
        let (current, completed_at): (i32, Option<OffsetDateTime>) = sqlx::query_as(
            "INSERT INTO progress (challenge_id, user_id, window_start, current) VALUES ($1, $2, $3, 1)
             ON CONFLICT (challenge_id, user_id, window_start) DO UPDATE SET current = progress.current + 1
             RETURNING current, completed_at",
        )
        .bind(challenge_id)
        .bind(user_id)
        .bind(window)
        .fetch_one(&mut *tx)
        .await?;
        if current < target || completed_at.is_some() {
            continue;
        }
        sqlx::query("UPDATE progress SET completed_at = $4 WHERE challenge_id = $1 AND user_id = $2 AND window_start = $3")
            .bind(challenge_id)
            .bind(user_id)
            .bind(window)
            .bind(end_time)
            .execute(&mut *tx)
            .await?;
        // The ledger's unique key is the last guard against paying a window twice.
        let awarded = sqlx::query(
            "INSERT INTO points_ledger (id, user_id, challenge_id, window_start, points, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (challenge_id, user_id, window_start) DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(challenge_id)
        .bind(window)
        .bind(points)
        .bind(end_time)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if awarded {
            let event = events::ChallengeCompleted {
                user_id: user_id.to_string(),
                challenge_id: challenge_id.to_string(),
                title,
                points_awarded: points,
                window_start: Some(convert::date(window)),
                occur_time: Some(convert::timestamp(end_time)),
                local_date: Some(convert::date(local_date)),
                timezone: e.timezone.clone(),
            };
            stride_bus::outbox::enqueue(&mut *tx, &event).await?;
            tracing::info!(%user_id, %challenge_id, %window, points, "challenge completed");
        }
    }
    Ok(())
}

async fn profile_updated(
    tx: &mut PgConnection,
    e: events::ProfileUpdated,
) -> Result<(), HandlerError> {
    let user_id = Uuid::parse_str(&e.user_id)
        .map_err(|_| permanent("profile.updated.v1 without a valid user_id"))?;
    let timezone = if convert::is_valid_timezone(&e.timezone) {
        e.timezone.as_str()
    } else {
        DEFAULT_TIMEZONE
    };
    let display_name: String = e.display_name.chars().take(MAX_DISPLAY_NAME).collect();
    // Only a newer revision replaces what we have: updates may arrive out of order.
    sqlx::query(
        "INSERT INTO users (user_id, display_name, timezone, revision) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE
         SET display_name = EXCLUDED.display_name, timezone = EXCLUDED.timezone, revision = EXCLUDED.revision
         WHERE users.revision < EXCLUDED.revision",
    )
    .bind(user_id)
    .bind(display_name)
    .bind(timezone)
    .bind(e.revision)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Deletes every row of the user (their points leave the leaderboards too). Idempotent. A stale
/// `session.completed.v1` arriving afterwards finds no membership and changes nothing; a stale
/// `profile.updated.v1` can recreate a `users` row (a display name nobody ranks): acceptable.
async fn user_deleted(tx: &mut PgConnection, e: events::UserDeleted) -> Result<(), HandlerError> {
    let user_id = Uuid::parse_str(&e.user_id)
        .map_err(|_| permanent("user.deleted.v1 without a valid user_id"))?;
    let mut purged = 0;
    for sql in [
        "DELETE FROM points_ledger WHERE user_id = $1",
        "DELETE FROM progress WHERE user_id = $1",
        "DELETE FROM participants WHERE user_id = $1",
        "DELETE FROM users WHERE user_id = $1",
    ] {
        purged += sqlx::query(sql)
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tracing::info!(%user_id, purged, "user deleted: challenge data purged");
    Ok(())
}

/// Moves the guest `source`'s memberships, progress and points to `target`, combining rows of
/// the same key, then deletes every row of the source (its display name/timezone row too: the
/// target keeps its own).
///
/// - Membership: one per challenge, joined at the earlier of the two joins.
/// - Progress: one per challenge window, counts added up, completed at the earlier completion.
/// - Points: a window pays out at most once (the ledger's unique key): when both were awarded
///   for the same window the target's award stands and the guest's is dropped; a guest's award
///   for a window the target was not paid for moves as is.
/// - A window whose combined count reaches the target though neither user had reached it is
///   completed and awarded now, exactly as the session that would have reached it does: the
///   progress shown stays consistent with the points ("completed" ⇔ paid), and the guest's work
///   is not lost by signing in. It is announced as `challenge.completed.v1` dated at the merge
///   (its time, the target's timezone and local date from the event).
///
/// Idempotent: a replay finds no row of the source and changes nothing.
async fn user_merged(
    tx: &mut PgConnection,
    e: events::UserMerged,
    now: OffsetDateTime,
) -> Result<(), HandlerError> {
    let parse = |field: &str, raw: &str| {
        Uuid::parse_str(raw).map_err(|_| {
            HandlerError::Permanent(anyhow::anyhow!(
                "user.merged.v1 {field} {raw:?} is not a UUID"
            ))
        })
    };
    let source = parse("source_user_id", &e.source_user_id)?;
    let target = parse("target_user_id", &e.target_user_id)?;
    if source == target {
        return Err(permanent("user.merged.v1 merges a user into itself"));
    }

    sqlx::query(
        "INSERT INTO participants (challenge_id, user_id, joined_at)
         SELECT challenge_id, $2, joined_at FROM participants WHERE user_id = $1
         ON CONFLICT (challenge_id, user_id) DO UPDATE
         SET joined_at = LEAST(participants.joined_at, EXCLUDED.joined_at)",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *tx)
    .await?;

    // RETURNING yields the combined rows; those that reach the target unpaid are awarded below.
    let reached: Vec<(Uuid, Date, String, i32)> = sqlx::query_as(
        "WITH merged AS (
             INSERT INTO progress (challenge_id, user_id, window_start, current, completed_at)
             SELECT challenge_id, $2, window_start, current, completed_at FROM progress WHERE user_id = $1
             ON CONFLICT (challenge_id, user_id, window_start) DO UPDATE
             SET current = progress.current + EXCLUDED.current,
                 completed_at = LEAST(progress.completed_at, EXCLUDED.completed_at)
             RETURNING challenge_id, window_start, current, completed_at
         )
         SELECT m.challenge_id, m.window_start, c.title, c.points
         FROM merged m JOIN challenges c ON c.id = m.challenge_id
         WHERE m.completed_at IS NULL AND m.current >= c.target
         ORDER BY m.challenge_id, m.window_start",
    )
    .bind(source)
    .bind(target)
    .fetch_all(&mut *tx)
    .await?;

    // A guest's award moves unless the target already has one for that window.
    sqlx::query(
        "UPDATE points_ledger s SET user_id = $2
         WHERE s.user_id = $1 AND NOT EXISTS (
             SELECT 1 FROM points_ledger t
             WHERE t.user_id = $2 AND t.challenge_id = s.challenge_id AND t.window_start = s.window_start)",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *tx)
    .await?;

    let mut dropped = 0;
    for sql in [
        "DELETE FROM points_ledger WHERE user_id = $1",
        "DELETE FROM progress WHERE user_id = $1",
        "DELETE FROM participants WHERE user_id = $1",
        "DELETE FROM users WHERE user_id = $1",
    ] {
        dropped += sqlx::query(sql)
            .bind(source)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }

    if !reached.is_empty() {
        let at = e
            .occur_time
            .as_ref()
            .and_then(convert::from_timestamp)
            .unwrap_or(now);
        let timezone = if convert::is_valid_timezone(&e.timezone) {
            e.timezone.as_str()
        } else {
            DEFAULT_TIMEZONE
        };
        let local_date = e
            .local_date
            .as_ref()
            .and_then(convert::from_date)
            .unwrap_or_else(|| convert::local_date(at, timezone));
        for (challenge_id, window, title, points) in reached {
            sqlx::query(
                "UPDATE progress SET completed_at = $4
                 WHERE challenge_id = $1 AND user_id = $2 AND window_start = $3",
            )
            .bind(challenge_id)
            .bind(target)
            .bind(window)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let awarded = sqlx::query(
                "INSERT INTO points_ledger (id, user_id, challenge_id, window_start, points, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (challenge_id, user_id, window_start) DO NOTHING",
            )
            .bind(Uuid::now_v7())
            .bind(target)
            .bind(challenge_id)
            .bind(window)
            .bind(points)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if awarded {
                let event = events::ChallengeCompleted {
                    user_id: target.to_string(),
                    challenge_id: challenge_id.to_string(),
                    title,
                    points_awarded: points,
                    window_start: Some(convert::date(window)),
                    occur_time: Some(convert::timestamp(at)),
                    local_date: Some(convert::date(local_date)),
                    timezone: timezone.to_owned(),
                };
                stride_bus::outbox::enqueue(&mut *tx, &event).await?;
                tracing::info!(user_id = %target, %challenge_id, %window, points, "challenge completed by a merge");
            }
        }
    }
    tracing::info!(%source, %target, dropped, "user merged: challenge data moved");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn weekly_windows_start_on_monday() {
        assert_eq!(
            window_start("weekly", date!(2026 - 11 - 22)),
            date!(2026 - 11 - 16)
        );
        assert_eq!(
            window_start("weekly", date!(2026 - 11 - 23)),
            date!(2026 - 11 - 23)
        );
        assert_eq!(window_start("none", date!(2026 - 11 - 23)), FOREVER_WINDOW);
    }
}
