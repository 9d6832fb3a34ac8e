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

use stride_e2e::Clients;

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

/// A call's answer as the light client counts it: the code and who refused (the message).
pub fn why<T>(r: Result<T, tonic::Status>) -> Result<(), String> {
    r.map(|_| ())
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
}

#[derive(Debug, Serialize)]
pub struct Flood {
    pub name: &'static str,
    pub callers: usize,
    pub ok_per_s: f64,
    pub refused_per_s: f64,
    /// Answers other than OK and RESOURCE_EXHAUSTED, by code (must be empty).
    pub other: Vec<(String, u64)>,
    /// The light client's failed calls, by code and message.
    pub probe_failed: Vec<(String, u64)>,
    pub ok_p50_ms: f64,
    pub ok_p99_ms: f64,
    pub probe_idle_p99_ms: f64,
    pub probe_answered: f64,
    pub probe_p50_ms: f64,
    pub probe_p99_ms: f64,
}

/// The light client: `probe(clients, k)` at 50/s for `dur`, from its own thread, runtime and
/// connection to `gateway`, as another device would call — not queued behind the flood's
/// tasks in the load generator. Its failed calls are counted by code and message.
fn light_client<P, PFut>(
    gateway: String,
    after: Duration,
    dur: Duration,
    probe: P,
) -> std::thread::JoinHandle<(Stats, Vec<(String, u64)>)>
where
    P: Fn(Channels, u64) -> PFut + Send + Sync + 'static,
    PFut: Future<Output = Result<(), String>> + Send + 'static,
{
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return Default::default();
        };
        rt.block_on(async move {
            let Ok(channel) = crate::channel(&gateway).await else {
                return Default::default();
            };
            let clients = Clients::over(channel);
            tokio::time::sleep(after).await;
            let codes: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
            let c = codes.clone();
            let stats = load::open(PROBE_RATE, dur, move |k| {
                let (f, c) = (probe(clients.clone(), k), c.clone());
                async move {
                    match f.await {
                        Ok(()) => true,
                        Err(why) => {
                            if let Ok(mut m) = c.lock() {
                                *m.entry(why).or_default() += 1;
                            }
                            false
                        }
                    }
                }
            })
            .await;
            let mut failed: Vec<(String, u64)> = codes
                .lock()
                .map(|m| m.clone().into_iter().collect())
                .unwrap_or_default();
            failed.sort();
            (stats, failed)
        })
    })
}

/// The clients of one connection to the gateway.
pub type Channels = Clients<tonic::transport::Channel>;

/// The flood's niceness (`BENCH_FLOOD_NICE`, default 10). On this one machine the flood's
/// generator shares the two cores with the mesh, which a flood from other machines would not:
/// at the default its threads get the CPU the mesh leaves, as far as the kernel's fair share
/// goes (a nice-10 thread still gets about a tenth of a busy core). 0 runs it at the mesh's
/// priority.
fn flood_nice() -> i32 {
    std::env::var("BENCH_FLOOD_NICE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// Sets the calling thread's nice value (on Linux it is per thread; 0 names the calling one).
#[allow(unsafe_code)]
fn renice_this_thread(nice: i32) {
    // SAFETY: setpriority takes integers only and touches no memory of ours.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
}

/// Runs `run(connections)` on a runtime of its own, on threads at [`flood_nice`], with
/// [`CONNECTIONS`] connections to `gateway` made there (so their I/O runs on those threads).
fn flood_thread<R, RFut>(gateway: String, run: R) -> std::thread::JoinHandle<Stats>
where
    R: FnOnce(Arc<Vec<Channels>>) -> RFut + Send + 'static,
    RFut: Future<Output = Stats>,
{
    std::thread::spawn(move || {
        let nice = flood_nice();
        let renice = move || renice_this_thread(nice);
        renice();
        let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(renice)
            .build()
        else {
            return Stats::default();
        };
        rt.block_on(async move {
            let mut conns = Vec::with_capacity(CONNECTIONS);
            for _ in 0..CONNECTIONS {
                match crate::channel(&gateway).await {
                    Ok(ch) => conns.push(Clients::over(ch)),
                    Err(_) => return Stats::default(),
                }
            }
            run(Arc::new(conns)).await
        })
    })
}

/// Floods with `call(connection, caller)` for `dur` while a light client calls `probe(clients, k)` at
/// 50/s through `gateway`; the flood's calls answer `Ok(())` or the status code.
pub async fn flood<F, Fut, P, PFut>(
    name: &'static str,
    dur: Duration,
    gateway: String,
    call: F,
    probe: P,
) -> Flood
where
    F: Fn(Channels, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Code>> + Send,
    P: Fn(Channels, u64) -> PFut + Send + Sync + Clone + 'static,
    PFut: Future<Output = Result<(), String>> + Send + 'static,
{
    let idle_probe = light_client(
        gateway.clone(),
        Duration::ZERO,
        Duration::from_secs(3),
        probe.clone(),
    );
    let idle_probe = tokio::task::spawn_blocking(move || idle_probe.join())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
        .0;
    let codes: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let c = codes.clone();
    let flood = flood_thread(gateway.clone(), move |clients: Arc<Vec<Channels>>| {
        let call = Arc::new(call);
        load::closed(CALLERS, dur, move |i| {
            let (call, c, clients) = (call.clone(), c.clone(), clients.clone());
            async move {
                match call(clients[i % clients.len()].clone(), i).await {
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
    });
    // The light client calls in the middle of the flood.
    let light = light_client(gateway, dur / 4, dur / 2, probe);
    let (probe_stats, probe_failed) = tokio::task::spawn_blocking(move || light.join())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let s: Stats = tokio::task::spawn_blocking(move || flood.join())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
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
        probe_failed,
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
    if !f.probe_failed.is_empty() {
        println!("      its failed calls: {:?}", f.probe_failed);
    }
    f
}
