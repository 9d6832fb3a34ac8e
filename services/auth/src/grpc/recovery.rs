//! Password change (with the current password) and reset (by mailed token).
//!
//! Reset: the request answers the same whether or not the email has an account; the token is
//! 256 random bits stored as SHA-256, single use, valid one hour, killed by a newer one, with a
//! resend cooldown. Applying it ends every session and pending code, clears the login lockout
//! and does not sign anyone in.

use stride_kit::{AppResult, Call, Violations};
use stride_proto::auth as pb;

use super::{AuthSvc, proof, users};
use crate::{
    domain::{
        audit, crypto, notices, sessions, throttle,
        validate::{self, normalize_email},
    },
    errors, store,
};

pub(super) async fn change_password(
    svc: &AuthSvc,
    call: Call<pb::ChangePasswordRequest>,
) -> AppResult<pb::ChangePasswordResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let mut v = Violations::new();
    v.when(
        req.current_password.is_empty(),
        "current_password",
        "is required",
    );
    validate::check_new_password(&mut v, "new_password", &req.new_password);
    v.when(
        !req.new_password.is_empty() && req.new_password == req.current_password,
        "new_password",
        "must differ from the current password",
    );
    v.check()?;
    users::require_live_session(svc, caller).await?;
    let user = users::account(svc, caller.user_id).await?;
    if user.password_hash.is_none() {
        return Err(errors::no_password());
    }
    let current = pb::AccountProof {
        proof: Some(pb::account_proof::Proof::CurrentPassword(
            req.current_password.clone(),
        )),
    };
    proof::check(svc, &user, Some(current), &call.client).await?;
    let hash = svc.hasher.hash(req.new_password.clone()).await?;
    let now = svc.clock.now_db();
    let keep = sessions::family(&caller.session_id);
    let mut tx = svc.outbox.begin().await?;
    store::users::change_password(&mut tx, user.id, &hash, now).await?;
    let revoked = store::sessions::revoke_all(&mut tx, user.id, keep, now).await?;
    store::audit::record(
        &mut tx,
        Some(user.id),
        audit::PASSWORD_CHANGED,
        &call.client,
        serde_json::json!({"other_sessions_ended": revoked}),
        now,
    )
    .await?;
    tx.commit().await?;
    if let Some(email) = user.email {
        svc.notifier.mail(email, notices::password_changed());
    }
    Ok(pb::ChangePasswordResponse {
        revoked_sessions: revoked,
    })
}

pub(super) async fn request_password_reset(
    svc: &AuthSvc,
    call: Call<pb::RequestPasswordResetRequest>,
) -> AppResult<pb::RequestPasswordResetResponse> {
    let email = normalize_email(&call.message.email);
    let mut v = Violations::new();
    validate::check_email(&mut v, "email", &email);
    v.check()?;
    let now = svc.clock.now_db();
    let limits = &svc.settings.limits;
    let mut tx = svc.outbox.begin().await?;
    let user = store::users::by_email(&mut tx, &email).await?;
    // From here on the answer is fixed: nothing below may change it or how long it takes
    // in a way that depends on the account existing (the mail goes out asynchronously).
    let Some(user) = user else {
        return Ok(pb::RequestPasswordResetResponse {});
    };
    store::users::lock(&mut tx, user.id).await?;
    if store::resets::requested_since(&mut tx, user.id, now - limits.reset_cooldown).await? {
        return Ok(pb::RequestPasswordResetResponse {});
    }
    // A new token kills any older one.
    store::resets::kill_unused(&mut tx, user.id, now).await?;
    let (token, hash) = crypto::new_token()?;
    store::resets::insert(&mut tx, user.id, &hash, now, now + limits.reset_ttl).await?;
    store::audit::record(
        &mut tx,
        Some(user.id),
        audit::PASSWORD_RESET_REQUESTED,
        &call.client,
        serde_json::json!({}),
        now,
    )
    .await?;
    tx.commit().await?;
    svc.notifier.mail(
        email,
        notices::reset_link(
            &svc.settings.reset_url,
            &token,
            limits.reset_ttl.whole_minutes(),
        ),
    );
    Ok(pb::RequestPasswordResetResponse {})
}

pub(super) async fn reset_password(
    svc: &AuthSvc,
    call: Call<pb::ResetPasswordRequest>,
) -> AppResult<pb::ResetPasswordResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    v.when(!crypto::plausible_token(&req.token), "token", "is required");
    validate::check_new_password(&mut v, "new_password", &req.new_password);
    v.check()?;
    let hash = crypto::token_hash(&req.token);
    let now = svc.clock.now_db();
    if !store::resets::usable(&svc.pool, &hash, now).await? {
        return Err(errors::reset_token_invalid());
    }
    // Hash outside the transaction (the bounded hasher may queue), then re-check under lock.
    let password_hash = svc.hasher.hash(req.new_password.clone()).await?;
    let mut tx = svc.outbox.begin().await?;
    let Some((reset_id, user)) = store::resets::lock_usable(&mut tx, &hash, now).await? else {
        return Err(errors::reset_token_invalid());
    };
    store::resets::mark_used(&mut tx, reset_id, now).await?;
    // The reset link proves the mailbox. If that is the first proof of the account's address,
    // what was attached before it (other identities, sessions) may be a stranger's: it goes
    // (the password is the one being set here).
    let before = users::require(&mut tx, user).await?;
    let notice = match before.email.as_deref() {
        Some(e) if before.email_verified_at.is_none() => {
            users::discard_unproved(&mut tx, user, e, true, &call.client, now).await?
        }
        _ => None,
    };
    let Some(email) = store::users::reset_password(&mut tx, user, &password_hash, now).await?
    else {
        return Err(errors::reset_token_invalid());
    };
    // A sign-up that was never confirmed: the reset proved the mailbox, so it is active now.
    users::activate_if_pending(&mut tx, user, now).await?;
    let revoked = store::sessions::revoke_all(&mut tx, user, None, now).await?;
    store::codes::kill_all_of_user(&mut tx, user, now).await?;
    if let Some(e) = &email {
        store::codes::kill_all_to(&mut tx, e, now).await?;
        // The owner proved the mailbox: a lockout someone else caused ends here, and so does
        // the pause on codes that too many wrong guesses put on the address.
        store::throttle::clear(&mut tx, &throttle::login_account_key(e)).await?;
        store::throttle::clear(&mut tx, &throttle::code_failure_address_key("email", e)).await?;
    }
    store::audit::record(
        &mut tx,
        Some(user),
        audit::PASSWORD_RESET,
        &call.client,
        serde_json::json!({"sessions_ended": revoked}),
        now,
    )
    .await?;
    tx.commit().await?;
    if let Some(e) = email {
        if let Some(n) = notice {
            svc.notifier.mail(e.clone(), n);
        }
        svc.notifier.mail(e, notices::password_reset());
    }
    Ok(pb::ResetPasswordResponse {})
}
