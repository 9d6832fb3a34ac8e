//! `share_cards`: the caller's cards, their frozen figures and their links' hashes.

use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// A card's frozen figures (what the public read reveals).
#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Content {
    pub kind: i16,
    pub display_name: String,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub as_of_date: Option<Date>,
    pub sessions_completed: i32,
    pub focus_sessions: i32,
    pub active_seconds: i64,
    pub active_days: i32,
    pub points: i64,
    pub current_streak: i32,
    pub longest_streak: i32,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Card {
    pub id: Uuid,
    #[sqlx(flatten)]
    pub content: Content,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

const COLUMNS: &str =
    "id, kind, display_name, start_date, end_date, as_of_date, sessions_completed,
    focus_sessions, active_seconds, active_days, points, current_streak, longest_streak,
    created_at, expires_at, revoked_at";

pub async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    card: &Card,
    token_sha256: &[u8],
) -> sqlx::Result<()> {
    let c = &card.content;
    sqlx::query(
        "INSERT INTO share_cards (id, user_id, token_sha256, kind, display_name, start_date, end_date,
           as_of_date, sessions_completed, focus_sessions, active_seconds, active_days, points,
           current_streak, longest_streak, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(card.id)
    .bind(user)
    .bind(token_sha256)
    .bind(c.kind)
    .bind(&c.display_name)
    .bind(c.start_date)
    .bind(c.end_date)
    .bind(c.as_of_date)
    .bind(c.sessions_completed)
    .bind(c.focus_sessions)
    .bind(c.active_seconds)
    .bind(c.active_days)
    .bind(c.points)
    .bind(c.current_streak)
    .bind(c.longest_streak)
    .bind(card.created_at)
    .bind(card.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// `user`'s cards, newest first, after the keyset `after`.
pub async fn list(
    conn: &mut PgConnection,
    user: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Card>> {
    let (at, id) = after.unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM share_cards WHERE user_id = $1
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4"
    )))
    .bind(user)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Revokes `user`'s card `id` (keeping the first revocation's time); None when `user` has no
/// such card.
pub async fn revoke(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<Option<Card>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE share_cards SET revoked_at = COALESCE(revoked_at, $3)
         WHERE user_id = $1 AND id = $2 RETURNING {COLUMNS}"
    )))
    .bind(user)
    .bind(id)
    .bind(now)
    .fetch_optional(conn)
    .await
}

/// The card whose token hashes to `token_sha256`, whatever its state.
pub async fn by_token(conn: &mut PgConnection, token_sha256: &[u8]) -> sqlx::Result<Option<Card>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM share_cards WHERE token_sha256 = $1"
    )))
    .bind(token_sha256)
    .fetch_optional(conn)
    .await
}

/// Gives `source`'s cards to `target`: their links keep working.
pub async fn merge(conn: &mut PgConnection, source: Uuid, target: Uuid) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE share_cards SET user_id = $2 WHERE user_id = $1")
            .bind(source)
            .bind(target)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
