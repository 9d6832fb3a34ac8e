//! Injectable time, so tests can run a 25-minute session without waiting.

use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// Source of "now". Every stored instant is UTC.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;

    /// Now, truncated to what PostgreSQL stores (microseconds), so a value written and read back
    /// compares equal to the one returned to the caller.
    fn now_db(&self) -> OffsetDateTime {
        db_precision(self.now())
    }
}

/// `t` truncated to microseconds, PostgreSQL's `timestamptz` precision.
pub fn db_precision(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one wall-clock read of service code: everything else asks a `Clock`.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock tests move by hand.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }
    pub fn set(&self, t: OffsetDateTime) {
        *self.0.lock().expect("clock lock") = t;
    }
    pub fn advance(&self, d: time::Duration) {
        *self.0.lock().expect("clock lock") += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("clock lock")
    }
}

/// Shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_db_drops_what_postgres_would() {
        let clock = ManualClock::new(time::macros::datetime!(2026-11-26 10:00:00.123456789 UTC));
        assert_eq!(
            clock.now_db(),
            time::macros::datetime!(2026-11-26 10:00:00.123456 UTC)
        );
    }
}
