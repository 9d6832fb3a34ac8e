//! SQL, one module per table group. Functions run on the caller's connection or transaction and
//! never begin or commit.
//!
//! - [`challenges`]: challenges and their participants.
//! - [`progress`]: the count per participant and window.
//! - [`ledger`]: the points awarded, one entry per window at most.
//! - [`leaderboard`]: the ranked totals of the ledger.

pub mod challenges;
pub mod leaderboard;
pub mod ledger;
pub mod progress;

use sqlx::PgConnection;
use uuid::Uuid;

/// Deletes every challenge row of `user`: points (they leave the leaderboards), progress and
/// memberships. Returns how many went; idempotent.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    stride_kit::db::delete_user_rows(
        conn,
        user,
        &[
            "DELETE FROM points_ledger WHERE user_id = $1",
            "DELETE FROM progress WHERE user_id = $1",
            "DELETE FROM participants WHERE user_id = $1",
        ],
    )
    .await
}
