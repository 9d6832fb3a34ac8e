//! Guest (anonymous) accounts: real tokens with `is_anonymous: true`, limited per client address;
//! claimed in place (same user id) with email + password or a linked identity; or merged into a
//! signed-in account, which `user.merged.v1` tells every service to apply.

use stride_kit::{AppError, AppResult, Caller, ClientInfo, Violations, convert};
use stride_proto::{auth as pb, events};
use uuid::Uuid;

use crate::{
    identities::NewIdentity,
    service::{
        AuthSvc, UserRow, account_exists, check_new_password, is_unique_violation, micros,
        normalize_email, timezone_or_utc, valid_email, valid_username,
    },
};

impl AuthSvc {
    pub(crate) async fn signup_guest_inner(
        &self,
        client: &ClientInfo,
        req: pb::SignupGuestRequest,
    ) -> AppResult<pb::SignupGuestResponse> {
        let mut v = Violations::new();
        let timezone = timezone_or_utc(&mut v, &req.timezone);
        v.check()?;
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        if let Some(ip) = client.ip {
            let key = crate::throttle::key("guest.ip", &ip.to_string());
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("guest:{ip}"))
                .execute(&mut *tx)
                .await?;
            let n = crate::throttle::count(&mut *tx, &key, now - time::Duration::hours(1)).await?;
            if n >= self.settings.limits.guests_per_ip_per_hour {
                return Err(crate::throttle::too_many(
                    "too many guest accounts from this address; try again later",
                ));
            }
            crate::throttle::hit(&mut tx, &key, now).await?;
        }
        let user = UserRow {
            id: Uuid::now_v7(),
            email: None,
            username: None,
            password_hash: None,
            roles: vec!["user".into()],
            is_anonymous: true,
            created_at: now,
            timezone,
            email_verified_at: None,
            phone: None,
        };
        self.insert_user(&mut tx, &user, None, now).await?;
        let tokens = self.issue(&mut tx, &user, Uuid::now_v7(), now).await?;
        crate::audit::record(
            &mut tx,
            Some(user.id),
            "account.created",
            client,
            serde_json::json!({"method": "guest"}),
            now,
        )
        .await?;
        tx.commit().await?;
        self.outbox.kick();
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        Ok(pb::SignupGuestResponse {
            user: Some(user.to_proto()),
            tokens: Some(tokens),
        })
    }

    pub(crate) async fn claim_guest_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        req: pb::ClaimGuestRequest,
    ) -> AppResult<pb::ClaimGuestResponse> {
        let email = normalize_email(&req.email);
        let mut v = Violations::new();
        v.when(
            !valid_email(&email),
            "email",
            "must be an email address of 3 to 254 characters",
        );
        v.when(
            !valid_username(&req.username),
            "username",
            "must be 3 to 32 characters of letters, digits, '_', '.' or '-'",
        );
        check_new_password(&mut v, "password", &req.password);
        v.check()?;
        if !caller.is_anonymous {
            return Err(AppError::precondition(
                "NOT_A_GUEST",
                "only a guest account can be claimed",
            ));
        }
        let hash = self.hasher.hash(req.password).await?;
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "UPDATE users SET email = $2, username = $3, password_hash = $4, is_anonymous = false
             WHERE id = $1 AND is_anonymous",
        )
        .bind(caller.user_id)
        .bind(&email)
        .bind(&req.username)
        .bind(&hash)
        .execute(&mut *tx)
        .await;
        match claimed {
            Ok(r) if r.rows_affected() == 1 => {}
            Ok(_) => {
                return Err(AppError::precondition(
                    "NOT_A_GUEST",
                    "only a guest account can be claimed",
                ));
            }
            Err(e) if is_unique_violation(&e) => return Err(account_exists()),
            Err(e) => return Err(e.into()),
        }
        crate::identities::insert(
            &mut tx,
            caller.user_id,
            NewIdentity::email(&email, false),
            true,
            now,
        )
        .await?;
        let user = self
            .load_user(&mut tx, caller.user_id)
            .await?
            .ok_or_else(|| AppError::not_found("account"))?;
        let family = Uuid::parse_str(&caller.session_id).unwrap_or_else(|_| Uuid::now_v7());
        let tokens = self.issue(&mut tx, &user, family, now).await?;
        crate::audit::record(
            &mut tx,
            Some(user.id),
            "guest.claimed",
            client,
            serde_json::json!({"method": "password"}),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(pb::ClaimGuestResponse {
            user: Some(user.to_proto()),
            tokens: Some(tokens),
        })
    }

    pub(crate) async fn merge_guest_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        req: pb::MergeGuestRequest,
    ) -> AppResult<pb::MergeGuestResponse> {
        let bad_token = || {
            AppError::invalid(
                "guest_access_token",
                "must be a valid access token of another guest account",
            )
        };
        if req.guest_access_token.is_empty() || req.guest_access_token.len() > 4096 {
            return Err(bad_token());
        }
        let claims = self
            .verifier
            .verify(&req.guest_access_token)
            .await
            .map_err(|_| bad_token())?;
        let source = Uuid::parse_str(&claims.sub).map_err(|_| bad_token())?;
        if !claims.is_anonymous || source == caller.user_id {
            return Err(bad_token());
        }
        if caller.is_anonymous {
            return Err(AppError::precondition(
                "SIGN_IN_REQUIRED",
                "merge into a signed-in account, not another guest",
            ));
        }
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        let target = self
            .load_user(&mut tx, caller.user_id)
            .await?
            .ok_or_else(|| AppError::not_found("account"))?;
        // Deleting the guest row decides the race between two merges of the same guest.
        let gone: Option<(Uuid,)> =
            sqlx::query_as("DELETE FROM users WHERE id = $1 AND is_anonymous RETURNING id")
                .bind(source)
                .fetch_optional(&mut *tx)
                .await?;
        if gone.is_none() {
            return Err(AppError::not_found("guest account"));
        }
        crate::audit::purge(&mut tx, source).await?;
        let event = events::UserMerged {
            source_user_id: source.to_string(),
            target_user_id: target.id.to_string(),
            occur_time: Some(convert::timestamp(now)),
            local_date: Some(convert::date(convert::local_date(now, &target.timezone))),
            timezone: target.timezone.clone(),
        };
        stride_bus::outbox::enqueue(&mut tx, &event).await?;
        crate::audit::record(
            &mut tx,
            Some(target.id),
            "guest.merged",
            client,
            serde_json::json!({"guest_user_id": source.to_string()}),
            now,
        )
        .await?;
        tx.commit().await?;
        self.outbox.kick();
        Ok(pb::MergeGuestResponse {
            merged_user_id: source.to_string(),
        })
    }
}
