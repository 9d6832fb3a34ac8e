//! The sweeper: auth's background clean-up, a task of the service (stopped with it).

use stride_kit::clock::SharedClock;
use tokio_util::sync::CancellationToken;

use crate::{domain, store};

/// Drops expired throttle hits, spent codes and unconfirmed sign-ups every ten minutes.
pub async fn run(
    pool: sqlx::PgPool,
    clock: SharedClock,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        let now = clock.now();
        if let Err(e) = store::throttle::sweep(&pool, now - domain::throttle::RETENTION).await {
            tracing::warn!(error = %e, "throttle sweep failed");
        }
        // Sign-ups never confirmed within a day: nothing was announced, nothing to purge
        // elsewhere; their identities and codes go with them.
        let day_ago = now - time::Duration::days(1);
        if let Err(e) = store::users::delete_unconfirmed(&pool, day_ago).await {
            tracing::warn!(error = %e, "pending sign-up sweep failed");
        }
        if let Err(e) = store::codes::delete_created_before(&pool, day_ago).await {
            tracing::warn!(error = %e, "code sweep failed");
        }
        if let Err(e) = store::claims::delete_created_before(&pool, day_ago).await {
            tracing::warn!(error = %e, "guest claim sweep failed");
        }
    }
}
