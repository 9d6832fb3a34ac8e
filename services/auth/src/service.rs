//! The AuthService handlers: signup, login, refresh-token rotation, JWKS; session management
//! (`crate::sessions`) and account deletion (`crate::account`) delegate to their modules.

use std::sync::Arc;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sqlx::{PgConnection, PgPool};
use stride_bus::outbox::OutboxHandle;
use stride_kit::{
    AppError, AppResult, Caller, ClientInfo, Violations, clock::SharedClock, convert::timestamp,
};
use stride_proto::{auth as pb, auth::auth_service_server::AuthService, events};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{keys::KeyRing, password::Hasher, settings::Settings};

/// Access tokens live 15 minutes.
pub const ACCESS_TTL_SECONDS: i64 = 900;
/// Refresh tokens live 30 days from their issue (each rotation issues a fresh one).
pub const REFRESH_TTL: time::Duration = time::Duration::days(30);

pub(crate) const INVALID_CREDENTIALS: &str = "the email or password is incorrect";

pub struct AuthSvc {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub keys: Arc<KeyRing>,
    pub hasher: Arc<Hasher>,
    pub outbox: OutboxHandle,
    pub settings: Arc<Settings>,
    pub notifier: Notifier,
    pub providers: Arc<crate::external::Providers>,
    /// Checks tokens presented inside requests (MergeGuest's guest token).
    pub verifier: Arc<stride_kit::Verifier>,
}

/// Where codes, reset links and security notices go.
#[derive(Clone)]
pub struct Notifier {
    pub mail: Arc<dyn stride_notify::Mailer>,
    pub sms: Arc<dyn stride_notify::SmsSender>,
}

impl Notifier {
    /// Sends after the caller's answer is decided, so the answer never waits on (or reveals)
    /// delivery. A failed delivery is logged; the user can ask again.
    pub fn mail(&self, to: String, subject: String, text: String) {
        let mail = self.mail.clone();
        tokio::spawn(async move {
            if let Err(e) = mail.send(stride_notify::Mail { to, subject, text }).await {
                tracing::warn!(error = %e, "mail delivery failed");
            }
        });
    }

    pub fn sms(&self, to: String, text: String) {
        let sms = self.sms.clone();
        tokio::spawn(async move {
            if let Err(e) = sms.send(stride_notify::Sms { to, text }).await {
                tracing::warn!(error = %e, "SMS delivery failed");
            }
        });
    }
}

/// Columns of [`UserRow`], for every query that loads one.
pub(crate) const USER_COLUMNS: &str = "id, email, username, password_hash, roles, is_anonymous, created_at, timezone, email_verified_at, phone";

#[derive(sqlx::FromRow, Clone)]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub email: Option<String>,
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub roles: Vec<String>,
    pub is_anonymous: bool,
    pub created_at: OffsetDateTime,
    pub timezone: String,
    pub email_verified_at: Option<OffsetDateTime>,
    pub phone: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    id: Uuid,
    family_id: Uuid,
    user_id: Uuid,
    expires_at: OffsetDateTime,
    used_at: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    successor_id: Option<Uuid>,
    successor_sealed: Option<Vec<u8>>,
}

/// How long after a rotation the replaced token may be re-sent to get the same pair back.
pub const REPLAY_GRACE: time::Duration = time::Duration::seconds(120);

impl UserRow {
    pub(crate) fn to_proto(&self) -> pb::User {
        pb::User {
            id: self.id.to_string(),
            email: self.email.clone().unwrap_or_default(),
            username: self.username.clone().unwrap_or_default(),
            roles: self.roles.clone(),
            is_anonymous: self.is_anonymous,
            create_time: Some(timestamp(self.created_at)),
            email_verified: self.email_verified_at.is_some(),
            phone: self.phone.clone().unwrap_or_default(),
        }
    }
}

/// PostgreSQL keeps microseconds; truncating up front makes what we return equal what we store.
pub(crate) fn micros(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// An opaque token (32 random bytes, base64url) and the SHA-256 that is stored.
pub(crate) fn new_refresh_token() -> AppResult<(String, Vec<u8>)> {
    let raw: [u8; 32] = random_bytes()?;
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&token);
    Ok((token, hash))
}

pub(crate) fn random_bytes<const N: usize>() -> AppResult<[u8; N]> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut raw = [0u8; N];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| AppError::internal(anyhow::anyhow!("random generator failed")))?;
    Ok(raw)
}

pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    sha256(token.as_bytes())
}

pub(crate) fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

pub(crate) fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

pub(crate) fn valid_email(email: &str) -> bool {
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

pub(crate) fn valid_username(username: &str) -> bool {
    (3..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

pub(crate) fn valid_password(password: &str) -> bool {
    (8..=128).contains(&password.chars().count())
}

/// Length, then the bundled breached list: the rules every new password meets.
pub(crate) fn check_new_password(v: &mut Violations, field: &str, password: &str) {
    if !valid_password(password) {
        v.add(field, "must be 8 to 128 characters");
    } else if crate::breached::is_common(password) {
        v.add(
            field,
            "is one of the most common passwords found in breaches; choose another",
        );
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(crate) fn timezone_or_utc(v: &mut Violations, raw: &str) -> String {
    let tz = if raw.is_empty() { "UTC" } else { raw };
    v.when(
        !stride_kit::convert::is_valid_timezone(tz),
        "timezone",
        "must be an IANA time zone such as Europe/Paris",
    );
    tz.to_owned()
}

pub(crate) fn account_exists() -> AppError {
    AppError::AlreadyExists {
        reason: "ACCOUNT_EXISTS",
        message: "an account with this email or username already exists".into(),
    }
}

pub(crate) fn invalid_credentials() -> AppError {
    AppError::unauthenticated("INVALID_CREDENTIALS", INVALID_CREDENTIALS)
}

pub(crate) fn registered_event(user: &UserRow, now: OffsetDateTime) -> events::UserRegistered {
    events::UserRegistered {
        user_id: user.id.to_string(),
        email: user.email.clone().unwrap_or_default(),
        username: user.username.clone().unwrap_or_default(),
        is_anonymous: user.is_anonymous,
        occur_time: Some(timestamp(now)),
        local_date: Some(stride_kit::convert::date(stride_kit::convert::local_date(
            now,
            &user.timezone,
        ))),
        timezone: user.timezone.clone(),
    }
}

/// Seals `pair` under a key derived from the refresh token that is being replaced.
fn seal_pair(replaced: &str, pair: &pb::TokenPair) -> AppResult<Vec<u8>> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    use prost::Message as _;
    let key = grace_key(replaced);
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &key)
            .map_err(|_| AppError::internal(anyhow::anyhow!("aead key")))?,
    );
    let nonce: [u8; 12] = random_bytes()?;
    let mut data = pair.encode_to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
        .map_err(|_| AppError::internal(anyhow::anyhow!("aead seal")))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(out)
}

fn open_pair(replaced: &str, sealed: &[u8]) -> Option<pb::TokenPair> {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
    use prost::Message as _;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &grace_key(replaced)).ok()?);
    let (nonce, data) = sealed.split_at_checked(12)?;
    let mut data = data.to_vec();
    let plain = key
        .open_in_place(
            Nonce::try_assume_unique_for_key(nonce).ok()?,
            Aad::empty(),
            &mut data,
        )
        .ok()?;
    pb::TokenPair::decode(&*plain).ok()
}

fn grace_key(token: &str) -> Vec<u8> {
    // Distinct from the stored lookup hash (plain SHA-256 of the token).
    let mut input = b"stride.refresh.replay.v1\0".to_vec();
    input.extend_from_slice(token.as_bytes());
    sha256(&input)
}

impl AuthSvc {
    /// Roles as the token carries them: stored roles, plus admin for a verified email that the
    /// operator listed in AUTH_ADMIN_EMAILS.
    fn effective_roles(&self, user: &UserRow) -> Vec<String> {
        let mut roles = user.roles.clone();
        let listed = user.email_verified_at.is_some()
            && user
                .email
                .as_ref()
                .is_some_and(|e| self.settings.admin_emails.iter().any(|a| a == e));
        if listed && !roles.iter().any(|r| r == "admin") {
            roles.push("admin".into());
        }
        roles
    }

    /// Signs an access token and stores a new refresh token of `family` (inside `tx`). Returns
    /// the pair and the stored token's id.
    pub(crate) async fn issue_with_id(
        &self,
        tx: &mut PgConnection,
        user: &UserRow,
        family: Uuid,
        now: OffsetDateTime,
    ) -> AppResult<(pb::TokenPair, Uuid)> {
        let claims = stride_kit::jwt::access_claims(
            user.id,
            &family.to_string(),
            self.effective_roles(user),
            user.is_anonymous,
            now.unix_timestamp(),
            ACCESS_TTL_SECONDS,
        );
        let access = self.keys.current().sign(&claims)?;
        let (refresh, hash) = new_refresh_token()?;
        let refresh_expires = now + REFRESH_TTL;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(family)
        .bind(user.id)
        .bind(hash)
        .bind(now)
        .bind(refresh_expires)
        .execute(&mut *tx)
        .await?;
        Ok((
            pb::TokenPair {
                access_token: access,
                access_token_expire_time: Some(timestamp(
                    now + time::Duration::seconds(ACCESS_TTL_SECONDS),
                )),
                refresh_token: refresh,
                refresh_token_expire_time: Some(timestamp(refresh_expires)),
                token_type: "Bearer".into(),
            },
            id,
        ))
    }

    pub(crate) async fn issue(
        &self,
        tx: &mut PgConnection,
        user: &UserRow,
        family: Uuid,
        now: OffsetDateTime,
    ) -> AppResult<pb::TokenPair> {
        Ok(self.issue_with_id(tx, user, family, now).await?.0)
    }

    pub(crate) async fn load_user(
        &self,
        conn: &mut PgConnection,
        id: Uuid,
    ) -> AppResult<Option<UserRow>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
    }

    /// Inserts `user` (and its primary identity, if any) and announces it; maps a taken email
    /// or username to ALREADY_EXISTS.
    pub(crate) async fn insert_user(
        &self,
        tx: &mut PgConnection,
        user: &UserRow,
        identity: Option<crate::identities::NewIdentity>,
        now: OffsetDateTime,
    ) -> AppResult<()> {
        self.insert_user_with(tx, user, identity, now, false).await
    }

    /// A `pending` account (sign-up awaiting its email confirmation) is not announced yet.
    pub(crate) async fn insert_user_with(
        &self,
        tx: &mut PgConnection,
        user: &UserRow,
        identity: Option<crate::identities::NewIdentity>,
        now: OffsetDateTime,
        pending: bool,
    ) -> AppResult<()> {
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, username, password_hash, roles, is_anonymous, created_at,
                                timezone, email_verified_at, phone, pending_confirmation)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(user.id)
        .bind(&user.email)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(&user.roles)
        .bind(user.is_anonymous)
        .bind(user.created_at)
        .bind(&user.timezone)
        .bind(user.email_verified_at)
        .bind(&user.phone)
        .bind(pending)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(account_exists()),
            Err(e) => return Err(e.into()),
        }
        if let Some(identity) = identity {
            crate::identities::insert(tx, user.id, identity, true, now).await?;
        }
        if !pending {
            stride_bus::outbox::enqueue(&mut *tx, &registered_event(user, now)).await?;
        }
        Ok(())
    }

    async fn signup_inner(
        &self,
        client: &ClientInfo,
        req: pb::SignupRequest,
    ) -> AppResult<pb::SignupResponse> {
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
        check_new_password(&mut v, "password", &req.password);
        let timezone = timezone_or_utc(&mut v, &req.timezone);
        v.check()?;
        self.hasher.check_capacity()?;

        let password_hash = self.hasher.hash(req.password).await?;
        if self.settings.signup_confirmation {
            return self
                .signup_pending(email, req.username, password_hash, timezone)
                .await;
        }
        let now = micros(self.clock.now());
        let user = UserRow {
            id: Uuid::now_v7(),
            email: Some(email.clone()),
            username: Some(req.username),
            password_hash: Some(password_hash),
            roles: vec!["user".into()],
            is_anonymous: false,
            created_at: now,
            timezone,
            email_verified_at: None,
            phone: None,
        };
        let mut tx = self.pool.begin().await?;
        self.insert_user(
            &mut tx,
            &user,
            Some(crate::identities::NewIdentity::email(&email, false)),
            now,
        )
        .await?;
        let tokens = self.issue(&mut tx, &user, Uuid::now_v7(), now).await?;
        crate::audit::record(
            &mut tx,
            Some(user.id),
            "account.created",
            client,
            serde_json::json!({"method": "password"}),
            now,
        )
        .await?;
        tx.commit().await?;
        self.outbox.kick();
        tracing::Span::current().record("user_id", tracing::field::display(user.id));
        Ok(pb::SignupResponse {
            user: Some(user.to_proto()),
            tokens: Some(tokens),
            confirmation_required: false,
        })
    }

    async fn login_inner(
        &self,
        client: &ClientInfo,
        req: pb::LoginRequest,
    ) -> AppResult<pb::LoginResponse> {
        // A full hashing line refuses before any database work (cheap refusals under a flood).
        self.hasher.check_capacity()?;
        let email = normalize_email(&req.email);
        let now = micros(self.clock.now());
        // Throttle before any hashing: by the account named (known or not, so the answer
        // reveals nothing) and by the client address.
        let keys = crate::throttle::login_keys(&email, client);
        crate::throttle::check_login(&self.pool, &self.settings.limits, &keys, now).await?;
        // Bound the work an unauthenticated caller can ask for before hashing anything.
        let plausible = email.chars().count() <= 254 && valid_password(&req.password);
        let user: Option<UserRow> = if plausible {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS} FROM users WHERE email = $1 AND NOT pending_confirmation"
            )))
            .bind(&email)
            .fetch_optional(&self.pool)
            .await?
        } else {
            None
        };
        // Unknown accounts verify against the dummy hash: same cost, same answer.
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let ok = self
            .hasher
            .verify(req.password.clone(), stored.clone())
            .await?;
        let mut user = match user {
            Some(u) if ok => u,
            other => {
                let mut conn = self.pool.acquire().await?;
                crate::throttle::hit_all(&mut conn, &keys, now).await?;
                crate::audit::record(
                    &mut conn,
                    other.map(|u| u.id),
                    "login.failed",
                    client,
                    serde_json::json!({"method": "password"}),
                    now,
                )
                .await?;
                return Err(invalid_credentials());
            }
        };
        // Parameters were raised since this hash was made: store a fresh one.
        let rehash = match stored.as_deref() {
            Some(phc) if crate::password::needs_rehash(phc) => {
                Some(self.hasher.hash(req.password).await?)
            }
            _ => None,
        };
        let mut tx = self.pool.begin().await?;
        if let Some(h) = rehash {
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(user.id)
                .bind(&h)
                .execute(&mut *tx)
                .await?;
            user.password_hash = Some(h);
            tracing::info!(user_id = %user.id, "password rehashed with current parameters");
        }
        crate::throttle::clear(&mut tx, &keys.account).await?;
        let family = Uuid::now_v7();
        let tokens = self.issue(&mut tx, &user, family, now).await?;
        crate::identities::touch(&mut tx, user.id, "email", &email, now).await?;
        crate::audit::record(
            &mut tx,
            Some(user.id),
            "login.succeeded",
            client,
            serde_json::json!({"method": "password", "session_id": family.to_string()}),
            now,
        )
        .await?;
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
        // The row lock serialises concurrent presentations of one token.
        let row: Option<RefreshRow> = sqlx::query_as(
            "SELECT id, family_id, user_id, expires_at, used_at, revoked_at, successor_id,
                    successor_sealed
             FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
        )
        .bind(&hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(invalid());
        };
        let (family, user_id) = (row.family_id, row.user_id);
        if let (Some(used_at), None) = (row.used_at, row.revoked_at) {
            // The token this one was just replaced by, if it is still the family's newest and
            // unused: a client that lost the rotation's response gets that same pair again.
            if used_at + REPLAY_GRACE > now
                && let (Some(successor), Some(sealed)) = (row.successor_id, &row.successor_sealed)
            {
                let live: Option<(Uuid,)> = sqlx::query_as(
                    "SELECT id FROM refresh_tokens
                     WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2
                     FOR UPDATE",
                )
                .bind(successor)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if live.is_some()
                    && let Some(pair) = open_pair(&req.refresh_token, sealed)
                {
                    tx.commit().await?;
                    tracing::info!(%user_id, %family, "replayed rotation answered with the current pair");
                    return Ok(pb::RefreshResponse { tokens: Some(pair) });
                }
            }
        }
        if row.used_at.is_none() && row.revoked_at.is_some() {
            // Never used, but its session was ended (logout, revocation, password change).
            return Err(AppError::unauthenticated(
                "REFRESH_TOKEN_REVOKED",
                "the session has ended; sign in again",
            ));
        }
        if row.used_at.is_some() {
            // A spent token came back: someone holds a copy. End the whole session, and make
            // that stick before answering.
            let revoked = sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
                .bind(family)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if revoked > 0 {
                crate::audit::record(
                    &mut tx,
                    Some(user_id),
                    "session.reuse_detected",
                    &ClientInfo::default(),
                    serde_json::json!({"session_id": family.to_string()}),
                    now,
                )
                .await?;
            }
            tx.commit().await?;
            tracing::warn!(%user_id, %family, "refresh token reuse; family revoked");
            return Err(AppError::unauthenticated(
                "REFRESH_TOKEN_REUSED",
                "the refresh token was already used; sign in again",
            ));
        }
        if row.expires_at <= now {
            return Err(AppError::unauthenticated(
                "REFRESH_TOKEN_EXPIRED",
                "the refresh token has expired",
            ));
        }
        let Some(user) = self.load_user(&mut tx, user_id).await? else {
            // The account was deleted while this token was being presented.
            return Err(invalid());
        };
        let (tokens, successor) = self.issue_with_id(&mut tx, &user, family, now).await?;
        sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2, successor_id = $3, successor_sealed = $4
             WHERE id = $1",
        )
        .bind(row.id)
        .bind(now)
        .bind(successor)
        .bind(seal_pair(&req.refresh_token, &tokens)?)
        .execute(&mut *tx)
        .await?;
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
pub(crate) fn authenticated<T>(request: &Request<T>) -> Result<Caller, Status> {
    let caller = Caller::of(request)?;
    tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
    Ok(caller)
}

fn reply<T>(r: AppResult<T>) -> Result<Response<T>, Status> {
    r.map(Response::new).map_err(Into::into)
}

/// Handlers: each takes what it needs from the request (caller, client) and delegates.
macro_rules! handlers {
    ($( $name:ident ( $req:ident -> $resp:ident ) => |$svc:ident, $r:ident| $body:expr ;)*) => {
        #[tonic::async_trait]
        impl AuthService for AuthSvc {
            $(
                #[tracing::instrument(skip_all, fields(user_id))]
                async fn $name(
                    &self,
                    request: Request<pb::$req>,
                ) -> Result<Response<pb::$resp>, Status> {
                    let $svc = self;
                    let $r = request;
                    reply($body)
                }
            )*
        }
    };
}

handlers! {
    signup(SignupRequest -> SignupResponse) => |s, r| {
        let client = ClientInfo::of(&r);
        s.signup_inner(&client, r.into_inner()).await
    };
    confirm_signup(ConfirmSignupRequest -> ConfirmSignupResponse) => |s, r| {
        let client = ClientInfo::of(&r);
        s.confirm_signup_inner(&client, r.into_inner()).await
    };
    login(LoginRequest -> LoginResponse) => |s, r| {
        let client = ClientInfo::of(&r);
        s.login_inner(&client, r.into_inner()).await
    };
    refresh(RefreshRequest -> RefreshResponse) => |s, r| s.refresh_inner(r.into_inner()).await;
    list_sessions(ListSessionsRequest -> ListSessionsResponse) => |s, r| {
        let caller = authenticated(&r)?;
        s.list_sessions_inner(&caller, r.into_inner()).await
    };
    revoke_session(RevokeSessionRequest -> RevokeSessionResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.revoke_session_inner(&caller, &client, r.into_inner()).await
    };
    logout(LogoutRequest -> LogoutResponse) => |s, r| {
        let caller = authenticated(&r)?;
        s.logout_inner(&caller).await
    };
    logout_all(LogoutAllRequest -> LogoutAllResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.logout_all_inner(&caller, &client).await
    };
    delete_account(DeleteAccountRequest -> DeleteAccountResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.delete_account_inner(&caller, &client, r.into_inner()).await
    };
    signup_guest(SignupGuestRequest -> SignupGuestResponse) => |s, r| {
        let client = ClientInfo::of(&r);
        s.signup_guest_inner(&client, r.into_inner()).await
    };
    claim_guest(ClaimGuestRequest -> ClaimGuestResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.claim_guest_inner(&caller, &client, r.into_inner()).await
    };
    merge_guest(MergeGuestRequest -> MergeGuestResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.merge_guest_inner(&caller, &client, r.into_inner()).await
    };
    sign_in_with_id_token(SignInWithIdTokenRequest -> SignInWithIdTokenResponse) => |s, r| {
        let client = ClientInfo::of(&r);
        s.sign_in_with_id_token_inner(&client, r.into_inner()).await
    };
    sign_in_with_telegram(SignInWithTelegramRequest -> SignInWithTelegramResponse) => |s, r| {
        let client = ClientInfo::of(&r);
        s.sign_in_with_telegram_inner(&client, r.into_inner()).await
    };
    send_code(SendCodeRequest -> SendCodeResponse) => |s, r| {
        // Public method: a token is optional here and only needed for account-bound purposes.
        let caller = Caller::of(&r).ok();
        s.send_code_inner(caller.as_ref(), r.into_inner()).await
    };
    sign_in_with_code(SignInWithCodeRequest -> SignInWithCodeResponse) => |s, r| {
        let client = ClientInfo::of(&r);
        s.sign_in_with_code_inner(&client, r.into_inner()).await
    };
    list_identities(ListIdentitiesRequest -> ListIdentitiesResponse) => |s, r| {
        let caller = authenticated(&r)?;
        s.list_identities_inner(&caller).await
    };
    link_identity(LinkIdentityRequest -> LinkIdentityResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.link_identity_inner(&caller, &client, r.into_inner()).await
    };
    unlink_identity(UnlinkIdentityRequest -> UnlinkIdentityResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.unlink_identity_inner(&caller, &client, r.into_inner()).await
    };
    set_primary_identity(SetPrimaryIdentityRequest -> SetPrimaryIdentityResponse) => |s, r| {
        let caller = authenticated(&r)?;
        s.set_primary_identity_inner(&caller, r.into_inner()).await
    };
    change_password(ChangePasswordRequest -> ChangePasswordResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.change_password_inner(&caller, &client, r.into_inner()).await
    };
    request_password_reset(RequestPasswordResetRequest -> RequestPasswordResetResponse) => |s, r| {
        let client = ClientInfo::of(&r);
        s.request_password_reset_inner(&client, r.into_inner()).await
    };
    reset_password(ResetPasswordRequest -> ResetPasswordResponse) => |s, r| {
        let client = ClientInfo::of(&r);
        s.reset_password_inner(&client, r.into_inner()).await
    };
    verify_email(VerifyEmailRequest -> VerifyEmailResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.verify_email_inner(&caller, &client, r.into_inner()).await
    };
    request_email_change(RequestEmailChangeRequest -> RequestEmailChangeResponse) => |s, r| {
        let caller = authenticated(&r)?;
        s.request_email_change_inner(&caller, r.into_inner()).await
    };
    confirm_email_change(ConfirmEmailChangeRequest -> ConfirmEmailChangeResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.confirm_email_change_inner(&caller, &client, r.into_inner()).await
    };
    get_me(GetMeRequest -> GetMeResponse) => |s, r| {
        let caller = authenticated(&r)?;
        s.get_me_inner(&caller).await
    };
    list_audit_events(ListAuditEventsRequest -> ListAuditEventsResponse) => |s, r| {
        let caller = authenticated(&r)?;
        s.list_audit_events_inner(&caller, r.into_inner()).await
    };
    set_user_roles(SetUserRolesRequest -> SetUserRolesResponse) => |s, r| {
        let caller = authenticated(&r)?;
        let client = ClientInfo::of(&r);
        s.set_user_roles_inner(&caller, &client, r.into_inner()).await
    };
    get_jwks(GetJwksRequest -> GetJwksResponse) => |s, _r| s.get_jwks_inner().await;
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
