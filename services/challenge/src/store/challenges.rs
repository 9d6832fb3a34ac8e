//! The `challenges` table and its `participants`.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::challenge::{GoalKind, Recurrence};

/// A challenge as one caller sees it.
#[derive(Debug, sqlx::FromRow)]
pub struct ChallengeRow {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    #[sqlx(try_from = "String")]
    pub goal_kind: GoalKind,
    pub activity_kind: String,
    pub target: i32,
    pub points: i32,
    #[sqlx(try_from = "String")]
    pub recurrence: Recurrence,
    pub is_system: bool,
    pub participant_count: i64,
    /// When the caller joined; none if they have not.
    pub joined_at: Option<OffsetDateTime>,
}

/// Columns of [`ChallengeRow`]; `$1` is the caller.
const SELECT: &str = "SELECT c.id, c.title, c.description, c.goal_kind, c.activity_kind, c.target,
        c.points, c.recurrence, c.is_system,
        (SELECT count(*) FROM participants n WHERE n.challenge_id = c.id) AS participant_count,
        (SELECT m.joined_at FROM participants m WHERE m.challenge_id = c.id AND m.user_id = $1) AS joined_at
    FROM challenges c";

/// Up to `limit` challenges in id order, after `after` when given.
pub async fn list(
    conn: &mut PgConnection,
    caller: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<ChallengeRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE ($2::uuid IS NULL OR c.id > $2) ORDER BY c.id LIMIT $3"
    )))
    .bind(caller)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    caller: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ChallengeRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE c.id = $2")))
        .bind(caller)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Makes `user` a participant of challenge `id` as of `at`, if the challenge exists. Joining
/// twice keeps the first join time: sessions count from when the user joined. True when this
/// call joined.
pub async fn join(
    conn: &mut PgConnection,
    id: Uuid,
    user: Uuid,
    at: OffsetDateTime,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO participants (challenge_id, user_id, joined_at)
         SELECT id, $2, $3 FROM challenges WHERE id = $1
         ON CONFLICT (challenge_id, user_id) DO NOTHING",
    )
    .bind(id)
    .bind(user)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// A challenge a session counts toward.
#[derive(Debug, sqlx::FromRow)]
pub struct Counting {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub recurrence: Recurrence,
}

/// The challenges `user` had joined by `ended_at` that count completed sessions of
/// `activity_kind`: a session that ended before the user joined does not count.
pub async fn counting_sessions(
    conn: &mut PgConnection,
    user: Uuid,
    activity_kind: &str,
    ended_at: OffsetDateTime,
) -> sqlx::Result<Vec<Counting>> {
    sqlx::query_as(
        "SELECT c.id, c.recurrence
         FROM participants p JOIN challenges c ON c.id = p.challenge_id
         WHERE p.user_id = $1 AND c.goal_kind = $2 AND c.activity_kind = $3
           AND p.joined_at <= $4
         ORDER BY c.id",
    )
    .bind(user)
    .bind(GoalKind::SessionsCompleted.as_str())
    .bind(activity_kind)
    .bind(ended_at)
    .fetch_all(conn)
    .await
}

/// Gives `target` the memberships of `source`, one per challenge, joined at the earlier of the
/// two joins. The source's rows stay (see [`super::purge_user`]).
pub async fn merge_memberships(
    conn: &mut PgConnection,
    source: Uuid,
    target: Uuid,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO participants (challenge_id, user_id, joined_at)
         SELECT challenge_id, $2, joined_at FROM participants WHERE user_id = $1
         ON CONFLICT (challenge_id, user_id) DO UPDATE
         SET joined_at = LEAST(participants.joined_at, EXCLUDED.joined_at)",
    )
    .bind(source)
    .bind(target)
    .execute(conn)
    .await?
    .rows_affected())
}
