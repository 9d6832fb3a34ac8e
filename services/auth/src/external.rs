//! Sign-in with Google / Facebook ID tokens (OpenID Connect) and the Telegram Login Widget,
//! through `stride-idp`. An external identity is keyed by (provider, subject), never by email;
//! a verified email that matches exactly one account links to it, anything else is a new account.

use std::time::SystemTime;

use stride_idp::{IdpError, OidcConfig, OidcProvider, TelegramAuth, TelegramVerifier};
use stride_kit::{AppError, AppResult, ClientInfo, Violations};
use stride_proto::auth as pb;
use uuid::Uuid;

use crate::{
    identities::{self, NewIdentity},
    service::{AuthSvc, UserRow, micros, normalize_email, timezone_or_utc},
    settings::Settings,
};

/// What an external provider vouched for.
#[derive(Clone, Debug)]
pub(crate) struct ExternalIdentity {
    pub provider: &'static str,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
}

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
                .as_deref()
                .map(|t| TelegramVerifier::new(t, s.telegram_max_age)),
        })
    }
}

fn map_idp(e: IdpError) -> AppError {
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
            not_enabled()
        }
    }
}

fn not_enabled() -> AppError {
    AppError::precondition(
        "PROVIDER_NOT_CONFIGURED",
        "this sign-in method is not enabled",
    )
}

impl AuthSvc {
    pub(crate) async fn verify_id_token(
        &self,
        c: &pb::IdTokenCredential,
    ) -> AppResult<ExternalIdentity> {
        let mut v = Violations::new();
        v.when(c.id_token.is_empty(), "id_token", "is required");
        v.when(c.id_token.len() > 16 * 1024, "id_token", "is too long");
        v.when(c.nonce.len() > 512, "nonce", "is too long");
        let (name, provider) = match pb::Provider::try_from(c.provider) {
            Ok(pb::Provider::Google) => ("google", self.providers.google.as_ref()),
            Ok(pb::Provider::Facebook) => ("facebook", self.providers.facebook.as_ref()),
            _ => {
                v.add("provider", "must be PROVIDER_GOOGLE or PROVIDER_FACEBOOK");
                ("", None)
            }
        };
        v.check()?;
        let provider = provider.ok_or_else(not_enabled)?;
        let now: SystemTime = self.clock.now().into();
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

    pub(crate) fn verify_telegram(&self, t: &pb::TelegramAuthData) -> AppResult<ExternalIdentity> {
        let Some(verifier) = &self.providers.telegram else {
            return Err(not_enabled());
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
        let user = verifier
            .verify(&data, self.clock.now().unix_timestamp())
            .map_err(map_idp)?;
        Ok(ExternalIdentity {
            provider: "telegram",
            subject: user.id.to_string(),
            email: None,
            email_verified: false,
        })
    }

    /// Finds or creates the account of a verified external identity.
    async fn sign_in_external(
        &self,
        client: &ClientInfo,
        ext: ExternalIdentity,
        timezone: String,
    ) -> AppResult<(UserRow, pb::TokenPair, bool)> {
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        let mut owner = identities::owner(&mut tx, ext.provider, &ext.subject).await?;
        let mut linked = false;
        if owner.is_none()
            && ext.email_verified
            && let Some(email) = &ext.email
        {
            // A verified email that matches exactly one account with that email verified.
            let matches: Vec<(Uuid,)> = sqlx::query_as(
                "SELECT id FROM users WHERE email = $1 AND email_verified_at IS NOT NULL LIMIT 2",
            )
            .bind(email)
            .fetch_all(&mut *tx)
            .await?;
            if let [(id,)] = matches.as_slice() {
                identities::insert(&mut tx, *id, ext.clone().into(), false, now).await?;
                owner = Some(*id);
                linked = true;
            }
        }
        let created = owner.is_none();
        let user = match owner {
            Some(id) => {
                identities::touch(&mut tx, id, ext.provider, &ext.subject, now).await?;
                self.load_user(&mut tx, id)
                    .await?
                    .ok_or_else(|| AppError::not_found("account"))?
            }
            None => {
                // The provider's email is taken only when verified and free: no account has it
                // as its address, nor as a linked email identity.
                let email = match (&ext.email, ext.email_verified) {
                    (Some(e), true) => {
                        let (free,): (bool,) = sqlx::query_as(
                            "SELECT NOT EXISTS (SELECT 1 FROM users WHERE email = $1)
                                AND NOT EXISTS (SELECT 1 FROM identities
                                                WHERE provider = 'email' AND subject = $1)",
                        )
                        .bind(e)
                        .fetch_one(&mut *tx)
                        .await?;
                        free.then(|| e.clone())
                    }
                    _ => None,
                };
                let user = UserRow {
                    id: Uuid::now_v7(),
                    email_verified_at: email.as_ref().map(|_| now),
                    email,
                    username: None,
                    password_hash: None,
                    roles: vec!["user".into()],
                    is_anonymous: false,
                    created_at: now,
                    timezone,
                    phone: None,
                };
                self.insert_user(&mut tx, &user, Some(NewIdentity::from(ext.clone())), now)
                    .await?;
                user
            }
        };
        let family = Uuid::now_v7();
        let tokens = self.issue(&mut tx, &user, family, now).await?;
        let kind = if created {
            "account.created"
        } else if linked {
            "identity.linked"
        } else {
            "login.succeeded"
        };
        crate::audit::record(
            &mut tx,
            Some(user.id),
            kind,
            client,
            serde_json::json!({"method": ext.provider, "session_id": family.to_string()}),
            now,
        )
        .await?;
        tx.commit().await?;
        if created {
            self.outbox.kick();
        }
        Ok((user, tokens, created))
    }

    /// Two first sign-ins of one new identity race: the loser's insert hits the unique index
    /// (or the address the winner just took); a second pass finds the winner's account.
    async fn sign_in_external_once_more(
        &self,
        client: &ClientInfo,
        ext: ExternalIdentity,
        timezone: String,
    ) -> AppResult<(UserRow, pb::TokenPair, bool)> {
        match self
            .sign_in_external(client, ext.clone(), timezone.clone())
            .await
        {
            Err(AppError::AlreadyExists { .. }) => {
                self.sign_in_external(client, ext, timezone).await
            }
            other => other,
        }
    }

    pub(crate) async fn sign_in_with_id_token_inner(
        &self,
        client: &ClientInfo,
        req: pb::SignInWithIdTokenRequest,
    ) -> AppResult<pb::SignInWithIdTokenResponse> {
        let mut v = Violations::new();
        let timezone = timezone_or_utc(&mut v, &req.timezone);
        v.check()?;
        let ext = self
            .verify_id_token(&pb::IdTokenCredential {
                provider: req.provider,
                id_token: req.id_token,
                nonce: req.nonce,
            })
            .await?;
        let (user, tokens, created) = self
            .sign_in_external_once_more(client, ext, timezone)
            .await?;
        Ok(pb::SignInWithIdTokenResponse {
            user: Some(user.to_proto()),
            tokens: Some(tokens),
            created,
        })
    }

    pub(crate) async fn sign_in_with_telegram_inner(
        &self,
        client: &ClientInfo,
        req: pb::SignInWithTelegramRequest,
    ) -> AppResult<pb::SignInWithTelegramResponse> {
        let mut v = Violations::new();
        let timezone = timezone_or_utc(&mut v, &req.timezone);
        v.when(req.data.is_none(), "data", "is required");
        v.check()?;
        let ext = self.verify_telegram(&req.data.unwrap_or_default())?;
        let (user, tokens, created) = self
            .sign_in_external_once_more(client, ext, timezone)
            .await?;
        Ok(pb::SignInWithTelegramResponse {
            user: Some(user.to_proto()),
            tokens: Some(tokens),
            created,
        })
    }
}
