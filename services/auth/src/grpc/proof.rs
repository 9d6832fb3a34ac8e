//! Proving who you are: the password checks' throttle (login and re-authentication share it) and
//! the account proof that sensitive changes need.

use stride_kit::{AppError, AppResult, ClientInfo};
use stride_proto::auth as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AuthSvc, codes};
use crate::{
    domain::{
        audit,
        codes::Purpose,
        throttle::{self, LoginKeys},
        validate::valid_password,
    },
    errors, store,
    store::users::UserRow,
};

/// Refuses a password check while the account or the address has too many recent failures.
/// The same answer for known and unknown accounts; a password reset clears the account's
/// count, so someone failing on purpose cannot keep the owner out.
pub(super) async fn check_throttle(
    svc: &AuthSvc,
    keys: &LoginKeys,
    now: OffsetDateTime,
) -> AppResult<()> {
    let limits = &svc.settings.limits;
    let since = throttle::login_window_start(now, limits);
    let locked = throttle::account_locked(
        store::throttle::count(&svc.pool, &keys.account, since).await?,
        limits,
    ) || match &keys.ip {
        Some(ip) => {
            throttle::ip_locked(store::throttle::count(&svc.pool, ip, since).await?, limits)
        }
        None => false,
    };
    if locked {
        return Err(errors::too_many_attempts(
            "too many failed sign-ins; try again later or reset your password",
        ));
    }
    Ok(())
}

/// Counts a failed password check against both keys and logs it (outside any transaction: the
/// call fails, the count stays).
pub(super) async fn record_failure(
    svc: &AuthSvc,
    keys: &LoginKeys,
    user: Option<Uuid>,
    kind: &str,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> AppResult<()> {
    let mut conn = svc.pool.acquire().await?;
    store::throttle::hit_all(&mut conn, keys, now).await?;
    store::audit::record(
        &mut conn,
        user,
        kind,
        client,
        serde_json::json!({"method": "password"}),
        now,
    )
    .await?;
    Ok(())
}

/// Proves the caller controls `user`: the current password, or a re-authentication code.
/// A guest account has nothing to take over and needs no proof.
pub(super) async fn check(
    svc: &AuthSvc,
    user: &UserRow,
    proof: Option<pb::AccountProof>,
    client: &ClientInfo,
) -> AppResult<()> {
    if user.is_anonymous {
        return Ok(());
    }
    let now = svc.clock.now_db();
    match proof.and_then(|p| p.proof) {
        Some(pb::account_proof::Proof::CurrentPassword(password)) => {
            // Same throttle as login: a stolen access token must not become a password oracle.
            let keys = throttle::login_keys(
                user.email.as_deref().unwrap_or(&user.id.to_string()),
                client.ip,
            );
            check_throttle(svc, &keys, now).await?;
            let ok = valid_password(&password)
                && user.password_hash.is_some()
                && svc
                    .hasher
                    .verify(password, user.password_hash.clone())
                    .await?;
            if !ok {
                record_failure(
                    svc,
                    &keys,
                    Some(user.id),
                    audit::REAUTHENTICATION_FAILED,
                    client,
                    now,
                )
                .await?;
                return Err(errors::invalid_credentials());
            }
            Ok(())
        }
        Some(pb::account_proof::Proof::ReauthenticationCode(code)) => codes::consume(
            svc,
            Purpose::Reauthenticate,
            None,
            None,
            Some(user.id),
            &code,
        )
        .await
        .map(|_| ()),
        None => Err(AppError::invalid(
            "proof",
            "is required: the current password or a re-authentication code",
        )),
    }
}
