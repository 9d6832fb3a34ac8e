//! `stride-bench login`: the password path. Logins/s against the argon2 ceiling measured in
//! the same run, what each process spends per login, the p99 of cheap unrelated calls while
//! logins saturate the machine (against their idle p99), and auth's peak memory.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use stride_proto::{
    auth::{GetMeRequest, LoginRequest},
    profile::GetMyProfileRequest,
};
use stride_testkit::authed;

use crate::{
    load::{self, pct},
    procs::{self, CpuMeter, Proc},
};

const PHASE: Duration = Duration::from_secs(5);
const USERS: usize = 32;
/// Logins in flight during the flood: twice the hasher's waiting line, so part of the flood is
/// refused with RESOURCE_EXHAUSTED instead of queueing without bound.
const LOGIN_FLOOD: usize = 128;
/// Logins in flight in the plain throughput phase, as the baseline's wrk login run (-c16).
const LOGIN_CONCURRENCY: usize = 16;
/// How long a flooding client waits after RESOURCE_EXHAUSTED before trying again.
const REFUSED_BACKOFF: Duration = Duration::from_millis(250);
/// Cheap calls in flight while measuring their latency (a light, steady probe).
const PROBE_CONCURRENCY: usize = 4;

/// Hashes per second of the production argon2 parameters on one core of this machine, now:
/// the hash alone, in memory allocated once (what a hash costs, not the allocator).
/// Hashes per second of one thread hashing back to back for 2 s, with its own memory.
fn argon2_hashing() -> anyhow::Result<(u32, Duration)> {
    use argon2::{Algorithm, Argon2, Block, Params, Version};
    let params = Params::new(19_456, 2, 1, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut blocks = vec![Block::default(); params.block_count()];
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = [0u8; 32];
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(2) {
        a.hash_password_into_with_memory(
            crate::PASSWORD.as_bytes(),
            b"sixteen byte salt",
            &mut out,
            blocks.as_mut_slice(),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        n += 1;
    }
    Ok((n, start.elapsed()))
}

fn argon2_per_core() -> anyhow::Result<f64> {
    let (n, took) = argon2_hashing()?;
    Ok(f64::from(n) / took.as_secs_f64())
}

/// Hashes per second with every core hashing at once (a thread each): memory-hard hashing
/// shares the caches and the memory bus, so this is below `per core × cores`.
fn argon2_all_cores(cores: usize) -> anyhow::Result<f64> {
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..cores).map(|_| s.spawn(argon2_hashing)).collect();
        let mut rate = 0.0;
        for t in threads {
            let (n, took) = t
                .join()
                .map_err(|_| anyhow::anyhow!("a hashing thread panicked"))??;
            rate += f64::from(n) / took.as_secs_f64();
        }
        Ok(rate)
    })
}

pub async fn run() -> anyhow::Result<()> {
    let gateway = crate::var("BENCH_GATEWAY_ADDR")?;
    let procs = Proc::from_env()?;
    let auth_proc = procs
        .iter()
        .find(|p| p.name == "auth")
        .cloned()
        .context("auth pid")?;
    let c = stride_e2e::Clients::over(crate::channel(&gateway).await?);
    let users = crate::sign_up_users(&c, "login", USERS).await?;
    let tokens: Arc<Vec<String>> = Arc::new(users.iter().map(|u| u.token.clone()).collect());
    let emails: Arc<Vec<String>> = Arc::new(users.iter().map(|u| u.email.clone()).collect());
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("measuring argon2 on one core…");
    let per_core = argon2_per_core()?;
    let ceiling = per_core * cores as f64;
    let together = argon2_all_cores(cores)?;
    // Idle: past auth's KEEP_IDLE, so the sign-ups' hashing memory is freed.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let auth_idle = auth_proc.rss_kib();

    let login = || {
        let (auth, emails) = (c.auth.clone(), emails.clone());
        let refused = Arc::new(AtomicU64::new(0));
        let r = refused.clone();
        let call = move |i: usize| {
            let mut a = auth.clone();
            let email = emails[i % emails.len()].clone();
            let r = r.clone();
            async move {
                let res = a
                    .login(LoginRequest {
                        email,
                        password: crate::PASSWORD.into(),
                    })
                    .await;
                if let Err(e) = &res
                    && e.code() == tonic::Code::ResourceExhausted
                {
                    // As a well-behaved client does: back off before retrying.
                    r.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(REFUSED_BACKOFF).await;
                }
                res.is_ok()
            }
        };
        (call, refused)
    };

    // 1. Throughput at the baseline's concurrency, with what each process spends per login.
    let (call, _) = login();
    let meter = CpuMeter::start(&procs);
    let s = load::closed(LOGIN_CONCURRENCY, PHASE * 2, call).await;
    let cpu = meter.finish(s.ok);
    println!(
        "\n== logins, {LOGIN_CONCURRENCY} callers through the gateway for {} s ==",
        (PHASE * 2).as_secs()
    );
    println!(
        "  argon2id m=19456 t=2 p=1 on this machine: {per_core:.1} hashes/s per core × {cores} cores = {ceiling:.0}/s ceiling"
    );
    println!(
        "  logins: {:.1}/s = {:.2} × ceiling [goal ≥ 0.8]; p50 {:.0} ms, p99 {:.0} ms; {} failed",
        s.rate(),
        s.rate() / ceiling,
        s.p_ms(0.5),
        s.p_ms(0.99),
        s.failed
    );
    println!(
        "      every core hashing at once: {together:.1} hashes/s = {:.2} × the ceiling; logins = {:.2} × that",
        together / ceiling,
        s.rate() / together
    );
    println!("      cpu per login: {}", procs::line(&cpu));
    if let Ok(path) = std::env::var("BENCH_PEER_SUMMARY") {
        crate::peer::compare_logins(&path, s.rate(), s.p_ms(0.99))?;
    }

    // 2. The flood, with cheap calls probed beside it: GetMyProfile (gateway → profile) and
    // GetMe (gateway → auth, the process doing the hashing), idle first.
    let probes = |dur: Duration| {
        let (p, a, tk) = (c.profile.clone(), c.auth.clone(), tokens.clone());
        let tk2 = tokens.clone();
        (
            tokio::spawn(load::closed(PROBE_CONCURRENCY, dur, move |i| {
                let mut p = p.clone();
                let t = tk[i % tk.len()].clone();
                async move {
                    p.get_my_profile(authed(GetMyProfileRequest {}, &t))
                        .await
                        .is_ok()
                }
            })),
            tokio::spawn(load::closed(PROBE_CONCURRENCY, dur, move |i| {
                let mut a = a.clone();
                let t = tk2[i % tk2.len()].clone();
                async move { a.get_me(authed(GetMeRequest {}, &t)).await.is_ok() }
            })),
        )
    };
    let (pp, pa) = probes(PHASE);
    let (idle_profile, idle_me) = (pp.await?, pa.await?);

    let stop = Arc::new(AtomicBool::new(false));
    let peaks = procs::sample_peaks(vec![auth_proc.clone()], stop.clone());
    let (pp, pa) = probes(PHASE * 2);
    let (call, refused) = login();
    let flood = load::closed(LOGIN_FLOOD, PHASE * 2, call).await;
    let (busy_profile, busy_me) = (pp.await?, pa.await?);
    stop.store(true, Ordering::Relaxed);
    let peak = peaks.await?.get("auth").copied().unwrap_or(0);
    let refused = refused.load(Ordering::Relaxed);

    println!(
        "\n== login flood ({LOGIN_FLOOD} clients for {} s; refused ones back off {} ms) ==",
        (PHASE * 2).as_secs(),
        REFUSED_BACKOFF.as_millis()
    );
    println!(
        "  logins: {:.1}/s = {:.2} × ceiling; p50 {:.0} ms, p99 {:.0} ms; {refused} refused with RESOURCE_EXHAUSTED, {} other failures",
        flood.rate(),
        flood.rate() / ceiling,
        flood.p_ms(0.5),
        flood.p_ms(0.99),
        flood.failed - refused
    );
    for (name, idle, busy) in [
        (
            "GetMyProfile (gateway → profile)",
            &idle_profile,
            &busy_profile,
        ),
        ("GetMe (gateway → auth)          ", &idle_me, &busy_me),
    ] {
        let (i99, b99) = (pct(&idle.lat_us, 0.99), pct(&busy.lat_us, 0.99));
        println!(
            "  {name}: p99 idle {:.1} ms, during the flood {:.1} ms = {:.1} × idle (p50 {:.1} → {:.1} ms; {} calls)",
            i99 as f64 / 1000.0,
            b99 as f64 / 1000.0,
            b99 as f64 / i99.max(1) as f64,
            idle.p_ms(0.5),
            busy.p_ms(0.5),
            busy.ok
        );
    }
    println!(
        "  auth RSS: idle {:.1} MiB, peak under the flood {:.1} MiB (each hash in flight holds 19 MiB)",
        auth_idle as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    Ok(())
}
