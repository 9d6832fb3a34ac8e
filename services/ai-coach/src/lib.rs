//! ai-coach: next-step recommendations built from the caller's progress (analytics) and the
//! activity catalog (activity-session), written by an OpenAI-compatible LLM when one is
//! configured, by rules otherwise (and whenever the LLM fails).
//!
//! Consumes `user.deleted.v1` (purges the user's recommendation rows) and `user.merged.v1` (moves a
//! guest's rows to the target account); produces no events.

use std::{sync::Arc, time::Duration};

use stride_kit::{
    Verifier,
    clock::SharedClock,
    config::{CommonConfig, ConfigError, Env},
    serve::{Command, Running, ServeConfig},
};
use stride_proto::ai_coach::ai_coach_service_server::AiCoachServiceServer;
use tonic::service::Routes;

pub mod events;
pub mod llm;
pub mod rules;
pub mod service;
pub mod store;

pub use service::Coach;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub const SERVICE: &str = "ai-coach";
pub const GRPC_SERVICE: &str = "stride.ai_coach.v1.AiCoachService";

/// A value that must never reach logs.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An OpenAI-compatible chat-completions endpoint.
#[derive(Clone, Debug)]
pub struct LlmConfig {
    /// Base URL including `/v1`, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub common: CommonConfig,
    pub analytics_url: String,
    pub activity_session_url: String,
    /// None: rules only.
    pub llm: Option<LlmConfig>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::new())
    }

    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, SERVICE, true);
        let analytics_url = env.url(
            "STRIDE_ANALYTICS_URL",
            &["http", "https"],
            "the analytics service",
        );
        let activity_session_url = env.url(
            "STRIDE_ACTIVITY_SESSION_URL",
            &["http", "https"],
            "the activity-session service",
        );
        let base_url = env.optional("COACH_LLM_BASE_URL");
        let model = env.optional("COACH_LLM_MODEL");
        // Read without parse_or-style echoing: the key's value never appears in an error.
        let api_key = env.optional("COACH_LLM_API_KEY").map(Secret);
        let timeout_secs = env.parse_or("COACH_LLM_TIMEOUT_SECS", 20u64);
        if !(1..=300).contains(&timeout_secs) {
            env.error("COACH_LLM_TIMEOUT_SECS must be between 1 and 300 seconds");
        }
        let llm = match (base_url, model) {
            (Some(base_url), Some(model)) => {
                if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
                    env.error("COACH_LLM_BASE_URL must be an http/https URL (including /v1)");
                }
                Some(LlmConfig {
                    base_url,
                    model,
                    api_key,
                    timeout: Duration::from_secs(timeout_secs),
                })
            }
            (None, None) => {
                if api_key.is_some() {
                    env.error("COACH_LLM_API_KEY is set but COACH_LLM_BASE_URL and COACH_LLM_MODEL are not");
                }
                None
            }
            (Some(_), None) => {
                env.error(
                    "COACH_LLM_MODEL is not set: it is required when COACH_LLM_BASE_URL is set",
                );
                None
            }
            (None, Some(_)) => {
                env.error(
                    "COACH_LLM_BASE_URL is not set: it is required when COACH_LLM_MODEL is set",
                );
                None
            }
        };
        env.finish()?;
        Ok(Self {
            common,
            analytics_url,
            activity_session_url,
            llm,
        })
    }
}

/// Starts the gRPC server and the event consumer; returns when listening. Ready once the queue
/// is declared and bound.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let c = &config.common;
    let pool = stride_kit::db::connect(&c.database_url, c.db_max_connections).await?;
    stride_kit::db::migrate(&pool, &[&stride_bus::MIGRATOR, &MIGRATOR]).await?;

    let analytics = stride_kit::grpc::lazy_channel(&config.analytics_url)?;
    let activity_session = stride_kit::grpc::lazy_channel(&config.activity_session_url)?;
    let llm = config.llm.as_ref().map(llm::Llm::new);
    if let Some(l) = &config.llm {
        tracing::info!(model = %l.model, "LLM configured");
    } else {
        tracing::info!("no LLM configured; answering with rules");
    }
    let svc = Coach::new(pool.clone(), analytics, activity_session, llm, clock);
    let mut running = stride_kit::serve::spawn(
        ServeConfig {
            service: SERVICE,
            grpc_addr: c.grpc_addr,
            http_addr: c.http_addr,
            service_names: vec![GRPC_SERVICE.into()],
            verifier,
        },
        Routes::new(AiCoachServiceServer::new(svc)),
    )
    .await?;
    let sub = stride_bus::consumer::Subscriber::new(
        SERVICE,
        &c.amqp_url,
        pool,
        events::CONSUMES.to_vec(),
        events::EventHandler,
    )
    .spawn(running.shutdown.clone());
    stride_kit::serve::ready_when(
        running.health.clone(),
        vec![sub.ready],
        running.shutdown.clone(),
    );
    running.track(sub.task);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut vars: HashMap<&str, &str> = [
            ("DATABASE_URL", "postgres://x@h/db"),
            ("AMQP_URL", "amqp://h/%2F"),
            ("STRIDE_AUTH_URL", "http://auth:50051"),
            ("STRIDE_ANALYTICS_URL", "http://analytics:50051"),
            (
                "STRIDE_ACTIVITY_SESSION_URL",
                "http://activity-session:50051",
            ),
        ]
        .into();
        vars.extend(extra.iter().copied());
        Config::read(Env::from_fn(move |k| vars.get(k).map(|s| s.to_string())))
    }

    #[test]
    fn llm_is_optional_but_base_and_model_go_together() {
        assert!(read(&[]).unwrap().llm.is_none());
        let cfg = read(&[
            ("COACH_LLM_BASE_URL", "http://llm/v1"),
            ("COACH_LLM_MODEL", "m"),
            ("COACH_LLM_API_KEY", "sk-very-secret"),
        ])
        .unwrap();
        let llm = cfg.llm.unwrap();
        assert_eq!(llm.timeout, Duration::from_secs(20));
        assert!(!format!("{llm:?}").contains("sk-very-secret"));

        let err = read(&[
            ("COACH_LLM_BASE_URL", "http://llm/v1"),
            ("COACH_LLM_API_KEY", "sk-very-secret"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("COACH_LLM_MODEL is not set"), "{err}");
        assert!(!err.contains("sk-very-secret"), "{err}");
        let err = read(&[("COACH_LLM_MODEL", "m")]).unwrap_err().to_string();
        assert!(err.contains("COACH_LLM_BASE_URL is not set"), "{err}");
        let err = read(&[
            ("COACH_LLM_BASE_URL", "http://llm/v1"),
            ("COACH_LLM_MODEL", "m"),
            ("COACH_LLM_TIMEOUT_SECS", "0"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("COACH_LLM_TIMEOUT_SECS"), "{err}");
    }

    #[test]
    fn upstream_urls_are_required() {
        let err = Config::read(Env::from_fn(|_| None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("STRIDE_ANALYTICS_URL is not set"), "{err}");
        assert!(
            err.contains("STRIDE_ACTIVITY_SESSION_URL is not set"),
            "{err}"
        );
    }
}
