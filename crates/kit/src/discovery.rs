//! Replicas of an upstream found through DNS, so calls spread over every replica instead of
//! riding one HTTP/2 connection to whichever pod a Service's virtual IP picked.
//!
//! A URL whose host is a DNS name (in Kubernetes, a headless Service `<svc>-headless`, whose
//! name resolves to one address per ready pod) is resolved at start and again every
//! [`refresh_interval`] (`STRIDE_DNS_REFRESH_SECS`, default 5 s). Each address becomes a
//! replica with its own connection; an address that disappears is removed (calls already on it
//! finish: the connection closes once its last stream is done), a new one is added. Until the
//! first answer, and whenever the name resolves to nothing, the name itself stays the replica
//! (resolved by the OS at connect, as a plain channel would), so there is never a moment with
//! nowhere to send a call. A URL whose host is an IP literal is one replica, as before.
//!
//! What to add and remove is decided by [`plan`], pure; [`watch`] runs it on a timer;
//! [`balanced_channel`] feeds it to tonic's per-call balancer (power of two choices over the
//! replicas' pending calls); the gateway keeps its own round robin over the same replicas.

use std::{
    collections::BTreeSet,
    fmt,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::future::BoxFuture;
use http::Uri;
use tonic::transport::{Channel, Endpoint, channel::Change};

/// Default time between two resolutions of a name.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5);

/// How long one resolution may take before it counts as "no answer" (the set is kept).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Changes queued for one balanced channel at most (there are a few per pod coming or going).
const CHANGES_CAPACITY: usize = 1024;

static REFRESH_MS: AtomicU64 = AtomicU64::new(5_000);

/// Sets the process-wide time between resolutions (`STRIDE_DNS_REFRESH_SECS`, read with the
/// rest of the configuration); watchers already running take it at their next tick.
pub fn set_refresh_interval(every: Duration) {
    let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
    REFRESH_MS.store(ms, Ordering::Relaxed);
}

/// The process-wide time between resolutions.
pub fn refresh_interval() -> Duration {
    Duration::from_millis(REFRESH_MS.load(Ordering::Relaxed))
}

/// One replica of an upstream: the name itself (resolved by the OS at connect time) or one
/// address the name resolved to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Replica {
    Name,
    Addr(SocketAddr),
}

/// What to change in a replica set after a resolution: insertions first, so the set is never
/// empty in between.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub insert: Vec<Replica>,
    pub remove: Vec<Replica>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.insert.is_empty() && self.remove.is_empty()
    }
}

/// The changes that turn `current` into the replicas `resolved` names. No answer (an empty
/// `resolved`: the name did not resolve, or the lookup failed) keeps the last known set — a DNS
/// hiccup must not take every replica away — and an empty set gets the name itself. An answer
/// replaces the name by the addresses.
pub fn plan(current: &BTreeSet<Replica>, resolved: &[SocketAddr]) -> Plan {
    let mut plan = Plan::default();
    if resolved.is_empty() {
        if current.is_empty() {
            plan.insert.push(Replica::Name);
        }
        return plan;
    }
    let wanted: BTreeSet<Replica> = resolved.iter().copied().map(Replica::Addr).collect();
    plan.insert = wanted.difference(current).copied().collect();
    plan.remove = current.difference(&wanted).copied().collect();
    plan
}

/// Resolves a host name and port to addresses. [`Resolver::system`] asks the OS
/// (`getaddrinfo`: /etc/hosts, then DNS); tests inject their own.
#[derive(Clone)]
pub struct Resolver(Arc<dyn Fn(String, u16) -> BoxFuture<'static, Vec<SocketAddr>> + Send + Sync>);

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Self::system()
    }
}

impl Resolver {
    /// The OS resolver, through `tokio::net::lookup_host`; a failure is an empty answer.
    pub fn system() -> Self {
        Self::from_fn(|host, port| {
            Box::pin(async move {
                match tokio::net::lookup_host((host.as_str(), port)).await {
                    Ok(addrs) => addrs.collect(),
                    Err(e) => {
                        tracing::debug!(%host, error = %e, "name did not resolve");
                        Vec::new()
                    }
                }
            })
        })
    }

    /// A resolver of one's own (tests: a name served by several local processes).
    pub fn from_fn(
        f: impl Fn(String, u16) -> BoxFuture<'static, Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(f))
    }

    /// The addresses of `host:port`, sorted and without duplicates; empty on failure or after
    /// [`RESOLVE_TIMEOUT`].
    pub async fn resolve(&self, host: &str, port: u16) -> Vec<SocketAddr> {
        let mut addrs = tokio::time::timeout(RESOLVE_TIMEOUT, (self.0)(host.to_owned(), port))
            .await
            .unwrap_or_default();
        addrs.sort_unstable();
        addrs.dedup();
        addrs
    }
}

/// How an upstream's name is watched: the resolver and the time between resolutions (`None`:
/// the process-wide [`refresh_interval`]).
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    pub resolver: Resolver,
    pub refresh: Option<Duration>,
}

/// An upstream URL whose host is a DNS name.
#[derive(Clone, Debug)]
pub struct Target {
    uri: Uri,
    host: String,
    port: u16,
}

impl Target {
    /// `None` when the host is an IP literal (nothing to discover: one replica).
    pub fn parse(url: &str) -> anyhow::Result<Option<Self>> {
        let uri: Uri = url.parse()?;
        let host = uri
            .host()
            .ok_or_else(|| anyhow::anyhow!("{url:?} has no host"))?;
        if host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok()
        {
            return Ok(None);
        }
        let port = match (uri.port_u16(), uri.scheme_str()) {
            (Some(p), _) => p,
            (None, Some("https")) => 443,
            (None, _) => 80,
        };
        Ok(Some(Self {
            host: host.to_owned(),
            port,
            uri,
        }))
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The endpoint of one replica: an address, reached with the name's authority (`Host` /
    /// `:authority` stay what the URL says), or the name itself.
    pub fn endpoint(&self, replica: Replica) -> anyhow::Result<Endpoint> {
        let Replica::Addr(addr) = replica else {
            return Ok(configure(Endpoint::from(self.uri.clone())));
        };
        let scheme = self.uri.scheme_str().unwrap_or("http");
        let uri: Uri = format!("{scheme}://{addr}").parse()?;
        Ok(configure(Endpoint::from(uri)).origin(self.uri.clone()))
    }
}

/// The settings of every Stride client connection: connect and call timeouts, no Nagle delay,
/// keep-alive pings (a dead peer is found even when idle).
pub fn configure(endpoint: Endpoint) -> Endpoint {
    endpoint
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(15))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true)
}

/// What a watcher's sink says about one change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// Applied.
    Yes,
    /// Not applied now; offer it again at the next resolution.
    Later,
    /// Nobody listens any more: the watcher ends.
    Stop,
}

/// Resolves `target` now and then every refresh interval, and hands each change of its replica
/// set to `sink`, insertions before removals, until the sink says [`Taken::Stop`] or `alive`
/// says no (checked before each resolution: the channel or proxy it feeds is gone). `current`
/// is the set the sink already holds (usually `{Replica::Name}`). Runs on the current Tokio
/// runtime.
pub fn watch(
    target: Target,
    discovery: Discovery,
    current: BTreeSet<Replica>,
    alive: impl Fn() -> bool + Send + 'static,
    mut sink: impl FnMut(Change<Replica, Endpoint>) -> Taken + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut current = current;
        while alive() {
            let resolved = discovery.resolver.resolve(&target.host, target.port).await;
            let plan = plan(&current, &resolved);
            if !plan.is_empty() {
                tracing::info!(host = %target.host, added = ?plan.insert, removed = ?plan.remove, "upstream replicas changed");
            }
            for replica in plan.insert {
                let endpoint = match target.endpoint(replica) {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(host = %target.host, error = %e, "replica address unusable");
                        continue;
                    }
                };
                match sink(Change::Insert(replica, endpoint)) {
                    Taken::Yes => {
                        current.insert(replica);
                    }
                    Taken::Later => {}
                    Taken::Stop => return,
                }
            }
            for replica in plan.remove {
                match sink(Change::Remove(replica)) {
                    Taken::Yes => {
                        current.remove(&replica);
                    }
                    Taken::Later => {}
                    Taken::Stop => return,
                }
            }
            tokio::time::sleep(discovery.refresh.unwrap_or_else(refresh_interval)).await;
        }
    })
}

/// A channel over every replica behind `url`'s name, balancing each call (not each connection)
/// across them and following the name as replicas come and go; see the module docs. Connects
/// lazily. Must be called on a Tokio runtime.
pub fn balanced_channel(url: &str, discovery: Discovery) -> anyhow::Result<Channel> {
    let Some(target) = Target::parse(url)? else {
        return Ok(configure(Endpoint::from_shared(url.to_owned())?).connect_lazy());
    };
    let (channel, tx) = Channel::balance_channel::<Replica>(CHANGES_CAPACITY);
    // Calls made before the first answer go to the name, as a plain channel's would.
    tx.try_send(Change::Insert(
        Replica::Name,
        target.endpoint(Replica::Name)?,
    ))
    .map_err(|e| anyhow::anyhow!("balanced channel for {url}: {e}"))?;
    let probe = tx.clone();
    watch(
        target,
        discovery,
        BTreeSet::from([Replica::Name]),
        move || !probe.is_closed(),
        move |change| {
            use tokio::sync::mpsc::error::TrySendError;
            match tx.try_send(change) {
                Ok(()) => Taken::Yes,
                Err(TrySendError::Full(_)) => Taken::Later,
                Err(TrySendError::Closed(_)) => Taken::Stop,
            }
        },
    );
    Ok(channel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn set(replicas: &[Replica]) -> BTreeSet<Replica> {
        replicas.iter().copied().collect()
    }

    #[test]
    fn the_first_answer_replaces_the_name_by_the_addresses() {
        let a = addr("10.0.0.1:50052");
        let b = addr("10.0.0.2:50052");
        let p = plan(&set(&[Replica::Name]), &[a, b]);
        assert_eq!(p.insert, vec![Replica::Addr(a), Replica::Addr(b)]);
        assert_eq!(p.remove, vec![Replica::Name]);
    }

    #[test]
    fn pods_coming_and_going_are_added_and_removed() {
        let (a, b, c) = (
            addr("10.0.0.1:50052"),
            addr("10.0.0.2:50052"),
            addr("[fd00::3]:50052"),
        );
        let current = set(&[Replica::Addr(a), Replica::Addr(b)]);
        let p = plan(&current, &[b, c]);
        assert_eq!(p.insert, vec![Replica::Addr(c)]);
        assert_eq!(p.remove, vec![Replica::Addr(a)]);
        // The same answer again: nothing to do.
        assert!(plan(&current, &[a, b]).is_empty());
    }

    #[test]
    fn no_answer_keeps_the_last_known_replicas() {
        let a = addr("10.0.0.1:50052");
        assert!(plan(&set(&[Replica::Addr(a)]), &[]).is_empty());
        assert!(plan(&set(&[Replica::Name]), &[]).is_empty());
        // An empty set (every change was refused so far) gets the name.
        let p = plan(&BTreeSet::new(), &[]);
        assert_eq!(p.insert, vec![Replica::Name]);
        assert!(p.remove.is_empty());
    }

    #[test]
    fn ip_literals_are_not_discovered() {
        assert!(Target::parse("http://127.0.0.1:50052").unwrap().is_none());
        assert!(Target::parse("http://[::1]:50052").unwrap().is_none());
        let t = Target::parse("http://profile-headless:50052")
            .unwrap()
            .unwrap();
        assert_eq!((t.host(), t.port), ("profile-headless", 50052));
        let t = Target::parse("https://auth.example").unwrap().unwrap();
        assert_eq!(t.port, 443);
        assert!(Target::parse("not a url").is_err());
    }

    #[test]
    fn an_address_endpoint_keeps_the_names_authority() {
        let t = Target::parse("http://profile-headless:50052")
            .unwrap()
            .unwrap();
        let e = t.endpoint(Replica::Addr(addr("[fd00::3]:50052"))).unwrap();
        assert_eq!(e.uri().to_string(), "http://[fd00::3]:50052/");
        let e = t.endpoint(Replica::Name).unwrap();
        assert_eq!(e.uri().host(), Some("profile-headless"));
    }

    #[tokio::test]
    async fn a_resolver_answer_is_sorted_and_deduplicated() {
        let (a, b) = (addr("127.0.0.2:1"), addr("127.0.0.1:1"));
        let r = Resolver::from_fn(move |_, _| Box::pin(async move { vec![a, b, a] }));
        assert_eq!(r.resolve("x", 1).await, vec![b, a]);
        // The OS resolver knows localhost; an unknown name is no answer, not an error.
        assert!(!Resolver::system().resolve("localhost", 1).await.is_empty());
        assert!(
            Resolver::system()
                .resolve("no-such-host.invalid", 1)
                .await
                .is_empty()
        );
    }

    #[tokio::test]
    async fn the_watcher_follows_the_name_and_stops_with_its_sink() {
        let answer = Arc::new(std::sync::Mutex::new(vec![addr("127.0.0.1:7")]));
        let served = answer.clone();
        let discovery = Discovery {
            resolver: Resolver::from_fn(move |_, _| {
                let v = served.lock().unwrap().clone();
                Box::pin(async move { v })
            }),
            refresh: Some(Duration::from_millis(10)),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let target = Target::parse("http://svc:7").unwrap().unwrap();
        let task = watch(
            target,
            discovery,
            set(&[Replica::Name]),
            || true,
            move |c| {
                let c = match c {
                    Change::Insert(k, _) => (true, k),
                    Change::Remove(k) => (false, k),
                };
                if tx.send(c).is_ok() {
                    Taken::Yes
                } else {
                    Taken::Stop
                }
            },
        );
        let a = Replica::Addr(addr("127.0.0.1:7"));
        let b = Replica::Addr(addr("127.0.0.2:7"));
        assert_eq!(rx.recv().await, Some((true, a)));
        assert_eq!(rx.recv().await, Some((false, Replica::Name)));
        *answer.lock().unwrap() = vec![addr("127.0.0.2:7")];
        assert_eq!(rx.recv().await, Some((true, b)));
        assert_eq!(rx.recv().await, Some((false, a)));
        drop(rx);
        *answer.lock().unwrap() = vec![addr("127.0.0.3:7")];
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the watcher ends once nobody listens")
            .unwrap();
    }

    /// A health server on 127.0.0.1 that counts the calls it takes.
    async fn counting_server() -> (SocketAddr, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
        let (addr, calls, task, _) = counting_server_with_reporter().await;
        (addr, calls, task)
    }

    async fn counting_server_with_reporter() -> (
        SocketAddr,
        Arc<AtomicU64>,
        tokio::task::JoinHandle<()>,
        tonic_health::server::HealthReporter,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let calls = Arc::new(AtomicU64::new(0));
        let counted = calls.clone();
        let (reporter, health) = tonic_health::server::health_reporter();
        let health = tonic::service::interceptor::InterceptedService::new(
            health,
            move |req: tonic::Request<()>| -> Result<tonic::Request<()>, tonic::Status> {
                counted.fetch_add(1, Ordering::Relaxed);
                Ok(req)
            },
        );
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(health)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
        (addr, calls, task, reporter)
    }

    /// Calls `channel` until `done` says so, at most 2,000 times.
    async fn call_until(channel: &Channel, mut done: impl FnMut() -> bool) {
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        let mut client = HealthClient::new(channel.clone());
        for _ in 0..2_000 {
            // The service name is unknown to the reporter: NOT_FOUND, still a call taken.
            let _ = client.check(HealthCheckRequest::default()).await;
            if done() {
                return;
            }
        }
        panic!("condition not reached");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_balanced_channel_spreads_calls_and_follows_the_name() {
        let (a, a_calls, _a) = counting_server().await;
        let (b, b_calls, _b) = counting_server().await;
        let answer = Arc::new(std::sync::Mutex::new(vec![a, b]));
        let served = answer.clone();
        let discovery = Discovery {
            // Each replica has its own port here; in a cluster each pod has its own address.
            resolver: Resolver::from_fn(move |_, _| {
                let v = served.lock().unwrap().clone();
                Box::pin(async move { v })
            }),
            refresh: Some(Duration::from_millis(20)),
        };
        let channel = balanced_channel("http://svc.invalid:50052", discovery).unwrap();
        // One channel, both replicas take calls.
        call_until(&channel, || {
            a_calls.load(Ordering::Relaxed) >= 5 && b_calls.load(Ordering::Relaxed) >= 5
        })
        .await;
        // B leaves the name: after the next resolution, calls go to A only.
        answer.lock().unwrap().retain(|x| *x == a);
        let mut last_b = b_calls.load(Ordering::Relaxed);
        let mut quiet = 0;
        call_until(&channel, || {
            let now = b_calls.load(Ordering::Relaxed);
            quiet = if now == last_b { quiet + 1 } else { 0 };
            last_b = now;
            quiet >= 50
        })
        .await;
        // B comes back and takes calls again.
        answer.lock().unwrap().push(b);
        let from = b_calls.load(Ordering::Relaxed);
        call_until(&channel, || b_calls.load(Ordering::Relaxed) >= from + 5).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lazy_channel_reaches_a_name_through_the_os_resolver() {
        let (addr, calls, _server) = counting_server().await;
        // `localhost` is a name: resolved by the OS, its 127.0.0.1 becomes the replica.
        let channel =
            crate::grpc::lazy_channel(&format!("http://localhost:{}", addr.port())).unwrap();
        call_until(&channel, || calls.load(Ordering::Relaxed) >= 20).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_in_flight_on_a_removed_replica_finishes() {
        use tonic_health::pb::{
            HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
        };
        let (a, a_calls, _a) = counting_server().await;
        let (b, b_calls, _b, b_health) = counting_server_with_reporter().await;
        b_health
            .set_service_status("x", tonic_health::ServingStatus::Serving)
            .await;
        let answer = Arc::new(std::sync::Mutex::new(vec![b]));
        let served = answer.clone();
        let discovery = Discovery {
            resolver: Resolver::from_fn(move |_, _| {
                let v = served.lock().unwrap().clone();
                Box::pin(async move { v })
            }),
            refresh: Some(Duration::from_millis(20)),
        };
        let channel = balanced_channel("http://svc.invalid:50052", discovery).unwrap();
        call_until(&channel, || b_calls.load(Ordering::Relaxed) >= 1).await;
        // A long call (a Watch stream) on B, the only replica.
        let mut stream = HealthClient::new(channel.clone())
            .watch(HealthCheckRequest {
                service: "x".into(),
            })
            .await
            .expect("watch on B")
            .into_inner();
        let first = stream.message().await.unwrap().unwrap();
        assert_eq!(first.status(), ServingStatus::Serving);
        // B leaves the name and the channel: calls now go to A alone.
        *answer.lock().unwrap() = vec![a];
        call_until(&channel, || a_calls.load(Ordering::Relaxed) >= 20).await;
        let b_then = b_calls.load(Ordering::Relaxed);
        call_until(&channel, || a_calls.load(Ordering::Relaxed) >= 40).await;
        assert_eq!(
            b_calls.load(Ordering::Relaxed),
            b_then,
            "B is out of the channel"
        );
        // The call B held goes on to its end.
        b_health
            .set_service_status("x", tonic_health::ServingStatus::NotServing)
            .await;
        let next = tokio::time::timeout(Duration::from_secs(5), stream.message())
            .await
            .expect("the stream still flows")
            .unwrap()
            .unwrap();
        assert_eq!(next.status(), ServingStatus::NotServing);
    }
}
