//! The append-only security log (the table refuses UPDATE and DELETE, except the purge of a
//! deleted account's own rows) and the caller's read of it.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sqlx::PgConnection;
use stride_kit::{AppResult, Caller, ClientInfo, Violations, convert::timestamp, error::page_size};
use stride_proto::auth as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::service::AuthSvc;

pub(crate) async fn record(
    conn: &mut PgConnection,
    user: Option<Uuid>,
    kind: &str,
    client: &ClientInfo,
    details: serde_json::Value,
    now: OffsetDateTime,
) -> AppResult<()> {
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
pub(crate) async fn purge(conn: &mut PgConnection, user: Uuid) -> AppResult<()> {
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
struct Row {
    id: Uuid,
    kind: String,
    client_ip: Option<String>,
    user_agent: Option<String>,
    details: serde_json::Value,
    created_at: OffsetDateTime,
}

impl AuthSvc {
    pub(crate) async fn list_audit_events_inner(
        &self,
        caller: &Caller,
        req: pb::ListAuditEventsRequest,
    ) -> AppResult<pb::ListAuditEventsResponse> {
        let mut v = Violations::new();
        let limit = page_size(&mut v, req.page_size, 50);
        let after = if req.page_token.is_empty() {
            None
        } else {
            let id = URL_SAFE_NO_PAD
                .decode(&req.page_token)
                .ok()
                .and_then(|b| Uuid::from_slice(&b).ok());
            v.when(
                id.is_none(),
                "page_token",
                "is not a token returned by a previous call",
            );
            id
        };
        v.check()?;
        let mut rows: Vec<Row> = sqlx::query_as(
            "SELECT id, kind, client_ip, user_agent, details, created_at FROM audit_events
             WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(caller.user_id)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| URL_SAFE_NO_PAD.encode(r.id.as_bytes()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListAuditEventsResponse {
            events: rows
                .into_iter()
                .map(|r| pb::AuditEvent {
                    id: r.id.to_string(),
                    kind: r.kind,
                    client_ip: r.client_ip.unwrap_or_default(),
                    user_agent: r.user_agent.unwrap_or_default(),
                    details: r
                        .details
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, v)| {
                                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                                    (k.clone(), v)
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    create_time: Some(timestamp(r.created_at)),
                })
                .collect(),
            next_page_token,
        })
    }
}
