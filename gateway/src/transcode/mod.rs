//! JSON over HTTP and the Connect protocol, translated to gRPC at the edge.
//!
//! Everything here is derived at start from the descriptor set compiled into `stride-proto`:
//! the route table from each method's `google.api.http` rule ([`routes`]), the JSON mapping
//! from the message descriptors (prost-reflect's proto3 JSON), the OpenAPI document and the docs
//! page ([`openapi`]). Nothing is written twice, so nothing can drift.
//!
//! The transcoder sits in the gateway's tower stack right after CORS, in front of the grpc-web
//! layer: a JSON/HTTP or Connect request is turned into an ordinary gRPC request
//! (`POST /<package>.<Service>/<Method>`, `application/grpc`, one length-prefixed protobuf
//! message) and handed down the same stack as a native call — metrics, per-client rate limit,
//! method policy and token check, limits, byte-level proxy — so none of them is written twice and
//! all of them apply before any upstream call. The gRPC answer (or the refusal of a layer below)
//! comes back here and is turned into the caller's protocol. gRPC and grpc-web requests pass
//! through untouched: they stay a byte-level proxy.
//!
//! Server-streaming methods stream: over JSON/HTTP as newline-delimited JSON, one
//! `{"result": <message>}` per line and a last `{"error": <google.rpc.Status>}` line on failure
//! (grpc-gateway's shape); over Connect as its enveloped stream with the end-of-stream message.

pub mod connect;
pub mod json;
pub mod openapi;
pub mod routes;

use std::{
    collections::HashMap,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use prost_reflect::{DescriptorPool, MethodDescriptor};
use tonic::{Code, Status};

use crate::proxy::Limits;
use routes::{Lookup, Route, RouteTable, Template};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything the transcoder derives from the descriptor set at start.
pub struct Transcoder {
    pool: DescriptorPool,
    table: RouteTable,
    /// `/pkg.Service/Method` → descriptor, for every Stride method (Connect serves them all).
    methods: HashMap<String, MethodDescriptor>,
    limits: Limits,
    /// Request bytes held at once, shared with the proxy ([`Limits::max_buffered_bytes`]).
    budget: Arc<tokio::sync::Semaphore>,
    openapi: Bytes,
}

impl Transcoder {
    /// Builds the route table and documents from the compiled-in descriptor set; a rule that
    /// names a field the message lacks, or a malformed template, fails the start.
    pub fn new(limits: Limits) -> anyhow::Result<Self> {
        let mut pool = DescriptorPool::decode(stride_proto::FILE_DESCRIPTOR_SET)?;
        // google.rpc.* error details, so a Status's details render as JSON by their type.
        pool.decode_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)?;
        let ext = pool
            .get_extension_by_name("google.api.http")
            .ok_or_else(|| anyhow::anyhow!("descriptor set lacks google.api.http"))?;
        let policies =
            stride_kit::policy::Policies::from_descriptor_set(stride_proto::FILE_DESCRIPTOR_SET)?;
        let mut routes = Vec::new();
        let mut methods = HashMap::new();
        for svc in pool
            .services()
            .filter(|s| s.full_name().starts_with("stride."))
        {
            for m in svc.methods() {
                let grpc_path = format!("/{}/{}", svc.full_name(), m.name());
                methods.insert(grpc_path.clone(), m.clone());
                let opts = m.options();
                // Service-only methods get no public route (the edge refuses them anyway).
                if !opts.has_extension(&ext) || policies.service_only(&grpc_path) {
                    continue;
                }
                let Some(rule) = opts.get_extension(&ext).as_message().cloned() else {
                    continue;
                };
                let rule: stride_proto::google::api::HttpRule = rule.transcode_to()?;
                let mut rules = vec![rule.clone()];
                rules.extend(rule.additional_bindings.iter().cloned());
                for r in rules {
                    let route = route_of(&r, &grpc_path)?;
                    check_route(&route, &m)?;
                    routes.push(route);
                }
            }
        }
        let table = RouteTable::new(routes);
        let openapi = openapi::document(&table, &methods, &policies)?;
        Ok(Self {
            pool,
            table,
            methods,
            limits,
            budget: Arc::new(tokio::sync::Semaphore::new(
                limits
                    .max_buffered_bytes
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            openapi: Bytes::from(serde_json::to_vec(&openapi)?),
        })
    }

    /// Counts request bodies against `budget` (the proxy's) instead of a budget of its own.
    pub(crate) fn sharing_budget(mut self, budget: Arc<tokio::sync::Semaphore>) -> Self {
        self.budget = budget;
        self
    }

    pub fn routes(&self) -> &RouteTable {
        &self.table
    }

    pub fn openapi(&self) -> &Bytes {
        &self.openapi
    }
}

fn route_of(r: &stride_proto::google::api::HttpRule, grpc_path: &str) -> anyhow::Result<Route> {
    use stride_proto::google::api::http_rule::Pattern;
    let (method, path) = match &r.pattern {
        Some(Pattern::Get(p)) => (Method::GET, p.as_str()),
        Some(Pattern::Put(p)) => (Method::PUT, p.as_str()),
        Some(Pattern::Post(p)) => (Method::POST, p.as_str()),
        Some(Pattern::Delete(p)) => (Method::DELETE, p.as_str()),
        Some(Pattern::Patch(p)) => (Method::PATCH, p.as_str()),
        Some(Pattern::Custom(c)) => (Method::from_bytes(c.kind.as_bytes())?, c.path.as_str()),
        None => anyhow::bail!("{grpc_path}: http rule without a pattern"),
    };
    let template = Template::parse(path).map_err(|e| anyhow::anyhow!("{grpc_path}: {e}"))?;
    Ok(Route {
        method,
        template,
        grpc_path: grpc_path.to_owned(),
        body: r.body.clone(),
        response_body: r.response_body.clone(),
    })
}

/// Every field a rule names exists: path variables end on a singular scalar, `body` and
/// `response_body` are top-level fields.
fn check_route(route: &Route, m: &MethodDescriptor) -> anyhow::Result<()> {
    let name = &route.grpc_path;
    for v in &route.template.variables {
        let mut msg = m.input();
        let mut leaf = None;
        for (i, part) in v.field_path.iter().enumerate() {
            let f = msg
                .get_field_by_name(part)
                .ok_or_else(|| anyhow::anyhow!("{name}: no field {part:?} for a path variable"))?;
            if i + 1 < v.field_path.len() {
                match f.kind() {
                    prost_reflect::Kind::Message(next) if !f.is_list() => msg = next,
                    _ => anyhow::bail!("{name}: {part:?} is not a message field"),
                }
            } else {
                leaf = Some(f);
            }
        }
        if leaf.is_some_and(|f| f.is_list() || f.is_map()) {
            anyhow::bail!("{name}: a path variable binds a repeated field");
        }
    }
    if !matches!(route.body.as_str(), "" | "*")
        && m.input().get_field_by_name(&route.body).is_none()
    {
        anyhow::bail!("{name}: body names no field {:?}", route.body);
    }
    if !route.response_body.is_empty()
        && m.output().get_field_by_name(&route.response_body).is_none()
    {
        anyhow::bail!(
            "{name}: response_body names no field {:?}",
            route.response_body
        );
    }
    if m.is_client_streaming() {
        anyhow::bail!("{name}: client streaming cannot be transcoded from JSON/HTTP");
    }
    Ok(())
}

/// The tower layer; see the module docs for where it sits.
#[derive(Clone)]
pub struct TranscodeLayer {
    t: Arc<Transcoder>,
}

impl TranscodeLayer {
    pub fn new(t: Arc<Transcoder>) -> Self {
        Self { t }
    }
}

impl<S> tower::Layer<S> for TranscodeLayer {
    type Service = TranscodeService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TranscodeService {
            inner,
            t: self.t.clone(),
        }
    }
}

#[derive(Clone)]
pub struct TranscodeService<S> {
    inner: S,
    t: Arc<Transcoder>,
}

/// The rest of the stack, as the transcoder calls it.
pub(crate) trait Inner:
    tower::Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Future: Send + 'static,
        Error: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<T> Inner for T where
    T: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Future: Send + 'static,
            Error: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

impl<S, B> tower::Service<http::Request<B>> for TranscodeService<S>
where
    S: Inner,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let t = self.t.clone();
        if is_grpc(req.headers()) {
            // Native gRPC and grpc-web: untouched.
            return Box::pin(inner.call(req.map(tonic::body::Body::new)));
        }
        let path = req.uri().path().to_owned();
        let method = req.method().clone();
        if method == Method::GET || method == Method::HEAD {
            match path.as_str() {
                "/openapi.json" => {
                    let doc = t.openapi.clone();
                    return ready(document(doc, "application/json"));
                }
                "/docs" | "/docs/" => {
                    let page = Bytes::from_static(openapi::DOCS_PAGE.as_bytes());
                    return ready(document(page, "text/html; charset=utf-8"));
                }
                _ => {}
            }
        }
        if let Some(m) = t.methods.get(&path).cloned() {
            return Box::pin(connect::handle(t, inner, req, m));
        }
        match t.table.lookup(&method, &path) {
            Lookup::Found(route, vars) => {
                let route = route.clone();
                let vars: Vec<(Vec<String>, String)> =
                    vars.into_iter().map(|(f, v)| (f.to_vec(), v)).collect();
                Box::pin(json::handle(t, inner, req, route, vars))
            }
            Lookup::WrongMethod(allowed) => {
                let allow = allowed
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut res = json::error_response(
                    &t.pool,
                    StatusCode::METHOD_NOT_ALLOWED,
                    &Status::unimplemented(format!(
                        "{method} is not allowed on {path}; use {allow}"
                    )),
                );
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    res.headers_mut().insert(header::ALLOW, v);
                }
                ready(res)
            }
            Lookup::NotFound => ready(json::error_response(
                &t.pool,
                StatusCode::NOT_FOUND,
                &Status::not_found(format!("no route for {method} {path}")),
            )),
        }
    }
}

fn ready<E: Send + 'static>(
    res: http::Response<tonic::body::Body>,
) -> BoxFuture<'static, Result<http::Response<tonic::body::Body>, E>> {
    Box::pin(std::future::ready(Ok(res)))
}

fn document(body: Bytes, content_type: &'static str) -> http::Response<tonic::body::Body> {
    let mut res = http::Response::new(full(body));
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

pub(crate) fn full(b: Bytes) -> tonic::body::Body {
    tonic::body::Body::new(http_body_util::Full::new(b))
}

fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// The media type of a request, lower case, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// Reads a request body within the size limit and the body deadline, holding its bytes against
/// the gateway's body budget (the permit goes back when the returned guard is dropped, once the
/// message has been re-encoded for the upstream).
pub(crate) async fn read_body<B>(
    t: &Transcoder,
    headers: &HeaderMap,
    body: B,
) -> Result<(Bytes, Option<tokio::sync::OwnedSemaphorePermit>), Status>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let max = t.limits.max_message_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(Status::resource_exhausted(format!(
            "request larger than {max} bytes"
        )));
    }
    let body = axum::body::Body::new(body);
    match tokio::time::timeout(
        t.limits.body_timeout,
        crate::proxy::read_body(body, max, &t.budget),
    )
    .await
    {
        Ok(read) => read,
        Err(_) => Err(Status::deadline_exceeded(format!(
            "request body not received within {} ms",
            t.limits.body_timeout.as_millis()
        ))),
    }
}

/// Request headers that describe the caller's own encoding and are not passed upstream.
const NOT_FORWARDED: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "accept",
    "accept-encoding",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "te",
    "host",
    "x-server-timeout",
];

/// A gRPC request carrying one message, with the caller's head (extensions such as the client
/// address, `authorization`, `traceparent`, other metadata) so the layers below see the same
/// call a gRPC client would make.
pub(crate) fn grpc_request(
    mut parts: http::request::Parts,
    grpc_path: &str,
    message: &[u8],
    timeout: Option<Duration>,
) -> Result<http::Request<tonic::body::Body>, Status> {
    parts.uri = grpc_path
        .parse()
        .map_err(|_| Status::internal("bad method path"))?;
    parts.method = Method::POST;
    parts.version = http::Version::HTTP_2;
    let names: Vec<_> = parts.headers.keys().cloned().collect();
    for name in names {
        let n = name.as_str();
        if NOT_FORWARDED.contains(&n) || n.starts_with("grpc-") || n.starts_with("connect-") {
            parts.headers.remove(&name);
        }
    }
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    parts
        .headers
        .insert(header::TE, HeaderValue::from_static("trailers"));
    if let Some(t) = timeout
        && let Ok(v) = HeaderValue::from_str(&format!("{}m", t.as_millis().clamp(1, 99_999_999)))
    {
        parts.headers.insert("grpc-timeout", v);
    }
    Ok(http::Request::from_parts(parts, full(frame(0, message))))
}

/// A length-prefixed message: flags, 4-byte big-endian length, bytes (gRPC and Connect
/// envelopes share the shape).
pub(crate) fn frame(flags: u8, message: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + message.len());
    b.put_u8(flags);
    b.put_u32(u32::try_from(message.len()).unwrap_or(u32::MAX));
    b.extend_from_slice(message);
    b.freeze()
}

/// Splits length-prefixed messages out of a byte stream as it arrives.
#[derive(Default)]
pub(crate) struct Deframer {
    buf: BytesMut,
}

impl Deframer {
    pub(crate) fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole message `(flags, bytes)`, if one has arrived.
    pub(crate) fn next(&mut self) -> Option<(u8, Bytes)> {
        let head = self.buf.get(..5)?;
        let flags = *head.first()?;
        let len = u32::from_be_bytes([*head.get(1)?, *head.get(2)?, *head.get(3)?, *head.get(4)?]);
        let len = usize::try_from(len).ok()?;
        if self.buf.len() < 5 + len {
            return None;
        }
        self.buf.advance(5);
        Some((flags, self.buf.split_to(len).freeze()))
    }

    /// Bytes left over that do not make a whole message.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// A gRPC answer, read whole (unary methods).
pub(crate) struct Unary {
    /// Leading metadata.
    pub headers: HeaderMap,
    pub trailers: HeaderMap,
    pub result: Result<Bytes, Status>,
}

/// Calls the stack below and reads a unary answer: one message and an OK status, or the status.
pub(crate) async fn call_unary<S: Inner>(
    mut inner: S,
    req: http::Request<tonic::body::Body>,
    max_response: usize,
) -> Result<Unary, S::Error> {
    use tower::ServiceExt;
    let res = inner.ready().await?.call(req).await?;
    let (parts, body) = res.into_parts();
    // Trailers-only: the status is in the head (a refusal by the policy, limit or proxy layer).
    if let Some(status) = head_status(&parts) {
        return Ok(Unary {
            headers: parts.headers,
            trailers: HeaderMap::new(),
            result: status,
        });
    }
    let collected = http_body_util::Limited::new(body, max_response)
        .collect()
        .await;
    let (data, trailers) = match collected {
        Ok(c) => {
            let trailers = c.trailers().cloned().unwrap_or_default();
            (c.to_bytes(), trailers)
        }
        Err(e) => {
            tracing::warn!(error = %e, "upstream answer unreadable");
            return Ok(Unary {
                headers: parts.headers,
                trailers: HeaderMap::new(),
                result: Err(Status::unavailable("the upstream's answer was interrupted")),
            });
        }
    };
    let status = Status::from_header_map(&trailers)
        .unwrap_or_else(|| Status::unknown("the upstream's answer had no status"));
    let result = if status.code() == Code::Ok {
        let mut d = Deframer::default();
        d.push(&data);
        match d.next() {
            Some((0, msg)) => Ok(msg),
            Some(_) => Err(Status::internal("compressed answer from upstream")),
            None => Err(Status::internal("the upstream answered no message")),
        }
    } else {
        Err(status)
    };
    Ok(Unary {
        headers: parts.headers,
        trailers,
        result,
    })
}

/// The status of a trailers-only (or non-gRPC) answer head; `None` when a body follows.
pub(crate) fn head_status(parts: &http::response::Parts) -> Option<Result<Bytes, Status>> {
    if parts.status != StatusCode::OK {
        return Some(Err(Status::unavailable(format!(
            "upstream answered HTTP {}",
            parts.status.as_u16()
        ))));
    }
    let status = Status::from_header_map(&parts.headers)?;
    Some(match status.code() {
        Code::Ok => Err(Status::internal("the upstream answered no message")),
        _ => Err(status),
    })
}

/// The standard gRPC → HTTP status mapping (google/rpc/code.proto).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Metadata worth passing back to a caller: not the gRPC transport's own headers.
pub(crate) fn is_custom_metadata(name: &str) -> bool {
    !(name.starts_with("grpc-")
        || name.starts_with(':')
        || matches!(
            name,
            "content-type"
                | "content-length"
                | "te"
                | "trailer"
                | "date"
                | "transfer-encoding"
                | "connection"
        )
        || name.ends_with("-bin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_map_to_the_standard_http_statuses() {
        assert_eq!(http_status(Code::Ok), StatusCode::OK);
        assert_eq!(http_status(Code::InvalidArgument), StatusCode::BAD_REQUEST);
        assert_eq!(
            http_status(Code::FailedPrecondition),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(http_status(Code::OutOfRange), StatusCode::BAD_REQUEST);
        assert_eq!(http_status(Code::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(http_status(Code::PermissionDenied), StatusCode::FORBIDDEN);
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(http_status(Code::AlreadyExists), StatusCode::CONFLICT);
        assert_eq!(http_status(Code::Aborted), StatusCode::CONFLICT);
        assert_eq!(
            http_status(Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
        assert_eq!(
            http_status(Code::Unimplemented),
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(
            http_status(Code::Unavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            http_status(Code::DeadlineExceeded),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            http_status(Code::Internal),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            http_status(Code::DataLoss),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            http_status(Code::Unknown),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn frames_round_trip_across_chunk_boundaries() {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&frame(0, b"hello"));
        wire.extend_from_slice(&frame(2, b"{}"));
        wire.extend_from_slice(&frame(0, b""));
        let mut d = Deframer::default();
        let mut out = Vec::new();
        // One byte at a time: a message is only given out once whole.
        for b in wire.iter() {
            d.push(&[*b]);
            while let Some(m) = d.next() {
                out.push(m);
            }
        }
        assert_eq!(
            out,
            vec![
                (0, Bytes::from_static(b"hello")),
                (2, Bytes::from_static(b"{}")),
                (0, Bytes::new())
            ]
        );
        assert!(d.is_empty());
        d.push(&[0, 0, 0, 0, 9, 1]);
        assert_eq!(d.next(), None);
        assert!(!d.is_empty());
    }

    /// Routes of two methods that one request can match, accepted on purpose, the winner first:
    /// a literal beside a variable that holds an id (a UUID), which can never spell the literal.
    /// Seed 001's `/challenges/week` and `/challenges/leaders` are kept as they are.
    const ACCEPTED_OVERLAPS: &[(&str, &str)] = &[
        (
            "GET /api/v1/challenges/leaders",
            "GET /api/v1/challenges/{challenge_id}",
        ),
        (
            "GET /api/v1/challenges/week",
            "GET /api/v1/challenges/{challenge_id}",
        ),
        // The live session (seed 001's `/api/current-session`) beside GetSession by UUID.
        (
            "GET /api/v1/sessions/current",
            "GET /api/v1/sessions/{session_id}",
        ),
    ];

    #[test]
    fn the_route_table_has_no_ambiguity() {
        let t = Transcoder::new(Limits::default()).unwrap();
        let amb = t.routes().ambiguities();
        assert!(amb.is_empty(), "ambiguous routes: {amb:#?}");
        // Any other overlap between two methods' routes fails: resolve it with a clearer
        // resource name, or accept it here with its reason.
        let mut overlaps = t.routes().overlaps();
        overlaps.sort();
        let mut accepted: Vec<(String, String)> = ACCEPTED_OVERLAPS
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        accepted.sort();
        assert_eq!(
            overlaps, accepted,
            "routes of two methods can match one request"
        );
        // Every annotated Stride method has at least one route; additional bindings count too.
        let paths: Vec<&str> = t
            .routes()
            .routes()
            .iter()
            .map(|r| r.template.source.as_str())
            .collect();
        assert!(paths.contains(&"/api/v1/profile"));
        assert!(paths.contains(&"/api/v1/me"));
        let by_grpc = |g: &str| {
            t.routes()
                .routes()
                .iter()
                .filter(|r| r.grpc_path == g)
                .count()
        };
        // The rule and each of its additional bindings.
        assert!(by_grpc("/stride.profile.v1.ProfileService/UpdateMyProfile") >= 2);
        assert!(t.routes().routes().iter().any(|r| r.method == Method::PUT
            && r.template.source == "/api/v1/profile"
            && r.grpc_path == "/stride.profile.v1.ProfileService/UpdateMyProfile"));
    }

    #[test]
    fn literal_routes_beat_the_challenge_id_route() {
        let t = Transcoder::new(Limits::default()).unwrap();
        let grpc = |m: Method, p: &str| match t.routes().lookup(&m, p) {
            Lookup::Found(r, _) => r.grpc_path.clone(),
            _ => String::new(),
        };
        assert_eq!(
            grpc(Method::GET, "/api/v1/challenges/leaders"),
            "/stride.challenge.v1.LeaderboardService/GetLeaderboard"
        );
        assert_eq!(
            grpc(Method::GET, "/api/v1/challenges/week"),
            "/stride.challenge.v1.ChallengeService/ListChallenges"
        );
        assert_eq!(
            grpc(
                Method::GET,
                "/api/v1/challenges/0190c3e0-0000-7000-8000-000000000000"
            ),
            "/stride.challenge.v1.ChallengeService/GetChallenge"
        );
        assert_eq!(
            grpc(Method::POST, "/api/v1/auth/identities/abc:setPrimary"),
            "/stride.auth.v1.AuthService/SetPrimaryIdentity"
        );
    }

    /// A stand-in for the stack below: answers every call with `frames` then `trailers`.
    fn upstream(
        frames: Vec<Bytes>,
        trailers: HeaderMap,
    ) -> impl Inner<Error = std::convert::Infallible> {
        tower::service_fn(move |_req: http::Request<tonic::body::Body>| {
            let mut items: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = frames
                .iter()
                .map(|f| Ok(http_body::Frame::data(f.clone())))
                .collect();
            items.push(Ok(http_body::Frame::trailers(trailers.clone())));
            let body = http_body_util::StreamBody::new(futures::stream::iter(items));
            std::future::ready(Ok::<_, std::convert::Infallible>(http::Response::new(
                tonic::body::Body::new(body),
            )))
        })
    }

    fn profile(name: &str) -> Bytes {
        use prost::Message as _;
        Bytes::from(
            stride_proto::profile::GetMyProfileResponse {
                profile: Some(stride_proto::profile::Profile {
                    display_name: name.into(),
                    ..Default::default()
                }),
            }
            .encode_to_vec(),
        )
    }

    fn trailers(code: Code, message: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("grpc-status", HeaderValue::from(code as i32));
        h.insert("grpc-message", HeaderValue::from_str(message).unwrap());
        h.insert("x-request-id", HeaderValue::from_static("r-1"));
        h
    }

    async fn body_of(res: http::Response<tonic::body::Body>) -> Bytes {
        res.into_body().collect().await.unwrap().to_bytes()
    }

    fn get_my_profile(t: &Transcoder) -> MethodDescriptor {
        t.methods
            .get("/stride.profile.v1.ProfileService/GetMyProfile")
            .unwrap()
            .clone()
    }

    #[tokio::test]
    async fn server_streams_become_ndjson_lines_and_end_with_the_error() {
        let t = Arc::new(Transcoder::new(Limits::default()).unwrap());
        let m = get_my_profile(&t);
        // The second message arrives split across two chunks.
        let second = frame(0, &profile("B"));
        let (a, b) = second.split_at(7);
        let frames = vec![
            frame(0, &profile("A")),
            Bytes::copy_from_slice(a),
            Bytes::copy_from_slice(b),
        ];
        let req = http::Request::new(full(Bytes::new()));
        let ok = upstream(frames.clone(), trailers(Code::Ok, ""));
        let res = json::stream(t.clone(), ok, req, m.output(), String::new())
            .await
            .unwrap();
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/x-ndjson");
        let text = String::from_utf8(body_of(res).await.to_vec()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["result"]["profile"]["displayName"], "A");
        assert_eq!(lines[1]["result"]["profile"]["displayName"], "B");

        let failing = upstream(frames, trailers(Code::NotFound, "gone"));
        let req = http::Request::new(full(Bytes::new()));
        let res = json::stream(t, failing, req, m.output(), "profile".into())
            .await
            .unwrap();
        let text = String::from_utf8(body_of(res).await.to_vec()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        // response_body applies to each streamed message.
        assert_eq!(lines[1]["result"]["displayName"], "B");
        assert_eq!(lines[2]["error"]["code"], 5);
        assert_eq!(lines[2]["error"]["message"], "gone");
    }

    #[tokio::test]
    async fn server_streams_become_connect_envelopes_with_an_end_of_stream() {
        let t = Arc::new(Transcoder::new(Limits::default()).unwrap());
        let m = get_my_profile(&t);
        let frames = vec![frame(0, &profile("A")), frame(0, &profile("B"))];
        let req = http::Request::new(full(Bytes::new()));
        let res = connect::stream_for_test(
            upstream(frames, trailers(Code::PermissionDenied, "no")),
            req,
            m,
            true,
        )
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/connect+json"
        );
        let mut d = Deframer::default();
        d.push(&body_of(res).await);
        let (f1, m1) = d.next().unwrap();
        let (f2, _) = d.next().unwrap();
        let (f3, end) = d.next().unwrap();
        assert_eq!((f1, f2, f3), (0, 0, 2));
        let m1: serde_json::Value = serde_json::from_slice(&m1).unwrap();
        assert_eq!(m1["profile"]["displayName"], "A");
        let end: serde_json::Value = serde_json::from_slice(&end).unwrap();
        assert_eq!(end["error"]["code"], "permission_denied");
        assert_eq!(end["metadata"]["x-request-id"], serde_json::json!(["r-1"]));
        assert!(d.is_empty());
    }

    #[tokio::test]
    async fn request_bodies_count_against_the_shared_budget() {
        let budget = Arc::new(tokio::sync::Semaphore::new(30));
        let t = Transcoder::new(Limits::default())
            .unwrap()
            .sharing_budget(budget.clone());
        let body = || http_body_util::Full::new(Bytes::from_static(&[b'x'; 20]));
        let (bytes, held) = read_body(&t, &HeaderMap::new(), body()).await.unwrap();
        assert_eq!(bytes.len(), 20);
        assert_eq!(
            budget.available_permits(),
            10,
            "held while the message is built"
        );
        // A second body does not fit beside the first.
        let refused = read_body(&t, &HeaderMap::new(), body()).await.unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        drop(held);
        assert_eq!(budget.available_permits(), 30);
        assert!(read_body(&t, &HeaderMap::new(), body()).await.is_ok());
        // A declared length over the message limit is refused before reading.
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(u64::MAX));
        let refused = read_body(&t, &h, body()).await.unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
    }
}
