//! Guest (anonymous) accounts: real tokens with `is_anonymous: true`, limited per client address;
//! claimed in place (same user id) with email + password or a linked identity; or merged into a
//! signed-in account, which `user.merged.v1` tells every service to apply.

use stride_kit::{AppError, AppResult, Call, Violations};
use stride_proto::auth as pb;
use uuid::Uuid;

use super::{AuthSvc, codes, convert, record_user, tokens, users};
use crate::{
    domain::{
        audit,
        codes::{Channel, Purpose},
        notices, throttle,
        validate::{self, normalize_email},
    },
    errors, events,
    store::{self, users::UserRow},
};

pub(super) async fn signup_guest(
    svc: &AuthSvc,
    call: Call<pb::SignupGuestRequest>,
) -> AppResult<pb::SignupGuestResponse> {
    let mut v = Violations::new();
    let timezone = validate::timezone_or_utc(&mut v, &call.message.timezone);
    v.check()?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    if let Some(ip) = call.client.network() {
        let key = throttle::guest_key(ip);
        store::advisory_xact_lock(&mut tx, &throttle::guest_lock(ip)).await?;
        let n = store::throttle::count(&mut *tx, &key, now - throttle::HOUR).await?;
        if throttle::guests_exhausted(n, &svc.settings.limits) {
            return Err(errors::too_many_attempts(
                "too many guest accounts from this address; try again later",
            ));
        }
        store::throttle::hit(&mut tx, &key, now).await?;
    }
    let mut user = UserRow::new(now, timezone);
    user.is_anonymous = true;
    users::insert(&mut tx, &user, None, now).await?;
    let tokens = tokens::issue(svc, &mut tx, &user, Uuid::now_v7(), now).await?;
    store::audit::record(
        &mut tx,
        Some(user.id),
        audit::ACCOUNT_CREATED,
        &call.client,
        serde_json::json!({"method": "guest"}),
        now,
    )
    .await?;
    tx.commit().await?;
    record_user(user.id);
    Ok(pb::SignupGuestResponse {
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
    })
}

/// Starts a guest's claim: nothing is attached to the account until the address is proved (H1).
/// The username and password hash wait in `guest_claims`; a LINK code goes to a free address
/// (its owner gets a notice instead when it is taken, and the answer is the same, M4b); the
/// guest finishes with LinkIdentity and that code.
pub(super) async fn claim_guest(
    svc: &AuthSvc,
    call: Call<pb::ClaimGuestRequest>,
) -> AppResult<pb::ClaimGuestResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let email = normalize_email(&req.email);
    let mut v = Violations::new();
    validate::check_email(&mut v, "email", &email);
    validate::check_username(&mut v, "username", &req.username);
    validate::check_new_password(&mut v, "password", &req.password);
    v.check()?;
    if !caller.is_anonymous {
        return Err(errors::not_a_guest());
    }
    svc.hasher.check_capacity()?;
    let hash = svc.hasher.hash(req.password.clone()).await?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    let user = users::require(&mut tx, caller.user_id).await?;
    if !user.is_anonymous {
        return Err(errors::not_a_guest());
    }
    store::claims::delete(&mut tx, user.id).await?;
    // Usernames are public handles: a taken one may be said (for any address).
    if store::users::username_taken(&mut tx, &req.username, "").await? {
        return Err(errors::username_taken());
    }
    store::claims::upsert(&mut tx, user.id, &email, &req.username, &hash, now).await?;
    let taken = store::addresses::email_owner(&mut *tx, &email).await?;
    store::audit::record(
        &mut tx,
        Some(user.id),
        audit::GUEST_CLAIM_REQUESTED,
        &call.client,
        serde_json::json!({}),
        now,
    )
    .await?;
    tx.commit().await?;
    match taken {
        Some(owner) => {
            // The same work and answer as a free address; the owner is told, no code is sent.
            let key = throttle::signup_notice_key(&email);
            let mut conn = svc.pool.acquire().await?;
            let sent = store::throttle::count(&mut *conn, &key, now - throttle::HOUR).await?;
            if throttle::notice_due(sent) {
                store::throttle::hit(&mut conn, &key, now).await?;
                svc.notifier.mail(email, notices::signup_attempt(owner));
            }
        }
        None => {
            // Over the hourly code limit the answer stays the same; the code just is not sent.
            if let Err(e) =
                codes::issue(svc, Purpose::Link, Channel::Email, &email, Some(user.id)).await
            {
                tracing::info!(error = %e, "guest claim code not sent");
            }
        }
    }
    Ok(pb::ClaimGuestResponse {
        user: Some(convert::user(&user)),
        tokens: None,
        confirmation_required: true,
    })
}

pub(super) async fn merge_guest(
    svc: &AuthSvc,
    call: Call<pb::MergeGuestRequest>,
) -> AppResult<pb::MergeGuestResponse> {
    let caller = call.caller()?;
    let token = &call.message.guest_access_token;
    let bad_token = || {
        AppError::invalid(
            "guest_access_token",
            "must be a valid access token of another guest account",
        )
    };
    if token.is_empty() || token.len() > 4096 {
        return Err(bad_token());
    }
    let claims = svc.verifier.verify(token).await.map_err(|_| bad_token())?;
    let source = Uuid::parse_str(&claims.sub).map_err(|_| bad_token())?;
    if !claims.is_anonymous || source == caller.user_id {
        return Err(bad_token());
    }
    if caller.is_anonymous {
        return Err(errors::sign_in_required());
    }
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    let target = users::require(&mut tx, caller.user_id).await?;
    // Deleting the guest row decides the race between two merges of the same guest.
    if !store::users::delete_guest(&mut tx, source).await? {
        return Err(AppError::not_found("guest account"));
    }
    store::audit::purge(&mut tx, source).await?;
    tx.publish(&events::merged(source, &target, now)).await?;
    store::audit::record(
        &mut tx,
        Some(target.id),
        audit::GUEST_MERGED,
        &call.client,
        serde_json::json!({"guest_user_id": source.to_string()}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(pb::MergeGuestResponse {
        merged_user_id: source.to_string(),
    })
}
