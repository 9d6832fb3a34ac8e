//! Handlers and clients: the one-line handler table ([`grpc_handlers!`](crate::grpc_handlers)),
//! the [`Call`] every handler receives, and channels for service-to-service calls through the
//! generated stubs.

use tonic::{
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

use crate::{AppError, AppResult, Caller, ClientInfo};

/// What a handler gets: the message, the verified caller (when a valid token came with the
/// call: always for authenticated methods, optionally for public ones) and the client's address
/// and user agent. The caller's id is already on the request span (the kit's authn layer
/// records it), so handlers never touch tracing for it.
#[derive(Debug)]
pub struct Call<T> {
    pub message: T,
    caller: Option<Caller>,
    pub client: ClientInfo,
}

impl<T> Call<T> {
    pub fn new(request: tonic::Request<T>) -> Self {
        let client = ClientInfo::of(&request);
        let caller = request.extensions().get::<Caller>().cloned();
        Self {
            message: request.into_inner(),
            caller,
            client,
        }
    }

    /// The verified caller, the only source of a user id (DESIGN §4); UNAUTHENTICATED without
    /// one.
    pub fn caller(&self) -> AppResult<&Caller> {
        self.caller.as_ref().ok_or_else(|| {
            AppError::unauthenticated("TOKEN_MISSING", "an access token is required")
        })
    }

    /// The caller if one signed in (public methods that act differently for a known user).
    pub fn optional_caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    /// The verified caller and the message, for handlers that consume the message.
    pub fn into_parts(self) -> AppResult<(Caller, T, ClientInfo)> {
        match self.caller {
            Some(caller) => Ok((caller, self.message, self.client)),
            None => Err(AppError::unauthenticated(
                "TOKEN_MISSING",
                "an access token is required",
            )),
        }
    }
}

/// A handler's result as tonic wants it: the reply, or the error with its `google.rpc` details.
pub fn reply<T>(result: AppResult<T>) -> Result<tonic::Response<T>, tonic::Status> {
    result.map(tonic::Response::new).map_err(Into::into)
}

/// Implements a generated tonic service trait with one line per method: each line names the
/// request and response types and the handler, an `async fn(&Service, Call<Request>) ->
/// AppResult<Response>` (a free function in the resource's module, or `Self::method`).
///
/// ```ignore
/// stride_kit::grpc_handlers! {
///     impl SessionsService for Sessions {
///         fn start_session(StartSessionRequest) -> StartSessionResponse => sessions::start;
///         fn complete_session(CompleteSessionRequest) -> CompleteSessionResponse => sessions::complete;
///     }
/// }
/// ```
#[macro_export]
macro_rules! grpc_handlers {
    (impl $($service:ident)::+ for $ty:ty {
        $( fn $method:ident ( $req:ty ) -> $resp:ty => $handler:expr ; )*
    }) => {
        #[$crate::reexport::tonic::async_trait]
        impl $($service)::+ for $ty {
            $(
                async fn $method(
                    &self,
                    request: $crate::reexport::tonic::Request<$req>,
                ) -> ::std::result::Result<
                    $crate::reexport::tonic::Response<$resp>,
                    $crate::reexport::tonic::Status,
                > {
                    $crate::grpc::reply($handler(self, $crate::grpc::Call::new(request)).await)
                }
            )*
        }
    };
}

/// A channel that connects on first use (services may start in any order) and reconnects.
/// When the URL's host is a DNS name, every address it resolves to is a replica and each call
/// goes to one of them, following the name as replicas come and go
/// ([`crate::discovery::balanced_channel`]); an IP literal is one connection. Must be called on
/// a Tokio runtime.
pub fn lazy_channel(url: &str) -> anyhow::Result<Channel> {
    crate::discovery::balanced_channel(url, crate::discovery::Discovery::default())
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
