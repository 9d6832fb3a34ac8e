//! The gateway's listener and what it knows about each connection.
//!
//! - At most [`ConnLimits::max_connections`] client connections are open at once; a connection
//!   beyond that is closed as soon as it is accepted (before any byte is read), so a flood of
//!   connections costs the gateway a file descriptor for an instant, not a task and buffers.
//! - A connection with no call in flight for [`ConnLimits::idle_timeout`] is closed (a client that
//!   connects and sends nothing, or trickles an HTTP/1 request head, is one of those).
//! - A trusted load balancer may open each connection with a PROXY protocol header
//!   (`STRIDE_PROXY_PROTOCOL`): the address it names is then the connection's peer.
//! - [`ClientLayer`] names the client of each call ([`ClientAddr`]): the peer, or behind a
//!   trusted proxy the address that proxy reported (see [`crate::client_addr`]).

use std::{
    future::Future,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures::future::BoxFuture;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, mpsc},
    time::{Instant, Sleep},
};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::client_addr::TrustedProxies;

/// Limits on client connections.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Open client connections at most (`STRIDE_GATEWAY_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// A connection with no call in flight for this long is closed
    /// (`STRIDE_GATEWAY_IDLE_TIMEOUT_SECS`).
    pub idle_timeout: Duration,
    /// HTTP/2 streams (calls) at once on one connection
    /// (`STRIDE_GATEWAY_MAX_CONCURRENT_STREAMS`).
    pub max_concurrent_streams: u32,
    /// HTTP/2 PING interval to find dead peers (`STRIDE_GATEWAY_KEEPALIVE_SECS`); a peer that does
    /// not answer within [`ConnLimits::keepalive_timeout`] is dropped.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(120),
            max_concurrent_streams: 256,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
        }
    }
}

/// The client of a call, as the gateway decided it (put into request extensions by
/// [`ClientLayer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// What the server knows about a connection (tonic puts it into every request's extensions).
#[derive(Clone, Debug)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    activity: Arc<Activity>,
}

/// Calls in flight on a connection and when the last one started or ended.
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds after `origin`.
    last: AtomicU64,
    origin: Instant,
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            last: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    fn stamp(&self, now: Instant) {
        let ms = u64::try_from(now.saturating_duration_since(self.origin).as_millis())
            .unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    fn start(self: &Arc<Self>) -> CallGuard {
        self.begin(Instant::now());
        CallGuard(self.clone())
    }

    fn begin(&self, now: Instant) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.stamp(now);
    }

    fn end(&self, now: Instant) {
        self.stamp(now);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// When the connection turns idle for `timeout`, or `None` when it already has.
    fn idle_at(&self, now: Instant, timeout: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Some(now + timeout);
        }
        let at = self.origin + Duration::from_millis(self.last.load(Ordering::Relaxed)) + timeout;
        (at > now).then_some(at)
    }
}

/// One call in flight; dropped when its answer is complete (or abandoned).
pub struct CallGuard(Arc<Activity>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.end(Instant::now());
    }
}

static REFUSED: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    stride_kit::metrics::counter(
        "stride_gateway_connections_refused_total",
        "Client connections closed on accept because the gateway held its maximum",
        &[],
    )
});

static IDLE_CLOSED: std::sync::LazyLock<prometheus::IntCounterVec> =
    std::sync::LazyLock::new(|| {
        stride_kit::metrics::counter(
            "stride_gateway_connections_idle_closed_total",
            "Client connections closed after the idle timeout",
            &[],
        )
    });

/// Connections accepted on `listener`, for `Server::serve_with_incoming_shutdown`, and the task
/// that accepts them (it ends at `shutdown`, or when the stream is dropped).
pub fn incoming(
    listener: TcpListener,
    limits: ConnLimits,
    trusted: Arc<TrustedProxies>,
    shutdown: CancellationToken,
) -> (
    ReceiverStream<io::Result<Conn>>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let (tx, rx) = mpsc::channel(64);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let task = tokio::spawn(accept(
        listener,
        permits,
        limits.idle_timeout,
        trusted,
        tx,
        shutdown,
    ));
    (ReceiverStream::new(rx), task)
}

/// How long a trusted peer has to send its PROXY protocol header.
const PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

static PROXY_HEADER_REFUSED: std::sync::LazyLock<prometheus::IntCounterVec> =
    std::sync::LazyLock::new(|| {
        stride_kit::metrics::counter(
            "stride_gateway_proxy_header_refused_total",
            "Connections from trusted proxies closed for a missing or invalid PROXY header",
            &[],
        )
    });

async fn accept(
    listener: TcpListener,
    permits: Arc<Semaphore>,
    idle_timeout: Duration,
    trusted: Arc<TrustedProxies>,
    tx: mpsc::Sender<io::Result<Conn>>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tx.closed() => return Ok(()),
            r = listener.accept() => r,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, or the peer gave up before accept: wait a moment
                // instead of spinning, then go on.
                tracing::warn!(error = %e, "accept failed");
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            REFUSED.with_label_values::<&str>(&[]).inc();
            drop(stream);
            continue;
        };
        // TCP_NODELAY, as every Stride server: no answer waits for a delayed ACK.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY");
        }
        if trusted.expects_proxy_header(peer.ip()) {
            // Read off the accept loop: a slow balancer must not hold up other connections.
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut stream = stream;
                let client = match tokio::time::timeout(
                    PROXY_HEADER_TIMEOUT,
                    crate::proxy_protocol::read_header(&mut stream),
                )
                .await
                {
                    Ok(Ok(client)) => client.unwrap_or(peer),
                    Ok(Err(e)) => {
                        PROXY_HEADER_REFUSED.with_label_values::<&str>(&[]).inc();
                        tracing::debug!(%peer, error = %e, "PROXY header refused");
                        return;
                    }
                    Err(_) => {
                        PROXY_HEADER_REFUSED.with_label_values::<&str>(&[]).inc();
                        tracing::debug!(%peer, "no PROXY header in time");
                        return;
                    }
                };
                let _ = tx
                    .send(Ok(Conn::new(stream, client, permit, idle_timeout)))
                    .await;
            });
            continue;
        }
        if tx
            .send(Ok(Conn::new(stream, peer, permit, idle_timeout)))
            .await
            .is_err()
        {
            return Ok(());
        }
    }
}

/// A client connection: holds one of the gateway's connection slots until it is closed, and
/// reads end-of-stream once it has been idle for the idle timeout.
pub struct Conn {
    io: TcpStream,
    info: ConnInfo,
    _slot: OwnedSemaphorePermit,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    closed: bool,
}

impl Conn {
    fn new(
        io: TcpStream,
        peer: SocketAddr,
        slot: OwnedSemaphorePermit,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            io,
            info: ConnInfo {
                peer,
                activity: Arc::new(Activity::new()),
            },
            _slot: slot,
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            closed: false,
        }
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closed {
            return Poll::Ready(Ok(()));
        }
        // The server always has a read pending on a connection, so the idle timer is polled
        // (and wakes the connection) here.
        while this.idle.as_mut().poll(cx).is_ready() {
            match this
                .info
                .activity
                .idle_at(Instant::now(), this.idle_timeout)
            {
                Some(at) => this.idle.as_mut().reset(at),
                None => {
                    IDLE_CLOSED.with_label_values::<&str>(&[]).inc();
                    this.closed = true;
                    // End of stream: the server closes the connection as if the client had.
                    return Poll::Ready(Ok(()));
                }
            }
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Names the client of every call ([`ClientAddr`]) and counts the call as activity on its
/// connection until its answer is complete.
#[derive(Clone)]
pub struct ClientLayer {
    trusted: Arc<TrustedProxies>,
}

impl ClientLayer {
    pub fn new(trusted: Arc<TrustedProxies>) -> Self {
        Self { trusted }
    }
}

impl<S> tower::Layer<S> for ClientLayer {
    type Service = ClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientService {
            inner,
            trusted: self.trusted.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ClientService<S> {
    inner: S,
    trusted: Arc<TrustedProxies>,
}

impl<S, B, RB> tower::Service<http::Request<B>> for ClientService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Guarded<RB, Option<CallGuard>>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let info = req.extensions().get::<ConnInfo>().cloned();
        let guard = info.map(|info| {
            let client = self.trusted.client_ip(info.peer.ip(), req.headers());
            req.extensions_mut().insert(ClientAddr(client));
            info.activity.start()
        });
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            Ok(res.map(|body| Guarded::new(body, guard)))
        })
    }
}

/// A body that holds `G` (a slot, a guard) until it is complete or dropped.
pub struct Guarded<B, G> {
    inner: Pin<Box<B>>,
    guard: Option<G>,
}

impl<B, G> Guarded<B, G> {
    pub fn new(inner: B, guard: G) -> Self {
        Self {
            inner: Box::pin(inner),
            guard: Some(guard),
        }
    }
}

impl<B: http_body::Body, G: Unpin> http_body::Body for Guarded<B, G> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let frame = this.inner.as_mut().poll_frame(cx);
        if let Poll::Ready(None) = frame {
            this.guard = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The client of a call: what [`ClientLayer`] decided, else the TCP peer.
pub fn client_ip(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions.get::<ClientAddr>().map(|c| c.0).or_else(|| {
        extensions
            .get::<ConnInfo>()
            .map(|c| c.peer.ip())
            .or_else(|| {
                extensions
                    .get::<tonic::transport::server::TcpConnectInfo>()
                    .and_then(|c| c.remote_addr())
                    .map(|a| a.ip())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_idle_only_with_no_call_in_flight() {
        let timeout = Duration::from_secs(10);
        let a = Activity::new();
        let t0 = a.origin;
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(a.idle_at(t0, timeout), Some(at(10)));
        assert_eq!(
            a.idle_at(at(10), timeout),
            None,
            "nothing happened for 10 s"
        );
        a.begin(at(5));
        // A long call keeps the connection busy.
        assert_eq!(a.idle_at(at(65), timeout), Some(at(75)));
        a.begin(at(66));
        a.end(at(70));
        assert_eq!(
            a.idle_at(at(100), timeout),
            Some(at(110)),
            "one call still runs"
        );
        a.end(at(100));
        assert_eq!(a.idle_at(at(109), timeout), Some(at(110)));
        assert_eq!(
            a.idle_at(at(110), timeout),
            None,
            "idle for the whole timeout"
        );
    }
}
