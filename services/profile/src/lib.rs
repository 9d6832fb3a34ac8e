//! profile: the caller's display name, timezone and locale.
//!
//! Consumes `user.registered.v1` (creates the profile), `user.deleted.v1` (purges it) and
//! `user.merged.v1` (merges a guest's profile into the target's);
//! produces `profile.updated.v1` with the full state and a per-user revision on every change.

pub mod events;
pub mod service;
pub mod store;

use std::sync::Arc;

use stride_kit::{
    SystemClock, Verifier,
    clock::SharedClock,
    config::{CommonConfig, ConfigError, Env},
    db,
    serve::{self, Command, Running, ServeConfig},
};
use stride_proto::profile::profile_service_server::ProfileServiceServer;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const SERVICE: &str = "profile";

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

/// Starts the gRPC server, the outbox relay and the event consumer; returns once listening.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let c = &config.common;
    let pool = db::connect(&c.database_url, c.db_max_connections).await?;
    db::migrate(&pool, &[&stride_bus::MIGRATOR, &MIGRATOR]).await?;

    // Handlers need the relay's kick handle before the server (and its shutdown token) exists,
    // so the bus parts get their own token, cancelled when the server's is.
    let bus = CancellationToken::new();
    let relay = stride_bus::outbox::Relay::spawn(pool.clone(), &c.amqp_url, SERVICE, bus.clone());
    let handler = events::ProfileEvents {
        clock: clock.clone(),
        outbox: relay.outbox.clone(),
    };
    let sub = stride_bus::consumer::Subscriber::new(
        SERVICE,
        &c.amqp_url,
        pool.clone(),
        events::CONSUMES.to_vec(),
        handler,
    )
    .spawn(bus.clone());
    let svc = service::ProfileSvc {
        pool,
        clock,
        outbox: relay.outbox.clone(),
    };
    let spawned = serve::spawn(
        ServeConfig {
            service: SERVICE,
            grpc_addr: c.grpc_addr,
            http_addr: c.http_addr,
            service_names: vec!["stride.profile.v1.ProfileService".into()],
            verifier,
        },
        Routes::new(ProfileServiceServer::new(svc)),
    )
    .await;
    let mut running = match spawned {
        Ok(r) => r,
        Err(e) => {
            bus.cancel();
            return Err(e);
        }
    };
    let shutdown = running.shutdown.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        bus.cancel();
    });
    running.track(relay.task);
    running.track(sub.task);
    serve::ready_when(
        running.health.clone(),
        vec![relay.ready, sub.ready],
        running.shutdown.clone(),
    );
    Ok(running)
}

pub async fn main(cmd: Command) -> anyhow::Result<()> {
    let cfg = Config::from_env()?;
    let pool = db::connect(&cfg.common.database_url, 2).await?;
    db::migrate(&pool, &[&stride_bus::MIGRATOR, &MIGRATOR]).await?;
    pool.close().await;
    if cmd == Command::Migrate {
        return Ok(());
    }
    let verifier = Verifier::from_auth_url(&cfg.common.auth_url)?;
    let running = start(cfg, verifier, Arc::new(SystemClock)).await?;
    running.run_until_signal().await
}
