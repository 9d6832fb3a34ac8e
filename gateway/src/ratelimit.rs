//! Per-client rate limits by the method's rate-limit class (`stride.options.v1.policy`).
//!
//! GCRA (a token bucket without a timer): each (client address, class) keeps one "theoretical
//! arrival time"; a call is allowed while that time is at most `burst` intervals ahead of now.
//! State is in memory, per gateway replica, so the effective limit scales with the replicas; the
//! services keep their own durable limits where it matters (auth's login and code throttles).

use std::{
    collections::HashMap,
    convert::Infallible,
    net::IpAddr,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::future::BoxFuture;
use stride_kit::{AppError, policy::Policies};
use stride_proto::stride::options::v1::RateLimitClass;

/// `count` calls per `window`, with up to `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub window: Duration,
    pub burst: u32,
}

impl Rate {
    fn interval(&self) -> Duration {
        self.window / self.count.max(1)
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

    fn of(&self, class: RateLimitClass) -> Option<Rate> {
        match class {
            RateLimitClass::Credentials => self.credentials,
            RateLimitClass::Expensive => self.expensive,
            RateLimitClass::Unspecified => self.default,
        }
    }
}

/// The GCRA state of every (client, class).
#[derive(Default)]
pub struct Limiter {
    tat: Mutex<HashMap<(IpAddr, i32), Instant>>,
}

/// Entries kept before stale ones are swept (each is a few dozen bytes).
const SWEEP_AT: usize = 50_000;

impl Limiter {
    /// Ok, or how long until the call would be allowed.
    pub fn check(&self, key: (IpAddr, i32), rate: Rate, now: Instant) -> Result<(), Duration> {
        let interval = rate.interval();
        let tolerance = interval * rate.burst;
        let mut map = self
            .tat
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= SWEEP_AT {
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.get(&key).copied().unwrap_or(now).max(now);
        let next = tat + interval;
        if next > now + tolerance {
            return Err(next - tolerance - now);
        }
        map.insert(key, next);
        Ok(())
    }
}

#[derive(Clone)]
pub struct RateLimitLayer {
    limits: Arc<RateLimits>,
    policies: Arc<Policies>,
    limiter: Arc<Limiter>,
}

impl RateLimitLayer {
    pub fn new(limits: RateLimits, policies: Arc<Policies>) -> Self {
        Self {
            limits: Arc::new(limits),
            policies,
            limiter: Arc::new(Limiter::default()),
        }
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
        let peer = crate::proxy::peer_ip(req.extensions());
        if let (Some(rate), Some(ip)) = (self.layer.limits.of(class), peer)
            && let Err(wait) = self
                .layer
                .limiter
                .check((ip, class as i32), rate, Instant::now())
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

    #[test]
    fn allows_the_burst_then_the_rate_per_client_and_class() {
        let l = Limiter::default();
        let rate = Rate {
            count: 10,
            window: Duration::from_secs(1),
            burst: 3,
        };
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check((a, 1), rate, t0).is_ok());
        }
        let wait = l.check((a, 1), rate, t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        // Other clients and other classes have their own allowance.
        assert!(l.check((b, 1), rate, t0).is_ok());
        assert!(l.check((a, 2), rate, t0).is_ok());
        // One interval later, one more call.
        let t1 = t0 + Duration::from_millis(100);
        assert!(l.check((a, 1), rate, t1).is_ok());
        assert!(l.check((a, 1), rate, t1).is_err());
        // After a quiet second the full burst is back.
        let t2 = t1 + Duration::from_secs(1);
        for _ in 0..3 {
            assert!(l.check((a, 1), rate, t2).is_ok());
        }
    }
}
