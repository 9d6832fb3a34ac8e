//! Email verification and email change (the new address is verified before it replaces the old).

use stride_kit::{AppError, AppResult, Call, ClientInfo, Violations, convert::timestamp};
use stride_proto::auth as pb;

use super::{AuthSvc, codes, convert, proof, users};
use crate::{
    domain::{
        audit,
        codes::{Channel, Purpose},
        identity::NewIdentity,
        notices,
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
    let (caller, req, _) = call.into_parts()?;
    let new_email = normalize_email(&req.new_email);
    let mut v = Violations::new();
    validate::check_email(&mut v, "new_email", &new_email);
    v.check()?;
    let user = users::account(svc, caller.user_id).await?;
    if user.email.as_deref() == Some(new_email.as_str()) {
        return Err(AppError::invalid(
            "new_email",
            "is already the account's email",
        ));
    }
    proof::check(svc, &user, req.proof, &ClientInfo::default()).await?;
    // A taken address gets the same answer (no code is sent, so the change cannot finish):
    // the endpoint must not tell a signed-in user which addresses have accounts.
    let taken = addresses::email_owner(&svc.pool, &new_email).await?;
    let now = svc.clock.now_db();
    let expires = if taken.is_some() {
        now + svc.settings.limits.code_ttl
    } else {
        codes::issue(
            svc,
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

pub(super) async fn confirm_email_change(
    svc: &AuthSvc,
    call: Call<pb::ConfirmEmailChangeRequest>,
) -> AppResult<pb::ConfirmEmailChangeResponse> {
    let caller = call.caller()?;
    let new_email = codes::consume(
        svc,
        Purpose::ChangeEmail,
        Some(Channel::Email),
        None,
        Some(caller.user_id),
        &call.message.code,
    )
    .await?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    let old = users::require(&mut tx, caller.user_id).await?;
    addresses::set_email(&mut tx, old.id, &new_email, now)
        .await
        .map_err(|e| errors::unique_or(e, errors::email_in_use))?;
    // The email identity follows the address (created if the account had none).
    let moved = match &old.email {
        Some(prev) => store::identities::move_email(&mut tx, old.id, prev, &new_email).await?,
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
    store::audit::record(
        &mut tx,
        Some(old.id),
        audit::EMAIL_CHANGED,
        &call.client,
        serde_json::json!({}),
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
