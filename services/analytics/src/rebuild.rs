//! `stride-analytics rebuild`: empties every projection and replays `event_log` through
//! [`events::apply`](crate::events::apply), in one transaction (readers see the old figures
//! until it commits; the live consumer waits on the emptied tables and applies its events on
//! top afterwards). Runbook: docs/runbooks/analytics-rebuild.md.

use std::process::ExitCode;

use sqlx::PgPool;
use stride_kit::config::Env;

use crate::{events, store};
pub use crate::{events::ingest, store::log::Entry};

/// Every table that is a function of the log (H: append yours). Not here: `event_log` itself,
/// the user directory and `focus_goals` (fed by profile.updated.v1, which is not logged) and
/// `streak_settings` (the user's own settings).
pub const PROJECTIONS: &[&str] = &[
    "daily_rollups",
    "active_runs",
    "timezone_hints",
    "tasks",
    // H (issue 15): trends and topic mastery (share cards are not projections: kept).
    "evaluation_scores",
    "evaluations",
    "lessons_completed",
    "quiz_attempts",
    "topic_mastery",
];

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
    // The figures counted before the log existed, and the runs of their days (activity and
    // focus are all they can say), then the log on top.
    sqlx::query(
        "INSERT INTO daily_rollups (user_id, local_date, sessions_completed, focus_sessions, total_seconds, points)
         SELECT user_id, local_date, sessions_completed, focus_sessions, total_seconds, points
         FROM rollup_baseline",
    )
    .execute(&mut *tx)
    .await?;
    for (kind, active) in [
        ("activity", "sessions_completed > 0"),
        ("focus", "focus_sessions > 0"),
    ] {
        // Constants, never input.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO active_runs (user_id, kind, first_date, last_date)
             SELECT user_id, '{kind}', min(local_date), max(local_date)
             FROM (SELECT user_id, local_date,
                          local_date - (row_number() OVER (PARTITION BY user_id ORDER BY local_date))::int AS grp
                   FROM rollup_baseline WHERE {active}) d
             GROUP BY user_id, grp"
        )))
        .execute(&mut *tx)
        .await?;
    }
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

/// The `rebuild` command: reads `DATABASE_URL` (as `migrate` does), applies pending
/// migrations, rebuilds, prints how many events were replayed. Exit 2 on a config error, 1 on
/// a failed rebuild (nothing changed: one transaction).
pub fn main() -> ExitCode {
    stride_kit::install_crypto_provider();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        let mut env = Env::new();
        let url = stride_kit::config::migrate_database_url(&mut env);
        if let Err(e) = env.finish() {
            eprintln!("stride-analytics rebuild: {e}");
            return ExitCode::from(2);
        }
        let run = async {
            let pool = stride_kit::db::connect(url.expose(), 2).await?;
            stride_kit::db::migrate(&pool, crate::MIGRATIONS).await?;
            let n = rebuild(&pool).await?;
            pool.close().await;
            anyhow::Ok(n)
        };
        match run.await {
            Ok(n) => {
                println!("stride-analytics rebuild: {n} events replayed");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("stride-analytics rebuild: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}
