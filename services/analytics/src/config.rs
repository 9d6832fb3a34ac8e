//! analytics' settings: the common ones, and the peers the dashboard asks (ai-coach for the
//! recommendation, challenge for the leaderboard) with how long it waits for them.

use std::time::Duration;

use stride_kit::config::{CommonConfig, ConfigError, Env};

use crate::SERVICE;

#[derive(Clone, Debug)]
pub struct Config {
    pub common: CommonConfig,
    /// `STRIDE_AI_COACH_URL`
    pub ai_coach_url: String,
    /// `STRIDE_CHALLENGE_URL`
    pub challenge_url: String,
    /// `ANALYTICS_DASHBOARD_PEER_TIMEOUT_MS` (default 1500): each peer's deadline.
    pub dashboard_peer_timeout: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::new())
    }

    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        let common = tuned(CommonConfig::read(&mut env, SERVICE, true));
        let ai_coach_url = env.url(
            "STRIDE_AI_COACH_URL",
            &["http", "https"],
            "the ai-coach service",
        );
        let challenge_url = env.url(
            "STRIDE_CHALLENGE_URL",
            &["http", "https"],
            "the challenge service",
        );
        let ms = env.parse_or("ANALYTICS_DASHBOARD_PEER_TIMEOUT_MS", 1500u64);
        if !(50..=30_000).contains(&ms) {
            env.error("ANALYTICS_DASHBOARD_PEER_TIMEOUT_MS must be between 50 and 30000");
        }
        env.finish()?;
        Ok(Self {
            common,
            ai_coach_url,
            challenge_url,
            dashboard_peer_timeout: Duration::from_millis(ms),
        })
    }

    /// A test's configuration: `common`, the two peers at these URLs, the default deadline.
    pub fn with_peers(common: CommonConfig, ai_coach_url: &str, challenge_url: &str) -> Self {
        Self {
            common: tuned(common),
            ai_coach_url: ai_coach_url.to_owned(),
            challenge_url: challenge_url.to_owned(),
            dashboard_peer_timeout: Duration::from_millis(1500),
        }
    }
}

/// Analytics' own database settings over the common ones: the summary is one statement whose
/// planning cost more than twice its execution, so its statements run on generic plans
/// (PostgreSQL's CPU per summary 0.69 → 0.28 ms; docs/performance.md).
fn tuned(mut common: CommonConfig) -> CommonConfig {
    common.db_generic_plans = true;
    common
}

impl AsRef<CommonConfig> for Config {
    fn as_ref(&self) -> &CommonConfig {
        &self.common
    }
}
