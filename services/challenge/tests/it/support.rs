//! Starting the service against a fresh database and vhost, publishing input events through a
//! real outbox and relay, and watching output events on a probe queue.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use stride_kit::{ManualClock, config::CommonConfig};
use stride_proto::challenge::challenge_service_client::ChallengeServiceClient;
use stride_testkit::{EVENT_DEADLINE, TestIssuer, eventually};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

pub struct Harness {
    pub running: stride_kit::serve::Running,
    pub client: ChallengeServiceClient<Channel>,
    pub issuer: TestIssuer,
    pub clock: ManualClock,
    /// The service's own database, for checking effects that have no API.
    pub db: PgPool,
    pub amqp: String,
}

impl Harness {
    pub async fn start(now: OffsetDateTime) -> Self {
        let db_url = stride_testkit::database().await;
        let (amqp, _vhost) = stride_testkit::vhost().await;
        let cfg = stride_challenge::Config {
            common: CommonConfig {
                service: stride_challenge::SERVICE,
                grpc_addr: "127.0.0.1:0".parse().expect("addr"),
                http_addr: "127.0.0.1:0".parse().expect("addr"),
                database_url: db_url.clone(),
                amqp_url: amqp.clone(),
                auth_url: "http://127.0.0.1:1".into(),
                db_max_connections: 5,
            },
        };
        let issuer = TestIssuer::new();
        let clock = ManualClock::new(now);
        let running = stride_challenge::start(cfg, issuer.verifier(), Arc::new(clock.clone()))
            .await
            .expect("start the service");
        let client = ChallengeServiceClient::connect(format!("http://{}", running.grpc_addr))
            .await
            .expect("connect");
        let db = PgPool::connect(&db_url).await.expect("service database");
        let health = running.health.clone();
        // Ready means the queue is declared and bound, so published events are routed to it.
        eventually(EVENT_DEADLINE, "service ready", || {
            let ready = health.is_ready();
            async move { ready.then_some(()) }
        })
        .await;
        Self {
            running,
            client,
            issuer,
            clock,
            db,
            amqp,
        }
    }

    pub fn token(&self, user: Uuid) -> String {
        self.issuer.token(user)
    }

    /// Waits until the service recorded `event_id` in its inbox (its effect committed with it).
    pub async fn consumed(&self, event_id: Uuid) {
        let db = self.db.clone();
        eventually(EVENT_DEADLINE, "event consumed", || {
            let db = db.clone();
            async move {
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
                    .bind(event_id)
                    .fetch_one(&db)
                    .await
                    .ok()?;
                (n == 1).then_some(())
            }
        })
        .await;
    }

    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(30), self.running.stop())
            .await
            .expect("the service stops within 30 s")
            .expect("clean stop");
    }
}

pub use stride_testkit::bus::{
    Probe, Publisher, assert_invalid, consumed_count, publish_raw, user_deleted, user_rows,
};
