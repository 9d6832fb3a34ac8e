//! Sign-up with email confirmation (the default): the answer never tells whether the address
//! already has an account. A new address gets a pending account and a code; a pending one gets a
//! fresh code; a taken one gets a notice to its owner. Only ConfirmSignup — the code back from
//! the mailbox — activates the account, announces it and returns tokens.

use stride_kit::{AppError, AppResult, ClientInfo, Violations};
use stride_proto::auth as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    codes::{Channel, Purpose, code_invalid},
    identities::NewIdentity,
    service::{AuthSvc, UserRow, micros, normalize_email, registered_event},
};

/// Notices to an existing account's owner per hour (someone keeps signing up with their address).
const NOTICES_PER_HOUR: i64 = 3;

/// Activates `user` if it is pending: the address is proved (by a code or a reset), so the
/// account now exists for everyone and `user.registered.v1` goes out. True when it was pending.
pub(crate) async fn activate_if_pending(
    tx: &mut sqlx::PgConnection,
    svc: &AuthSvc,
    user: Uuid,
    now: OffsetDateTime,
) -> AppResult<bool> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "UPDATE users SET pending_confirmation = false
         WHERE id = $1 AND pending_confirmation RETURNING email",
    )
    .bind(user)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((email,)) = row else {
        return Ok(false);
    };
    if let Some(email) = email {
        crate::identities::mark_email_verified(tx, user, &email, now).await?;
    }
    let account = svc
        .load_user(tx, user)
        .await?
        .ok_or_else(|| AppError::not_found("account"))?;
    stride_bus::outbox::enqueue(&mut *tx, &registered_event(&account, now)).await?;
    Ok(true)
}

impl AuthSvc {
    /// The confirmation-mode half of Signup; fields are already valid and `password_hash` made
    /// (every path pays for the hash, so timing says nothing either).
    pub(crate) async fn signup_pending(
        &self,
        email: String,
        username: String,
        password_hash: String,
        timezone: String,
    ) -> AppResult<pb::SignupResponse> {
        let answer = pb::SignupResponse {
            user: None,
            tokens: None,
            confirmation_required: true,
        };
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        // Usernames are public handles: a taken one may be said (for any address).
        let (taken,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1)
                            AND email IS DISTINCT FROM $2)",
        )
        .bind(&username)
        .bind(&email)
        .fetch_one(&mut *tx)
        .await?;
        if taken {
            return Err(AppError::AlreadyExists {
                reason: "USERNAME_TAKEN",
                message: "this username is taken".into(),
            });
        }
        let existing: Option<(Uuid, bool)> =
            sqlx::query_as("SELECT id, pending_confirmation FROM users WHERE email = $1")
                .bind(&email)
                .fetch_optional(&mut *tx)
                .await?;
        let target = match existing {
            Some((id, true)) => {
                // Another try before confirming: a fresh code. The password stays the first
                // one: letting a second caller replace it would hand them the account the
                // mailbox owner is about to confirm.
                Some(id)
            }
            Some((id, false)) => {
                let key = crate::throttle::key("signup.notice", &email);
                let sent =
                    crate::throttle::count(&mut *tx, &key, now - time::Duration::hours(1)).await?;
                if sent < NOTICES_PER_HOUR {
                    crate::throttle::hit(&mut tx, &key, now).await?;
                    tx.commit().await?;
                    self.notifier.mail(
                        email,
                        "Someone tried to create a Stride account with your email".into(),
                        format!(
                            "Your address already has a Stride account (id {id}). If it was you, sign in, or reset your password if you forgot it. If not, you can ignore this mail."
                        ),
                    );
                }
                return Ok(answer);
            }
            None => {
                let user = UserRow {
                    id: Uuid::now_v7(),
                    email: Some(email.clone()),
                    username: Some(username),
                    password_hash: Some(password_hash),
                    roles: vec!["user".into()],
                    is_anonymous: false,
                    created_at: now,
                    timezone,
                    email_verified_at: None,
                    phone: None,
                };
                match self
                    .insert_user_with(
                        &mut tx,
                        &user,
                        Some(NewIdentity::email(&email, false)),
                        now,
                        true,
                    )
                    .await
                {
                    Ok(()) => Some(user.id),
                    // A concurrent sign-up took the address (or the username) first.
                    Err(AppError::AlreadyExists { .. }) => None,
                    Err(e) => return Err(e),
                }
            }
        };
        tx.commit().await?;
        if let Some(id) = target {
            // Over the hourly code limit the answer stays the same; the code just is not sent.
            if let Err(e) = self
                .issue_code(Purpose::VerifyEmail, Channel::Email, &email, Some(id))
                .await
            {
                tracing::info!(error = %e, "sign-up confirmation code not sent");
            }
        }
        Ok(answer)
    }

    pub(crate) async fn confirm_signup_inner(
        &self,
        client: &ClientInfo,
        req: pb::ConfirmSignupRequest,
    ) -> AppResult<pb::ConfirmSignupResponse> {
        let email = normalize_email(&req.email);
        let mut v = Violations::new();
        v.when(
            email.is_empty() || email.len() > 254,
            "email",
            "is required",
        );
        v.when(req.code.is_empty(), "code", "is required");
        v.check()?;
        let pending: Option<(Uuid,)> =
            sqlx::query_as("SELECT id FROM users WHERE email = $1 AND pending_confirmation")
                .bind(&email)
                .fetch_optional(&self.pool)
                .await?;
        let Some((id,)) = pending else {
            return Err(code_invalid());
        };
        self.consume_code(
            Purpose::VerifyEmail,
            Some(Channel::Email),
            Some(&email),
            Some(id),
            &req.code,
        )
        .await?;
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        if !activate_if_pending(&mut tx, self, id, now).await? {
            // Confirmed meanwhile (another device, a reset): the code was still good.
            tracing::info!(user_id = %id, "sign-up confirmed twice");
        }
        let user = self
            .load_user(&mut tx, id)
            .await?
            .ok_or_else(|| AppError::not_found("account"))?;
        let family = Uuid::now_v7();
        let tokens = self.issue(&mut tx, &user, family, now).await?;
        crate::audit::record(
            &mut tx,
            Some(id),
            "account.created",
            client,
            serde_json::json!({"method": "password", "session_id": family.to_string()}),
            now,
        )
        .await?;
        tx.commit().await?;
        self.outbox.kick();
        tracing::Span::current().record("user_id", tracing::field::display(id));
        Ok(pb::ConfirmSignupResponse {
            user: Some(user.to_proto()),
            tokens: Some(tokens),
        })
    }
}
