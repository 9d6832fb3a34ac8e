//! `users`: the account row, its lookups, creation, deletion and the credential columns.
//! Address columns (email, phone) are changed through `store::addresses`.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::roles;

/// Columns of [`UserRow`], for every query that loads one.
pub const USER_COLUMNS: &str = "id, email, username, password_hash, roles, is_anonymous, created_at, timezone, email_verified_at, phone";

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct UserRow {
    pub id: Uuid,
    pub email: Option<String>,
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub roles: Vec<String>,
    pub is_anonymous: bool,
    pub created_at: OffsetDateTime,
    pub timezone: String,
    pub email_verified_at: Option<OffsetDateTime>,
    pub phone: Option<String>,
}

impl UserRow {
    /// A new account (fresh UUIDv7, role "user") created at `now`, with nothing else set yet.
    pub fn new(now: OffsetDateTime, timezone: String) -> Self {
        Self {
            id: Uuid::now_v7(),
            email: None,
            username: None,
            password_hash: None,
            roles: roles::initial(),
            is_anonymous: false,
            created_at: now,
            timezone,
            email_verified_at: None,
            phone: None,
        }
    }
}

pub async fn load(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn by_email(conn: &mut PgConnection, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
    )))
    .bind(email)
    .fetch_optional(&mut *conn)
    .await
}

/// The account that may log in with `email` (a pending sign-up may not).
pub async fn active_by_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1 AND NOT pending_confirmation"
    )))
    .bind(email)
    .fetch_optional(db)
    .await
}

/// The account with `email` and whether it is a pending sign-up.
pub async fn with_email(
    conn: &mut PgConnection,
    email: &str,
) -> sqlx::Result<Option<(Uuid, bool)>> {
    sqlx::query_as("SELECT id, pending_confirmation FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(&mut *conn)
        .await
}

/// The pending sign-up with `email`.
pub async fn pending_with_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> sqlx::Result<Option<Uuid>> {
    let row: Option<(Uuid,)> =
        sqlx::query_as("SELECT id FROM users WHERE email = $1 AND pending_confirmation")
            .bind(email)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(id,)| id))
}

/// The password hash of pending sign-up `id` (its newest attempt's).
pub async fn pending_password(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT password_hash FROM users WHERE id = $1 AND pending_confirmation")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(row.and_then(|(h,)| h))
}

/// Whether `username` (case-insensitively) belongs to any account other than the pending sign-up
/// of `email` (whose next attempt may keep its handle). Any address gets the same answer for an
/// active account's handle, so the answer maps no username to its email.
pub async fn username_taken(
    conn: &mut PgConnection,
    username: &str,
    email: &str,
) -> sqlx::Result<bool> {
    let (taken,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1)
                        AND NOT (pending_confirmation AND email IS NOT DISTINCT FROM $2))
             OR EXISTS (SELECT 1 FROM guest_claims WHERE lower(username) = lower($1))",
    )
    .bind(username)
    .bind(email)
    .fetch_one(&mut *conn)
    .await?;
    Ok(taken)
}

/// The newest sign-up attempt for a pending address replaces the previous one's password,
/// username and time zone (ConfirmSignup checks the password it is given against this one).
pub async fn replace_pending_attempt(
    conn: &mut PgConnection,
    id: Uuid,
    user: &UserRow,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET password_hash = $2, username = $3, timezone = $4
         WHERE id = $1 AND pending_confirmation",
    )
    .bind(id)
    .bind(&user.password_hash)
    .bind(&user.username)
    .bind(&user.timezone)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Drops what someone else may have set on `id` before its address was proved: the password
/// (unless the proving flow set it itself) and, with it, the username such an attempt chose.
/// True when a password was removed.
pub async fn discard_unproved(
    conn: &mut PgConnection,
    id: Uuid,
    keep_password: bool,
) -> sqlx::Result<bool> {
    if keep_password {
        return Ok(false);
    }
    let row: Option<(bool,)> = sqlx::query_as(
        "UPDATE users u SET password_hash = NULL,
                username = CASE WHEN u.pending_confirmation THEN NULL ELSE u.username END
         FROM (SELECT id, password_hash IS NOT NULL AS had FROM users WHERE id = $1 FOR UPDATE) old
         WHERE u.id = old.id RETURNING old.had",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some_and(|(had,)| had))
}

/// Inserts `user`; a `pending` one is a sign-up awaiting its email confirmation.
pub async fn insert(conn: &mut PgConnection, user: &UserRow, pending: bool) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, email, username, password_hash, roles, is_anonymous, created_at,
                            timezone, email_verified_at, phone, pending_confirmation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(user.id)
    .bind(&user.email)
    .bind(&user.username)
    .bind(&user.password_hash)
    .bind(&user.roles)
    .bind(user.is_anonymous)
    .bind(user.created_at)
    .bind(&user.timezone)
    .bind(user.email_verified_at)
    .bind(&user.phone)
    .bind(pending)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends `id`'s pending state; Some(its email) when it was pending.
pub async fn activate_pending(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<Option<String>>> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "UPDATE users SET pending_confirmation = false
         WHERE id = $1 AND pending_confirmation RETURNING email",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(email,)| email))
}

/// Holds the row until the transaction ends.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A hash made again with today's parameters (the password did not change).
pub async fn set_password_hash(conn: &mut PgConnection, id: Uuid, hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn change_password(
    conn: &mut PgConnection,
    id: Uuid,
    hash: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A password set through a reset link, which also proves the email. Some(the account's
/// email) when the account exists.
pub async fn reset_password(
    conn: &mut PgConnection,
    id: Uuid,
    hash: &str,
    now: OffsetDateTime,
) -> sqlx::Result<Option<Option<String>>> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "UPDATE users SET password_hash = $2, password_changed_at = $3,
                email_verified_at = coalesce(email_verified_at, $3)
         WHERE id = $1 RETURNING email",
    )
    .bind(id)
    .bind(hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(email,)| email))
}

/// A guest claim whose email was just proved: the username and password it asked for apply.
pub async fn apply_claim(
    conn: &mut PgConnection,
    id: Uuid,
    username: &str,
    hash: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET username = $2, password_hash = $3, password_changed_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(username)
    .bind(hash)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn clear_anonymous(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET is_anonymous = false WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The number of rows changed (0: no such user).
pub async fn set_roles(conn: &mut PgConnection, id: Uuid, roles: &[String]) -> sqlx::Result<u64> {
    Ok(sqlx::query("UPDATE users SET roles = $2 WHERE id = $1")
        .bind(id)
        .bind(roles)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Deletes the account; Some(its time zone) when it existed.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("DELETE FROM users WHERE id = $1 RETURNING timezone")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(tz,)| tz))
}

/// Deletes guest `id`; false when there is no such guest (the race between two merges).
pub async fn delete_guest(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let gone: Option<(Uuid,)> =
        sqlx::query_as("DELETE FROM users WHERE id = $1 AND is_anonymous RETURNING id")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(gone.is_some())
}

/// Drops sign-ups created before `before` that were never confirmed (their identities and codes
/// go with them).
pub async fn delete_unconfirmed(
    db: impl PgExecutor<'_>,
    before: OffsetDateTime,
) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM users WHERE pending_confirmation AND created_at < $1")
            .bind(before)
            .execute(db)
            .await?
            .rows_affected(),
    )
}
