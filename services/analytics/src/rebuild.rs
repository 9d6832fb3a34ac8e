//! `stride-analytics rebuild`: empties every projection and replays `event_log` through
//! [`events::apply`](crate::events::apply), in one transaction (readers see the old figures
//! until it commits; the live consumer waits on the emptied tables and applies its events on
//! top afterwards). Runbook: docs/runbooks/analytics-rebuild.md.

use sqlx::PgPool;

use crate::{events, store};

/// Every table that is a function of the log (H: append yours). Not here: `event_log` itself
/// and the shared user directory (fed by profile.updated.v1, which is not logged).
pub const PROJECTIONS: &[&str] = &["daily_rollups", "active_runs", "timezone_hints"];

/// Events replayed per read of the log.
const PAGE: i64 = 1000;

/// Rebuilds every projection from the log; returns how many events were replayed.
pub async fn rebuild(pool: &PgPool) -> anyhow::Result<u64> {
    let mut tx = pool.begin().await?;
    // The names are this crate's constants, never input.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "TRUNCATE {}",
        PROJECTIONS.join(", ")
    )))
    .execute(&mut *tx)
    .await?;
    let (mut after, mut replayed) = (0, 0u64);
    loop {
        let page = store::log::page(&mut tx, after, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (seq, entry) in &page {
            events::apply(&mut tx, entry)
                .await
                .map_err(|e| anyhow::anyhow!("event_log seq {seq} ({}): {e}", entry.event_type))?;
            replayed += 1;
        }
    }
    tx.commit().await?;
    Ok(replayed)
}
