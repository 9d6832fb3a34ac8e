//! The sign-ins added beside the original providers: Telegram Mini App `initData`, Facebook
//! access tokens (Graph API), and Google's server-side web flow (authorization code with PKCE).
//! Their settings ([`SignInSettings`], read from the environment) and the verifiers and clients
//! built from them ([`SignIns`]). What happens to the account is decided by `grpc::signins`.

use std::time::Duration;

use stride_idp::{
    FacebookConfig, FacebookGraph, TelegramWebAppVerifier,
    facebook::FACEBOOK_GRAPH_URL,
    oauth::{GOOGLE_AUTH_URL, GOOGLE_TOKEN_URL, TokenEndpoint},
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
    /// `AUTH_GOOGLE_CLIENT_SECRET`: the web client's secret; the server-side web flow is off
    /// without it.
    pub google_client_secret: Option<Secret>,
    /// `AUTH_GOOGLE_WEB_CLIENT_ID`: the web client (default: the first of
    /// `AUTH_GOOGLE_CLIENT_IDS`, which must list it: it is the ID token's audience).
    pub google_web_client_id: Option<String>,
    /// `AUTH_GOOGLE_REDIRECT_URIS`: the redirect URIs a web app may ask for (exact match).
    pub google_redirect_uris: Vec<String>,
    /// `AUTH_GOOGLE_AUTH_URL`, `AUTH_GOOGLE_TOKEN_URL`: Google's endpoints (overridable for tests).
    pub google_auth_url: String,
    pub google_token_url: String,
    /// How long a started web sign-in waits for its callback.
    pub oauth_state_ttl: time::Duration,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            telegram_webapp_max_age: Duration::from_secs(300),
            facebook_app_id: None,
            facebook_app_secret: None,
            facebook_graph_url: FACEBOOK_GRAPH_URL.into(),
            google_client_secret: None,
            google_web_client_id: None,
            google_redirect_uris: Vec::new(),
            google_auth_url: GOOGLE_AUTH_URL.into(),
            google_token_url: GOOGLE_TOKEN_URL.into(),
            oauth_state_ttl: time::Duration::minutes(10),
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
            google_client_secret: env.optional("AUTH_GOOGLE_CLIENT_SECRET").map(Secret::from),
            google_web_client_id: env.optional("AUTH_GOOGLE_WEB_CLIENT_ID"),
            google_redirect_uris: env
                .optional("AUTH_GOOGLE_REDIRECT_URIS")
                .map(|raw| {
                    raw.split(',')
                        .map(|u| u.trim().to_owned())
                        .filter(|u| !u.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            google_auth_url: env
                .optional("AUTH_GOOGLE_AUTH_URL")
                .unwrap_or(d.google_auth_url),
            google_token_url: env
                .optional("AUTH_GOOGLE_TOKEN_URL")
                .unwrap_or(d.google_token_url),
            oauth_state_ttl: d.oauth_state_ttl,
        }
    }
}

/// The verifiers and clients of the added sign-ins (None = not configured).
pub struct SignIns {
    pub telegram_webapp: Option<TelegramWebAppVerifier>,
    pub facebook: Option<FacebookGraph>,
    pub google_web: Option<GoogleWeb>,
}

/// Google's server-side web flow: our web client at the token endpoint, the authorization URL,
/// the redirect allow-list.
pub struct GoogleWeb {
    pub token: TokenEndpoint,
    pub auth_url: String,
    pub redirect_uris: Vec<String>,
    pub state_ttl: time::Duration,
}

impl GoogleWeb {
    /// Whether `uri` is on the allow-list (exact string match: no prefixes, no normalisation).
    pub fn redirect_allowed(&self, uri: &str) -> bool {
        redirect_allowed(&self.redirect_uris, uri)
    }
}

pub fn redirect_allowed(allowed: &[String], uri: &str) -> bool {
    !uri.is_empty() && allowed.iter().any(|a| a == uri)
}

/// A redirect URI an operator may list: absolute https (http only to a loopback address, for
/// development), no fragment, no credentials.
fn check_redirect_uri(uri: &str) -> anyhow::Result<()> {
    let u = url::Url::parse(uri).map_err(|e| anyhow::anyhow!("{uri:?}: {e}"))?;
    let host = u.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let scheme_ok = u.scheme() == "https" || (u.scheme() == "http" && loopback);
    if !scheme_ok || u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
        anyhow::bail!(
            "{uri:?} must be https (http only on loopback), without fragment or credentials"
        );
    }
    Ok(())
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
        let google_web = match &si.google_client_secret {
            None => None,
            Some(secret) => {
                let client_id = si
                    .google_web_client_id
                    .clone()
                    .or_else(|| s.google_client_ids.first().cloned())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "AUTH_GOOGLE_CLIENT_SECRET is set but there is no Google client id"
                        )
                    })?;
                if !s.google_client_ids.contains(&client_id) {
                    anyhow::bail!(
                        "AUTH_GOOGLE_WEB_CLIENT_ID must also be in AUTH_GOOGLE_CLIENT_IDS (it is the ID token's audience)"
                    );
                }
                if si.google_redirect_uris.is_empty() {
                    anyhow::bail!(
                        "AUTH_GOOGLE_CLIENT_SECRET is set but AUTH_GOOGLE_REDIRECT_URIS is empty"
                    );
                }
                for uri in &si.google_redirect_uris {
                    check_redirect_uri(uri)
                        .map_err(|e| anyhow::anyhow!("AUTH_GOOGLE_REDIRECT_URIS: {e:#}"))?;
                }
                // Fails at start on a bad authorization URL, not at the first sign-in.
                stride_idp::oauth::authorization_url(
                    &si.google_auth_url,
                    &stride_idp::oauth::AuthorizationRequest {
                        client_id: &client_id,
                        redirect_uri: "",
                        state: "",
                        code_verifier: "",
                        raw_nonce: "",
                        login_hint: None,
                    },
                )?;
                Some(GoogleWeb {
                    token: TokenEndpoint::new(&si.google_token_url, &client_id, secret.expose())?,
                    auth_url: si.google_auth_url.clone(),
                    redirect_uris: si.google_redirect_uris.clone(),
                    state_ttl: si.oauth_state_ttl,
                })
            }
        };
        Ok(Self {
            google_web,
            facebook,
            telegram_webapp: s.telegram_bot_token.as_ref().map(|t| {
                TelegramWebAppVerifier::new(t.expose(), s.signins.telegram_webapp_max_age)
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_must_match_the_allow_list_exactly() {
        let allowed = vec![
            "https://app.example/auth/google/callback".to_owned(),
            "http://localhost:3000/cb".to_owned(),
        ];
        assert!(redirect_allowed(
            &allowed,
            "https://app.example/auth/google/callback"
        ));
        assert!(redirect_allowed(&allowed, "http://localhost:3000/cb"));
        for bad in [
            "",
            "https://app.example/auth/google/callback/",
            "https://app.example/auth/google/callback?x=1",
            "https://app.example/auth/google/callback#f",
            "https://APP.example/auth/google/callback",
            "https://app.example.evil.example/auth/google/callback",
            "https://app.example/auth/google",
        ] {
            assert!(!redirect_allowed(&allowed, bad), "{bad}");
        }
    }

    #[test]
    fn listed_redirects_must_be_https_or_loopback() {
        assert!(check_redirect_uri("https://app.example/cb").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:8080/cb").is_ok());
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#x",
            "https://u:p@app.example/cb",
            "/cb",
            "javascript:alert(1)",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
