//! The Stride gateway: one port serving native gRPC (HTTP/2), grpc-web (HTTP/1.1, binary and
//! text), the Connect protocol and JSON over HTTP (the protos' `google.api.http` routes) to
//! browsers and mobile apps, plus the OpenAPI document (`/openapi.json`) and docs page (`/docs`).
//!
//! Connections are limited in number and closed when idle ([`ConnLimits`]). Every call passes, in
//! order: client address (the TCP peer, or behind a trusted proxy the address it reports;
//! [`TrustedProxies`]) → CORS → transcoding (JSON/HTTP and Connect become gRPC calls here and the
//! answer is turned back on the way out; [`transcode`]) → grpc-web translation → metrics (by
//! method; a path that names no known method counts as `/unknown`) → per-client rate limit by the
//! method's class → method policy (tokens checked before any upstream call) → limits (deadline
//! clamp, message size, body read deadline, buffered-bytes budget, calls in flight per upstream)
//! → a byte-level proxy that forwards the gRPC frames unchanged (no decode, no re-encode) to
//! the upstream of the method's proto package.

// A panic on a caller's input is a broken call: the edge handles every case instead.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod client_addr;
mod conn;
mod cors;
mod proxy;
mod proxy_protocol;
mod ratelimit;
pub mod transcode;

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use stride_kit::{
    Verifier,
    authn::AuthnLayer,
    config::{ConfigError, Env},
    metrics::MetricsLayer,
    policy::Policies,
    serve::{Command, Health, Running},
};
use tokio::net::TcpListener;

pub use client_addr::{ForwardedHeader, TrustedProxies};
pub use conn::ConnLimits;
pub use cors::CorsOrigins;
pub use proxy::{Limits, Proxy};
pub use ratelimit::{DEFAULT_RATE_LIMITS, Rate, RateLimits};

/// Upstream URL variable for each Stride proto package. Every gRPC service of a package is served
/// by the same upstream, so a service added to an existing package needs no gateway change.
pub const UPSTREAMS: &[(&str, &str)] = &[
    (AUTH_PACKAGE, "STRIDE_AUTH_URL"),
    ("stride.profile.v1", "STRIDE_PROFILE_URL"),
    ("stride.activity_session.v1", "STRIDE_ACTIVITY_SESSION_URL"),
    ("stride.challenge.v1", "STRIDE_CHALLENGE_URL"),
    ("stride.analytics.v1", "STRIDE_ANALYTICS_URL"),
    ("stride.ai_coach.v1", "STRIDE_AI_COACH_URL"),
];

/// The package whose upstream also serves the JWKS the gateway verifies tokens with.
const AUTH_PACKAGE: &str = "stride.auth.v1";

#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// Proto package (`stride.profile.v1`) → upstream base URL; see [`UPSTREAMS`].
    pub upstreams: HashMap<String, String>,
    pub limits: Limits,
    /// HTTP/2 connections to each upstream (`STRIDE_GATEWAY_UPSTREAM_CONNECTIONS`, default 2).
    pub upstream_connections: usize,
    /// Browser origins allowed to call cross-origin (`STRIDE_CORS_ORIGINS`); none by default.
    pub cors_origins: CorsOrigins,
    /// Per-client limits by the methods' rate-limit class.
    pub rate_limits: RateLimits,
    /// Proxies whose forwarding header names the client (`STRIDE_TRUSTED_PROXIES`,
    /// `STRIDE_FORWARDED_HEADER`); none by default.
    pub trusted_proxies: TrustedProxies,
    /// Client connections: how many, how long idle, HTTP/2 settings.
    pub connections: ConnLimits,
    /// How upstream names become replicas: the resolver (the OS's; tests inject one) and the
    /// time between resolutions (`STRIDE_DNS_REFRESH_SECS`, default 5).
    pub discovery: stride_kit::discovery::Discovery,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::new())
    }

    /// The configuration from `env`; every problem is listed at once.
    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        let addr = env.addr("STRIDE_GATEWAY_ADDR", "127.0.0.1:8080");
        let http_addr = env.addr("STRIDE_HTTP_ADDR", "127.0.0.1:0");
        let mut upstreams = HashMap::new();
        for (package, var) in UPSTREAMS {
            // One URL per replica, comma-separated (calls go round them; see proxy.rs).
            let urls = env.url(var, &["http", "https"], &format!("upstream for {package}"));
            for url in proxy::replica_urls(&urls) {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    env.error(format!("{var}: replica {url:?} must be an http/https URL"));
                }
            }
            upstreams.insert((*package).to_owned(), urls);
        }
        let d = Limits::default();
        let limits = Limits {
            max_message_bytes: env
                .parse_or("STRIDE_GATEWAY_MAX_MESSAGE_BYTES", d.max_message_bytes),
            max_timeout: Duration::from_secs(
                env.parse_or("STRIDE_GATEWAY_MAX_TIMEOUT_SECS", d.max_timeout.as_secs()),
            ),
            body_timeout: Duration::from_secs(
                env.parse_or("STRIDE_GATEWAY_BODY_TIMEOUT_SECS", d.body_timeout.as_secs()),
            ),
            max_buffered_bytes: env
                .parse_or("STRIDE_GATEWAY_MAX_BUFFERED_BYTES", d.max_buffered_bytes),
            upstream_max_in_flight: env.parse_or(
                "STRIDE_GATEWAY_UPSTREAM_MAX_IN_FLIGHT",
                d.upstream_max_in_flight,
            ),
        };
        if limits.max_buffered_bytes < limits.max_message_bytes {
            env.error(
                "STRIDE_GATEWAY_MAX_BUFFERED_BYTES must be at least STRIDE_GATEWAY_MAX_MESSAGE_BYTES",
            );
        }
        if limits.body_timeout.is_zero() || limits.upstream_max_in_flight == 0 {
            env.error(
                "STRIDE_GATEWAY_BODY_TIMEOUT_SECS and STRIDE_GATEWAY_UPSTREAM_MAX_IN_FLIGHT must be above 0",
            );
        }
        let c = ConnLimits::default();
        let connections = ConnLimits {
            max_connections: env.parse_or("STRIDE_GATEWAY_MAX_CONNECTIONS", c.max_connections),
            idle_timeout: Duration::from_secs(
                env.parse_or("STRIDE_GATEWAY_IDLE_TIMEOUT_SECS", c.idle_timeout.as_secs()),
            ),
            max_concurrent_streams: env.parse_or(
                "STRIDE_GATEWAY_MAX_CONCURRENT_STREAMS",
                c.max_concurrent_streams,
            ),
            keepalive_interval: Duration::from_secs(env.parse_or(
                "STRIDE_GATEWAY_KEEPALIVE_SECS",
                c.keepalive_interval.as_secs(),
            )),
            keepalive_timeout: c.keepalive_timeout,
        };
        if connections.max_connections == 0
            || connections.idle_timeout.is_zero()
            || connections.max_concurrent_streams == 0
            || connections.keepalive_interval.is_zero()
        {
            env.error(
                "STRIDE_GATEWAY_MAX_CONNECTIONS, _IDLE_TIMEOUT_SECS, _MAX_CONCURRENT_STREAMS and _KEEPALIVE_SECS must be above 0",
            );
        }
        let upstream_connections = env.parse_or("STRIDE_GATEWAY_UPSTREAM_CONNECTIONS", 2usize);
        let cors_origins =
            CorsOrigins::parse(&env.optional("STRIDE_CORS_ORIGINS").unwrap_or_default())
                .unwrap_or_else(|e| {
                    env.error(format!("STRIDE_CORS_ORIGINS: {e}"));
                    CorsOrigins::none()
                });
        let header = env
            .optional("STRIDE_FORWARDED_HEADER")
            .map(|h| h.parse::<ForwardedHeader>())
            .transpose()
            .unwrap_or_else(|e| {
                env.error(format!("STRIDE_FORWARDED_HEADER: {e}"));
                None
            })
            .unwrap_or_default();
        let proxy_protocol = env.parse_or("STRIDE_PROXY_PROTOCOL", false);
        let trusted_proxies = TrustedProxies::parse(
            &env.optional("STRIDE_TRUSTED_PROXIES").unwrap_or_default(),
            header,
        )
        .unwrap_or_else(|e| {
            env.error(format!("STRIDE_TRUSTED_PROXIES: {e}"));
            TrustedProxies::none()
        })
        .with_proxy_protocol(proxy_protocol);
        let raw = env
            .optional("STRIDE_GATEWAY_RATE_LIMITS")
            .unwrap_or_else(|| DEFAULT_RATE_LIMITS.to_owned());
        let rate_limits = RateLimits::parse(&raw).unwrap_or_else(|e| {
            env.error(format!("STRIDE_GATEWAY_RATE_LIMITS: {e}"));
            RateLimits::off()
        });
        let discovery = stride_kit::discovery::Discovery {
            refresh: Some(stride_kit::config::dns_refresh(&mut env)),
            ..Default::default()
        };
        env.finish()?;
        Ok(Self {
            addr,
            http_addr,
            upstreams,
            limits,
            upstream_connections,
            cors_origins,
            rate_limits,
            trusted_proxies,
            connections,
            discovery,
        })
    }
}

/// Starts the gateway; returns once both ports listen.
pub async fn start(cfg: Config, verifier: Arc<Verifier>) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(cfg.addr)
        .await
        .with_context(|| format!("binding {}", cfg.addr))?;
    let http = TcpListener::bind(cfg.http_addr)
        .await
        .with_context(|| format!("binding {}", cfg.http_addr))?;
    let (addr, http_addr) = (listener.local_addr()?, http.local_addr()?);

    let policies = Arc::new(Policies::load()?);
    let proxy = Proxy::with_discovery(
        &cfg.upstreams,
        cfg.limits,
        cfg.upstream_connections,
        cfg.discovery.clone(),
    )?;
    // JSON/HTTP routes, Connect and the OpenAPI document, from the descriptor set.
    let transcoder =
        Arc::new(transcode::Transcoder::new(cfg.limits)?.sharing_budget(proxy.body_budget()));
    let auth_url = first_replica(&cfg)?;
    let (health, health_service) = Health::new(vec![]).await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(stride_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("reflection")?;
    // Health and reflection answer here; every Stride path falls through to the proxy.
    let router = axum::Router::new().fallback_service(proxy);
    let routes = tonic::service::Routes::from(router)
        .add_service(health_service)
        .add_service(reflection);

    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut running = Running::new(addr, http_addr, health.clone(), shutdown.clone());
    let limiter = Arc::new(ratelimit::Limiter::new(&cfg.rate_limits));
    running.track(tokio::spawn(limiter.clone().sweep(shutdown.clone())));
    let token = shutdown.clone();
    let trusted = Arc::new(cfg.trusted_proxies);
    let (incoming, acceptor) =
        conn::incoming(listener, cfg.connections, trusted.clone(), shutdown.clone());
    running.track(acceptor);
    let conns = cfg.connections;
    running.track(tokio::spawn(async move {
        tonic::transport::Server::builder()
            .accept_http1(true)
            // Dead peers are found by PING; a client gets a bounded number of calls at once per
            // connection (hyper reads HTTP/1 request heads within its 30 s header timeout).
            .http2_keepalive_interval(Some(conns.keepalive_interval))
            .http2_keepalive_timeout(Some(conns.keepalive_timeout))
            .max_concurrent_streams(conns.max_concurrent_streams)
            .trace_fn(stride_kit::telemetry::server_span)
            .layer(conn::ClientLayer::new(trusted))
            .layer(cfg.cors_origins.layer())
            // JSON/HTTP and Connect become gRPC calls here and go down the same stack; before
            // grpc-web, which refuses HTTP/1.1 requests that are not grpc-web.
            .layer(transcode::TranscodeLayer::new(transcoder))
            .layer(tonic_web::GrpcWebLayer::new())
            // Counted as `/unknown` when the path names no method: a client cannot create
            // series at will.
            .layer(MetricsLayer::new(policies.clone()))
            .layer(stride_kit::panic::CatchPanicLayer)
            // Before the token check: a flood is turned away before any signature work.
            .layer(ratelimit::RateLimitLayer::new(limiter, policies.clone()))
            .layer(AuthnLayer::edge(verifier, policies))
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, token.cancelled_owned())
            .await
            .context("gateway server")
    }));

    let jwks_channel = stride_kit::grpc::lazy_channel(&auth_url)?;
    let extra = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || jwks(jwks_channel.clone())),
    );
    let token = shutdown.clone();
    let probe = health.clone();
    running.track(tokio::spawn(async move {
        stride_kit::serve::serve_http(http, probe, token, extra)
            .await
            .context("HTTP server")
    }));
    // The gateway holds no state: it is ready once it listens.
    health.set_ready(true).await;
    tracing::info!(%addr, %http_addr, docs = %format!("http://{addr}/docs"), "gateway listening (gRPC, grpc-web, Connect, JSON/HTTP)");
    Ok(running)
}

/// `GET /.well-known/jwks.json`: auth's public keys as an RFC 7517 document.
async fn jwks(channel: tonic::transport::Channel) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut client = stride_proto::auth::auth_service_client::AuthServiceClient::new(channel);
    match client.get_jwks(stride_proto::auth::GetJwksRequest {}).await {
        Ok(res) => {
            let keys: Vec<_> = res
                .into_inner()
                .keys
                .into_iter()
                .map(|k| {
                    serde_json_like(&[
                        ("kty", &k.kty),
                        ("crv", &k.crv),
                        ("x", &k.x),
                        ("kid", &k.kid),
                        ("alg", &k.alg),
                        ("use", &k.r#use),
                    ])
                })
                .collect();
            let body = format!("{{\"keys\":[{}]}}", keys.join(","));
            (
                [
                    (http::header::CONTENT_TYPE, "application/jwk-set+json"),
                    (http::header::CACHE_CONTROL, "max-age=300"),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "JWKS upstream failed");
            (http::StatusCode::SERVICE_UNAVAILABLE, "auth unavailable").into_response()
        }
    }
}

/// Key values are base64url or fixed identifiers; still escaped so the JSON is always valid.
fn serde_json_like(fields: &[(&str, &str)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "\"{k}\":\"{}\"",
                v.replace('\\', "\\\\").replace('"', "\\\"")
            )
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

pub async fn main(cmd: Command) -> anyhow::Result<()> {
    let cfg = Config::from_env()?;
    if cmd == Command::Migrate {
        tracing::info!("the gateway has no database; nothing to migrate");
        return Ok(());
    }
    if let Some(every) = cfg.discovery.refresh {
        stride_kit::discovery::set_refresh_interval(every);
    }
    let verifier = Verifier::from_auth_url(&first_replica(&cfg)?)?;
    start(cfg, verifier).await?.run_until_signal().await
}

/// Auth's first replica: where the gateway fetches the token keys from (any replica serves the
/// same key set from auth's database).
fn first_replica(cfg: &Config) -> anyhow::Result<String> {
    cfg.upstreams
        .get(AUTH_PACKAGE)
        .and_then(|u| proxy::replica_urls(u).next())
        .map(str::to_owned)
        .with_context(|| format!("no upstream for {AUTH_PACKAGE}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all: HashMap<String, String> = UPSTREAMS
            .iter()
            .map(|(_, var)| ((*var).to_owned(), "http://127.0.0.1:1".to_owned()))
            .collect();
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Config::read(Env::from_fn(move |k| all.get(k).cloned()))
    }

    #[test]
    fn by_default_no_origin_no_trusted_proxy_and_bounded_edges() {
        let cfg = read(&[]).unwrap();
        assert_eq!(cfg.cors_origins, CorsOrigins::none());
        assert_eq!(cfg.trusted_proxies, TrustedProxies::none());
        let peer: std::net::IpAddr = "10.0.0.5".parse().unwrap();
        assert!(!cfg.trusted_proxies.is_trusted(peer));
        assert!(!cfg.trusted_proxies.expects_proxy_header(peer));
        assert_eq!(cfg.connections.max_connections, 10_000);
        assert_eq!(cfg.limits.body_timeout, Duration::from_secs(10));
        assert!(cfg.limits.max_buffered_bytes >= cfg.limits.max_message_bytes);
    }

    #[test]
    fn edge_settings_are_read_and_checked() {
        let cfg = read(&[
            ("STRIDE_CORS_ORIGINS", "https://app.example.com"),
            ("STRIDE_TRUSTED_PROXIES", "10.0.0.0/8"),
            ("STRIDE_FORWARDED_HEADER", "forwarded"),
            ("STRIDE_PROXY_PROTOCOL", "true"),
            ("STRIDE_GATEWAY_MAX_CONNECTIONS", "50"),
        ])
        .unwrap();
        assert_eq!(
            cfg.cors_origins,
            CorsOrigins::parse("https://app.example.com").unwrap()
        );
        assert!(
            cfg.trusted_proxies
                .expects_proxy_header("10.1.2.3".parse().unwrap())
        );
        assert_eq!(cfg.connections.max_connections, 50);

        let err = read(&[
            ("STRIDE_CORS_ORIGINS", "*"),
            ("STRIDE_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("STRIDE_FORWARDED_HEADER", "x-real-ip"),
            ("STRIDE_GATEWAY_MAX_BUFFERED_BYTES", "10"),
            ("STRIDE_GATEWAY_MAX_CONNECTIONS", "0"),
        ])
        .unwrap_err()
        .to_string();
        for named in [
            "STRIDE_CORS_ORIGINS",
            "STRIDE_TRUSTED_PROXIES",
            "STRIDE_FORWARDED_HEADER",
            "STRIDE_GATEWAY_MAX_BUFFERED_BYTES",
            "STRIDE_GATEWAY_MAX_CONNECTIONS",
        ] {
            assert!(err.contains(named), "{named} not named in {err}");
        }
    }
}
