//! The gRPC services of `stride.activity_session.v1`, one proto file and one module per
//! resource: [`catalog`] (`CatalogService`, the preset activities) and [`sessions`]
//! (`SessionService`, the caller's timed sessions). Each RPC is an
//! `async fn(&ActivitySessions, Call<Request>) -> AppResult<Response>` in its resource's module;
//! each service has its `grpc_handlers!` table below and one `.grpc(..)` line in `lib.rs`.

mod catalog;
mod convert;
mod plans;
mod sessions;
mod workouts;

use sqlx::PgPool;
use stride_bus::Outbox;
use stride_kit::clock::SharedClock;
use stride_proto::activity_session::{
    self as pb, catalog_service_server::CatalogService, session_service_server::SessionService,
};

#[derive(Clone)]
pub struct ActivitySessions {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub outbox: Outbox,
}

stride_kit::grpc_handlers! {
    impl CatalogService for ActivitySessions {
        fn list_activities(pb::ListActivitiesRequest) -> pb::ListActivitiesResponse => catalog::list_activities;
    }
}

stride_kit::grpc_handlers! {
    impl SessionService for ActivitySessions {
        fn start_session(pb::StartSessionRequest) -> pb::StartSessionResponse => sessions::start_session;
        fn complete_session(pb::CompleteSessionRequest) -> pb::CompleteSessionResponse => sessions::complete_session;
        fn get_current_session(pb::GetCurrentSessionRequest) -> pb::GetCurrentSessionResponse => sessions::get_current_session;
    }
}
