//! activity-session: the activity catalog and the caller's timed sessions.
//!
//! Consumes `profile.updated.v1` (each user's timezone, in the shared user directory),
//! `user.deleted.v1` (purges the user's sessions and directory entry) and `user.merged.v1`
//! (moves a guest's sessions to the target account); produces `session.completed.v1` through
//! the transactional outbox. Tasks, shutdown reflections and lessons (issue 13, part C) add
//! `task.{created,updated,completed,reopened,deleted}.v1`, `reflection.submitted.v1` and
//! `lesson.completed.v1` (ADR 0016). Layout: docs/service-layout.md.

// A panic on a caller's input is a broken call: service code handles every case instead.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod domain;
mod errors;
mod events;
mod export;
mod grpc;
mod store;

use std::sync::Arc;

use stride_bus::ServiceExt as _;
use stride_kit::{Verifier, clock::SharedClock, serve::Running, service::Builder};
use stride_proto::activity_session::{
    catalog_service_server::CatalogServiceServer, routine_service_server::RoutineServiceServer,
    session_service_server::SessionServiceServer, user_plan_service_server::UserPlanServiceServer,
    workout_log_service_server::WorkoutLogServiceServer,
};

/// Short service name: queue `activity-session.events`, AMQP `app_id`, metrics.
pub const SERVICE: &str = "activity-session";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Everything `migrate` applies: the bus tables, the user directory, then activity-session's own.
pub static MIGRATIONS: &[&sqlx::migrate::Migrator] = &[
    &stride_bus::MIGRATOR,
    &stride_bus::directory::MIGRATOR,
    &MIGRATOR,
];

/// activity-session needs only the common settings.
pub use stride_kit::service::Config;

/// Starts the gRPC server, the outbox relay and the event consumer; returns once listening.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let mut service = Builder::connect(SERVICE, &config.common, MIGRATIONS).await?;
    let outbox = service.relay();
    service.subscribe(events::subscriptions());
    let handlers = grpc::ActivitySessions {
        pool: service.pool().clone(),
        clock,
        outbox,
        presets: store::activities::Presets::load(&mut *service.pool().acquire().await?).await?,
        zones: Default::default(),
        live: Default::default(),
    };
    service.grpc(CatalogServiceServer::new(handlers.clone()));
    service.grpc(SessionServiceServer::new(handlers.clone()));
    // Tasks, shutdown reflections, learning (issue 13, part C).
    service.grpc(
        stride_proto::activity_session::task_service_server::TaskServiceServer::new(
            handlers.clone(),
        ),
    );
    service.grpc(
        stride_proto::activity_session::reflection_service_server::ReflectionServiceServer::new(
            handlers.clone(),
        ),
    );
    service.grpc(
        stride_proto::activity_session::learning_service_server::LearningServiceServer::new(
            handlers.clone(),
        ),
    );
    service.grpc(UserPlanServiceServer::new(handlers.clone()));
    service.grpc(WorkoutLogServiceServer::new(handlers.clone()));
    service.grpc(RoutineServiceServer::new(handlers));
    service.grpc(
        stride_proto::stride::activity_session::v1::user_data_service_server::UserDataServiceServer::new(
            export::Export {
                pool: service.pool().clone(),
            },
        ),
    );
    service.start(verifier).await
}
