//! The data export (issue 12, part 2; seed 000): a request starts a job that gathers what every
//! service holds about the user (each through its service-only `UserDataService`) into a
//! gzip-compressed tar of JSON lines in the export directory; progress per service is visible
//! while it runs; the archive is downloaded from profile's HTTP port with its unguessable token
//! or the user's access token, and a sweeper deletes it when its time to live is over.

pub mod domain;
pub mod grpc;
pub mod http;
pub mod job;
pub mod store;

use std::{path::PathBuf, sync::Arc, time::Duration};

use stride_kit::{Verifier, clock::SharedClock, config::Env, service::Builder};
use stride_proto::profile::{
    data_export_service_server::DataExportServiceServer,
    user_data_service_server::UserDataServiceServer,
};
use tokio_util::sync::CancellationToken;

/// Export settings.
#[derive(Clone, Debug)]
pub struct ExportSettings {
    /// Where archives are written (created at start); a volume shared by the replicas.
    pub dir: PathBuf,
    /// How long an archive stays downloadable.
    pub ttl: time::Duration,
    /// gRPC URLs of the other services, by their name in the archive.
    pub upstreams: Vec<(&'static str, String)>,
    /// How often the sweeper looks for expired archives.
    pub sweep_every: Duration,
}

impl ExportSettings {
    /// Tests and development: a private directory under the system's temporary one, a day of
    /// life, no upstreams (profile's own data only).
    pub fn local() -> Self {
        Self {
            dir: std::env::temp_dir().join(format!("stride-exports-{}", uuid::Uuid::now_v7())),
            ttl: time::Duration::days(1),
            upstreams: Vec::new(),
            sweep_every: Duration::from_secs(60),
        }
    }

    pub fn read(env: &mut Env, auth_url: &str) -> Self {
        let dir = PathBuf::from(
            env.optional("PROFILE_EXPORT_DIR")
                .unwrap_or_else(|| "/var/lib/stride/exports".into()),
        );
        let ttl_secs = env.parse_or("PROFILE_EXPORT_TTL_SECS", 7 * 24 * 3600i64);
        if !(60..=90 * 24 * 3600).contains(&ttl_secs) {
            env.error("PROFILE_EXPORT_TTL_SECS must be between 60 and 7776000 (90 days)");
        }
        let mut upstreams = vec![("auth", auth_url.to_owned())];
        for (name, var, what) in [
            (
                "activity-session",
                "STRIDE_ACTIVITY_SESSION_URL",
                "the activity-session service",
            ),
            ("challenge", "STRIDE_CHALLENGE_URL", "the challenge service"),
            ("analytics", "STRIDE_ANALYTICS_URL", "the analytics service"),
            ("ai-coach", "STRIDE_AI_COACH_URL", "the ai-coach service"),
        ] {
            upstreams.push((name, env.url(var, &["http", "https"], what)));
        }
        Self {
            dir,
            ttl: time::Duration::seconds(ttl_secs),
            upstreams,
            sweep_every: Duration::from_secs(60),
        }
    }
}

/// Adds the export services, the download route and the sweeper to profile's process.
pub fn add(
    service: &mut Builder,
    clock: &SharedClock,
    verifier: &Arc<Verifier>,
    settings: &ExportSettings,
    urls: &crate::avatar::Urls,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.dir)
        .map_err(|e| anyhow::anyhow!("export directory {}: {e}", settings.dir.display()))?;
    let mut channels = Vec::new();
    for (name, url) in &settings.upstreams {
        channels.push((*name, stride_kit::grpc::lazy_channel(url)?));
    }
    let pool = service.pool().clone();
    service.grpc(DataExportServiceServer::new(grpc::Exports {
        pool: pool.clone(),
        clock: clock.clone(),
        upstreams: Arc::new(job::Upstreams { services: channels }),
        settings: settings.clone(),
        urls: urls.clone(),
    }));
    service.grpc(UserDataServiceServer::new(grpc::OwnData {
        pool: pool.clone(),
    }));
    service.http(http::router(http::Download {
        pool: pool.clone(),
        verifier: verifier.clone(),
        clock: clock.clone(),
        dir: settings.dir.clone(),
    }));
    let sweeper = Sweeper {
        pool,
        clock: clock.clone(),
        dir: settings.dir.clone(),
        every: settings.sweep_every,
    };
    service.background("export sweeper", move |stop| sweeper.run(stop));
    Ok(())
}

/// Deletes archives past their time to live (and fails exports whose job was lost).
#[derive(Clone)]
pub struct Sweeper {
    pub pool: sqlx::PgPool,
    pub clock: SharedClock,
    pub dir: PathBuf,
    pub every: Duration,
}

/// A running export older than this lost its job (a restart): the user's token is gone too.
const STALE: time::Duration = time::Duration::minutes(30);

impl Sweeper {
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = format!("{e:#}"), "export sweep failed");
            }
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.every) => {}
            }
        }
    }

    /// One sweep; returns how many exports it closed.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let now = self.clock.now_db();
        let mut tx = self.pool.begin().await?;
        let due = store::due_for_sweep(&mut tx, now, now - STALE, 100).await?;
        for row in &due {
            if let Some(file) = &row.file_name {
                // Deleted before the row says so: a crash in between sweeps it again.
                match tokio::fs::remove_file(self.dir.join(file)).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let state = if row.expires_at <= now {
                domain::State::Expired
            } else {
                domain::State::Failed
            };
            store::set_state(&mut tx, row.export_id, state.as_str()).await?;
        }
        tx.commit().await?;
        self.orphans().await?;
        Ok(due.len())
    }

    /// Deletes files no export row owns any more (the user was deleted or merged away, which
    /// removes the rows in the event's transaction; the files follow here).
    async fn orphans(&self) -> anyhow::Result<()> {
        let mut dir = tokio::fs::read_dir(&self.dir).await?;
        let mut conn = self.pool.acquire().await?;
        while let Some(entry) = dir.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name
                .split('.')
                .next()
                .and_then(|stem| uuid::Uuid::parse_str(stem).ok())
            else {
                continue;
            };
            if store::by_id(&mut conn, id).await?.is_none() {
                match tokio::fs::remove_file(entry.path()).await {
                    Ok(()) => tracing::info!(file = %name, "orphaned export archive removed"),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}
