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

/// Refuses a password check while the account or the address has too many recent failures, and
/// otherwise counts this check as a failure *before* any hashing (M1): under a lock per account,
/// so concurrent checks cannot all pass a count none of them has added to yet. A check that
/// succeeds gives its reservation back ([`release`]). The same answer for known and unknown
/// accounts; a password reset clears the account's count, so someone failing on purpose cannot
/// keep the owner out.
pub(super) async fn reserve(svc: &AuthSvc, keys: &LoginKeys, now: OffsetDateTime) -> AppResult<()> {
    let limits = &svc.settings.limits;
    let since = throttle::login_window_start(now, limits);
    let mut tx = svc.pool.begin().await?;
    store::advisory_xact_lock(&mut tx, &throttle::login_lock(keys)).await?;
    let locked = throttle::account_locked(
        store::throttle::count(&mut *tx, &keys.account, since).await?,
        limits,
    ) || match &keys.ip {
        Some(ip) => throttle::ip_locked(store::throttle::count(&mut *tx, ip, since).await?, limits),
        None => false,
    };
    if locked {
        return Err(errors::too_many_attempts(
            "too many failed sign-ins; try again later or reset your password",
        ));
    }
    store::throttle::hit_all(&mut tx, keys, now).await?;
    tx.commit().await?;
    Ok(())
}

/// A password check [`reserve`]d at `at` succeeded: its counted failure is taken back.
pub(super) async fn release(
    conn: &mut sqlx::PgConnection,
    keys: &LoginKeys,
    at: OffsetDateTime,
) -> AppResult<()> {
    store::throttle::unhit(conn, &keys.account, at).await?;
    if let Some(ip) = &keys.ip {
        store::throttle::unhit(conn, ip, at).await?;
    }
    Ok(())
}

/// Logs a failed password check (already counted by [`reserve`]).
pub(super) async fn record_failure(
    svc: &AuthSvc,
    user: Option<Uuid>,
    kind: &str,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> AppResult<()> {
    let mut conn = svc.pool.acquire().await?;
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
                client.network(),
            );
            reserve(svc, &keys, now).await?;
            let ok = valid_password(&password)
                && user.password_hash.is_some()
                && svc
                    .hasher
                    .verify(password, user.password_hash.clone())
                    .await?;
            if !ok {
                record_failure(
                    svc,
                    Some(user.id),
                    audit::REAUTHENTICATION_FAILED,
                    client,
                    now,
                )
                .await?;
                return Err(errors::invalid_credentials());
            }
            release(&mut *svc.pool.acquire().await?, &keys, now).await?;
            Ok(())
        }
        Some(pb::account_proof::Proof::ReauthenticationCode(code)) => codes::consume(
            svc,
            Purpose::Reauthenticate,
            None,
            None,
            Some(user.id),
            &code,
            client,
        )
        .await
        .map(|_| ()),
        // A provider-only account proves itself with a fresh credential of an identity it
        // already has (M6): the provider checked it, the identity must be this account's.
        Some(pb::account_proof::Proof::IdToken(c)) => {
            let ext = svc
                .providers
                .verify_id_token(&c, svc.clock.now().into())
                .await?;
            owns(svc, user, ext.provider, &ext.subject).await
        }
        Some(pb::account_proof::Proof::Telegram(t)) => {
            let ext = svc
                .providers
                .verify_telegram(&t, svc.clock.now().unix_timestamp())?;
            owns(svc, user, ext.provider, &ext.subject).await
        }
        None => Err(AppError::invalid(
            "proof",
            "is required: the current password, a re-authentication code or a fresh provider credential of a linked identity",
        )),
    }
}

/// A provider credential proves `user` only when its identity is linked to `user`.
async fn owns(svc: &AuthSvc, user: &UserRow, provider: &str, subject: &str) -> AppResult<()> {
    let mut conn = svc.pool.acquire().await?;
    match store::identities::owner(&mut conn, provider, subject).await? {
        Some(id) if id == user.id => Ok(()),
        _ => Err(errors::invalid_credentials()),
    }
}
