//! `audit_events`: append-only (a trigger refuses UPDATE and DELETE, except the purge of a
//! deleted account's own rows inside the transaction that sets the marker).

use sqlx::{PgConnection, PgExecutor};
use stride_kit::ClientInfo;
use time::OffsetDateTime;
use uuid::Uuid;

pub async fn record(
    conn: &mut PgConnection,
    user: Option<Uuid>,
    kind: &str,
    client: &ClientInfo,
    details: serde_json::Value,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, user_id, kind, client_ip, user_agent, details, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(kind)
    .bind(client.ip.map(|ip| ip.to_string()))
    .bind(&client.user_agent)
    .bind(details)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes `user`'s rows: the one deletion the append-only trigger allows, and only inside the
/// account-deletion transaction that sets the marker.
pub async fn purge(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT set_config('stride.purging_user', $1, true)")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM audit_events WHERE user_id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    pub id: Uuid,
    pub kind: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: serde_json::Value,
    pub created_at: OffsetDateTime,
}

/// `user`'s events older than `after` (all when None), newest first, at most `limit`.
pub async fn page(
    db: impl PgExecutor<'_>,
    user: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as(
        "SELECT id, kind, client_ip, user_agent, details, created_at FROM audit_events
         WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
    )
    .bind(user)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}
