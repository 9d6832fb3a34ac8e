//! One harness for every service test: a fresh database and vhost, the service started on port
//! 0 with a token issuer and a hand-moved clock, a connected client, readiness awaited, and the
//! waits tests need (an event consumed), then a clean stop.
//!
//! ```ignore
//! pub type Harness = ServiceHarness<ProfileServiceClient<Channel>>;
//! let h = Harness::start(SERVICE, now, |common, verifier, clock| {
//!     stride_profile::start(Config { common }, verifier, clock)
//! }, ProfileServiceClient::new).await;
//! ```

use std::{future::Future, sync::Arc, time::Duration};

use sqlx::PgPool;
use stride_kit::{ManualClock, Verifier, clock::SharedClock, config::CommonConfig, serve::Running};
use time::OffsetDateTime;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{EVENT_DEADLINE, TestIssuer, eventually};

/// A started service and what its tests need around it.
pub struct ServiceHarness<C> {
    pub running: Running,
    /// The client of the service's main gRPC service.
    pub client: C,
    /// A channel to the service, for the clients of its other gRPC services.
    pub channel: Channel,
    pub issuer: TestIssuer,
    pub clock: ManualClock,
    /// The service's own database, for effects that have no API.
    pub db: PgPool,
    pub db_url: String,
    /// The test's vhost on the broker.
    pub amqp: String,
    pub vhost: String,
    pub service: &'static str,
    /// Deletes the vhost when the harness and every holder of [`Self::broker`] are gone.
    broker: Arc<crate::TestVhost>,
}

impl<C> ServiceHarness<C> {
    /// Starts `service` through `start` (the crate's `start`, given a test [`CommonConfig`], the
    /// issuer's verifier and the manual clock set to `now`) and waits until it is ready (its
    /// queue bound, its relay connected), so published events reach it.
    pub async fn start<S, Fut>(
        service: &'static str,
        now: OffsetDateTime,
        start: S,
        client: fn(Channel) -> C,
    ) -> Self
    where
        S: FnOnce(CommonConfig, Arc<Verifier>, SharedClock) -> Fut,
        Fut: Future<Output = anyhow::Result<Running>>,
    {
        stride_kit::telemetry::init_for_tests();
        let db_url = crate::database().await;
        let broker = crate::vhost().await;
        let (amqp, vhost) = (broker.url.clone(), broker.name.clone());
        let issuer = TestIssuer::new();
        let clock = ManualClock::new(now);
        let common = CommonConfig::for_test(service, &db_url, &amqp);
        let running = start(common, issuer.verifier(), Arc::new(clock.clone()))
            .await
            .unwrap_or_else(|e| panic!("{service} starts: {e:#}"));
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc_addr))
                .expect("endpoint")
                .tcp_nodelay(true)
                .connect()
                .await
                .expect("connect to the service");
        let health = running.health.clone();
        eventually(EVENT_DEADLINE, &format!("{service} ready"), || {
            let ready = health.is_ready();
            async move { ready.then_some(()) }
        })
        .await;
        let db = PgPool::connect(&db_url)
            .await
            .expect("the service's database");
        Self {
            running,
            client: client(channel.clone()),
            channel,
            issuer,
            clock,
            db,
            db_url,
            amqp,
            vhost,
            service,
            broker: Arc::new(broker),
        }
    }

    /// The test's vhost, for peers started on it that outlive [`Self::stop`]: the vhost is
    /// deleted once the harness and every clone are dropped.
    pub fn broker(&self) -> Arc<crate::TestVhost> {
        self.broker.clone()
    }

    /// A valid access token for `user`.
    pub fn token(&self, user: Uuid) -> String {
        self.issuer.token(user)
    }

    /// A valid access token for `user` carrying `roles`.
    pub fn token_with_roles(&self, user: Uuid, roles: &[&str]) -> String {
        self.issuer.token_with_roles(user, roles)
    }

    /// Waits until the service recorded `event_id` in its inbox: its effect committed with it.
    pub async fn consumed(&self, event_id: Uuid) {
        let db = self.db.clone();
        eventually(
            EVENT_DEADLINE,
            &format!("event {event_id} consumed"),
            || {
                let db = db.clone();
                async move {
                    let n: i64 =
                        sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
                            .bind(event_id)
                            .fetch_one(&db)
                            .await
                            .ok()?;
                    (n == 1).then_some(())
                }
            },
        )
        .await;
    }

    /// Waits until this process counted `n` deliveries of the service with `outcome`
    /// (`handled`, `duplicate`, `dead_lettered`, `retried`).
    pub async fn deliveries(&self, outcome: &str, n: u64) {
        let service = self.service;
        eventually(
            EVENT_DEADLINE,
            &format!("{n} {outcome} deliveries of {service}"),
            || async move { (crate::bus::consumed_count(service, outcome) >= n).then_some(()) },
        )
        .await;
    }

    /// Stops the service (drains calls, finishes the event in hand) within 30 s.
    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(30), self.running.stop())
            .await
            .expect("the service stops within 30 s")
            .expect("clean stop");
    }
}
