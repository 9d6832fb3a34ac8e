//! SQL, one module per table group. Functions take a connection (or a pool for reads outside a
//! transaction) and never begin or commit: the transaction belongs to the caller.

pub mod addresses;
pub mod audit;
pub mod claims;
pub mod codes;
pub mod identities;
pub mod keys;
pub mod oauth_states;
pub mod refresh;
pub mod resets;
pub mod sessions;
pub mod throttle;
pub mod users;

use sqlx::PgConnection;

/// Serialises the rest of the transaction with every other one that takes the same `key`.
pub async fn advisory_xact_lock(conn: &mut PgConnection, key: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
