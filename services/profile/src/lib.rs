//! profile: the caller's display name, timezone and locale.
//!
//! Consumes `user.registered.v1` (creates the profile), `user.deleted.v1` (purges it) and
//! `user.merged.v1` (merges a guest's profile into the target's); produces `profile.updated.v1`
//! with the full state and a per-user revision on every change. Layout: docs/service-layout.md.
//!
//! Also notifications (`notifications/`: settings, devices, inbox, reminders scheduled from
//! `session.completed.v1` or by other services, delivered by a scheduler) and the data export
//! (`export/`: gathers every service's `UserDataService` into an archive, ADR 0010).

// A panic on a caller's input is a broken call: service code handles every case instead.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod domain;
mod errors;
mod events;
mod export;
mod grpc;
mod notifications;
mod store;

use std::sync::Arc;

use stride_bus::ServiceExt as _;
use stride_kit::{Verifier, clock::SharedClock, serve::Running, service::Builder};
use stride_proto::profile::profile_service_server::ProfileServiceServer;

pub const SERVICE: &str = "profile";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Everything `migrate` applies: the bus tables, then profile's own.
pub static MIGRATIONS: &[&sqlx::migrate::Migrator] = &[&stride_bus::MIGRATOR, &MIGRATOR];

pub use export::ExportSettings;
pub use notifications::{
    NotifyConfig,
    deliver::{LogPush, Push, PushError, PushSender},
};

/// profile's settings: the common ones and reminder delivery.
#[derive(Clone, Debug)]
pub struct Config {
    pub common: stride_kit::config::CommonConfig,
    pub notify: NotifyConfig,
    pub export: ExportSettings,
}

impl Config {
    /// The common settings with development defaults for the rest (tests).
    pub fn new(common: stride_kit::config::CommonConfig) -> Self {
        Self {
            common,
            notify: NotifyConfig::default(),
            export: ExportSettings::local(),
        }
    }

    pub fn from_env() -> Result<Self, stride_kit::config::ConfigError> {
        let mut env = stride_kit::config::Env::new();
        let common = stride_kit::config::CommonConfig::read(&mut env, SERVICE, true);
        let notify = NotifyConfig::read(&mut env);
        let export = ExportSettings::read(&mut env, &common.auth_url);
        env.finish()?;
        Ok(Self {
            common,
            notify,
            export,
        })
    }
}

impl AsRef<stride_kit::config::CommonConfig> for Config {
    fn as_ref(&self) -> &stride_kit::config::CommonConfig {
        &self.common
    }
}

/// Starts the gRPC server, the outbox relay and the event consumer; returns once listening.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let mut service = Builder::connect(SERVICE, &config.common, MIGRATIONS).await?;
    let outbox = service.relay();
    service.subscribe(events::subscriptions(&clock));
    service.grpc(ProfileServiceServer::new(grpc::Profiles {
        pool: service.pool().clone(),
        clock: clock.clone(),
        outbox,
    }));
    notifications::add(&mut service, &clock, &config.notify)?;
    export::add(&mut service, &clock, &verifier, &config.export)?;
    service.start(verifier).await
}
