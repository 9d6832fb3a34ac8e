//! Sign-in identities: listing, linking (after proving the account), unlinking (never the last)
//! and choosing the primary one (where codes and mail go).

use stride_kit::{AppError, AppResult, Call, convert::require_id};
use stride_proto::auth as pb;

use super::{AuthSvc, codes, convert, proof, tokens, users};
use crate::{
    domain::{
        audit,
        codes::{Channel, Purpose},
        identity::{self, NewIdentity, UnlinkRefusal},
        notices,
    },
    errors,
    store::{self, addresses},
};

pub(super) async fn list_identities(
    svc: &AuthSvc,
    call: Call<pb::ListIdentitiesRequest>,
) -> AppResult<pb::ListIdentitiesResponse> {
    let caller = call.caller()?;
    let rows = store::identities::list(&svc.pool, caller.user_id).await?;
    Ok(pb::ListIdentitiesResponse {
        identities: rows.iter().map(convert::identity).collect(),
    })
}

/// The identity a link request carries, checked with its provider (or proved by a code).
async fn credential_identity(
    svc: &AuthSvc,
    credential: pb::link_identity_request::Credential,
    user: uuid::Uuid,
    client: &stride_kit::ClientInfo,
) -> AppResult<NewIdentity> {
    use pb::link_identity_request::Credential;
    Ok(match credential {
        Credential::IdToken(c) => svc
            .providers
            .verify_id_token(&c, svc.clock.now().into())
            .await?
            .into(),
        Credential::Telegram(t) => svc
            .providers
            .verify_telegram(&t, svc.clock.now().unix_timestamp())?
            .into(),
        Credential::Code(c) => {
            let (channel, address) = convert::address(c.channel, &c.address)?;
            codes::consume(
                svc,
                Purpose::Link,
                Some(channel),
                Some(&address),
                Some(user),
                &c.code,
                client,
            )
            .await?;
            NewIdentity::proved(channel, &address)
        }
        Credential::TelegramWebAppInitData(init_data) => {
            super::signins::telegram_webapp_identity(svc, &init_data, "telegram_web_app_init_data")?
                .into()
        }
        Credential::FacebookAccessToken(token) => {
            super::signins::facebook_identity(svc, &token, "facebook_access_token")
                .await?
                .into()
        }
    })
}

pub(super) async fn link_identity(
    svc: &AuthSvc,
    call: Call<pb::LinkIdentityRequest>,
) -> AppResult<pb::LinkIdentityResponse> {
    let (caller, req, client) = call.into_parts()?;
    users::require_live_session(svc, &caller).await?;
    let Some(credential) = req.credential else {
        return Err(AppError::invalid(
            "credential",
            "is required: an ID token, Telegram data or a code credential",
        ));
    };
    let user = users::account(svc, caller.user_id).await?;
    proof::check(svc, &user, req.proof, &client).await?;
    let identity = credential_identity(svc, credential, user.id, &client).await?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    // An address that is another account's own (its email or phone) belongs to that account
    // even without an identity row for it, e.g. the verified email a Google sign-in gave it.
    let address = identity.address();
    if let Some(channel) = address
        && addresses::taken_by_other(&mut tx, channel, &identity.subject, user.id).await?
    {
        return Err(errors::identity_in_use());
    }
    let primary = store::identities::none_yet(&mut tx, user.id).await?;
    let id = users::add_identity(&mut tx, user.id, &identity, primary, now).await?;
    // A proved address becomes the account's address when it has none yet.
    if let Some(channel) = address {
        addresses::adopt(&mut tx, user.id, channel, &identity.subject, now)
            .await
            .map_err(|e| errors::unique_or(e, errors::identity_in_use))?;
    }
    let claimed = user.is_anonymous;
    if claimed {
        store::users::clear_anonymous(&mut tx, user.id).await?;
        // A ClaimGuest waiting for this very address: its username and password apply now
        // that the address is proved.
        if address == Some(Channel::Email)
            && let Some(claim) = store::claims::take(&mut tx, user.id, &identity.subject).await?
        {
            store::users::apply_claim(&mut tx, user.id, &claim.username, &claim.password_hash, now)
                .await
                .map_err(|e| errors::unique_or(e, errors::username_taken))?;
        }
        store::claims::delete(&mut tx, user.id).await?;
    }
    let user = users::require(&mut tx, user.id).await?;
    // A claimed guest gets a pair that no longer says anonymous, in a new session; the guest's
    // sessions end, so no copy of a guest refresh token outlives the claim (L2).
    let tokens = if claimed {
        let family = uuid::Uuid::now_v7();
        store::sessions::revoke_all(&mut tx, user.id, None, now).await?;
        Some(tokens::issue(svc, &mut tx, &user, family, now).await?)
    } else {
        None
    };
    store::audit::record(
        &mut tx,
        Some(user.id),
        if claimed {
            audit::GUEST_CLAIMED
        } else {
            audit::IDENTITY_LINKED
        },
        &client,
        serde_json::json!({"provider": identity.provider, "identity_id": id.to_string()}),
        now,
    )
    .await?;
    let row = store::identities::get(&mut tx, id).await?;
    tx.commit().await?;
    if let Some(email) = user.email.clone().filter(|_| !claimed) {
        svc.notifier
            .mail(email, notices::identity_linked(identity.provider));
    }
    Ok(pb::LinkIdentityResponse {
        identity: Some(convert::identity(&row)),
        user: Some(convert::user(&user)),
        tokens,
    })
}

pub(super) async fn unlink_identity(
    svc: &AuthSvc,
    call: Call<pb::UnlinkIdentityRequest>,
) -> AppResult<pb::UnlinkIdentityResponse> {
    let caller = call.caller()?;
    let id = require_id("identity_id", &call.message.identity_id)?;
    users::require_live_session(svc, caller).await?;
    // A stolen access token alone must not remove a way in (L1).
    let user = users::account(svc, caller.user_id).await?;
    proof::check(svc, &user, call.message.proof.clone(), &call.client).await?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    // Lock the user's identities so two concurrent unlinks cannot remove the last two.
    let rows = store::identities::lock_all(&mut tx, caller.user_id).await?;
    let held: Vec<_> = rows.iter().map(|r| (r.id, r.is_primary)).collect();
    let next_primary = identity::plan_unlink(&held, id).map_err(|refusal| match refusal {
        UnlinkRefusal::NotFound => AppError::not_found("identity"),
        UnlinkRefusal::LastIdentity => errors::last_identity(),
    })?;
    let Some(target) = rows.iter().find(|r| r.id == id) else {
        return Err(AppError::not_found("identity"));
    };
    store::identities::delete(&mut tx, id).await?;
    match identity::address_channel(&target.provider) {
        // Without its email the password has nothing to sign in with.
        Some(Channel::Email) => {
            let cleared = addresses::drop_email(&mut tx, caller.user_id, &target.subject).await?;
            // The oldest other email identity takes over as the account's address: without
            // one, re-authentication codes, notices and resets would have nowhere to go and a
            // passwordless account could no longer prove itself.
            if cleared == 1 {
                addresses::promote_next_email(&mut tx, caller.user_id, now).await?;
            }
        }
        Some(Channel::Sms) => {
            addresses::drop_phone(&mut tx, caller.user_id, &target.subject).await?;
        }
        None => {}
    }
    if let Some(next) = next_primary {
        store::identities::set_primary(&mut tx, next).await?;
    }
    store::audit::record(
        &mut tx,
        Some(caller.user_id),
        audit::IDENTITY_UNLINKED,
        &call.client,
        serde_json::json!({"provider": target.provider, "identity_id": id.to_string()}),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(pb::UnlinkIdentityResponse {})
}

pub(super) async fn set_primary_identity(
    svc: &AuthSvc,
    call: Call<pb::SetPrimaryIdentityRequest>,
) -> AppResult<pb::SetPrimaryIdentityResponse> {
    let caller = call.caller()?;
    let id = require_id("identity_id", &call.message.identity_id)?;
    users::require_live_session(svc, caller).await?;
    // The primary decides where re-authentication codes go: changing it needs proof (L1).
    let user = users::account(svc, caller.user_id).await?;
    proof::check(svc, &user, call.message.proof.clone(), &call.client).await?;
    let mut tx = svc.outbox.begin().await?;
    if !store::identities::belongs_to(&mut tx, id, caller.user_id).await? {
        return Err(AppError::not_found("identity"));
    }
    // Two statements: the one-primary index is checked row by row.
    store::identities::clear_primary(&mut tx, caller.user_id).await?;
    store::identities::set_primary(&mut tx, id).await?;
    tx.commit().await?;
    Ok(pb::SetPrimaryIdentityResponse {})
}
