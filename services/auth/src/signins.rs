//! The sign-ins added beside the original providers: Telegram Mini App `initData`, Facebook
//! access tokens (Graph API), and Google's server-side web flow (authorization code with PKCE).
//! Their settings ([`SignInSettings`], read from the environment) and the verifiers and clients
//! built from them ([`SignIns`]). What happens to the account is decided by `grpc::signins`.

use std::time::Duration;

use stride_idp::TelegramWebAppVerifier;
use stride_kit::config::Env;

use crate::settings::Settings;

/// Settings of the added sign-ins (documented in docs/auth.md, one section per provider).
#[derive(Clone, Debug)]
pub struct SignInSettings {
    /// `AUTH_TELEGRAM_WEBAPP_MAX_AGE_SECONDS`: how old a Mini App's `auth_date` may be.
    pub telegram_webapp_max_age: Duration,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            telegram_webapp_max_age: Duration::from_secs(300),
        }
    }
}

impl SignInSettings {
    pub fn read(env: &mut Env) -> Self {
        let d = Self::default();
        let telegram_webapp_max_age: u64 = env.parse_or(
            "AUTH_TELEGRAM_WEBAPP_MAX_AGE_SECONDS",
            d.telegram_webapp_max_age.as_secs(),
        );
        Self {
            telegram_webapp_max_age: Duration::from_secs(telegram_webapp_max_age),
        }
    }
}

/// The verifiers and clients of the added sign-ins (None = not configured).
pub struct SignIns {
    pub telegram_webapp: Option<TelegramWebAppVerifier>,
}

impl SignIns {
    pub fn from_settings(s: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            telegram_webapp: s.telegram_bot_token.as_ref().map(|t| {
                TelegramWebAppVerifier::new(t.expose(), s.signins.telegram_webapp_max_age)
            }),
        })
    }
}
