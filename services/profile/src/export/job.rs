//! Running an export: every service's part fetched at once through its `UserDataService`
//! (profile's own read in place), each part's outcome recorded as it lands (progress), then the
//! archive written to the export directory. The calls carry the requesting user's access token:
//! each service answers for that user only, and the job finishes well within the token's
//! fifteen minutes (ADR 0012).

use std::{path::PathBuf, sync::Arc};

use sqlx::PgPool;
use stride_kit::{clock::SharedClock, grpc::on_behalf};
use stride_proto::stride::{self as s, export::v1::Collection};
use tonic::transport::Channel;
use uuid::Uuid;

use super::{
    domain::{self, Part},
    store,
};

/// Largest part accepted from one service.
const MAX_PART_BYTES: usize = 256 * 1024 * 1024;

/// The other services, by their name in the archive.
#[derive(Clone, Debug)]
pub struct Upstreams {
    pub services: Vec<(&'static str, Channel)>,
}

pub struct Job {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub upstreams: Arc<Upstreams>,
    pub dir: PathBuf,
}

/// Profile's own collections (profile, notifications, exports).
pub const PROFILE_SOURCES: &[stride_kit::export::Source] = &[
    stride_kit::export::Source {
        name: "profile",
        sql: "SELECT to_jsonb(p)::text FROM profiles p WHERE user_id = $1",
    },
    stride_kit::export::Source {
        name: "notification_settings",
        sql: "SELECT to_jsonb(s)::text FROM notification_settings s WHERE user_id = $1",
    },
    stride_kit::export::Source {
        name: "notification_preferences",
        sql: "SELECT to_jsonb(p)::text FROM notification_preferences p WHERE user_id = $1
              ORDER BY kind",
    },
    stride_kit::export::Source {
        name: "notification_email",
        sql: "SELECT to_jsonb(e)::text FROM notification_emails e WHERE user_id = $1",
    },
    // Push tokens are credentials for the device: left out.
    stride_kit::export::Source {
        name: "devices",
        sql: "SELECT (to_jsonb(d) - 'token')::text FROM push_devices d WHERE user_id = $1
              ORDER BY created_at, device_id",
    },
    stride_kit::export::Source {
        name: "inbox",
        sql: "SELECT to_jsonb(m)::text FROM inbox_messages m WHERE user_id = $1
              ORDER BY created_at, message_id",
    },
    stride_kit::export::Source {
        name: "reminders",
        sql: "SELECT to_jsonb(r)::text FROM reminders r WHERE user_id = $1
              ORDER BY created_at, reminder_id",
    },
    stride_kit::export::Source {
        name: "data_exports",
        sql: "SELECT (to_jsonb(x) - 'token_hash')::text FROM data_exports x WHERE user_id = $1
              ORDER BY created_at, export_id",
    },
];

async fn fetch(
    service: &str,
    channel: &Channel,
    token: &str,
) -> Result<Vec<Collection>, tonic::Status> {
    let ch = on_behalf(channel, token);
    macro_rules! call {
        ($pkg:ident) => {
            s::$pkg::v1::user_data_service_client::UserDataServiceClient::new(ch)
                .max_decoding_message_size(MAX_PART_BYTES)
                .export_user_data(s::$pkg::v1::ExportUserDataRequest {})
                .await?
                .into_inner()
                .collections
        };
    }
    Ok(match service {
        "auth" => call!(auth),
        "activity-session" => call!(activity_session),
        "challenge" => call!(challenge),
        "analytics" => call!(analytics),
        "ai-coach" => call!(ai_coach),
        "profile" => call!(profile),
        other => return Err(tonic::Status::internal(format!("unknown service {other}"))),
    })
}

fn part(service: &str, collections: Vec<Collection>) -> Part {
    Part {
        service: service.to_owned(),
        collections: collections
            .into_iter()
            .map(|c| (c.name, c.json_rows))
            .collect(),
    }
}

impl Job {
    /// The services this job asks: profile itself and every configured upstream.
    pub fn services(&self) -> Vec<&'static str> {
        let mut v = vec!["profile"];
        v.extend(self.upstreams.services.iter().map(|(n, _)| *n));
        v
    }

    /// Runs export `export_id` of `user` to the end; every failure is recorded on the export.
    pub async fn run(self, export_id: Uuid, user: Uuid, token: String) {
        if let Err(e) = self.try_run(export_id, user, &token).await {
            tracing::error!(%export_id, error = format!("{e:#}"), "data export failed");
            if let Ok(mut conn) = self.pool.acquire().await {
                let _ = store::finish(
                    &mut conn,
                    export_id,
                    Err("internal error"),
                    self.clock.now_db(),
                )
                .await;
            }
        }
    }

    async fn try_run(&self, export_id: Uuid, user: Uuid, token: &str) -> anyhow::Result<()> {
        let own = async {
            let r = stride_kit::export::collect(&self.pool, user, PROFILE_SOURCES)
                .await
                .map_err(|e| format!("{e:?}"));
            ("profile", r.map(|c| part("profile", c)))
        };
        let others = self.upstreams.services.iter().map(|(name, channel)| async move {
            let r = fetch(name, channel, token).await.map_err(|s| {
                tracing::warn!(%export_id, service = name, code = ?s.code(), message = s.message(), "export part failed");
                format!("{}: {}", name, s.code())
            });
            (*name, r.map(|c| part(name, c)))
        });
        // Each part's outcome is recorded as it arrives: GetDataExport shows the progress.
        let mut pending: futures::stream::FuturesUnordered<_> = others
            .map(|f| Box::pin(f) as std::pin::Pin<Box<dyn Future<Output = _> + Send + '_>>)
            .collect();
        pending.push(Box::pin(own));
        let mut parts = Vec::new();
        let mut failed = Vec::new();
        use futures::StreamExt as _;
        while let Some((name, r)) = pending.next().await {
            let mut conn = self.pool.acquire().await?;
            match r {
                Ok(p) => {
                    store::part_done(&mut conn, export_id, name, Ok(p.item_count())).await?;
                    parts.push(p);
                }
                Err(e) => {
                    store::part_done(&mut conn, export_id, name, Err(&e)).await?;
                    failed.push(name);
                }
            }
        }
        let now = self.clock.now_db();
        let mut conn = self.pool.acquire().await?;
        if !failed.is_empty() {
            failed.sort_unstable();
            let msg = format!("parts failed: {}", failed.join(", "));
            store::finish(&mut conn, export_id, Err(&msg), now).await?;
            return Ok(());
        }
        parts.sort_by_key(|p| {
            domain::SERVICES
                .iter()
                .position(|s| *s == p.service)
                .unwrap_or(usize::MAX)
        });
        let manifest = serde_json::json!({
            "export_id": export_id.to_string(),
            "user_id": user.to_string(),
            "created_at": now.unix_timestamp(),
            "format": "one folder per service, one JSON object per line per collection",
            "services": parts.iter().map(|p| serde_json::json!({
                "service": p.service,
                "collections": p.collections.iter().map(|(n, rows)| serde_json::json!({"name": n, "items": rows.len()})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
        .to_string();
        let file = format!("{export_id}.tar.gz");
        let path = self.dir.join(&file);
        let root = format!("stride-export-{export_id}");
        let mtime = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let size = tokio::task::spawn_blocking(move || -> std::io::Result<i64> {
            let bytes = domain::archive(&root, &manifest, &parts, mtime)?;
            // Written aside and renamed: a download never sees half a file.
            let tmp = path.with_extension("part");
            std::fs::write(&tmp, &bytes)?;
            std::fs::rename(&tmp, &path)?;
            Ok(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
        })
        .await??;
        if !store::finish(&mut conn, export_id, Ok((&file, size)), now).await? {
            // Swept while it ran: nothing may be left behind.
            let _ = tokio::fs::remove_file(self.dir.join(&file)).await;
        }
        Ok(())
    }
}
