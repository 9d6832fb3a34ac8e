//! The AuthService handlers: signup, login, refresh-token rotation, JWKS; session management
//! (`crate::sessions`) and account deletion (`crate::account`) delegate to their modules.

use std::sync::Arc;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sqlx::{PgConnection, PgPool};
use stride_bus::outbox::OutboxHandle;
use stride_kit::{
    AppError, AppResult, Caller, Violations, clock::SharedClock, convert::timestamp,
    jwt::SigningKey,
};
use stride_proto::{auth as pb, auth::auth_service_server::AuthService, events};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::password::Hasher;

/// Access tokens live 15 minutes.
pub const ACCESS_TTL_SECONDS: i64 = 900;
/// Refresh tokens live 30 days from their issue (each rotation issues a fresh one).
pub const REFRESH_TTL: time::Duration = time::Duration::days(30);

pub(crate) const INVALID_CREDENTIALS: &str = "the email or password is incorrect";

pub struct AuthSvc {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub key: Arc<SigningKey>,
    pub hasher: Arc<Hasher>,
    pub outbox: OutboxHandle,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: Option<String>,
    username: Option<String>,
    password_hash: Option<String>,
    roles: Vec<String>,
    is_anonymous: bool,
    created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    id: Uuid,
    family_id: Uuid,
    user_id: Uuid,
    expires_at: OffsetDateTime,
    used_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
}

impl UserRow {
    fn to_proto(&self) -> pb::User {
        pb::User {
            id: self.id.to_string(),
            email: self.email.clone().unwrap_or_default(),
            username: self.username.clone().unwrap_or_default(),
            roles: self.roles.clone(),
            is_anonymous: self.is_anonymous,
            create_time: Some(timestamp(self.created_at)),
        }
    }
}

/// PostgreSQL keeps microseconds; truncating up front makes what we return equal what we store.
pub(crate) fn micros(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// An opaque refresh token (32 random bytes, base64url) and the SHA-256 that is stored.
fn new_refresh_token() -> AppResult<(String, Vec<u8>)> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut raw = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| AppError::internal(anyhow::anyhow!("random generator failed")))?;
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&token);
    Ok((token, hash))
}

fn token_hash(token: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

fn valid_email(email: &str) -> bool {
    let n = email.chars().count();
    if !(3..=254).contains(&n) || email.chars().any(char::is_whitespace) {
        return false;
    }
    let mut parts = email.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        _ => false,
    }
}

fn valid_username(username: &str) -> bool {
    (3..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

pub(crate) fn valid_password(password: &str) -> bool {
    (8..=128).contains(&password.chars().count())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl AuthSvc {
    /// Signs an access token and stores a new refresh token of `family` (inside `tx`).
    async fn issue(
        &self,
        tx: &mut PgConnection,
        user: &UserRow,
        family: Uuid,
        now: OffsetDateTime,
    ) -> AppResult<pb::TokenPair> {
        let claims = stride_kit::jwt::access_claims(
            user.id,
            &family.to_string(),
            user.roles.clone(),
            user.is_anonymous,
            now.unix_timestamp(),
            ACCESS_TTL_SECONDS,
        );
        let access = self.key.sign(&claims)?;
        let (refresh, hash) = new_refresh_token()?;
        let refresh_expires = now + REFRESH_TTL;
        sqlx::query(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(Uuid::now_v7())
        .bind(family)
        .bind(user.id)
        .bind(hash)
        .bind(now)
        .bind(refresh_expires)
        .execute(&mut *tx)
        .await?;
        Ok(pb::TokenPair {
            access_token: access,
            access_token_expire_time: Some(timestamp(
                now + time::Duration::seconds(ACCESS_TTL_SECONDS),
            )),
            refresh_token: refresh,
            refresh_token_expire_time: Some(timestamp(refresh_expires)),
            token_type: "Bearer".into(),
        })
    }

    async fn signup_inner(&self, req: pb::SignupRequest) -> AppResult<pb::SignupResponse> {
        let email = normalize_email(&req.email);
        let mut v = Violations::new();
        v.when(
            !valid_email(&email),
            "email",
            "must be an email address of 3 to 254 characters",
        );
        v.when(
            !valid_username(&req.username),
            "username",
            "must be 3 to 32 characters of letters, digits, '_', '.' or '-'",
        );
        v.when(
            !valid_password(&req.password),
            "password",
            "must be 8 to 128 characters",
        );
        let timezone = if req.timezone.is_empty() {
            "UTC".to_owned()
        } else {
            req.timezone.clone()
        };
        v.when(
            !stride_kit::convert::is_valid_timezone(&timezone),
            "timezone",
            "must be an IANA time zone such as Europe/Paris",
        );
        v.check()?;

        let password_hash = self.hasher.hash(req.password).await?;
        let now = micros(self.clock.now());
        let user = UserRow {
            id: Uuid::now_v7(),
            email: Some(email),
            username: Some(req.username),
            password_hash: Some(password_hash),
            roles: vec!["user".into()],
            is_anonymous: false,
            created_at: now,
        };
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, username, password_hash, roles, is_anonymous, created_at, timezone)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user.id)
        .bind(&user.email)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(&user.roles)
        .bind(user.is_anonymous)
        .bind(user.created_at)
        .bind(&timezone)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(AppError::AlreadyExists {
                    reason: "ACCOUNT_EXISTS",
                    message: "an account with this email or username already exists".into(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let tokens = self.issue(&mut tx, &user, Uuid::now_v7(), now).await?;
        let event = events::UserRegistered {
            user_id: user.id.to_string(),
            email: user.email.clone().unwrap_or_default(),
            username: user.username.clone().unwrap_or_default(),
            is_anonymous: false,
            occur_time: Some(timestamp(now)),
            local_date: Some(stride_kit::convert::date(stride_kit::convert::local_date(
                now, &timezone,
            ))),
            timezone,
        };
        stride_bus::outbox::enqueue(&mut tx, &event).await?;
        tx.commit().await?;
        self.outbox.kick();
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        Ok(pb::SignupResponse {
            user: Some(user.to_proto()),
            tokens: Some(tokens),
        })
    }

    async fn login_inner(&self, req: pb::LoginRequest) -> AppResult<pb::LoginResponse> {
        let email = normalize_email(&req.email);
        // Bound the work an unauthenticated caller can ask for before hashing anything.
        let plausible = email.chars().count() <= 254 && valid_password(&req.password);
        let user: Option<UserRow> = if plausible {
            sqlx::query_as(
                "SELECT id, email, username, password_hash, roles, is_anonymous, created_at
                 FROM users WHERE email = $1",
            )
            .bind(&email)
            .fetch_optional(&self.pool)
            .await?
        } else {
            None
        };
        // Unknown accounts verify against the dummy hash: same cost, same answer.
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let ok = self.hasher.verify(req.password, stored).await?;
        let user = match user {
            Some(u) if ok => u,
            _ => {
                return Err(AppError::unauthenticated(
                    "INVALID_CREDENTIALS",
                    INVALID_CREDENTIALS,
                ));
            }
        };
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        let tokens = self.issue(&mut tx, &user, Uuid::now_v7(), now).await?;
        tx.commit().await?;
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        Ok(pb::LoginResponse {
            user: Some(user.to_proto()),
            tokens: Some(tokens),
        })
    }

    async fn refresh_inner(&self, req: pb::RefreshRequest) -> AppResult<pb::RefreshResponse> {
        let invalid =
            || AppError::unauthenticated("REFRESH_TOKEN_INVALID", "the refresh token is invalid");
        if req.refresh_token.is_empty() || req.refresh_token.len() > 128 {
            return Err(invalid());
        }
        let hash = token_hash(&req.refresh_token);
        let now = micros(self.clock.now());
        let mut tx = self.pool.begin().await?;
        // The row lock serialises concurrent presentations of one token: the second one sees
        // it used and is treated as reuse.
        let row: Option<RefreshRow> = sqlx::query_as(
            "SELECT id, family_id, user_id, expires_at, used_at, revoked_at
             FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        )
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(RefreshRow {
            id,
            family_id: family,
            user_id,
            expires_at,
            used_at,
            revoked_at,
        }) = row
        else {
            return Err(invalid());
        };
        if used_at.is_some() || revoked_at.is_some() {
            // A spent token came back: someone holds a copy. End the whole session, and make
            // that stick before answering.
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
                .bind(family)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::warn!(%user_id, %family, "refresh token reuse; family revoked");
            return Err(AppError::unauthenticated(
                "REFRESH_TOKEN_REUSED",
                "the refresh token was already used; sign in again",
            ));
        }
        if expires_at <= now {
            return Err(AppError::unauthenticated(
                "REFRESH_TOKEN_EXPIRED",
                "the refresh token has expired",
            ));
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let user: Option<UserRow> = sqlx::query_as(
            "SELECT id, email, username, password_hash, roles, is_anonymous, created_at FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        // The account was deleted while this token was being presented.
        let Some(user) = user else {
            return Err(invalid());
        };
        let tokens = self.issue(&mut tx, &user, family, now).await?;
        tx.commit().await?;
        tracing::Span::current().record("user_id", tracing::field::display(user_id));
        Ok(pb::RefreshResponse {
            tokens: Some(tokens),
        })
    }

    async fn get_jwks_inner(&self) -> AppResult<pb::GetJwksResponse> {
        Ok(pb::GetJwksResponse {
            keys: crate::keys::published(&self.pool, self.clock.now()).await?,
        })
    }
}

/// The verified caller (the only source of the user id), recorded on the handler's span.
fn authenticated<T>(request: &Request<T>) -> Result<Caller, Status> {
    let caller = Caller::of(request)?;
    tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
    Ok(caller)
}

#[tonic::async_trait]
impl AuthService for AuthSvc {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn signup(
        &self,
        request: Request<pb::SignupRequest>,
    ) -> Result<Response<pb::SignupResponse>, Status> {
        self.signup_inner(request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        self.login_inner(request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        self.refresh_inner(request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let caller = authenticated(&request)?;
        self.list_sessions_inner(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn revoke_session(
        &self,
        request: Request<pb::RevokeSessionRequest>,
    ) -> Result<Response<pb::RevokeSessionResponse>, Status> {
        let caller = authenticated(&request)?;
        self.revoke_session_inner(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let caller = authenticated(&request)?;
        self.logout_inner(&caller)
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn logout_all(
        &self,
        request: Request<pb::LogoutAllRequest>,
    ) -> Result<Response<pb::LogoutAllResponse>, Status> {
        let caller = authenticated(&request)?;
        self.logout_all_inner(&caller)
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn delete_account(
        &self,
        request: Request<pb::DeleteAccountRequest>,
    ) -> Result<Response<pb::DeleteAccountResponse>, Status> {
        let caller = authenticated(&request)?;
        self.delete_account_inner(&caller, request.into_inner())
            .await
            .map(Response::new)
            .map_err(Into::into)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn get_jwks(
        &self,
        _request: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        self.get_jwks_inner()
            .await
            .map(Response::new)
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_rules() {
        assert!(valid_email("a@b.co"));
        assert!(valid_email(&normalize_email("  Ann@Example.COM ")));
        assert!(!valid_email("a@bco"));
        assert!(!valid_email("a@@b.co"));
        assert!(!valid_email("@b.co"));
        assert!(!valid_email("a b@c.de"));
        assert!(!valid_email(&format!("{}@b.co", "a".repeat(250))));
        assert!(valid_username("ann.lee-2_x"));
        assert!(!valid_username("an"));
        assert!(!valid_username("ann lee"));
        assert!(!valid_username(&"a".repeat(33)));
        assert!(valid_password("12345678"));
        // Characters, not bytes: 8 two-byte characters are enough, 7 are not.
        assert!(valid_password(&"é".repeat(8)));
        assert!(!valid_password(&"é".repeat(7)));
        assert!(!valid_password(&"x".repeat(129)));
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_refresh_token().unwrap();
        let (b, _) = new_refresh_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(ha, token_hash(&a));
        assert_eq!(ha.len(), 32);
    }
}
