//! auth: accounts, password credentials (argon2id), refresh-token families and the signing keys
//! whose public half every other process verifies access tokens with.
//!
//! Produces `user.registered.v1`, `user.merged.v1` and `user.deleted.v1`; consumes nothing.

mod account;
mod admin;
mod audit;
pub mod breached;
mod codes;
mod email;
pub mod external;
mod guest;
mod identities;
pub mod keys;
pub mod password;
mod recovery;
pub mod service;
mod sessions;
pub mod settings;
mod signup;
mod throttle;

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
    pub settings: settings::Settings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut env = Env::new();
        // auth serves the keys itself, so it needs no auth URL.
        let common = CommonConfig::read(&mut env, SERVICE, false);
        let settings = settings::Settings::read(&mut env);
        env.finish()?;
        Ok(Self { common, settings })
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
    let keys = Arc::new(keys::KeyRing::new(
        keys::load_or_create(&pool, clock.now()).await?,
    ));
    let settings = Arc::new(config.settings);
    // Applies the rotation schedule at once (a key older than the period is replaced now).
    keys.rotate_if_due(&pool, clock.now(), settings.key_rotation)
        .await?;
    let hasher = Arc::new(password::Hasher::new().await?);
    let notifier = service::Notifier {
        mail: stride_notify::mailer_from_url(&settings.mail_url, &settings.mail_from)?,
        sms: stride_notify::sms_from_url(&settings.sms_url)?,
    };
    let providers = Arc::new(external::Providers::from_settings(&settings)?);

    // The handlers need the relay's kick handle before the server (and its shutdown token)
    // exists, so the relay gets its own token, cancelled when the server's is.
    let bus = CancellationToken::new();
    let relay = stride_bus::outbox::Relay::spawn(pool.clone(), &c.amqp_url, SERVICE, bus.clone());
    let schedule = keys.spawn_schedule(
        pool.clone(),
        clock.clone(),
        settings.key_rotation,
        bus.clone(),
    );
    let sweeper = spawn_sweeper(pool.clone(), clock.clone(), bus.clone());
    let svc = service::AuthSvc {
        pool,
        clock,
        keys,
        hasher,
        outbox: relay.outbox.clone(),
        settings,
        notifier,
        providers,
        verifier: verifier.clone(),
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
    running.track(schedule);
    running.track(sweeper);
    serve::ready_when(
        running.health.clone(),
        vec![relay.ready],
        running.shutdown.clone(),
    );
    Ok(running)
}

/// Drops expired throttle hits and spent codes every ten minutes.
fn spawn_sweeper(
    pool: sqlx::PgPool,
    clock: SharedClock,
    token: CancellationToken,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tokio::select! {
                () = token.cancelled() => return Ok(()),
                _ = tick.tick() => {}
            }
            let now = clock.now();
            if let Err(e) = throttle::sweep(&pool, now).await {
                tracing::warn!(error = %e, "throttle sweep failed");
            }
            // Sign-ups never confirmed within a day: nothing was announced, nothing to purge
            // elsewhere; their identities and codes go with them.
            let pending =
                sqlx::query("DELETE FROM users WHERE pending_confirmation AND created_at < $1")
                    .bind(now - time::Duration::days(1))
                    .execute(&pool)
                    .await;
            if let Err(e) = pending {
                tracing::warn!(error = %e, "pending sign-up sweep failed");
            }
            let swept = sqlx::query("DELETE FROM one_time_codes WHERE created_at < $1")
                .bind(now - time::Duration::days(1))
                .execute(&pool)
                .await;
            if let Err(e) = swept {
                tracing::warn!(error = %e, "code sweep failed");
            }
        }
    })
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
