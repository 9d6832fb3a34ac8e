//! Event helpers for service tests: publish input events the way producers do (outbox + relay
//! on a scratch database), publish a chosen message id as a redelivery would, watch what a
//! service publishes on a probe queue, and check what a deleted user leaves behind.

use std::time::Duration;

use futures::StreamExt as _;
use lapin::{
    Connection, ConnectionProperties, Consumer,
    options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use sqlx::PgPool;
use stride_bus::{Event, outbox::RelayHandle};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tonic::{Code, Status};
use tonic_types::StatusExt as _;
use uuid::Uuid;

use crate::EVENT_DEADLINE;

/// A producer for the test: its own scratch database with the bus outbox and a real relay.
pub struct Publisher {
    relay: RelayHandle,
    token: CancellationToken,
}

impl Publisher {
    pub async fn start(amqp: &str, producer: &str) -> Self {
        let url = crate::database().await;
        let pool = PgPool::connect(&url).await.expect("scratch database");
        stride_kit::db::migrate(&pool, &[&stride_bus::MIGRATOR])
            .await
            .expect("outbox tables");
        let token = CancellationToken::new();
        let relay = stride_bus::outbox::Relay::spawn(pool.clone(), amqp, producer, token.clone());
        Self { relay, token }
    }

    /// The scratch database holding the outbox.
    pub fn pool(&self) -> &PgPool {
        self.relay.outbox.pool()
    }

    /// Publishes and commits `event` as a producer does; returns its event id.
    pub async fn publish<E: Event>(&self, event: &E) -> Uuid {
        let mut tx = self.relay.outbox.begin().await.expect("begin");
        let id = tx.publish(event).await.expect("outbox row");
        tx.commit().await.expect("commit");
        id
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// An exclusive queue bound to `event_type`, to observe what the service publishes.
pub struct Probe {
    _conn: Connection,
    consumer: Consumer,
}

impl Probe {
    pub async fn bind(amqp: &str, event_type: &str) -> Self {
        let conn = Connection::connect(amqp, ConnectionProperties::default())
            .await
            .expect("probe connection");
        let ch = conn.create_channel().await.expect("channel");
        stride_bus::amqp::declare_exchanges(&ch)
            .await
            .expect("exchanges");
        let q = ch
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("probe queue");
        ch.queue_bind(
            q.name().clone(),
            stride_bus::EXCHANGE.into(),
            event_type.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind probe");
        let consumer = ch
            .basic_consume(
                q.name().clone(),
                "probe".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("consume probe");
        Self {
            _conn: conn,
            consumer,
        }
    }

    /// The next message with all its AMQP properties (content type, timestamp, headers, …).
    pub async fn delivery<E: Event>(&mut self) -> (lapin::BasicProperties, E) {
        let d = tokio::time::timeout(EVENT_DEADLINE, self.consumer.next())
            .await
            .expect("an event on the probe queue")
            .expect("stream open")
            .expect("delivery");
        let event = E::decode(d.data.as_slice()).expect("decodable payload");
        (d.properties, event)
    }

    /// The next message: (message_id, type, app_id, decoded payload).
    pub async fn next<E: Event>(&mut self) -> (Uuid, String, String, E) {
        let (p, event) = self.delivery::<E>().await;
        let p = &p;
        let id = p
            .message_id()
            .as_ref()
            .and_then(|s| Uuid::parse_str(s.as_str()).ok())
            .expect("UUID message_id");
        let kind = p
            .kind()
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let app = p
            .app_id()
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        (id, kind, app, event)
    }

    /// True when nothing arrives within `wait` (used after the positive case already arrived).
    pub async fn quiet_for(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.consumer.next())
            .await
            .is_err()
    }
}

/// Asserts INVALID_ARGUMENT naming exactly `fields` in its BadRequest details.
pub fn assert_invalid(status: &Status, fields: &[&str]) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let br = details.bad_request().expect("BadRequest details");
    let got: Vec<&str> = br
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(got, fields, "{status:?}");
}

/// The `ErrorInfo.reason` of a status.
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
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

/// Publishes `payload` straight to the exchange with the properties the relay uses and a chosen
/// message id: a broker redelivery or a relay re-send after a crash looks exactly like this.
pub async fn publish_raw(
    amqp: &str,
    message_id: Uuid,
    event_type: &str,
    producer: &str,
    payload: &[u8],
) {
    use lapin::{
        BasicProperties,
        options::{BasicPublishOptions, ConfirmSelectOptions},
    };
    let conn = Connection::connect(amqp, ConnectionProperties::default())
        .await
        .expect("connection");
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let props = BasicProperties::default()
        .with_message_id(message_id.to_string().into())
        .with_type(event_type.into())
        .with_app_id(producer.into())
        .with_timestamp(OffsetDateTime::now_utc().unix_timestamp() as u64)
        .with_content_type(stride_bus::CONTENT_TYPE.into())
        .with_delivery_mode(2);
    let confirm = ch
        .basic_publish(
            stride_bus::EXCHANGE.into(),
            event_type.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            payload,
            props,
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    assert!(
        confirm.is_ack() && confirm.take_message().is_none(),
        "the event was routed"
    );
    let _ = conn.close(200, "done".into()).await;
}

/// This process's count of deliveries of `service` with `outcome` (each test is its own process).
pub fn consumed_count(service: &str, outcome: &str) -> u64 {
    let (svc, out) = (
        format!("service=\"{service}\""),
        format!("outcome=\"{outcome}\""),
    );
    stride_kit::metrics::render()
        .lines()
        .filter(|l| {
            l.starts_with("stride_events_consumed_total{") && l.contains(&svc) && l.contains(&out)
        })
        .find_map(|l| l.rsplit(' ').next().and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0)
}
