//! ai-coach: next-step recommendations built from the caller's progress (analytics) and the
//! activity catalog (activity-session), written by an OpenAI-compatible LLM when one is
//! configured, by rules otherwise (and whenever the LLM fails).
//!
//! Consumes `user.deleted.v1` (purges the user's recommendation rows) and `user.merged.v1` (moves
//! a guest's rows to the target account); produces no events. Layout: docs/service-layout.md.

mod domain;
mod errors;
mod events;
mod grpc;
mod llm;
mod store;

use std::{sync::Arc, time::Duration};

use stride_bus::ServiceExt as _;
use stride_kit::{
    Verifier,
    clock::SharedClock,
    config::{CommonConfig, ConfigError, Env, Secret},
    grpc::lazy_channel,
    serve::Running,
    service::Builder,
};
use stride_proto::ai_coach::ai_coach_service_server::AiCoachServiceServer;

pub const SERVICE: &str = "ai-coach";

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Everything `migrate` applies: the bus tables, then ai-coach's own.
pub static MIGRATIONS: &[&sqlx::migrate::Migrator] = &[&stride_bus::MIGRATOR, &MIGRATOR];

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
        let api_key = env.optional("COACH_LLM_API_KEY").map(Secret::new);
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

/// Starts the gRPC server and the event consumer; returns once listening. Ready once the queue
/// is declared and bound. The upstream channels connect on first use.
pub async fn start(
    config: Config,
    verifier: Arc<Verifier>,
    clock: SharedClock,
) -> anyhow::Result<Running> {
    let mut service = Builder::connect(SERVICE, &config.common, MIGRATIONS).await?;
    match &config.llm {
        Some(l) => tracing::info!(model = %l.model, "LLM configured"),
        None => tracing::info!("no LLM configured; answering with rules"),
    }
    service.subscribe(events::subscriptions());
    service.grpc(AiCoachServiceServer::new(grpc::Recommendations {
        pool: service.pool().clone(),
        clock,
        analytics: lazy_channel(&config.analytics_url)?,
        activity_session: lazy_channel(&config.activity_session_url)?,
        llm: config.llm.as_ref().map(|c| Arc::new(llm::Llm::new(c))),
    }));
    service.start(verifier).await
}

/// `stride-ai-coach serve`: runs until SIGTERM. (`migrate` reads only DATABASE_URL: the upstream
/// and LLM settings are read here.)
pub async fn serve() -> anyhow::Result<()> {
    stride_kit::service::run(Config::from_env()?, start).await
}

impl AsRef<CommonConfig> for Config {
    fn as_ref(&self) -> &CommonConfig {
        &self.common
    }
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
        assert_eq!(
            llm.api_key.as_ref().map(Secret::expose),
            Some("sk-very-secret")
        );
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

    #[test]
    fn the_whole_config_prints_no_secret() {
        let cfg = read(&[
            ("DATABASE_URL", "postgres://u:db-pass@h/db"),
            ("COACH_LLM_BASE_URL", "http://llm/v1"),
            ("COACH_LLM_MODEL", "m"),
            ("COACH_LLM_API_KEY", "sk-very-secret"),
        ])
        .unwrap();
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("sk-very-secret") && !shown.contains("db-pass"),
            "{shown}"
        );
    }
}
