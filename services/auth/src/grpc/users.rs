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
