//! `one_time_codes`: sent codes by (purpose, channel, address, user), with their guesses.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::codes::{Channel, Purpose};

/// Codes for `purpose` sent to `address` since `since` (each purpose has its own budget, so
/// anonymous sign-in sends cannot use up an account's re-authentication or email codes).
pub async fn sent_since(
    conn: &mut PgConnection,
    purpose: Purpose,
    channel: Channel,
    address: &str,
    since: OffsetDateTime,
) -> sqlx::Result<i64> {
    let (sent,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM one_time_codes
         WHERE channel = $1 AND address = $2 AND created_at > $3 AND purpose = $4",
    )
    .bind(channel.as_str())
    .bind(address)
    .bind(since)
    .bind(purpose.as_str())
    .fetch_one(&mut *conn)
    .await?;
    Ok(sent)
}

/// Kills the pending code of the same purpose, address and user.
pub async fn kill_pending(
    conn: &mut PgConnection,
    purpose: Purpose,
    channel: Channel,
    address: &str,
    user: Option<Uuid>,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE one_time_codes SET consumed_at = $5
         WHERE purpose = $1 AND channel = $2 AND address = $3
           AND user_id IS NOT DISTINCT FROM $4 AND consumed_at IS NULL",
    )
    .bind(purpose.as_str())
    .bind(channel.as_str())
    .bind(address)
    .bind(user)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub struct NewCode<'a> {
    pub id: Uuid,
    pub purpose: Purpose,
    pub channel: Channel,
    pub address: &'a str,
    pub user: Option<Uuid>,
    pub code_hash: Vec<u8>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub async fn insert(conn: &mut PgConnection, code: &NewCode<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO one_time_codes (id, purpose, channel, address, user_id, code_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(code.id)
    .bind(code.purpose.as_str())
    .bind(code.channel.as_str())
    .bind(code.address)
    .bind(code.user)
    .bind(&code.code_hash)
    .bind(code.created_at)
    .bind(code.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct PendingCode {
    pub id: Uuid,
    pub channel: String,
    pub address: String,
    pub user_id: Option<Uuid>,
    pub attempts: i32,
    pub code_hash: Vec<u8>,
}

/// The newest live code of (purpose, channel, address, user), locked; a None channel or
/// address matches any.
pub async fn lock_pending(
    conn: &mut PgConnection,
    purpose: Purpose,
    channel: Option<Channel>,
    address: Option<&str>,
    user: Option<Uuid>,
    now: OffsetDateTime,
) -> sqlx::Result<Option<PendingCode>> {
    sqlx::query_as(
        "SELECT id, channel, address, user_id, attempts, code_hash FROM one_time_codes
         WHERE purpose = $1 AND ($2::text IS NULL OR channel = $2)
           AND ($3::text IS NULL OR address = $3)
           AND user_id IS NOT DISTINCT FROM $4
           AND consumed_at IS NULL AND expires_at > $5
         ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
    )
    .bind(purpose.as_str())
    .bind(channel.map(Channel::as_str))
    .bind(address)
    .bind(user)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
}

pub async fn consume(conn: &mut PgConnection, id: Uuid, now: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query("UPDATE one_time_codes SET consumed_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Counts a wrong guess; a `dead` code is consumed as well.
pub async fn wrong_guess(
    conn: &mut PgConnection,
    id: Uuid,
    dead: bool,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE one_time_codes SET attempts = attempts + 1,
                consumed_at = CASE WHEN $2 THEN $3 ELSE consumed_at END
         WHERE id = $1",
    )
    .bind(id)
    .bind(dead)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Kills every pending code bound to `user`.
pub async fn kill_all_of_user(
    conn: &mut PgConnection,
    user: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE one_time_codes SET consumed_at = $2 WHERE user_id = $1 AND consumed_at IS NULL",
    )
    .bind(user)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Kills every pending code sent to `address`.
pub async fn kill_all_to(
    conn: &mut PgConnection,
    address: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE one_time_codes SET consumed_at = $2 WHERE address = $1 AND consumed_at IS NULL",
    )
    .bind(address)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes the codes of a deleted account: bound to it, or sent to its addresses before
/// sign-in (those carry no user id).
pub async fn delete_of_account(
    conn: &mut PgConnection,
    user: Uuid,
    email: &str,
    phone: &str,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM one_time_codes WHERE user_id = $1 OR address = $2 OR address = $3")
        .bind(user)
        .bind(email)
        .bind(phone)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn delete_created_before(
    db: impl PgExecutor<'_>,
    before: OffsetDateTime,
) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM one_time_codes WHERE created_at < $1")
            .bind(before)
            .execute(db)
            .await?
            .rows_affected(),
    )
}
