//! Email verification and email change (the new address is verified before it replaces the old).

use stride_kit::{AppError, AppResult, Call, Violations, convert::timestamp};
use stride_proto::auth as pb;

use super::{AuthSvc, codes, convert, proof, users};
use crate::{
    domain::{
        audit,
        codes::{Channel, Purpose},
        identity::NewIdentity,
        notices, sessions,
        validate::{self, normalize_email},
    },
    errors,
    store::{self, addresses},
};

pub(super) async fn verify_email(
    svc: &AuthSvc,
    call: Call<pb::VerifyEmailRequest>,
) -> AppResult<pb::VerifyEmailResponse> {
    let caller = call.caller()?;
    let user = users::account(svc, caller.user_id).await?;
    let Some(email) = user.email.clone() else {
        return Err(errors::no_email());
    };
    codes::consume(
        svc,
        Purpose::VerifyEmail,
        Some(Channel::Email),
        Some(&email),
        Some(user.id),
        &call.message.code,
        &call.client,
    )
    .await?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    addresses::mark_email_verified(&mut tx, user.id, &email, now).await?;
    store::audit::record(
        &mut tx,
        Some(user.id),
        audit::EMAIL_VERIFIED,
        &call.client,
        serde_json::json!({}),
        now,
    )
    .await?;
    let user = users::require(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(pb::VerifyEmailResponse {
        user: Some(convert::user(&user)),
    })
}

pub(super) async fn request_email_change(
    svc: &AuthSvc,
    call: Call<pb::RequestEmailChangeRequest>,
) -> AppResult<pb::RequestEmailChangeResponse> {
    let (caller, req, client) = call.into_parts()?;
    let new_email = normalize_email(&req.new_email);
    let mut v = Violations::new();
    validate::check_email(&mut v, "new_email", &new_email);
    v.check()?;
    users::require_live_session(svc, &caller).await?;
    let user = users::account(svc, caller.user_id).await?;
    if user.is_anonymous {
        // A guest proves nothing by holding a token: it claims its account first (L10).
        return Err(errors::sign_in_required());
    }
    if user.email.as_deref() == Some(new_email.as_str()) {
        return Err(AppError::invalid(
            "new_email",
            "is already the account's email",
        ));
    }
    proof::check(svc, &user, req.proof, &client).await?;
    // A taken address gets the same answer and the same accounting (a code is made and counted
    // but not sent, so the change cannot finish): the endpoint must not tell a signed-in user
    // which addresses have accounts, not even through the send limit (M4c). An address held
    // only without proof is not taken: its proof by this user releases it.
    let taken = addresses::verified_email_owners(&mut *svc.pool.acquire().await?, &new_email)
        .await?
        .into_iter()
        .any(|id| id != user.id);
    let expires = codes::issue_with(
        svc,
        Purpose::ChangeEmail,
        Channel::Email,
        &new_email,
        Some(user.id),
        None,
        !taken,
    )
    .await?;
    Ok(pb::RequestEmailChangeResponse {
        expire_time: Some(timestamp(expires)),
    })
}

pub(super) async fn confirm_email_change(
    svc: &AuthSvc,
    call: Call<pb::ConfirmEmailChangeRequest>,
) -> AppResult<pb::ConfirmEmailChangeResponse> {
    let caller = call.caller()?;
    users::require_live_session(svc, caller).await?;
    let new_email = codes::consume(
        svc,
        Purpose::ChangeEmail,
        Some(Channel::Email),
        None,
        Some(caller.user_id),
        &call.message.code,
        &call.client,
    )
    .await?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    let old = users::require(&mut tx, caller.user_id).await?;
    // This user proved the address: accounts that only claimed it without proof let go of it.
    users::release_unproved_elsewhere(&mut tx, &new_email, old.id, now).await?;
    addresses::set_email(&mut tx, old.id, &new_email, now)
        .await
        .map_err(|e| errors::unique_or(e, errors::email_in_use))?;
    // The email identity follows the address (created if the account had none).
    let moved = match &old.email {
        // Another account's proved secondary email identity: taken, not an internal error (I4).
        Some(prev) => store::identities::move_email(&mut tx, old.id, prev, &new_email)
            .await
            .map_err(|e| errors::unique_or(e, errors::email_in_use))?,
        None => 0,
    };
    if moved == 0 {
        let primary = store::identities::none_yet(&mut tx, old.id).await?;
        users::add_identity(
            &mut tx,
            old.id,
            &NewIdentity::email(&new_email, true),
            primary,
            now,
        )
        .await?;
    }
    // Secrets addressed to the previous address die with the change, and other sessions end
    // (L9): whoever still reads the old mailbox keeps no way in.
    store::resets::kill_unused(&mut tx, old.id, now).await?;
    if let Some(prev) = &old.email {
        store::codes::kill_all_to(&mut tx, prev, now).await?;
    }
    let keep = sessions::family(&caller.session_id);
    let ended = store::sessions::revoke_all(&mut tx, old.id, keep, now).await?;
    store::audit::record(
        &mut tx,
        Some(old.id),
        audit::EMAIL_CHANGED,
        &call.client,
        serde_json::json!({"other_sessions_ended": ended}),
        now,
    )
    .await?;
    let user = users::require(&mut tx, old.id).await?;
    tx.commit().await?;
    if let Some(prev) = old.email {
        svc.notifier.mail(prev, notices::email_changed(&new_email));
    }
    Ok(pb::ConfirmEmailChangeResponse {
        user: Some(convert::user(&user)),
    })
}
