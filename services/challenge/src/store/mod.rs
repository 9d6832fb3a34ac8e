//! SQL, one module per table group. Functions run on the caller's connection or transaction and
//! never begin or commit.
//!
//! - [`challenges`]: challenges and their participants.
//! - [`progress`]: the count per participant and window.
//! - [`ledger`]: the points awarded, one entry per user and cause.
//! - [`leaderboard`]: the standings read model (boards, counts) and its ranked reads.
//! - [`rewards`]: XP, the activity counters, unlocked achievements.
//! - [`friends`]: friend requests, friendships, blocks.

pub mod challenges;
pub mod friends;
pub mod leaderboard;
pub mod ledger;
pub mod progress;
pub mod rewards;

use sqlx::PgConnection;
use uuid::Uuid;

/// Deletes every challenge row of `user`: standings (they leave the leaderboards), points, XP,
/// activity, achievements, friends, requests and blocks both ways, progress and memberships.
/// Returns how many went; idempotent.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    let boards = leaderboard::remove_user(conn, user).await?;
    let rewards = stride_kit::db::delete_user_rows(
        conn,
        user,
        &[
            "DELETE FROM xp_ledger WHERE user_id = $1",
            "DELETE FROM reward_activity WHERE user_id = $1",
            "DELETE FROM user_achievements WHERE user_id = $1",
            "DELETE FROM board_opt_outs WHERE user_id = $1",
            "DELETE FROM friendships WHERE user_id = $1 OR friend_id = $1",
            "DELETE FROM friend_requests WHERE from_user = $1 OR to_user = $1",
            "DELETE FROM blocks WHERE blocker = $1 OR blocked = $1",
        ],
    )
    .await?;
    let challenge = stride_kit::db::delete_user_rows(
        conn,
        user,
        &[
            "DELETE FROM points_ledger WHERE user_id = $1",
            "DELETE FROM progress WHERE user_id = $1",
            "DELETE FROM participants WHERE user_id = $1",
        ],
    )
    .await?;
    Ok(u64::try_from(boards).unwrap_or(0) + rewards + challenge)
}
