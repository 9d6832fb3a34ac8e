//! Password sign-up. With email confirmation (the default) the answer never tells whether the
//! address already has an account: a new address gets a pending account and a code; a pending
//! one gets a fresh code; a taken one gets a notice to its owner. Only ConfirmSignup — the code
//! back from the mailbox — activates the account, announces it and returns tokens. Without
//! confirmation, Signup returns tokens at once.

use stride_kit::{AppError, AppResult, Call, Violations};
use stride_proto::auth as pb;
use uuid::Uuid;

use super::{AuthSvc, codes, convert, record_user, tokens, users};
use crate::{
    domain::{
        audit,
        codes::{Channel, Purpose},
        identity::NewIdentity,
        notices, throttle,
        validate::{self, normalize_email, valid_password},
    },
    errors,
    store::{self, users::UserRow},
};

pub(super) async fn signup(
    svc: &AuthSvc,
    call: Call<pb::SignupRequest>,
) -> AppResult<pb::SignupResponse> {
    let Call {
        message: req,
        client,
        ..
    } = call;
    let email = normalize_email(&req.email);
    let mut v = Violations::new();
    validate::check_email(&mut v, "email", &email);
    validate::check_username(&mut v, "username", &req.username);
    validate::check_new_password(&mut v, "password", &req.password);
    let timezone = validate::timezone_or_utc(&mut v, &req.timezone);
    v.check()?;
    svc.hasher.check_capacity()?;

    let password_hash = svc.hasher.hash(req.password).await?;
    let now = svc.clock.now_db();
    let mut user = UserRow::new(now, timezone);
    user.email = Some(email.clone());
    user.username = Some(req.username);
    user.password_hash = Some(password_hash);
    if svc.settings.signup_confirmation {
        return signup_pending(svc, user, email).await;
    }
    let mut tx = svc.outbox.begin().await?;
    users::insert(
        &mut tx,
        &user,
        Some(&NewIdentity::email(&email, false)),
        now,
    )
    .await?;
    let tokens = tokens::issue(svc, &mut tx, &user, Uuid::now_v7(), now).await?;
    store::audit::record(
        &mut tx,
        Some(user.id),
        audit::ACCOUNT_CREATED,
        &client,
        serde_json::json!({"method": "password"}),
        now,
    )
    .await?;
    tx.commit().await?;
    record_user(user.id);
    Ok(pb::SignupResponse {
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
        confirmation_required: false,
    })
}

/// The confirmation-mode half of Signup; `user` is valid and its password hash made (every
/// path pays for the hash, so timing says nothing either).
async fn signup_pending(
    svc: &AuthSvc,
    user: UserRow,
    email: String,
) -> AppResult<pb::SignupResponse> {
    let answer = pb::SignupResponse {
        user: None,
        tokens: None,
        confirmation_required: true,
    };
    let now = user.created_at;
    let username = user.username.as_deref().unwrap_or_default();
    let mut tx = svc.outbox.begin().await?;
    // Usernames are public handles: a taken one may be said (for any address).
    if store::users::username_taken(&mut tx, username, &email).await? {
        return Err(errors::username_taken());
    }
    let target = match store::users::with_email(&mut tx, &email).await? {
        Some((id, true)) => {
            // Another try before confirming: this attempt replaces the previous one and gets a
            // fresh code. Whoever confirms must give this attempt's password with the code; the
            // mailbox owner confirming with another password keeps the account, without it.
            store::users::replace_pending_attempt(&mut tx, id, &user).await?;
            Some(id)
        }
        Some((id, false)) => {
            let key = throttle::signup_notice_key(&email);
            let sent = store::throttle::count(&mut *tx, &key, now - throttle::HOUR).await?;
            if throttle::notice_due(sent) {
                store::throttle::hit(&mut tx, &key, now).await?;
                tx.commit().await?;
                svc.notifier.mail(email, notices::signup_attempt(id));
            }
            return Ok(answer);
        }
        None => {
            let identity = NewIdentity::email(&email, false);
            match users::insert_pending(&mut tx, &user, Some(&identity), now).await {
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
        if let Err(e) =
            codes::issue(svc, Purpose::VerifyEmail, Channel::Email, &email, Some(id)).await
        {
            tracing::info!(error = %e, "sign-up confirmation code not sent");
        }
    }
    Ok(answer)
}

pub(super) async fn confirm_signup(
    svc: &AuthSvc,
    call: Call<pb::ConfirmSignupRequest>,
) -> AppResult<pb::ConfirmSignupResponse> {
    let req = &call.message;
    let email = normalize_email(&req.email);
    let mut v = Violations::new();
    // Only an address sign-up accepted can have a pending account; anything else (a NUL, which
    // PostgreSQL refuses in text, control characters, 100 KB) is refused by name, unlooked-up.
    validate::check_lookup_email(&mut v, "email", &email);
    v.when(req.code.is_empty(), "code", "is required");
    v.when(
        req.password.is_empty(),
        "password",
        "is required: the password chosen at sign-up",
    );
    v.check()?;
    let Some(id) = store::users::pending_with_email(&svc.pool, &email).await? else {
        return Err(errors::code_invalid());
    };
    codes::consume(
        svc,
        Purpose::VerifyEmail,
        Some(Channel::Email),
        Some(&email),
        Some(id),
        &req.code,
        &call.client,
    )
    .await?;
    // The mailbox is proved. The stored password is the newest attempt's: it stays only when
    // the prover knows it (a stranger may have signed up with this address after the owner).
    let stored = store::users::pending_password(&svc.pool, id).await?;
    let keep_password = valid_password(&req.password)
        && stored.is_some()
        && svc.hasher.verify(req.password.clone(), stored).await?;
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    let notice =
        users::discard_unproved(&mut tx, id, &email, keep_password, &call.client, now).await?;
    if !users::activate_if_pending(&mut tx, id, now).await? {
        // Confirmed meanwhile (another device, a reset): the code was still good.
        tracing::info!(user_id = %id, "sign-up confirmed twice");
    }
    let user = users::require(&mut tx, id).await?;
    let family = Uuid::now_v7();
    let tokens = tokens::issue(svc, &mut tx, &user, family, now).await?;
    store::audit::record(
        &mut tx,
        Some(id),
        audit::ACCOUNT_CREATED,
        &call.client,
        serde_json::json!({"method": "password", "session_id": family.to_string()}),
        now,
    )
    .await?;
    tx.commit().await?;
    if let Some(n) = notice {
        svc.notifier.mail(email, n);
    }
    record_user(id);
    Ok(pb::ConfirmSignupResponse {
        password_set: user.password_hash.is_some(),
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
    })
}
