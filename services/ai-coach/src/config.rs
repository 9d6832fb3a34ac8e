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
