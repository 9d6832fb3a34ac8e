//! Replicas (issue 17). Calls are balanced across every replica one name resolves to, and the
//! set follows the name as replicas come and go, failing no call; and two replicas of every
//! service run the whole journey with the figures of one (no double counting), the scheduler
//! settling each challenge window once and each consumer queue shared by competing consumers.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use stride_e2e::{Mesh, Options};
use stride_proto::profile::GetMyProfileRequest;
use stride_testkit::authed;

/// Calls each profile replica took, by address, from the gateway's
/// `stride_gateway_upstream_calls_total` (served on its metrics port).
async fn calls_by_replica(mesh: &Mesh) -> BTreeMap<String, u64> {
    let text = reqwest::get(format!("http://{}/metrics", mesh.gateway_http))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    text.lines()
        .filter(|l| {
            l.starts_with("stride_gateway_upstream_calls_total{")
                && l.contains("package=\"stride.profile.v1\"")
        })
        .filter_map(|l| {
            let replica = l.split("replica=\"").nth(1)?.split('"').next()?.to_owned();
            let n = l.rsplit(' ').next()?.parse().ok()?;
            Some((replica, n))
        })
        .collect()
}

/// Waits until replica `addr` has taken more than `above` calls.
async fn wait_calls(mesh: &Mesh, addr: SocketAddr, above: u64, what: &str) -> u64 {
    stride_testkit::eventually(Duration::from_secs(30), what, || async move {
        calls_by_replica(mesh)
            .await
            .get(&addr.to_string())
            .copied()
            .filter(|n| *n > above)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_spread_over_the_replicas_of_one_name_and_follow_it() {
    stride_kit::telemetry::init_for_tests();
    let mut mesh = Mesh::start_with(
        &crate::shared_stores().await,
        Options {
            profile_replicas: 2,
            profile_by_name: true,
            ..Options::default()
        },
    )
    .await
    .expect("mesh starts");
    let c = stride_e2e::grpc_clients(mesh.gateway)
        .await
        .expect("connect");
    let name = format!("dns{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let token = crate::signup(&mut c.auth.clone(), &name).await;
    let profile = c.profile.clone();
    stride_testkit::eventually(stride_testkit::EVENT_DEADLINE, "the profile", || {
        let (mut p, t) = (profile.clone(), token.clone());
        async move {
            p.get_my_profile(authed(GetMyProfileRequest {}, &t))
                .await
                .ok()
        }
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
            let (mut p, t) = (profile.clone(), token.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match p.get_my_profile(authed(GetMyProfileRequest {}, &t)).await {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(s) => failures.lock().unwrap().push(format!(
                            "{:?}: {}",
                            s.code(),
                            s.message()
                        )),
                    }
                    // Under the gateway's default per-client limit (100/s).
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        })
        .collect();

    // Both replicas behind the one name take calls (one client connection to the gateway:
    // the gateway balances calls, not connections).
    let addrs = mesh.profile_addrs();
    let (a, b) = (addrs[0], addrs[1]);
    wait_calls(&mesh, a, 10, "replica A takes calls").await;
    wait_calls(&mesh, b, 10, "replica B takes calls").await;
    let seen = calls_by_replica(&mesh).await;
    assert!(
        !seen.contains_key(&format!("{}:50052", stride_e2e::PROFILE_NAME)),
        "the name itself gave way to its addresses: {seen:?}"
    );

    // B stops while the name still lists it (a pod terminating before the endpoints controller
    // noticed): it refuses new calls, the gateway sends them to A.
    let stopped = mesh.stop_profile_replica(1).await.expect("B stops");
    assert_eq!(stopped, b);
    let before = calls_by_replica(&mesh).await.get(&a.to_string()).copied();
    wait_calls(
        &mesh,
        a,
        before.unwrap_or(0) + 20,
        "A serves while B is gone",
    )
    .await;
    // The name drops B: the gateway forgets it (its series goes with it).
    mesh.profile_dns_remove(b);
    let m = &mesh;
    stride_testkit::eventually(Duration::from_secs(30), "B forgotten", || async move {
        (!calls_by_replica(m).await.contains_key(&b.to_string())).then_some(())
    })
    .await;
    let a_now = calls_by_replica(&mesh).await.get(&a.to_string()).copied();
    wait_calls(&mesh, a, a_now.unwrap_or(0) + 10, "A serves alone").await;

    // B comes back on its address and into the name: it is found again and takes calls.
    mesh.start_profile_replica(b).await.expect("B restarts");
    mesh.profile_dns_add(b);
    wait_calls(&mesh, b, 5, "B found again").await;

    stop.store(true, Ordering::Relaxed);
    for t in callers {
        t.await.expect("caller");
    }
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} of {} calls failed, e.g. {:?}",
        failures.len(),
        failures.len() as u64 + ok.load(Ordering::Relaxed),
        failures.iter().take(5).collect::<Vec<_>>()
    );
    mesh.stop().await.expect("graceful stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_of_every_service_run_the_journey_once() {
    stride_kit::telemetry::init_for_tests();
    let stores = crate::shared_stores().await;
    let vhost = stores.vhost.as_ref().expect("a test vhost").name.clone();
    let mesh = Mesh::start_with(
        &stores,
        Options {
            replicas: 2,
            ..Options::default()
        },
    )
    .await
    .expect("mesh starts");

    // Each consumer queue has both replicas of its service as competing consumers.
    let mgmt = stride_infra::Mgmt::from_url(
        &std::env::var("STRIDE_TEST_RABBIT_MGMT_URL").expect("run through `cargo xtask test`"),
    )
    .expect("management URL");
    for service in [
        "profile",
        "activity-session",
        "challenge",
        "analytics",
        "ai-coach",
    ] {
        let queue = format!("{service}.events");
        let path = format!(
            "/api/queues/{}/{}",
            stride_infra::percent_encode(&vhost),
            stride_infra::percent_encode(&queue)
        );
        let (m, p) = (mgmt.clone(), path.clone());
        // The management statistics lag the broker by a few seconds.
        stride_testkit::eventually(Duration::from_secs(30), &queue, || {
            let (m, p) = (m.clone(), p.clone());
            async move {
                let text = tokio::task::spawn_blocking(move || m.call("GET", &p, None))
                    .await
                    .ok()?
                    .ok()?;
                let json: serde_json::Value = serde_json::from_str(&text).ok()?;
                (json.get("consumers")?.as_u64()? == 2).then_some(())
            }
        })
        .await;
    }

    // The journey asserts exact figures (challenge progress and points, analytics totals and
    // streaks): with every event consumed by one of two replicas, they must not move.
    let clients = stride_e2e::grpc_clients(mesh.gateway)
        .await
        .expect("connect");
    crate::flow::run(&mesh, clients).await;

    // Both challenge replicas run the settler; past the week every due window is settled, and
    // each announced exactly once.
    mesh.clock.advance(time::Duration::days(8));
    let pool = sqlx::PgPool::connect(&mesh.databases.challenge)
        .await
        .expect("challenge db");
    let now = stride_kit::Clock::now(&mesh.clock);
    let settled: i64 =
        stride_testkit::eventually(Duration::from_secs(30), "every due window settled", || {
            let pool = pool.clone();
            async move {
                let (due, settled): (i64, i64) = sqlx::query_as(
                    "SELECT count(*) FILTER (WHERE settle_after <= $1),
                            count(*) FILTER (WHERE settled_at IS NOT NULL)
                     FROM challenge_periods",
                )
                .bind(now)
                .fetch_one(&pool)
                .await
                .ok()?;
                (due > 0 && settled == due).then_some(settled)
            }
        })
        .await;
    let announced: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'challenge.settled.v1'")
            .fetch_one(&pool)
            .await
            .expect("outbox");
    assert_eq!(announced, settled, "one challenge.settled.v1 per window");
    mesh.stop().await.expect("graceful stop");
}
