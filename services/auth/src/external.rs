//! External identity providers through `stride-idp`: Google / Facebook ID tokens (OpenID Connect)
//! and the Telegram Login Widget. Turns a provider's credential into an [`ExternalIdentity`];
//! what happens to the account is decided by the flows (`grpc::external`, `grpc::identities`).

use std::time::SystemTime;

use stride_idp::{IdpError, OidcConfig, OidcProvider, TelegramAuth, TelegramVerifier};
use stride_kit::{AppError, AppResult, Violations};
use stride_proto::auth as pb;

pub use crate::domain::identity::ExternalIdentity;
use crate::{
    domain::{identity, validate::normalize_email},
    errors,
    settings::Settings,
};

/// The providers this deployment accepts (None = not configured).
pub struct Providers {
    pub google: Option<OidcProvider>,
    pub facebook: Option<OidcProvider>,
    pub telegram: Option<TelegramVerifier>,
}

impl Providers {
    pub fn from_settings(s: &Settings) -> anyhow::Result<Self> {
        let oidc =
            |config: OidcConfig, url: &Option<String>| -> anyhow::Result<Option<OidcProvider>> {
                if config.client_ids.is_empty() {
                    return Ok(None);
                }
                let config = match url {
                    Some(u) => config.with_jwks_url(u.clone()),
                    None => config,
                };
                Ok(Some(OidcProvider::new(config)?))
            };
        Ok(Self {
            google: oidc(
                OidcConfig::google(s.google_client_ids.clone()),
                &s.google_jwks_url,
            )?,
            facebook: oidc(
                OidcConfig::facebook(s.facebook_client_ids.clone()),
                &s.facebook_jwks_url,
            )?,
            telegram: s
                .telegram_bot_token
                .as_ref()
                .map(|t| TelegramVerifier::new(t.expose(), s.telegram_max_age)),
        })
    }

    /// Checks an OpenID Connect ID token of Google or Facebook at `now`.
    pub async fn verify_id_token(
        &self,
        c: &pb::IdTokenCredential,
        now: SystemTime,
    ) -> AppResult<ExternalIdentity> {
        let mut v = Violations::new();
        v.when(c.id_token.is_empty(), "id_token", "is required");
        v.when(c.id_token.len() > 16 * 1024, "id_token", "is too long");
        v.when(c.nonce.len() > 512, "nonce", "is too long");
        let (name, provider) = match pb::Provider::try_from(c.provider) {
            Ok(pb::Provider::Google) => (identity::GOOGLE, self.google.as_ref()),
            Ok(pb::Provider::Facebook) => (identity::FACEBOOK, self.facebook.as_ref()),
            _ => {
                v.add("provider", "must be PROVIDER_GOOGLE or PROVIDER_FACEBOOK");
                ("", None)
            }
        };
        v.check()?;
        let provider = provider.ok_or_else(errors::provider_not_configured)?;
        let id = provider
            .verify(&c.id_token, &c.nonce, now)
            .await
            .map_err(map_idp)?;
        Ok(ExternalIdentity {
            provider: name,
            subject: id.subject,
            email: id.email.map(|e| normalize_email(&e)),
            email_verified: id.email_verified,
        })
    }

    /// Checks Telegram Login Widget data at `now` (Unix seconds).
    pub fn verify_telegram(
        &self,
        t: &pb::TelegramAuthData,
        now: i64,
    ) -> AppResult<ExternalIdentity> {
        let Some(verifier) = &self.telegram else {
            return Err(errors::provider_not_configured());
        };
        let data = TelegramAuth {
            id: t.id,
            first_name: t.first_name.clone(),
            last_name: t.last_name.clone(),
            username: t.username.clone(),
            photo_url: t.photo_url.clone(),
            auth_date: t.auth_date,
            hash: t.hash.clone(),
        };
        let user = verifier.verify(&data, now).map_err(map_idp)?;
        Ok(ExternalIdentity {
            provider: identity::TELEGRAM,
            subject: user.id.to_string(),
            email: None,
            email_verified: false,
        })
    }
}

pub(crate) fn map_idp(e: IdpError) -> AppError {
    match e {
        IdpError::InvalidToken { reason, detail } => {
            tracing::info!(%reason, %detail, "external credential rejected");
            AppError::unauthenticated(reason, "the identity provider's credential was rejected")
        }
        IdpError::KeysUnavailable(e) => {
            tracing::warn!(error = %e, "identity provider keys unavailable");
            AppError::Unavailable("the identity provider cannot be reached; retry shortly".into())
        }
        IdpError::NotConfigured(what) => {
            tracing::info!(%what, "sign-in with an unconfigured provider");
            errors::provider_not_configured()
        }
    }
}
