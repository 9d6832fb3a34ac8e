//! analytics: per-user daily rollups in the user's local date, streaks and progress summaries.
//!
//! Fed by `session.completed.v1`, `challenge.completed.v1` and `profile.updated.v1`, purged per
//! user by `user.deleted.v1`, a guest's figures moved to the target account by `user.merged.v1`;
//! answers `stride.analytics.v1.AnalyticsService`.

use std::sync::Arc;

use stride_kit::{
    Verifier,
    clock::SharedClock,
    config::{CommonConfig, ConfigError, Env},
    serve::{Command, Running, ServeConfig},
};
use stride_proto::analytics::analytics_service_server::AnalyticsServiceServer;
use tonic::service::Routes;

pub mod events;
pub mod service;
pub mod store;

pub use service::Analytics;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Short service name: queue `analytics.events`, metrics, traces.
pub const SERVICE: &str = "analytics";
/// Fully-qualified gRPC service name (health status).
pub const GRPC_SERVICE: &str = "stride.analytics.v1.AnalyticsService";

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

/// Starts the gRPC server and the event subscriber; returns when listening. Health turns
/// SERVING once the subscriber consumes its queue.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let c = &config.common;
    let pool = stride_kit::db::connect(&c.database_url, c.db_max_connections).await?;
    stride_kit::db::migrate(&pool, &[&stride_bus::MIGRATOR, &MIGRATOR]).await?;

    let svc = Analytics::new(pool.clone(), clock);
    let mut running = stride_kit::serve::spawn(
        ServeConfig {
            service: SERVICE,
            grpc_addr: c.grpc_addr,
            http_addr: c.http_addr,
            service_names: vec![GRPC_SERVICE.into()],
            verifier,
        },
        Routes::new(AnalyticsServiceServer::new(svc)),
    )
    .await?;

    let sub = stride_bus::consumer::Subscriber::new(
        SERVICE,
        &c.amqp_url,
        pool,
        events::TYPES.to_vec(),
        events::EventHandler,
    )
    .spawn(running.shutdown.clone());
    running.track(sub.task);
    stride_kit::serve::ready_when(
        running.health.clone(),
        vec![sub.ready],
        running.shutdown.clone(),
    );
    Ok(running)
}

pub async fn main(cmd: Command) -> anyhow::Result<()> {
    let cfg = Config::from_env()?;
    let pool =
        stride_kit::db::connect(&cfg.common.database_url, cfg.common.db_max_connections).await?;
    stride_kit::db::migrate(&pool, &[&stride_bus::MIGRATOR, &MIGRATOR]).await?;
    if cmd == Command::Migrate {
        return Ok(());
    }
    pool.close().await;
    let verifier = Verifier::from_auth_url(&cfg.common.auth_url)?;
    let running = start(cfg, verifier, Arc::new(stride_kit::SystemClock)).await?;
    running.run_until_signal().await
}
