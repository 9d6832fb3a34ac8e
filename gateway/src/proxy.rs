//! Byte-level routing: the gRPC path `/<package>.<Service>/<Method>` names the proto package, the
//! package names the upstream (every service of a package lives in one Stride service). Frames are
//! forwarded untouched.

use std::{
    collections::{BTreeSet, HashMap},
    convert::Infallible,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::body::Body as AxumBody;
use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use prometheus::IntCounter;
use stride_kit::{
    AppError,
    discovery::{self, Discovery, Taken},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{
    Code, Status,
    transport::{Channel, Endpoint, channel::Change},
};

use crate::conn::Guarded;

/// Limits applied to every call.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request the gateway accepts (all frames of a call).
    pub max_message_bytes: usize,
    /// Calls without a `grpc-timeout`, or with a longer one, get this deadline.
    pub max_timeout: Duration,
    /// The whole request body must arrive within this (or the call's deadline, if sooner);
    /// a slower body is refused with DEADLINE_EXCEEDED and its bytes freed
    /// (`STRIDE_GATEWAY_BODY_TIMEOUT_SECS`).
    pub body_timeout: Duration,
    /// Request bytes buffered at once over all calls in flight; a call whose body would go
    /// beyond it is refused with RESOURCE_EXHAUSTED (`STRIDE_GATEWAY_MAX_BUFFERED_BYTES`).
    pub max_buffered_bytes: usize,
    /// Calls in flight to one upstream at once; beyond it the gateway answers
    /// RESOURCE_EXHAUSTED at once instead of queueing (`STRIDE_GATEWAY_UPSTREAM_MAX_IN_FLIGHT`).
    pub upstream_max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 4 * 1024 * 1024,
            max_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
            max_buffered_bytes: 64 * 1024 * 1024,
            upstream_max_in_flight: 512,
        }
    }
}

/// Forwards calls to the upstream of their proto package.
#[derive(Clone)]
pub struct Proxy {
    /// Proto package → its connections.
    upstreams: HashMap<String, Upstream>,
    limits: Limits,
    /// Bytes of request bodies held, over all calls ([`Limits::max_buffered_bytes`] permits).
    buffered: Arc<Semaphore>,
    /// Hashes a call's client for the fair upstream slots.
    clients: std::hash::RandomState,
}

/// Several HTTP/2 connections to one upstream, taken in turn. One connection is one task at
/// each end reading and writing every frame of every call; with a few, the upstream's
/// connection work spreads over its cores instead of queueing behind one task.
#[derive(Clone)]
struct Upstream {
    /// Replicas of the service, each with its connections; calls go round the replicas, and
    /// round each replica's connections. `STRIDE_<SVC>_URL` may list several URLs,
    /// comma-separated, and each URL whose host is a DNS name is every address it resolves to,
    /// re-resolved as replicas come and go ([`stride_kit::discovery`]).
    replicas: Arc<ReplicaSet>,
    next: Arc<AtomicUsize>,
    /// One slot per call in flight ([`Limits::upstream_max_in_flight`]); the last eighth only
    /// for light clients, so a flood from others cannot lock a client out (ADR 0032).
    in_flight: Arc<stride_kit::shed::FairSlots>,
}

/// The replicas of one upstream as discovery last saw them. Each call takes a snapshot: a
/// replica removed meanwhile finishes the calls it holds.
#[derive(Default)]
struct ReplicaSet(RwLock<Arc<[Arc<Replica>]>>);

impl ReplicaSet {
    fn snapshot(&self) -> Arc<[Arc<Replica>]> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut Vec<Arc<Replica>>)) {
        let mut guard = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let mut list = guard.to_vec();
        f(&mut list);
        *guard = list.into();
    }
}

struct Replica {
    /// Which configured URL it comes from, and which of that URL's replicas it is.
    key: (usize, discovery::Replica),
    channels: Vec<Channel>,
    next: AtomicUsize,
    /// Calls this replica took ([`UPSTREAM_CALLS`]).
    calls: IntCounter,
    /// The label values of `calls`, to drop the series when the replica goes.
    labels: [String; 2],
}

impl Replica {
    fn new(
        package: &str,
        key: (usize, discovery::Replica),
        endpoint: &Endpoint,
        connections: usize,
    ) -> Self {
        let replica = match key.1 {
            discovery::Replica::Addr(addr) => addr.to_string(),
            discovery::Replica::Name => endpoint
                .uri()
                .authority()
                .map(ToString::to_string)
                .unwrap_or_default(),
        };
        let labels = [package.to_owned(), replica];
        Self {
            key,
            channels: (0..connections.max(1))
                .map(|_| endpoint.connect_lazy())
                .collect(),
            next: AtomicUsize::new(0),
            calls: UPSTREAM_CALLS.with_label_values(&labels),
            labels,
        }
    }

    fn channel(&self) -> Option<(Channel, IntCounter)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let channel = self.channels.get(i % self.channels.len().max(1)).cloned()?;
        Some((channel, self.calls.clone()))
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        // A replica gone for good (its pod left) leaves no series behind.
        let [package, replica] = &self.labels;
        let _ = UPSTREAM_CALLS.remove_label_values(&[package, replica]);
    }
}

static UPSTREAM_CALLS: std::sync::LazyLock<prometheus::IntCounterVec> =
    std::sync::LazyLock::new(|| {
        stride_kit::metrics::counter(
            "stride_gateway_upstream_calls_total",
            "Calls each upstream replica took (by proto package and replica address); a call \
             a replica provably never received and that went to the next one counts there",
            &["package", "replica"],
        )
    });

impl Upstream {
    /// The channels to try for one call: one per replica, starting with the next replica in
    /// turn. A call that provably never reached a replica (see [`unsent`]) goes to the next.
    fn channels(&self) -> Vec<(Channel, IntCounter)> {
        let replicas = self.replicas.snapshot();
        let n = replicas.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .filter_map(|k| replicas.get((first + k) % n.max(1))?.channel())
            .collect()
    }
}

/// Keeps `set` following the name of the `source`-th URL of an upstream: each address found
/// becomes a replica with `connections` connections; one gone is dropped. Ends when the
/// upstream is (the gateway stopped).
fn follow(
    package: String,
    set: &Arc<ReplicaSet>,
    source: usize,
    target: discovery::Target,
    discovery: Discovery,
    connections: usize,
) {
    let set = Arc::downgrade(set);
    let probe = set.clone();
    discovery::watch(
        target,
        discovery,
        BTreeSet::from([discovery::Replica::Name]),
        move || probe.strong_count() > 0,
        move |change| {
            let Some(set) = set.upgrade() else {
                return Taken::Stop;
            };
            match change {
                Change::Insert(replica, endpoint) => set.update(|list| {
                    list.push(Arc::new(Replica::new(
                        &package,
                        (source, replica),
                        &endpoint,
                        connections,
                    )));
                }),
                Change::Remove(replica) => {
                    set.update(|list| list.retain(|r| r.key != (source, replica)));
                }
            }
            Taken::Yes
        },
    );
}

impl Proxy {
    /// `urls`: proto package (`stride.profile.v1`) → upstream base URL; `connections` per
    /// upstream (at least one). Names are resolved by the OS (see [`Proxy::with_discovery`]).
    pub fn new(
        urls: &HashMap<String, String>,
        limits: Limits,
        connections: usize,
    ) -> anyhow::Result<Self> {
        Self::with_discovery(urls, limits, connections, Discovery::default())
    }

    /// [`Proxy::new`], resolving upstream names with `discovery` (tests inject a resolver).
    /// Must be called on a Tokio runtime.
    pub fn with_discovery(
        urls: &HashMap<String, String>,
        limits: Limits,
        connections: usize,
        discovery: Discovery,
    ) -> anyhow::Result<Self> {
        let mut upstreams = HashMap::new();
        for (package, url) in urls {
            anyhow::ensure!(
                is_package(package),
                "upstream key {package:?} is not a proto package such as stride.profile.v1"
            );
            let set = Arc::new(ReplicaSet::default());
            let mut watched = Vec::new();
            for (source, url) in replica_urls(url).enumerate() {
                // Until its name resolves, a URL is one replica reached by name.
                let endpoint = discovery::configure(Endpoint::from_shared(url.to_owned())?);
                let key = (source, discovery::Replica::Name);
                set.update(|list| {
                    list.push(Arc::new(Replica::new(package, key, &endpoint, connections)));
                });
                if let Some(target) = discovery::Target::parse(url)? {
                    watched.push((source, target));
                }
            }
            anyhow::ensure!(!set.snapshot().is_empty(), "no upstream URL for {package}");
            for (source, target) in watched {
                follow(
                    package.clone(),
                    &set,
                    source,
                    target,
                    discovery.clone(),
                    connections,
                );
            }
            upstreams.insert(
                package.clone(),
                Upstream {
                    replicas: set,
                    next: Arc::new(AtomicUsize::new(0)),
                    in_flight: stride_kit::shed::FairSlots::new(limits.upstream_max_in_flight),
                },
            );
        }
        anyhow::ensure!(
            limits.max_buffered_bytes >= limits.max_message_bytes,
            "the buffered-bytes budget ({}) must hold at least one largest message ({})",
            limits.max_buffered_bytes,
            limits.max_message_bytes
        );
        let buffered = Arc::new(Semaphore::new(
            limits.max_buffered_bytes.min(Semaphore::MAX_PERMITS),
        ));
        Ok(Self {
            upstreams,
            limits,
            buffered,
            clients: std::hash::RandomState::new(),
        })
    }

    /// The request-body budget, shared with the transcoder so a JSON or Connect body counts
    /// against the same bytes as a gRPC one.
    pub(crate) fn body_budget(&self) -> Arc<Semaphore> {
        self.buffered.clone()
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
        let buffered = self.buffered.clone();
        let client = stride_kit::shed::client_key(
            &self.clients,
            req.headers(),
            crate::conn::client_ip(req.extensions()),
        );
        let service = service_of(req.uri().path()).to_owned();
        let upstream = upstream_of(&self.upstreams, &service)
            .map(|u| (u.channels(), u.in_flight.clone()))
            .filter(|(c, _)| !c.is_empty());
        Box::pin(async move {
            let started = tokio::time::Instant::now();
            let Some((channels, in_flight)) = upstream else {
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
            // Deadline: the caller's, capped; propagated upstream so the service stops too.
            let deadline = parts
                .headers
                .get("grpc-timeout")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_timeout)
                .map_or(limits.max_timeout, |d| d.min(limits.max_timeout));
            // The body must arrive in time: a client trickling it holds memory only that long.
            let body_deadline = deadline.min(limits.body_timeout);
            let (bytes, held) = match tokio::time::timeout(
                body_deadline,
                read_body(body, limits.max_message_bytes, &buffered),
            )
            .await
            {
                Ok(Ok(read)) => read,
                Ok(Err(status)) => return Ok(status_response(status)),
                Err(_) => {
                    return Ok(status_response(Status::deadline_exceeded(format!(
                        "request body not received within {} ms",
                        body_deadline.as_millis()
                    ))));
                }
            };
            // A slow upstream gets a bounded number of calls; the rest are refused at once
            // instead of piling up here.
            let Some(slot) = in_flight.try_acquire(client) else {
                return Ok(status_response(
                    AppError::ResourceExhausted {
                        reason: "UPSTREAM_BUSY",
                        message: format!("{service} is at capacity; retry shortly"),
                    }
                    .into(),
                ));
            };
            let remaining = deadline.saturating_sub(started.elapsed());
            // Digits and a unit: always a valid header value.
            if let Ok(v) = format!("{}m", remaining.as_millis().max(1)).parse() {
                parts.headers.insert("grpc-timeout", v);
            }
            for h in HOP_BY_HOP {
                parts.headers.remove(*h);
            }
            // The client's address, for per-address throttling upstream. Whatever the caller sent
            // under this name is dropped: only the gateway's own view of the client counts.
            parts.headers.remove(stride_kit::authn::CLIENT_IP_HEADER);
            if let Some(ip) = crate::conn::client_ip(&parts.extensions)
                .and_then(|ip| http::HeaderValue::from_str(&ip.to_string()).ok())
            {
                parts
                    .headers
                    .insert(stride_kit::authn::CLIENT_IP_HEADER, ip);
            }
            stride_kit::telemetry::inject_headers(&mut parts.headers);
            let call = {
                let service = service.clone();
                async move {
                    use tower::ServiceExt;
                    let last = channels.len().saturating_sub(1);
                    let mut parts = Some(parts);
                    let mut result = None;
                    for (k, (mut channel, calls)) in channels.into_iter().enumerate() {
                        // The last try takes the original parts; earlier ones a copy (the
                        // buffered body is shared, not copied).
                        let req_parts = match (k == last, parts.take()) {
                            (true, Some(p)) => p,
                            (_, Some(p)) => {
                                let copy = copy_parts(&p);
                                parts = Some(p);
                                copy
                            }
                            (_, None) => break,
                        };
                        let req = http::Request::from_parts(
                            req_parts,
                            tonic::body::Body::new(http_body_util::Full::new(bytes.clone())),
                        );
                        let answer: Result<_, BoxError> = match channel.ready().await {
                            Ok(ready) => ready.call(req).await.map_err(Into::into),
                            Err(e) => Err(e.into()),
                        };
                        match answer {
                            Err(e) if k < last && unsent(e.as_ref()) => {
                                tracing::debug!(error = %e, %service, "replica unreachable; trying the next");
                            }
                            other => {
                                calls.inc();
                                result = Some(other);
                                break;
                            }
                        }
                    }
                    result.unwrap_or_else(|| Err("no replica to call".into()))
                }
            };
            let answer = tokio::time::timeout(remaining, call).await;
            // The request's bytes have gone upstream.
            drop(held);
            match answer {
                // The upstream's slot is held until its answer has been passed on whole.
                Ok(Ok(res)) => Ok(res.map(|b| AxumBody::new(Guarded::new(b, slot)))),
                // The channel enforces the `grpc-timeout` it forwards, and may do so a moment
                // before the timer here: the call's deadline passed, the upstream is fine.
                Ok(Err(e)) if timed_out(e.as_ref()) => Ok(status_response(Status::new(
                    Code::DeadlineExceeded,
                    "deadline exceeded at the gateway",
                ))),
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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The replica URLs of one upstream setting: comma-separated, blanks ignored.
pub(crate) fn replica_urls(setting: &str) -> impl Iterator<Item = &str> {
    setting.split(',').map(str::trim).filter(|u| !u.is_empty())
}

/// A copy of a request head for another try (extensions are the gateway's own; the upstream
/// needs none of them).
fn copy_parts(p: &http::request::Parts) -> http::request::Parts {
    let mut req = http::Request::new(());
    *req.method_mut() = p.method.clone();
    *req.uri_mut() = p.uri.clone();
    *req.version_mut() = p.version;
    *req.headers_mut() = p.headers.clone();
    req.into_parts().0
}

/// Whether a failed call provably never reached the replica, so another replica may serve it
/// without the risk of doing it twice: the connection was refused (the replica is gone), the
/// request was cancelled before it was sent (its connection closed first), or the replica
/// refused the stream or announced it was going away before taking it (HTTP/2 REFUSED_STREAM
/// or GOAWAY: a replica draining for a restart). Anything else may have been processed.
fn unsent(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled)
        {
            return true;
        }
        if let Some(h2) = err.downcast_ref::<h2::Error>()
            && (h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (h2.is_go_away() && h2.is_remote()))
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Whether a failed call ran out of its deadline in the channel (tonic's `TimeoutExpired`).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<tonic::TimeoutExpired>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Reads a whole request body of at most `max` bytes, taking a permit from `budget` for each
/// byte held; refuses at once when the budget is spent. The permits go back when the returned
/// permit is dropped (on refusal or cancellation, right away).
pub(crate) async fn read_body(
    mut body: AxumBody,
    max: usize,
    budget: &Arc<Semaphore>,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), Status> {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut len = 0usize;
    let mut held: Option<OwnedSemaphorePermit> = None;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(Status::cancelled("request body was interrupted"));
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        len = len.saturating_add(data.len());
        if len > max {
            return Err(Status::resource_exhausted(format!(
                "request larger than {max} bytes"
            )));
        }
        let permit = u32::try_from(data.len())
            .ok()
            .and_then(|n| budget.clone().try_acquire_many_owned(n).ok())
            .ok_or_else(|| -> Status {
                BUSY.with_label_values::<&str>(&[]).inc();
                AppError::ResourceExhausted {
                    reason: "GATEWAY_BUSY",
                    message: "the gateway is holding too many request bodies; retry shortly".into(),
                }
                .into()
            })?;
        match &mut held {
            Some(h) => h.merge(permit),
            None => held = Some(permit),
        }
        chunks.push(data);
    }
    let bytes = match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().unwrap_or_default(),
        _ => {
            let mut all = bytes::BytesMut::with_capacity(len);
            for c in &chunks {
                all.extend_from_slice(c);
            }
            all.freeze()
        }
    };
    Ok((bytes, held))
}

static BUSY: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    stride_kit::metrics::counter(
        "stride_gateway_body_budget_refused_total",
        "Calls refused because the gateway's request-body budget was spent",
        &[],
    )
});

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
    fn only_calls_that_never_reached_a_replica_count_as_unsent() {
        #[derive(Debug)]
        struct Wrap(Box<dyn std::error::Error + Send + Sync>);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("transport error")
            }
        }
        impl std::error::Error for Wrap {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(self.0.as_ref())
            }
        }
        let io = |kind| Wrap(Box::new(std::io::Error::from(kind)));
        assert!(unsent(&io(std::io::ErrorKind::ConnectionRefused)));
        // A reset or a broken pipe may come after the replica did the work.
        assert!(!unsent(&io(std::io::ErrorKind::ConnectionReset)));
        assert!(!unsent(&io(std::io::ErrorKind::BrokenPipe)));
        assert!(unsent(&Wrap(Box::new(h2::Error::from(
            h2::Reason::REFUSED_STREAM
        )))));
        assert!(!unsent(&Wrap(Box::new(h2::Error::from(
            h2::Reason::INTERNAL_ERROR
        )))));
        assert!(!unsent(&Wrap("deadline".into())));
    }

    #[test]
    fn replica_lists_are_comma_separated() {
        let urls: Vec<&str> = replica_urls(" http://a:1, http://b:2 ,,").collect();
        assert_eq!(urls, ["http://a:1", "http://b:2"]);
        assert_eq!(replica_urls("http://a:1").count(), 1);
    }

    #[tokio::test]
    async fn an_upstream_name_becomes_its_addresses_and_follows_them() {
        use std::{collections::BTreeSet, net::SocketAddr};
        use stride_kit::discovery::{Replica as R, Resolver};
        let (a, b): (SocketAddr, SocketAddr) = (
            "10.0.0.1:50052".parse().unwrap(),
            "10.0.0.2:50052".parse().unwrap(),
        );
        let answer = Arc::new(std::sync::Mutex::new(vec![a, b]));
        let served = answer.clone();
        let discovery = Discovery {
            resolver: Resolver::from_fn(move |host, _| {
                let v = if host == "profile-headless" {
                    served.lock().unwrap().clone()
                } else {
                    Vec::new()
                };
                Box::pin(async move { v })
            }),
            refresh: Some(Duration::from_millis(10)),
        };
        // A name and an IP literal in one setting: the literal stays as it is.
        let urls = HashMap::from([(
            "stride.profile.v1".to_owned(),
            "http://profile-headless:50052,http://127.0.0.1:9".to_owned(),
        )]);
        let proxy = Proxy::with_discovery(&urls, Limits::default(), 2, discovery).unwrap();
        let upstream = proxy.upstreams.get("stride.profile.v1").unwrap().clone();
        let keys = || -> BTreeSet<(usize, R)> {
            upstream.replicas.snapshot().iter().map(|r| r.key).collect()
        };
        let until = |want: BTreeSet<(usize, R)>| {
            let keys = &keys;
            async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                while keys() != want {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "{:?} != {want:?}",
                        keys()
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        };
        until(BTreeSet::from([
            (0, R::Addr(a)),
            (0, R::Addr(b)),
            (1, R::Name),
        ]))
        .await;
        // Each replica has its connections; a call tries each replica once.
        assert_eq!(upstream.channels().len(), 3);
        answer.lock().unwrap().retain(|x| *x == b);
        until(BTreeSet::from([(0, R::Addr(b)), (1, R::Name)])).await;
        // No answer: the last known replicas stay.
        answer.lock().unwrap().clear();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(keys(), BTreeSet::from([(0, R::Addr(b)), (1, R::Name)]));
    }

    #[test]
    fn upstream_keys_must_be_packages() {
        assert!(is_package("stride.activity_session.v1"));
        assert!(!is_package("stride.profile.v1.ProfileService"));
        assert!(!is_package("stride..v1"));
        assert!(!is_package(""));
        let limits = Limits::default();
        let urls = HashMap::from([(
            "stride.profile.v1.ProfileService".to_owned(),
            "http://127.0.0.1:1".to_owned(),
        )]);
        assert!(Proxy::new(&urls, limits, 1).is_err());
    }
}
