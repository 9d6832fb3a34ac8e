//! Pure resilience rules for model calls: which failures are retried, the backoff between
//! attempts, and the circuit breaker that stops calling a failing endpoint for a while.
//! Time is passed in, so the rules are unit-tested without waiting.

use std::time::{Duration, Instant};

/// Delay before retry number `attempt` (1 = the first retry): exponential from `base`, capped at
/// `cap`, with up to 25% jitter from `jitter` (0.0..1.0) so callers failing together spread out.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let d = exp.min(cap);
    d + d.mul_f64(jitter.clamp(0.0, 1.0) * 0.25)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed,
    /// Calls are refused until the instant; then one probe is let through.
    Open {
        until: Instant,
    },
    /// One probe is in flight; others are refused until it settles.
    HalfOpen,
}

/// Opens after `threshold` consecutive transient failures; after `cooldown` lets one probe
/// through (half-open): its success closes the breaker, its failure opens it again.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    failures: u32,
    state: State,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            failures: 0,
            state: State::Closed,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// May a call go out at `now`? Moves Open → HalfOpen once the cooldown is over.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            State::Closed => true,
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen;
                true
            }
            State::Open { .. } | State::HalfOpen => false,
        }
    }

    pub fn success(&mut self) {
        self.failures = 0;
        self.state = State::Closed;
    }

    /// A transient failure (timeout, unreachable, 429, 5xx) at `now`.
    pub fn failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        if self.state == State::HalfOpen || self.failures >= self.threshold {
            self.state = State::Open {
                until: now + self.cooldown,
            };
        }
    }

    /// A call that ended without telling whether the endpoint is healthy (e.g. the caller went
    /// away): a half-open probe is given back so the next call can probe.
    pub fn abandoned(&mut self) {
        if self.state == State::HalfOpen {
            self.state = State::Open {
                until: Instant::now(),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let b = |a, j| backoff(a, 100 * MS, 1000 * MS, j);
        assert_eq!(
            [b(1, 0.0), b(2, 0.0), b(3, 0.0), b(4, 0.0), b(5, 0.0)],
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1000 * MS]
        );
        assert_eq!(b(1, 1.0), 125 * MS, "at most 25% jitter");
        assert_eq!(b(40, 0.0), 1000 * MS, "huge attempts stay capped");
    }

    #[test]
    fn opens_after_n_failures_and_refuses_until_the_cooldown() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(30));
        for _ in 0..2 {
            assert!(b.allow(t0));
            b.failure(t0);
        }
        assert_eq!(b.state(), State::Closed, "two failures of three");
        b.failure(t0);
        assert!(matches!(b.state(), State::Open { .. }));
        assert!(!b.allow(t0 + Duration::from_secs(29)));
    }

    #[test]
    fn half_opens_after_the_cooldown_and_one_probe_decides() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, Duration::from_secs(30));
        b.failure(t0);
        let later = t0 + Duration::from_secs(30);
        assert!(b.allow(later), "the probe goes out");
        assert_eq!(b.state(), State::HalfOpen);
        assert!(!b.allow(later), "only one probe at a time");
        b.failure(later);
        assert!(
            matches!(b.state(), State::Open { until } if until == later + Duration::from_secs(30)),
            "a failed probe opens it again"
        );
        let again = later + Duration::from_secs(30);
        assert!(b.allow(again));
        b.success();
        assert_eq!(b.state(), State::Closed);
        assert!(b.allow(again));
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, Duration::from_secs(1));
        b.failure(t0);
        b.success();
        b.failure(t0);
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let t0 = Instant::now();
        let mut b = Breaker::new(1, Duration::ZERO);
        b.failure(t0);
        assert!(b.allow(Instant::now()));
        b.abandoned();
        assert!(b.allow(Instant::now()));
    }
}
