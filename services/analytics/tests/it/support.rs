//! A running analytics service plus a stand-in producer with its own outbox and relay.

use std::sync::Arc;

use lapin::{
    BasicProperties,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};
use sqlx::PgPool;
use stride_analytics::{Config, start};
use stride_bus::{Event, outbox::OutboxHandle};
use stride_kit::{ManualClock, config::CommonConfig, convert, serve::Running};
use stride_proto::{
    analytics::{
        GetProgressSummaryRequest, GetProgressSummaryResponse,
        analytics_service_client::AnalyticsServiceClient,
    },
    events::{ProfileUpdated, SessionCompleted},
};
use stride_testkit::{EVENT_DEADLINE, TestIssuer, authed, eventually};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

pub struct Harness {
    pub running: Option<Running>,
    pub client: AnalyticsServiceClient<Channel>,
    pub issuer: TestIssuer,
    pub clock: ManualClock,
    /// analytics' own database, for assertions on columns the API does not expose.
    pub db: PgPool,
    pub amqp: String,
    producer: Producer,
}

/// A producer as activity-session/profile/challenge are: outbox rows published by the real relay.
struct Producer {
    pool: PgPool,
    outbox: OutboxHandle,
    stop: CancellationToken,
}

impl Harness {
    pub async fn start(now: OffsetDateTime) -> Self {
        stride_kit::telemetry::init_for_tests();
        let db_url = stride_testkit::database().await;
        let (amqp, _vhost) = stride_testkit::vhost().await;
        let cfg = Config {
            common: CommonConfig {
                service: "analytics",
                grpc_addr: "127.0.0.1:0".parse().unwrap(),
                http_addr: "127.0.0.1:0".parse().unwrap(),
                database_url: db_url.clone(),
                amqp_url: amqp.clone(),
                auth_url: "http://127.0.0.1:1".into(),
                db_max_connections: 5,
            },
        };
        let issuer = TestIssuer::new();
        let clock = ManualClock::new(now);
        let running = start(cfg, issuer.verifier(), Arc::new(clock.clone()))
            .await
            .expect("start analytics");
        let health = running.health.clone();
        // The relay publishes with `mandatory`: wait until our queue is bound.
        eventually(EVENT_DEADLINE, "analytics subscriber ready", || {
            let ready = health.is_ready();
            async move { ready.then_some(()) }
        })
        .await;
        let client = AnalyticsServiceClient::connect(format!("http://{}", running.grpc_addr))
            .await
            .unwrap();
        let db = stride_kit::db::connect(&db_url, 2).await.unwrap();

        let scratch = stride_testkit::database().await;
        let pool = stride_kit::db::connect(&scratch, 2).await.unwrap();
        stride_kit::db::migrate(&pool, &[&stride_bus::MIGRATOR])
            .await
            .unwrap();
        let stop = CancellationToken::new();
        let relay =
            stride_bus::outbox::Relay::spawn(pool.clone(), &amqp, "test-producer", stop.clone());
        let producer = Producer {
            pool,
            outbox: relay.outbox,
            stop,
        };

        Self {
            running: Some(running),
            client,
            issuer,
            clock,
            db,
            amqp,
            producer,
        }
    }

    /// Publishes through the outbox and relay.
    pub async fn publish<E: Event>(&self, event: &E) -> Uuid {
        let mut tx = self.producer.pool.begin().await.unwrap();
        let id = stride_bus::outbox::enqueue(&mut tx, event).await.unwrap();
        tx.commit().await.unwrap();
        self.producer.outbox.kick();
        id
    }

    /// Publishes `event` with a fixed message id, exactly as the relay sets the properties
    /// (used to deliver the same event twice).
    pub async fn publish_raw<E: Event>(&self, id: Uuid, event: &E) {
        let conn = stride_bus::amqp::connect(&self.amqp, "test-raw")
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let props = BasicProperties::default()
            .with_message_id(id.to_string().into())
            .with_type(E::TYPE.into())
            .with_app_id("test-producer".into())
            .with_timestamp(OffsetDateTime::now_utc().unix_timestamp() as u64)
            .with_content_type(stride_bus::CONTENT_TYPE.into())
            .with_delivery_mode(2);
        let confirm = ch
            .basic_publish(
                stride_bus::EXCHANGE.into(),
                E::TYPE.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &prost::Message::encode_to_vec(event),
                props,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(
            confirm.is_ack() && confirm.take_message().is_none(),
            "raw publish was not routed"
        );
        let _ = conn.close(200, "done".into()).await;
    }

    pub async fn summary(
        &mut self,
        user: Uuid,
        date: Option<time::Date>,
    ) -> GetProgressSummaryResponse {
        let req = GetProgressSummaryRequest {
            range: 0,
            date: date.map(convert::date),
        };
        self.client
            .get_progress_summary(authed(req, &self.issuer.token(user)))
            .await
            .unwrap()
            .into_inner()
    }

    /// Waits until analytics has consumed `n` deliveries with `outcome` (handled / duplicate).
    /// nextest runs each test in its own process, so the counters are this test's.
    pub async fn wait_consumed(&self, outcome: &str, n: u64) {
        let what = format!("{n} deliveries {outcome}");
        eventually(EVENT_DEADLINE, &what, || {
            let got = consumed(outcome);
            async move { (got >= n).then_some(()) }
        })
        .await;
        assert_eq!(
            consumed(outcome),
            n,
            "more deliveries {outcome} than expected"
        );
    }

    pub async fn stop(mut self) {
        self.producer.stop.cancel();
        if let Some(r) = self.running.take() {
            r.stop().await.unwrap();
        }
    }
}

fn consumed(outcome: &str) -> u64 {
    let label = format!("outcome=\"{outcome}\"");
    stride_kit::metrics::render()
        .lines()
        .find(|l| {
            l.starts_with("stride_events_consumed_total{")
                && l.contains(&label)
                && l.contains("service=\"analytics\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A completed session as activity-session produces it: the local date computed in `tz` at
/// the end instant.
pub fn session(
    user: Uuid,
    kind: &str,
    end: OffsetDateTime,
    minutes: i64,
    tz: &str,
) -> SessionCompleted {
    let start = end - time::Duration::minutes(minutes);
    SessionCompleted {
        user_id: user.to_string(),
        session_id: Uuid::now_v7().to_string(),
        activity_id: Uuid::now_v7().to_string(),
        activity_kind: kind.into(),
        start_time: Some(convert::timestamp(start)),
        end_time: Some(convert::timestamp(end)),
        duration: Some(convert::duration(time::Duration::minutes(minutes))),
        local_date: Some(convert::date(convert::local_date(end, tz))),
        timezone: tz.into(),
    }
}

pub fn profile(user: Uuid, tz: &str, revision: i64) -> ProfileUpdated {
    ProfileUpdated {
        user_id: user.to_string(),
        display_name: "Ada".into(),
        timezone: tz.into(),
        locale: "en".into(),
        occur_time: None,
        revision,
        local_date: None,
    }
}

/// (date, sessions) of each day in a summary.
pub fn per_day(s: &GetProgressSummaryResponse) -> Vec<(time::Date, i32)> {
    s.days
        .iter()
        .map(|d| {
            (
                convert::from_date(d.date.as_ref().unwrap()).unwrap(),
                d.sessions_completed,
            )
        })
        .collect()
}

/// `user`'s row count in every table of the service's own schema that has a `user_id` column
/// (bus tables aside), by table. Generic on purpose: a table added later is covered too.
pub async fn user_rows(db: &PgPool, user: Uuid) -> Vec<(String, i64)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'user_id'
           AND table_name NOT IN ('_sqlx_migrations', 'inbox', 'outbox')
         ORDER BY 1",
    )
    .fetch_all(db)
    .await
    .expect("tables with a user_id column");
    assert!(!tables.is_empty(), "no table has a user_id column");
    let mut rows = Vec::with_capacity(tables.len());
    for table in tables {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            r#"SELECT count(*) FROM "{table}" WHERE user_id = $1"#
        )))
        .bind(user)
        .fetch_one(db)
        .await
        .expect("count a user's rows");
        rows.push((table, n));
    }
    rows
}

/// `user.deleted.v1` as auth publishes it.
pub fn user_deleted(user: Uuid, at: OffsetDateTime) -> stride_proto::events::UserDeleted {
    stride_proto::events::UserDeleted {
        user_id: user.to_string(),
        occur_time: Some(stride_kit::convert::timestamp(at)),
        timezone: "UTC".into(),
        local_date: Some(stride_kit::convert::date(at.date())),
    }
}
