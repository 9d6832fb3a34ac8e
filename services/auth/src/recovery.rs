//! Password change (with the current password) and reset (by mailed token).
//!
//! Reset: the request answers the same whether or not the email has an account; the token is
//! 256 random bits stored as SHA-256, single use, valid one hour, killed by a newer one, with a
//! resend cooldown. Applying it ends every session and pending code, clears the login lockout
//! and does not sign anyone in.

use stride_kit::{AppError, AppResult, Caller, ClientInfo, Violations};
use stride_proto::auth as pb;
use uuid::Uuid;

use crate::service::{
    AuthSvc, check_new_password, micros, new_refresh_token, normalize_email, token_hash,
};

impl AuthSvc {
    pub(crate) async fn change_password_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        req: pb::ChangePasswordRequest,
    ) -> AppResult<pb::ChangePasswordResponse> {
        let mut v = Violations::new();
        v.when(
            req.current_password.is_empty(),
            "current_password",
            "is required",
        );
        check_new_password(&mut v, "new_password", &req.new_password);
        v.when(
            !req.new_password.is_empty() && req.new_password == req.current_password,
            "new_password",
            "must differ from the current password",
        );
        v.check()?;
        let user = self.account(caller.user_id).await?;
        if user.password_hash.is_none() {
            return Err(AppError::precondition(
                "NO_PASSWORD",
                "this account has no password; set one through password reset",
            ));
        }
        self.check_proof(
            &user,
            Some(pb::AccountProof {
                proof: Some(pb::account_proof::Proof::CurrentPassword(
                    req.current_password,
                )),
            }),
            client,
        )
        .await?;
        let hash = self.hasher.hash(req.new_password).await?;
        let now = micros(self.clock.now());
        let keep = Uuid::parse_str(&caller.session_id).ok();
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1")
            .bind(user.id)
            .bind(&hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let revoked = crate::sessions::revoke_sessions(&mut tx, user.id, keep, now).await?;
        crate::audit::record(
            &mut tx,
            Some(user.id),
            "password.changed",
            client,
            serde_json::json!({"other_sessions_ended": revoked}),
            now,
        )
        .await?;
        tx.commit().await?;
        if let Some(email) = user.email {
            self.notifier.mail(
                email,
                "Your Stride password was changed".into(),
                "Your password was just changed and your other sessions were signed out. If this was not you, reset your password now.".into(),
            );
        }
        Ok(pb::ChangePasswordResponse {
            revoked_sessions: revoked,
        })
    }

    pub(crate) async fn request_password_reset_inner(
        &self,
        client: &ClientInfo,
        req: pb::RequestPasswordResetRequest,
    ) -> AppResult<pb::RequestPasswordResetResponse> {
        let email = normalize_email(&req.email);
        let mut v = Violations::new();
        v.when(
            !crate::service::valid_email(&email),
            "email",
            "must be an email address of 3 to 254 characters",
        );
        v.check()?;
        let now = micros(self.clock.now());
        let limits = &self.settings.limits;
        let mut tx = self.pool.begin().await?;
        let user = crate::codes::user_by_email(&mut tx, &email).await?;
        // From here on the answer is fixed: nothing below may change it or how long it takes
        // in a way that depends on the account existing (the mail goes out asynchronously).
        let Some(user) = user else {
            return Ok(pb::RequestPasswordResetResponse {});
        };
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
        let (recent,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM password_resets WHERE user_id = $1 AND created_at > $2)",
        )
        .bind(user.id)
        .bind(now - limits.reset_cooldown)
        .fetch_one(&mut *tx)
        .await?;
        if recent {
            return Ok(pb::RequestPasswordResetResponse {});
        }
        // A new token kills any older one.
        sqlx::query(
            "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user.id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let (token, hash) = new_refresh_token()?;
        sqlx::query(
            "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(user.id)
        .bind(hash)
        .bind(now)
        .bind(now + limits.reset_ttl)
        .execute(&mut *tx)
        .await?;
        crate::audit::record(
            &mut tx,
            Some(user.id),
            "password.reset_requested",
            client,
            serde_json::json!({}),
            now,
        )
        .await?;
        tx.commit().await?;
        let link = format!("{}{token}", self.settings.reset_url);
        self.notifier.mail(
            email,
            "Reset your Stride password".into(),
            format!(
                "Someone asked to reset the password of your Stride account.\n\nTo choose a new password, open:\n{link}\n\nOr enter this reset token in the app: {token}\n\nIt works once and expires in {} minutes. If you did not ask for it, ignore this mail.",
                limits.reset_ttl.whole_minutes()
            ),
        );
        Ok(pb::RequestPasswordResetResponse {})
    }

    pub(crate) async fn reset_password_inner(
        &self,
        client: &ClientInfo,
        req: pb::ResetPasswordRequest,
    ) -> AppResult<pb::ResetPasswordResponse> {
        let mut v = Violations::new();
        v.when(
            req.token.is_empty() || req.token.len() > 128,
            "token",
            "is required",
        );
        check_new_password(&mut v, "new_password", &req.new_password);
        v.check()?;
        let invalid = || {
            AppError::unauthenticated(
                "RESET_TOKEN_INVALID",
                "the reset link is invalid, used or expired; ask for a new one",
            )
        };
        let hash = token_hash(&req.token);
        let now = micros(self.clock.now());
        let live: Option<(Uuid,)> = sqlx::query_as(
            "SELECT id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(&hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        if live.is_none() {
            return Err(invalid());
        }
        // Hash outside the transaction (the bounded hasher may queue), then re-check under lock.
        let password_hash = self.hasher.hash(req.new_password).await?;
        let mut tx = self.pool.begin().await?;
        let row: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT id, user_id FROM password_resets
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 FOR UPDATE",
        )
        .bind(&hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((reset_id, user)) = row else {
            return Err(invalid());
        };
        sqlx::query("UPDATE password_resets SET used_at = $2 WHERE id = $1")
            .bind(reset_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let email: Option<(Option<String>,)> = sqlx::query_as(
            "UPDATE users SET password_hash = $2, password_changed_at = $3,
                    email_verified_at = coalesce(email_verified_at, $3)
             WHERE id = $1 RETURNING email",
        )
        .bind(user)
        .bind(&password_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((email,)) = email else {
            return Err(invalid());
        };
        // A sign-up that was never confirmed: the reset proved the mailbox, so it is active now.
        crate::signup::activate_if_pending(&mut tx, self, user, now).await?;
        let revoked = crate::sessions::revoke_sessions(&mut tx, user, None, now).await?;
        sqlx::query(
            "UPDATE one_time_codes SET consumed_at = $2 WHERE user_id = $1 AND consumed_at IS NULL",
        )
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(e) = &email {
            sqlx::query(
                "UPDATE one_time_codes SET consumed_at = $2 WHERE address = $1 AND consumed_at IS NULL",
            )
            .bind(e)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // The owner proved the mailbox: a lockout someone else caused ends here.
            crate::throttle::clear(&mut tx, &crate::throttle::key("login.account", e)).await?;
        }
        crate::audit::record(
            &mut tx,
            Some(user),
            "password.reset",
            client,
            serde_json::json!({"sessions_ended": revoked}),
            now,
        )
        .await?;
        tx.commit().await?;
        self.outbox.kick();
        if let Some(e) = email {
            self.notifier.mail(
                e,
                "Your Stride password was reset".into(),
                "Your password was reset and every session was signed out. If this was not you, contact support.".into(),
            );
        }
        Ok(pb::ResetPasswordResponse {})
    }
}
