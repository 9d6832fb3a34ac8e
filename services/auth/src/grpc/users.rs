//! Account steps several flows share: load, create, activate, add an identity.

use sqlx::PgConnection;
use stride_bus::Tx;
use stride_kit::{AppError, AppResult};
use time::OffsetDateTime;
use uuid::Uuid;

use super::AuthSvc;
use crate::{
    domain::identity::NewIdentity,
    errors, events,
    store::{
        addresses, identities,
        users::{self, UserRow},
    },
};

/// The account `id`; NOT_FOUND "account" when it is gone.
pub(super) async fn require(conn: &mut PgConnection, id: Uuid) -> AppResult<UserRow> {
    users::load(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("account"))
}

/// [`require`] outside a transaction.
pub(super) async fn account(svc: &AuthSvc, id: Uuid) -> AppResult<UserRow> {
    let mut conn = svc.pool.acquire().await?;
    require(&mut conn, id).await
}

/// Inserts `user` (and its primary identity, if any) and announces it; maps a taken email or
/// username to ACCOUNT_EXISTS and a taken identity to IDENTITY_IN_USE.
pub(super) async fn insert(
    tx: &mut Tx,
    user: &UserRow,
    identity: Option<&NewIdentity>,
    now: OffsetDateTime,
) -> AppResult<()> {
    insert_with(tx, user, identity, now, false).await
}

/// A sign-up awaiting its email confirmation: not announced until it is activated.
pub(super) async fn insert_pending(
    tx: &mut Tx,
    user: &UserRow,
    identity: Option<&NewIdentity>,
    now: OffsetDateTime,
) -> AppResult<()> {
    insert_with(tx, user, identity, now, true).await
}

async fn insert_with(
    tx: &mut Tx,
    user: &UserRow,
    identity: Option<&NewIdentity>,
    now: OffsetDateTime,
    pending: bool,
) -> AppResult<()> {
    users::insert(tx, user, pending)
        .await
        .map_err(|e| errors::unique_or(e, errors::account_exists))?;
    if let Some(identity) = identity {
        add_identity(tx, user.id, identity, true, now).await?;
    }
    if !pending {
        tx.publish(&events::registered(user, now)).await?;
    }
    Ok(())
}

/// Stores `identity` for `user`; IDENTITY_IN_USE when another account holds it.
pub(super) async fn add_identity(
    tx: &mut PgConnection,
    user: Uuid,
    identity: &NewIdentity,
    primary: bool,
    now: OffsetDateTime,
) -> AppResult<Uuid> {
    identities::insert(tx, user, identity, primary, now)
        .await
        .map_err(|e| errors::unique_or(e, errors::identity_in_use))
}

/// Activates `user` if it is pending: the address is proved (by a code or a reset), so the
/// account now exists for everyone and `user.registered.v1` goes out. True when it was pending.
pub(super) async fn activate_if_pending(
    tx: &mut Tx,
    user: Uuid,
    now: OffsetDateTime,
) -> AppResult<bool> {
    let Some(email) = users::activate_pending(tx, user).await? else {
        return Ok(false);
    };
    if let Some(email) = email {
        addresses::mark_email_verified(tx, user, &email, now).await?;
    }
    let account = require(tx, user).await?;
    tx.publish(&events::registered(&account, now)).await?;
    Ok(true)
}

/// `email` was just proved to be `user`'s and had not been before: whatever was attached to the
/// account before that proof may be a stranger's (pre-account takeover), so it goes. The password
/// (unless the proving flow set it, `keep_password`), every other identity and every session are
/// removed; other accounts lose any unproved hold on the address; the removal is audited. Returns
/// the notice for the address (send it after commit), if anything was removed.
pub(super) async fn discard_unproved(
    tx: &mut Tx,
    user: Uuid,
    email: &str,
    keep_password: bool,
    client: &stride_kit::ClientInfo,
    now: OffsetDateTime,
) -> AppResult<Option<crate::domain::notices::Notice>> {
    use crate::{
        domain::{audit, notices},
        store,
    };
    let password = users::discard_unproved(tx, user, keep_password).await?;
    let identities = identities::delete_all_but_email(tx, user, email).await?;
    let sessions = store::sessions::revoke_all(tx, user, None, now).await?;
    release_unproved_elsewhere(tx, email, user, now).await?;
    let notice = notices::unproved_removed(password, &identities, sessions);
    if notice.is_some() {
        store::audit::record(
            tx,
            Some(user),
            audit::UNPROVED_CREDENTIALS_REMOVED,
            client,
            serde_json::json!({
                "password": password,
                "identities": identities.join(","),
                "sessions_ended": sessions,
            }),
            now,
        )
        .await?;
    }
    Ok(notice)
}

/// `email` was proved by `owner`: other accounts that only claimed it without proof lose it (a
/// pending sign-up holding it is dropped; an unverified holder loses the address, its password and
/// its sessions), so an unproved address never blocks the real owner.
pub(super) async fn release_unproved_elsewhere(
    tx: &mut Tx,
    email: &str,
    owner: Uuid,
    now: OffsetDateTime,
) -> AppResult<()> {
    let mut losers = addresses::release_unproved_email(tx, email, owner).await?;
    losers.extend(identities::delete_unproved_email(tx, email, owner).await?);
    losers.sort();
    losers.dedup();
    for id in losers {
        crate::store::sessions::revoke_all(tx, id, None, now).await?;
        tracing::info!(user_id = %id, "an unproved hold on an address was released");
    }
    Ok(())
}

/// Auth's sensitive methods honour only live sessions (M3): other services accept an access
/// token until it expires, but auth has the database and refuses one whose session was ended
/// (logout, theft detected, password reset) with SESSION_ENDED.
pub(super) async fn require_live_session(
    svc: &AuthSvc,
    caller: &stride_kit::Caller,
) -> AppResult<()> {
    let Some(family) = crate::domain::sessions::family(&caller.session_id) else {
        return Err(errors::session_ended());
    };
    let now = svc.clock.now_db();
    if crate::store::sessions::is_live(&svc.pool, caller.user_id, family, now).await? {
        Ok(())
    } else {
        Err(errors::session_ended())
    }
}
