//! Prometheus metrics: one registry per process, served on the HTTP port at `/metrics`, and a
//! tower layer that counts and times every gRPC call by method and status code.

use std::{
    sync::{Arc, LazyLock},
    task::{Context, Poll},
    time::Instant,
};

use futures::future::BoxFuture;
use prometheus::{Encoder, GaugeVec, HistogramVec, IntCounterVec, Registry, TextEncoder};

use crate::policy::Policies;

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

static HANDLED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let c = IntCounterVec::new(
        prometheus::Opts::new(
            "grpc_server_handled_total",
            "gRPC calls completed, by method and code",
        ),
        &["method", "code"],
    )
    .expect("metric");
    REGISTRY.register(Box::new(c.clone())).expect("register");
    c
});

static LATENCY: LazyLock<HistogramVec> = LazyLock::new(|| {
    let h = HistogramVec::new(
        prometheus::HistogramOpts::new(
            "grpc_server_handling_seconds",
            "gRPC time to response headers",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]),
        &["method"],
    )
    .expect("metric");
    REGISTRY.register(Box::new(h.clone())).expect("register");
    h
});

/// Registers a counter vector in the process registry.
pub fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(prometheus::Opts::new(name, help), labels).expect("metric");
    // A second registration (several services in one test process) reuses the first.
    let _ = REGISTRY.register(Box::new(c.clone()));
    c
}

/// A histogram with `buckets`, registered like [`counter`].
pub fn histogram(name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    let h = HistogramVec::new(
        prometheus::HistogramOpts::new(name, help).buckets(buckets),
        labels,
    )
    .expect("metric");
    let _ = REGISTRY.register(Box::new(h.clone()));
    h
}

/// A gauge vector (a value that goes up and down), registered like [`counter`].
pub fn gauge(name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    let g = GaugeVec::new(prometheus::Opts::new(name, help), labels).expect("metric");
    let _ = REGISTRY.register(Box::new(g.clone()));
    g
}

/// Text exposition of every registered metric.
pub fn render() -> String {
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&REGISTRY.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

/// The `method` label of every call to a path that names no known method: a caller sending
/// random paths cannot create series without bound.
pub const UNKNOWN_METHOD: &str = "/unknown";

/// Methods every Stride process answers besides its own (not in the Stride descriptor set).
const INFRASTRUCTURE: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
];

/// Counts and times calls by method, labelling paths that are not methods of the descriptor set
/// as [`UNKNOWN_METHOD`]. The status code comes from the response headers (trailers-only errors)
/// or is OK when absent: streaming failures after headers count as OK here.
#[derive(Clone, Debug)]
pub struct MetricsLayer {
    policies: Arc<Policies>,
}

impl MetricsLayer {
    pub fn new(policies: Arc<Policies>) -> Self {
        Self { policies }
    }
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            policies: self.policies.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    policies: Arc<Policies>,
}

impl<S, B, RB> tower::Service<http::Request<B>> for MetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path();
        let known = self.policies.get(path).is_some() || INFRASTRUCTURE.contains(&path);
        let method = if known { path } else { UNKNOWN_METHOD }.to_owned();
        let start = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            LATENCY
                .with_label_values(&[method.as_str()])
                .observe(start.elapsed().as_secs_f64());
            let code = match &res {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|s| s.parse::<i32>().ok())
                    .map(|c| format!("{:?}", tonic::Code::from_i32(c)))
                    .unwrap_or_else(|| "Ok".to_owned()),
                Err(_) => "TransportError".to_owned(),
            };
            HANDLED
                .with_label_values(&[method.as_str(), code.as_str()])
                .inc();
            res
        })
    }
}
