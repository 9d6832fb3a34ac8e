//! The one start-up path of every service.
//!
//! A service's `lib.rs` declares its config and hands the builder what it has; the builder owns
//! the database pool and migrations, the shutdown token, readiness and the server:
//!
//! ```ignore
//! pub async fn start(config: Config, verifier: Arc<Verifier>, clock: SharedClock) -> anyhow::Result<Running> {
//!     let mut service = Builder::connect(SERVICE, &config.common, MIGRATIONS).await?;
//!     let outbox = service.relay();                       // stride_bus::ServiceExt
//!     service.subscribe(events::subscriptions(&clock));   // typed; bindings derived
//!     service.background("sweeper", |stop| sweep(pool, stop));
//!     service.grpc(ProfileServiceServer::new(grpc::Profile { pool, clock, outbox }));
//!     service.start(verifier).await
//! }
//! ```
//!
//! Components (the outbox relay, event subscribers, schedulers) are spawned as they are added,
//! on the builder's shutdown token; the server starts last. Readiness turns SERVING once every
//! component's readiness signal has been true (ADR 0005). If start-up fails, or the builder is
//! dropped unstarted, the token is cancelled so nothing keeps running.
//!
//! [`main`] is every binary's `main`: `migrate` needs only `DATABASE_URL`; `serve` (the default)
//! runs the service's own entry point, which migrates through [`Builder::connect`].

use std::{future::Future, process::ExitCode, sync::Arc};

use sqlx::{PgPool, migrate::Migrator};
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::{body::Body, server::NamedService, service::RoutesBuilder};

use crate::{
    SystemClock, Verifier,
    clock::SharedClock,
    config::{CommonConfig, ConfigError, Env},
    serve::{Command, Running, ServeConfig},
};

/// The configuration of a service that needs nothing beyond the common settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub common: CommonConfig,
}

impl Config {
    /// Reads the common settings of `service` (which verifies tokens against auth's JWKS).
    pub fn from_env(service: &'static str) -> Result<Self, ConfigError> {
        Self::read(Env::new(), service)
    }

    /// Reads from `env` (the docs test feeds it the documented examples).
    pub fn read(mut env: Env, service: &'static str) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, service, true);
        env.finish()?;
        Ok(Self { common })
    }
}

impl AsRef<CommonConfig> for Config {
    fn as_ref(&self) -> &CommonConfig {
        &self.common
    }
}

/// `stride-<service> serve` for a service whose configuration is [`Config`]: reads it, starts
/// with auth's JWKS and the system clock, runs until SIGTERM.
pub async fn serve<F, Fut>(service: &'static str, start: F) -> anyhow::Result<()>
where
    F: FnOnce(Config, Arc<Verifier>, SharedClock) -> Fut,
    Fut: Future<Output = anyhow::Result<Running>>,
{
    run(Config::from_env(service)?, start).await
}

/// Starts a service with its configuration (already read), auth's JWKS and the system clock;
/// runs until SIGTERM.
pub async fn run<C, F, Fut>(config: C, start: F) -> anyhow::Result<()>
where
    C: AsRef<CommonConfig>,
    F: FnOnce(C, Arc<Verifier>, SharedClock) -> Fut,
    Fut: Future<Output = anyhow::Result<Running>>,
{
    crate::discovery::set_refresh_interval(config.as_ref().dns_refresh);
    let verifier = Verifier::from_auth_url(&config.as_ref().auth_url)?;
    start(config, verifier, Arc::new(SystemClock))
        .await?
        .run_until_signal()
        .await
}

/// Assembles a service process. See the module docs.
pub struct Builder {
    name: &'static str,
    common: CommonConfig,
    pool: PgPool,
    shutdown: CancellationToken,
    routes: RoutesBuilder,
    grpc_names: Vec<String>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    ready: Vec<watch::Receiver<bool>>,
    extensions: http::Extensions,
    http_routes: axum::Router,
    started: bool,
}

impl Builder {
    /// Connects to the service's database and applies `migrations` (the bus tables and the
    /// service's own, as one ordered set).
    pub async fn connect(
        name: &'static str,
        common: &CommonConfig,
        migrations: &[&Migrator],
    ) -> anyhow::Result<Self> {
        let pool = crate::db::connect_with(
            common.database_url.expose(),
            common.db_max_connections,
            common.db_generic_plans,
        )
        .await?;
        crate::db::migrate(&pool, migrations).await?;
        Ok(Self {
            name,
            common: common.clone(),
            pool,
            shutdown: CancellationToken::new(),
            routes: RoutesBuilder::default(),
            grpc_names: Vec::new(),
            tasks: Vec::new(),
            ready: Vec::new(),
            extensions: http::Extensions::new(),
            http_routes: axum::Router::new(),
            started: false,
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn common(&self) -> &CommonConfig {
        &self.common
    }

    /// The service's connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Adds a gRPC service (call once per service of the package); its health status follows
    /// the process's readiness.
    pub fn grpc<S>(&mut self, service: S) -> &mut Self
    where
        S: tower::Service<http::Request<Body>, Error = std::convert::Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.grpc_names.push(S::NAME.to_owned());
        self.routes.add_service(service);
        self
    }

    /// Adds routes to the HTTP port (beside `/healthz`, `/readyz`, `/metrics`): plain HTTP a
    /// service must serve itself, such as profile's avatar files.
    pub fn http(&mut self, routes: axum::Router) -> &mut Self {
        let current = std::mem::take(&mut self.http_routes);
        self.http_routes = current.merge(routes);
        self
    }

    /// Spawns a background task (sweeper, scheduler, …) that runs until `stop` is cancelled and
    /// must finish before the process exits. An error ends the task and is reported at stop.
    pub fn background<F, Fut>(&mut self, name: &'static str, task: F) -> &mut Self
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let fut = task(self.shutdown.clone());
        self.tasks.push(tokio::spawn(async move {
            let r = fut.await;
            if let Err(e) = &r {
                tracing::error!(
                    task = name,
                    error = format!("{e:#}"),
                    "background task failed"
                );
            }
            r
        }));
        self
    }

    /// Tracks a component spawned on [`Builder::shutdown_token`]: its task is awaited at stop,
    /// and the process is ready only once `ready` has been true.
    pub fn component(
        &mut self,
        ready: Option<watch::Receiver<bool>>,
        task: JoinHandle<anyhow::Result<()>>,
    ) -> &mut Self {
        self.ready.extend(ready);
        self.tasks.push(task);
        self
    }

    /// The token components are spawned on (for kit extensions such as the bus's relay and
    /// subscriber); cancelled at stop.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Per-process values components share (the bus keeps the relay's outbox here so a
    /// subscriber added later wakes it).
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// Binds the ports and serves; returns once listening. Health turns SERVING when every
    /// component is ready.
    pub async fn start(mut self, verifier: Arc<Verifier>) -> anyhow::Result<Running> {
        let routes = std::mem::take(&mut self.routes).routes();
        let cfg = ServeConfig {
            service: self.name,
            grpc_addr: self.common.grpc_addr,
            http_addr: self.common.http_addr,
            service_names: std::mem::take(&mut self.grpc_names),
            verifier,
            admission: self.common.admission.clone(),
            http_routes: std::mem::take(&mut self.http_routes),
        };
        // On error, dropping `self` cancels the token: the components stop with it.
        let mut running = crate::serve::spawn(cfg, routes, self.shutdown.clone()).await?;
        self.started = true;
        for task in std::mem::take(&mut self.tasks) {
            running.track(task);
        }
        crate::serve::ready_when(
            running.health.clone(),
            std::mem::take(&mut self.ready),
            running.shutdown.clone(),
        );
        Ok(running)
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        if !self.started {
            self.shutdown.cancel();
        }
    }
}

/// Every service binary's `main`: `stride-<service> migrate` applies `migrations` with only
/// `DATABASE_URL` set and exits; `stride-<service> [serve]` runs `serve` (which reads the whole
/// config and migrates through [`Builder::connect`]) until SIGTERM.
pub fn main<F, Fut>(
    service: &'static str,
    migrations: &'static [&'static Migrator],
    serve: F,
) -> ExitCode
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    crate::serve::main(service, move |cmd| async move {
        match cmd {
            Command::Migrate => migrate(migrations).await,
            Command::Serve => serve().await,
        }
    })
}

/// Applies `migrations` to `DATABASE_URL`; nothing else is read.
pub async fn migrate(migrations: &[&Migrator]) -> anyhow::Result<()> {
    let mut env = Env::new();
    let url = crate::config::migrate_database_url(&mut env);
    env.finish()?;
    let pool = crate::db::connect(url.expose(), 2).await?;
    crate::db::migrate(&pool, migrations).await?;
    pool.close().await;
    tracing::info!("migrations applied");
    Ok(())
}
