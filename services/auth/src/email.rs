//! Email verification and email change (the new address is verified before it replaces the old).

use stride_kit::{AppError, AppResult, Caller, ClientInfo, Violations, convert::timestamp};
use stride_proto::auth as pb;

use crate::{
    codes::{Channel, Purpose},
    service::{AuthSvc, is_unique_violation, micros, normalize_email, valid_email},
};

impl AuthSvc {
    pub(crate) async fn verify_email_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        req: pb::VerifyEmailRequest,
    ) -> AppResult<pb::VerifyEmailResponse> {
        let user = self.account(caller.user_id).await?;
        let Some(email) = user.email.clone() else {
            return Err(AppError::precondition(
                "NO_EMAIL",
                "the account has no email",
            ));
        };
        self.consume_code(
            Purpose::VerifyEmail,
            Some(Channel::Email),
            Some(&email),
            Some(user.id),
            &req.code,
        )
        .await?;
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        crate::identities::mark_email_verified(&mut tx, user.id, &email, now).await?;
        crate::audit::record(
            &mut tx,
            Some(user.id),
            "email.verified",
            client,
            serde_json::json!({}),
            now,
        )
        .await?;
        let user = self
            .load_user(&mut tx, user.id)
            .await?
            .ok_or_else(|| AppError::not_found("account"))?;
        tx.commit().await?;
        Ok(pb::VerifyEmailResponse {
            user: Some(user.to_proto()),
        })
    }

    pub(crate) async fn request_email_change_inner(
        &self,
        caller: &Caller,
        req: pb::RequestEmailChangeRequest,
    ) -> AppResult<pb::RequestEmailChangeResponse> {
        let new_email = normalize_email(&req.new_email);
        let mut v = Violations::new();
        v.when(
            !valid_email(&new_email),
            "new_email",
            "must be an email address of 3 to 254 characters",
        );
        v.check()?;
        let user = self.account(caller.user_id).await?;
        if user.email.as_deref() == Some(new_email.as_str()) {
            return Err(AppError::invalid(
                "new_email",
                "is already the account's email",
            ));
        }
        self.check_proof(&user, req.proof, &ClientInfo::default())
            .await?;
        // A taken address gets the same answer (no code is sent, so the change cannot finish):
        // the endpoint must not tell a signed-in user which addresses have accounts.
        let taken: Option<(uuid::Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
            .bind(&new_email)
            .fetch_optional(&self.pool)
            .await?;
        let now = micros(self.clock.now());
        let expires = if taken.is_some() {
            now + self.settings.limits.code_ttl
        } else {
            self.issue_code(
                Purpose::ChangeEmail,
                Channel::Email,
                &new_email,
                Some(user.id),
            )
            .await?
        };
        Ok(pb::RequestEmailChangeResponse {
            expire_time: Some(timestamp(expires)),
        })
    }

    pub(crate) async fn confirm_email_change_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        req: pb::ConfirmEmailChangeRequest,
    ) -> AppResult<pb::ConfirmEmailChangeResponse> {
        let consumed = self
            .consume_code(
                Purpose::ChangeEmail,
                Some(Channel::Email),
                None,
                Some(caller.user_id),
                &req.code,
            )
            .await?;
        let new_email = consumed.address;
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        let old = self
            .load_user(&mut tx, caller.user_id)
            .await?
            .ok_or_else(|| AppError::not_found("account"))?;
        let updated =
            sqlx::query("UPDATE users SET email = $2, email_verified_at = $3 WHERE id = $1")
                .bind(old.id)
                .bind(&new_email)
                .bind(now)
                .execute(&mut *tx)
                .await;
        match updated {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::AlreadyExists {
                    reason: "EMAIL_IN_USE",
                    message: "another account took this email meanwhile".into(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        // The email identity follows the address (created if the account had none).
        let moved = match &old.email {
            Some(prev) => sqlx::query(
                "UPDATE identities SET subject = $3, email = $3, email_verified = true
                 WHERE user_id = $1 AND provider = 'email' AND subject = $2",
            )
            .bind(old.id)
            .bind(prev)
            .bind(&new_email)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            None => 0,
        };
        if moved == 0 {
            let (primary,): (bool,) =
                sqlx::query_as("SELECT NOT EXISTS (SELECT 1 FROM identities WHERE user_id = $1)")
                    .bind(old.id)
                    .fetch_one(&mut *tx)
                    .await?;
            crate::identities::insert(
                &mut tx,
                old.id,
                crate::identities::NewIdentity::email(&new_email, true),
                primary,
                now,
            )
            .await?;
        }
        crate::audit::record(
            &mut tx,
            Some(old.id),
            "email.changed",
            client,
            serde_json::json!({}),
            now,
        )
        .await?;
        let user = self
            .load_user(&mut tx, old.id)
            .await?
            .ok_or_else(|| AppError::not_found("account"))?;
        tx.commit().await?;
        if let Some(prev) = old.email {
            self.notifier.mail(
                prev,
                "Your Stride email was changed".into(),
                format!(
                    "The email of your Stride account was changed to {new_email}. If this was not you, contact support."
                ),
            );
        }
        Ok(pb::ConfirmEmailChangeResponse {
            user: Some(user.to_proto()),
        })
    }
}
