//! Byte-level routing: the gRPC path `/<package>.<Service>/<Method>` names the proto package, the
//! package names the upstream (every service of a package lives in one Stride service). Frames are
//! forwarded untouched.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::body::Body as AxumBody;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use tonic::{Code, Status, transport::Channel};

/// Limits applied to every call.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request the gateway accepts (all frames of a call).
    pub max_message_bytes: usize,
    /// Calls without a `grpc-timeout`, or with a longer one, get this deadline.
    pub max_timeout: Duration,
}

/// Forwards calls to the upstream of their proto package.
#[derive(Clone)]
pub struct Proxy {
    /// Proto package → its connections.
    upstreams: HashMap<String, Upstream>,
    limits: Limits,
}

/// Several HTTP/2 connections to one upstream, taken in turn. One connection is one task at
/// each end reading and writing every frame of every call; with a few, the upstream's
/// connection work spreads over its cores instead of queueing behind one task.
#[derive(Clone)]
struct Upstream {
    channels: Arc<[Channel]>,
    next: Arc<AtomicUsize>,
}

impl Upstream {
    fn channel(&self) -> Option<Channel> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.channels.get(i % self.channels.len().max(1)).cloned()
    }
}

impl Proxy {
    /// `urls`: proto package (`stride.profile.v1`) → upstream base URL; `connections` per
    /// upstream (at least one).
    pub fn new(
        urls: &HashMap<String, String>,
        limits: Limits,
        connections: usize,
    ) -> anyhow::Result<Self> {
        let mut upstreams = HashMap::new();
        for (package, url) in urls {
            anyhow::ensure!(
                is_package(package),
                "upstream key {package:?} is not a proto package such as stride.profile.v1"
            );
            let channels = (0..connections.max(1))
                .map(|_| stride_kit::grpc::lazy_channel(url))
                .collect::<anyhow::Result<Vec<_>>>()?;
            upstreams.insert(
                package.clone(),
                Upstream {
                    channels: channels.into(),
                    next: Arc::new(AtomicUsize::new(0)),
                },
            );
        }
        Ok(Self { upstreams, limits })
    }
}

/// A proto package name: dot-separated lower-case identifiers (a full service name such as
/// `stride.profile.v1.ProfileService` is refused, so a stale configuration fails at start).
fn is_package(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// The service named by a gRPC path: `stride.profile.v1.ProfileService` for
/// `/stride.profile.v1.ProfileService/GetMyProfile`.
fn service_of(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("")
}

/// The upstream of the package of a fully-qualified service name: everything before its last
/// dot. `None` when the name has no package or nobody serves that package.
fn upstream_of<'a, T>(upstreams: &'a HashMap<String, T>, service: &str) -> Option<&'a T> {
    let (package, name) = service.rsplit_once('.')?;
    if name.is_empty() {
        return None;
    }
    upstreams.get(package)
}

fn status_response(status: Status) -> http::Response<AxumBody> {
    status.into_http::<AxumBody>()
}

/// Parses a `grpc-timeout` header value (`<digits><unit>`).
fn parse_timeout(v: &str) -> Option<Duration> {
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
];

impl tower::Service<http::Request<AxumBody>> for Proxy {
    type Response = http::Response<AxumBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<AxumBody>) -> Self::Future {
        let limits = self.limits;
        let service = service_of(req.uri().path()).to_owned();
        let upstream = upstream_of(&self.upstreams, &service).and_then(Upstream::channel);
        Box::pin(async move {
            let Some(mut channel) = upstream else {
                return Ok(status_response(Status::unimplemented(format!(
                    "unknown service {service:?}"
                ))));
            };
            let (mut parts, body) = req.into_parts();
            if parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|ct| !ct.starts_with("application/grpc"))
            {
                return Ok(status_response(Status::invalid_argument(
                    "content-type must be application/grpc",
                )));
            }
            // Size: refuse early on a declared length, and never buffer more than the limit.
            let declared = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            if declared.is_some_and(|n| n > limits.max_message_bytes) {
                return Ok(status_response(too_large(limits)));
            }
            let bytes = match http_body_util::Limited::new(body, limits.max_message_bytes)
                .collect()
                .await
            {
                Ok(c) => c.to_bytes(),
                Err(e)
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some() =>
                {
                    return Ok(status_response(too_large(limits)));
                }
                Err(_) => {
                    return Ok(status_response(Status::cancelled(
                        "request body was interrupted",
                    )));
                }
            };
            // Deadline: the caller's, capped; propagated upstream so the service stops too.
            let deadline = parts
                .headers
                .get("grpc-timeout")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_timeout)
                .map_or(limits.max_timeout, |d| d.min(limits.max_timeout));
            // Digits and a unit: always a valid header value.
            if let Ok(v) = format!("{}m", deadline.as_millis().max(1)).parse() {
                parts.headers.insert("grpc-timeout", v);
            }
            for h in HOP_BY_HOP {
                parts.headers.remove(*h);
            }
            // The client's address, for per-address throttling upstream. Whatever the caller sent
            // under this name is dropped: only the gateway's own view of the peer counts.
            parts.headers.remove(stride_kit::authn::CLIENT_IP_HEADER);
            if let Some(ip) = peer_ip(&parts.extensions)
                .and_then(|ip| http::HeaderValue::from_str(&ip.to_string()).ok())
            {
                parts
                    .headers
                    .insert(stride_kit::authn::CLIENT_IP_HEADER, ip);
            }
            stride_kit::telemetry::inject_headers(&mut parts.headers);
            let upstream_req = http::Request::from_parts(
                parts,
                tonic::body::Body::new(http_body_util::Full::new(bytes)),
            );
            let call = async move {
                use tower::ServiceExt;
                channel.ready().await?.call(upstream_req).await
            };
            match tokio::time::timeout(deadline, call).await {
                Ok(Ok(res)) => Ok(res.map(AxumBody::new)),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, %service, "upstream unavailable");
                    Ok(status_response(Status::unavailable(format!(
                        "{service} is unavailable"
                    ))))
                }
                Err(_) => Ok(status_response(Status::new(
                    Code::DeadlineExceeded,
                    "deadline exceeded at the gateway",
                ))),
            }
        })
    }
}

/// The address of the TCP peer the gateway accepted the call from.
pub(crate) fn peer_ip(extensions: &http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|c| c.remote_addr())
        .map(|a| a.ip())
}

fn too_large(limits: Limits) -> Status {
    Status::resource_exhausted(format!(
        "request larger than {} bytes",
        limits.max_message_bytes
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("123456789S"), None);
        assert_eq!(parse_timeout("S"), None);
        assert_eq!(parse_timeout("10x"), None);
    }

    #[test]
    fn every_service_of_a_package_routes_to_that_packages_upstream() {
        let upstreams: HashMap<String, &str> = crate::UPSTREAMS
            .iter()
            .map(|(package, var)| ((*package).to_owned(), *var))
            .collect();
        let route = |path: &str| upstream_of(&upstreams, service_of(path)).copied();
        // Two services of one package: one upstream.
        assert_eq!(
            route("/stride.activity_session.v1.CatalogService/ListActivities"),
            Some("STRIDE_ACTIVITY_SESSION_URL")
        );
        assert_eq!(
            route("/stride.activity_session.v1.SessionsService/CompleteSession"),
            Some("STRIDE_ACTIVITY_SESSION_URL")
        );
        assert_eq!(
            route("/stride.auth.v1.AuthService/Login"),
            Some("STRIDE_AUTH_URL")
        );
        // Every Stride service in the descriptor set has an upstream.
        let policies = stride_kit::policy::Policies::load().unwrap();
        for service in policies.services() {
            assert!(
                upstream_of(&upstreams, service).is_some(),
                "{service} has no upstream"
            );
        }
        // Unknown packages, a package without a service, a sub-package: no upstream.
        for path in [
            "/stride.nope.v1.NopeService/Get",
            "/stride.auth.v1/Login",
            "/stride.auth.v1./Login",
            "/stride.auth.v1.internal.KeysService/Get",
            "/stride.auth.AuthService/Login",
            "/grpc.health.v1.Health/Check",
            "/",
            "",
        ] {
            assert_eq!(route(path), None, "{path}");
        }
    }

    #[test]
    fn upstream_keys_must_be_packages() {
        assert!(is_package("stride.activity_session.v1"));
        assert!(!is_package("stride.profile.v1.ProfileService"));
        assert!(!is_package("stride..v1"));
        assert!(!is_package(""));
        let limits = Limits {
            max_message_bytes: 1,
            max_timeout: Duration::from_secs(1),
        };
        let urls = HashMap::from([(
            "stride.profile.v1.ProfileService".to_owned(),
            "http://127.0.0.1:1".to_owned(),
        )]);
        assert!(Proxy::new(&urls, limits, 1).is_err());
    }
}
