//! Account deletion: re-check the password, then remove the account and announce
//! `user.deleted.v1` so every service purges the user's data.

use stride_kit::{AppError, AppResult, Caller, Violations, convert};
use stride_proto::{auth as pb, events};
use uuid::Uuid;

use crate::service::{AuthSvc, INVALID_CREDENTIALS, micros, valid_password};

impl AuthSvc {
    pub(crate) async fn delete_account_inner(
        &self,
        caller: &Caller,
        req: pb::DeleteAccountRequest,
    ) -> AppResult<pb::DeleteAccountResponse> {
        let mut v = Violations::new();
        v.when(req.password.is_empty(), "password", "is required");
        v.check()?;
        let user = caller.user_id;

        // Hash outside the transaction: the bounded hasher may queue, and nothing should hold
        // row locks meanwhile.
        let stored: Option<(Option<String>,)> =
            sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        let Some((hash,)) = stored else {
            // Already deleted; the access token outlives the account by up to 15 minutes.
            return Err(AppError::not_found("account"));
        };
        // No stored password can fall outside the sign-up bounds, so such input is wrong without
        // spending hasher time on it; the answer is the same as login's.
        let ok = valid_password(&req.password) && self.hasher.verify(req.password, hash).await?;
        if !ok {
            return Err(AppError::unauthenticated(
                "INVALID_CREDENTIALS",
                INVALID_CREDENTIALS,
            ));
        }

        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        // Sessions first (the foreign key would cascade anyway; explicit is clearer), then the
        // account. Nothing else in auth references a user.
        sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        let deleted: Option<(String,)> =
            sqlx::query_as("DELETE FROM users WHERE id = $1 RETURNING timezone")
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
        // A concurrent deletion won: it announced the event, this one must not announce twice.
        let Some((timezone,)) = deleted else {
            return Err(AppError::not_found("account"));
        };
        let event = deleted_event(user, now, timezone);
        stride_bus::outbox::enqueue(&mut tx, &event).await?;
        tx.commit().await?;
        self.outbox.kick();
        tracing::info!(%user, "account deleted");
        Ok(pb::DeleteAccountResponse {})
    }
}

fn deleted_event(user: Uuid, now: time::OffsetDateTime, timezone: String) -> events::UserDeleted {
    events::UserDeleted {
        user_id: user.to_string(),
        occur_time: Some(convert::timestamp(now)),
        local_date: Some(convert::date(convert::local_date(now, &timezone))),
        timezone,
    }
}
