//! The gRPC services of `stride.activity_session.v1`, one proto file and one module per
//! resource: [`catalog`], [`exercises`] and [`plan_templates`] (`CatalogService`: the preset
//! activities, the exercise library, the workout plan templates; public), [`sessions`]
//! (`SessionService`, the caller's timed sessions) and [`routines`] (`RoutineService`). Each RPC is an
//! `async fn(&ActivitySessions, Call<Request>) -> AppResult<Response>` in its resource's module;
//! each service has its `grpc_handlers!` table below and one `.grpc(..)` line in `lib.rs`.

mod catalog;
mod convert;
mod exercises;
mod plan_templates;
mod routines;
mod sessions;
// Tasks, shutdown reflections, learning (issue 13, part C).
mod learning;
mod plans;
mod reflections;
mod tasks;
mod workouts;

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
    /// The preset activities, kept once read (they never change).
    pub presets: crate::store::activities::Presets,
    /// The users' zones as last read, checked by the statement that uses them.
    pub zones: sessions::Zones,
    /// Live sessions as this process last wrote them, checked by the statement that uses them.
    pub live: sessions::Live,
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

// ---- tasks, shutdown reflections, learning (issue 13, part C) ----

use stride_proto::activity_session::{
    learning_service_server::LearningService, reflection_service_server::ReflectionService,
    task_service_server::TaskService,
};

stride_kit::grpc_handlers! {
    impl TaskService for ActivitySessions {
        fn create_task(pb::CreateTaskRequest) -> pb::CreateTaskResponse => tasks::create_task;
        fn get_task(pb::GetTaskRequest) -> pb::GetTaskResponse => tasks::get_task;
        fn list_tasks(pb::ListTasksRequest) -> pb::ListTasksResponse => tasks::list_tasks;
        fn update_task(pb::UpdateTaskRequest) -> pb::UpdateTaskResponse => tasks::update_task;
        fn delete_task(pb::DeleteTaskRequest) -> pb::DeleteTaskResponse => tasks::delete_task;
    }
}

stride_kit::grpc_handlers! {
    impl ReflectionService for ActivitySessions {
        fn submit_shutdown_reflection(pb::SubmitShutdownReflectionRequest) -> pb::SubmitShutdownReflectionResponse => reflections::submit_shutdown_reflection;
        fn get_shutdown_reflection(pb::GetShutdownReflectionRequest) -> pb::GetShutdownReflectionResponse => reflections::get_shutdown_reflection;
        fn list_shutdown_reflections(pb::ListShutdownReflectionsRequest) -> pb::ListShutdownReflectionsResponse => reflections::list_shutdown_reflections;
    }
}

stride_kit::grpc_handlers! {
    impl LearningService for ActivitySessions {
        fn list_subjects(pb::ListSubjectsRequest) -> pb::ListSubjectsResponse => learning::list_subjects;
        fn list_topics(pb::ListTopicsRequest) -> pb::ListTopicsResponse => learning::list_topics;
        fn list_lessons(pb::ListLessonsRequest) -> pb::ListLessonsResponse => learning::list_lessons;
        fn get_lesson(pb::GetLessonRequest) -> pb::GetLessonResponse => learning::get_lesson;
        fn complete_lesson(pb::CompleteLessonRequest) -> pb::CompleteLessonResponse => learning::complete_lesson;
        fn list_lesson_progress(pb::ListLessonProgressRequest) -> pb::ListLessonProgressResponse => learning::list_lesson_progress;
    }
}
