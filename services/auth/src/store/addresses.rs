//! An account's addresses (`users.email`, `users.phone`) and how they meet the identities.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::codes::Channel;

fn column(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "email",
        Channel::Sms => "phone",
    }
}

/// The account whose own email (or phone) is `address`.
pub async fn owner(
    conn: &mut PgConnection,
    channel: Channel,
    address: &str,
) -> sqlx::Result<Option<Uuid>> {
    let column = column(channel);
    let row: Option<(Uuid,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM users WHERE {column} = $1"
    )))
    .bind(address)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// The account whose email is `email` (outside a transaction).
pub async fn email_owner(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<Uuid>> {
    let row: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|(id,)| id))
}

/// Whether an account other than `user` has `address` as its own.
pub async fn taken_by_other(
    conn: &mut PgConnection,
    channel: Channel,
    address: &str,
    user: Uuid,
) -> sqlx::Result<bool> {
    let column = column(channel);
    let (taken,): (bool,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT EXISTS (SELECT 1 FROM users WHERE {column} = $1 AND id <> $2)"
    )))
    .bind(address)
    .bind(user)
    .fetch_one(&mut *conn)
    .await?;
    Ok(taken)
}

/// Whether no account has `email`, neither as its address nor as a linked email identity.
pub async fn email_free(conn: &mut PgConnection, email: &str) -> sqlx::Result<bool> {
    let (free,): (bool,) = sqlx::query_as(
        "SELECT NOT EXISTS (SELECT 1 FROM users WHERE email = $1)
            AND NOT EXISTS (SELECT 1 FROM identities
                            WHERE provider = 'email' AND subject = $1)",
    )
    .bind(email)
    .fetch_one(&mut *conn)
    .await?;
    Ok(free)
}

/// Accounts with `email` verified (at most two: enough to tell "exactly one").
pub async fn verified_email_owners(
    conn: &mut PgConnection,
    email: &str,
) -> sqlx::Result<Vec<Uuid>> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM users WHERE email = $1 AND email_verified_at IS NOT NULL LIMIT 2",
    )
    .bind(email)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// `address` is proved to be `user`'s (a code or a reset link reached it): the account's email,
/// if it is this address, and its email identity for it are marked verified.
pub async fn mark_email_verified(
    conn: &mut PgConnection,
    user: Uuid,
    address: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET email_verified_at = coalesce(email_verified_at, $3)
         WHERE id = $1 AND email = $2",
    )
    .bind(user)
    .bind(address)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE identities SET email_verified = true
         WHERE user_id = $1 AND provider = 'email' AND subject = $2",
    )
    .bind(user)
    .bind(address)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A proved address becomes `user`'s own when it has none of that kind yet (an email is then
/// verified). Fails with a unique violation when another account has it.
pub async fn adopt(
    conn: &mut PgConnection,
    user: Uuid,
    channel: Channel,
    address: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    match channel {
        Channel::Email => sqlx::query(
            "UPDATE users SET email = $2, email_verified_at = $3 WHERE id = $1 AND email IS NULL",
        )
        .bind(user)
        .bind(address)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|_| ()),
        Channel::Sms => sqlx::query("UPDATE users SET phone = $2 WHERE id = $1 AND phone IS NULL")
            .bind(user)
            .bind(address)
            .execute(&mut *conn)
            .await
            .map(|_| ()),
    }
}

/// Replaces `user`'s email with a verified `email` (a unique violation when it was taken).
pub async fn set_email(
    conn: &mut PgConnection,
    user: Uuid,
    email: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email = $2, email_verified_at = $3 WHERE id = $1")
        .bind(user)
        .bind(email)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes `email` from `user` and with it the password (it has nothing to sign in with any
/// more); the number of rows changed (0: it was not the account's email).
pub async fn drop_email(conn: &mut PgConnection, user: Uuid, email: &str) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE users SET email = NULL, email_verified_at = NULL, password_hash = NULL
         WHERE id = $1 AND email = $2",
    )
    .bind(user)
    .bind(email)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// The oldest email identity of `user` that no account has as its address becomes the
/// account's email (verified when the identity is).
pub async fn promote_next_email(
    conn: &mut PgConnection,
    user: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET email = next.subject,
                email_verified_at = CASE WHEN next.email_verified THEN $2 END
         FROM (SELECT subject, email_verified FROM identities i
               WHERE i.user_id = $1 AND i.provider = 'email'
                 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.email = i.subject)
               ORDER BY i.created_at, i.id LIMIT 1) AS next
         WHERE users.id = $1",
    )
    .bind(user)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn drop_phone(conn: &mut PgConnection, user: Uuid, phone: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET phone = NULL WHERE id = $1 AND phone = $2")
        .bind(user)
        .bind(phone)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Another account that holds `email` as its address without having proved it loses it, and
/// with it the password (its sign-in was that unproved address); a pending sign-up holding it is
/// deleted. Returns the accounts that lost it (not the deleted pending ones).
pub async fn release_unproved_email(
    conn: &mut PgConnection,
    email: &str,
    except: Uuid,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query("DELETE FROM users WHERE email = $1 AND pending_confirmation AND id <> $2")
        .bind(email)
        .bind(except)
        .execute(&mut *conn)
        .await?;
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "UPDATE users SET email = NULL, email_verified_at = NULL, password_hash = NULL
         WHERE email = $1 AND email_verified_at IS NULL AND id <> $2 RETURNING id",
    )
    .bind(email)
    .bind(except)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(u,)| u).collect())
}
