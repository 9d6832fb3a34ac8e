//! Sign-in with Google / Facebook ID tokens and the Telegram Login Widget. An external identity
//! is keyed by (provider, subject), never by email; a verified email that matches exactly one
//! account links to it, anything else is a new account.

use stride_kit::{AppError, AppResult, Call, ClientInfo, Violations};
use stride_proto::auth as pb;
use uuid::Uuid;

use super::{AuthSvc, convert, tokens, users};
use crate::{
    domain::{
        audit,
        identity::{self, ExternalIdentity, NewIdentity},
        notices,
        validate::timezone_or_utc,
    },
    store::{self, addresses, users::UserRow},
};

/// Finds or creates the account of a verified external identity.
async fn sign_in(
    svc: &AuthSvc,
    client: &ClientInfo,
    ext: &ExternalIdentity,
    timezone: &str,
) -> AppResult<(UserRow, pb::TokenPair, bool)> {
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    let mut owner = store::identities::owner(&mut tx, ext.provider, &ext.subject).await?;
    let mut linked = false;
    if owner.is_none()
        && ext.email_verified
        && let Some(email) = &ext.email
    {
        // A verified email that matches exactly one account with that email verified.
        let matches = addresses::verified_email_owners(&mut tx, email).await?;
        if let Some(id) = identity::sole_match(&matches) {
            users::add_identity(&mut tx, id, &NewIdentity::from(ext.clone()), false, now).await?;
            owner = Some(id);
            linked = true;
        }
    }
    let created = owner.is_none();
    let user = match owner {
        Some(id) => {
            store::identities::touch(&mut tx, id, ext.provider, &ext.subject, now).await?;
            users::require(&mut tx, id).await?
        }
        None => {
            // The provider's email is taken only when verified and free: no account has it
            // as its address, nor as a linked email identity.
            let email = match (&ext.email, ext.email_verified) {
                (Some(e), true) => addresses::email_free(&mut tx, e).await?.then(|| e.clone()),
                _ => None,
            };
            let mut user = UserRow::new(now, timezone.to_owned());
            user.email_verified_at = email.as_ref().map(|_| now);
            user.email = email;
            users::insert(&mut tx, &user, Some(&NewIdentity::from(ext.clone())), now).await?;
            user
        }
    };
    let family = Uuid::now_v7();
    let tokens = tokens::issue(svc, &mut tx, &user, family, now).await?;
    store::audit::record(
        &mut tx,
        Some(user.id),
        audit::sign_in_kind(created, linked),
        client,
        serde_json::json!({"method": ext.provider, "session_id": family.to_string()}),
        now,
    )
    .await?;
    tx.commit().await?;
    // Linked on the provider's word about the email alone: the owner is told (L4).
    if linked && let Some(email) = user.email.clone() {
        svc.notifier
            .mail(email, notices::identity_auto_linked(ext.provider));
    }
    Ok((user, tokens, created))
}

/// Two first sign-ins of one new identity race: the loser's insert hits the unique index
/// (or the address the winner just took); a second pass finds the winner's account.
pub(super) async fn sign_in_once_more(
    svc: &AuthSvc,
    client: &ClientInfo,
    ext: &ExternalIdentity,
    timezone: &str,
) -> AppResult<(UserRow, pb::TokenPair, bool)> {
    match sign_in(svc, client, ext, timezone).await {
        Err(AppError::AlreadyExists { .. }) => sign_in(svc, client, ext, timezone).await,
        other => other,
    }
}

pub(super) async fn sign_in_with_id_token(
    svc: &AuthSvc,
    call: Call<pb::SignInWithIdTokenRequest>,
) -> AppResult<pb::SignInWithIdTokenResponse> {
    let Call {
        message: req,
        client,
        ..
    } = call;
    let mut v = Violations::new();
    let timezone = timezone_or_utc(&mut v, &req.timezone);
    v.check()?;
    let credential = pb::IdTokenCredential {
        provider: req.provider,
        id_token: req.id_token,
        nonce: req.nonce,
    };
    let ext = svc
        .providers
        .verify_id_token(&credential, svc.clock.now().into())
        .await?;
    let (user, tokens, created) = sign_in_once_more(svc, &client, &ext, &timezone).await?;
    Ok(pb::SignInWithIdTokenResponse {
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
        created,
    })
}

pub(super) async fn sign_in_with_telegram(
    svc: &AuthSvc,
    call: Call<pb::SignInWithTelegramRequest>,
) -> AppResult<pb::SignInWithTelegramResponse> {
    let req = &call.message;
    let mut v = Violations::new();
    let timezone = timezone_or_utc(&mut v, &req.timezone);
    v.when(req.data.is_none(), "data", "is required");
    v.check()?;
    let data = req.data.clone().unwrap_or_default();
    let ext = svc
        .providers
        .verify_telegram(&data, svc.clock.now().unix_timestamp())?;
    let (user, tokens, created) = sign_in_once_more(svc, &call.client, &ext, &timezone).await?;
    Ok(pb::SignInWithTelegramResponse {
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
        created,
    })
}
