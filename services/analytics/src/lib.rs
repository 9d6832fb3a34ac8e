//! analytics: per-user daily rollups in the user's local date, streaks and progress summaries.
//!
//! Fed by `session.completed.v1`, `challenge.completed.v1` and `profile.updated.v1` (the user
//! directory: the zone "today" is computed in), purged per user by `user.deleted.v1`, a guest's
//! figures moved to the target account by `user.merged.v1`; produces no events. Answers
//! `stride.analytics.v1.AnalyticsService`. Layout: docs/service-layout.md.

// A panic on a caller's input is a broken call: service code handles every case instead.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod config;
mod domain;
mod errors;
mod events;
mod export;
mod grpc;
pub mod rebuild;
mod store;

use std::sync::Arc;

use stride_bus::ServiceExt as _;
use stride_kit::{Verifier, clock::SharedClock, serve::Running, service::Builder};
use stride_proto::analytics::analytics_service_server::AnalyticsServiceServer;

/// Short service name: queue `analytics.events`, metrics, traces.
pub const SERVICE: &str = "analytics";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Everything `migrate` applies: the bus tables, the user directory, then analytics' own.
pub static MIGRATIONS: &[&sqlx::migrate::Migrator] = &[
    &stride_bus::MIGRATOR,
    &stride_bus::directory::MIGRATOR,
    &MIGRATOR,
];

pub use config::Config;

/// Starts the gRPC server and the event consumer; returns once listening. Health turns SERVING
/// once the consumer's queue is bound.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let mut service = Builder::connect(SERVICE, &config.common, MIGRATIONS).await?;
    service.subscribe(events::subscriptions(&clock));
    service.grpc(AnalyticsServiceServer::new(grpc::Summaries {
        pool: service.pool().clone(),
        clock: clock.clone(),
    }));
    // H (issue 15): trends, mastery, dashboard, CSV export, share cards.
    grpc::serve_views(&mut service, &config, &clock)?;
    service.grpc(
        stride_proto::stride::analytics::v1::user_data_service_server::UserDataServiceServer::new(
            export::Export {
                pool: service.pool().clone(),
            },
        ),
    );
    service.start(verifier).await
}

/// `stride-analytics serve`: runs until SIGTERM. (`migrate` reads only DATABASE_URL: the peer
/// settings are read here.)
pub async fn serve() -> anyhow::Result<()> {
    stride_kit::service::run(Config::from_env()?, start).await
}
