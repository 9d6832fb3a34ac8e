//! ai-coach's settings: the common ones, the two upstreams it asks, and the optional LLM.

use std::time::Duration;

use stride_kit::config::{CommonConfig, ConfigError, Env, Secret};

use crate::SERVICE;

/// An OpenAI-compatible chat-completions endpoint.
#[derive(Clone, Debug)]
pub struct LlmConfig {
    /// Base URL including `/v1`, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    /// Per attempt (and between streamed chunks).
    pub timeout: Duration,
    /// For `Llm::embed` (COACH_LLM_EMBEDDING_MODEL, default `text-embedding-3-small`).
    pub embedding_model: String,
    /// Retries after a transient failure (429, 5xx, unreachable, timeout); COACH_LLM_MAX_RETRIES.
    pub max_retries: u32,
    /// First backoff delay (doubles per retry, with jitter) and its cap.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Consecutive transient failures that open the circuit breaker (COACH_LLM_BREAKER_THRESHOLD),
    /// and how long it stays open before one probe (COACH_LLM_BREAKER_COOLDOWN_SECS).
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
}

impl LlmConfig {
    /// `base_url` + `model` with the default timeout, retries and breaker (tests, tools).
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(20),
            embedding_model: DEFAULT_EMBEDDING_MODEL.into(),
            max_retries: 2,
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(2),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

/// Conversations: inactivity before expiry (COACH_CONVERSATION_EXPIRY_HOURS, default 24), turns
/// kept verbatim in the model's context (COACH_CONVERSATION_MEMORY_TURNS, default 6; older ones
/// go into the running summary), tool rounds per reply (COACH_CHAT_MAX_TOOL_ROUNDS, default 3;
/// then the model must answer without tools).
#[derive(Clone, Debug)]
pub struct ChatConfig {
    pub expiry: time::Duration,
    pub memory_turns: usize,
    pub max_tool_rounds: u32,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            expiry: time::Duration::hours(24),
            memory_turns: 6,
            max_tool_rounds: 3,
        }
    }
}

pub const DEFAULT_EMBEDDING_MODEL: &str = "text-embedding-3-small";

/// Model-backed answers a user may get per UTC day (COACH_DAILY_QUOTA; 0 = no model answers).
pub const DEFAULT_DAILY_QUOTA: u32 = 200;

#[derive(Clone, Debug)]
pub struct Config {
    pub common: CommonConfig,
    pub analytics_url: String,
    pub activity_session_url: String,
    /// profile (STRIDE_PROFILE_URL): the caller's profile, goals and preferences.
    pub profile_url: String,
    /// challenge (STRIDE_CHALLENGE_URL): the caller's challenges and rewards.
    pub challenge_url: String,
    /// Model-backed answers per user per UTC day; beyond it RESOURCE_EXHAUSTED.
    pub daily_quota: u32,
    pub chat: ChatConfig,
    /// None: rules only.
    pub llm: Option<LlmConfig>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::new())
    }

    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        // Most of the coach's time is spent waiting on the model, not on CPU: a higher floor.
        let common = CommonConfig::read_with(
            &mut env,
            SERVICE,
            true,
            stride_kit::shed::Config::waiting_on_io(),
        );
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
        let profile_url = env.url(
            "STRIDE_PROFILE_URL",
            &["http", "https"],
            "the profile service",
        );
        let challenge_url = env.url(
            "STRIDE_CHALLENGE_URL",
            &["http", "https"],
            "the challenge service",
        );
        let daily_quota = env.parse_or("COACH_DAILY_QUOTA", DEFAULT_DAILY_QUOTA);
        if daily_quota > 1_000_000 {
            env.error("COACH_DAILY_QUOTA must be at most 1000000");
        }
        let expiry_hours = env.parse_or("COACH_CONVERSATION_EXPIRY_HOURS", 24i64);
        if !(1..=24 * 90).contains(&expiry_hours) {
            env.error("COACH_CONVERSATION_EXPIRY_HOURS must be between 1 and 2160");
        }
        let memory_turns = env.parse_or("COACH_CONVERSATION_MEMORY_TURNS", 6usize);
        if !(1..=50).contains(&memory_turns) {
            env.error("COACH_CONVERSATION_MEMORY_TURNS must be between 1 and 50");
        }
        let max_tool_rounds = env.parse_or("COACH_CHAT_MAX_TOOL_ROUNDS", 3u32);
        if max_tool_rounds > 10 {
            env.error("COACH_CHAT_MAX_TOOL_ROUNDS must be at most 10");
        }
        let chat = ChatConfig {
            expiry: time::Duration::hours(expiry_hours),
            memory_turns,
            max_tool_rounds,
        };
        let embedding_model = env
            .optional("COACH_LLM_EMBEDDING_MODEL")
            .unwrap_or_else(|| DEFAULT_EMBEDDING_MODEL.into());
        let max_retries = env.parse_or("COACH_LLM_MAX_RETRIES", 2u32);
        if max_retries > 10 {
            env.error("COACH_LLM_MAX_RETRIES must be at most 10");
        }
        let breaker_threshold = env.parse_or("COACH_LLM_BREAKER_THRESHOLD", 5u32);
        if !(1..=1000).contains(&breaker_threshold) {
            env.error("COACH_LLM_BREAKER_THRESHOLD must be between 1 and 1000");
        }
        let breaker_cooldown = env.parse_or("COACH_LLM_BREAKER_COOLDOWN_SECS", 30u64);
        if !(1..=3600).contains(&breaker_cooldown) {
            env.error("COACH_LLM_BREAKER_COOLDOWN_SECS must be between 1 and 3600 seconds");
        }
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
                    api_key,
                    timeout: Duration::from_secs(timeout_secs),
                    embedding_model,
                    max_retries,
                    breaker_threshold,
                    breaker_cooldown: Duration::from_secs(breaker_cooldown),
                    ..LlmConfig::new(base_url, model)
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
            profile_url,
            challenge_url,
            daily_quota,
            chat,
            llm,
        })
    }
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
            ("STRIDE_PROFILE_URL", "http://profile:50051"),
            ("STRIDE_CHALLENGE_URL", "http://challenge:50051"),
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
        assert_eq!(llm.embedding_model, DEFAULT_EMBEDDING_MODEL);
        assert_eq!((llm.max_retries, llm.breaker_threshold), (2, 5));
        assert_eq!(cfg.daily_quota, DEFAULT_DAILY_QUOTA);
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
        assert!(err.contains("STRIDE_PROFILE_URL is not set"), "{err}");
        assert!(err.contains("STRIDE_CHALLENGE_URL is not set"), "{err}");
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
