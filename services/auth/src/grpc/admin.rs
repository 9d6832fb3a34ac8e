//! Admin-only role assignment.

use stride_kit::{AppError, AppResult, Call, Violations, convert::require_id};
use stride_proto::auth as pb;

use super::{AuthSvc, convert, users};
use crate::{
    domain::{audit, roles},
    store,
};

/// The method policy already demands the admin role (checked by the gateway and by auth's
/// own authn layer); this validates and applies.
pub(super) async fn set_user_roles(
    svc: &AuthSvc,
    call: Call<pb::SetUserRolesRequest>,
) -> AppResult<pb::SetUserRolesResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let target = require_id("user_id", &req.user_id)?;
    let mut v = Violations::new();
    let roles = roles::assignment(&mut v, &req.roles);
    v.check()?;
    // The token's roles may be stale (a demoted admin's lasts 15 minutes) and its session may
    // have ended: the caller's live session and stored roles decide (M3).
    users::require_live_session(svc, caller).await?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    let me = users::require(&mut tx, caller.user_id).await?;
    if !me.roles.iter().any(|r| r == roles::ADMIN) {
        return Err(AppError::permission_denied(
            "ROLE_REQUIRED",
            "the admin role is required",
        ));
    }
    if store::users::set_roles(&mut tx, target, &roles).await? == 0 {
        return Err(AppError::not_found("user"));
    }
    let details = serde_json::json!({"roles": roles.join(","), "by": caller.user_id.to_string()});
    store::audit::record(
        &mut tx,
        Some(target),
        audit::ROLES_CHANGED,
        &call.client,
        details,
        now,
    )
    .await?;
    let user = store::users::load(&mut tx, target)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    tx.commit().await?;
    Ok(pb::SetUserRolesResponse {
        user: Some(convert::user(&user)),
    })
}
