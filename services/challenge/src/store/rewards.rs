//! XP ledger, the activity read model achievements are judged on, and unlocked achievements.

use std::collections::HashMap;

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::leaderboard;
use crate::domain::{
    achievements::Counters,
    leaderboard::{Metric, boards},
    rewards::{Activity, Kind, best_streak},
};

/// What recording an activity changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A new cause: counted.
    Counted,
    /// A reversal of a counted cause: no longer counted; the amount it had.
    Reversed { kind: Kind, amount: i64 },
    /// Already counted, or a reversal of nothing: no change.
    Unchanged,
}

/// Counts `a` once per cause, or takes its cause back.
pub async fn record(conn: &mut PgConnection, user: Uuid, a: &Activity) -> sqlx::Result<Recorded> {
    if a.reversal {
        let gone: Option<(String, i64)> = sqlx::query_as(
            "DELETE FROM reward_activity WHERE user_id = $1 AND cause = $2 RETURNING kind, amount",
        )
        .bind(user)
        .bind(&a.cause)
        .fetch_optional(conn)
        .await?;
        return Ok(
            match gone.and_then(|(k, amount)| Kind::parse(&k).map(|k| (k, amount))) {
                Some((kind, amount)) => Recorded::Reversed { kind, amount },
                None => Recorded::Unchanged,
            },
        );
    }
    let inserted = sqlx::query(
        "INSERT INTO reward_activity (user_id, cause, kind, amount, local_date)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(user)
    .bind(&a.cause)
    .bind(a.kind.as_str())
    .bind(a.amount)
    .bind(a.local_date)
    .execute(conn)
    .await?
    .rows_affected()
        == 1;
    Ok(if inserted {
        Recorded::Counted
    } else {
        Recorded::Unchanged
    })
}

/// `user`'s counters: one aggregate over their activity rows (a user has at most a few
/// thousand), and the days that keep a streak.
pub async fn counters(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Counters> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT kind, count(*)::bigint, coalesce(sum(amount), 0)::bigint
         FROM reward_activity WHERE user_id = $1 GROUP BY kind",
    )
    .bind(user)
    .fetch_all(&mut *conn)
    .await?;
    let mut c = Counters::default();
    for (kind, n, minutes) in rows {
        if let Some(k) = Kind::parse(&kind) {
            c.count.insert(k, n);
            c.minutes.insert(k, minutes);
        }
    }
    c.best_streak = best_streak(&streak_days(conn, user, None).await?);
    Ok(c)
}

/// The distinct local dates with activity that keeps a streak, newest first (all, or the last
/// `limit`).
pub async fn streak_days(
    conn: &mut PgConnection,
    user: Uuid,
    limit: Option<i64>,
) -> sqlx::Result<Vec<Date>> {
    let kinds: Vec<&str> = Kind::ALL
        .into_iter()
        .filter(|k| k.keeps_streak())
        .map(Kind::as_str)
        .collect();
    sqlx::query_scalar(
        "SELECT DISTINCT local_date FROM reward_activity
         WHERE user_id = $1 AND kind = ANY($2) ORDER BY local_date DESC LIMIT $3",
    )
    .bind(user)
    .bind(kinds)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// `user`'s unlocked achievements: id → when.
pub async fn unlocked(
    conn: &mut PgConnection,
    user: Uuid,
) -> sqlx::Result<HashMap<String, OffsetDateTime>> {
    let rows: Vec<(String, OffsetDateTime)> =
        sqlx::query_as("SELECT achievement, unlocked_at FROM user_achievements WHERE user_id = $1")
            .bind(user)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Unlocks `achievement` for `user`; false when it already was.
pub async fn unlock(
    conn: &mut PgConnection,
    user: Uuid,
    achievement: &str,
    at: OffsetDateTime,
    local_date: Date,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO user_achievements (user_id, achievement, unlocked_at, local_date)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(user)
    .bind(achievement)
    .bind(at)
    .bind(local_date)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// `user`'s XP total.
pub async fn xp_total(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT coalesce(sum(xp), 0)::bigint FROM xp_ledger WHERE user_id = $1")
        .bind(user)
        .fetch_one(conn)
        .await
}

/// Appends `xp` for `cause` unless that cause earned XP already; true when it did now. The XP
/// boards follow.
pub async fn award_xp(
    conn: &mut PgConnection,
    user: Uuid,
    cause: &str,
    reason: &str,
    xp: i64,
    local_date: Date,
    at: OffsetDateTime,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO xp_ledger (id, user_id, cause, reason, xp, local_date, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(cause)
    .bind(reason)
    .bind(i32::try_from(xp).unwrap_or(i32::MAX))
    .bind(local_date)
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if inserted && xp != 0 {
        leaderboard::add(conn, &boards(Metric::Xp, local_date), user, xp, at).await?;
    }
    Ok(inserted)
}

/// Takes back the XP `cause` earned, once: an `undo:<cause>` entry of the opposite amount on
/// the original's local date (so the same boards go down). XP is earned once per cause: doing
/// the same thing again after a reversal earns nothing, so complete/reopen cycles cannot farm.
pub async fn undo_xp(
    conn: &mut PgConnection,
    user: Uuid,
    cause: &str,
    at: OffsetDateTime,
) -> sqlx::Result<()> {
    let original: Option<(i32, Date, String)> = sqlx::query_as(
        "SELECT xp, local_date, reason FROM xp_ledger WHERE user_id = $1 AND cause = $2",
    )
    .bind(user)
    .bind(cause)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((xp, local_date, reason)) = original else {
        return Ok(());
    };
    // The ledger's CHECK allows a negative amount only under an `undo:` cause.
    let undo = format!("undo:{cause}");
    let inserted = sqlx::query(
        "INSERT INTO xp_ledger (id, user_id, cause, reason, xp, local_date, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(&undo)
    .bind(reason)
    .bind(-xp)
    .bind(local_date)
    .bind(at)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if inserted && xp != 0 {
        leaderboard::add(
            conn,
            &boards(Metric::Xp, local_date),
            user,
            -i64::from(xp),
            at,
        )
        .await?;
    }
    Ok(())
}

/// Moves `source`'s activity, achievements and XP to `target` without counting anything twice:
/// a cause both have counts once (the target's row stands), an achievement both unlocked keeps
/// the earlier unlock. The source's rows stay (see [`super::purge_user`]); the caller rebuilds
/// the target's boards.
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO reward_activity (user_id, cause, kind, amount, local_date)
         SELECT $2, cause, kind, amount, local_date FROM reward_activity WHERE user_id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO user_achievements (user_id, achievement, unlocked_at, local_date)
         SELECT $2, achievement, unlocked_at, local_date FROM user_achievements WHERE user_id = $1
         ON CONFLICT (user_id, achievement) DO UPDATE
         SET unlocked_at = LEAST(user_achievements.unlocked_at, EXCLUDED.unlocked_at),
             local_date = CASE WHEN EXCLUDED.unlocked_at < user_achievements.unlocked_at
                               THEN EXCLUDED.local_date ELSE user_achievements.local_date END",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE xp_ledger s SET user_id = $2
         WHERE s.user_id = $1 AND NOT EXISTS (
             SELECT 1 FROM xp_ledger t WHERE t.user_id = $2 AND t.cause = s.cause)",
    )
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?;
    Ok(())
}
