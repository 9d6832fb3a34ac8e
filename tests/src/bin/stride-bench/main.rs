//! Load generator for `cargo xtask bench`. Everything it prints is measured in one run on one
//! machine, and every figure that matters is a ratio against a baseline of the same run:
//!
//! - `run` (the mesh): idle latency of cheap calls (small and multi-frame answers, direct and
//!   through the gateway); saturated calls/s of a bare tonic server (the ceiling), of
//!   `GetMyProfile` direct and through the gateway (gRPC and grpc-web; with `json`, also JSON/HTTP
//!   and Connect JSON against gRPC measured back to back; the ceiling, direct, gRPC and grpc-web
//!   in interleaved turns so their ratios see the machine at the same moments), of the multi-frame
//!   `ListActivities` and of the weekly summary, each with the CPU every process spent per
//!   call; open-loop latency at fixed rates; completed sessions/s flowing to challenge and
//!   analytics (closed loop) and the completion → visible latency at a fixed rate (open loop);
//!   memory idle and at peak; the domain phases (domains.rs: exercise search over 10,000
//!   exercises, a leaderboard of 1,000,000, offline session events ingested) against
//!   `GetMyProfile` in the same run. With `BENCH_PEER_SUMMARY` (a FastAPI baseline summary written by
//!   the peer's `bench.sh` in the same run) it prints Stride's ratios against it.
//! - `login`: logins/s against the argon2 ceiling measured in the same run, the p99 of cheap
//!   unrelated calls during the flood against their idle p99, and auth's memory.
//!
//! - `chaos`: faults injected into the event path under load (see chaos.rs), asked of xtask.
//!
//! Usage: `stride-bench echo-server` (prints its port), or `stride-bench run|login|chaos` with the
//! addresses in env; xtask wires it up.

mod chaos;
mod coach;
mod domains;
mod load;
mod login;
mod mesh;
mod overload;
mod peer;
mod procs;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use stride_proto::{auth::SignupRequest, profile::GetMyProfileRequest};
use stride_testkit::authed;

fn main() -> anyhow::Result<()> {
    stride_kit::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match std::env::args().nth(1).as_deref() {
        Some("echo-server") => rt.block_on(echo_server()),
        Some("openai-server") => rt.block_on(openai_server()),
        Some("run") => rt.block_on(mesh::run()),
        Some("login") => rt.block_on(login::run()),
        Some("chaos") => rt.block_on(chaos::run()),
        _ => anyhow::bail!("usage: stride-bench echo-server | openai-server | run | login | chaos"),
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

pub(crate) fn var(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} must be set (cargo xtask bench sets it)"))
}

/// A channel to `addr` (host:port) with TCP_NODELAY, connected now.
pub(crate) async fn channel(addr: &str) -> anyhow::Result<tonic::transport::Channel> {
    Ok(
        tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await?,
    )
}

/// The id of the catalog's focus activity.
pub(crate) async fn focus_activity(
    c: &stride_e2e::Clients<tonic::transport::Channel>,
    token: &str,
) -> anyhow::Result<String> {
    use stride_proto::activity_session::{ActivityKind, ListActivitiesRequest};
    Ok(c.catalog
        .clone()
        .list_activities(authed(
            ListActivitiesRequest {
                page_size: 100,
                ..Default::default()
            },
            token,
        ))
        .await?
        .into_inner()
        .activities
        .into_iter()
        .find(|a| a.kind() == ActivityKind::Focus)
        .context("focus activity")?
        .id)
}

/// A signed-up user.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub id: String,
    pub email: String,
    pub token: String,
}

pub(crate) const PASSWORD: &str = "bench passphrase";

/// Signs up `n` users named `<prefix><run>u<i>` (a few at a time: each signup hashes a
/// password) and waits until each has a profile (user.registered.v1 → profile).
pub(crate) async fn sign_up_users(
    c: &stride_e2e::Clients<tonic::transport::Channel>,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<User>> {
    println!("setting up {n} users…");
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let mut users = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(4) {
        let mut tasks = Vec::new();
        for &i in chunk {
            let mut auth = c.auth.clone();
            let name = format!("{prefix}{}u{i}", &run_id[24..]);
            tasks.push(tokio::spawn(async move {
                let email = format!("{name}@example.com");
                let r = auth
                    .signup(SignupRequest {
                        email: email.clone(),
                        username: name,
                        password: PASSWORD.into(),
                        timezone: String::new(),
                    })
                    .await?
                    .into_inner();
                let tokens = r.tokens.context("tokens")?;
                anyhow::Ok(User {
                    id: r.user.context("user")?.id,
                    email,
                    token: tokens.access_token,
                })
            }));
        }
        for t in tasks {
            users.push(t.await??);
        }
    }
    let mut profile = c.profile.clone();
    for u in &users {
        let deadline = Instant::now() + Duration::from_secs(30);
        while profile
            .get_my_profile(authed(GetMyProfileRequest {}, &u.token))
            .await
            .is_err()
        {
            anyhow::ensure!(Instant::now() < deadline, "profiles did not appear");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(users)
}

/// The OpenAI stand-in of stride-testkit (the wire protocol the production client speaks),
/// fast: streamed chunks 1 ms apart. Prints its base URL, then serves until killed.
async fn openai_server() -> anyhow::Result<()> {
    let openai = stride_testkit::openai::OpenAi::start().await;
    openai.set_token_gap(Duration::from_millis(1));
    println!("{}", openai.url());
    std::future::pending::<()>().await;
    Ok(())
}
