//! The user directory: the local copy of profile data (timezone, display name, locale, avatar URL
//! and profile visibility) that a
//! consuming service keeps from `profile.updated.v1`, so it can compute local dates and show
//! names without calling profile. One table shape and one revision-guarded upsert for every
//! service that needs it: include [`MIGRATOR`] in the service's migrations and register
//! [`Replica`] for `profile.updated.v1`.

use sqlx::PgConnection;
use stride_proto::events;
use uuid::Uuid;

use crate::{Envelope, On, Tx, consumer::HandlerError, lifecycle::Subject};

/// The `user_directory` table (version 50: after the bus tables, before any service's own).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./directory");

/// The zone every computation falls back to for a user we have not heard of.
pub const DEFAULT_TIMEZONE: &str = "UTC";
/// Longest display name kept (profile enforces a lower limit; this bounds a bad producer).
pub const MAX_DISPLAY_NAME: usize = 100;
/// Longest avatar URL kept; a longer one is dropped (an avatar cut short would not load).
pub const MAX_AVATAR_URL: usize = 2048;

/// What the directory knows of a user.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Entry {
    pub display_name: String,
    pub timezone: String,
    pub locale: String,
}

/// Applies a profile update unless a newer (or the same) revision is already stored: updates may
/// arrive out of order. A zone that is not a known IANA name is stored as UTC, so every local
/// date computed from it says what it used.
pub async fn apply(
    conn: &mut PgConnection,
    e: &events::ProfileUpdated,
) -> Result<(), HandlerError> {
    let user = e.user()?;
    let timezone = if stride_kit::convert::is_valid_timezone(&e.timezone) {
        e.timezone.as_str()
    } else {
        DEFAULT_TIMEZONE
    };
    let display_name: String = e.display_name.chars().take(MAX_DISPLAY_NAME).collect();
    let locale: String = e.locale.chars().take(16).collect();
    let avatar_url = if e.avatar_url.len() <= MAX_AVATAR_URL {
        e.avatar_url.as_str()
    } else {
        ""
    };
    let visibility = match e.profile_visibility.as_str() {
        v @ ("private" | "friends" | "public") => v,
        _ => "",
    };
    sqlx::query(
        "INSERT INTO user_directory
             (user_id, display_name, timezone, locale, revision, avatar_url, profile_visibility)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id) DO UPDATE
         SET display_name = EXCLUDED.display_name, timezone = EXCLUDED.timezone,
             locale = EXCLUDED.locale, revision = EXCLUDED.revision,
             avatar_url = EXCLUDED.avatar_url, profile_visibility = EXCLUDED.profile_visibility
         WHERE user_directory.revision < EXCLUDED.revision",
    )
    .bind(user)
    .bind(display_name)
    .bind(timezone)
    .bind(locale)
    .bind(e.revision)
    .bind(avatar_url)
    .bind(visibility)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user's entry, if a profile update was seen.
pub async fn get(conn: &mut PgConnection, user: Uuid) -> Result<Option<Entry>, sqlx::Error> {
    sqlx::query_as("SELECT display_name, timezone, locale FROM user_directory WHERE user_id = $1")
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// [`timezone`] as an SQL expression of the user id in `user` (e.g. `$2`), for a statement that
/// reads the zone beside its own rows instead of in a round trip of its own.
pub fn timezone_sql(user: &str) -> String {
    format!(
        "coalesce((SELECT timezone FROM user_directory WHERE user_id = {user}), '{DEFAULT_TIMEZONE}')"
    )
}

/// The user's IANA zone, or UTC when no profile update was seen yet.
pub async fn timezone(conn: &mut PgConnection, user: Uuid) -> Result<String, sqlx::Error> {
    let tz: Option<String> =
        sqlx::query_scalar("SELECT timezone FROM user_directory WHERE user_id = $1")
            .bind(user)
            .fetch_optional(conn)
            .await?;
    Ok(tz.unwrap_or_else(|| DEFAULT_TIMEZONE.to_owned()))
}

/// Forgets the user (account deletion, or the source of a merge: the target keeps its own
/// profile). Returns the rows removed. A stale update arriving later can recreate the row: a
/// zone and a name that nothing else refers to, overwritten like any other.
pub async fn forget(conn: &mut PgConnection, user: Uuid) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM user_directory WHERE user_id = $1")
        .bind(user)
        .execute(conn)
        .await?
        .rows_affected())
}

/// The ready-made `profile.updated.v1` handler: `subscriptions.on(directory::Replica)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Replica;

impl On<events::ProfileUpdated> for Replica {
    async fn on(
        &self,
        tx: &mut Tx,
        event: events::ProfileUpdated,
        _meta: &Envelope,
    ) -> Result<(), HandlerError> {
        apply(tx, &event).await
    }
}
