//! Idempotent consumption: inbox row + effect in one transaction, ack after commit.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use futures::StreamExt;
use lapin::{
    BasicProperties, Channel,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions,
        BasicQosOptions, ConfirmSelectOptions,
    },
    types::{AMQPValue, FieldTable},
};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    DEAD_LETTER_EXCHANGE, Envelope, Outbox, Subscriptions, Tx,
    amqp::{MAX_DELIVERIES, header_int, header_str},
};

/// Why a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Can never succeed (undecodable, invalid): dead-letter now.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
    /// May succeed later (database hiccup): redeliver, dead-letter after the limit.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        Self::Transient(e.into())
    }
}

/// Consumes `<service>.events`: the queue is bound to the subscribed types, each delivery is
/// handled in a transaction that also records its id in the inbox.
pub struct Subscriber {
    pub service: String,
    pub amqp_url: String,
    pub pool: PgPool,
    pub subscriptions: Arc<Subscriptions>,
    /// Woken after a handler's transaction published events.
    pub outbox: Option<Outbox>,
    /// Unacked deliveries the broker may push at once.
    pub prefetch: u16,
    /// Deliveries handled concurrently.
    pub concurrency: usize,
}

/// What [`Subscriber::spawn`] returns.
pub struct SubscriberHandle {
    /// True while the queue is declared, bound and consumed.
    pub ready: watch::Receiver<bool>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

enum Outcome {
    Handled,
    Duplicate,
}

impl Subscriber {
    pub fn new(
        service: &str,
        amqp_url: &str,
        pool: PgPool,
        subscriptions: Subscriptions,
        outbox: Option<Outbox>,
    ) -> Self {
        Self {
            service: service.to_owned(),
            amqp_url: amqp_url.to_owned(),
            pool,
            subscriptions: Arc::new(subscriptions),
            outbox,
            prefetch: 64,
            concurrency: 8,
        }
    }

    pub fn spawn(self, shutdown: CancellationToken) -> SubscriberHandle {
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(self.run(tx, shutdown));
        SubscriberHandle { ready: rx, task }
    }

    async fn run(
        self,
        ready: watch::Sender<bool>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let this = Arc::new(self);
        let what = format!("{} consumer", this.service);
        crate::amqp::reconnecting(&what, &ready, &shutdown, || {
            this.clone().consume(&ready, &shutdown)
        })
        .await;
        Ok(())
    }

    async fn consume(
        self: Arc<Self>,
        ready: &watch::Sender<bool>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        // A broker that accepts TCP while still booting can stall the handshake: bound the setup.
        let (conn, queue, dl, consumer) = crate::amqp::bounded("consumer setup", async {
            let conn =
                crate::amqp::connect(&self.amqp_url, &format!("{}-consumer", self.service)).await?;
            let ch = conn.create_channel().await?;
            let queue = crate::amqp::declare_service_queue(
                &ch,
                &self.service,
                &self.subscriptions.event_types(),
            )
            .await?;
            ch.basic_qos(self.prefetch, BasicQosOptions::default())
                .await?;
            // Dead-lettering publishes with confirms on a channel of its own.
            let dl = conn.create_channel().await?;
            dl.confirm_select(ConfirmSelectOptions::default()).await?;
            let consumer = ch
                .basic_consume(
                    queue.as_str().into(),
                    format!("{}-{}", self.service, Uuid::now_v7()).into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok((conn, queue, dl, consumer))
        })
        .await?;
        let _ = ready.send(true);
        tracing::info!(%queue, "consuming");

        let stopped = shutdown.clone();
        let mut failure: Option<anyhow::Error> = None;
        let mut deliveries = std::pin::pin!(consumer.take_until(stopped.cancelled_owned()));
        let mut in_flight = futures::stream::FuturesUnordered::new();
        loop {
            tokio::select! {
                next = deliveries.next(), if in_flight.len() < self.concurrency => match next {
                    Some(Ok(d)) => in_flight.push(self.clone().process(d, queue.clone(), dl.clone())),
                    Some(Err(e)) => { failure = Some(e.into()); break; }
                    None => break,
                },
                Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            }
        }
        // Finish what is in hand before closing: unacked prefetched messages return to the queue.
        while in_flight.next().await.is_some() {}
        let _ = conn.close(200, "consumer stopping".into()).await;
        match failure {
            Some(e) => Err(e),
            None if shutdown.is_cancelled() => Ok(()),
            None => Err(anyhow::anyhow!("consumer was cancelled by the broker")),
        }
    }

    async fn process(self: Arc<Self>, d: Delivery, queue: String, dl: Channel) {
        let headers = d.properties.headers().as_ref();
        let env = Envelope {
            id: d
                .properties
                .message_id()
                .as_ref()
                .and_then(|s| Uuid::parse_str(s.as_str()).ok())
                .unwrap_or_default(),
            event_type: d
                .properties
                .kind()
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| d.routing_key.as_str().to_owned()),
            producer: d
                .properties
                .app_id()
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            payload: d.data.clone(),
            delivery_count: header_int(headers, "x-delivery-count").unwrap_or(0),
        };
        let span = tracing::info_span!("event", otel.kind = "consumer", event_type = %env.event_type, event_id = %env.id);
        if let Some(tp) = header_str(headers, "traceparent") {
            stride_kit::telemetry::set_parent_from_traceparent(&span, &tp);
        }
        async move {
            let result = if env.id.is_nil() {
                Err(HandlerError::Permanent(anyhow::anyhow!("message has no UUID message_id")))
            } else {
                self.apply(&env).await
            };
            let outcome = match result {
                Ok(Outcome::Handled) => {
                    CONSUMED.with_label_values(&[self.service.as_str(), "handled"]).inc();
                    d.ack(BasicAckOptions::default()).await
                }
                Ok(Outcome::Duplicate) => {
                    CONSUMED.with_label_values(&[self.service.as_str(), "duplicate"]).inc();
                    tracing::debug!("duplicate event absorbed");
                    d.ack(BasicAckOptions::default()).await
                }
                Err(e) => {
                    let last = matches!(e, HandlerError::Permanent(_)) || env.delivery_count + 1 >= MAX_DELIVERIES;
                    tracing::warn!(error = %e, attempt = env.delivery_count + 1, dead_letter = last, "event handler failed");
                    if last {
                        match dead_letter(&dl, &d, &queue, &e.to_string()).await {
                            Ok(()) => {
                                CONSUMED.with_label_values(&[self.service.as_str(), "dead_lettered"]).inc();
                                d.ack(BasicAckOptions::default()).await
                            }
                            Err(dle) => {
                                tracing::error!(error = format!("{dle:#}"), "dead-lettering failed; requeueing");
                                d.nack(BasicNackOptions { requeue: true, ..Default::default() }).await
                            }
                        }
                    } else {
                        // Back off a little so a failing handler does not spin.
                        let pause = Duration::from_millis(100u64 << env.delivery_count.clamp(0, 4));
                        tokio::time::sleep(pause).await;
                        CONSUMED.with_label_values(&[self.service.as_str(), "retried"]).inc();
                        d.nack(BasicNackOptions { requeue: true, ..Default::default() }).await
                    }
                }
            };
            if let Err(e) = outcome {
                // The channel is gone; the broker redelivers and the inbox absorbs the repeat.
                tracing::warn!(error = %e, "ack/nack failed");
            }
        }
        .instrument(span)
        .await
    }

    async fn apply(&self, env: &Envelope) -> Result<Outcome, HandlerError> {
        let mut tx = Tx::new(self.pool.begin().await?, self.outbox.clone());
        let fresh = sqlx::query(
            "INSERT INTO inbox (event_id, event_type) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(env.id)
        .bind(&env.event_type)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            return Ok(Outcome::Duplicate);
        }
        self.subscriptions.dispatch(&mut tx, env).await?;
        // Commits, then wakes the relay if the handler published follow-up events.
        tx.commit().await?;
        Ok(Outcome::Handled)
    }
}

/// Copies the delivery to the dead-letter exchange with the error attached, confirmed.
async fn dead_letter(dl: &Channel, d: &Delivery, queue: &str, error: &str) -> anyhow::Result<()> {
    let mut headers = d.properties.headers().clone().unwrap_or_default();
    let error: String = error.chars().take(1000).collect();
    headers.insert(
        "x-stride-error".into(),
        AMQPValue::LongString(error.as_str().into()),
    );
    headers.insert("x-stride-queue".into(), AMQPValue::LongString(queue.into()));
    headers.insert(
        "x-stride-routing-key".into(),
        AMQPValue::LongString(d.routing_key.as_str().into()),
    );
    let props: BasicProperties = d.properties.clone().with_headers(headers);
    let confirm = dl
        .basic_publish(
            DEAD_LETTER_EXCHANGE.into(),
            queue.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &d.data,
            props,
        )
        .await
        .context("publishing to the dead-letter exchange")?
        .await
        .context("dead-letter confirm")?;
    if !confirm.is_ack() || confirm.take_message().is_some() {
        anyhow::bail!("dead-letter queue did not accept the message");
    }
    Ok(())
}

static CONSUMED: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    stride_kit::metrics::counter(
        "stride_events_consumed_total",
        "Deliveries by outcome",
        &["service", "outcome"],
    )
});
