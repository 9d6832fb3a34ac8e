//! The gRPC services of `stride.activity_session.v1`, one proto file and one module per
//! resource: [`catalog`], [`exercises`] and [`plan_templates`] (`CatalogService`: the preset
//! activities, the exercise library, the workout plan templates; public) and [`sessions`]
//! (`SessionService`, the caller's timed sessions). Each RPC is an
//! `async fn(&ActivitySessions, Call<Request>) -> AppResult<Response>` in its resource's module;
//! each service has its `grpc_handlers!` table below and one `.grpc(..)` line in `lib.rs`.

mod catalog;
mod convert;
mod exercises;
mod plan_templates;
mod sessions;

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
        fn get_activity(pb::GetActivityRequest) -> pb::GetActivityResponse => catalog::get_activity;
        fn list_exercises(pb::ListExercisesRequest) -> pb::ListExercisesResponse => exercises::list_exercises;
        fn get_exercise(pb::GetExerciseRequest) -> pb::GetExerciseResponse => exercises::get_exercise;
        fn list_exercise_terms(pb::ListExerciseTermsRequest) -> pb::ListExerciseTermsResponse => exercises::list_exercise_terms;
        fn list_workout_plans(pb::ListWorkoutPlansRequest) -> pb::ListWorkoutPlansResponse => plan_templates::list_workout_plans;
        fn get_workout_plan(pb::GetWorkoutPlanRequest) -> pb::GetWorkoutPlanResponse => plan_templates::get_workout_plan;
    }
}

stride_kit::grpc_handlers! {
    impl SessionService for ActivitySessions {
        fn start_session(pb::StartSessionRequest) -> pb::StartSessionResponse => sessions::start_session;
        fn complete_session(pb::CompleteSessionRequest) -> pb::CompleteSessionResponse => sessions::complete_session;
        fn get_current_session(pb::GetCurrentSessionRequest) -> pb::GetCurrentSessionResponse => sessions::get_current_session;
    }
}
