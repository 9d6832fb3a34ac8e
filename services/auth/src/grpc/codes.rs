//! One-time codes: 6 digits, 10 minutes by mail and 5 by SMS, at most 5 guesses, at most 3
//! sends per address per hour, and a new send kills the pending code. SendCode and
//! SignInWithCode, and the issue/consume steps the other flows use.
//!
//! Every answer about an address is the same whether or not an account uses it.

use stride_kit::{AppResult, Call, ClientInfo, Violations, convert::timestamp};
use stride_proto::auth as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AuthSvc, convert, tokens, users};
use crate::{
    domain::{
        audit,
        codes::{self, Channel, Purpose},
        crypto,
        identity::{self, NewIdentity},
        notices, throttle,
        validate::timezone_or_utc,
    },
    errors,
    store::{self, addresses, codes::NewCode, identities, users::UserRow},
};

/// Creates a code and sends it. Refuses past the hourly send limit for the address and purpose
/// (the same for every address, so it reveals nothing).
pub(super) async fn issue(
    svc: &AuthSvc,
    purpose: Purpose,
    channel: Channel,
    address: &str,
    user: Option<Uuid>,
) -> AppResult<OffsetDateTime> {
    issue_with(svc, purpose, channel, address, user, None, true).await
}

/// [`issue`] with the anonymous caller's budgets (`sign_in_client`: a public sign-in send, counted
/// per destination per day, per client and globally), and `deliver` false to do all the work and
/// accounting of a send without sending (an answer that must not differ for taken addresses).
pub(super) async fn issue_with(
    svc: &AuthSvc,
    purpose: Purpose,
    channel: Channel,
    address: &str,
    user: Option<Uuid>,
    sign_in_client: Option<&ClientInfo>,
    deliver: bool,
) -> AppResult<OffsetDateTime> {
    let now = svc.clock.now_db();
    let limits = &svc.settings.limits;
    let mut tx = svc.outbox.begin().await?;
    // Serialise sends to one address so the count below cannot be raced past.
    store::advisory_xact_lock(&mut tx, &codes::send_lock(channel, address)).await?;
    let sent =
        store::codes::sent_since(&mut tx, purpose, channel, address, now - throttle::HOUR).await?;
    if throttle::code_sends_exhausted(sent, limits) {
        return Err(errors::too_many_attempts(
            "too many codes were sent to this address; try again later",
        ));
    }
    if let Some(client) = sign_in_client {
        let day = store::codes::sent_since(&mut tx, purpose, channel, address, now - throttle::DAY)
            .await?;
        let ip_key = client.network().map(throttle::sign_in_send_ip_key);
        let per_ip = match &ip_key {
            Some(k) => {
                store::advisory_xact_lock(&mut tx, &format!("send-ip:{}", crypto_hex(k))).await?;
                store::throttle::count(&mut *tx, k, now - throttle::HOUR).await?
            }
            None => 0,
        };
        if throttle::sign_in_sends_exhausted(day, per_ip, limits) {
            return Err(errors::too_many_attempts(
                "too many sign-in codes were asked for; try again later",
            ));
        }
        let global = throttle::sign_in_send_global_key(channel.as_str());
        let everyone = store::throttle::count(&mut *tx, &global, now - throttle::HOUR).await?;
        if throttle::sign_in_sends_globally_exhausted(everyone, limits) {
            tracing::warn!(
                channel = channel.as_str(),
                "global sign-in code budget used up"
            );
            return Err(errors::too_many_requests());
        }
        if let Some(k) = &ip_key {
            store::throttle::hit(&mut tx, k, now).await?;
        }
        store::throttle::hit(&mut tx, &global, now).await?;
    }
    // The pending code for the same purpose dies.
    store::codes::kill_pending(&mut tx, purpose, channel, address, user, now).await?;
    let id = Uuid::now_v7();
    let code = codes::new_code()?;
    let ttl = limits.code_ttl_for(channel);
    let expires = now + ttl;
    store::codes::insert(
        &mut tx,
        &NewCode {
            id,
            purpose,
            channel,
            address,
            user,
            code_hash: codes::code_hash(id, &code),
            created_at: now,
            expires_at: expires,
        },
    )
    .await?;
    tx.commit().await?;
    if deliver {
        let notice = notices::code(purpose, &code, ttl.whole_minutes());
        match channel {
            Channel::Email => svc.notifier.mail(address.to_owned(), notice),
            Channel::Sms => svc.notifier.sms(address.to_owned(), notice),
        }
    }
    Ok(expires)
}

fn crypto_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `code` against the pending code of (purpose, channel, address, user); when the
/// address is None the pending code of that purpose for `user` is used. A wrong guess
/// counts (committed even though the call fails); the fifth kills the code. Returns the
/// address the code was sent to.
///
/// Wrong guesses also spend budgets no new code resets (H2): per destination address over a
/// day (then its codes are refused and its owner told; a password reset lifts it), per client
/// address per hour, and across everyone per hour.
pub(super) async fn consume(
    svc: &AuthSvc,
    purpose: Purpose,
    channel: Option<Channel>,
    address: Option<&str>,
    user: Option<Uuid>,
    code: &str,
    client: &ClientInfo,
) -> AppResult<String> {
    if !codes::well_formed(code) {
        return Err(errors::code_invalid());
    }
    let now = svc.clock.now_db();
    let limits = &svc.settings.limits;
    let mut tx = svc.outbox.begin().await?;
    let ip_key = client.network().map(throttle::code_failure_ip_key);
    let global_key = throttle::code_failure_global_key();
    if let Some(k) = &ip_key
        && throttle::code_ip_locked(
            store::throttle::count(&mut *tx, k, now - throttle::HOUR).await?,
            limits,
        )
    {
        return Err(errors::too_many_attempts(
            "too many wrong codes from this client; try again later",
        ));
    }
    if throttle::code_global_locked(
        store::throttle::count(&mut *tx, &global_key, now - throttle::HOUR).await?,
        limits,
    ) {
        tracing::warn!("global wrong-code budget used up: codes are refused for now");
        return Err(errors::too_many_requests());
    }
    let pending = store::codes::lock_pending(&mut tx, purpose, channel, address, user, now).await?;
    let Some(pending) = pending else {
        if let Some(k) = &ip_key {
            store::throttle::hit(&mut tx, k, now).await?;
            tx.commit().await?;
        }
        return Err(errors::code_invalid());
    };
    // One budget per destination, whatever the purpose or the code: serialised, exact.
    let address_key = throttle::code_failure_address_key(&pending.channel, &pending.address);
    store::advisory_xact_lock(&mut tx, &format!("code-fail:{}", crypto_hex(&address_key))).await?;
    let failures =
        store::throttle::count(&mut *tx, &address_key, now - limits.code_failure_window).await?;
    if throttle::code_address_locked(failures, limits) {
        return Err(errors::too_many_attempts(
            "too many wrong codes for this address; try again tomorrow or reset your password",
        ));
    }
    if crypto::same(&pending.code_hash, &codes::code_hash(pending.id, code)) {
        store::codes::consume(&mut tx, pending.id, now).await?;
        tx.commit().await?;
        return Ok(pending.address);
    }
    let dead = codes::dies_on_wrong_guess(pending.attempts, limits.code_attempts);
    store::codes::wrong_guess(&mut tx, pending.id, dead, now).await?;
    store::throttle::hit(&mut tx, &address_key, now).await?;
    if let Some(k) = &ip_key {
        store::throttle::hit(&mut tx, k, now).await?;
    }
    store::throttle::hit(&mut tx, &global_key, now).await?;
    let locked_now = throttle::code_address_locked(failures + 1, limits);
    if locked_now {
        store::audit::record(
            &mut tx,
            pending.user_id,
            audit::CODES_LOCKED,
            client,
            serde_json::json!({"channel": pending.channel}),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    if locked_now {
        match pending.channel.as_str() {
            "sms" => svc.notifier.sms(pending.address, notices::codes_locked()),
            _ => svc.notifier.mail(pending.address, notices::codes_locked()),
        }
    }
    Err(errors::code_invalid())
}

pub(super) async fn send_code(
    svc: &AuthSvc,
    call: Call<pb::SendCodeRequest>,
) -> AppResult<pb::SendCodeResponse> {
    // Public method: a token is optional here and only needed for account-bound purposes.
    let need_caller = || {
        call.optional_caller()
            .ok_or_else(errors::token_missing_for_purpose)
    };
    let req = &call.message;
    let expires = match convert::purpose(req.purpose) {
        Some(Purpose::SignIn) => {
            let (channel, address) = convert::address(req.channel, &req.address)?;
            issue_with(
                svc,
                Purpose::SignIn,
                channel,
                &address,
                None,
                Some(&call.client),
                true,
            )
            .await?
        }
        Some(Purpose::Link) => {
            let caller = need_caller()?;
            let (channel, address) = convert::address(req.channel, &req.address)?;
            issue(svc, Purpose::Link, channel, &address, Some(caller.user_id)).await?
        }
        Some(Purpose::Reauthenticate) => {
            let caller = need_caller()?;
            let user = users::account(svc, caller.user_id).await?;
            // To the account's own address: the primary identity's channel when it is a
            // phone, the email otherwise.
            let primary = identities::primary_provider(&svc.pool, user.id).await?;
            let target = codes::reauthentication_target(
                primary.as_deref(),
                user.email.as_deref(),
                user.phone.as_deref(),
            );
            let Some((channel, address)) = target else {
                return Err(errors::no_address());
            };
            issue(
                svc,
                Purpose::Reauthenticate,
                channel,
                &address,
                Some(user.id),
            )
            .await?
        }
        Some(Purpose::VerifyEmail) => {
            let caller = need_caller()?;
            let user = users::account(svc, caller.user_id).await?;
            let Some(email) = user.email.clone() else {
                return Err(errors::no_email());
            };
            if user.email_verified_at.is_some() {
                return Err(errors::email_already_verified());
            }
            issue(
                svc,
                Purpose::VerifyEmail,
                Channel::Email,
                &email,
                Some(user.id),
            )
            .await?
        }
        // Email change codes are sent by RequestEmailChange only.
        Some(Purpose::ChangeEmail) | None => {
            return Err(stride_kit::AppError::invalid(
                "purpose",
                "must be one of SIGN_IN, LINK, REAUTHENTICATE, VERIFY_EMAIL",
            ));
        }
    };
    Ok(pb::SendCodeResponse {
        expire_time: Some(timestamp(expires)),
    })
}

pub(super) async fn sign_in_with_code(
    svc: &AuthSvc,
    call: Call<pb::SignInWithCodeRequest>,
) -> AppResult<pb::SignInWithCodeResponse> {
    let req = &call.message;
    let (channel, address) = convert::address(req.channel, &req.address)?;
    let mut v = Violations::new();
    let timezone = timezone_or_utc(&mut v, &req.timezone);
    v.check()?;
    consume(
        svc,
        Purpose::SignIn,
        Some(channel),
        Some(&address),
        None,
        &req.code,
        &call.client,
    )
    .await?;
    let now = svc.clock.now_db();
    let provider = identity::provider_of_channel(channel);
    let identity = NewIdentity::proved(channel, &address);
    let mut tx = svc.outbox.begin().await?;
    let mut owner = identities::owner(&mut tx, provider, &address).await?;
    if owner.is_none() {
        // An account that has this address but predates its identity row.
        if let Some(id) = addresses::owner(&mut tx, channel, &address).await? {
            users::add_identity(&mut tx, id, &identity, false, now).await?;
            owner = Some(id);
        }
    }
    let created = owner.is_none();
    let mut notice = None;
    let user = match owner {
        Some(id) => {
            if channel == Channel::Email {
                // The first proof of the account's address: whatever was attached before it
                // (a password, other identities, sessions) may be a stranger's and goes.
                let before = users::require(&mut tx, id).await?;
                if before.email.as_deref() == Some(address.as_str())
                    && before.email_verified_at.is_none()
                {
                    notice =
                        users::discard_unproved(&mut tx, id, &address, false, &call.client, now)
                            .await?;
                }
                // The code proved the address.
                addresses::mark_email_verified(&mut tx, id, &address, now).await?;
            }
            identities::touch(&mut tx, id, provider, &address, now).await?;
            if channel == Channel::Email {
                users::activate_if_pending(&mut tx, id, now).await?;
            }
            users::require(&mut tx, id).await?
        }
        None => {
            let mut user = UserRow::new(now, timezone);
            match channel {
                Channel::Email => {
                    user.email = Some(address.clone());
                    user.email_verified_at = Some(now);
                }
                Channel::Sms => user.phone = Some(address.clone()),
            }
            users::insert(&mut tx, &user, Some(&identity), now).await?;
            user
        }
    };
    let family = Uuid::now_v7();
    let tokens = tokens::issue(svc, &mut tx, &user, family, now).await?;
    store::audit::record(
        &mut tx,
        Some(user.id),
        audit::sign_in_kind(created, false),
        &call.client,
        serde_json::json!({"method": format!("{}_code", channel.as_str()), "session_id": family.to_string()}),
        now,
    )
    .await?;
    tx.commit().await?;
    if let Some(n) = notice {
        svc.notifier.mail(address.clone(), n);
    }
    // A new account, or a pending sign-up this code just confirmed, was announced.
    Ok(pb::SignInWithCodeResponse {
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
        created,
    })
}
