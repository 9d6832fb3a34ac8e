//! Test support against real servers.
//!
//! `cargo xtask test` starts one PostgreSQL and one RabbitMQ for the run and exports
//! `STRIDE_TEST_PG_URL`, `STRIDE_TEST_AMQP_URL` and `STRIDE_TEST_RABBIT_MGMT_URL`. Each test then
//! takes a fresh database ([`database`]) and a fresh vhost ([`vhost`]), so tests run in parallel
//! without seeing each other. Run `cargo xtask infra` to get the same variables for a manual
//! `cargo nextest run -p <crate>`.

pub mod bus;
pub mod conformance;
pub mod facebook;
pub mod fixtures;
pub mod google_oauth;
pub mod grpc_web;
mod harness;
pub mod oidc;
pub mod openai;
pub mod telegram;
pub mod twilio;

pub use harness::ServiceHarness;

use std::{
    future::Future,
    sync::{Arc, RwLock},
    time::Duration,
};

use stride_kit::{
    Verifier,
    jwt::{SigningKey, StaticJwks, access_claims},
};
use uuid::Uuid;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through `cargo xtask test` (or export what `cargo xtask infra` prints)")
    })
}

/// Creates an empty database and returns its URL. Migrations are the service's job.
pub async fn database() -> String {
    stride_kit::install_crypto_provider();
    let admin = env("STRIDE_TEST_PG_URL");
    let name = format!("t_{}", Uuid::now_v7().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

/// A test's vhost on the shared test broker, deleted when dropped. Every test takes one, and a
/// vhost is not free on RabbitMQ (message stores and queue processes of its own): a suite that
/// left ~850 of them behind slowed the one broker until a publisher confirm took over 15 s.
#[derive(Debug)]
pub struct TestVhost {
    /// AMQP URL of the vhost.
    pub url: String,
    pub name: String,
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let (name, mgmt_url) = (self.name.clone(), env("STRIDE_TEST_RABBIT_MGMT_URL"));
        // Blocking HTTP on a thread of its own: drop may run on a runtime worker. Best effort:
        // a vhost left behind only costs the broker some memory.
        let _ = std::thread::spawn(move || {
            stride_infra::Mgmt::from_url(&mgmt_url).and_then(|m| m.delete_vhost(&name))
        })
        .join();
    }
}

/// Creates a fresh vhost on the test broker; it lives as long as the returned guard. One
/// management client serves tests and xtask: stride-infra's (blocking, so it runs off the
/// runtime).
pub async fn vhost() -> TestVhost {
    let name = format!("t{}", Uuid::now_v7().simple());
    let mgmt_url = env("STRIDE_TEST_RABBIT_MGMT_URL");
    let vhost = name.clone();
    tokio::task::spawn_blocking(move || {
        stride_infra::Mgmt::from_url(&mgmt_url)?.create_vhost(&vhost)
    })
    .await
    .expect("vhost task")
    .expect("create the test vhost");
    let base = env("STRIDE_TEST_AMQP_URL");
    let root = base
        .rsplit_once('/')
        .map(|(r, _)| r)
        .unwrap_or(&base)
        .to_owned();
    TestVhost {
        url: format!("{root}/{name}"),
        name,
    }
}

/// Signs access tokens that services started with [`TestIssuer::verifier`] accept, for service
/// tests that do not run auth. End-to-end tests use the real auth service instead.
#[derive(Clone)]
pub struct TestIssuer {
    key: SigningKey,
    jwks: Arc<RwLock<Vec<stride_proto::auth::Jwk>>>,
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TestIssuer {
    pub fn new() -> Self {
        stride_kit::install_crypto_provider();
        let key = SigningKey::generate().expect("key");
        let jwks = Arc::new(RwLock::new(vec![key.jwk()]));
        Self { key, jwks }
    }

    pub fn verifier(&self) -> Arc<Verifier> {
        Verifier::new(Arc::new(StaticJwks(self.jwks.clone())))
    }

    /// The key this issuer signs with, for the shared forgery matrix
    /// (`stride_kit::jwt::forge::forgeries(issuer.key(), user, now)`).
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// A valid access token for `user`.
    pub fn token(&self, user: Uuid) -> String {
        self.token_with_roles(user, &["user"])
    }

    /// A valid access token for `user` carrying `roles` (e.g. `["user", "admin"]`).
    pub fn token_with_roles(&self, user: Uuid, roles: &[&str]) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.key
            .sign(&access_claims(
                user,
                "test-session",
                roles.iter().map(|r| (*r).to_owned()).collect(),
                false,
                now,
                900,
            ))
            .expect("sign")
    }
}

/// Adds `authorization: Bearer <token>` to a request.
pub fn authed<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    req
}

/// Polls `f` until it returns `Some`, or panics after `deadline` with `what`. Use it to wait for
/// effects of background work (events) instead of sleeping.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out after {deadline:?} waiting for: {what}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Deadline used for event effects in tests: longer than one stalled broker round trip
/// ([`stride_bus::amqp::BROKER_TIMEOUT`]) plus the reconnect after it, so a single stall on a
/// busy machine delays an effect instead of failing the test.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(35);
