//! Transactional outbox and the relay that publishes it with confirms.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use lapin::{
    BasicProperties, Channel,
    options::{BasicPublishOptions, ConfirmSelectOptions},
    types::{AMQPValue, FieldTable},
};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{CONTENT_TYPE, EXCHANGE, Event};

/// Rows published per round trip: confirms are pipelined within a batch.
const BATCH: i64 = 256;
/// How often the relay looks for rows nobody told it about (a crash before the kick, another
/// replica's rows).
const POLL: Duration = Duration::from_millis(500);

/// An outbox row not yet written: what [`enqueue`] inserts. A statement that is a whole
/// transaction on its own can insert it beside the change it announces (a CTE from
/// [`Staged::insert_sql`]), saving the transaction's BEGIN, the insert's and the COMMIT's round
/// trips; the caller then wakes the relay ([`Outbox::kick`]) once the statement succeeded.
#[derive(Debug)]
pub struct Staged {
    pub id: Uuid,
    pub event_type: &'static str,
    pub payload: Vec<u8>,
    pub traceparent: Option<String>,
}

impl Staged {
    /// `event` as an outbox row, with a fresh id (UUIDv7) and the current trace context.
    pub fn new<E: Event>(event: &E) -> Self {
        Self {
            id: Uuid::now_v7(),
            event_type: E::TYPE,
            payload: event.encode_to_vec(),
            traceparent: stride_kit::telemetry::current_traceparent(),
        }
    }

    /// The insert, its four parameters (id, event type, payload, traceparent, bound in that
    /// order) numbered from `$first`, one row for each row of `from` (a CTE's name: the row is
    /// written only if the change it announces was), or once when `from` is None.
    pub fn insert_sql(first: usize, from: Option<&str>) -> String {
        let (a, b, c, d) = (first, first + 1, first + 2, first + 3);
        let from = from.map(|f| format!(" FROM {f}")).unwrap_or_default();
        format!(
            "INSERT INTO outbox (id, event_type, payload, traceparent) SELECT ${a}::uuid, ${b}::text, ${c}::bytea, ${d}::text{from}"
        )
    }

    /// Binds this row's four parameters, in [`Staged::insert_sql`]'s order.
    pub fn bind<'q, O>(
        &'q self,
        q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        q.bind(self.id)
            .bind(self.event_type)
            .bind(&self.payload)
            .bind(&self.traceparent)
    }
}

/// Writes `event` to the outbox on `conn`, which must be inside the transaction that makes the
/// state change. Returns the event id (UUIDv7). Prefer [`Tx::publish`](crate::Tx::publish), which
/// also wakes the relay after commit.
pub async fn enqueue<E: Event>(conn: &mut PgConnection, event: &E) -> Result<Uuid, sqlx::Error> {
    let row = Staged::new(event);
    let sql = format!("{} RETURNING id", Staged::insert_sql(1, None));
    let (id,): (Uuid,) = row
        .bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)))
        .fetch_one(conn)
        .await?;
    Ok(id)
}

/// id, event type, payload, traceparent, created_at.
type OutboxRow = (Uuid, String, Vec<u8>, Option<String>, time::OffsetDateTime);

/// Where a service's handlers publish: begins transactions whose events the relay sends after
/// commit.
#[derive(Clone, Debug)]
pub struct Outbox {
    pool: PgPool,
    kick: Arc<Notify>,
}

impl Outbox {
    /// A transaction on the service's pool whose [`Tx::publish`](crate::Tx::publish)ed events
    /// go out right after [`Tx::commit`](crate::Tx::commit).
    pub async fn begin(&self) -> Result<crate::Tx, sqlx::Error> {
        Ok(crate::Tx::new(self.pool.begin().await?, Some(self.clone())))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Wakes the relay so events go out without waiting for the next poll.
    pub fn kick(&self) {
        self.kick.notify_one();
    }
}

/// Publishes outbox rows to the exchange.
pub struct Relay {
    pool: PgPool,
    amqp_url: String,
    producer: String,
    kick: Arc<Notify>,
    ready: watch::Sender<bool>,
}

/// What [`Relay::spawn`] returns.
pub struct RelayHandle {
    pub outbox: Outbox,
    /// True while connected to the broker with confirms on.
    pub ready: watch::Receiver<bool>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Relay {
    /// Starts the relay for `producer` (the service name, sent as AMQP `app_id`).
    pub fn spawn(
        pool: PgPool,
        amqp_url: &str,
        producer: &str,
        shutdown: CancellationToken,
    ) -> RelayHandle {
        let outbox = Outbox {
            pool: pool.clone(),
            kick: Arc::new(Notify::new()),
        };
        let (tx, rx) = watch::channel(false);
        let relay = Relay {
            pool,
            amqp_url: amqp_url.to_owned(),
            producer: producer.to_owned(),
            kick: outbox.kick.clone(),
            ready: tx,
        };
        let task = tokio::spawn(relay.run(shutdown));
        RelayHandle {
            outbox,
            ready: rx,
            task,
        }
    }

    async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        crate::amqp::reconnecting("outbox relay", &self.ready, &shutdown, || {
            self.connected_loop(&shutdown)
        })
        .await;
        Ok(())
    }

    /// Publishes until shutdown (Ok) or a broker/database error (Err → reconnect).
    async fn connected_loop(&self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        // A broker that accepts TCP while still booting can stall the handshake: bound the setup.
        let (conn, ch) = crate::amqp::bounded("relay setup", async {
            let conn =
                crate::amqp::connect(&self.amqp_url, &format!("{}-relay", self.producer)).await?;
            let ch = conn.create_channel().await?;
            ch.confirm_select(ConfirmSelectOptions::default()).await?;
            crate::amqp::declare_exchanges(&ch).await?;
            Ok((conn, ch))
        })
        .await?;
        let _ = self.ready.send(true);
        tracing::info!("outbox relay connected");
        let mut last_cleanup = tokio::time::Instant::now();
        let mut last_lag: Option<tokio::time::Instant> = None;
        loop {
            // Unroutable or nacked rows stay unpublished with a backoff of their own (see
            // `drain`), so the rows behind them keep flowing.
            let (published, failed) = self.drain(&ch).await?;
            if (published + failed) as i64 == BATCH {
                continue;
            }
            // Caught up (or backing off): refresh the lag gauge, at most once a second so a
            // busy relay (idle after every small batch) does not add a query per batch.
            if last_lag.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                last_lag = Some(tokio::time::Instant::now());
                self.record_lag().await;
            }
            if last_cleanup.elapsed() > Duration::from_secs(600) {
                last_cleanup = tokio::time::Instant::now();
                self.cleanup().await;
            }
            tokio::select! {
                _ = shutdown.cancelled() => {
                    // Last drain so nothing committed just before SIGTERM waits for a restart.
                    let _ = self.drain(&ch).await;
                    let _ = conn.close(200, "shutdown".into()).await;
                    return Ok(());
                }
                _ = self.kick.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One batch: lock pending rows, publish them all, await every confirm, mark the confirmed
    /// ones. Returns (published, failed).
    async fn drain(&self, ch: &Channel) -> anyhow::Result<(usize, usize)> {
        let mut tx = self.pool.begin().await.context("outbox transaction")?;
        let rows: Vec<OutboxRow> = sqlx::query_as(
            "SELECT id, event_type, payload, traceparent, created_at FROM outbox
             WHERE published_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= now())
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await
        .context("reading the outbox")?;
        if rows.is_empty() {
            return Ok((0, 0));
        }
        let mut pending = Vec::with_capacity(rows.len());
        for (id, event_type, payload, traceparent, created_at) in &rows {
            let mut headers = FieldTable::default();
            if let Some(tp) = traceparent {
                headers.insert(
                    "traceparent".into(),
                    AMQPValue::LongString(tp.as_str().into()),
                );
            }
            let props = BasicProperties::default()
                .with_message_id(id.to_string().into())
                .with_type(event_type.as_str().into())
                .with_app_id(self.producer.as_str().into())
                .with_timestamp(created_at.unix_timestamp().max(0) as u64)
                .with_content_type(CONTENT_TYPE.into())
                .with_delivery_mode(2)
                .with_headers(headers);
            let confirm = ch
                .basic_publish(
                    EXCHANGE.into(),
                    event_type.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    payload,
                    props,
                )
                .await
                .context("publishing")?;
            pending.push((*id, event_type, confirm));
        }
        let mut done = Vec::with_capacity(pending.len());
        let mut failed = Vec::new();
        for (id, event_type, confirm) in pending {
            let confirmation =
                crate::amqp::bounded("the broker's confirm", async { Ok(confirm.await?) }).await?;
            // With `mandatory`, an unroutable message is acked *and* returned: not delivered.
            if confirmation.is_ack() && confirmation.take_message().is_none() {
                done.push(id);
            } else {
                failed.push(id);
                tracing::warn!(%id, event_type, "event not routed to any queue (or nacked); will retry");
            }
        }
        sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
            .bind(&done)
            .execute(&mut *tx)
            .await
            .context("marking events published")?;
        if !failed.is_empty() {
            // Retried after 1 s, 2 s, 4 s … at most 5 minutes apart; never marked sent.
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1,
                     next_attempt_at = now() + least(interval '1 second' * power(2, least(attempts, 16)),
                                                     interval '5 minutes')
                 WHERE id = ANY($1)",
            )
            .bind(&failed)
            .execute(&mut *tx)
            .await
            .context("deferring unroutable events")?;
        }
        tx.commit().await.context("committing the outbox batch")?;
        PUBLISHED
            .with_label_values(&[self.producer.as_str()])
            .inc_by(done.len() as u64);
        Ok((done.len(), failed.len()))
    }

    /// Sets `stride_outbox_lag_seconds` to the age of the oldest unpublished row (0 when none):
    /// the alert on it fires when events stop reaching the broker while writes go on.
    async fn record_lag(&self) {
        let r: Result<Option<time::OffsetDateTime>, _> =
            sqlx::query_scalar("SELECT min(created_at) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&self.pool)
                .await;
        match r {
            Ok(oldest) => LAG
                .with_label_values(&[self.producer.as_str()])
                .set(lag_seconds(oldest, time::OffsetDateTime::now_utc())),
            Err(e) => tracing::warn!(error = %e, "reading the outbox lag failed"),
        }
    }

    async fn cleanup(&self) {
        let r = sqlx::query("DELETE FROM outbox WHERE published_at < now() - interval '1 day'")
            .execute(&self.pool)
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "outbox cleanup failed");
        }
    }
}

/// Seconds the oldest pending row has waited; a clock step backwards reads as 0, not negative.
fn lag_seconds(oldest: Option<time::OffsetDateTime>, now: time::OffsetDateTime) -> f64 {
    oldest.map_or(0.0, |t| (now - t).as_seconds_f64().max(0.0))
}

static LAG: std::sync::LazyLock<prometheus::GaugeVec> = std::sync::LazyLock::new(|| {
    stride_kit::metrics::gauge(
        "stride_outbox_lag_seconds",
        "Age of the oldest event not yet confirmed by the broker (0 when the outbox is drained)",
        &["producer"],
    )
});

static PUBLISHED: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    stride_kit::metrics::counter(
        "stride_events_published_total",
        "Events confirmed by the broker",
        &["producer"],
    )
});

#[cfg(test)]
mod lag_tests {
    use super::lag_seconds;
    use time::{Duration, OffsetDateTime};

    #[test]
    fn lag_is_the_age_of_the_oldest_pending_row() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(lag_seconds(None, now), 0.0);
        assert_eq!(lag_seconds(Some(now - Duration::seconds(90)), now), 90.0);
        // A row stamped "in the future" (clock stepped back) reads as no lag, never negative.
        assert_eq!(lag_seconds(Some(now + Duration::seconds(5)), now), 0.0);
    }
}
