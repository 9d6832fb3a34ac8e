//! Per-client rate limits by the method's rate-limit class (`stride.options.v1.policy`).
//!
//! GCRA (a token bucket without a timer, from `governor`): each (client, class) keeps one
//! "theoretical arrival time"; a call is allowed while that time is at most `burst` intervals
//! ahead of now. A client is an IPv4 address or an IPv6 /64. State is in memory, per gateway
//! replica, so the effective limit scales with the replicas; the services keep their own durable
//! limits where it matters (auth's login and code throttles). A timer drops the keys whose
//! allowance is whole again, in a background task, never on a caller's path (review L12); when the
//! map grows past [`MAX_KEYS`] between two ticks (a client rotating through addresses), the
//! calls wake that task early instead of sweeping themselves.

use std::{
    convert::Infallible,
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use futures::future::BoxFuture;
use governor::{
    Quota,
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use stride_kit::{AppError, policy::Policies};
use stride_proto::stride::options::v1::RateLimitClass;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// `count` calls per `window`, with up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub window: Duration,
    pub burst: u32,
}

impl Rate {
    /// One call per `window / count`, `burst` at once.
    fn quota(&self) -> Quota {
        let interval = (self.window / self.count.max(1)).max(Duration::from_nanos(1));
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        // The interval is at least 1 ns, so `with_period` always has a quota to give.
        Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst)
    }

    /// `20/m:10` = 20 per minute, bursts of 10 (`s`, `m`, `h`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not <count>/<s|m|h>:<burst>, e.g. 20/m:10");
        let (rate, burst) = s.split_once(':').ok_or_else(bad)?;
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let window = match unit {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let burst: u32 = burst.trim().parse().map_err(|_| bad())?;
        if count == 0 || burst == 0 {
            return Err(bad());
        }
        Ok(Self {
            count,
            window,
            burst,
        })
    }
}

/// The limit of each class; `None` = unlimited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub default: Option<Rate>,
    pub credentials: Option<Rate>,
    pub expensive: Option<Rate>,
}

/// Defaults: generous for ordinary calls, tight for password checks and sign-ups (auth adds
/// per-account limits behind this), tighter for LLM calls.
pub const DEFAULT_RATE_LIMITS: &str = "default=100/s:200,credentials=30/m:20,expensive=20/m:5";

impl RateLimits {
    pub fn off() -> Self {
        Self {
            default: None,
            credentials: None,
            expensive: None,
        }
    }

    /// `off`, or a comma list of `class=rate` (classes: default, credentials, expensive; a class
    /// not named is unlimited).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut limits = Self::off();
        if s.trim() == "off" {
            return Ok(limits);
        }
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (class, rate) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not class=rate"))?;
            let rate = Some(Rate::parse(rate.trim())?);
            match class.trim() {
                "default" => limits.default = rate,
                "credentials" => limits.credentials = rate,
                "expensive" => limits.expensive = rate,
                other => return Err(format!("unknown rate-limit class {other:?}")),
            }
        }
        Ok(limits)
    }
}

/// One keyed GCRA limiter per class that has a rate (governor: a cell per key in a sharded
/// map, no global lock). Generic over the clock so tests can move time by hand.
pub struct Limiter<C: Clock = DefaultClock> {
    default: Option<Keyed<C>>,
    credentials: Option<Keyed<C>>,
    expensive: Option<Keyed<C>>,
    clock: C,
    /// Keys held (over all classes) beyond which the sweeper is woken early.
    max_keys: usize,
    /// Calls checked; every [`CHECK_SIZE_EVERY`]th one looks at the map's size.
    checked: AtomicUsize,
    /// Wakes [`Limiter::sweep`] before its next tick.
    pressure: Notify,
}

/// Keys held beyond which the sweep runs early (a key is about 100 bytes with the map's share).
pub const MAX_KEYS: usize = 100_000;
/// How often (in calls) a call looks at the number of keys: the count visits every shard.
const CHECK_SIZE_EVERY: usize = 1024;

type Keyed<C> = governor::RateLimiter<
    ClientKey,
    DefaultKeyedStateStore<ClientKey>,
    C,
    NoOpMiddleware<<C as Clock>::Instant>,
>;

/// Whom a limit counts against: an IPv4 address, or the /64 network of an IPv6 address (one host
/// is routinely given a whole /64, so its single addresses are free for it to rotate through).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl From<IpAddr> for ClientKey {
    /// The same network auth's per-address throttles key by ([`stride_kit::authn::client_network`]).
    fn from(ip: IpAddr) -> Self {
        Self(stride_kit::authn::client_network(ip))
    }
}

/// How often keys whose bucket is full again are dropped.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl Limiter<DefaultClock> {
    pub fn new(limits: &RateLimits) -> Self {
        Self::with_clock(limits, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limiter<C> {
    pub fn with_clock(limits: &RateLimits, clock: C) -> Self {
        let keyed = |rate: Option<Rate>| {
            rate.map(|r| governor::RateLimiter::dashmap_with_clock(r.quota(), clock.clone()))
        };
        Self {
            default: keyed(limits.default),
            credentials: keyed(limits.credentials),
            expensive: keyed(limits.expensive),
            clock: clock.clone(),
            max_keys: MAX_KEYS,
            checked: AtomicUsize::new(0),
            pressure: Notify::new(),
        }
    }

    /// The same with another bound on keys before an early sweep.
    #[cfg(test)]
    fn with_max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    fn of(&self, class: RateLimitClass) -> Option<&Keyed<C>> {
        match class {
            RateLimitClass::Credentials => self.credentials.as_ref(),
            RateLimitClass::Expensive => self.expensive.as_ref(),
            RateLimitClass::Unspecified => self.default.as_ref(),
        }
    }

    /// Ok, or how long until the call would be allowed. A class without a rate is unlimited.
    pub fn check(&self, class: RateLimitClass, ip: IpAddr) -> Result<(), Duration> {
        let Some(l) = self.of(class) else {
            return Ok(());
        };
        let verdict = l
            .check_key(&ClientKey::from(ip))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()));
        if self
            .checked
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(CHECK_SIZE_EVERY)
            && self.len() > self.max_keys
        {
            // Never sweep here: the sweeper runs off every caller's path.
            self.pressure.notify_one();
        }
        verdict
    }

    /// Forgets clients whose allowance is whole again (their state equals a fresh one).
    pub fn retain_recent(&self) {
        for l in [&self.default, &self.credentials, &self.expensive]
            .into_iter()
            .flatten()
        {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Keys held, over all classes.
    fn len(&self) -> usize {
        [&self.default, &self.credentials, &self.expensive]
            .into_iter()
            .flatten()
            .map(|l| l.len())
            .sum()
    }
}

impl Limiter<DefaultClock> {
    /// Sweeps stale keys every [`SWEEP_EVERY`] until `shutdown` is cancelled.
    pub async fn sweep(self: Arc<Self>, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = tick.tick() => self.retain_recent(),
                () = self.pressure.notified() => {
                    tracing::debug!(keys = self.len(), "rate-limit keys over the bound: early sweep");
                    self.retain_recent();
                }
            }
        }
    }
}

#[derive(Clone)]
pub struct RateLimitLayer {
    policies: Arc<Policies>,
    limiter: Arc<Limiter>,
}

impl RateLimitLayer {
    pub fn new(limiter: Arc<Limiter>, policies: Arc<Policies>) -> Self {
        Self { policies, limiter }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RateLimitService<S> {
    inner: S,
    layer: RateLimitLayer,
}

impl<S, B> tower::Service<http::Request<B>> for RateLimitService<S>
where
    S: tower::Service<
            http::Request<B>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let class = self
            .layer
            .policies
            .get(req.uri().path())
            .map_or(RateLimitClass::Unspecified, |p| p.rate_limit());
        let peer = crate::conn::client_ip(req.extensions());
        if let Some(ip) = peer
            && let Err(wait) = self.layer.limiter.check(class, ip)
        {
            let status: tonic::Status = AppError::ResourceExhausted {
                reason: "RATE_LIMITED",
                message: format!(
                    "too many requests from this client; retry in {} ms",
                    wait.as_millis().max(1)
                ),
            }
            .into();
            return Box::pin(async move { Ok(status.into_http()) });
        }
        Box::pin(async move { inner.call(req).await })
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn parses_rates_and_classes() {
        assert_eq!(
            Rate::parse("20/m:10").unwrap(),
            Rate {
                count: 20,
                window: Duration::from_secs(60),
                burst: 10
            }
        );
        for bad in ["20/m", "x/m:1", "20/d:1", "0/s:1", "1/s:0", ""] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        let l = RateLimits::parse(DEFAULT_RATE_LIMITS).unwrap();
        assert_eq!(l.credentials.unwrap().burst, 20);
        assert_eq!(RateLimits::parse("off").unwrap(), RateLimits::off());
        let only = RateLimits::parse("expensive=1/h:1").unwrap();
        assert!(only.default.is_none() && only.credentials.is_none());
        assert!(RateLimits::parse("cheap=1/s:1").is_err());
    }

    fn limiter(spec: &str) -> (Limiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::parse(spec).unwrap();
        (Limiter::with_clock(&limits, clock.clone()), clock)
    }

    const CREDENTIALS: RateLimitClass = RateLimitClass::Credentials;
    const EXPENSIVE: RateLimitClass = RateLimitClass::Expensive;

    #[test]
    fn allows_the_burst_then_the_rate_per_client_and_class() {
        let (l, clock) = limiter("credentials=10/s:3,expensive=10/s:3");
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(CREDENTIALS, a).is_ok());
        }
        let wait = l.check(CREDENTIALS, a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        // Other clients and other classes have their own allowance.
        assert!(l.check(CREDENTIALS, b).is_ok());
        assert!(l.check(EXPENSIVE, a).is_ok());
        // A class without a rate is unlimited.
        for _ in 0..100 {
            assert!(l.check(RateLimitClass::Unspecified, a).is_ok());
        }
        // One interval later, one more call.
        clock.advance(Duration::from_millis(100));
        assert!(l.check(CREDENTIALS, a).is_ok());
        assert!(l.check(CREDENTIALS, a).is_err());
        // After a quiet second the full burst is back.
        clock.advance(Duration::from_secs(1));
        for _ in 0..3 {
            assert!(l.check(CREDENTIALS, a).is_ok());
        }
    }

    #[test]
    fn an_ipv6_64_is_one_client_and_ipv4_is_by_address() {
        let (l, _clock) = limiter("credentials=1/m:2");
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:fffe".parse().unwrap();
        let next_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.check(CREDENTIALS, one).is_ok());
        assert!(l.check(CREDENTIALS, same_64).is_ok());
        // The /64 shares one bucket: a fresh address in it does not bring a fresh allowance.
        assert!(l.check(CREDENTIALS, same_64).is_err());
        assert!(
            l.check(CREDENTIALS, "2001:db8:1:2::42".parse().unwrap())
                .is_err()
        );
        assert!(l.check(CREDENTIALS, next_64).is_ok());
        assert_eq!(
            ClientKey::from(one),
            ClientKey::from("2001:db8:1:2:abcd::".parse::<IpAddr>().unwrap())
        );

        // IPv4 clients are single addresses; an IPv4-mapped IPv6 peer is that IPv4 client.
        let v4: IpAddr = "198.51.100.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert!(l.check(CREDENTIALS, v4).is_ok());
        assert!(l.check(CREDENTIALS, mapped).is_ok());
        assert!(l.check(CREDENTIALS, v4).is_err());
        assert!(
            l.check(CREDENTIALS, "198.51.100.8".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn the_sweep_forgets_clients_whose_allowance_is_whole_again() {
        let (l, clock) = limiter("credentials=10/s:2,expensive=1/h:1");
        for i in 0..100u8 {
            l.check(CREDENTIALS, IpAddr::from([10, 0, 0, i])).unwrap();
        }
        l.check(EXPENSIVE, IpAddr::from([10, 0, 0, 1])).unwrap();
        assert_eq!(l.len(), 101);
        l.retain_recent();
        assert_eq!(l.len(), 101, "every bucket still has calls in it");
        clock.advance(Duration::from_secs(1));
        l.retain_recent();
        assert_eq!(l.len(), 1, "only the hourly bucket is still partly used");
        // A forgotten client starts from a full allowance.
        assert!(l.check(CREDENTIALS, IpAddr::from([10, 0, 0, 0])).is_ok());
        assert!(l.check(CREDENTIALS, IpAddr::from([10, 0, 0, 0])).is_ok());
        assert!(l.check(CREDENTIALS, IpAddr::from([10, 0, 0, 0])).is_err());
    }

    #[test]
    fn many_keys_wake_the_sweeper_and_calls_never_sweep_themselves() {
        use futures::FutureExt as _;
        let clock = FakeRelativeClock::default();
        let limits = RateLimits::parse("credentials=10/s:2").unwrap();
        let l = Limiter::with_clock(&limits, clock.clone()).with_max_keys(500);
        // A client rotating through addresses, below the bound: nobody is woken.
        for i in 0..400u32 {
            l.check(CREDENTIALS, IpAddr::from((0x0a00_0000 + i).to_be_bytes()))
                .unwrap();
        }
        assert!(l.pressure.notified().now_or_never().is_none());
        // Past the bound: the sweeper is woken; the calls themselves removed nothing.
        for i in 400..3000u32 {
            l.check(CREDENTIALS, IpAddr::from((0x0a00_0000 + i).to_be_bytes()))
                .unwrap();
        }
        assert_eq!(l.len(), 3000, "a call swept the map");
        assert!(l.pressure.notified().now_or_never().is_some());
        // The sweep it asks for forgets every client whose allowance is whole again.
        clock.advance(Duration::from_secs(1));
        l.retain_recent();
        assert_eq!(l.len(), 0);
    }
}
