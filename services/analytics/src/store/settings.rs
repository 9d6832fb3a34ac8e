//! `streak_settings` (per user, ADR 0020) and `focus_goals` (from profile.updated.v1).

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::streak::Policy;

/// The user's streak policy (the defaults when never set).
pub async fn policy(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Policy> {
    let row: Option<(i32, i32)> = sqlx::query_as(
        "SELECT grace_days, freezes_per_month FROM streak_settings WHERE user_id = $1",
    )
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(row.map_or_else(Policy::default, |(g, f)| policy_of(g, f)))
}

/// A stored `(grace_days, freezes_per_month)` row as a policy.
pub fn policy_of(grace_days: i32, freezes_per_month: i32) -> Policy {
    Policy {
        grace_days: u32::try_from(grace_days).unwrap_or(0),
        freezes_per_month: u32::try_from(freezes_per_month).unwrap_or(0),
    }
}

pub async fn put_policy(conn: &mut PgConnection, user: Uuid, p: Policy) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO streak_settings (user_id, grace_days, freezes_per_month) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET grace_days = EXCLUDED.grace_days,
           freezes_per_month = EXCLUDED.freezes_per_month",
    )
    .bind(user)
    .bind(i32::try_from(p.grace_days).unwrap_or(0))
    .bind(i32::try_from(p.freezes_per_month).unwrap_or(0))
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps the profile's daily focus goal unless a newer revision is stored (0 = unset).
pub async fn put_focus_goal(
    conn: &mut PgConnection,
    user: Uuid,
    minutes: i32,
    revision: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO focus_goals (user_id, minutes, revision) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET minutes = EXCLUDED.minutes, revision = EXCLUDED.revision
         WHERE focus_goals.revision < EXCLUDED.revision",
    )
    .bind(user)
    .bind(minutes)
    .bind(revision)
    .execute(conn)
    .await?;
    Ok(())
}

/// The profile's daily focus goal in minutes, if it told one.
pub async fn focus_goal(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar("SELECT minutes FROM focus_goals WHERE user_id = $1 AND minutes > 0")
        .bind(user)
        .fetch_optional(conn)
        .await
}

/// A merge: the target keeps its own settings and goal, else takes the guest's.
pub async fn move_user(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO streak_settings (user_id, grace_days, freezes_per_month)
         SELECT $2, grace_days, freezes_per_month FROM streak_settings WHERE user_id = $1
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO focus_goals (user_id, minutes, revision)
         SELECT $2, minutes, revision FROM focus_goals WHERE user_id = $1
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?;
    Ok(())
}
