//! SQL, one module per table group. Functions run on the caller's connection or transaction and
//! never begin or commit.
//!
//! - [`challenges`]: challenges and their participants.
//! - [`periods`]: the windows of each challenge, scheduled and settled.
//! - [`progress`]: the count per participant and window, from contributions by cause.
//! - [`stats`]: the caller's figures and the shutdowns behind them.
//! - [`ledger`]: the points awarded, one entry per user and cause.
//! - [`leaderboard`]: the standings read model (boards, counts) and its ranked reads.
//! - [`rewards`]: XP, the activity counters, unlocked achievements.
//! - [`friends`]: friend requests, friendships, blocks.

pub mod challenges;
pub mod friends;
pub mod leaderboard;
pub mod ledger;
pub mod periods;
pub mod progress;
pub mod rewards;
pub mod stats;

use sqlx::PgConnection;
use uuid::Uuid;

/// Deletes every challenge row of `user`: standings (they leave the leaderboards), points, XP,
/// activity, achievements, friends, requests and blocks both ways, contributions, progress,
/// memberships (counted out of their challenges) and shutdowns. The challenges they own go too
/// when nobody else is in them and nothing was paid; otherwise they stay for their participants,
/// without owner or description (the title stays: others' history names it).
/// Returns how many rows went; idempotent.
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
    sqlx::query(
        "UPDATE challenges SET participant_count = participant_count - 1
         WHERE id IN (SELECT challenge_id FROM participants WHERE user_id = $1)",
    )
    .bind(user)
    .execute(&mut *conn)
    .await?;
    let mut n = u64::try_from(boards).unwrap_or(0) + rewards;
    n += stride_kit::db::delete_user_rows(
        conn,
        user,
        &[
            "DELETE FROM points_ledger WHERE user_id = $1",
            "DELETE FROM contributions WHERE user_id = $1",
            "DELETE FROM progress WHERE user_id = $1",
            "DELETE FROM participants WHERE user_id = $1",
            "DELETE FROM shutdowns WHERE user_id = $1",
        ],
    )
    .await?;
    let lone = "SELECT id FROM challenges c WHERE c.owner_id = $1 AND c.participant_count = 0
         AND NOT EXISTS (SELECT 1 FROM points_ledger l WHERE l.challenge_id = c.id)
         AND NOT EXISTS (SELECT 1 FROM progress p WHERE p.challenge_id = c.id)";
    for sql in [
        format!("DELETE FROM contributions WHERE challenge_id IN ({lone})"),
        format!("DELETE FROM challenge_periods WHERE challenge_id IN ({lone})"),
        format!("DELETE FROM challenges WHERE id IN ({lone})"),
    ] {
        n += sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    n += sqlx::query("UPDATE challenges SET owner_id = NULL, description = '' WHERE owner_id = $1")
        .bind(user)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(n)
}
