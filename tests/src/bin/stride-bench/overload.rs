//! Overload: ten times the load the other saturated phases apply (640 callers back to back
//! instead of 64, over 64 connections), on a cheap call through the gateway and on the
//! database-heavy weekly summary. What must hold: the excess is refused at once with
//! RESOURCE_EXHAUSTED (service in-flight limit, gateway per-upstream bound) — never INTERNAL,
//! UNAVAILABLE or a broken connection; memory stays bounded (the memory table's peaks include
//! this phase); and a light client (another user) calling the same method at a fixed 50/s
//! meanwhile is answered, at a latency reported beside its idle one.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::Serialize;
use tonic::Code;

use crate::load::{self, Stats};

/// Ten times the saturated phases' callers.
pub const CALLERS: usize = 640;
pub const CONNECTIONS: usize = 64;
/// The flood's callers act as this many users (80 callers each): heavy clients. The light
/// client is another user, whose 50 calls/s are within its share of the service.
pub const FLOOD_USERS: usize = 8;
const PROBE_RATE: f64 = 50.0;

/// A call's answer as the flood counts it.
pub fn code<T>(r: Result<T, tonic::Status>) -> Result<(), Code> {
    r.map(|_| ()).map_err(|s| s.code())
}

#[derive(Debug, Serialize)]
pub struct Flood {
    pub name: &'static str,
    pub callers: usize,
    pub ok_per_s: f64,
    pub refused_per_s: f64,
    /// Answers other than OK and RESOURCE_EXHAUSTED, by code (must be empty).
    pub other: Vec<(String, u64)>,
    pub ok_p50_ms: f64,
    pub ok_p99_ms: f64,
    pub probe_idle_p99_ms: f64,
    pub probe_answered: f64,
    pub probe_p50_ms: f64,
    pub probe_p99_ms: f64,
}

/// Floods with `call(caller)` for `dur` while a probe calls `probe(k)` at 50/s; both answer
/// `Ok(())` or the status code.
pub async fn flood<F, Fut, P, PFut>(name: &'static str, dur: Duration, call: F, probe: P) -> Flood
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Code>> + Send,
    P: Fn(u64) -> PFut + Send + Sync + Clone + 'static,
    PFut: Future<Output = Result<(), Code>> + Send + 'static,
{
    let idle_probe = {
        let p = probe.clone();
        load::open(PROBE_RATE, Duration::from_secs(3), move |k| {
            let f = p(k);
            async move { f.await.is_ok() }
        })
        .await
    };
    let codes: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let c = codes.clone();
    let call = Arc::new(call);
    let flood = tokio::spawn({
        let call = call.clone();
        async move {
            load::closed(CALLERS, dur, move |i| {
                let (call, c) = (call.clone(), c.clone());
                async move {
                    match call(i).await {
                        Ok(()) => true,
                        Err(code) => {
                            if let Ok(mut m) = c.lock() {
                                *m.entry(format!("{code:?}")).or_default() += 1;
                            }
                            false
                        }
                    }
                }
            })
            .await
        }
    });
    // The probe runs in the middle of the flood.
    tokio::time::sleep(dur / 4).await;
    let probe_stats = load::open(PROBE_RATE, dur / 2, move |k| {
        let f = probe(k);
        async move { f.await.is_ok() }
    })
    .await;
    let s: Stats = flood.await.unwrap_or_default();
    let codes = codes.lock().map(|m| m.clone()).unwrap_or_default();
    let refused = codes.get("ResourceExhausted").copied().unwrap_or(0);
    let mut other: Vec<(String, u64)> = codes
        .into_iter()
        .filter(|(c, _)| c != "ResourceExhausted")
        .collect();
    other.sort();
    let f = Flood {
        name,
        callers: CALLERS,
        ok_per_s: s.rate(),
        refused_per_s: refused as f64 / s.secs.max(1e-9),
        other,
        ok_p50_ms: s.p_ms(0.5),
        ok_p99_ms: s.p_ms(0.99),
        probe_idle_p99_ms: idle_probe.p_ms(0.99),
        probe_answered: probe_stats.ok as f64 / (probe_stats.ok + probe_stats.failed).max(1) as f64,
        probe_p50_ms: probe_stats.p_ms(0.5),
        probe_p99_ms: probe_stats.p_ms(0.99),
    };
    println!(
        "  {:<40} ok {:>6.0}/s (p50 {:.1} ms, p99 {:.1} ms) · refused {:>6.0}/s · other {:?}",
        f.name, f.ok_per_s, f.ok_p50_ms, f.ok_p99_ms, f.refused_per_s, f.other
    );
    println!(
        "      a 50/s client meanwhile: {:.1} % answered, p50 {:.1} ms, p99 {:.1} ms (idle p99 {:.1} ms)",
        f.probe_answered * 100.0,
        f.probe_p50_ms,
        f.probe_p99_ms,
        f.probe_idle_p99_ms
    );
    f
}
