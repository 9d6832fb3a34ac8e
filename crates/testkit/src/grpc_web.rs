//! A grpc-web client transport (HTTP/1.1 with tonic-web's translation), as browsers call:
//! `XServiceClient::new(grpc_web::transport(addr))`.

use std::net::SocketAddr;

/// tonic-web's client over hyper's HTTP/1.1 client.
pub type WebTransport = tonic_web::GrpcWebClientService<
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        tonic_web::GrpcWebCall<tonic::body::Body>,
    >,
>;

/// A grpc-web transport to `addr`.
pub fn transport(addr: SocketAddr) -> WithOrigin {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    WithOrigin {
        inner: tower::ServiceBuilder::new()
            .layer(tonic_web::GrpcWebClientLayer::new())
            .service(client),
        origin: format!("http://{addr}")
            .parse()
            .expect("a socket address is a URI"),
    }
}

/// Sets scheme and authority on each request (generated clients send only the path).
#[derive(Clone)]
pub struct WithOrigin {
    inner: WebTransport,
    origin: http::Uri,
}

impl tower::Service<http::Request<tonic::body::Body>> for WithOrigin {
    type Response = <WebTransport as tower::Service<http::Request<tonic::body::Body>>>::Response;
    type Error = <WebTransport as tower::Service<http::Request<tonic::body::Body>>>::Error;
    type Future = <WebTransport as tower::Service<http::Request<tonic::body::Body>>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<tonic::body::Body>) -> Self::Future {
        let mut parts = self.origin.clone().into_parts();
        parts.path_and_query = req.uri().path_and_query().cloned();
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
        self.inner.call(req)
    }
}
