//! Bounded metric labels. The kit's `MetricsLayer` labels each series by the request path, and
//! the gateway counts calls before any policy check, so a client sending random paths would
//! create series without bound. [`UnknownPathsLayer`] (outside `MetricsLayer`) swaps a path that
//! names no known method for [`UNKNOWN`]; [`RestorePathLayer`] (inside it) puts the original
//! back, so everything after the metrics sees the call exactly as it came.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use stride_kit::policy::Policies;

/// The path (and so the metric label) of every call to a method the gateway does not know.
pub const UNKNOWN: &str = "/unknown";

/// Methods the gateway answers itself; they are not in the Stride descriptor set.
const INFRASTRUCTURE: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
];

/// The original URI of a call whose path was replaced by [`UNKNOWN`].
#[derive(Clone, Debug)]
struct OriginalUri(http::Uri);

#[derive(Clone)]
pub struct UnknownPathsLayer {
    policies: Arc<Policies>,
}

impl UnknownPathsLayer {
    pub fn new(policies: Arc<Policies>) -> Self {
        Self { policies }
    }

    fn is_known(&self, path: &str) -> bool {
        self.policies.get(path).is_some() || INFRASTRUCTURE.contains(&path)
    }
}

impl<S> tower::Layer<S> for UnknownPathsLayer {
    type Service = UnknownPaths<S>;

    fn layer(&self, inner: S) -> Self::Service {
        UnknownPaths {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct UnknownPaths<S> {
    inner: S,
    layer: UnknownPathsLayer,
}

impl<S, B> tower::Service<http::Request<B>> for UnknownPaths<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if !self.layer.is_known(req.uri().path()) {
            let unknown = unknown_uri(req.uri());
            let original = std::mem::replace(req.uri_mut(), unknown);
            req.extensions_mut().insert(OriginalUri(original));
        }
        self.inner.call(req)
    }
}

/// `uri` with its path and query replaced by [`UNKNOWN`] (scheme and authority kept).
fn unknown_uri(uri: &http::Uri) -> http::Uri {
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(http::uri::PathAndQuery::from_static(UNKNOWN));
    http::Uri::from_parts(parts).unwrap_or_else(|_| http::Uri::from_static(UNKNOWN))
}

#[derive(Clone, Copy, Debug, Default)]
pub struct RestorePathLayer;

impl<S> tower::Layer<S> for RestorePathLayer {
    type Service = RestorePath<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RestorePath { inner }
    }
}

#[derive(Clone)]
pub struct RestorePath<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for RestorePath<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if let Some(OriginalUri(uri)) = req.extensions_mut().remove::<OriginalUri>() {
            *req.uri_mut() = uri;
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{Layer as _, ServiceExt as _};

    use super::*;

    /// Runs `uri` through UnknownPaths → (what the metrics see) → RestorePath → (what the rest
    /// of the gateway sees).
    async fn seen(uri: &'static str) -> (String, String) {
        let labelled = Arc::new(std::sync::Mutex::new(String::new()));
        let record = labelled.clone();
        let innermost = tower::service_fn(|req: http::Request<()>| async move {
            Ok::<_, Infallible>(req.uri().to_string())
        });
        let metrics = tower::service_fn(move |req: http::Request<()>| {
            *record.lock().unwrap() = req.uri().path().to_owned();
            RestorePathLayer.layer(innermost).oneshot(req)
        });
        let svc = UnknownPathsLayer::new(Arc::new(Policies::load().unwrap())).layer(metrics);
        let forwarded = svc
            .oneshot(http::Request::builder().uri(uri).body(()).unwrap())
            .await
            .unwrap();
        let label = labelled.lock().unwrap().clone();
        (label, forwarded)
    }

    #[tokio::test]
    async fn unknown_paths_are_labelled_unknown_and_forwarded_unchanged() {
        let known = "http://gw:8080/stride.profile.v1.ProfileService/GetMyProfile";
        assert_eq!(
            seen(known).await,
            (
                "/stride.profile.v1.ProfileService/GetMyProfile".to_owned(),
                known.to_owned()
            )
        );
        let health = "/grpc.health.v1.Health/Check";
        assert_eq!(seen(health).await, (health.to_owned(), health.to_owned()));
        for unknown in [
            "http://gw:8080/stride.profile.v1.ProfileService/Nope",
            "http://gw:8080/stride.nope.v1.X/Y",
            "/random/4711?x=1",
            "/",
        ] {
            let (label, forwarded) = seen(unknown).await;
            assert_eq!(label, UNKNOWN, "{unknown}");
            assert_eq!(forwarded, unknown);
        }
    }
}
