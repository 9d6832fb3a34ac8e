//! The gateway alone, in front of a stub upstream: every forged token is refused at the edge, over
//! native gRPC and grpc-web, and never reaches a service; calls are routed by proto package. No
//! database or broker needed.

mod api_doc;
mod client_addr;
mod cors;
mod limits;
mod transcode;

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use stride_kit::{
    Verifier,
    jwt::{SigningKey, StaticJwks, forge},
    serve::Running,
};
use stride_proto::ai_coach::{
    GetRecommendationRequest, GetRecommendationResponse,
    ai_coach_service_client::AiCoachServiceClient,
    ai_coach_service_server::{AiCoachService, AiCoachServiceServer},
};
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

/// A Stride package the test gateway has no upstream for.
const UNSERVED: &str = "stride.challenge.v1";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Stands in for a Stride service. It checks no token itself, so whatever it is asked is what
/// the gateway let through; it answers with the bearer header it received (and, in `model`, the
/// client address the gateway named). A call whose goal is [`HOLD`] waits for a permit of
/// `release` first, as a slow service would.
#[derive(Clone)]
struct Upstream {
    calls: Arc<AtomicUsize>,
    release: Arc<tokio::sync::Semaphore>,
}

/// The goal that makes the stub upstream wait for `Edge::release`.
const HOLD: &str = "hold";

#[tonic::async_trait]
impl AiCoachService for Upstream {
    async fn get_recommendation(
        &self,
        req: Request<GetRecommendationRequest>,
    ) -> Result<Response<GetRecommendationResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if req.get_ref().goal == HOLD {
            let _ = self.release.acquire().await.map(|p| p.forget());
        }
        let client_ip = req
            .metadata()
            .get(stride_kit::authn::CLIENT_IP_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let auth = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Response::new(GetRecommendationResponse {
            text: auth,
            model: client_ip,
            ..Default::default()
        }))
    }
}

struct Edge {
    gateway: Running,
    upstream_stop: tokio_util::sync::CancellationToken,
    upstream_task: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    calls: Arc<AtomicUsize>,
    /// Every path the stub upstream was asked for, served or not.
    paths: Arc<Mutex<Vec<String>>>,
    /// Lets held calls ([`HOLD`]) finish, one per permit.
    release: Arc<tokio::sync::Semaphore>,
}

impl Edge {
    /// The stub upstream on a random port, and the gateway routing every Stride package except
    /// [`UNSERVED`] to it, with a verifier whose key set holds only `key`.
    async fn start(key: &SigningKey) -> Edge {
        // The forgery tables send dozens of calls from one address: no limiter in the way.
        Self::start_with(key, stride_gateway::RateLimits::off()).await
    }

    async fn start_with(key: &SigningKey, rate_limits: stride_gateway::RateLimits) -> Edge {
        Self::configured(key, |cfg| cfg.rate_limits = rate_limits).await
    }

    /// As [`Edge::start`], with the gateway's configuration changed by `configure`.
    async fn configured(
        key: &SigningKey,
        configure: impl FnOnce(&mut stride_gateway::Config),
    ) -> Edge {
        stride_kit::install_crypto_provider();
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let upstream = Upstream {
            calls: Arc::default(),
            release: release.clone(),
        };
        let calls = upstream.calls.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_addr = listener.local_addr().unwrap();
        let upstream_stop = tokio_util::sync::CancellationToken::new();
        let paths = Arc::new(Mutex::new(Vec::new()));
        let seen = paths.clone();
        let upstream_task = tokio::spawn(
            tonic::transport::Server::builder()
                .layer(tower::util::MapRequestLayer::new(
                    move |req: http::Request<tonic::body::Body>| {
                        seen.lock().unwrap().push(req.uri().path().to_owned());
                        req
                    },
                ))
                .add_service(AiCoachServiceServer::new(upstream))
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    upstream_stop.clone().cancelled_owned(),
                ),
        );
        let upstreams = stride_gateway::UPSTREAMS
            .iter()
            .filter(|(package, _)| *package != UNSERVED)
            .map(|(package, _)| ((*package).to_owned(), format!("http://{upstream_addr}")))
            .collect();
        let verifier = Verifier::new(Arc::new(StaticJwks(Arc::new(RwLock::new(vec![key.jwk()])))));
        let mut cfg = stride_gateway::Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            upstreams,
            limits: stride_gateway::Limits {
                max_message_bytes: 64 * 1024,
                max_timeout: Duration::from_secs(10),
                ..stride_gateway::Limits::default()
            },
            upstream_connections: 2,
            cors_origins: stride_gateway::CorsOrigins::none(),
            rate_limits: stride_gateway::RateLimits::off(),
            trusted_proxies: stride_gateway::TrustedProxies::none(),
            connections: stride_gateway::ConnLimits::default(),
            discovery: Default::default(),
        };
        configure(&mut cfg);
        let gateway = stride_gateway::start(cfg, verifier)
            .await
            .expect("gateway starts");
        Edge {
            gateway,
            upstream_stop,
            upstream_task,
            calls,
            paths,
            release,
        }
    }

    /// A native gRPC client of the coach through the gateway.
    async fn client(&self) -> AiCoachServiceClient<tonic::transport::Channel> {
        AiCoachServiceClient::connect(format!("http://{}", self.gateway.grpc_addr))
            .await
            .unwrap()
    }

    fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    async fn stop(self) {
        // Held calls end, so the servers can drain.
        self.release.add_permits(1 << 20);
        self.gateway.stop().await.unwrap();
        self.upstream_stop.cancel();
        self.upstream_task.await.unwrap().unwrap();
    }
}

fn authed(token: &str) -> Request<GetRecommendationRequest> {
    let mut req = Request::new(GetRecommendationRequest {
        goal: "forge".into(),
    });
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    req
}

/// Sends every forgery, then the control, through `client`; the upstream must see only the
/// control.
async fn every_forgery_is_refused<T>(
    transport: &str,
    edge: &Edge,
    key: &SigningKey,
    mut client: AiCoachServiceClient<T>,
) where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    let user = Uuid::now_v7();
    let before = edge.calls();
    let mut wrong = Vec::new();
    for (name, token) in forge::forgeries(key, user, now()) {
        match client.get_recommendation(authed(&token)).await {
            Err(s) if s.code() == Code::Unauthenticated => {}
            other => wrong.push(format!("{name}: {other:?}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{transport}: forgeries not refused: {wrong:#?}"
    );
    assert_eq!(
        edge.calls(),
        before,
        "{transport}: a forgery reached the upstream"
    );

    let control = forge::valid(key, user, now());
    let res = client
        .get_recommendation(authed(&control))
        .await
        .unwrap_or_else(|e| panic!("{transport}: the control token passes: {e:?}"));
    assert_eq!(res.into_inner().text, format!("Bearer {control}"));
    assert_eq!(
        edge.calls(),
        before + 1,
        "{transport}: the control reached the upstream"
    );
}

#[tokio::test]
async fn native_grpc_refuses_every_forgery_before_the_upstream() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::start(&key).await;
    let client = AiCoachServiceClient::connect(format!("http://{}", edge.gateway.grpc_addr))
        .await
        .unwrap();
    every_forgery_is_refused("native gRPC", &edge, &key, client).await;
    edge.stop().await;
}

#[tokio::test]
async fn grpc_web_refuses_every_forgery_before_the_upstream() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::start(&key).await;
    let client = AiCoachServiceClient::new(grpc_web(edge.gateway.grpc_addr));
    every_forgery_is_refused("grpc-web", &edge, &key, client).await;
    edge.stop().await;
}

/// grpc-web over HTTP/1.1, as browsers call.
fn grpc_web(addr: SocketAddr) -> stride_testkit::grpc_web::WithOrigin {
    stride_testkit::grpc_web::transport(addr)
}

#[tokio::test]
async fn a_client_over_its_class_limit_is_turned_away_before_any_upstream_call() {
    let key = SigningKey::generate().unwrap();
    let limits = stride_gateway::RateLimits::parse("expensive=2/m:2").unwrap();
    let edge = Edge::start_with(&key, limits).await;
    let mut client = AiCoachServiceClient::connect(format!("http://{}", edge.gateway.grpc_addr))
        .await
        .unwrap();
    let token = forge::valid(&key, Uuid::now_v7(), now());
    for _ in 0..2 {
        client
            .get_recommendation(authed(&token))
            .await
            .expect("within the burst");
    }
    let refused = client.get_recommendation(authed(&token)).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    use tonic_types::StatusExt as _;
    assert_eq!(
        refused
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone()),
        Some("RATE_LIMITED".to_owned())
    );
    // Even a forged token is turned away by the limiter (cheaply) rather than checked.
    let forged = client
        .get_recommendation(authed("x.y.z"))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), Code::ResourceExhausted);
    assert_eq!(edge.calls(), 2, "refused calls never reach the service");
    // Another class keeps its own allowance (the default class is unlimited here).
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://{}", edge.gateway.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health is not limited");
    edge.stop().await;
}

/// A unary call to any path, with the coach's request and response messages (the gateway never
/// decodes them).
async fn call_path(
    channel: tonic::transport::Channel,
    path: &'static str,
    token: &str,
) -> Result<GetRecommendationResponse, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    grpc.unary(
        authed(token),
        http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::default(),
    )
    .await
    .map(Response::into_inner)
}

#[tokio::test]
async fn every_service_of_a_package_goes_to_that_packages_upstream() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::start(&key).await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", edge.gateway.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let token = forge::valid(&key, Uuid::now_v7(), now());

    // The package's existing service.
    let known = "/stride.ai_coach.v1.AiCoachService/GetRecommendation";
    let res = call_path(channel.clone(), known, &token).await.unwrap();
    assert_eq!(res.text, format!("Bearer {token}"));
    // A service the gateway has never heard of, in the same package: forwarded to the same
    // upstream (which does not serve it, so the answer is the upstream's own UNIMPLEMENTED).
    let added = "/stride.ai_coach.v1.CoachNotesService/ListNotes";
    let err = call_path(channel.clone(), added, &token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented, "{err:?}");
    assert!(!err.message().contains("unknown service"), "{err:?}");
    assert_eq!(edge.paths(), [known, added]);

    // No upstream for the package: the gateway answers, nothing is forwarded.
    for path in [
        "/stride.nope.v1.NopeService/Get",
        "/stride.challenge.v1.ChallengeService/GetChallenge",
    ] {
        let err = call_path(channel.clone(), path, &token).await.unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{path}: {err:?}");
        assert!(err.message().contains("unknown service"), "{path}: {err:?}");
    }
    assert_eq!(edge.paths().len(), 2, "nothing else reached the upstream");
    assert_eq!(edge.calls(), 1);

    // Metrics name known methods; every other path is counted as `/unknown`, so callers cannot
    // create series at will.
    let metrics = stride_kit::metrics::render();
    assert!(
        metrics.contains(&format!("method=\"{known}\"")),
        "{metrics}"
    );
    assert!(metrics.contains("method=\"/unknown\""), "{metrics}");
    for path in ["CoachNotesService", "stride.nope.v1"] {
        assert!(
            !metrics.contains(path),
            "{path} has its own series: {metrics}"
        );
    }
    edge.stop().await;
}

#[tokio::test]
async fn service_only_methods_are_refused_at_the_edge_even_with_a_valid_token() {
    let key = SigningKey::generate().unwrap();
    let edge = Edge::start(&key).await;
    let mut client =
        stride_proto::profile::reminder_service_client::ReminderServiceClient::connect(format!(
            "http://{}",
            edge.gateway.grpc_addr
        ))
        .await
        .unwrap();
    let token = forge::valid(&key, Uuid::now_v7(), now());
    let mut req = Request::new(stride_proto::profile::ScheduleReminderRequest::default());
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let refused = client.schedule_reminder(req).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    use tonic_types::StatusExt as _;
    assert_eq!(
        refused
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .as_deref(),
        Some("SERVICE_ONLY")
    );
    assert!(
        edge.paths.lock().unwrap().is_empty(),
        "a service-only call reached the upstream"
    );
    assert_eq!(edge.calls.load(Ordering::SeqCst), 0);
    edge.stop().await;
}
