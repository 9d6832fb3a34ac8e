//! SQL, one module per table group. Functions run on the caller's connection or transaction and
//! never begin or commit.
//!
//! - [`challenges`]: challenges and their participants.
//! - [`periods`]: the windows of each challenge, scheduled and settled.
//! - [`progress`]: the count per participant and window, from contributions by cause.
//! - [`stats`]: the caller's figures and the shutdowns behind them.
//! - [`ledger`]: the points awarded, one entry per window at most.
//! - [`leaderboard`]: the ranked totals of the ledger.

pub mod challenges;
pub mod leaderboard;
pub mod ledger;
pub mod periods;
pub mod progress;
pub mod stats;

use sqlx::PgConnection;
use uuid::Uuid;

/// Deletes every challenge row of `user`: points (they leave the leaderboards), contributions,
/// progress, memberships (counted out of their challenges) and shutdowns. The challenges they
/// own go too when nobody else is in them and nothing was paid; otherwise they stay for their
/// participants, without owner or description (the title stays: others' history names it).
/// Returns how many rows went; idempotent.
pub async fn purge_user(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<u64> {
    sqlx::query(
        "UPDATE challenges SET participant_count = participant_count - 1
         WHERE id IN (SELECT challenge_id FROM participants WHERE user_id = $1)",
    )
    .bind(user)
    .execute(&mut *conn)
    .await?;
    let mut n = stride_kit::db::delete_user_rows(
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
