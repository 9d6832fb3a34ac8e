//! Token pairs: issuing them (every sign-in), rotating them (Refresh) and the public keys
//! (GetJwks).

use prost::Message as _;
use sqlx::PgConnection;
use stride_kit::{AppResult, Call, ClientInfo, convert::timestamp};
use stride_proto::auth as pb;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AuthSvc, record_user};
use crate::{
    domain::{
        audit, crypto,
        refresh::{ACCESS_TTL_SECONDS, REFRESH_TTL, Verdict},
    },
    errors,
    store::{self, refresh::NewRefresh, users::UserRow},
};

/// Signs an access token and stores a new refresh token of `family` (inside `tx`). Returns
/// the pair and the stored token's id.
pub(super) async fn issue_with_id(
    svc: &AuthSvc,
    tx: &mut PgConnection,
    user: &UserRow,
    family: Uuid,
    now: OffsetDateTime,
) -> AppResult<(pb::TokenPair, Uuid)> {
    // Stored roles only: no address makes an admin (the operator grants it, see `ops`).
    let roles = user.roles.clone();
    let claims = stride_kit::jwt::access_claims(
        user.id,
        &family.to_string(),
        roles,
        user.is_anonymous,
        now.unix_timestamp(),
        ACCESS_TTL_SECONDS,
    );
    let access = svc.keys.current().sign(&claims)?;
    let (refresh, hash) = crypto::new_token()?;
    let refresh_expires = now + REFRESH_TTL;
    let id = Uuid::now_v7();
    store::refresh::insert(
        tx,
        &NewRefresh {
            id,
            family,
            user: user.id,
            token_hash: &hash,
            created_at: now,
            expires_at: refresh_expires,
        },
    )
    .await?;
    Ok((
        pb::TokenPair {
            access_token: access,
            access_token_expire_time: Some(timestamp(
                now + time::Duration::seconds(ACCESS_TTL_SECONDS),
            )),
            refresh_token: refresh,
            refresh_token_expire_time: Some(timestamp(refresh_expires)),
            token_type: "Bearer".into(),
        },
        id,
    ))
}

pub(super) async fn issue(
    svc: &AuthSvc,
    tx: &mut PgConnection,
    user: &UserRow,
    family: Uuid,
    now: OffsetDateTime,
) -> AppResult<pb::TokenPair> {
    Ok(issue_with_id(svc, tx, user, family, now).await?.0)
}

pub(super) async fn refresh(
    svc: &AuthSvc,
    call: Call<pb::RefreshRequest>,
) -> AppResult<pb::RefreshResponse> {
    let presented = call.message.refresh_token.clone();
    if !crypto::plausible_token(&presented) {
        return Err(errors::refresh_token_invalid());
    }
    let hash = crypto::token_hash(&presented);
    let now = svc.clock.now_db();
    let mut tx = svc.outbox.begin().await?;
    let Some(row) = store::refresh::lock_by_hash(&mut tx, &hash).await? else {
        return Err(errors::refresh_token_invalid());
    };
    let (family, user_id) = (row.family_id, row.user_id);
    let state = row.presented();
    let client = client_fingerprint(&call.client);
    let same_client = row.rotated_by.as_deref() == Some(client.as_slice());
    // The token this one was just replaced by, if it is still the family's newest and unused:
    // a client that lost the rotation's response gets that same pair again, once.
    if state.may_replay(now, same_client)
        && let (Some(successor), Some(sealed)) = (row.successor_id, &row.successor_sealed)
        && store::refresh::lock_if_live(&mut tx, successor, now).await?
        && let Some(pair) =
            crypto::open(&presented, sealed).and_then(|plain| pb::TokenPair::decode(&*plain).ok())
    {
        store::refresh::mark_replayed(&mut tx, row.id, now).await?;
        store::audit::record(
            &mut tx,
            Some(user_id),
            audit::SESSION_REPLAYED,
            &call.client,
            serde_json::json!({"session_id": family.to_string()}),
            now,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(%user_id, %family, "replayed rotation answered with the current pair");
        return Ok(pb::RefreshResponse { tokens: Some(pair) });
    }
    match state.verdict(now) {
        Verdict::Revoked => return Err(errors::refresh_token_revoked()),
        Verdict::Reused => {
            // Someone holds a copy: end the whole session, and make that stick before
            // answering.
            let revoked = store::sessions::revoke_family(&mut tx, family, now).await?;
            if revoked > 0 {
                store::audit::record(
                    &mut tx,
                    Some(user_id),
                    audit::SESSION_REUSE_DETECTED,
                    &call.client,
                    serde_json::json!({"session_id": family.to_string()}),
                    now,
                )
                .await?;
            }
            tx.commit().await?;
            tracing::warn!(%user_id, %family, "refresh token reuse; family revoked");
            return Err(errors::refresh_token_reused());
        }
        Verdict::Expired => return Err(errors::refresh_token_expired()),
        Verdict::Rotate => {}
    }
    let Some(user) = store::users::load(&mut tx, user_id).await? else {
        // The account was deleted while this token was being presented.
        return Err(errors::refresh_token_invalid());
    };
    let (tokens, successor) = issue_with_id(svc, &mut tx, &user, family, now).await?;
    let sealed = crypto::seal(&presented, &tokens.encode_to_vec())?;
    store::refresh::mark_rotated(&mut tx, row.id, now, successor, &sealed, &client).await?;
    tx.commit().await?;
    record_user(user_id);
    Ok(pb::RefreshResponse {
        tokens: Some(tokens),
    })
}

pub(super) async fn get_jwks(
    svc: &AuthSvc,
    _call: Call<pb::GetJwksRequest>,
) -> AppResult<pb::GetJwksResponse> {
    Ok(pb::GetJwksResponse {
        keys: crate::keys::published(&svc.pool, svc.clock.now()).await?,
    })
}

/// Who rotated a refresh token, as far as auth can tell: its network (an IPv6 client's /64, which
/// privacy addresses rotate within) and user agent, hashed. A replay from anyone else is treated
/// as reuse.
fn client_fingerprint(client: &ClientInfo) -> Vec<u8> {
    let ip = client
        .network()
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let agent = client.user_agent.as_deref().unwrap_or_default();
    crypto::sha256(format!("{ip}\n{agent}").as_bytes())
}
