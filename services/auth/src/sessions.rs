//! Sign-in sessions: one session is one refresh-token family, and the access token's `sid` claim
//! is that family's id.
//!
//! Revoking a session only stops its refresh token. Access tokens already issued for it stay
//! valid until they expire (at most `ACCESS_TTL_SECONDS`, 15 minutes): services verify them
//! offline against the JWKS and there is deliberately no revocation list to consult.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sqlx::PgConnection;
use stride_kit::{
    AppError, AppResult, Caller, ClientInfo, Violations, convert::timestamp, error::page_size,
};
use stride_proto::auth as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::service::{AuthSvc, micros};

const DEFAULT_PAGE_SIZE: i64 = 50;
const TOKEN_PREFIX: &str = "s1:";

/// Opaque cursor: the sort key (creation instant in microseconds, family id) of the last
/// session returned.
fn encode_page_token(created: OffsetDateTime, family: Uuid) -> String {
    let micros = created.unix_timestamp_nanos() / 1_000;
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{micros}:{family}"))
}

fn decode_page_token(token: &str) -> Option<(OffsetDateTime, Uuid)> {
    if token.len() > 128 {
        return None;
    }
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let (micros, family) = text.strip_prefix(TOKEN_PREFIX)?.split_once(':')?;
    let micros: i128 = micros.parse().ok()?;
    let created = OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1_000)?).ok()?;
    Some((created, Uuid::parse_str(family).ok()?))
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    family_id: Uuid,
    created: OffsetDateTime,
    last_used: OffsetDateTime,
    expires: OffsetDateTime,
}

/// Locks every refresh token of `user` (optionally only of `family`) before they are revoked.
/// A refresh in flight holds its token's row lock and adds the rotated token to the family; waiting
/// for it here means the revoking statement that follows (a fresh snapshot under READ COMMITTED)
/// sees that new token too, so a racing rotation cannot outlive the revocation.
async fn lock_tokens(tx: &mut PgConnection, user: Uuid, family: Option<Uuid>) -> AppResult<()> {
    sqlx::query(
        "SELECT 1 FROM refresh_tokens
         WHERE user_id = $1 AND ($2::uuid IS NULL OR family_id = $2) FOR UPDATE",
    )
    .bind(user)
    .bind(family)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Revokes the user's refresh tokens except those of `keep`; returns how many sessions ended.
pub(crate) async fn revoke_sessions(
    conn: &mut PgConnection,
    user: Uuid,
    keep: Option<Uuid>,
    now: OffsetDateTime,
) -> AppResult<i32> {
    lock_tokens(conn, user, None).await?;
    let (n,): (i64,) = sqlx::query_as(
        "WITH revoked AS (
             UPDATE refresh_tokens SET revoked_at = $2
             WHERE user_id = $1 AND revoked_at IS NULL
               AND ($3::uuid IS NULL OR family_id <> $3)
             RETURNING family_id, expires_at)
         SELECT count(DISTINCT family_id) FILTER (WHERE expires_at > $2) FROM revoked",
    )
    .bind(user)
    .bind(now)
    .bind(keep)
    .fetch_one(&mut *conn)
    .await?;
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

/// Revokes `family` of `user`; false when the user has no such family.
async fn revoke_family(
    tx: &mut PgConnection,
    user: Uuid,
    family: Uuid,
    now: OffsetDateTime,
) -> AppResult<bool> {
    lock_tokens(tx, user, Some(family)).await?;
    let revoked = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $3
         WHERE user_id = $1 AND family_id = $2 AND revoked_at IS NULL",
    )
    .bind(user)
    .bind(family)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if revoked > 0 {
        return Ok(true);
    }
    // Ending an already ended session of one's own is a no-op, not an error.
    let (exists,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE user_id = $1 AND family_id = $2)",
    )
    .bind(user)
    .bind(family)
    .fetch_one(&mut *tx)
    .await?;
    Ok(exists)
}

impl AuthSvc {
    pub(crate) async fn list_sessions_inner(
        &self,
        caller: &Caller,
        req: pb::ListSessionsRequest,
    ) -> AppResult<pb::ListSessionsResponse> {
        let mut v = Violations::new();
        let limit = page_size(&mut v, req.page_size, DEFAULT_PAGE_SIZE);
        let after = if req.page_token.is_empty() {
            None
        } else {
            let cursor = decode_page_token(&req.page_token);
            v.when(
                cursor.is_none(),
                "page_token",
                "is not a token returned by a previous call",
            );
            cursor
        };
        v.check()?;
        let now = micros(self.clock.now());
        // A family is live while none of its tokens is revoked (revocation covers the whole family
        // and nothing is added afterwards) and its newest token has not expired.
        let mut rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT family_id, min(created_at) AS created, max(created_at) AS last_used,
                    max(expires_at) AS expires
             FROM refresh_tokens WHERE user_id = $1
             GROUP BY family_id
             HAVING bool_and(revoked_at IS NULL) AND max(expires_at) > $2
                AND ($3::timestamptz IS NULL OR (min(created_at), family_id) < ($3, $4))
             ORDER BY min(created_at) DESC, family_id DESC
             LIMIT $5",
        )
        .bind(caller.user_id)
        .bind(now)
        .bind(after.map(|(created, _)| created))
        .bind(after.map(|(_, family)| family))
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| encode_page_token(r.created, r.family_id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let current = Uuid::parse_str(&caller.session_id).ok();
        Ok(pb::ListSessionsResponse {
            sessions: rows
                .iter()
                .map(|r| pb::Session {
                    id: r.family_id.to_string(),
                    create_time: Some(timestamp(r.created)),
                    last_use_time: Some(timestamp(r.last_used)),
                    expire_time: Some(timestamp(r.expires)),
                    current: current == Some(r.family_id),
                })
                .collect(),
            next_page_token,
        })
    }

    pub(crate) async fn revoke_session_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        req: pb::RevokeSessionRequest,
    ) -> AppResult<pb::RevokeSessionResponse> {
        let family = stride_kit::convert::require_id("session_id", &req.session_id)?;
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        // Scoped to the caller: another user's session is indistinguishable from an unknown one.
        if !revoke_family(&mut tx, caller.user_id, family, now).await? {
            return Err(AppError::not_found("session"));
        }
        crate::audit::record(
            &mut tx,
            Some(caller.user_id),
            "session.revoked",
            client,
            serde_json::json!({"session_id": family.to_string()}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(pb::RevokeSessionResponse {})
    }

    pub(crate) async fn logout_inner(&self, caller: &Caller) -> AppResult<pb::LogoutResponse> {
        // A token whose `sid` names no refresh family of this user has no session to end.
        let Ok(family) = Uuid::parse_str(&caller.session_id) else {
            return Ok(pb::LogoutResponse {});
        };
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        revoke_family(&mut tx, caller.user_id, family, now).await?;
        tx.commit().await?;
        Ok(pb::LogoutResponse {})
    }

    pub(crate) async fn logout_all_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
    ) -> AppResult<pb::LogoutAllResponse> {
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        // Counts the sessions ListSessions would have shown: unrevoked families whose newest
        // token is unexpired (a family has an unexpired token exactly when its newest is).
        let revoked = revoke_sessions(&mut tx, caller.user_id, None, now).await?;
        crate::audit::record(
            &mut tx,
            Some(caller.user_id),
            "session.logout_all",
            client,
            serde_json::json!({"sessions_ended": revoked}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(pb::LogoutAllResponse {
            revoked_sessions: revoked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_garbage() {
        let created = micros(OffsetDateTime::now_utc());
        let id = Uuid::now_v7();
        assert_eq!(
            decode_page_token(&encode_page_token(created, id)),
            Some((created, id))
        );
        assert_eq!(decode_page_token("%%%"), None);
        assert_eq!(decode_page_token(""), None);
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode(format!("s1:12:{}", "x"))),
            None
        );
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode(format!("s1:abc:{id}"))),
            None
        );
        assert_eq!(
            decode_page_token(&URL_SAFE_NO_PAD.encode(format!("zz:12:{id}"))),
            None
        );
        assert_eq!(decode_page_token(&"A".repeat(200)), None);
    }
}
