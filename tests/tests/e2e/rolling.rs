//! A rolling restart behind the gateway fails no call: profile runs as two replicas listed in
//! the gateway's one upstream setting; each in turn drains (the path SIGTERM takes: in-flight
//! calls finish, new ones are refused with GOAWAY), stops and comes back on its port, twice over,
//! while callers keep calling through the gateway. A call the draining replica never took is
//! sent to the other one; a call it took finishes there.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use stride_e2e::{Mesh, Options};
use stride_proto::profile::GetMyProfileRequest;
use stride_testkit::authed;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_of_two_replicas_fails_no_call() {
    stride_kit::telemetry::init_for_tests();
    let mut mesh = Mesh::start_with(
        &crate::shared_stores().await,
        Options {
            profile_replicas: 2,
            ..Options::default()
        },
    )
    .await
    .expect("mesh starts");
    let c = stride_e2e::grpc_clients(mesh.gateway)
        .await
        .expect("connect");
    let name = format!("roll{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let token = crate::signup(&mut c.auth.clone(), &name).await;
    let mut profile = c.profile.clone();
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
                        Err(s) => failures.lock().expect("lock").push(format!(
                            "{:?}: {}",
                            s.code(),
                            s.message()
                        )),
                    }
                    // Paced under the gateway's default per-client limit (100/s): 8 callers at
                    // 10 calls/s each. Unpaced, a quiet machine trips the limiter, not the restart.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            })
        })
        .collect();

    let mut served_during = Vec::new();
    for _round in 0..2 {
        for i in 0..2 {
            let before = ok.load(Ordering::Relaxed);
            mesh.restart_profile_replica(i)
                .await
                .expect("replica restarts");
            served_during.push(ok.load(Ordering::Relaxed) - before);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in callers {
        t.await.expect("caller");
    }
    let failures = failures.lock().expect("lock").clone();
    assert!(
        failures.is_empty(),
        "{} calls failed during the rolling restart, e.g. {:?}",
        failures.len(),
        failures.iter().take(5).collect::<Vec<_>>()
    );
    // The other replica kept serving while each one was away.
    assert!(
        served_during.iter().all(|&n| n > 0),
        "calls served during each restart: {served_during:?}"
    );
    // Both replicas serve again afterwards.
    profile
        .get_my_profile(authed(GetMyProfileRequest {}, &token))
        .await
        .expect("served after the restarts");
    mesh.stop().await.expect("graceful stop");
}
