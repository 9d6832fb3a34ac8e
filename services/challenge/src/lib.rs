//! challenge: challenges, participants and their progress, the points ledger, XP, levels and
//! achievements, leaderboards and friends (docs/rewards.md).
//!
//! Consumes `session.completed.v1`, `profile.updated.v1` (the user directory),
//! `user.deleted.v1` (purges the user) and `user.merged.v1` (moves a guest's memberships,
//! progress and points to the target account); produces `challenge.completed.v1` and
//! `challenge.settled.v1` through the transactional outbox. Background jobs: the weekly
//! scheduler and the settler ([`jobs`]). Rules: docs/challenges.md. Layout:
//! docs/service-layout.md.

// A panic on a caller's input is a broken call: service code handles every case instead.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod domain;
mod errors;
mod events;
mod export;
mod grpc;
pub mod jobs;
mod store;

use std::sync::Arc;

use stride_bus::ServiceExt as _;
use stride_kit::{Verifier, clock::SharedClock, serve::Running, service::Builder};
use stride_proto::challenge::{
    challenge_service_server::ChallengeServiceServer, friend_service_server::FriendServiceServer,
    leaderboard_service_server::LeaderboardServiceServer,
    reward_service_server::RewardServiceServer,
};

/// Short service name: queue `challenge.events`, AMQP `app_id`, metrics.
pub const SERVICE: &str = "challenge";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Everything `migrate` applies: the bus tables, the user directory, then challenge's own.
pub static MIGRATIONS: &[&sqlx::migrate::Migrator] = &[
    &stride_bus::MIGRATOR,
    &stride_bus::directory::MIGRATOR,
    &MIGRATOR,
];

/// challenge needs only the common settings.
pub use stride_kit::service::Config;

/// Starts the gRPC server, the outbox relay and the event consumer; returns once listening.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let mut service = Builder::connect(SERVICE, &config.common, MIGRATIONS).await?;
    // The relay comes before the subscription so the handlers' commits wake it.
    let outbox = service.relay();
    service.subscribe(events::subscriptions(&clock));
    let pool = service.pool().clone();
    // This week's windows exist before the first call; the jobs keep them coming.
    jobs::schedule(&pool, clock.now_db()).await?;
    service.background("challenge jobs", {
        let (pool, outbox, clock) = (pool.clone(), outbox.clone(), clock.clone());
        move |stop| jobs::run(pool, outbox, clock, stop)
    });
    service.grpc(ChallengeServiceServer::new(grpc::Challenges {
        pool: pool.clone(),
        clock: clock.clone(),
        outbox,
    }));
    service.grpc(LeaderboardServiceServer::new(grpc::Leaderboards {
        pool: pool.clone(),
        clock: clock.clone(),
    }));
    service.grpc(RewardServiceServer::new(grpc::Rewards {
        pool: pool.clone(),
        clock: clock.clone(),
    }));
    service.grpc(FriendServiceServer::new(grpc::Friends {
        pool: pool.clone(),
        clock: clock.clone(),
    }));
    service.grpc(
        stride_proto::stride::challenge::v1::user_data_service_server::UserDataServiceServer::new(
            export::Export {
                pool: service.pool().clone(),
            },
        ),
    );
    service.start(verifier).await
}
