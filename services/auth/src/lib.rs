//! auth: accounts, password credentials (argon2id), refresh-token families and the signing keys
//! whose public half every other process verifies access tokens with.
//!
//! Produces `user.registered.v1` and `user.deleted.v1`; consumes nothing yet.

mod account;
pub mod keys;
pub mod password;
pub mod service;
mod sessions;

use std::sync::Arc;

use stride_kit::{
    SystemClock, Verifier,
    clock::SharedClock,
    config::{CommonConfig, ConfigError, Env},
    db,
    serve::{self, Command, Running, ServeConfig},
};
use stride_proto::auth::auth_service_server::AuthServiceServer;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const SERVICE: &str = "auth";

pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut env = Env::new();
        // auth serves the keys itself, so it needs no auth URL.
        let common = CommonConfig::read(&mut env, SERVICE, false);
        env.finish()?;
        Ok(Self { common })
    }
}

/// Starts the gRPC server and the outbox relay; returns once listening.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let c = &config.common;
    let pool = db::connect(&c.database_url, c.db_max_connections).await?;
    db::migrate(&pool, &[&stride_bus::MIGRATOR, &MIGRATOR]).await?;
    let key = Arc::new(keys::load_or_create(&pool, clock.now()).await?);
    let hasher = Arc::new(password::Hasher::new().await?);

    // The handlers need the relay's kick handle before the server (and its shutdown token)
    // exists, so the relay gets its own token, cancelled when the server's is.
    let bus = CancellationToken::new();
    let relay = stride_bus::outbox::Relay::spawn(pool.clone(), &c.amqp_url, SERVICE, bus.clone());
    let svc = service::AuthSvc {
        pool,
        clock,
        key,
        hasher,
        outbox: relay.outbox.clone(),
    };
    let spawned = serve::spawn(
        ServeConfig {
            service: SERVICE,
            grpc_addr: c.grpc_addr,
            http_addr: c.http_addr,
            service_names: vec!["stride.auth.v1.AuthService".into()],
            verifier,
        },
        Routes::new(AuthServiceServer::new(svc)),
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
    serve::ready_when(
        running.health.clone(),
        vec![relay.ready],
        running.shutdown.clone(),
    );
    Ok(running)
}

pub async fn main(cmd: Command) -> anyhow::Result<()> {
    let cfg = Config::from_env()?;
    // A small pool of its own: migrations, then auth's verifier reads the published keys
    // straight from the database instead of calling itself.
    let pool = db::connect(&cfg.common.database_url, 2).await?;
    db::migrate(&pool, &[&stride_bus::MIGRATOR, &MIGRATOR]).await?;
    if cmd == Command::Migrate {
        return Ok(());
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let verifier = Verifier::new(Arc::new(keys::DbJwks {
        pool,
        clock: clock.clone(),
    }));
    verifier.spawn_refresh();
    let running = start(cfg, verifier, clock).await?;
    running.run_until_signal().await
}
