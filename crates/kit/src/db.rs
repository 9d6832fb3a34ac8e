//! PostgreSQL start-up: connect with a deadline, run the embedded migrations.

use std::time::Duration;

use anyhow::Context as _;
use sqlx::{
    PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// Connects, retrying for up to 30 s (the database may start after us).
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    connect_with(url, max_connections, false).await
}

/// As [`connect`]; with `generic_plans`, every connection plans a prepared statement once
/// (`plan_cache_mode = force_generic_plan`) instead of again for each of its parameters.
/// PostgreSQL re-plans a statement per execution while it judges a custom plan cheaper; for
/// analytics' one-statement summary that planning cost more than twice its execution
/// (docs/performance.md). Off by default: a generic plan can be a worse plan where the
/// parameters matter (a text search's pattern).
pub async fn connect_with(
    url: &str,
    max_connections: u32,
    generic_plans: bool,
) -> anyhow::Result<PgPool> {
    let mut opts: PgConnectOptions = url
        .parse()
        .context("DATABASE_URL is not a valid PostgreSQL URL")?;
    if generic_plans {
        opts = opts.options([("plan_cache_mode", "force_generic_plan")]);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = PgPoolOptions::new()
            .max_connections(max_connections)
            // sqlx pings every connection it hands out by default: a round trip per request.
            // A connection that died is found on first use instead (the error is UNAVAILABLE,
            // and sqlx drops the connection), and none lives longer than `max_lifetime`.
            .test_before_acquire(false)
            .max_lifetime(Duration::from_secs(30 * 60))
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_secs(60))
            .connect_with(opts.clone())
            .await;
        match attempt {
            Ok(pool) => return Ok(pool),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e).context("connecting to the database"),
        }
    }
}

/// Applies several embedded migration sets (the bus tables and the service's own) as one
/// ordered set, so their versions share one `_sqlx_migrations` table.
pub async fn migrate(pool: &PgPool, sets: &[&Migrator]) -> anyhow::Result<()> {
    let mut all: Vec<_> = sets.iter().flat_map(|m| m.iter().cloned()).collect();
    all.sort_by_key(|m| m.version);
    Migrator::with_migrations(all)
        .run(pool)
        .await
        .context("running migrations")?;
    Ok(())
}

/// Runs each statement (a `DELETE … WHERE user_id = $1`) with `user` bound, on the caller's
/// transaction; returns the rows removed. For purging a user across a service's tables.
pub async fn delete_user_rows(
    conn: &mut sqlx::PgConnection,
    user: uuid::Uuid,
    statements: &[&'static str],
) -> sqlx::Result<u64> {
    let mut removed = 0;
    for &sql in statements {
        removed += sqlx::query(sql)
            .bind(user)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(removed)
}

/// Runs `a` on `conn` and `b` on `spare` side by side when a spare connection is at hand, else
/// one after the other on `conn`: a read made of independent queries costs one round trip
/// instead of two. Take the spare with `pool.try_acquire()`, never by waiting for it: a request
/// holding one connection while it waits for another can starve the pool under load.
pub async fn pair<A, B, E>(
    conn: &mut sqlx::PgConnection,
    spare: Option<&mut sqlx::PgConnection>,
    a: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<A, E>,
    b: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<B, E>,
) -> Result<(A, B), E> {
    match spare {
        Some(other) => tokio::try_join!(a(conn), b(other)),
        None => {
            let x = a(&mut *conn).await?;
            let y = b(conn).await?;
            Ok((x, y))
        }
    }
}
