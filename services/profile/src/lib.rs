//! profile: who the user is and what they want — display name, bio, timezone, locale, units,
//! privacy, activation, onboarding, avatar, body and training, practice context, learning
//! preferences, background (docs/api.md, "Profile").
//!
//! Consumes `user.registered.v1` (creates the profile), `user.deleted.v1` (purges it and its
//! avatar file), `user.merged.v1` (merges a guest's profile into the target's) and
//! `practice_session.evaluated.v1` (activates a new user); produces `profile.updated.v1` with
//! the state other services copy and a per-user revision on every change. Avatars are stored
//! through [`avatar::storage::ObjectStore`] (local disk or S3) and served on the HTTP port.
//! Layout: docs/service-layout.md.
//!
//! Also notifications (`notifications/`: settings, devices, inbox, reminders scheduled from
//! `session.completed.v1` or by other services, delivered by a scheduler) and the data export
//! (`export/`: gathers every service's `UserDataService` into an archive, ADR 0012).

// A panic on a caller's input is a broken call: service code handles every case instead.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod avatar;
mod domain;
mod errors;
mod events;
mod export;
mod grpc;
mod notifications;
mod store;

use std::{path::PathBuf, sync::Arc};

use stride_bus::ServiceExt as _;
use stride_kit::{
    Verifier,
    clock::SharedClock,
    config::{CommonConfig, ConfigError, Env, Secret},
    serve::Running,
    service::Builder,
};
use stride_proto::profile::profile_service_server::ProfileServiceServer;

use crate::avatar::{
    Urls,
    s3::{S3, S3Config},
    storage::{LocalDisk, SharedStore},
};

pub const SERVICE: &str = "profile";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Everything `migrate` applies: the bus tables, then profile's own.
pub static MIGRATIONS: &[&sqlx::migrate::Migrator] = &[&stride_bus::MIGRATOR, &MIGRATOR];

pub use export::ExportSettings;
pub use notifications::{
    NotifyConfig,
    deliver::{LogPush, Push, PushError, PushSender},
    fcm,
};

/// Avatar images decoded at once.
const DECODE_SLOTS: usize = 2;

#[derive(Clone, Debug)]
pub struct Config {
    pub common: CommonConfig,
    /// `PROFILE_AVATAR_DIR` (default `./data/avatars`): where uploads live without S3.
    pub avatar_dir: PathBuf,
    /// `PROFILE_PUBLIC_URL`: the base of avatar URLs (a CDN or the gateway's public
    /// origin routing `/avatars/` here); default: this process's HTTP port.
    pub public_url: Option<String>,
    /// `PROFILE_S3_*`: store avatars in an S3-compatible bucket instead of on disk.
    pub s3: Option<S3Config>,
    /// Reminder delivery (`PROFILE_SMTP_URL`, …).
    pub notify: NotifyConfig,
    /// Data export (`PROFILE_EXPORT_*`, the other services' URLs).
    pub export: ExportSettings,
}

impl Config {
    /// The common settings and defaults for the rest (tests, embedded meshes).
    pub fn new(common: CommonConfig, avatar_dir: PathBuf) -> Self {
        Self {
            common,
            avatar_dir,
            public_url: None,
            s3: None,
            notify: NotifyConfig::default(),
            export: ExportSettings::local(),
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::new())
    }

    /// Reads from `env` (the docs test feeds it the documented examples).
    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, SERVICE, true);
        let avatar_dir = env
            .optional("PROFILE_AVATAR_DIR")
            .unwrap_or_else(|| "./data/avatars".into())
            .into();
        let public_url = env.optional("PROFILE_PUBLIC_URL");
        if let Some(u) = &public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            env.error("PROFILE_PUBLIC_URL must be an http(s) URL (the base of avatar URLs)");
        }
        let s3 = match env.optional("PROFILE_S3_ENDPOINT") {
            None => None,
            Some(endpoint) => {
                if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                    env.error("PROFILE_S3_ENDPOINT must be an http(s) URL");
                }
                Some(S3Config {
                    endpoint,
                    bucket: env.required("PROFILE_S3_BUCKET", "the avatar bucket"),
                    region: env
                        .optional("PROFILE_S3_REGION")
                        .unwrap_or_else(|| "us-east-1".into()),
                    access_key_id: env.required("PROFILE_S3_ACCESS_KEY_ID", "the S3 access key id"),
                    secret_access_key: Secret::new(
                        env.required("PROFILE_S3_SECRET_ACCESS_KEY", "the S3 secret access key"),
                    ),
                })
            }
        };
        let notify = NotifyConfig::read(&mut env);
        let export = ExportSettings::read(&mut env, &common.auth_url);
        env.finish()?;
        Ok(Self {
            common,
            avatar_dir,
            public_url,
            s3,
            notify,
            export,
        })
    }
}

impl AsRef<CommonConfig> for Config {
    fn as_ref(&self) -> &CommonConfig {
        &self.common
    }
}

/// `stride-profile serve`: reads the configuration, runs until SIGTERM.
pub async fn serve() -> anyhow::Result<()> {
    stride_kit::service::run(Config::from_env()?, start).await
}

/// Starts the gRPC server, the avatar routes, the outbox relay and the event consumer; returns
/// once listening.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let objects: SharedStore = match &config.s3 {
        Some(s3) => Arc::new(S3::new(s3)?),
        None => Arc::new(LocalDisk::open(config.avatar_dir.clone()).await?),
    };
    let urls = Urls::new(config.public_url.as_deref());
    let mut service = Builder::connect(SERVICE, &config.common, MIGRATIONS).await?;
    let outbox = service.relay();
    service.subscribe(events::subscriptions(&clock, &objects, &urls));
    service.http(avatar::http::routes(objects.clone()));
    service.grpc(ProfileServiceServer::new(grpc::Profiles {
        pool: service.pool().clone(),
        clock: clock.clone(),
        outbox,
        objects,
        urls: urls.clone(),
        decodes: Arc::new(tokio::sync::Semaphore::new(DECODE_SLOTS)),
    }));
    notifications::add(&mut service, &clock, &config.notify)?;
    export::add(&mut service, &clock, &verifier, &config.export, &urls)?;
    let running = service.start(verifier).await?;
    urls.bound(running.http_addr);
    Ok(running)
}
