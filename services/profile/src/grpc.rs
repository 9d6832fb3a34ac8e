//! `stride.profile.v1.ProfileService`: the caller's own profile, read and partial update.

use sqlx::PgPool;
use stride_bus::Outbox;
use stride_kit::{AppResult, Call, clock::SharedClock, convert::timestamp};
use stride_proto::profile::{self as pb, profile_service_server::ProfileService};

use crate::{domain, errors, events::publish, store};

pub struct Profiles {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub outbox: Outbox,
}

stride_kit::grpc_handlers! {
    impl ProfileService for Profiles {
        fn get_my_profile(pb::GetMyProfileRequest) -> pb::GetMyProfileResponse => get_my_profile;
        fn update_my_profile(pb::UpdateMyProfileRequest) -> pb::UpdateMyProfileResponse => update_my_profile;
    }
}

async fn get_my_profile(
    s: &Profiles,
    call: Call<pb::GetMyProfileRequest>,
) -> AppResult<pb::GetMyProfileResponse> {
    let caller = call.caller()?;
    let mut conn = s.pool.acquire().await?;
    let row = store::get(&mut conn, caller.user_id)
        .await?
        .ok_or_else(errors::no_profile)?;
    Ok(pb::GetMyProfileResponse {
        profile: Some(to_proto(&row)),
    })
}

/// `profile.user_id` in the request is ignored on purpose: the user is the caller.
async fn update_my_profile(
    s: &Profiles,
    call: Call<pb::UpdateMyProfileRequest>,
) -> AppResult<pb::UpdateMyProfileResponse> {
    let caller = call.caller()?;
    let req = &call.message;
    let paths = req
        .update_mask
        .as_ref()
        .map(|m| m.paths.as_slice())
        .unwrap_or_default();
    let wanted = req.profile.as_ref().map(|p| domain::Fields {
        display_name: p.display_name.clone(),
        timezone: p.timezone.clone(),
        locale: p.locale.clone(),
    });
    let changes = domain::changes(paths, &wanted.unwrap_or_default())?;
    let mut tx = s.outbox.begin().await?;
    let row = store::update(&mut tx, caller.user_id, &changes, s.clock.now_db())
        .await?
        .ok_or_else(errors::no_profile)?;
    tx.publish(&publish::profile_updated(&row)).await?;
    tx.commit().await?;
    Ok(pb::UpdateMyProfileResponse {
        profile: Some(to_proto(&row)),
    })
}

fn to_proto(row: &store::ProfileRow) -> pb::Profile {
    pb::Profile {
        user_id: row.user_id.to_string(),
        username: row.username.clone(),
        display_name: row.display_name.clone(),
        timezone: row.timezone.clone(),
        locale: row.locale.clone(),
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
    }
}
