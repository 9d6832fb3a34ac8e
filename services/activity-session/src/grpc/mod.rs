//! The gRPC services of `stride.activity_session.v1`, one proto file and one module per
//! resource: [`catalog`] (`CatalogService`, the preset activities), [`sessions`]
//! (`SessionService`, the caller's timed sessions) and [`routines`] (`RoutineService`). Each RPC is an
//! `async fn(&ActivitySessions, Call<Request>) -> AppResult<Response>` in its resource's module;
//! each service has its `grpc_handlers!` table below and one `.grpc(..)` line in `lib.rs`.

mod catalog;
mod convert;
mod routines;
mod sessions;

use sqlx::PgPool;
use stride_bus::Outbox;
use stride_kit::clock::SharedClock;
use stride_proto::activity_session::{
    self as pb, catalog_service_server::CatalogService, routine_service_server::RoutineService,
    session_service_server::SessionService,
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
        fn get_session(pb::GetSessionRequest) -> pb::GetSessionResponse => sessions::get_session;
        fn list_sessions(pb::ListSessionsRequest) -> pb::ListSessionsResponse => sessions::list_sessions;
        fn record_session_event(pb::RecordSessionEventRequest) -> pb::RecordSessionEventResponse => sessions::record_session_event;
        fn sync_session_events(pb::SyncSessionEventsRequest) -> pb::SyncSessionEventsResponse => sessions::sync_session_events;
    }
}

stride_kit::grpc_handlers! {
    impl RoutineService for ActivitySessions {
        fn create_routine(pb::CreateRoutineRequest) -> pb::CreateRoutineResponse => routines::create_routine;
        fn list_routines(pb::ListRoutinesRequest) -> pb::ListRoutinesResponse => routines::list_routines;
        fn get_routine(pb::GetRoutineRequest) -> pb::GetRoutineResponse => routines::get_routine;
        fn update_routine(pb::UpdateRoutineRequest) -> pb::UpdateRoutineResponse => routines::update_routine;
        fn delete_routine(pb::DeleteRoutineRequest) -> pb::DeleteRoutineResponse => routines::delete_routine;
        fn list_routine_presets(pb::ListRoutinePresetsRequest) -> pb::ListRoutinePresetsResponse => routines::list_routine_presets;
    }
}
