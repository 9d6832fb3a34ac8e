//! Load generator for `cargo xtask bench`. It measures, in one run on one machine:
//! - unary calls/s of a bare tonic server (the ceiling), of a cheap authenticated call straight to
//!   its service, and of the same call through the gateway (native gRPC and grpc-web);
//! - completed sessions/s flowing to challenge and analytics, with p50/p99 latency from the
//!   completion's commit (outbox row) to the consumer's commit (inbox row), both on one
//!   PostgreSQL clock;
//! - each process's resident memory idle and at its peak under load.
//!
//! `stride-bench login` measures the password path instead: logins/s against the argon2 ceiling
//! measured in the same run, the p99 of cheap unrelated calls while logins saturate the machine
//! (against their p99 on the idle mesh), and auth's peak memory under the flood.
//!
//! Usage: `stride-bench echo-server` (prints its port), or `stride-bench run|login` with the
//! addresses in env; xtask wires it up.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use stride_proto::{
    activity_session::{
        ActivityKind, CompleteSessionRequest, ListActivitiesRequest, StartSessionRequest,
    },
    auth::SignupRequest,
    profile::GetMyProfileRequest,
};
use stride_testkit::authed;

const CONCURRENCY: usize = 64;
const PHASE: Duration = Duration::from_secs(5);
const USERS: usize = 32;

fn main() -> anyhow::Result<()> {
    stride_kit::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match std::env::args().nth(1).as_deref() {
        Some("echo-server") => rt.block_on(echo_server()),
        Some("run") => rt.block_on(run()),
        Some("login") => rt.block_on(login_bench()),
        _ => anyhow::bail!("usage: stride-bench echo-server | run | login"),
    }
}

/// A bare tonic server with only the health service: the cheapest unary call tonic can serve.
async fn echo_server() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?.port());
    let (reporter, svc) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    tonic::transport::Server::builder()
        .add_service(svc)
        .serve_with_incoming(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        )
        .await?;
    Ok(())
}

fn var(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} must be set (cargo xtask bench sets it)"))
}

/// Resident set size of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples every process's RSS until stopped; returns the peaks.
fn sample_peaks(
    pids: Vec<(String, u32)>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<HashMap<String, u64>> {
    tokio::spawn(async move {
        let mut peak: HashMap<String, u64> = HashMap::new();
        while !stop.load(Ordering::Relaxed) {
            for (name, pid) in &pids {
                let v = rss_kib(*pid);
                let e = peak.entry(name.clone()).or_default();
                *e = (*e).max(v);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    })
}

/// Runs `call` (true = success) from `n` tasks until `end`; returns (ok, failed, latencies of
/// the successes in µs, sorted, seconds).
async fn drive<F, Fut>(n: usize, end: Instant, call: F) -> (u64, u64, Vec<u64>, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let start = Instant::now();
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
    let (mut ok, mut failed, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        if let Ok((o, f, l)) = t.await {
            ok += o;
            failed += f;
            lat.extend(l);
        }
    }
    lat.sort_unstable();
    (ok, failed, lat, start.elapsed().as_secs_f64())
}

/// Runs `call` from CONCURRENCY tasks for PHASE; returns calls/s and p50/p99 call latency (µs).
async fn saturate<F, Fut>(call: F) -> (f64, u64, u64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let (ok, failed, lat, secs) = drive(CONCURRENCY, Instant::now() + PHASE, call).await;
    if failed > 0 {
        eprintln!("  ({failed} calls failed)");
    }
    (
        ok as f64 / secs.max(PHASE.as_secs_f64()),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
    )
}

fn bench_pids() -> anyhow::Result<Vec<(String, u32)>> {
    Ok(var("BENCH_PIDS")?
        .split(',')
        .filter_map(|kv| {
            kv.split_once('=')
                .and_then(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        })
        .collect())
}

/// Signs up USERS users named `<prefix><run>u<i>` and waits until each has a profile
/// (user.registered.v1 → profile); returns their emails and access tokens.
async fn sign_up_users(
    c: &mut stride_e2e::Clients<tonic::transport::Channel>,
    prefix: &str,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    println!("setting up {USERS} users…");
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let mut emails = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..USERS {
        let name = format!("{prefix}{}u{i}", &run_id[24..]);
        let email = format!("{name}@example.com");
        let t = c
            .auth
            .signup(SignupRequest {
                email: email.clone(),
                username: name,
                password: "bench passphrase".into(),
                timezone: String::new(),
            })
            .await?
            .into_inner()
            .tokens
            .context("tokens")?;
        emails.push(email);
        tokens.push(t.access_token);
    }
    for t in &tokens {
        let deadline = Instant::now() + Duration::from_secs(30);
        while c
            .profile
            .get_my_profile(authed(GetMyProfileRequest {}, t))
            .await
            .is_err()
        {
            anyhow::ensure!(Instant::now() < deadline, "profiles did not appear");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok((emails, tokens))
}

async fn run() -> anyhow::Result<()> {
    let gateway = var("BENCH_GATEWAY_ADDR")?.parse()?;
    let profile_addr = var("BENCH_PROFILE_ADDR")?;
    let echo_addr = var("BENCH_ECHO_ADDR")?;
    let activity_db = var("BENCH_ACTIVITY_DB")?;
    let analytics_db = var("BENCH_ANALYTICS_DB")?;
    let challenge_db = var("BENCH_CHALLENGE_DB")?;
    let pids = bench_pids()?;
    let mut c = stride_e2e::grpc_clients(gateway).await?;
    let (_, tokens) = sign_up_users(&mut c, "bench").await?;
    let tokens = Arc::new(tokens);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle: Vec<(String, u64)> = pids.iter().map(|(n, p)| (n.clone(), rss_kib(*p))).collect();

    let stop = Arc::new(AtomicBool::new(false));
    let peaks = sample_peaks(pids.clone(), stop.clone());

    // 1. Ceiling: bare tonic health check.
    let echo = tonic::transport::Endpoint::from_shared(format!("http://{echo_addr}"))?
        .connect()
        .await?;
    let (echo_rps, echo_p50, echo_p99) = saturate(move |_| {
        let mut h = tonic_health::pb::health_client::HealthClient::new(echo.clone());
        async move {
            h.check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .is_ok()
        }
    })
    .await;
    // 2. Direct: GetMyProfile on the profile service (token check + one primary-key read).
    let direct = tonic::transport::Endpoint::from_shared(format!("http://{profile_addr}"))?
        .connect()
        .await?;
    let tk = tokens.clone();
    let (direct_rps, direct_p50, direct_p99) = saturate(move |i| {
        let mut p = stride_proto::profile::profile_service_client::ProfileServiceClient::new(
            direct.clone(),
        );
        let t = tk[i % tk.len()].clone();
        async move {
            p.get_my_profile(authed(GetMyProfileRequest {}, &t))
                .await
                .is_ok()
        }
    })
    .await;
    // 3. Through the gateway, native gRPC.
    let gw = c.profile.clone();
    let tk = tokens.clone();
    let (gw_rps, gw_p50, gw_p99) = saturate(move |i| {
        let mut p = gw.clone();
        let t = tk[i % tk.len()].clone();
        async move {
            p.get_my_profile(authed(GetMyProfileRequest {}, &t))
                .await
                .is_ok()
        }
    })
    .await;
    // 4. Through the gateway, grpc-web over HTTP/1.1.
    let web = stride_e2e::grpc_web_clients(gateway)?.profile;
    let tk = tokens.clone();
    let (web_rps, web_p50, web_p99) = saturate(move |i| {
        let mut p = web.clone();
        let t = tk[i % tk.len()].clone();
        async move {
            p.get_my_profile(authed(GetMyProfileRequest {}, &t))
                .await
                .is_ok()
        }
    })
    .await;

    // 5. Sessions: each user starts and completes focus sessions in a loop.
    let focus = c
        .activity
        .list_activities(authed(
            ListActivitiesRequest {
                page_size: 100,
                ..Default::default()
            },
            &tokens[0],
        ))
        .await?
        .into_inner()
        .activities
        .into_iter()
        .find(|a| a.kind() == ActivityKind::Focus)
        .context("focus activity")?;
    let act_pool = sqlx::PgPool::connect(&activity_db).await?;
    let (before,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM outbox WHERE event_type = 'session.completed.v1'")
            .fetch_one(&act_pool)
            .await?;
    let gw_act = c.activity.clone();
    let tk = tokens.clone();
    let completed = Arc::new(AtomicU64::new(0));
    let done = completed.clone();
    let start = Instant::now();
    let mut users = Vec::new();
    for i in 0..USERS {
        let (mut a, t, focus_id, done) = (
            gw_act.clone(),
            tk[i].clone(),
            focus.id.clone(),
            done.clone(),
        );
        users.push(tokio::spawn(async move {
            let end = Instant::now() + PHASE * 2;
            while Instant::now() < end {
                let Ok(s) = a
                    .start_session(authed(
                        StartSessionRequest {
                            activity_id: focus_id.clone(),
                            planned_duration: None,
                        },
                        &t,
                    ))
                    .await
                else {
                    continue;
                };
                let Some(s) = s.into_inner().session else {
                    continue;
                };
                if a.complete_session(authed(CompleteSessionRequest { session_id: s.id }, &t))
                    .await
                    .is_ok()
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for u in users {
        let _ = u.await;
    }
    let produce_secs = start.elapsed().as_secs_f64();
    let n = completed.load(Ordering::Relaxed) as i64;
    // Wait until both consumers have every event, then measure.
    let an_pool = sqlx::PgPool::connect(&analytics_db).await?;
    let ch_pool = sqlx::PgPool::connect(&challenge_db).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (a,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM inbox WHERE event_type = 'session.completed.v1'")
                .fetch_one(&an_pool)
                .await?;
        let (b,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM inbox WHERE event_type = 'session.completed.v1'")
                .fetch_one(&ch_pool)
                .await?;
        if a >= before + n && b >= before + n {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "events did not all arrive: analytics {a}, challenge {b}, expected {}",
            before + n
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let flow_secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peaks = peaks.await?;

    let produced: Vec<(uuid::Uuid, time::OffsetDateTime)> = sqlx::query_as(
        "SELECT id, created_at FROM outbox WHERE event_type = 'session.completed.v1'",
    )
    .fetch_all(&act_pool)
    .await?;
    let produced: HashMap<_, _> = produced.into_iter().collect();
    let report_latency = |name: &str, rows: Vec<(uuid::Uuid, time::OffsetDateTime)>| {
        let mut l: Vec<f64> = rows
            .into_iter()
            .filter_map(|(id, at)| {
                produced
                    .get(&id)
                    .map(|p| (at - *p).as_seconds_f64() * 1000.0)
            })
            .collect();
        l.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0.0)
        };
        println!(
            "  completion → {name:<10} visible: p50 {:.1} ms, p99 {:.1} ms ({} events)",
            pct(0.5),
            pct(0.99),
            l.len()
        );
    };

    println!(
        "\n== unary calls (concurrency {CONCURRENCY}, {}s each) ==",
        PHASE.as_secs()
    );
    println!(
        "  bare tonic echo (ceiling)        {echo_rps:>8.0} calls/s  p50 {echo_p50} µs  p99 {echo_p99} µs"
    );
    println!(
        "  GetMyProfile direct to profile   {direct_rps:>8.0} calls/s  p50 {direct_p50} µs  p99 {direct_p99} µs  = {:.2} × ceiling",
        direct_rps / echo_rps
    );
    println!(
        "  GetMyProfile via gateway (gRPC)  {gw_rps:>8.0} calls/s  p50 {gw_p50} µs  p99 {gw_p99} µs  = {:.2} × direct",
        gw_rps / direct_rps
    );
    println!(
        "  GetMyProfile via gateway (web)   {web_rps:>8.0} calls/s  p50 {web_p50} µs  p99 {web_p99} µs  = {:.2} × direct",
        web_rps / direct_rps
    );
    println!("\n== sessions → challenge + analytics ({USERS} users) ==");
    println!(
        "  {n} sessions completed in {produce_secs:.1}s = {:.0} completions/s through the gateway",
        n as f64 / produce_secs
    );
    println!(
        "  all consumed after {flow_secs:.1}s = {:.0} sessions/s end to end",
        n as f64 / flow_secs
    );
    let rows = |pool: &sqlx::PgPool| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (uuid::Uuid, time::OffsetDateTime)>(
                "SELECT event_id, received_at FROM inbox WHERE event_type = 'session.completed.v1'",
            )
            .fetch_all(&pool)
            .await
        }
    };
    report_latency("challenge", rows(&ch_pool).await?);
    report_latency("analytics", rows(&an_pool).await?);
    println!("\n== resident memory (MiB) ==");
    for (name, idle_kib) in &idle {
        println!(
            "  {name:<18} idle {:>6.1}   peak under load {:>6.1}",
            *idle_kib as f64 / 1024.0,
            peaks.get(name).copied().unwrap_or(0) as f64 / 1024.0
        );
    }
    Ok(())
}

/// Logins in flight during the flood: twice the hasher's waiting line, so part of the flood is
/// refused with RESOURCE_EXHAUSTED instead of queueing without bound.
const LOGIN_FLOOD: usize = 128;
/// How long a flooding client waits after RESOURCE_EXHAUSTED before trying again.
const REFUSED_BACKOFF: Duration = Duration::from_millis(250);
/// Cheap calls in flight while measuring their latency (a light, steady probe).
const PROBE_CONCURRENCY: usize = 4;

fn pct(l: &[u64], p: f64) -> u64 {
    l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

/// Hashes per second of the production argon2 parameters on one core of this machine, now.
fn argon2_per_core() -> f64 {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
    let a = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).expect("params"),
    );
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(2) {
        let _ = a.hash_password(b"bench passphrase");
        n += 1;
    }
    f64::from(n) / start.elapsed().as_secs_f64()
}

async fn login_bench() -> anyhow::Result<()> {
    use stride_proto::auth::{GetMeRequest, LoginRequest};
    let gateway = var("BENCH_GATEWAY_ADDR")?.parse()?;
    let pids = bench_pids()?;
    let auth_pid = pids
        .iter()
        .find(|(n, _)| n == "auth")
        .map(|(_, p)| *p)
        .context("auth pid")?;
    let mut c = stride_e2e::grpc_clients(gateway).await?;
    let (emails, tokens) = sign_up_users(&mut c, "login").await?;
    let tokens = Arc::new(tokens);
    let emails = Arc::new(emails);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("measuring argon2 on one core…");
    let per_core = argon2_per_core();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let auth_idle = rss_kib(auth_pid);

    // The probes: GetMyProfile (gateway → profile) and GetMe (gateway → auth, the process
    // doing the hashing), a few in flight, idle first, then during the flood.
    let probes = |end: Instant| {
        let (p, a, tk) = (c.profile.clone(), c.auth.clone(), tokens.clone());
        let tk2 = tokens.clone();
        (
            tokio::spawn(drive(PROBE_CONCURRENCY, end, move |i| {
                let mut p = p.clone();
                let t = tk[i % tk.len()].clone();
                async move {
                    p.get_my_profile(authed(GetMyProfileRequest {}, &t))
                        .await
                        .is_ok()
                }
            })),
            tokio::spawn(drive(PROBE_CONCURRENCY, end, move |i| {
                let mut a = a.clone();
                let t = tk2[i % tk2.len()].clone();
                async move { a.get_me(authed(GetMeRequest {}, &t)).await.is_ok() }
            })),
        )
    };
    let (pp, pa) = probes(Instant::now() + PHASE);
    let (_, _, idle_profile, _) = pp.await?;
    let (_, _, idle_me, _) = pa.await?;

    let stop = Arc::new(AtomicBool::new(false));
    let peaks = sample_peaks(vec![("auth".into(), auth_pid)], stop.clone());
    let end = Instant::now() + PHASE * 2;
    let (pp, pa) = probes(end);
    let auth = c.auth.clone();
    let refused = Arc::new(AtomicU64::new(0));
    let r = refused.clone();
    let flood = tokio::spawn(drive(LOGIN_FLOOD, end, move |i| {
        let mut a = auth.clone();
        let email = emails[i % emails.len()].clone();
        let r = r.clone();
        async move {
            let res = a
                .login(LoginRequest {
                    email,
                    password: "bench passphrase".into(),
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
    }));
    let (logins, failed, login_lat, secs) = flood.await?;
    let (_, _, busy_profile, _) = pp.await?;
    let (_, _, busy_me, _) = pa.await?;
    stop.store(true, Ordering::Relaxed);
    let peak = peaks.await?.get("auth").copied().unwrap_or(0);
    let refused = refused.load(Ordering::Relaxed);

    let rate = logins as f64 / secs;
    let ceiling = per_core * cores as f64;
    println!(
        "\n== logins ({LOGIN_FLOOD} clients for {}s through the gateway; refused ones back off {} ms) ==",
        (PHASE * 2).as_secs(),
        REFUSED_BACKOFF.as_millis()
    );
    println!(
        "  argon2id m=19456 t=2 p=1 on this machine: {per_core:.1} hashes/s per core × {cores} cores = {ceiling:.0}/s ceiling"
    );
    println!(
        "  logins: {rate:.1}/s = {:.2} × ceiling; p50 {} ms, p99 {} ms; {refused} refused with RESOURCE_EXHAUSTED, {} other failures",
        rate / ceiling,
        pct(&login_lat, 0.5) / 1000,
        pct(&login_lat, 0.99) / 1000,
        failed - refused
    );
    for (name, idle, busy) in [
        (
            "GetMyProfile (gateway → profile)",
            &idle_profile,
            &busy_profile,
        ),
        ("GetMe (gateway → auth)          ", &idle_me, &busy_me),
    ] {
        let (i99, b99) = (pct(idle, 0.99), pct(busy, 0.99));
        println!(
            "  {name}: p99 idle {:.1} ms, during the flood {:.1} ms = {:.1} × idle (p50 {:.1} → {:.1} ms; {} calls)",
            i99 as f64 / 1000.0,
            b99 as f64 / 1000.0,
            b99 as f64 / i99.max(1) as f64,
            pct(idle, 0.5) as f64 / 1000.0,
            pct(busy, 0.5) as f64 / 1000.0,
            busy.len()
        );
    }
    println!(
        "  auth RSS: idle {:.1} MiB, peak under the flood {:.1} MiB (each hash in flight holds 19 MiB; {cores} at a time)",
        auth_idle as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    Ok(())
}
