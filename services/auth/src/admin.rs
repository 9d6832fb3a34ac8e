//! The caller's own account, and the admin-only role assignment.

use stride_kit::{AppError, AppResult, Caller, ClientInfo, Violations};
use stride_proto::auth as pb;

use crate::service::{AuthSvc, micros};

pub const ROLES: [&str; 2] = ["user", "admin"];

impl AuthSvc {
    pub(crate) async fn get_me_inner(&self, caller: &Caller) -> AppResult<pb::GetMeResponse> {
        let user = self.account(caller.user_id).await?;
        Ok(pb::GetMeResponse {
            user: Some(user.to_proto()),
        })
    }

    /// The method policy already demands the admin role (checked by the gateway and by auth's
    /// own authn layer); this validates and applies.
    pub(crate) async fn set_user_roles_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        req: pb::SetUserRolesRequest,
    ) -> AppResult<pb::SetUserRolesResponse> {
        let target = stride_kit::convert::require_id("user_id", &req.user_id)?;
        let mut roles: Vec<String> = req.roles.clone();
        roles.sort();
        roles.dedup();
        let mut v = Violations::new();
        v.when(
            roles.iter().any(|r| !ROLES.contains(&r.as_str())),
            "roles",
            "may only contain \"user\" and \"admin\"",
        );
        v.when(
            !roles.iter().any(|r| r == "user"),
            "roles",
            "must include \"user\"",
        );
        v.check()?;
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET roles = $2 WHERE id = $1")
            .bind(target)
            .bind(&roles)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done == 0 {
            return Err(AppError::not_found("user"));
        }
        let details =
            serde_json::json!({"roles": roles.join(","), "by": caller.user_id.to_string()});
        crate::audit::record(&mut tx, Some(target), "roles.changed", client, details, now).await?;
        let user = self
            .load_user(&mut tx, target)
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        tx.commit().await?;
        Ok(pb::SetUserRolesResponse {
            user: Some(user.to_proto()),
        })
    }
}
