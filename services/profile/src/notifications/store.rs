//! Notification settings, devices, inbox and reminders. Functions run on the caller's connection
//! or transaction and never begin or commit.

use sqlx::PgConnection;
use time::{OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use super::domain::{Channels, Kind, Preference, QuietHours};

/// The user's zone (the profile's); None without a profile.
pub async fn timezone(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT timezone FROM profiles WHERE user_id = $1")
        .bind(user)
        .fetch_optional(conn)
        .await
}

#[derive(Debug, sqlx::FromRow)]
struct PreferenceRow {
    kind: String,
    email: bool,
    push: bool,
    inbox: bool,
}

pub async fn preferences(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<Preference>> {
    let rows: Vec<PreferenceRow> = sqlx::query_as(
        "SELECT kind, email, push, inbox FROM notification_preferences WHERE user_id = $1",
    )
    .bind(user)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Preference {
                kind: Kind::parse(&r.kind)?,
                channels: Channels {
                    email: r.email,
                    push: r.push,
                    inbox: r.inbox,
                },
            })
        })
        .collect())
}

/// Replaces the stored preferences with `prefs` (kinds not listed fall back to defaults).
pub async fn replace_preferences(
    tx: &mut PgConnection,
    user: Uuid,
    prefs: &[Preference],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM notification_preferences WHERE user_id = $1")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    for p in prefs {
        sqlx::query(
            "INSERT INTO notification_preferences (user_id, kind, email, push, inbox)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user)
        .bind(p.kind.as_str())
        .bind(p.channels.email)
        .bind(p.channels.push)
        .bind(p.channels.inbox)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The stored quiet hours and when the settings last changed; None: defaults, never changed.
pub async fn quiet_hours(
    conn: &mut PgConnection,
    user: Uuid,
) -> sqlx::Result<Option<(QuietHours, OffsetDateTime)>> {
    let row: Option<(bool, i32, i32, OffsetDateTime)> = sqlx::query_as(
        "SELECT quiet_enabled, quiet_start_minute, quiet_end_minute, updated_at
         FROM notification_settings WHERE user_id = $1",
    )
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(enabled, start_minute, end_minute, at)| {
        (
            QuietHours {
                enabled,
                start_minute,
                end_minute,
            },
            at,
        )
    }))
}

/// Writes the quiet hours (or keeps the stored ones when `quiet` is None) and stamps the
/// settings as changed at `now`.
pub async fn save_settings(
    tx: &mut PgConnection,
    user: Uuid,
    quiet: QuietHours,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO notification_settings
             (user_id, quiet_enabled, quiet_start_minute, quiet_end_minute, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id) DO UPDATE SET
             quiet_enabled = EXCLUDED.quiet_enabled,
             quiet_start_minute = EXCLUDED.quiet_start_minute,
             quiet_end_minute = EXCLUDED.quiet_end_minute,
             updated_at = EXCLUDED.updated_at",
    )
    .bind(user)
    .bind(quiet.enabled)
    .bind(quiet.start_minute)
    .bind(quiet.end_minute)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeviceRow {
    pub device_id: Uuid,
    pub user_id: Uuid,
    pub token: String,
    pub platform: String,
    pub display_name: String,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

const DEVICE_COLUMNS: &str =
    "device_id, user_id, token, platform, display_name, created_at, last_seen_at";

/// Serialises device registrations of one user (the cap is counted, then written).
pub async fn lock_user(tx: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 3000))")
        .bind(user)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn device_by_token(
    conn: &mut PgConnection,
    token: &str,
) -> sqlx::Result<Option<DeviceRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DEVICE_COLUMNS} FROM push_devices WHERE token = $1"
    )))
    .bind(token)
    .fetch_optional(conn)
    .await
}

pub async fn count_devices(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM push_devices WHERE user_id = $1")
        .bind(user)
        .fetch_one(conn)
        .await
}

/// Inserts the device, or — the token already known — gives it to `user` with the new details
/// and a fresh last-seen time.
pub async fn upsert_device(
    tx: &mut PgConnection,
    user: Uuid,
    token: &str,
    platform: &str,
    display_name: &str,
    now: OffsetDateTime,
) -> sqlx::Result<DeviceRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO push_devices ({DEVICE_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (token) DO UPDATE SET
             user_id = EXCLUDED.user_id, platform = EXCLUDED.platform,
             display_name = EXCLUDED.display_name, last_seen_at = EXCLUDED.last_seen_at,
             created_at = CASE WHEN push_devices.user_id = EXCLUDED.user_id
                               THEN push_devices.created_at ELSE EXCLUDED.created_at END
         RETURNING {DEVICE_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(token)
    .bind(platform)
    .bind(display_name)
    .bind(now)
    .fetch_one(tx)
    .await
}

pub async fn delete_device(tx: &mut PgConnection, user: Uuid, device: Uuid) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM push_devices WHERE user_id = $1 AND device_id = $2")
            .bind(user)
            .bind(device)
            .execute(tx)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Forgets a token the push provider said is no longer registered.
pub async fn delete_token(tx: &mut PgConnection, token: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM push_devices WHERE token = $1")
        .bind(token)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn devices(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<DeviceRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DEVICE_COLUMNS} FROM push_devices WHERE user_id = $1
         ORDER BY created_at, device_id"
    )))
    .bind(user)
    .fetch_all(conn)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InboxRow {
    pub message_id: Uuid,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub created_at: OffsetDateTime,
    pub read_at: Option<OffsetDateTime>,
}

const INBOX_COLUMNS: &str = "message_id, kind, title, body, created_at, read_at";

/// Adds a message; with a `reminder`, at most one per reminder (returns None when it exists).
pub async fn add_inbox(
    tx: &mut PgConnection,
    user: Uuid,
    kind: Kind,
    title: &str,
    body: &str,
    reminder: Option<Uuid>,
    now: OffsetDateTime,
) -> sqlx::Result<Option<InboxRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO inbox_messages (message_id, user_id, kind, title, body, created_at, reminder_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (reminder_id) DO NOTHING
         RETURNING {INBOX_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(kind.as_str())
    .bind(title)
    .bind(body)
    .bind(now)
    .bind(reminder)
    .fetch_optional(tx)
    .await
}

/// Newest first, after the cursor `(created_at, message_id)`.
pub async fn list_inbox(
    conn: &mut PgConnection,
    user: Uuid,
    unread_only: bool,
    after: Option<&(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<InboxRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {INBOX_COLUMNS} FROM inbox_messages
         WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL)
           AND ($3::timestamptz IS NULL OR (created_at, message_id) < ($3, $4))
         ORDER BY created_at DESC, message_id DESC
         LIMIT $5"
    )))
    .bind(user)
    .bind(unread_only)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Marks one message read (keeps the first read time); None when it is not the user's.
pub async fn mark_read(
    tx: &mut PgConnection,
    user: Uuid,
    message: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<Option<InboxRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE inbox_messages SET read_at = COALESCE(read_at, $3)
         WHERE user_id = $1 AND message_id = $2
         RETURNING {INBOX_COLUMNS}"
    )))
    .bind(user)
    .bind(message)
    .bind(now)
    .fetch_optional(tx)
    .await
}

pub async fn mark_all_read(
    tx: &mut PgConnection,
    user: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<u64> {
    Ok(
        sqlx::query(
            "UPDATE inbox_messages SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL",
        )
        .bind(user)
        .bind(now)
        .execute(tx)
        .await?
        .rows_affected(),
    )
}

pub async fn unread_count(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM inbox_messages WHERE user_id = $1 AND read_at IS NULL")
        .bind(user)
        .fetch_one(conn)
        .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ReminderRow {
    pub reminder_id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub local_due: PrimitiveDateTime,
    pub due_at: OffsetDateTime,
    pub title: String,
    pub body: String,
    pub attempts: i32,
    pub key: String,
    /// A weekly challenge window's reminder: delivered or cancelled, next week's follows.
    pub repeat_weekly: bool,
}

const REMINDER_COLUMNS: &str =
    "reminder_id, user_id, kind, local_due, due_at, title, body, attempts, key, repeat_weekly";

pub struct NewReminder<'a> {
    pub user: Uuid,
    pub kind: Kind,
    pub key: &'a str,
    pub local_due: PrimitiveDateTime,
    pub due_at: OffsetDateTime,
    pub title: &'a str,
    pub body: &'a str,
    pub repeat_weekly: bool,
}

/// Schedules a reminder, or moves a still-pending one with the same key; a delivered or
/// cancelled one stays as it is (at most once). Returns the row as it now stands.
pub async fn schedule(
    tx: &mut PgConnection,
    r: &NewReminder<'_>,
    now: OffsetDateTime,
) -> sqlx::Result<ReminderRow> {
    let row: Option<ReminderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO reminders (reminder_id, user_id, kind, key, local_due, due_at, title, body,
                                state, created_at, repeat_weekly)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10)
         ON CONFLICT (user_id, kind, key) DO UPDATE SET
             local_due = EXCLUDED.local_due, due_at = EXCLUDED.due_at,
             title = EXCLUDED.title, body = EXCLUDED.body, repeat_weekly = EXCLUDED.repeat_weekly
           WHERE reminders.state = 'pending'
         RETURNING {REMINDER_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(r.user)
    .bind(r.kind.as_str())
    .bind(r.key)
    .bind(r.local_due)
    .bind(r.due_at)
    .bind(r.title)
    .bind(r.body)
    .bind(now)
    .bind(r.repeat_weekly)
    .fetch_optional(&mut *tx)
    .await?;
    match row {
        Some(row) => Ok(row),
        None => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {REMINDER_COLUMNS} FROM reminders
                 WHERE user_id = $1 AND kind = $2 AND key = $3"
            )))
            .bind(r.user)
            .bind(r.kind.as_str())
            .bind(r.key)
            .fetch_one(&mut *tx)
            .await
        }
    }
}

/// Like [`schedule`], but a reminder cancelled earlier under the same key is armed again (a
/// user who left a challenge and joins again, a plan day that is back on the schedule); a
/// delivered one still stays delivered.
pub async fn rearm(
    tx: &mut PgConnection,
    r: &NewReminder<'_>,
    now: OffsetDateTime,
) -> sqlx::Result<ReminderRow> {
    sqlx::query(
        "UPDATE reminders SET state = 'pending'
         WHERE user_id = $1 AND kind = $2 AND key = $3 AND state = 'cancelled'",
    )
    .bind(r.user)
    .bind(r.kind.as_str())
    .bind(r.key)
    .execute(&mut *tx)
    .await?;
    schedule(tx, r, now).await
}

/// After a weekly challenge window's reminder `r` was delivered, or cancelled because the
/// window was completed: next week's window gets its reminder (a one-off reminder: nothing).
pub async fn follow_weekly(
    tx: &mut PgConnection,
    r: &ReminderRow,
    tz: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    if !r.repeat_weekly {
        return Ok(());
    }
    let due = super::domain::LocalTime::from_primitive(r.local_due);
    let Some(next) = super::domain::next_weekly_challenge(&r.key, due, now, tz) else {
        return Ok(());
    };
    schedule(
        tx,
        &NewReminder {
            user: r.user_id,
            kind: Kind::ChallengeEnding,
            key: &next.key,
            local_due: next.at.to_primitive(),
            due_at: next.at.instant(tz),
            title: &r.title,
            body: &r.body,
            repeat_weekly: true,
        },
        now,
    )
    .await
    .map(|_| ())
}

/// Cancels a pending reminder; the row when one was pending.
pub async fn cancel(
    tx: &mut PgConnection,
    user: Uuid,
    kind: Kind,
    key: &str,
) -> sqlx::Result<Option<ReminderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE reminders SET state = 'cancelled'
         WHERE user_id = $1 AND kind = $2 AND key = $3 AND state = 'pending'
         RETURNING {REMINDER_COLUMNS}"
    )))
    .bind(user)
    .bind(kind.as_str())
    .bind(key)
    .fetch_optional(tx)
    .await
}

/// Cancels the pending reminders of `kind` whose key starts with `prefix`, except `keep`.
pub async fn cancel_prefixed(
    tx: &mut PgConnection,
    user: Uuid,
    kind: Kind,
    prefix: &str,
    keep: Option<&str>,
) -> sqlx::Result<u64> {
    // starts_with, not LIKE: a key is caller-supplied text and may hold % or _.
    Ok(sqlx::query(
        "UPDATE reminders SET state = 'cancelled'
         WHERE user_id = $1 AND kind = $2 AND starts_with(key, $3)
           AND key IS DISTINCT FROM $4 AND state = 'pending'",
    )
    .bind(user)
    .bind(kind.as_str())
    .bind(prefix)
    .bind(keep)
    .execute(tx)
    .await?
    .rows_affected())
}

/// Cancels every user's pending reminders of `kind` whose key starts with `prefix` (a
/// challenge ended early by its owner: the event does not list every participant).
pub async fn cancel_prefixed_all(
    tx: &mut PgConnection,
    kind: Kind,
    prefix: &str,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE reminders SET state = 'cancelled'
         WHERE kind = $1 AND starts_with(key, $2) AND state = 'pending'",
    )
    .bind(kind.as_str())
    .bind(prefix)
    .execute(tx)
    .await?
    .rows_affected())
}

/// Locks up to `limit` pending reminders due by `now`, skipping those another replica holds:
/// each is handled by exactly one scheduler, in the caller's transaction.
pub async fn claim_due(
    tx: &mut PgConnection,
    now: OffsetDateTime,
    limit: i64,
) -> sqlx::Result<Vec<ReminderRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {REMINDER_COLUMNS} FROM reminders
         WHERE state = 'pending' AND due_at <= $1
         ORDER BY due_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(tx)
    .await
}

/// Moves a pending reminder to `due_at` (quiet hours, a changed zone, a retry).
pub async fn postpone(
    tx: &mut PgConnection,
    reminder: Uuid,
    due_at: OffsetDateTime,
    attempts: i32,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE reminders SET due_at = $2, attempts = $3 WHERE reminder_id = $1")
        .bind(reminder)
        .bind(due_at)
        .bind(attempts)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn mark_delivered(
    tx: &mut PgConnection,
    reminder: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE reminders SET state = 'delivered', delivered_at = $2 WHERE reminder_id = $1",
    )
    .bind(reminder)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records that `channel` delivered `reminder`; false when it already had (at most once).
pub async fn record_delivery(
    tx: &mut PgConnection,
    reminder: Uuid,
    channel: &str,
    now: OffsetDateTime,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO reminder_deliveries (reminder_id, channel, delivered_at)
         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(reminder)
    .bind(channel)
    .bind(now)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

pub async fn delivered_channels(
    conn: &mut PgConnection,
    reminder: Uuid,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT channel FROM reminder_deliveries WHERE reminder_id = $1")
        .bind(reminder)
        .fetch_all(conn)
        .await
}

/// Deletes every notification row of `user` (account deletion).
pub async fn purge_user(tx: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    let mut n = 0;
    n += sqlx::query(
        "DELETE FROM reminder_deliveries WHERE reminder_id IN
             (SELECT reminder_id FROM reminders WHERE user_id = $1)",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    for sql in [
        "DELETE FROM reminders WHERE user_id = $1",
        "DELETE FROM inbox_messages WHERE user_id = $1",
        "DELETE FROM push_devices WHERE user_id = $1",
        "DELETE FROM notification_preferences WHERE user_id = $1",
        "DELETE FROM notification_settings WHERE user_id = $1",
        "DELETE FROM notification_emails WHERE user_id = $1",
    ] {
        n += sqlx::query(sql)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// Moves guest `source`'s inbox, devices and reminders to `target` (its settings and
/// preferences only when the target has none); nothing of the source remains.
pub async fn merge_user(tx: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<()> {
    for sql in [
        // A reminder the target already has under the same key wins.
        "DELETE FROM reminder_deliveries WHERE reminder_id IN
             (SELECT s.reminder_id FROM reminders s JOIN reminders t
                ON t.user_id = $2 AND t.kind = s.kind AND t.key = s.key
              WHERE s.user_id = $1)",
        "DELETE FROM reminders s USING reminders t
         WHERE s.user_id = $1 AND t.user_id = $2 AND t.kind = s.kind AND t.key = s.key",
        "UPDATE reminders SET user_id = $2 WHERE user_id = $1",
        "UPDATE inbox_messages SET user_id = $2 WHERE user_id = $1",
        "UPDATE push_devices SET user_id = $2 WHERE user_id = $1",
        "UPDATE notification_settings SET user_id = $2 WHERE user_id = $1
           AND NOT EXISTS (SELECT 1 FROM notification_settings WHERE user_id = $2)",
        "DELETE FROM notification_settings WHERE user_id = $1 AND $2::uuid IS NOT NULL",
        "UPDATE notification_preferences SET user_id = $2 WHERE user_id = $1
           AND NOT EXISTS (SELECT 1 FROM notification_preferences WHERE user_id = $2)",
        "DELETE FROM notification_preferences WHERE user_id = $1 AND $2::uuid IS NOT NULL",
        "UPDATE notification_emails SET user_id = $2 WHERE user_id = $1
           AND NOT EXISTS (SELECT 1 FROM notification_emails WHERE user_id = $2)",
        "DELETE FROM notification_emails WHERE user_id = $1 AND $2::uuid IS NOT NULL",
    ] {
        sqlx::query(sql)
            .bind(source)
            .bind(target)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Schedules a reminder unless one with its key exists in any state (event replays and
/// activity later the same day change nothing).
pub async fn schedule_if_absent(
    tx: &mut PgConnection,
    r: &NewReminder<'_>,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO reminders (reminder_id, user_id, kind, key, local_due, due_at, title, body,
                                state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9)
         ON CONFLICT (user_id, kind, key) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(r.user)
    .bind(r.kind.as_str())
    .bind(r.key)
    .bind(r.local_due)
    .bind(r.due_at)
    .bind(r.title)
    .bind(r.body)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Where reminder mail goes: the address the account signed up with.
pub async fn email(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT email FROM notification_emails WHERE user_id = $1 AND email <> ''")
        .bind(user)
        .fetch_optional(conn)
        .await
}

pub async fn set_email(tx: &mut PgConnection, user: Uuid, email: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO notification_emails (user_id, email) VALUES ($1, $2)
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user)
    .bind(email)
    .execute(tx)
    .await?;
    Ok(())
}
