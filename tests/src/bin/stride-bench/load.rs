//! Load shapes: closed loop (N callers back to back: maximum throughput) and open loop (calls
//! started at a fixed rate whatever the answers do: latency at a given load).

use std::{
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

/// What one load phase measured. Latencies are of successful calls, in µs, sorted.
#[derive(Debug, Default)]
pub struct Stats {
    pub ok: u64,
    pub failed: u64,
    pub lat_us: Vec<u64>,
    pub secs: f64,
    /// Open loop only: how late the generator started calls (µs, sorted); a large tail means
    /// the machine could not keep the rate and the figures describe a lower one.
    pub lag_us: Vec<u64>,
}

impl Stats {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.secs.max(1e-9)
    }
    /// Percentile `p` (0..=1) of the latencies, in µs.
    pub fn p(&self, p: f64) -> u64 {
        pct(&self.lat_us, p)
    }
    pub fn p_ms(&self, p: f64) -> f64 {
        self.p(p) as f64 / 1000.0
    }
    /// Adds a later stretch of the same load (closed loop): its calls, latencies and time.
    pub fn absorb(&mut self, other: Stats) {
        self.merge(other.ok, other.failed, other.lat_us);
        self.lat_us.sort_unstable();
        self.secs += other.secs;
    }
    fn merge(&mut self, ok: u64, failed: u64, lat: Vec<u64>) {
        self.ok += ok;
        self.failed += failed;
        self.lat_us.extend(lat);
    }
}

pub fn pct(l: &[u64], p: f64) -> u64 {
    l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

/// Runs `call(caller index)` (true = success) from `n` callers back to back for `dur`.
pub async fn closed<F, Fut>(n: usize, dur: Duration, call: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let start = Instant::now();
    let end = start + dur;
    let mut tasks = Vec::new();
    for i in 0..n {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut lat) = (0u64, 0u64, Vec::with_capacity(4096));
            while Instant::now() < end {
                let t = Instant::now();
                if call(i).await {
                    ok += 1;
                    lat.push(t.elapsed().as_micros() as u64);
                } else {
                    failed += 1;
                }
            }
            (ok, failed, lat)
        }));
    }
    let mut stats = Stats::default();
    for t in tasks {
        if let Ok((o, f, l)) = t.await {
            stats.merge(o, f, l);
        }
    }
    stats.lat_us.sort_unstable();
    stats.secs = start.elapsed().as_secs_f64();
    stats
}

/// Starts `call(k)` for k = 0, 1, … at `rate` per second for `dur`, each in its own task, and
/// waits for all of them. Latency runs from the moment a call starts; how late the generator
/// was against the schedule is reported apart (`lag_us`).
pub async fn open<F, Fut>(rate: f64, dur: Duration, call: F) -> Stats
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let start = tokio::time::Instant::now();
    let total = (rate * dur.as_secs_f64()) as u64;
    let mut tasks = Vec::with_capacity(total as usize);
    let mut lag = Vec::with_capacity(total as usize);
    for k in 0..total {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        tokio::time::sleep_until(due).await;
        lag.push(due.elapsed().as_micros() as u64);
        let fut = call(k);
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = fut.await;
            (ok, t.elapsed().as_micros() as u64)
        }));
    }
    let mut stats = Stats::default();
    for t in tasks {
        match t.await {
            Ok((true, l)) => stats.merge(1, 0, vec![l]),
            _ => stats.merge(0, 1, Vec::new()),
        }
    }
    stats.lat_us.sort_unstable();
    lag.sort_unstable();
    stats.lag_us = lag;
    stats.secs = start.elapsed().as_secs_f64();
    stats
}
