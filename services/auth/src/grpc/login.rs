//! Login with email and password: throttled, and the same answer (and cost) for unknown accounts,
//! pending sign-ups and wrong passwords.

use stride_kit::{AppResult, Call};
use stride_proto::auth as pb;
use uuid::Uuid;

use super::{AuthSvc, convert, proof, record_user, tokens};
use crate::{
    domain::{
        audit, identity, throttle,
        validate::{normalize_email, plausible_login},
    },
    errors,
    password::needs_rehash,
    store,
};

pub(super) async fn login(
    svc: &AuthSvc,
    call: Call<pb::LoginRequest>,
) -> AppResult<pb::LoginResponse> {
    let Call {
        message: req,
        client,
        ..
    } = call;
    // A full hashing line refuses before any database work (cheap refusals under a flood).
    svc.hasher.check_capacity()?;
    let email = normalize_email(&req.email);
    let now = svc.clock.now_db();
    // Throttle before any hashing: by the account named (known or not, so the answer
    // reveals nothing) and by the client address.
    let keys = throttle::login_keys(&email, client.network());
    proof::reserve(svc, &keys, now).await?;
    // Bound the work an unauthenticated caller can ask for before hashing anything.
    let user = if plausible_login(&email, &req.password) {
        store::users::active_by_email(&svc.pool, &email).await?
    } else {
        None
    };
    // Unknown accounts verify against the dummy hash: same cost, same answer.
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = svc
        .hasher
        .verify(req.password.clone(), stored.clone())
        .await?;
    let mut user = match user {
        Some(u) if ok => u,
        other => {
            let id = other.map(|u| u.id);
            proof::record_failure(svc, id, audit::LOGIN_FAILED, &client, now).await?;
            return Err(errors::invalid_credentials());
        }
    };
    // Parameters were raised since this hash was made: store a fresh one.
    let rehash = match stored.as_deref() {
        Some(phc) if needs_rehash(phc) => Some(svc.hasher.hash(req.password).await?),
        _ => None,
    };
    let mut tx = svc.outbox.begin().await?;
    if let Some(h) = rehash {
        store::users::set_password_hash(&mut tx, user.id, &h).await?;
        user.password_hash = Some(h);
        tracing::info!(user_id = %user.id, "password rehashed with current parameters");
    }
    store::throttle::clear(&mut tx, &keys.account).await?;
    proof::release(&mut tx, &keys, now).await?;
    let family = Uuid::now_v7();
    let tokens = tokens::issue(svc, &mut tx, &user, family, now).await?;
    store::identities::touch(&mut tx, user.id, identity::EMAIL, &email, now).await?;
    store::audit::record(
        &mut tx,
        Some(user.id),
        audit::LOGIN_SUCCEEDED,
        &client,
        serde_json::json!({"method": "password", "session_id": family.to_string()}),
        now,
    )
    .await?;
    tx.commit().await?;
    record_user(user.id);
    Ok(pb::LoginResponse {
        user: Some(convert::user(&user)),
        tokens: Some(tokens),
    })
}
