//! `stride-bench run`: the mesh under load. See main.rs for what it measures.

use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;
use stride_e2e::Clients;
use stride_proto::{
    activity_session::{
        CompleteSessionRequest, ListActivitiesRequest, StartSessionRequest,
        catalog_service_client::CatalogServiceClient, session_service_client::SessionServiceClient,
    },
    analytics::{GetProgressSummaryRequest, SummaryRange},
    profile::{GetMyProfileRequest, profile_service_client::ProfileServiceClient},
};
use stride_testkit::authed;
use tonic::transport::Channel;

use crate::{
    User,
    load::{self, Stats},
    procs::{self, CpuMeter, Proc, Share},
};

/// Callers in flight in the saturated phases, as the FastAPI baseline's wrk runs (-c64).
const CONCURRENCY: usize = 64;
/// Client connections to the gateway: many clients, not one multiplexed pipe.
const CONNECTIONS: usize = 8;
/// Users: two per caller, as the baseline prepares them (a user has one active session).
const USERS: usize = 2 * CONCURRENCY;
/// Length of each saturated phase (`BENCH_PHASE_SECS`, default 5: longer for a profiler).
static PHASE: std::sync::LazyLock<Duration> = std::sync::LazyLock::new(|| {
    Duration::from_secs(
        std::env::var("BENCH_PHASE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5),
    )
});

/// Whether to run the phase `key` (`BENCH_PHASES`: a comma-separated subset of idle, echo,
/// direct, gateway, web, list, summary, json, catalog, leaderboard, history, overload, fixed, sessions,
/// sync, ttft, evals; default all).
fn wants(key: &str) -> bool {
    std::env::var("BENCH_PHASES").map_or(true, |v| v.split(',').any(|k| k.trim() == key))
}
/// Days of history per user in the analytics rollups, as the baseline's summary scenario.
const HISTORY_DAYS: i32 = 400;

/// One saturated phase, for the report and the JSON summary.
#[derive(Debug, Serialize)]
pub struct Phase {
    pub name: &'static str,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failed: u64,
    pub cpu: Vec<Share>,
}

impl Phase {
    fn new(name: &'static str, s: &Stats, cpu: Vec<Share>) -> Self {
        if s.failed > 0 {
            eprintln!("  {name}: {} calls failed", s.failed);
        }
        Phase {
            name,
            rps: s.rate(),
            p50_ms: s.p_ms(0.5),
            p99_ms: s.p_ms(0.99),
            failed: s.failed,
            cpu,
        }
    }
}

/// Closed loop at CONCURRENCY for PHASE with every process's CPU per call.
async fn saturate<F, Fut>(name: &'static str, procs: &[Proc], call: F) -> Phase
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let meter = CpuMeter::start(procs);
    let s = load::closed(CONCURRENCY, *PHASE, call).await;
    let cpu = meter.finish(s.ok);
    let p = Phase::new(name, &s, cpu);
    println!(
        "  {:<34} {:>7.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        p.name, p.rps, p.p50_ms, p.p99_ms
    );
    println!("      cpu per call: {}", procs::line(&p.cpu));
    p
}

/// A phase's call, boxed so phases of different clients can take turns.
type TurnCall = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

fn turn_call<F, Fut>(call: F) -> TurnCall
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    Arc::new(move |i| Box::pin(call(i)))
}

/// Turns per phase in [`interleaved`].
const TURNS: u32 = 5;

/// Closed loop at CONCURRENCY for PHASE per phase, as [`saturate`], but the phases take
/// [`TURNS`] turns of PHASE / TURNS each: the ratios between them (direct / echo, gateway /
/// direct) then compare the machine at the same moments. This VM's speed moves by up to a third
/// within minutes, and back-to-back phases read it at different ones.
async fn interleaved(procs: &[Proc], phases: Vec<(&'static str, TurnCall)>) -> Vec<Phase> {
    let turn = *PHASE / TURNS;
    let mut sums: Vec<(load::Stats, procs::CpuSum)> = phases
        .iter()
        .map(|_| (load::Stats::default(), procs::CpuSum::new(procs)))
        .collect();
    for _ in 0..TURNS {
        for ((_, call), (stats, cpu)) in phases.iter().zip(&mut sums) {
            let call = call.clone();
            let meter = CpuMeter::start(procs);
            let s = load::closed(CONCURRENCY, turn, move |i| call(i)).await;
            meter.add_to(cpu);
            stats.absorb(s);
        }
    }
    phases
        .iter()
        .zip(sums)
        .map(|((name, _), (s, cpu))| {
            let p = Phase::new(name, &s, cpu.shares(s.ok));
            println!(
                "  {:<34} {:>7.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
                p.name, p.rps, p.p50_ms, p.p99_ms
            );
            println!("      cpu per call: {}", procs::line(&p.cpu));
            p
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct Idle {
    name: &'static str,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Debug, Serialize)]
struct Fixed {
    name: &'static str,
    rate: f64,
    achieved: f64,
    p50_ms: f64,
    p99_ms: f64,
    generator_lag_p99_ms: f64,
}

#[derive(Debug, Default, Serialize)]
struct Flow {
    completions: u64,
    completions_per_s: f64,
    end_to_end_per_s: f64,
    visible_challenge_p50_ms: f64,
    visible_challenge_p99_ms: f64,
    visible_analytics_p50_ms: f64,
    visible_analytics_p99_ms: f64,
    applied_challenge_per_s: f64,
    applied_analytics_per_s: f64,
    cycle_p50_ms: f64,
    cycle_p99_ms: f64,
    cpu: Vec<Share>,
}

#[derive(Debug, Serialize)]
struct Report {
    noise: f64,
    idle: Vec<Idle>,
    saturated: Vec<Phase>,
    fixed: Vec<Fixed>,
    sessions_max: Flow,
    sessions_fixed_rate: f64,
    sessions_fixed: Flow,
    overload: Vec<crate::overload::Flood>,
    catalog: Option<crate::domains::Versus>,
    leaderboard: Option<crate::domains::Versus>,
    history: Vec<crate::domains::HistoryRead>,
    sync: Option<crate::domains::Ingest>,
    sync_flow: Flow,
    ttft: Option<crate::coach::Ttft>,
    evals: Option<crate::coach::Evals>,
    memory_mib: Vec<(String, f64, f64)>,
}

struct Env {
    gateway: std::net::SocketAddr,
    profile: String,
    activity: String,
    echo: String,
    openai: String,
    activity_db: sqlx::PgPool,
    analytics_db: sqlx::PgPool,
    challenge_db: sqlx::PgPool,
}

async fn env() -> anyhow::Result<Env> {
    let db = |v: &str| {
        let url = crate::var(v);
        async move {
            let url = url?;
            anyhow::Ok(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(&url)
                    .await?,
            )
        }
    };
    Ok(Env {
        gateway: crate::var("BENCH_GATEWAY_ADDR")?.parse()?,
        profile: crate::var("BENCH_PROFILE_ADDR")?,
        activity: crate::var("BENCH_ACTIVITY_ADDR")?,
        echo: crate::var("BENCH_ECHO_ADDR")?,
        openai: crate::var("BENCH_OPENAI_URL")?,
        activity_db: db("BENCH_ACTIVITY_DB").await?,
        analytics_db: db("BENCH_ANALYTICS_DB").await?,
        challenge_db: db("BENCH_CHALLENGE_DB").await?,
    })
}

pub async fn run() -> anyhow::Result<()> {
    let env = env().await?;
    let procs = Proc::from_env()?;
    let mut gw = Vec::new();
    for _ in 0..CONNECTIONS {
        gw.push(Clients::over(
            crate::channel(&env.gateway.to_string()).await?,
        ));
    }
    let gw = Arc::new(gw);
    let users = Arc::new(crate::sign_up_users(&gw[0], "bench", USERS).await?);
    write_history(&env.analytics_db, &users).await?;
    let focus = crate::focus_activity(&gw[0], &users[0].token).await?;
    // Idle: past auth's KEEP_IDLE, so the sign-ups' hashing memory is freed.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle_mem: Vec<(String, u64)> = procs
        .iter()
        .map(|p| (p.name.clone(), p.rss_kib()))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let peaks = procs::sample_peaks(procs.clone(), stop.clone());

    let direct_profile = ProfileServiceClient::new(crate::channel(&env.profile).await?);
    let direct_activity = CatalogServiceClient::new(crate::channel(&env.activity).await?);

    // Idle latency: a light open-loop load (50 calls/s), small and multi-frame answers.
    println!(
        "\n== idle latency (50 calls/s, open loop, 10 s each; p99 should stay within 3 × p50) =="
    );
    let mut idle = Vec::new();
    let idle_rate = 50.0;
    // 500 calls each: the p99 is the fifth-slowest, not (as with 200) the second, so one
    // hiccup of the shared VM does not decide it alone.
    let idle_dur = Duration::from_secs(10);
    macro_rules! idle_phase {
        ($name:literal, $client:expr, $method:ident, $req:expr) => {
            if wants("idle") {
                let (c, u) = ($client, users.clone());
                let call = move |k: u64| {
                    let mut c = c.clone();
                    let t = u[k as usize % u.len()].token.clone();
                    async move { c.$method(authed($req, &t)).await.is_ok() }
                };
                // Not measured: the first calls meet connections (client, pool, PostgreSQL
                // backend caches) that setup left cold; an idle mesh in service has them warm.
                load::open(idle_rate, Duration::from_secs(1), call.clone()).await;
                let s = load::open(idle_rate, idle_dur, call).await;
                println!(
                    "  {:<44} p50 {:>6.2} ms  p99 {:>6.2} ms  = {:.1} × p50",
                    $name,
                    s.p_ms(0.5),
                    s.p_ms(0.99),
                    s.p_ms(0.99) / s.p_ms(0.5).max(1e-3)
                );
                idle.push(Idle {
                    name: $name,
                    p50_ms: s.p_ms(0.5),
                    p99_ms: s.p_ms(0.99),
                });
            }
        };
    }
    let list = || ListActivitiesRequest {
        page_size: 100,
        ..Default::default()
    };
    idle_phase!(
        "GetMyProfile direct",
        direct_profile.clone(),
        get_my_profile,
        GetMyProfileRequest {}
    );
    idle_phase!(
        "GetMyProfile via gateway",
        gw[0].profile.clone(),
        get_my_profile,
        GetMyProfileRequest {}
    );
    idle_phase!(
        "ListActivities (multi-frame) direct",
        direct_activity.clone(),
        list_activities,
        list()
    );
    idle_phase!(
        "ListActivities (multi-frame) via gateway",
        gw[0].catalog.clone(),
        list_activities,
        list()
    );

    println!(
        "\n== saturated (closed loop, {CONCURRENCY} callers over {CONNECTIONS} connections, {} s each; cpu: cores and ms per call) ==",
        PHASE.as_secs()
    );
    let echo = crate::channel(&env.echo).await?;
    let echo_call = move |_| {
        let mut h = tonic_health::pb::health_client::HealthClient::new(echo.clone());
        async move {
            h.check(tonic_health::pb::HealthCheckRequest::default())
                .await
                .is_ok()
        }
    };
    let mut sat = Vec::new();
    // The ceiling and the three ways to the same read take turns (see `interleaved`).
    let mut turns: Vec<(&'static str, TurnCall)> = Vec::new();
    if wants("echo") {
        turns.push(("bare tonic echo (ceiling)", turn_call(echo_call.clone())));
    }
    macro_rules! turn_phase {
        ($key:literal, $name:literal, $client:expr) => {
            if wants($key) {
                let (c, u) = ($client, users.clone());
                turns.push((
                    $name,
                    turn_call(move |i| {
                        let mut c = c(i);
                        let t = u[i % u.len()].token.clone();
                        async move {
                            c.get_my_profile(authed(GetMyProfileRequest {}, &t))
                                .await
                                .is_ok()
                        }
                    }),
                ));
            }
        };
    }
    let (g, dp) = (gw.clone(), direct_profile.clone());
    turn_phase!("direct", "GetMyProfile direct", move |_| dp.clone());
    turn_phase!(
        "gateway",
        "GetMyProfile via gateway (gRPC)",
        move |i: usize| g[i % CONNECTIONS].profile.clone()
    );
    let web = stride_e2e::grpc_web_clients(env.gateway)?.profile;
    turn_phase!("web", "GetMyProfile via gateway (grpc-web)", move |_| web
        .clone());
    if !turns.is_empty() {
        println!(
            "  (the next {} take {TURNS} turns of {} ms each)",
            turns.len(),
            (*PHASE / TURNS).as_millis()
        );
        sat.extend(interleaved(&procs, turns).await);
    }
    macro_rules! sat_phase {
        ($key:literal, $name:literal, $client:expr, $method:ident, $req:expr) => {
            if wants($key) {
                let (c, u) = ($client, users.clone());
                sat.push(
                    saturate($name, &procs, move |i| {
                        let mut c = c(i);
                        let t = u[i % u.len()].token.clone();
                        async move { c.$method(authed($req, &t)).await.is_ok() }
                    })
                    .await,
                );
            }
        };
    }
    let g = gw.clone();
    sat_phase!(
        "list",
        "ListActivities via gateway",
        move |i: usize| g[i % CONNECTIONS].catalog.clone(),
        list_activities,
        list()
    );
    let g = gw.clone();
    pg_reset(&env.activity_db).await;
    sat_phase!(
        "summary",
        "GetProgressSummary week via gateway",
        move |i: usize| g[i % CONNECTIONS].analytics.clone(),
        get_progress_summary,
        GetProgressSummaryRequest {
            range: SummaryRange::Week as i32,
            date: None,
            ..Default::default()
        }
    );

    // The same cheap call as JSON over HTTP/1.1 and over Connect (JSON) against gRPC through the
    // gateway, measured back to back: what transcoding costs.
    if wants("json") {
        let g = gw.clone();
        sat_phase!(
            "json",
            "GetMyProfile via gateway (gRPC, json phase)",
            move |i: usize| g[i % CONNECTIONS].profile.clone(),
            get_my_profile,
            GetMyProfileRequest {}
        );
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(CONCURRENCY)
                .build_http::<http_body_util::Full<bytes::Bytes>>();
        let json_call = |method: http::Method, path: &'static str, body: &'static str| {
            let (client, u, gateway) = (client.clone(), users.clone(), env.gateway);
            move |i: usize| {
                let client = client.clone();
                let token = format!("Bearer {}", u[i % u.len()].token);
                let req = http::Request::builder()
                    .method(method.clone())
                    .uri(format!("http://{gateway}{path}"))
                    .header("authorization", token)
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(
                        body.as_bytes(),
                    )));
                async move {
                    let Ok(req) = req else { return false };
                    match client.request(req).await {
                        Ok(res) if res.status() == http::StatusCode::OK => {
                            use http_body_util::BodyExt as _;
                            res.into_body().collect().await.is_ok()
                        }
                        _ => false,
                    }
                }
            }
        };
        sat.push(
            saturate(
                "GetMyProfile via gateway (JSON/HTTP)",
                &procs,
                json_call(http::Method::GET, "/api/v1/me", ""),
            )
            .await,
        );
        sat.push(
            saturate(
                "GetMyProfile via gateway (Connect JSON)",
                &procs,
                json_call(
                    http::Method::POST,
                    "/stride.profile.v1.ProfileService/GetMyProfile",
                    "{}",
                ),
            )
            .await,
        );
    }

    if let Some(p) = sat
        .iter()
        .find(|p| p.name.starts_with("GetProgressSummary"))
    {
        pg_top(
            &env.activity_db,
            (p.rps * PHASE.as_secs_f64()) as u64,
            "summary",
        )
        .await;
    }

    let domain = crate::domains::Ctx {
        gw: gw.clone(),
        users: users.clone(),
        activity_db: &env.activity_db,
        challenge_db: &env.challenge_db,
        concurrency: CONCURRENCY,
        phase: *PHASE,
    };
    if wants("catalog") || wants("leaderboard") {
        println!(
            "\n== domain reads against GetMyProfile via gateway (idle: 50 calls/s for 4 s; saturated: {CONCURRENCY} callers, {} s) ==",
            PHASE.as_secs()
        );
    }
    let catalog = if wants("catalog") {
        Some(crate::domains::catalog(&domain).await?)
    } else {
        None
    };
    let leaderboard = if wants("leaderboard") {
        Some(crate::domains::leaderboard(&domain).await?)
    } else {
        None
    };
    let history = if wants("history") {
        println!(
            "\n== progress summary: five years of daily history against the two periods the answer covers (idle: 50 calls/s each for 10 s) =="
        );
        crate::domains::history(&domain, &env.analytics_db).await?
    } else {
        Vec::new()
    };

    let mut overload = Vec::new();
    if wants("overload") {
        println!(
            "\n== overload: {} callers (10 × the phases above) as {} users, {:.0} s each; the light client is another user ==",
            crate::overload::CALLERS,
            crate::overload::FLOOD_USERS,
            PHASE.as_secs_f64() * 2.0
        );
        use crate::overload::{FLOOD_USERS, code, why};
        let u = users.clone();
        let pu = users.clone();
        overload.push(
            crate::overload::flood(
                "GetMyProfile via gateway",
                *PHASE * 2,
                env.gateway.to_string(),
                move |c, i| {
                    let mut p = c.profile;
                    let t = u[i % FLOOD_USERS].token.clone();
                    async move { code(p.get_my_profile(authed(GetMyProfileRequest {}, &t)).await) }
                },
                move |c, _| {
                    let mut p = c.profile;
                    let t = pu[USERS - 1].token.clone();
                    async move { why(p.get_my_profile(authed(GetMyProfileRequest {}, &t)).await) }
                },
            )
            .await,
        );
        let summary = || GetProgressSummaryRequest {
            range: SummaryRange::Week as i32,
            date: None,
            ..Default::default()
        };
        let u = users.clone();
        let pu = users.clone();
        overload.push(
            crate::overload::flood(
                "GetProgressSummary week via gateway",
                *PHASE * 2,
                env.gateway.to_string(),
                move |c, i| {
                    let mut a = c.analytics;
                    let t = u[i % FLOOD_USERS].token.clone();
                    async move { code(a.get_progress_summary(authed(summary(), &t)).await) }
                },
                move |c, _| {
                    let mut a = c.analytics;
                    let t = pu[USERS - 1].token.clone();
                    async move { why(a.get_progress_summary(authed(summary(), &t)).await) }
                },
            )
            .await,
        );
    }

    println!("\n== GetMyProfile via gateway at fixed rates (open loop, 5 s each) ==");
    let mut fixed = Vec::new();
    for rate in [500.0, 1000.0, 2000.0]
        .into_iter()
        .filter(|_| wants("fixed"))
    {
        let (g, u) = (gw.clone(), users.clone());
        let s = load::open(rate, *PHASE, move |k| {
            let mut c = g[k as usize % CONNECTIONS].profile.clone();
            let t = u[k as usize % u.len()].token.clone();
            async move {
                c.get_my_profile(authed(GetMyProfileRequest {}, &t))
                    .await
                    .is_ok()
            }
        })
        .await;
        let lag = load::pct(&s.lag_us, 0.99) as f64 / 1000.0;
        println!(
            "  {rate:>6.0}/s offered: {:>6.0}/s done  p50 {:>6.2} ms  p99 {:>6.2} ms  (generator lag p99 {lag:.1} ms, {} failed)",
            s.rate(),
            s.p_ms(0.5),
            s.p_ms(0.99),
            s.failed
        );
        fixed.push(Fixed {
            name: "GetMyProfile via gateway",
            rate,
            achieved: s.rate(),
            p50_ms: s.p_ms(0.5),
            p99_ms: s.p_ms(0.99),
            generator_lag_p99_ms: lag,
        });
    }

    println!(
        "\n== sessions → challenge + analytics ({USERS} users, start + complete through the gateway) =="
    );
    let sessions = Sessions {
        gw: gw.clone(),
        users: users.clone(),
        focus: focus.clone(),
    };
    let fixed_rate = std::env::var("BENCH_SESSION_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500.0);
    let (sessions_max, sessions_fixed) = if wants("sessions") {
        (
            sessions.closed(&env, &procs).await?,
            sessions.open(&env, &procs, fixed_rate).await?,
        )
    } else {
        (Flow::default(), Flow::default())
    };

    let (sync, sync_flow) = if wants("sync") {
        println!(
            "\n== offline session events through the gateway ({CONCURRENCY} callers, a user and a timeline each) =="
        );
        let since = db_now(&env.activity_db).await?;
        let meter = CpuMeter::start(&procs);
        let (out, mut s) = crate::domains::sync(&domain, &focus).await?;
        // What challenge and analytics make of it: every completion applied, how fast.
        s.ok = out.sessions_completed;
        let flow = sessions.visible(&env, since, &s, meter, "sync").await?;
        println!(
            "  sync: {} completions applied by challenge and analytics at {:.0}/s end to end",
            flow.completions, flow.end_to_end_per_s
        );
        (Some(out), flow)
    } else {
        (None, Flow::default())
    };

    let ttft = if wants("ttft") {
        println!(
            "\n== coach: first streamed token, the coach's client straight to the stand-in vs SendMessage through the gateway (one at a time) =="
        );
        let t = crate::coach::ttft(
            crate::channel(&env.gateway.to_string()).await?,
            &env.openai,
            &users,
        )
        .await?;
        println!(
            "  direct p50 {:.2} ms p99 {:.2} ms; through the mesh p50 {:.2} ms p99 {:.2} ms",
            t.direct_p50_ms, t.direct_p99_ms, t.mesh_p50_ms, t.mesh_p99_ms
        );
        Some(t)
    } else {
        None
    };
    let evals = if wants("evals") {
        println!(
            "\n== coach: practice cycles (start, three turns, complete + evaluation) through the gateway =="
        );
        let mut chans = Vec::new();
        for _ in 0..CONNECTIONS {
            chans.push(crate::channel(&env.gateway.to_string()).await?);
        }
        let e = crate::coach::evaluations(chans, &env.openai, users.clone(), *PHASE).await?;
        println!(
            "  {:.1} evaluations/s  cycle p50 {:.1} ms p99 {:.1} ms  ({} failed); the stand-in alone answers {:.0} calls/s",
            e.per_s, e.cycle_p50_ms, e.cycle_p99_ms, e.failed, e.model_calls_per_s
        );
        Some(e)
    } else {
        None
    };

    let mut noise = 0.0;
    if wants("echo") {
        let again = saturate("bare tonic echo (again, for noise)", &procs, echo_call).await;
        noise = (again.rps - sat[0].rps).abs() / sat[0].rps.max(1.0);
        println!(
            "  machine noise: the ceiling moved {:.0} % between the start and the end",
            noise * 100.0
        );
    }

    stop.store(true, Ordering::Relaxed);
    let peaks = peaks.await?;
    println!("\n== resident memory (MiB) ==");
    let mut memory = Vec::new();
    for ((name, idle_kib), p) in idle_mem.iter().zip(&procs) {
        if p.is_tree() {
            continue; // a tree's root is a launcher; its memory says nothing
        }
        let peak = peaks.get(name).copied().unwrap_or(0) as f64 / 1024.0;
        let idle = *idle_kib as f64 / 1024.0;
        println!("  {name:<18} idle {idle:>6.1}   peak under load {peak:>6.1}");
        memory.push((name.clone(), idle, peak));
    }

    let report = Report {
        noise,
        idle,
        saturated: sat,
        fixed,
        sessions_max,
        sessions_fixed_rate: fixed_rate,
        sessions_fixed,
        overload,
        catalog,
        leaderboard,
        history,
        sync,
        sync_flow,
        ttft,
        evals,
        memory_mib: memory,
    };
    ratios(&report);
    if let Ok(path) = std::env::var("BENCH_OUT") {
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
        println!("\n(figures written to {path})");
    }
    if let Ok(path) = std::env::var("BENCH_PEER_SUMMARY") {
        crate::peer::compare(&path, &report_for_peer(&report))?;
    }
    Ok(())
}

/// The figures the baseline comparison needs.
fn report_for_peer(r: &Report) -> crate::peer::Stride {
    let find = |name: &str| r.saturated.iter().find(|p| p.name == name);
    let me = find("GetMyProfile via gateway (gRPC)");
    let summary = find("GetProgressSummary week via gateway");
    crate::peer::Stride {
        me: me.map(|p| (p.rps, p.p99_ms)),
        summary: summary.map(|p| (p.rps, p.p99_ms)),
        cycle: Some((
            r.sessions_max.completions_per_s,
            r.sessions_max.cycle_p99_ms,
        )),
    }
}

fn ratios(r: &Report) {
    let find = |name: &str| {
        r.saturated
            .iter()
            .find(|p| p.name == name)
            .map_or(0.0, |p| p.rps)
    };
    let echo = find("bare tonic echo (ceiling)");
    let direct = find("GetMyProfile direct");
    let gw = find("GetMyProfile via gateway (gRPC)");
    let web = find("GetMyProfile via gateway (grpc-web)");
    println!(
        "\n== ratios (goal in brackets; noise {:.0} %) ==",
        r.noise * 100.0
    );
    println!(
        "  GetMyProfile direct / echo ceiling        {:.2}  [≥ 0.40]",
        direct / echo
    );
    println!(
        "  GetMyProfile gateway gRPC / direct        {:.2}  [≥ 0.75]",
        gw / direct
    );
    println!(
        "  GetMyProfile gateway grpc-web / direct    {:.2}",
        web / direct
    );
    let grpc_json_phase = find("GetMyProfile via gateway (gRPC, json phase)");
    if grpc_json_phase > 0.0 {
        println!(
            "  GetMyProfile JSON/HTTP / gateway gRPC     {:.2}",
            find("GetMyProfile via gateway (JSON/HTTP)") / grpc_json_phase
        );
        println!(
            "  GetMyProfile Connect JSON / gateway gRPC  {:.2}",
            find("GetMyProfile via gateway (Connect JSON)") / grpc_json_phase
        );
    }
    for i in &r.idle {
        println!(
            "  idle p99 / p50, {:<36} {:.1}  [≤ 3]",
            i.name,
            i.p99_ms / i.p50_ms.max(1e-3)
        );
    }
    println!(
        "  sessions end to end                       {:.0}/s  [≥ 1000]",
        r.sessions_max.end_to_end_per_s
    );
    println!(
        "  completion → visible p99 at {:.0}/s         challenge {:.1} ms, analytics {:.1} ms  [< 100]",
        r.sessions_fixed_rate,
        r.sessions_fixed.visible_challenge_p99_ms,
        r.sessions_fixed.visible_analytics_p99_ms
    );
    for v in [&r.catalog, &r.leaderboard].into_iter().flatten() {
        println!(
            "  {:<40} p99 {:.2} ms = {:.2} × GetMyProfile p99; {:.2} × its calls/s  [p99 < 5 ms over the baseline's]",
            v.name,
            v.idle_p99_ms,
            v.idle_p99_ms / v.baseline_idle_p99_ms.max(1e-3),
            v.saturated_per_s / v.baseline_saturated_per_s.max(1e-3)
        );
    }
    for h in &r.history {
        println!(
            "  GetProgressSummary {:<5} 5 years of history p99 {:.2} ms = {:.2} × with {} of history  [p99 < 5 ms, ≈ 1 ×]",
            h.range,
            h.long_p99_ms,
            h.long_p99_ms / h.short_p99_ms.max(1e-3),
            h.against
        );
    }
    if let Some(t) = &r.ttft {
        println!(
            "  first streamed token added by the mesh    p50 {:.2} ms, p99 {:.2} ms (model alone p50 {:.2} ms)",
            t.added_p50_ms, t.added_p99_ms, t.direct_p50_ms
        );
    }
    if let Some(e) = &r.evals {
        println!(
            "  practice evaluations                      {:.1}/s ({EVAL} callers; the stand-in's own ceiling {:.0} calls/s)",
            e.per_s,
            e.model_calls_per_s,
            EVAL = crate::coach::EVAL_CALLERS
        );
    }
    if let Some(s) = &r.sync {
        println!(
            "  offline session events                    {:.0}/s = {:.2} × GetMyProfile calls/s; applied downstream {:.0} completions/s (analytics applies {:.0}/s, challenge {:.0}/s)",
            s.events_per_s,
            s.events_per_s / s.baseline_per_s.max(1e-3),
            r.sync_flow.end_to_end_per_s,
            r.sync_flow.applied_analytics_per_s,
            r.sync_flow.applied_challenge_per_s
        );
    }
}

/// Seeds HISTORY_DAYS past days of rollups for every user, one unbroken run ending yesterday
/// (UTC), as the baseline's `prepare.py --history-days 400` does.
async fn write_history(db: &sqlx::PgPool, users: &[User]) -> anyhow::Result<()> {
    let ids: Vec<uuid::Uuid> = users.iter().filter_map(|u| u.id.parse().ok()).collect();
    sqlx::query(
        "INSERT INTO daily_rollups (user_id, local_date, sessions_completed, focus_sessions, total_seconds, points)
         SELECT u, d::date, 1 + (random() * 4)::int, (random() * 2)::int, 600 + (random() * 3000)::int, 20 + (random() * 80)::int
         FROM unnest($1::uuid[]) AS u, generate_series(current_date - $2::int, current_date - 1, interval '1 day') AS d
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(HISTORY_DAYS)
    .execute(db)
    .await?;
    // The same days as one run each, as analytics keeps them when the sessions arrive.
    sqlx::query(
        "INSERT INTO active_runs (user_id, first_date, last_date)
         SELECT u, current_date - $2::int, current_date - 1 FROM unnest($1::uuid[]) AS u
         ON CONFLICT DO NOTHING",
    )
    .bind(&ids)
    .bind(HISTORY_DAYS)
    .execute(db)
    .await?;
    sqlx::query("ANALYZE daily_rollups").execute(db).await?;
    Ok(())
}

/// Start + complete cycles through the gateway. Users are lent out one at a time (a user has
/// one active session).
struct Sessions {
    gw: Arc<Vec<Clients<Channel>>>,
    users: Arc<Vec<User>>,
    focus: String,
}

/// One start + complete; true when the completion succeeded.
async fn cycle(mut a: SessionServiceClient<Channel>, token: &str, focus: &str) -> bool {
    let Ok(s) = a
        .start_session(authed(
            StartSessionRequest {
                activity_id: focus.to_owned(),
                planned_duration: None,
                ..Default::default()
            },
            token,
        ))
        .await
    else {
        return false;
    };
    let Some(s) = s.into_inner().session else {
        return false;
    };
    a.complete_session(authed(CompleteSessionRequest { session_id: s.id }, token))
        .await
        .is_ok()
}

impl Sessions {
    /// Maximum throughput: CONCURRENCY callers, each with two users of its own.
    async fn closed(&self, env: &Env, procs: &[Proc]) -> anyhow::Result<Flow> {
        let since = db_now(&env.activity_db).await?;
        pg_reset(&env.activity_db).await;
        let meter = CpuMeter::start(procs);
        let (g, u, f) = (self.gw.clone(), self.users.clone(), self.focus.clone());
        let flip = Arc::new(
            (0..CONCURRENCY)
                .map(|_| AtomicU64::new(0))
                .collect::<Vec<_>>(),
        );
        let s = load::closed(CONCURRENCY, *PHASE * 2, move |i| {
            let n = flip[i].fetch_add(1, Ordering::Relaxed) as usize;
            let user = &u[(i + CONCURRENCY * (n % 2)) % u.len()];
            let (a, t, f) = (
                g[i % CONNECTIONS].sessions.clone(),
                user.token.clone(),
                f.clone(),
            );
            async move { cycle(a, &t, &f).await }
        })
        .await;
        let produced = s.secs;
        let flow = self.visible(env, since, &s, meter, "max").await?;
        pg_top(&env.activity_db, s.ok, "completion").await;
        println!(
            "  closed loop: {} completions in {produced:.1} s = {:.0} cycles/s (cycle p50 {:.1} ms, p99 {:.1} ms); all consumed at {:.0}/s end to end",
            s.ok,
            flow.completions_per_s,
            s.p_ms(0.5),
            s.p_ms(0.99),
            flow.end_to_end_per_s
        );
        Ok(flow)
    }

    /// A fixed rate of completions (open loop): how soon each is visible downstream.
    async fn open(&self, env: &Env, procs: &[Proc], rate: f64) -> anyhow::Result<Flow> {
        let since = db_now(&env.activity_db).await?;
        let meter = CpuMeter::start(procs);
        let free: Arc<std::sync::Mutex<VecDeque<usize>>> =
            Arc::new(std::sync::Mutex::new((0..self.users.len()).collect()));
        let (g, u, f) = (self.gw.clone(), self.users.clone(), self.focus.clone());
        let s = load::open(rate, *PHASE * 2, move |k| {
            let (g, u, f, free) = (g.clone(), u.clone(), f.clone(), free.clone());
            async move {
                let Some(i) = free.lock().ok().and_then(|mut q| q.pop_front()) else {
                    return false; // every user busy: counted as a failure
                };
                let ok = cycle(
                    g[k as usize % CONNECTIONS].sessions.clone(),
                    &u[i].token,
                    &f,
                )
                .await;
                if let Ok(mut q) = free.lock() {
                    q.push_back(i);
                }
                ok
            }
        })
        .await;
        let flow = self.visible(env, since, &s, meter, "fixed").await?;
        println!(
            "  open loop at {rate:.0}/s: {:.0} cycles/s done (cycle p50 {:.1} ms, p99 {:.1} ms, {} failed, generator lag p99 {:.1} ms)",
            flow.completions_per_s,
            s.p_ms(0.5),
            s.p_ms(0.99),
            s.failed,
            load::pct(&s.lag_us, 0.99) as f64 / 1000.0
        );
        Ok(flow)
    }

    /// Waits until challenge and analytics have consumed every completion since `since`, then
    /// reads completion (outbox row) → visible (inbox row) latencies on PostgreSQL's clock.
    async fn visible(
        &self,
        env: &Env,
        since: time::OffsetDateTime,
        s: &Stats,
        meter: CpuMeter,
        label: &str,
    ) -> anyhow::Result<Flow> {
        let (done, produced_secs) = (s.ok, s.secs);
        let start = Instant::now() - Duration::from_secs_f64(produced_secs);
        let produced: Vec<(uuid::Uuid, time::OffsetDateTime)> = sqlx::query_as(
            "SELECT id, created_at FROM outbox WHERE event_type = 'session.completed.v1' AND created_at >= $1",
        )
        .bind(since)
        .fetch_all(&env.activity_db)
        .await?;
        let ids: Vec<uuid::Uuid> = produced.iter().map(|(id, _)| *id).collect();
        let deadline = Instant::now() + Duration::from_secs(120);
        let count = |db: &sqlx::PgPool| {
            let (db, ids) = (db.clone(), ids.clone());
            async move {
                let (n,): (i64,) =
                    sqlx::query_as("SELECT count(*) FROM inbox WHERE event_id = ANY($1)")
                        .bind(&ids)
                        .fetch_one(&db)
                        .await?;
                anyhow::Ok(n as usize)
            }
        };
        loop {
            let (a, c) = (
                count(&env.analytics_db).await?,
                count(&env.challenge_db).await?,
            );
            if a >= ids.len() && c >= ids.len() {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{label}: events did not all arrive: analytics {a}, challenge {c} of {}",
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let flow_secs = start.elapsed().as_secs_f64();
        let cpu = meter.finish(done);
        let produced: HashMap<_, _> = produced.into_iter().collect();
        let lat = |db: &sqlx::PgPool| {
            let (db, ids, produced) = (db.clone(), ids.clone(), &produced);
            async move {
                let rows: Vec<(uuid::Uuid, time::OffsetDateTime)> = sqlx::query_as(
                    "SELECT event_id, received_at FROM inbox WHERE event_id = ANY($1)",
                )
                .bind(&ids)
                .fetch_all(&db)
                .await?;
                // How fast this consumer applied them: the events over the span it took.
                let first = rows.iter().map(|(_, at)| *at).min();
                let last = rows.iter().map(|(_, at)| *at).max();
                let applied_per_s = match (first, last) {
                    (Some(f), Some(l)) if l > f => rows.len() as f64 / (l - f).as_seconds_f64(),
                    _ => 0.0,
                };
                let mut l: Vec<u64> = rows
                    .into_iter()
                    .filter_map(|(id, at)| {
                        produced
                            .get(&id)
                            .map(|p| ((at - *p).as_seconds_f64() * 1e6).max(0.0) as u64)
                    })
                    .collect();
                l.sort_unstable();
                anyhow::Ok((
                    load::pct(&l, 0.5) as f64 / 1000.0,
                    load::pct(&l, 0.99) as f64 / 1000.0,
                    applied_per_s,
                ))
            }
        };
        let (c50, c99, c_rate) = lat(&env.challenge_db).await?;
        let (a50, a99, a_rate) = lat(&env.analytics_db).await?;
        println!(
            "  {label}: completion → visible  challenge p50 {c50:.1} ms p99 {c99:.1} ms · analytics p50 {a50:.1} ms p99 {a99:.1} ms"
        );
        println!(
            "  {label}: events applied  challenge {c_rate:.0}/s · analytics {a_rate:.0}/s (each consumer's events over its first-to-last span)"
        );
        println!("      cpu per completion: {}", procs::line(&cpu));
        Ok(Flow {
            completions: ids.len() as u64,
            completions_per_s: done as f64 / produced_secs,
            end_to_end_per_s: ids.len() as f64 / flow_secs,
            visible_challenge_p50_ms: c50,
            visible_challenge_p99_ms: c99,
            visible_analytics_p50_ms: a50,
            visible_analytics_p99_ms: a99,
            applied_challenge_per_s: c_rate,
            applied_analytics_per_s: a_rate,
            cycle_p50_ms: s.p_ms(0.5),
            cycle_p99_ms: s.p_ms(0.99),
            cpu,
        })
    }
}

/// Forgets PostgreSQL's per-statement figures (when `pg_stat_statements` is loaded).
async fn pg_reset(db: &sqlx::PgPool) {
    let _ = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(db)
        .await;
    let _ = sqlx::query("SELECT pg_stat_statements_reset()")
        .execute(db)
        .await;
}

/// Prints the statements PostgreSQL spent most time executing since [`pg_reset`], per unit of
/// work (`per` units done).
async fn pg_top(db: &sqlx::PgPool, per: u64, unit: &str) {
    let rows: Result<Vec<(String, i64, f64, String)>, _> = sqlx::query_as(
        "SELECT d.datname::text, s.calls, s.total_exec_time,
                left(regexp_replace(s.query, '\\s+', ' ', 'g'), 100)
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         ORDER BY s.total_exec_time DESC LIMIT 12",
    )
    .fetch_all(db)
    .await;
    let Ok(rows) = rows else { return };
    let per = per.max(1) as f64;
    println!("      PostgreSQL, top statements by execution time (per {unit}: calls, µs):");
    for (db, calls, ms, query) in rows {
        println!(
            "        {:>5.2} {:>7.1} µs  {:<22} {query}",
            calls as f64 / per,
            ms * 1000.0 / per,
            db.trim_start_matches("stride_")
        );
    }
}

async fn db_now(db: &sqlx::PgPool) -> anyhow::Result<time::OffsetDateTime> {
    let (now,): (time::OffsetDateTime,) = sqlx::query_as("SELECT now()").fetch_one(db).await?;
    Ok(now)
}
