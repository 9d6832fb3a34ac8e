//! Access-token verification (EdDSA JWT against auth's JWKS, cached and refreshed) and the tower
//! layer that enforces method policy before any handler or upstream call.
//!
//! A caller's identity comes only from the verified token, never from a request field.

use std::{
    collections::HashMap,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use tonic::Status;
use uuid::Uuid;

use crate::{
    error::AppError,
    policy::{Policies, Requirement},
};

/// `typ` header of Stride access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// `iss` of every access token.
pub const ISSUER: &str = "stride-auth";
/// `aud` of every access token.
pub const AUDIENCE: &str = "stride";
/// How often the key set is refreshed in the background.
/// Set by the gateway to the address of the client it accepted the call from (any value the
/// client itself sent under this name is dropped there). Services behind the gateway use it for
/// per-address throttling and audit; without it they fall back to the TCP peer.
pub const CLIENT_IP_HEADER: &str = "x-stride-client-ip";

/// Who is on the other end of a call, as far as we can tell: for throttling and the audit log,
/// never for authorisation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        let md = request.metadata();
        let ip = md
            .get(CLIENT_IP_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .or_else(|| request.remote_addr().map(|a| a.ip()));
        // Bounded: it is stored in the audit log.
        let user_agent = md
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect());
        Self { ip, user_agent }
    }

    /// Whom per-address limits count against: see [`client_network`].
    pub fn network(&self) -> Option<std::net::IpAddr> {
        self.ip.map(client_network)
    }
}

/// The network a client address stands for in per-address limits: an IPv4 address itself, the
/// /64 of an IPv6 address (one host is routinely given a whole /64, so its single addresses are
/// free for it to rotate through), and an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, from a
/// dual-stack socket) as that IPv4 address. The gateway's rate limiter keys by it; so should
/// every durable per-address throttle.
pub fn client_network(ip: std::net::IpAddr) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv6Addr};
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
        },
    }
}

pub const JWKS_REFRESH: Duration = Duration::from_secs(300);
/// An unknown `kid` triggers a refresh at most this often (a forged kid must not hammer auth).
const MIN_REFETCH: Duration = Duration::from_secs(5);

/// Claims of an access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    /// Refresh-token family (login session) this token belongs to.
    pub sid: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub is_anonymous: bool,
}

/// The verified caller of a request, put into request extensions by [`AuthnLayer`].
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: Uuid,
    pub session_id: String,
    pub roles: Vec<String>,
    pub is_anonymous: bool,
    /// The raw access token, forwarded on calls made on the caller's behalf.
    pub token: String,
}

impl Caller {
    /// The caller of a request that passed [`AuthnLayer`]; UNAUTHENTICATED otherwise.
    pub fn of<T>(req: &tonic::Request<T>) -> Result<Caller, AppError> {
        req.extensions().get::<Caller>().cloned().ok_or_else(|| {
            AppError::unauthenticated("TOKEN_MISSING", "an access token is required")
        })
    }
}

/// Where public keys come from.
pub trait JwksSource: Send + Sync + 'static {
    fn fetch(&self) -> BoxFuture<'static, anyhow::Result<Vec<stride_proto::auth::Jwk>>>;
}

/// Fetches keys from the auth service over gRPC (`GetJwks`).
pub struct GrpcJwks {
    channel: tonic::transport::Channel,
}

impl GrpcJwks {
    pub fn new(auth_url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            channel: crate::grpc::lazy_channel(auth_url)?,
        })
    }
}

impl JwksSource for GrpcJwks {
    fn fetch(&self) -> BoxFuture<'static, anyhow::Result<Vec<stride_proto::auth::Jwk>>> {
        let mut client =
            stride_proto::auth::auth_service_client::AuthServiceClient::new(self.channel.clone());
        Box::pin(async move {
            let res = client
                .get_jwks(stride_proto::auth::GetJwksRequest {})
                .await?;
            Ok(res.into_inner().keys)
        })
    }
}

/// Why a token was refused. The message is safe to return.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("an access token is required")]
    Missing,
    #[error("the authorization header must be `Bearer <token>`")]
    Malformed,
    #[error("the access token is invalid")]
    Invalid,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token was signed by an unknown key")]
    UnknownKey,
}

impl From<TokenError> for AppError {
    fn from(e: TokenError) -> Self {
        let reason = match e {
            TokenError::Missing => "TOKEN_MISSING",
            TokenError::Malformed => "TOKEN_MALFORMED",
            TokenError::Invalid => "TOKEN_INVALID",
            TokenError::Expired => "TOKEN_EXPIRED",
            TokenError::UnknownKey => "TOKEN_UNKNOWN_KEY",
        };
        AppError::unauthenticated(reason, e.to_string())
    }
}

/// Tokens whose signature was checked, kept for their next use.
const VERIFIED_CACHE: usize = 4096;

/// A token that passed every check, and the key that signed it.
struct Verified {
    claims: Claims,
    kid: String,
}

/// Verifies access tokens against a cached key set.
///
/// An Ed25519 signature check costs about 50 µs of CPU, a fifth of a cheap call, and a client
/// presents the same token on every call for its fifteen minutes. So a token that verified is
/// remembered (up to [`VERIFIED_CACHE`] of them, keyed by the whole token, so only the
/// identical bytes hit): a hit re-checks the time claims and that its signing key is still in
/// the key set, and skips the signature. Failures are never cached.
pub struct Verifier {
    source: Arc<dyn JwksSource>,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
    validation: Validation,
    verified: quick_cache::sync::Cache<String, Arc<Verified>>,
}

impl Verifier {
    pub fn new(source: Arc<dyn JwksSource>) -> Arc<Self> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        Arc::new(Self {
            source,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            validation,
            verified: quick_cache::sync::Cache::new(VERIFIED_CACHE),
        })
    }

    /// Verifier for a service: keys from `auth_url`, refreshed in the background.
    pub fn from_auth_url(auth_url: &str) -> anyhow::Result<Arc<Self>> {
        let v = Self::new(Arc::new(GrpcJwks::new(auth_url)?));
        v.spawn_refresh();
        Ok(v)
    }

    /// Refetches the key set now. The new set replaces the old one, so a key auth dropped
    /// stops verifying.
    pub async fn refresh(&self) -> anyhow::Result<()> {
        *self.last_fetch.lock().await = Some(Instant::now());
        let jwks = self.source.fetch().await?;
        let mut keys = HashMap::new();
        for k in jwks {
            if k.kty == "OKP" && k.crv == "Ed25519" && !k.kid.is_empty() {
                keys.insert(k.kid.clone(), DecodingKey::from_ed_components(&k.x)?);
            }
        }
        *self.keys.write().await = keys;
        Ok(())
    }

    /// Refreshes every [`JWKS_REFRESH`] until the process ends.
    pub fn spawn_refresh(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(v) = weak.upgrade() else { return };
                if let Err(e) = v.refresh().await {
                    tracing::warn!(error = %e, "JWKS refresh failed; keeping cached keys");
                }
                drop(v);
                tokio::time::sleep(JWKS_REFRESH).await;
            }
        });
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(k) = self.keys.read().await.get(kid) {
            return Some(k.clone());
        }
        // Unknown kid: maybe auth rotated. Refetch, but not more often than MIN_REFETCH.
        let due = self
            .last_fetch
            .lock()
            .await
            .is_none_or(|t| t.elapsed() >= MIN_REFETCH);
        if due && let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "JWKS fetch failed");
        }
        self.keys.read().await.get(kid).cloned()
    }

    /// Verifies `token`: EdDSA only, `typ` at+jwt, known `kid`, no keys, key URLs or certificate
    /// references in the header, no `crit`, signature, `iss`, `aud`, `exp`/`nbf`.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        if let Some(v) = self.verified.get(token) {
            let now = jsonwebtoken::get_current_timestamp() as i64;
            let leeway = self.validation.leeway as i64;
            // The same checks `decode` makes on the time claims, with the same leeway.
            if v.claims.exp < now - leeway {
                self.verified.remove(token);
                return Err(TokenError::Expired);
            }
            if v.claims.nbf <= now + leeway && self.keys.read().await.contains_key(&v.kid) {
                return Ok(v.claims.clone());
            }
            // Its key left the set (or the clock went back): verify from scratch.
            self.verified.remove(token);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        // Keys come only from auth's key set: anything in the header that carries or points at a
        // key is attacker-controlled. `crit` names extensions we would have to understand
        // (RFC 7515 §4.1.11); we understand none, and auth never sets it.
        if header.alg != Algorithm::EdDSA
            || header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE)
            || header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.x5t.is_some()
            || header.x5t_s256.is_some()
            || header.crit.is_some()
        {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let key = self.key(&kid).await.ok_or(TokenError::UnknownKey)?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            }
        })?;
        self.verified.insert(
            token.to_owned(),
            Arc::new(Verified {
                claims: data.claims.clone(),
                kid,
            }),
        );
        Ok(data.claims)
    }

    /// Verifies a bearer `authorization` header value and builds the caller.
    pub async fn caller(&self, authorization: Option<&str>) -> Result<Caller, TokenError> {
        let value = authorization.ok_or(TokenError::Missing)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Malformed)?;
        let claims = self.verify(token).await?;
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| TokenError::Invalid)?;
        Ok(Caller {
            user_id,
            session_id: claims.sid,
            roles: claims.roles,
            is_anonymous: claims.is_anonymous,
            token: token.to_owned(),
        })
    }
}

/// Enforces method policy: public methods pass, others need a valid token (and role). The
/// verified [`Caller`] is put into the request extensions for handlers.
#[derive(Clone)]
pub struct AuthnLayer {
    verifier: Arc<Verifier>,
    policies: Arc<Policies>,
    edge: bool,
}

impl AuthnLayer {
    /// The layer of a service: service-only methods are served to any valid token.
    pub fn new(verifier: Arc<Verifier>, policies: Arc<Policies>) -> Self {
        Self {
            verifier,
            policies,
            edge: false,
        }
    }

    /// The layer of the gateway: service-only methods (`ACCESS_SERVICE`) are refused before
    /// anything else, so no client outside the mesh reaches them.
    pub fn edge(verifier: Arc<Verifier>, policies: Arc<Policies>) -> Self {
        Self {
            verifier,
            policies,
            edge: true,
        }
    }
}

impl<S> tower::Layer<S> for AuthnLayer {
    type Service = AuthnService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthnService {
            inner,
            verifier: self.verifier.clone(),
            policies: self.policies.clone(),
            edge: self.edge,
        }
    }
}

#[derive(Clone)]
pub struct AuthnService<S> {
    inner: S,
    verifier: Arc<Verifier>,
    policies: Arc<Policies>,
    edge: bool,
}

impl<S, B, RB> tower::Service<http::Request<B>> for AuthnService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // Take the service that was polled ready; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let path = req.uri().path().to_owned();
        let requirement = self.policies.requirement(&path);
        let role = self
            .policies
            .get(&path)
            .map(|p| p.role.clone())
            .unwrap_or_default();
        let verifier = self.verifier.clone();
        let refused = self.edge && self.policies.service_only(&path);
        Box::pin(async move {
            if refused {
                let e = AppError::permission_denied(
                    "SERVICE_ONLY",
                    "this method is only for Stride's own services",
                );
                return Ok(Status::from(e).into_http());
            }
            if requirement == Requirement::Authenticated {
                let header = req
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                let caller = match verifier.caller(header).await {
                    Ok(c) => c,
                    Err(e) => return Ok(Status::from(AppError::from(e)).into_http()),
                };
                if !role.is_empty() && !caller.roles.contains(&role) {
                    let e = AppError::PermissionDenied {
                        reason: "ROLE_REQUIRED",
                        message: format!("this method needs the {role} role"),
                    };
                    return Ok(Status::from(e).into_http());
                }
                record_caller(&caller);
                req.extensions_mut().insert(caller);
            } else if let Some(header) = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
            {
                // A public method may still act on a caller who is signed in (e.g. sending a
                // re-authentication code); a token that does not verify simply counts as none.
                if let Ok(caller) = verifier.caller(Some(header)).await {
                    record_caller(&caller);
                    req.extensions_mut().insert(caller);
                }
            }
            inner.call(req).await
        })
    }
}

/// Puts the verified caller on the request span (declared by `telemetry::server_span`), once,
/// for every method: handlers never record it themselves.
fn record_caller(caller: &Caller) {
    tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
}

#[cfg(test)]
mod client_network_tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_their_64_and_ipv4_clients_their_address() {
        let net = |s: &str| client_network(s.parse().unwrap()).to_string();
        assert_eq!(net("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(net("2001:db8:1:2::1"), net("2001:db8:1:2:ffff::9"));
        assert_ne!(net("2001:db8:1:2::1"), net("2001:db8:1:3::1"));
        assert_eq!(net("198.51.100.7"), "198.51.100.7");
        assert_eq!(net("::ffff:198.51.100.7"), "198.51.100.7");
        let info = ClientInfo {
            ip: Some("2001:db8::5".parse().unwrap()),
            user_agent: None,
        };
        assert_eq!(info.network(), Some("2001:db8::".parse().unwrap()));
        assert_eq!(ClientInfo::default().network(), None);
    }
}
