//! Events published while the broker is down arrive once it is back: the outbox keeps them.

use stride_e2e::{Mesh, Stores};
use stride_proto::{
    activity_session::{
        ActivityKind, CompleteSessionRequest, ListActivitiesRequest, StartSessionRequest,
    },
    analytics::GetProgressSummaryRequest,
    auth::SignupRequest,
};
use stride_testkit::{authed, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_published_while_the_broker_is_down_arrive_after_it_returns() {
    stride_kit::telemetry::init_for_tests();
    // A broker of this test's own: it gets killed.
    let dir = tempdir();
    let mut rabbit = stride_infra::Rabbit::start(&dir).expect("dedicated broker");
    let stores = Stores {
        pg_admin_url: std::env::var("STRIDE_TEST_PG_URL").expect("run through `cargo xtask test`"),
        amqp_url: rabbit.amqp_url("/"),
        vhost: None,
    };
    let mesh = Mesh::start(&stores).await.expect("mesh");
    let mut c = stride_e2e::grpc_clients(mesh.gateway)
        .await
        .expect("clients");
    let name = format!("carol{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let tokens = c
        .auth
        .signup(SignupRequest {
            email: format!("{name}@example.com"),
            username: name,
            password: "a long passphrase".into(),
            timezone: String::new(),
        })
        .await
        .expect("signup")
        .into_inner()
        .tokens
        .expect("tokens");
    let tok = tokens.access_token;
    let focus = c
        .catalog
        .list_activities(authed(
            ListActivitiesRequest {
                page_size: 100,
                ..Default::default()
            },
            &tok,
        ))
        .await
        .expect("activities")
        .into_inner()
        .activities
        .into_iter()
        .find(|a| a.kind() == ActivityKind::Focus)
        .expect("focus");

    // The broker goes away. A graceful stop, not SIGKILL: on RabbitMQ 3.10 a quorum queue
    // declared seconds before a SIGKILL can come back permanently unavailable (its registration is
    // saved lazily), which tests the broker rather than us. Our side is the same either way: every
    // link breaks and the next publishes find no broker.
    rabbit.stop();
    // The state change commits; the event waits in the outbox.
    let s = c
        .sessions
        .start_session(authed(
            StartSessionRequest {
                activity_id: focus.id.clone(),
                planned_duration: None,
                ..Default::default()
            },
            &tok,
        ))
        .await
        .expect("start works without the broker")
        .into_inner()
        .session
        .expect("session");
    mesh.clock.advance(time::Duration::minutes(25));
    c.sessions
        .complete_session(authed(CompleteSessionRequest { session_id: s.id }, &tok))
        .await
        .expect("complete works without the broker");
    rabbit.restart().expect("broker restarts");

    let summary = eventually(
        std::time::Duration::from_secs(60),
        "the session reaches analytics after the broker returns",
        || {
            let mut a = c.analytics.clone();
            let tok = tok.clone();
            async move {
                let s = a
                    .get_progress_summary(authed(GetProgressSummaryRequest::default(), &tok))
                    .await
                    .ok()?
                    .into_inner();
                (s.sessions_completed >= 1).then_some(s)
            }
        },
    )
    .await;
    assert_eq!(summary.sessions_completed, 1, "delivered once");
    mesh.stop().await.expect("stop");
    rabbit.stop();
}

fn tempdir() -> std::path::PathBuf {
    let base = std::env::var("STRIDE_TEST_INFRA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir());
    let dir = base.join(format!("rabbit-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}
