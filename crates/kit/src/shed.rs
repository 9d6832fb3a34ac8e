//! Load shedding: a service answers at most `max` calls at once and refuses the rest at once
//! with RESOURCE_EXHAUSTED, before any token check or database work, instead of queueing them
//! until every caller times out. Refused calls are cheap, so calls within capacity keep their
//! latency; clients retry with backoff (docs/api.md). gRPC health checks are never refused, so
//! an overloaded service still answers its probes.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tokio::sync::Semaphore;
use tonic::Status;

/// Paths never refused.
const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

#[derive(Clone, Debug)]
pub struct ShedLayer {
    permits: Arc<Semaphore>,
}

impl ShedLayer {
    /// At most `max` calls in flight (at least one).
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max.max(1))),
        }
    }
}

impl<S> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            permits: self.permits.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Shed<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S, B, RB> tower::Service<http::Request<B>> for Shed<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let permit = if req.uri().path().starts_with(HEALTH_PREFIX) {
            None
        } else {
            match self.permits.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    SHED.with_label_values(&[] as &[&str]).inc();
                    return Box::pin(async {
                        Ok(Status::resource_exhausted(
                            "the service is at capacity; retry with backoff",
                        )
                        .into_http())
                    });
                }
            }
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            drop(permit);
            res
        })
    }
}

static SHED: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    crate::metrics::counter(
        "stride_calls_shed_total",
        "Calls refused with RESOURCE_EXHAUSTED because the service was at capacity",
        &[],
    )
});

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tower::{Layer as _, ServiceExt as _};

    fn request(path: &str) -> http::Request<()> {
        http::Request::builder().uri(path).body(()).unwrap()
    }

    fn code(res: &http::Response<String>) -> Option<tonic::Code> {
        Status::from_header_map(res.headers()).map(|s| s.code())
    }

    #[tokio::test]
    async fn calls_beyond_capacity_are_refused_at_once_and_health_never() {
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        let svc = tower::service_fn(move |_req: http::Request<()>| {
            let g = g.clone();
            async move {
                g.notified().await;
                Ok::<_, std::convert::Infallible>(http::Response::new(String::from("done")))
            }
        });
        let svc = ShedLayer::new(1).layer(svc);
        // The first call takes the only slot and waits.
        let first = tokio::spawn(svc.clone().oneshot(request("/x.S/A")));
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The second is refused without waiting.
        let refused = tokio::time::timeout(
            Duration::from_secs(5),
            svc.clone().oneshot(request("/x.S/B")),
        )
        .await
        .expect("refused at once")
        .unwrap();
        assert_eq!(code(&refused), Some(tonic::Code::ResourceExhausted));
        // A health check is let through (it waits for the gate like any call).
        let health = tokio::spawn(svc.clone().oneshot(request("/grpc.health.v1.Health/Check")));
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.notify_waiters();
        assert_eq!(first.await.unwrap().unwrap().body(), "done");
        assert_eq!(health.await.unwrap().unwrap().body(), "done");
        // The slot is free again.
        let next = tokio::spawn(svc.oneshot(request("/x.S/C")));
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.notify_waiters();
        assert_eq!(next.await.unwrap().unwrap().body(), "done");
    }
}
