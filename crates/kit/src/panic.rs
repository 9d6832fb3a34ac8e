//! The last resort for a panic in a handler: without this layer a panic unwinds through the
//! HTTP/2 connection task and the caller sees a broken stream (UNAVAILABLE through the gateway)
//! with nothing to find in the logs. With it the caller gets INTERNAL with a trace id, and the
//! log line carries the panic message and the same trace id. Panics are still bugs: the
//! hostile-input sweep fails on INTERNAL.

use std::{
    panic::AssertUnwindSafe,
    task::{Context, Poll},
};

use futures::{FutureExt as _, future::BoxFuture};
use tonic::Status;

#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanicLayer;

impl<S> tower::Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CatchPanic { inner }
    }
}

#[derive(Clone, Debug)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for CatchPanic<S>
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
        let path = req.uri().path().to_owned();
        // A panic while building the future is caught too.
        let fut = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req)));
        Box::pin(async move {
            let outcome = match fut {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            outcome.unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-string panic".to_owned());
                let trace_id = crate::telemetry::current_trace_id();
                tracing::error!(rpc = %path, panic = %what, %trace_id, "handler panicked");
                Ok(Status::internal(format!("internal error (trace {trace_id})")).into_http())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    #[tokio::test]
    async fn a_panicking_handler_answers_internal_with_a_trace_id() {
        let svc = tower::service_fn(|req: http::Request<()>| async move {
            if req.uri().path() == "/boom" {
                panic!("index out of bounds");
            }
            Ok::<_, std::convert::Infallible>(http::Response::new(String::from("fine")))
        });
        let mut svc = CatchPanicLayer.layer(svc);
        let ok = svc
            .ready()
            .await
            .unwrap()
            .call(http::Request::get("/fine").body(()).unwrap())
            .await
            .unwrap();
        assert_eq!(ok.body(), "fine");
        let res = svc
            .ready()
            .await
            .unwrap()
            .call(http::Request::get("/boom").body(()).unwrap())
            .await
            .unwrap();
        let status = Status::from_header_map(res.headers()).expect("a gRPC status");
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(
            status.message().starts_with("internal error (trace "),
            "{}",
            status.message()
        );
        assert!(!status.message().contains("index out of bounds"));
    }
}
