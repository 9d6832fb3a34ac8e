//! The caller's own account: reading it, and deleting it (re-check the proof, remove the
//! account and announce `user.deleted.v1` so every service purges the user's data).

use stride_kit::{AppError, AppResult, Call, Violations};
use stride_proto::auth as pb;

use super::{AuthSvc, convert, proof, users};
use crate::{events, store};

pub(super) async fn get_me(
    svc: &AuthSvc,
    call: Call<pb::GetMeRequest>,
) -> AppResult<pb::GetMeResponse> {
    let caller = call.caller()?;
    let user = users::account(svc, caller.user_id).await?;
    Ok(pb::GetMeResponse {
        user: Some(convert::user(&user)),
    })
}

pub(super) async fn delete_account(
    svc: &AuthSvc,
    call: Call<pb::DeleteAccountRequest>,
) -> AppResult<pb::DeleteAccountResponse> {
    let (caller, req, client) = call.into_parts()?;
    users::require_live_session(svc, &caller).await?;
    let user = caller.user_id;
    let Ok(account) = users::account(svc, user).await else {
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
    proof::check(svc, &account, proof, &client).await?;

    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    // Sessions first (the foreign key would cascade anyway; explicit is clearer), then the
    // account. Nothing else in auth references a user.
    store::sessions::delete_of_user(&mut tx, user).await?;
    // Identities, codes and reset tokens go with the user row (ON DELETE CASCADE); the
    // append-only audit log gives up this user's rows only here.
    store::audit::purge(&mut tx, user).await?;
    // Codes sent to the account's addresses before sign-in carry no user id, only the address.
    store::codes::delete_of_account(
        &mut tx,
        user,
        account.email.as_deref().unwrap_or(""),
        account.phone.as_deref().unwrap_or(""),
    )
    .await?;
    // A concurrent deletion won: it announced the event, this one must not announce twice.
    let Some(timezone) = store::users::delete(&mut tx, user).await? else {
        return Err(AppError::not_found("account"));
    };
    tx.publish(&events::deleted(user, now, timezone)).await?;
    tx.commit().await?;
    tracing::info!(%user, "account deleted");
    Ok(pb::DeleteAccountResponse {})
}
