//! auth: accounts, password credentials (argon2id), refresh-token families and the signing keys
//! whose public half every other process verifies access tokens with.
//!
//! Produces `user.registered.v1`, `user.merged.v1` and `user.deleted.v1`; consumes nothing.

// A panic on a caller's input is a broken call: service code handles every case instead.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod domain;
mod errors;
mod events;
mod export;
pub mod external;
mod grpc;
pub mod keys;
mod notifier;
pub mod ops;
pub mod password;
pub mod settings;
pub mod signins;
mod sms_provider;
mod store;
mod sweeper;

pub use domain::breached;

use std::sync::Arc;

use stride_bus::ServiceExt as _;
use stride_kit::{
    SystemClock, Verifier,
    clock::SharedClock,
    config::{CommonConfig, ConfigError, Env},
    serve::Running,
    service::Builder,
};
use stride_proto::auth::auth_service_server::AuthServiceServer;

use crate::{grpc::AuthSvc, notifier::Notifier};

pub const SERVICE: &str = "auth";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Everything `migrate` applies: the bus tables, then auth's own.
pub static MIGRATIONS: &[&sqlx::migrate::Migrator] = &[&stride_bus::MIGRATOR, &MIGRATOR];

pub struct Config {
    pub common: CommonConfig,
    pub settings: settings::Settings,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::new())
    }

    /// Reads from `env` (the docs test feeds it the documented examples).
    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        // auth serves the keys itself, so it needs no auth URL. Its slow calls wait on the
        // hashing line, which bounds and refuses them itself (`MAX_WAITING`): with the default
        // admission floor a login flood held every slot and cheap calls queued behind it.
        let common = CommonConfig::read_with(
            &mut env,
            SERVICE,
            false,
            stride_kit::shed::Config::waiting_on_io(),
        );
        let settings = settings::Settings::read(&mut env);
        env.finish()?;
        Ok(Self { common, settings })
    }
}

/// Starts the gRPC server, the outbox relay, the key-rotation schedule and the sweeper; returns
/// once listening.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let mut service = Builder::connect(SERVICE, &config.common, MIGRATIONS).await?;
    let pool = service.pool().clone();
    let keys = Arc::new(keys::KeyRing::new(
        keys::load_or_create(&pool, clock.now()).await?,
    ));
    let settings = Arc::new(config.settings);
    // Applies the rotation schedule at once (a key older than the period is replaced now).
    keys.rotate_if_due(&pool, clock.now(), settings.key_rotation)
        .await?;
    let notifier = Notifier {
        mail: stride_notify::mailer_from_url(settings.mail_url.expose(), &settings.mail_from)?,
        sms: sms_provider::sender(&settings)?,
    };
    let providers = Arc::new(external::Providers::from_settings(&settings)?);
    let signins = Arc::new(signins::SignIns::from_settings(&settings)?);
    let outbox = service.relay();
    service.background("key rotation", {
        let (keys, pool, clock, period) = (
            keys.clone(),
            pool.clone(),
            clock.clone(),
            settings.key_rotation,
        );
        move |stop| keys.run_schedule(pool, clock, period, stop)
    });
    service.background("sweeper", {
        let (pool, clock) = (pool.clone(), clock.clone());
        move |stop| sweeper::run(pool, clock, stop)
    });
    service.grpc(AuthServiceServer::new(AuthSvc {
        pool,
        clock,
        keys,
        hasher: Arc::new(password::Hasher::new().await?),
        outbox,
        settings,
        notifier,
        providers,
        signins,
        verifier: verifier.clone(),
    }));
    service.grpc(
        stride_proto::stride::auth::v1::user_data_service_server::UserDataServiceServer::new(
            export::Export {
                pool: service.pool().clone(),
            },
        ),
    );
    service.start(verifier).await
}

/// `stride-auth serve`: runs until SIGTERM. auth verifies tokens against the keys in its own
/// database instead of calling itself for its JWKS.
pub async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let clock: SharedClock = Arc::new(SystemClock);
    let pool = stride_kit::db::connect(config.common.database_url.expose(), 2).await?;
    let verifier = Verifier::new(Arc::new(keys::DbJwks {
        pool,
        clock: clock.clone(),
    }));
    let running = start(config, verifier.clone(), clock).await?;
    // After start: the keys table exists (migrated) and holds the current key.
    verifier.spawn_refresh();
    running.run_until_signal().await
}
