//! The sign-ins added beside the original providers: Telegram Mini App `initData`, Facebook
//! access tokens (Graph API), and Google's server-side web flow (authorization code with PKCE).
//! Their settings ([`SignInSettings`], read from the environment) and the verifiers and clients
//! built from them ([`SignIns`]). What happens to the account is decided by `grpc::signins`.

use std::time::Duration;

use stride_idp::{
    FacebookConfig, FacebookGraph, TelegramWebAppVerifier, facebook::FACEBOOK_GRAPH_URL,
};
use stride_kit::config::{Env, Secret};

use crate::settings::Settings;

/// Settings of the added sign-ins (documented in docs/auth.md, one section per provider).
#[derive(Clone, Debug)]
pub struct SignInSettings {
    /// `AUTH_TELEGRAM_WEBAPP_MAX_AGE_SECONDS`: how old a Mini App's `auth_date` may be.
    pub telegram_webapp_max_age: Duration,
    /// `AUTH_FACEBOOK_APP_ID`: the app whose access tokens are accepted (default: the first of
    /// `AUTH_FACEBOOK_CLIENT_IDS`).
    pub facebook_app_id: Option<String>,
    /// `AUTH_FACEBOOK_APP_SECRET`: with the app id, the app access token for debug_token.
    /// Access-token sign-in is off without it.
    pub facebook_app_secret: Option<Secret>,
    /// `AUTH_FACEBOOK_GRAPH_URL`: the Graph API base, with its version.
    pub facebook_graph_url: String,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            telegram_webapp_max_age: Duration::from_secs(300),
            facebook_app_id: None,
            facebook_app_secret: None,
            facebook_graph_url: FACEBOOK_GRAPH_URL.into(),
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
            facebook_app_id: env.optional("AUTH_FACEBOOK_APP_ID"),
            facebook_app_secret: env.optional("AUTH_FACEBOOK_APP_SECRET").map(Secret::from),
            facebook_graph_url: env
                .optional("AUTH_FACEBOOK_GRAPH_URL")
                .unwrap_or(d.facebook_graph_url),
        }
    }
}

/// The verifiers and clients of the added sign-ins (None = not configured).
pub struct SignIns {
    pub telegram_webapp: Option<TelegramWebAppVerifier>,
    pub facebook: Option<FacebookGraph>,
}

impl SignIns {
    pub fn from_settings(s: &Settings) -> anyhow::Result<Self> {
        let si = &s.signins;
        let facebook = match &si.facebook_app_secret {
            None => None,
            Some(secret) => {
                let app_id = si
                    .facebook_app_id
                    .clone()
                    .or_else(|| s.facebook_client_ids.first().cloned())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "AUTH_FACEBOOK_APP_SECRET is set but no AUTH_FACEBOOK_APP_ID (or AUTH_FACEBOOK_CLIENT_IDS)"
                        )
                    })?;
                Some(FacebookGraph::new(FacebookConfig {
                    app_id,
                    app_secret: secret.expose().to_owned(),
                    graph_url: si.facebook_graph_url.clone(),
                })?)
            }
        };
        Ok(Self {
            facebook,
            telegram_webapp: s.telegram_bot_token.as_ref().map(|t| {
                TelegramWebAppVerifier::new(t.expose(), s.signins.telegram_webapp_max_age)
            }),
        })
    }
}
