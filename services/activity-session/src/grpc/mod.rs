//! `stride.activity_session.v1.ActivitySessionService`, one file per resource: [`catalog`] (the
//! preset activities) and [`sessions`] (the caller's timed sessions). Each RPC is an
//! `async fn(&ActivitySessions, Call<Request>) -> AppResult<Response>` in its resource's module.
//!
//! The proto has one service for both resources today. When it is split per resource, each
//! module gets its own struct and `grpc_handlers!` table (its lines below) and `lib.rs` one
//! `.grpc(..)` per service; a handler changes only in the type of its first parameter.

mod catalog;
mod convert;
mod sessions;

use sqlx::PgPool;
use stride_bus::Outbox;
use stride_kit::clock::SharedClock;
use stride_proto::activity_session::{
    self as pb, activity_session_service_server::ActivitySessionService,
};

pub struct ActivitySessions {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub outbox: Outbox,
}

stride_kit::grpc_handlers! {
    impl ActivitySessionService for ActivitySessions {
        fn list_activities(pb::ListActivitiesRequest) -> pb::ListActivitiesResponse => catalog::list_activities;
        fn start_session(pb::StartSessionRequest) -> pb::StartSessionResponse => sessions::start_session;
        fn complete_session(pb::CompleteSessionRequest) -> pb::CompleteSessionResponse => sessions::complete_session;
        fn get_current_session(pb::GetCurrentSessionRequest) -> pb::GetCurrentSessionResponse => sessions::get_current_session;
    }
}
