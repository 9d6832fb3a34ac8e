//! activity-session: the activity catalog and the caller's timed sessions.
//!
//! Consumes `profile.updated.v1` (to know each user's timezone), `user.deleted.v1` (purges the
//! user's sessions and timezone) and `user.merged.v1` (moves a guest's sessions to the target
//! account); produces `session.completed.v1` through the transactional outbox.

mod events;
mod service;

use std::sync::Arc;

use stride_kit::{
    clock::SharedClock,
    config::{CommonConfig, ConfigError, Env},
    serve::{Command, Running, ServeConfig},
};
use stride_proto::activity_session::activity_session_service_server::ActivitySessionServiceServer;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub use events::EventHandler;
pub use service::Svc;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Short service name: queue `activity-session.events`, AMQP `app_id`, metrics.
pub const SERVICE: &str = "activity-session";

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

    // The relay starts first because the gRPC service holds its outbox handle; its token follows
    // the server's shutdown token once that exists.
    let relay_token = CancellationToken::new();
    let relay = stride_bus::outbox::Relay::spawn(
        pool.clone(),
        &common.amqp_url,
        SERVICE,
        relay_token.clone(),
    );
    let svc = Svc::new(pool.clone(), relay.outbox.clone(), clock);

    let spawned = stride_kit::serve::spawn(
        ServeConfig {
            service: SERVICE,
            grpc_addr: common.grpc_addr,
            http_addr: common.http_addr,
            service_names: vec!["stride.activity_session.v1.ActivitySessionService".into()],
            verifier,
        },
        Routes::new(ActivitySessionServiceServer::new(svc)),
    )
    .await;
    let mut running = match spawned {
        Ok(r) => r,
        Err(e) => {
            relay_token.cancel();
            return Err(e);
        }
    };
    let shutdown = running.shutdown.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        relay_token.cancel();
    });

    let sub = stride_bus::consumer::Subscriber::new(
        SERVICE,
        &common.amqp_url,
        pool,
        events::CONSUMES.to_vec(),
        EventHandler,
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
