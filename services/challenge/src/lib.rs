//! challenge: challenges, participants and their progress, the points ledger and leaderboards.
//!
//! Consumes `session.completed.v1`, `profile.updated.v1`, `user.deleted.v1` (purges the user) and
//! `user.merged.v1` (moves a guest's memberships, progress and points to the target account);
//! produces `challenge.completed.v1` through the transactional outbox.

mod events;
mod service;

use std::sync::Arc;

use stride_kit::{
    clock::SharedClock,
    config::{CommonConfig, ConfigError, Env},
    serve::{Command, Running, ServeConfig},
};
use stride_proto::challenge::challenge_service_server::ChallengeServiceServer;
use tonic::service::Routes;

pub use events::EventHandler;
pub use service::Svc;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Short service name: queue `challenge.events`, AMQP `app_id`, metrics.
pub const SERVICE: &str = "challenge";

#[derive(Clone, Debug)]
pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut env = Env::new();
        let common = CommonConfig::read(&mut env, SERVICE, true);
        env.finish()?;
        Ok(Self { common })
    }
}

/// Starts the gRPC server, the outbox relay and the event subscriber; returns when listening.
pub async fn start(
    config: Config,
    verifier: Arc<stride_kit::Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let common = &config.common;
    let pool = stride_kit::db::connect(&common.database_url, common.db_max_connections).await?;
    stride_kit::db::migrate(&pool, &[&stride_bus::MIGRATOR, &MIGRATOR]).await?;

    let svc = Svc::new(pool.clone(), clock.clone());
    let mut running = stride_kit::serve::spawn(
        ServeConfig {
            service: SERVICE,
            grpc_addr: common.grpc_addr,
            http_addr: common.http_addr,
            service_names: vec!["stride.challenge.v1.ChallengeService".into()],
            verifier,
        },
        Routes::new(ChallengeServiceServer::new(svc)),
    )
    .await?;

    // The relay publishes what the event handler enqueues; the handler wakes it after commit.
    let relay = stride_bus::outbox::Relay::spawn(
        pool.clone(),
        &common.amqp_url,
        SERVICE,
        running.shutdown.clone(),
    );
    let sub = stride_bus::consumer::Subscriber::new(
        SERVICE,
        &common.amqp_url,
        pool,
        events::CONSUMES.to_vec(),
        EventHandler {
            outbox: relay.outbox.clone(),
            clock,
        },
    )
    .spawn(running.shutdown.clone());
    stride_kit::serve::ready_when(
        running.health.clone(),
        vec![relay.ready.clone(), sub.ready.clone()],
        running.shutdown.clone(),
    );
    running.track(relay.task);
    running.track(sub.task);
    Ok(running)
}

/// The binary: `migrate` applies the migrations and exits; `serve` runs until SIGTERM.
pub async fn main(cmd: Command) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    if cmd == Command::Migrate {
        let common = &config.common;
        let pool = stride_kit::db::connect(&common.database_url, common.db_max_connections).await?;
        stride_kit::db::migrate(&pool, &[&stride_bus::MIGRATOR, &MIGRATOR]).await?;
        pool.close().await;
        return Ok(());
    }
    // `start` connects and migrates itself.
    let verifier = stride_kit::Verifier::from_auth_url(&config.common.auth_url)?;
    let running = start(config, verifier, Arc::new(stride_kit::SystemClock)).await?;
    running.run_until_signal().await
}
