//! Clients for service-to-service calls through the generated stubs.

use std::time::Duration;

use tonic::{
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

/// A channel that connects on first use (services may start in any order) and reconnects.
pub fn lazy_channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(15))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true)
        .connect_lazy())
}

/// Adds the current trace context and, for calls on a user's behalf, that user's token.
#[derive(Clone, Debug, Default)]
pub struct OnBehalf {
    bearer: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl OnBehalf {
    /// Calls carrying `token` (the caller's own access token).
    pub fn user(token: &str) -> Self {
        Self {
            bearer: format!("Bearer {token}").parse().ok(),
        }
    }
}

impl Interceptor for OnBehalf {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(b) = &self.bearer {
            req.metadata_mut().insert("authorization", b.clone());
        }
        if let Some(tp) = crate::telemetry::current_traceparent().and_then(|t| t.parse().ok()) {
            req.metadata_mut().insert("traceparent", tp);
        }
        Ok(req)
    }
}

/// A channel wrapped with [`OnBehalf`], ready for `XClient::new`.
pub type Intercepted = InterceptedService<Channel, OnBehalf>;

pub fn on_behalf(channel: &Channel, token: &str) -> Intercepted {
    InterceptedService::new(channel.clone(), OnBehalf::user(token))
}
