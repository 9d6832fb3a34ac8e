//! End to end through the gateway, over native gRPC, grpc-web, JSON/HTTP and Connect, against the
//! real mesh.

mod auth_flows;
mod broker_down;
mod browser;
mod catalog;
// The coach: streaming to grpc-web and Connect, practice → activation (issue 16).
mod coach;
mod compose;
mod config_docs;
mod connect;
mod dashboard;
mod edge;
mod export;
mod external;
mod flow;
mod http_json;
mod profile;
// Calls balanced over replicas found by name; two replicas of every service (issue 17).
mod replicas;
mod rolling;
mod sessions;
mod sweep;
// Tasks, shutdown reflections, learning (issue 13, part C).
mod tasks_learning;

use stride_e2e::{Mesh, Stores};

pub(crate) async fn shared_stores() -> Stores {
    let pg_admin_url = std::env::var("STRIDE_TEST_PG_URL").expect("run through `cargo xtask test`");
    let vhost = stride_testkit::vhost().await;
    Stores {
        pg_admin_url,
        amqp_url: vhost.url.clone(),
        vhost: Some(std::sync::Arc::new(vhost)),
    }
}

/// Signs `name` up (confirmation off, as [`stride_e2e::Options`] defaults) in Europe/Paris and
/// returns the access token.
pub(crate) async fn signup(
    auth: &mut stride_proto::auth::auth_service_client::AuthServiceClient<
        tonic::transport::Channel,
    >,
    name: &str,
) -> String {
    auth.signup(stride_proto::auth::SignupRequest {
        email: format!("{name}@example.com"),
        username: name.into(),
        password: "correct horse battery".into(),
        timezone: "Europe/Paris".into(),
    })
    .await
    .expect("signup")
    .into_inner()
    .tokens
    .expect("tokens")
    .access_token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_flow_over_native_grpc() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start(&shared_stores().await)
        .await
        .expect("mesh starts");
    let clients = stride_e2e::grpc_clients(mesh.gateway)
        .await
        .expect("connect");
    flow::run(&mesh, clients).await;
    mesh.stop().await.expect("graceful stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_flow_over_grpc_web() {
    stride_kit::telemetry::init_for_tests();
    let mesh = Mesh::start(&shared_stores().await)
        .await
        .expect("mesh starts");
    let clients = stride_e2e::grpc_web_clients(mesh.gateway).expect("client");
    flow::run(&mesh, clients).await;
    mesh.stop().await.expect("graceful stop");
}
