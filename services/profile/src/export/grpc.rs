//! `stride.profile.v1.DataExportService` (the caller's exports) and profile's own
//! `UserDataService` (service-only, like every service's).

use std::sync::Arc;

use sqlx::PgPool;
use stride_kit::{
    AppError, AppResult, Call,
    clock::SharedClock,
    convert::{require_id, timestamp},
};
use stride_proto::profile::{
    self as pb, data_export_service_server::DataExportService,
    user_data_service_server::UserDataService,
};
use uuid::Uuid;

use super::{
    ExportSettings,
    domain::{self, State},
    job::{Job, PROFILE_SOURCES, Upstreams},
    store,
};

pub struct Exports {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub upstreams: Arc<Upstreams>,
    pub settings: ExportSettings,
    /// The public base of profile's HTTP port (`PROFILE_PUBLIC_URL`, else the bound
    /// port), shared with avatar URLs.
    pub urls: crate::avatar::Urls,
}

stride_kit::grpc_handlers! {
    impl DataExportService for Exports {
        fn request_data_export(pb::RequestDataExportRequest) -> pb::RequestDataExportResponse => request;
        fn get_data_export(pb::GetDataExportRequest) -> pb::GetDataExportResponse => get;
    }
}

fn random_token() -> AppResult<String> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AppError::internal(anyhow::anyhow!("no randomness")))?;
    Ok(domain::token_from(bytes))
}

/// Where the archive of `export_id` is downloaded.
pub fn download_url(urls: &crate::avatar::Urls, export_id: Uuid) -> String {
    urls.absolute(&format!("/v1/exports/{export_id}/archive"))
}

async fn to_proto(
    conn: &mut sqlx::PgConnection,
    urls: &crate::avatar::Urls,
    row: &store::ExportRow,
) -> AppResult<pb::DataExport> {
    let parts = store::parts(conn, row.export_id).await?;
    let state = State::parse(&row.state);
    Ok(pb::DataExport {
        export_id: row.export_id.to_string(),
        state: match state {
            State::Running => pb::DataExportState::Running,
            State::Succeeded => pb::DataExportState::Succeeded,
            State::Failed => pb::DataExportState::Failed,
            State::Expired => pb::DataExportState::Expired,
        }
        .into(),
        parts: parts
            .into_iter()
            .map(|p| pb::DataExportPart {
                service: p.service,
                state: match p.state.as_str() {
                    "succeeded" => pb::DataExportPartState::Succeeded,
                    "failed" => pb::DataExportPartState::Failed,
                    _ => pb::DataExportPartState::Pending,
                }
                .into(),
                item_count: p.item_count,
            })
            .collect(),
        download_url: if state == State::Succeeded {
            download_url(urls, row.export_id)
        } else {
            String::new()
        },
        size_bytes: row.size_bytes.unwrap_or_default(),
        create_time: Some(timestamp(row.created_at)),
        complete_time: row.completed_at.map(timestamp),
        expire_time: Some(timestamp(row.expires_at)),
    })
}

async fn request(
    s: &Exports,
    call: Call<pb::RequestDataExportRequest>,
) -> AppResult<pb::RequestDataExportResponse> {
    let caller = call.caller()?;
    let token = random_token()?;
    let export_id = Uuid::now_v7();
    let job = Job {
        pool: s.pool.clone(),
        clock: s.clock.clone(),
        upstreams: s.upstreams.clone(),
        dir: s.settings.dir.clone(),
    };
    let now = s.clock.now_db();
    let mut tx = s.pool.begin().await?;
    let row = store::create(
        &mut tx,
        export_id,
        caller.user_id,
        &domain::token_hash(&token),
        &job.services(),
        now,
        now + s.settings.ttl,
    )
    .await?;
    let export = to_proto(&mut tx, &s.urls, &row).await?;
    tx.commit().await?;
    // The job outlives the call; it records its own outcome.
    tokio::spawn(job.run(export_id, caller.user_id, caller.token.clone()));
    Ok(pb::RequestDataExportResponse {
        export: Some(export),
        download_token: token,
    })
}

async fn get(
    s: &Exports,
    call: Call<pb::GetDataExportRequest>,
) -> AppResult<pb::GetDataExportResponse> {
    let user = call.caller()?.user_id;
    let id = require_id("export_id", &call.message.export_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::get(&mut conn, user, id)
        .await?
        .ok_or_else(|| AppError::not_found("data export"))?;
    Ok(pb::GetDataExportResponse {
        export: Some(to_proto(&mut conn, &s.urls, &row).await?),
    })
}

pub struct OwnData {
    pub pool: PgPool,
}

stride_kit::grpc_handlers! {
    impl UserDataService for OwnData {
        fn export_user_data(pb::ExportUserDataRequest) -> pb::ExportUserDataResponse => export_own;
    }
}

async fn export_own(
    s: &OwnData,
    call: Call<pb::ExportUserDataRequest>,
) -> AppResult<pb::ExportUserDataResponse> {
    let user = call.caller()?.user_id;
    Ok(pb::ExportUserDataResponse {
        collections: stride_kit::export::collect(&s.pool, user, PROFILE_SOURCES).await?,
    })
}
