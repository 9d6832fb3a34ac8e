//! Sliding-window throttles kept in PostgreSQL (so every replica sees the same counts): failed
//! logins per account and per client address, guest sign-ups per address.
//!
//! Keys are SHA-256 of `<kind>:<value>`; the table holds no email or address in clear.

use sqlx::{PgConnection, PgPool};
use stride_kit::{AppError, AppResult, ClientInfo};
use time::OffsetDateTime;

use crate::{service::sha256, settings::Limits};

pub(crate) fn key(kind: &str, value: &str) -> Vec<u8> {
    sha256(format!("{kind}:{value}").as_bytes())
}

pub(crate) struct LoginKeys {
    pub account: Vec<u8>,
    pub ip: Option<Vec<u8>>,
}

pub(crate) fn login_keys(email: &str, client: &ClientInfo) -> LoginKeys {
    LoginKeys {
        account: key("login.account", email),
        ip: client.ip.map(|ip| key("login.ip", &ip.to_string())),
    }
}

pub(crate) async fn count(
    conn: impl sqlx::PgExecutor<'_>,
    key: &[u8],
    since: OffsetDateTime,
) -> AppResult<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM throttle_hits WHERE key_hash = $1 AND at > $2")
            .bind(key)
            .bind(since)
            .fetch_one(conn)
            .await?;
    Ok(n)
}

pub(crate) async fn hit(conn: &mut PgConnection, key: &[u8], now: OffsetDateTime) -> AppResult<()> {
    sqlx::query("INSERT INTO throttle_hits (key_hash, at) VALUES ($1, $2)")
        .bind(key)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn hit_all(
    conn: &mut PgConnection,
    keys: &LoginKeys,
    now: OffsetDateTime,
) -> AppResult<()> {
    hit(conn, &keys.account, now).await?;
    if let Some(ip) = &keys.ip {
        hit(conn, ip, now).await?;
    }
    Ok(())
}

pub(crate) async fn clear(conn: &mut PgConnection, key: &[u8]) -> AppResult<()> {
    sqlx::query("DELETE FROM throttle_hits WHERE key_hash = $1")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) fn too_many(message: &str) -> AppError {
    AppError::ResourceExhausted {
        reason: "TOO_MANY_ATTEMPTS",
        message: message.into(),
    }
}

/// Refuses a login while the account or the address has too many recent failures. The same
/// answer for known and unknown accounts; a password reset clears the account's count, so
/// someone failing on purpose cannot keep the owner out.
pub(crate) async fn check_login(
    pool: &PgPool,
    limits: &Limits,
    keys: &LoginKeys,
    now: OffsetDateTime,
) -> AppResult<()> {
    let since = now - limits.login_window;
    let locked = count(pool, &keys.account, since).await? >= limits.login_failures_per_account
        || match &keys.ip {
            Some(ip) => count(pool, ip, since).await? >= limits.login_failures_per_ip,
            None => false,
        };
    if locked {
        return Err(too_many(
            "too many failed sign-ins; try again later or reset your password",
        ));
    }
    Ok(())
}

/// Old hits are useless past the longest window (an hour).
pub(crate) async fn sweep(pool: &PgPool, now: OffsetDateTime) -> AppResult<u64> {
    Ok(sqlx::query("DELETE FROM throttle_hits WHERE at < $1")
        .bind(now - time::Duration::hours(2))
        .execute(pool)
        .await?
        .rows_affected())
}
