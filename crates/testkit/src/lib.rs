//! Test support against real servers.
//!
//! `cargo xtask test` starts one PostgreSQL and one RabbitMQ for the run and exports
//! `STRIDE_TEST_PG_URL`, `STRIDE_TEST_AMQP_URL` and `STRIDE_TEST_RABBIT_MGMT_URL`. Each test then
//! takes a fresh database ([`database`]) and a fresh vhost ([`vhost`]), so tests run in parallel
//! without seeing each other. Run `cargo xtask infra` to get the same variables for a manual
//! `cargo nextest run -p <crate>`.

pub mod bus;
pub mod oidc;
pub mod telegram;

use std::{
    future::Future,
    sync::{Arc, RwLock},
    time::Duration,
};

use anyhow::Context as _;
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

/// The RabbitMQ management API of the test broker.
#[derive(Clone, Debug)]
pub struct Management {
    host: String,
    auth: String,
}

impl Management {
    /// From `STRIDE_TEST_RABBIT_MGMT_URL` (`http://user:pass@host:port`).
    pub fn from_env() -> Self {
        Self::parse(&env("STRIDE_TEST_RABBIT_MGMT_URL"))
    }

    pub fn parse(url: &str) -> Self {
        use base64::Engine;
        let rest = url.trim_start_matches("http://").trim_end_matches('/');
        let (creds, host) = rest.rsplit_once('@').unwrap_or(("guest:guest", rest));
        Self {
            host: host.to_owned(),
            auth: base64::engine::general_purpose::STANDARD.encode(creds),
        }
    }

    /// One HTTP/1.1 request; returns (status, body).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> anyhow::Result<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(&self.host)
            .await
            .context("management API")?;
        let body = body.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.host,
            self.auth,
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Messages ready in `queue` of `vhost` (statistics lag by a few seconds).
    pub async fn queue_messages(&self, vhost: &str, queue: &str) -> anyhow::Result<u64> {
        let (status, body) = self
            .request("GET", &format!("/api/queues/{vhost}/{queue}"), None)
            .await?;
        anyhow::ensure!(status == 200, "queue lookup answered {status}: {body}");
        // Chunked bodies carry size lines; take the JSON object.
        let json = body.find('{').map(|i| &body[i..]).unwrap_or(&body);
        let end = json.rfind('}').map(|i| &json[..=i]).unwrap_or(json);
        let v: serde_json::Value = serde_json::from_str(end)?;
        Ok(v["messages"].as_u64().unwrap_or(0))
    }

    /// Fetches (and requeues) up to `count` messages of a queue, for inspecting headers.
    pub async fn peek(
        &self,
        vhost: &str,
        queue: &str,
        count: u32,
    ) -> anyhow::Result<serde_json::Value> {
        let body =
            format!(r#"{{"count":{count},"ackmode":"ack_requeue_true","encoding":"base64"}}"#);
        let (status, text) = self
            .request(
                "POST",
                &format!("/api/queues/{vhost}/{queue}/get"),
                Some(&body),
            )
            .await?;
        anyhow::ensure!(status == 200, "queue get answered {status}: {text}");
        let json = text.find('[').map(|i| &text[i..]).unwrap_or(&text);
        let end = json.rfind(']').map(|i| &json[..=i]).unwrap_or(json);
        Ok(serde_json::from_str(end)?)
    }
}

/// Creates a fresh vhost on the test broker and returns (amqp URL, vhost name).
pub async fn vhost() -> (String, String) {
    let mgmt = Management::from_env();
    let name = format!("t{}", Uuid::now_v7().simple());
    let (s, b) = mgmt
        .request("PUT", &format!("/api/vhosts/{name}"), Some("{}"))
        .await
        .expect("create vhost");
    assert!(s == 201 || s == 204, "create vhost answered {s}: {b}");
    let user = mgmt_user(&env("STRIDE_TEST_RABBIT_MGMT_URL"));
    let perms = r#"{"configure":".*","write":".*","read":".*"}"#;
    let (s, b) = mgmt
        .request(
            "PUT",
            &format!("/api/permissions/{name}/{user}"),
            Some(perms),
        )
        .await
        .expect("set permissions");
    assert!(s == 201 || s == 204, "set permissions answered {s}: {b}");
    let base = env("STRIDE_TEST_AMQP_URL");
    let root = base
        .rsplit_once('/')
        .map(|(r, _)| r)
        .unwrap_or(&base)
        .to_owned();
    (format!("{root}/{name}"), name)
}

fn mgmt_user(url: &str) -> String {
    let rest = url.trim_start_matches("http://");
    rest.split_once('@')
        .and_then(|(c, _)| c.split(':').next())
        .unwrap_or("guest")
        .to_owned()
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
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.key
            .sign(&access_claims(
                user,
                "test-session",
                vec!["user".into()],
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

/// Deadline used for event effects in tests.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(20);
