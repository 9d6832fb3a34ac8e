//! `throttle_hits`: one row per counted event, by hashed key (see `domain::throttle`).

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

use crate::domain::throttle::LoginKeys;

pub async fn count(
    db: impl PgExecutor<'_>,
    key: &[u8],
    since: OffsetDateTime,
) -> sqlx::Result<i64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM throttle_hits WHERE key_hash = $1 AND at > $2")
            .bind(key)
            .bind(since)
            .fetch_one(db)
            .await?;
    Ok(n)
}

pub async fn hit(conn: &mut PgConnection, key: &[u8], now: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO throttle_hits (key_hash, at) VALUES ($1, $2)")
        .bind(key)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A failed login (or password re-check): counts against the account and the client address.
pub async fn hit_all(
    conn: &mut PgConnection,
    keys: &LoginKeys,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    hit(conn, &keys.account, now).await?;
    if let Some(ip) = &keys.ip {
        hit(conn, ip, now).await?;
    }
    Ok(())
}

/// Takes back one hit of `key` made at `at` (a reserved failure that turned out a success).
pub async fn unhit(conn: &mut PgConnection, key: &[u8], at: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM throttle_hits WHERE ctid = (SELECT ctid FROM throttle_hits
                                                 WHERE key_hash = $1 AND at = $2 LIMIT 1)",
    )
    .bind(key)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn clear(conn: &mut PgConnection, key: &[u8]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM throttle_hits WHERE key_hash = $1")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Drops hits older than `before`.
pub async fn sweep(db: impl PgExecutor<'_>, before: OffsetDateTime) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM throttle_hits WHERE at < $1")
        .bind(before)
        .execute(db)
        .await?
        .rows_affected())
}
