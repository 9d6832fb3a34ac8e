//! Sign-in sessions: one session is one refresh-token family, and the access token's `sid` claim
//! is that family's id.
//!
//! Revoking a session only stops its refresh token. Access tokens already issued for it stay
//! valid until they expire (at most `ACCESS_TTL_SECONDS`, 15 minutes): services verify them
//! offline against the JWKS and there is deliberately no revocation list to consult.

use stride_kit::{AppError, AppResult, Call, Violations, pagination::Page};
use stride_proto::auth as pb;

use super::{AuthSvc, convert, users};
use crate::{
    domain::{audit, sessions},
    store,
};

pub(super) async fn list_sessions(
    svc: &AuthSvc,
    call: Call<pb::ListSessionsRequest>,
) -> AppResult<pb::ListSessionsResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    let page = Page::<sessions::Cursor>::request(
        &mut v,
        req.page_size,
        &req.page_token,
        sessions::DEFAULT_PAGE_SIZE,
    );
    v.check()?;
    let now = svc.clock.now_db();
    let after = page.after().and_then(sessions::resume_after);
    let rows =
        store::sessions::live(&svc.pool, caller.user_id, now, after, page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| sessions::cursor(r.created, r.family_id));
    let current = sessions::family(&caller.session_id);
    Ok(pb::ListSessionsResponse {
        sessions: rows.iter().map(|r| convert::session(r, current)).collect(),
        next_page_token,
    })
}

pub(super) async fn revoke_session(
    svc: &AuthSvc,
    call: Call<pb::RevokeSessionRequest>,
) -> AppResult<pb::RevokeSessionResponse> {
    let caller = call.caller()?;
    let family = stride_kit::convert::require_id("session_id", &call.message.session_id)?;
    users::require_live_session(svc, caller).await?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    // Scoped to the caller: another user's session is indistinguishable from an unknown one.
    if !store::sessions::revoke(&mut tx, caller.user_id, family, now).await? {
        return Err(AppError::not_found("session"));
    }
    store::audit::record(
        &mut tx,
        Some(caller.user_id),
        audit::SESSION_REVOKED,
        &call.client,
        serde_json::json!({"session_id": family.to_string()}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(pb::RevokeSessionResponse {})
}

pub(super) async fn logout(
    svc: &AuthSvc,
    call: Call<pb::LogoutRequest>,
) -> AppResult<pb::LogoutResponse> {
    let caller = call.caller()?;
    // A token whose `sid` names no refresh family of this user has no session to end.
    let Some(family) = sessions::family(&caller.session_id) else {
        return Ok(pb::LogoutResponse {});
    };
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    store::sessions::revoke(&mut tx, caller.user_id, family, now).await?;
    tx.commit().await?;
    Ok(pb::LogoutResponse {})
}

pub(super) async fn logout_all(
    svc: &AuthSvc,
    call: Call<pb::LogoutAllRequest>,
) -> AppResult<pb::LogoutAllResponse> {
    let caller = call.caller()?;
    users::require_live_session(svc, caller).await?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    // Counts the sessions ListSessions would have shown: unrevoked families whose newest
    // token is unexpired (a family has an unexpired token exactly when its newest is).
    let revoked = store::sessions::revoke_all(&mut tx, caller.user_id, None, now).await?;
    store::audit::record(
        &mut tx,
        Some(caller.user_id),
        audit::SESSION_LOGOUT_ALL,
        &call.client,
        serde_json::json!({"sessions_ended": revoked}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(pb::LogoutAllResponse {
        revoked_sessions: revoked,
    })
}
