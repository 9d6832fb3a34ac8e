//! challenge's background jobs, one task per replica: the scheduler creates the windows of the
//! weekly challenges (an insert keyed by the period: replicas racing create each once), the
//! settler settles windows whose last day is over everywhere (each claimed with
//! `FOR UPDATE SKIP LOCKED`: settled once) and announces them (`challenge.settled.v1`).

use std::time::Duration;

use sqlx::PgPool;
use stride_bus::Outbox;
use stride_kit::clock::SharedClock;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::{domain::challenge::current_weeks, events::publish, store};

/// How often the jobs look; a settlement is due at most this late. The queries read a partial
/// index of the windows not settled, so looking is cheap.
const TICK: Duration = Duration::from_secs(1);
/// Windows settled per transaction.
const BATCH: i64 = 20;

/// Creates the windows of the weeks some zone is in at `now`; returns how many this call made.
pub async fn schedule(pool: &PgPool, now: OffsetDateTime) -> sqlx::Result<u64> {
    let mut conn = pool.acquire().await?;
    store::periods::schedule_weekly(&mut conn, &current_weeks(now)).await
}

/// Settles every window due at `now`; returns how many.
pub async fn settle_due(outbox: &Outbox, now: OffsetDateTime) -> anyhow::Result<usize> {
    let mut settled = 0;
    loop {
        let mut tx = outbox.begin().await?;
        let due = store::periods::claim_due(&mut tx, now, BATCH).await?;
        for d in &due {
            let s = store::periods::settle(&mut tx, d.challenge_id, d.window_start, now).await?;
            tx.publish(&publish::challenge_settled(&s, now)).await?;
            tracing::info!(challenge_id = %s.challenge_id, window = %s.window_start,
                participants = s.participant_count, completed = s.completed_count, "challenge settled");
        }
        tx.commit().await?;
        settled += due.len();
        if i64::try_from(due.len()).unwrap_or(0) < BATCH {
            return Ok(settled);
        }
    }
}

/// Runs both jobs every [`TICK`] until `stop`.
pub async fn run(
    pool: PgPool,
    outbox: Outbox,
    clock: SharedClock,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The weeks last scheduled: the insert runs again only when they change (or it failed).
    let mut scheduled = Vec::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let now = clock.now_db();
        let weeks = current_weeks(now);
        if weeks != scheduled {
            match schedule(&pool, now).await {
                Ok(_) => scheduled = weeks,
                Err(e) => tracing::warn!(error = %e, "challenge scheduling failed"),
            }
        }
        if let Err(e) = settle_due(&outbox, now).await {
            tracing::warn!(error = format!("{e:#}"), "challenge settlement failed");
        }
    }
}
