//! `refresh_tokens` as presented tokens: issue, look up for rotation, spend.
//! Whole sessions (families) are in `store::sessions`.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::refresh::Presented;

pub struct NewRefresh<'a> {
    pub id: Uuid,
    pub family: Uuid,
    pub user: Uuid,
    pub token_hash: &'a [u8],
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub async fn insert(conn: &mut PgConnection, t: &NewRefresh<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.id)
    .bind(t.family)
    .bind(t.user)
    .bind(t.token_hash)
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct RefreshRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub successor_id: Option<Uuid>,
    pub successor_sealed: Option<Vec<u8>>,
    pub rotated_by: Option<Vec<u8>>,
    pub replayed_at: Option<OffsetDateTime>,
}

impl RefreshRow {
    pub fn presented(&self) -> Presented {
        Presented {
            used_at: self.used_at,
            revoked_at: self.revoked_at,
            expires_at: self.expires_at,
            replayed_at: self.replayed_at,
        }
    }
}

/// The token with `hash`, locked: the row lock serialises concurrent presentations of one token.
pub async fn lock_by_hash(
    conn: &mut PgConnection,
    hash: &[u8],
) -> sqlx::Result<Option<RefreshRow>> {
    sqlx::query_as(
        "SELECT id, family_id, user_id, expires_at, used_at, revoked_at, successor_id,
                successor_sealed, rotated_by, replayed_at
         FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
    )
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await
}

/// Whether token `id` is still unused, unrevoked and unexpired (locked if so).
pub async fn lock_if_live(
    conn: &mut PgConnection,
    id: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<bool> {
    let live: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM refresh_tokens
         WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2
         FOR UPDATE",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(live.is_some())
}

/// Spends token `id`: it was replaced by `successor`, whose pair is kept `sealed`.
pub async fn mark_rotated(
    conn: &mut PgConnection,
    id: Uuid,
    now: OffsetDateTime,
    successor: Uuid,
    sealed: &[u8],
    rotated_by: &[u8],
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET used_at = $2, successor_id = $3, successor_sealed = $4,
                rotated_by = $5
         WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .bind(successor)
    .bind(sealed)
    .bind(rotated_by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The rotation of token `id` was answered again (allowed once).
pub async fn mark_replayed(
    conn: &mut PgConnection,
    id: Uuid,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE refresh_tokens SET replayed_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
