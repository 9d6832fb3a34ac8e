//! Account deletion: re-check the password, then remove the account and announce
//! `user.deleted.v1` so every service purges the user's data.

use stride_kit::{AppError, AppResult, Caller, ClientInfo, Violations, convert};
use stride_proto::{auth as pb, events};
use uuid::Uuid;

use crate::service::{AuthSvc, micros};

impl AuthSvc {
    pub(crate) async fn delete_account_inner(
        &self,
        caller: &Caller,
        client: &ClientInfo,
        req: pb::DeleteAccountRequest,
    ) -> AppResult<pb::DeleteAccountResponse> {
        let user = caller.user_id;
        let Ok(account) = self.account(user).await else {
            // Already deleted; the access token outlives the account by up to 15 minutes.
            return Err(AppError::not_found("account"));
        };
        let proof = if req.password.is_empty() {
            req.proof
        } else {
            Some(pb::AccountProof {
                proof: Some(pb::account_proof::Proof::CurrentPassword(req.password)),
            })
        };
        if proof.is_none() && !account.is_anonymous {
            let mut v = Violations::new();
            v.add(
                "password",
                "is required (or a re-authentication code in proof)",
            );
            v.check()?;
        }
        self.check_proof(&account, proof, client).await?;

        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        // Sessions first (the foreign key would cascade anyway; explicit is clearer), then the
        // account. Nothing else in auth references a user.
        sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        // Identities, codes and reset tokens go with the user row (ON DELETE CASCADE); the
        // append-only audit log gives up this user's rows only here.
        crate::audit::purge(&mut tx, user).await?;
        // Codes sent to the account's addresses before sign-in carry no user id, only the address.
        sqlx::query(
            "DELETE FROM one_time_codes WHERE user_id = $1 OR address = $2 OR address = $3",
        )
        .bind(user)
        .bind(account.email.as_deref().unwrap_or(""))
        .bind(account.phone.as_deref().unwrap_or(""))
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
