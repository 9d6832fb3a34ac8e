//! Admission: how many calls a service works on at once, who waits for a slot, and who is
//! refused.
//!
//! - **The limit follows latency.** Calls in flight are bounded by a limit that TCP Vegas
//!   (`tower-acc`'s algorithm, fed here by hand) moves between `STRIDE_MIN_IN_FLIGHT` and
//!   `STRIDE_MAX_IN_FLIGHT`: it grows while latency stays near the least seen and shrinks when
//!   latency says calls are queueing for CPU or the database. A static limit far above the knee
//!   let a flood queue hundreds of calls inside the process (160 ms for a 3 ms read).
//! - **Calls over the limit wait their turn, fairly.** They wait in a short queue
//!   (`STRIDE_ADMISSION_QUEUE`), served round robin per client (the bearer token, else the client
//!   address the gateway forwards, else the peer), so a client with one call waiting is served
//!   within one turn of every other client, however many calls a flood has queued. When the
//!   queue is full, a newcomer takes the place of the last call of the client with the most
//!   queued, if that client has more than the newcomer.
//! - **The excess is refused at once** with RESOURCE_EXHAUSTED (queue full, or a wait longer
//!   than `STRIDE_ADMISSION_WAIT_MS`), before any token check or database work, so refusals are
//!   cheap and clients retry with backoff (docs/api.md). gRPC health checks are never limited.
//!
//! Written here rather than with `tower::limit`: that limit waits in `poll_ready`, unordered,
//! with no refusal and no notion of a client; `tower-acc`'s layer likewise. Only the algorithm is
//! taken from `tower-acc`.

use std::{
    collections::{HashMap, VecDeque},
    hash::BuildHasher,
    sync::{Arc, Mutex, MutexGuard},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use tokio::sync::oneshot;
use tonic::Status;
use tower_acc::{Algorithm as _, Vegas};

mod slots;
pub use slots::{FairSlot, FairSlots};

/// Paths never limited.
const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// Admission settings (docs/configuration.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The limit never grows above this (`STRIDE_MAX_IN_FLIGHT`, default 512).
    pub max_in_flight: usize,
    /// Nor falls below this (`STRIDE_MIN_IN_FLIGHT`, default 32).
    pub min_in_flight: usize,
    /// Calls that may wait for a slot (`STRIDE_ADMISSION_QUEUE`, default 128).
    pub queue: usize,
    /// The longest a call waits for a slot (`STRIDE_ADMISSION_WAIT_MS`, default 1000).
    pub max_wait: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_in_flight: 512,
            min_in_flight: 32,
            queue: 128,
            max_wait: Duration::from_secs(1),
        }
    }
}

impl Config {
    /// Reads the four variables over `d`; the floor is kept at or below the ceiling, both at
    /// least 1.
    pub fn read(env: &mut crate::config::Env, d: Self) -> Self {
        let max_in_flight = env.parse_or("STRIDE_MAX_IN_FLIGHT", d.max_in_flight).max(1);
        let min_in_flight = env
            .parse_or("STRIDE_MIN_IN_FLIGHT", d.min_in_flight)
            .clamp(1, max_in_flight);
        Self {
            max_in_flight,
            min_in_flight,
            queue: env.parse_or("STRIDE_ADMISSION_QUEUE", d.queue),
            max_wait: Duration::from_millis(
                env.parse_or("STRIDE_ADMISSION_WAIT_MS", d.max_wait.as_millis() as u64),
            ),
        }
    }

    /// The defaults for a service whose calls wait on something other than its CPU (a model, a
    /// hashing line that bounds itself): a floor of 256, so slow calls do not hold every slot
    /// while cheap ones queue behind them.
    pub fn waiting_on_io() -> Self {
        Self {
            min_in_flight: 256,
            ..Self::default()
        }
    }

    /// A fixed limit of `n` and no queue: every call over `n` is refused at once.
    pub fn fixed(n: usize) -> Self {
        Self {
            max_in_flight: n.max(1),
            min_in_flight: n.max(1),
            queue: 0,
            max_wait: Duration::ZERO,
        }
    }
}

/// The shared state of one service's admission.
#[derive(Debug)]
pub struct Admission {
    cfg: Config,
    state: Mutex<State>,
    hasher: std::hash::RandomState,
}

#[derive(Debug)]
struct State {
    limit: Vegas,
    in_flight: usize,
    queued: usize,
    /// Waiting calls per client, oldest first.
    waiting: HashMap<u64, VecDeque<Waiter>>,
    /// Clients with calls waiting, in turn order; each appears once.
    turns: VecDeque<u64>,
    next_id: u64,
    /// The limit last written to `stride_admission_limit`, so the gauge is touched only when
    /// it moves (not on every call, under this lock).
    reported: usize,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    slot: oneshot::Sender<()>,
}

impl State {
    fn limit(&self, cfg: &Config) -> usize {
        self.limit
            .max_concurrency()
            .clamp(cfg.min_in_flight, cfg.max_in_flight)
    }

    /// Queues a call of `client`, making room fairly when full; false when refused.
    fn enqueue(&mut self, cfg: &Config, client: u64, waiter: Waiter) -> bool {
        if self.queued >= cfg.queue {
            let mine = self.waiting.get(&client).map_or(0, VecDeque::len);
            let heaviest = self
                .waiting
                .iter()
                .max_by_key(|(_, q)| q.len())
                .map(|(k, q)| (*k, q.len()));
            match heaviest {
                Some((other, n)) if n > mine + 1 => {
                    // Dropping its sender tells that call it was refused.
                    self.remove_last(other);
                }
                _ => return false,
            }
        }
        let q = self.waiting.entry(client).or_default();
        if q.is_empty() {
            self.turns.push_back(client);
        }
        q.push_back(waiter);
        self.queued += 1;
        true
    }

    fn remove_last(&mut self, client: u64) {
        if let Some(q) = self.waiting.get_mut(&client)
            && q.pop_back().is_some()
        {
            self.queued -= 1;
            if q.is_empty() {
                self.forget(client);
            }
        }
    }

    fn remove(&mut self, client: u64, id: u64) {
        if let Some(q) = self.waiting.get_mut(&client) {
            let before = q.len();
            q.retain(|w| w.id != id);
            self.queued -= before - q.len();
            if q.is_empty() {
                self.forget(client);
            }
        }
    }

    fn forget(&mut self, client: u64) {
        self.waiting.remove(&client);
        self.turns.retain(|k| *k != client);
    }

    /// The next waiting call, round robin over clients.
    fn next_waiter(&mut self) -> Option<Waiter> {
        while let Some(client) = self.turns.pop_front() {
            let Some(q) = self.waiting.get_mut(&client) else {
                continue;
            };
            let w = q.pop_front();
            if q.is_empty() {
                self.waiting.remove(&client);
            } else {
                self.turns.push_back(client);
            }
            if let Some(w) = w {
                self.queued -= 1;
                return Some(w);
            }
        }
        None
    }

    /// Hands free slots to waiting calls; a call that stopped waiting is skipped.
    fn fill(&mut self, cfg: &Config) {
        while self.in_flight < self.limit(cfg) {
            let Some(w) = self.next_waiter() else { break };
            if w.slot.send(()).is_ok() {
                self.in_flight += 1;
            }
        }
    }
}

impl Admission {
    pub fn new(cfg: Config) -> Arc<Self> {
        let limit = Vegas::builder()
            .initial_limit(cfg.min_in_flight)
            .max_limit(cfg.max_in_flight)
            // Vegas takes a fresh latency as the no-load baseline every `probe × limit` calls;
            // the default (30) re-baselines on a loaded latency several times a second under a
            // flood and ratchets the limit up. Every ~100 × limit calls still follows a real
            // change of the baseline (a slower database) within seconds.
            .probe_multiplier(100)
            .build();
        Arc::new(Self {
            cfg,
            state: Mutex::new(State {
                limit,
                in_flight: 0,
                queued: 0,
                waiting: HashMap::new(),
                turns: VecDeque::new(),
                next_id: 0,
                reported: 0,
            }),
            hasher: std::hash::RandomState::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panic elsewhere cannot leave
        // it half-updated: recover rather than refuse everything from then on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The limit now (for metrics and tests).
    pub fn limit(&self) -> usize {
        self.lock().limit(&self.cfg)
    }

    /// A slot for a call of `client`, at once or after waiting its turn; `None` when refused.
    pub async fn admit(self: &Arc<Self>, client: u64) -> Option<Permit> {
        let rx = {
            let mut s = self.lock();
            if s.queued == 0 && s.in_flight < s.limit(&self.cfg) {
                s.in_flight += 1;
                return Some(Permit::new(self.clone()));
            }
            let (tx, rx) = oneshot::channel();
            s.next_id = s.next_id.wrapping_add(1);
            let id = s.next_id;
            if !s.enqueue(&self.cfg, client, Waiter { id, slot: tx }) {
                return None;
            }
            Waiting {
                admission: self.clone(),
                client,
                id,
                rx,
                admitted: false,
            }
        };
        let mut waiting = rx;
        match tokio::time::timeout(self.cfg.max_wait, &mut waiting.rx).await {
            Ok(Ok(())) => {
                waiting.admitted = true;
                Some(Permit::new(self.clone()))
            }
            // Evicted for a lighter client, or waited too long.
            _ => None,
        }
    }

    /// The client a request belongs to: its bearer token, else the client address the gateway
    /// forwards, else the peer.
    pub fn client_of<B>(&self, req: &http::Request<B>) -> u64 {
        let forwarded = req
            .headers()
            .get(crate::authn::CLIENT_IP_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let ip = forwarded.or_else(|| {
            req.extensions()
                .get::<tonic::transport::server::TcpConnectInfo>()
                .and_then(|i| i.remote_addr())
                .map(|a| a.ip())
        });
        client_key(&self.hasher, req.headers(), ip)
    }

    fn release(&self, started: Instant, finished: bool) {
        let mut s = self.lock();
        if finished {
            let in_flight = s.in_flight;
            s.limit.update(started.elapsed(), in_flight, false, false);
        }
        s.in_flight = s.in_flight.saturating_sub(1);
        s.fill(&self.cfg);
        let limit = s.limit(&self.cfg);
        let moved = std::mem::replace(&mut s.reported, limit) != limit;
        drop(s);
        if moved {
            LIMIT.set(limit as f64);
        }
    }
}

/// A call waiting for a slot; dropping it (the caller went away, or the wait ended) takes it
/// out of the queue, and gives back a slot that arrived meanwhile.
struct Waiting {
    admission: Arc<Admission>,
    client: u64,
    id: u64,
    rx: oneshot::Receiver<()>,
    admitted: bool,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.admitted {
            return;
        }
        let a = &self.admission;
        let mut s = a.lock();
        // Slots are handed over under the lock, so this check cannot race with one.
        if self.rx.try_recv().is_ok() {
            s.in_flight = s.in_flight.saturating_sub(1);
            s.fill(&a.cfg);
        } else {
            s.remove(self.client, self.id);
        }
    }
}

/// One admitted call; dropping it frees the slot and, if the call finished, teaches the limit
/// its latency.
pub struct Permit {
    admission: Arc<Admission>,
    started: Instant,
    finished: bool,
}

impl Permit {
    fn new(admission: Arc<Admission>) -> Self {
        Self {
            admission,
            started: Instant::now(),
            finished: false,
        }
    }

    /// The call produced its answer: its latency counts (a cancelled call's does not).
    pub fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.release(self.started, self.finished);
    }
}

#[derive(Clone, Debug)]
pub struct ShedLayer {
    admission: Arc<Admission>,
}

impl ShedLayer {
    pub fn new(cfg: Config) -> Self {
        Self {
            admission: Admission::new(cfg),
        }
    }
}

impl<S> tower::Layer<S> for ShedLayer {
    type Service = Shed<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            admission: self.admission.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Shed<S> {
    inner: S,
    admission: Arc<Admission>,
}

impl<S, B, RB> tower::Service<http::Request<B>> for Shed<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path().starts_with(HEALTH_PREFIX) {
            return Box::pin(self.inner.call(req));
        }
        // The inner service was made ready for this call; a clone takes its place for the
        // next (tower's usual swap, as the call may wait for a slot first).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let admission = self.admission.clone();
        let client = admission.client_of(&req);
        Box::pin(async move {
            let Some(permit) = admission.admit(client).await else {
                SHED.with_label_values(&[] as &[&str]).inc();
                return Ok(Status::resource_exhausted(
                    "the service is at capacity; retry with backoff",
                )
                .into_http());
            };
            let res = inner.call(req).await;
            permit.finish();
            res
        })
    }
}

/// The client a call belongs to, as a hash: its bearer token, else `ip` (the client address
/// as the caller knows it).
pub fn client_key(
    hasher: &std::hash::RandomState,
    headers: &http::HeaderMap,
    ip: Option<std::net::IpAddr>,
) -> u64 {
    match headers.get(http::header::AUTHORIZATION) {
        Some(v) => hasher.hash_one(v.as_bytes()),
        None => hasher.hash_one(ip),
    }
}

static SHED: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    crate::metrics::counter(
        "stride_calls_shed_total",
        "Calls refused with RESOURCE_EXHAUSTED because the service was at capacity",
        &[],
    )
});

static LIMIT: std::sync::LazyLock<prometheus::Gauge> = std::sync::LazyLock::new(|| {
    crate::metrics::gauge(
        "stride_admission_limit",
        "Calls the service works on at once now (the latency-based limit)",
        &[],
    )
    .with_label_values(&[] as &[&str])
});

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer as _, ServiceExt as _};

    fn request(path: &str, token: &str) -> http::Request<()> {
        http::Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
    }

    fn code(res: &http::Response<String>) -> Option<tonic::Code> {
        Status::from_header_map(res.headers()).map(|s| s.code())
    }

    /// A service whose calls wait for the gate.
    fn gated() -> (
        Arc<tokio::sync::Semaphore>,
        impl tower::Service<
            http::Request<()>,
            Response = http::Response<String>,
            Error = std::convert::Infallible,
            Future = impl Send,
        > + Clone
        + Send
        + 'static,
    ) {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let g = gate.clone();
        let svc = tower::service_fn(move |req: http::Request<()>| {
            let g = g.clone();
            async move {
                g.acquire().await.map(|p| p.forget()).ok();
                Ok::<_, std::convert::Infallible>(http::Response::new(req.uri().path().to_owned()))
            }
        });
        (gate, svc)
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    #[tokio::test]
    async fn calls_beyond_capacity_are_refused_at_once_and_health_never() {
        let (gate, svc) = gated();
        let svc = ShedLayer::new(Config::fixed(1)).layer(svc);
        // The first call takes the only slot and waits.
        let first = tokio::spawn(svc.clone().oneshot(request("/x.S/A", "a")));
        settle().await;
        // The second is refused without waiting (no queue).
        let refused = tokio::time::timeout(
            Duration::from_secs(5),
            svc.clone().oneshot(request("/x.S/B", "a")),
        )
        .await
        .expect("refused at once")
        .unwrap();
        assert_eq!(code(&refused), Some(tonic::Code::ResourceExhausted));
        // A health check is let through (it waits for the gate like any call).
        let health = tokio::spawn(
            svc.clone()
                .oneshot(request("/grpc.health.v1.Health/Check", "a")),
        );
        settle().await;
        gate.add_permits(2);
        assert_eq!(first.await.unwrap().unwrap().body(), "/x.S/A");
        assert_eq!(
            health.await.unwrap().unwrap().body(),
            "/grpc.health.v1.Health/Check"
        );
        // The slot is free again.
        let next = tokio::spawn(svc.oneshot(request("/x.S/C", "a")));
        settle().await;
        gate.add_permits(1);
        assert_eq!(next.await.unwrap().unwrap().body(), "/x.S/C");
    }

    #[tokio::test]
    async fn waiting_calls_are_served_round_robin_by_client() {
        let (gate, svc) = gated();
        let cfg = Config {
            queue: 16,
            max_wait: Duration::from_secs(30),
            ..Config::fixed(1)
        };
        let svc = ShedLayer::new(cfg).layer(svc);
        let busy = tokio::spawn(svc.clone().oneshot(request("/x.S/busy", "flood")));
        settle().await;
        // The flood queues five calls, then a light client one.
        let mut flood = Vec::new();
        for i in 0..5 {
            flood.push(tokio::spawn(
                svc.clone().oneshot(request(&format!("/x.S/f{i}"), "flood")),
            ));
            settle().await;
        }
        let light = tokio::spawn(svc.clone().oneshot(request("/x.S/light", "light")));
        settle().await;
        // One slot: the busy call ends, then the first flood call, then the light client's
        // turn comes before the other four flood calls.
        gate.add_permits(1);
        busy.await.unwrap().unwrap();
        gate.add_permits(1);
        settle().await;
        gate.add_permits(1);
        assert_eq!(light.await.unwrap().unwrap().body(), "/x.S/light");
        let done = flood.iter().filter(|f| f.is_finished()).count();
        assert_eq!(
            done, 1,
            "only the first flood call went before the light one"
        );
        gate.add_permits(10);
        for f in flood {
            assert_eq!(f.await.unwrap().unwrap().status(), 200);
        }
    }

    #[tokio::test]
    async fn a_full_queue_makes_room_for_a_lighter_client_and_refuses_the_rest() {
        let (gate, svc) = gated();
        let cfg = Config {
            queue: 3,
            max_wait: Duration::from_secs(30),
            ..Config::fixed(1)
        };
        let svc = ShedLayer::new(cfg).layer(svc);
        let busy = tokio::spawn(svc.clone().oneshot(request("/x.S/busy", "flood")));
        settle().await;
        let mut flood = Vec::new();
        for i in 0..3 {
            flood.push(tokio::spawn(
                svc.clone().oneshot(request(&format!("/x.S/f{i}"), "flood")),
            ));
            settle().await;
        }
        // The queue is full: another flood call is refused at once...
        let more = svc
            .clone()
            .oneshot(request("/x.S/more", "flood"))
            .await
            .unwrap();
        assert_eq!(code(&more), Some(tonic::Code::ResourceExhausted));
        // ...while the light client takes the flood's last place, which is refused.
        let light = tokio::spawn(svc.clone().oneshot(request("/x.S/light", "light")));
        let evicted = flood.pop().unwrap().await.unwrap().unwrap();
        assert_eq!(code(&evicted), Some(tonic::Code::ResourceExhausted));
        gate.add_permits(10);
        busy.await.unwrap().unwrap();
        assert_eq!(light.await.unwrap().unwrap().body(), "/x.S/light");
        for f in flood {
            assert_eq!(f.await.unwrap().unwrap().status(), 200);
        }
    }

    #[tokio::test]
    async fn a_call_that_waits_too_long_is_refused_and_leaves_no_slot_behind() {
        let (gate, svc) = gated();
        let cfg = Config {
            queue: 4,
            max_wait: Duration::from_millis(100),
            ..Config::fixed(1)
        };
        let layer = ShedLayer::new(cfg);
        let admission = layer.admission.clone();
        let svc = layer.layer(svc);
        let busy = tokio::spawn(svc.clone().oneshot(request("/x.S/busy", "a")));
        settle().await;
        let late = svc
            .clone()
            .oneshot(request("/x.S/late", "b"))
            .await
            .unwrap();
        assert_eq!(code(&late), Some(tonic::Code::ResourceExhausted));
        // A waiting caller that goes away leaves the queue too.
        let gone = tokio::spawn(svc.clone().oneshot(request("/x.S/gone", "c")));
        settle().await;
        gone.abort();
        settle().await;
        assert_eq!(admission.lock().queued, 0);
        gate.add_permits(1);
        busy.await.unwrap().unwrap();
        assert_eq!(admission.lock().in_flight, 0);
        let next = tokio::spawn(svc.oneshot(request("/x.S/next", "a")));
        gate.add_permits(1);
        assert_eq!(next.await.unwrap().unwrap().body(), "/x.S/next");
    }

    #[tokio::test]
    async fn the_limit_shrinks_when_latency_grows_and_stays_within_bounds() {
        let cfg = Config {
            max_in_flight: 64,
            min_in_flight: 4,
            queue: 0,
            max_wait: Duration::ZERO,
        };
        let a = Admission::new(cfg);
        // Calls at concurrency 4 take 1 ms: the least latency seen.
        for _ in 0..30 {
            let permits: Vec<_> = futures::future::join_all((0..4).map(|_| a.admit(1))).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
            permits.into_iter().flatten().for_each(Permit::finish);
        }
        let grown = a.limit();
        assert!(grown > 4, "latency stayed flat, the limit grew: {grown}");
        // Then every call takes 20 ms at the limit's concurrency: queueing.
        for _ in 0..4 {
            let n = a.limit();
            let permits: Vec<_> = futures::future::join_all((0..n).map(|_| a.admit(1))).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            permits.into_iter().flatten().for_each(Permit::finish);
        }
        let shrunk = a.limit();
        assert!(
            shrunk < grown,
            "latency grew, the limit fell: {grown} -> {shrunk}"
        );
        assert!(shrunk >= 4);
    }
}
