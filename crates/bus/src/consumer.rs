//! Idempotent consumption: inbox row + effect in one transaction, ack after commit.
//!
//! Deliveries that are already waiting are handled in batches: one transaction records every
//! id in the inbox and applies every effect, one commit (one WAL flush) covers them all, and
//! each is acked after it. A batch whose handlers fail is rolled back whole and its deliveries
//! are handled one by one, so a poison message is retried and dead-lettered alone and never
//! takes its neighbours' effects with it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use futures::{FutureExt as _, StreamExt};
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
use tracing::Instrument as _;
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
    /// Batches (transactions) in flight at once.
    pub concurrency: usize,
    /// Most deliveries handled in one transaction.
    pub batch: usize,
    /// Deliveries whose requeue (a nack after a pause) has not been sent yet.
    deferred: Arc<AtomicUsize>,
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

impl Outcome {
    /// The `stride_events_consumed_total` label.
    fn label(&self) -> &'static str {
        match self {
            Outcome::Handled => "handled",
            Outcome::Duplicate => "duplicate",
        }
    }
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
            prefetch: 256,
            // One batch at a time: batches of one service never wait on each other's row
            // locks (or deadlock on them), and events are applied in delivery order.
            concurrency: 1,
            batch: 64,
            deferred: Arc::default(),
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
        let mut ended = false;
        while !ended {
            tokio::select! {
                next = deliveries.next(), if in_flight.len() < self.concurrency => {
                    let mut batch = Vec::new();
                    let mut next = Some(next);
                    // This delivery and whatever the broker has already pushed, without waiting.
                    while let Some(n) = next.take() {
                        match n {
                            Some(Ok(d)) => batch.push(d),
                            Some(Err(e)) => { failure = Some(e.into()); ended = true; }
                            None => ended = true,
                        }
                        if !ended && batch.len() < self.batch {
                            next = deliveries.next().now_or_never();
                        }
                    }
                    if !batch.is_empty() {
                        in_flight.push(self.clone().process_batch(batch, queue.clone(), dl.clone()));
                    }
                }
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

    /// Handles `batch` in one transaction; on any failure, rolls it back and handles each
    /// delivery alone.
    async fn process_batch(self: Arc<Self>, batch: Vec<Delivery>, queue: String, dl: Channel) {
        if batch.len() > 1 {
            let envs: Vec<Envelope> = batch.iter().map(envelope).collect();
            let spans: Vec<tracing::Span> = batch
                .iter()
                .zip(&envs)
                .map(|(d, e)| event_span(d, e))
                .collect();
            match self.apply(&envs, &spans).await {
                Ok(outcomes) => {
                    // Counted as soon as committed (before the acks), as single deliveries are.
                    for outcome in &outcomes {
                        CONSUMED
                            .with_label_values(&[self.service.as_str(), outcome.label()])
                            .inc();
                    }
                    for (d, multiple) in self.acks(&batch) {
                        if let Err(e) = d.ack(BasicAckOptions { multiple }).await {
                            // The channel is gone; the broker redelivers and the inbox absorbs it.
                            tracing::warn!(error = %e, "ack failed");
                        }
                    }
                    BATCHES
                        .with_label_values(&[self.service.as_str()])
                        .observe(batch.len() as f64);
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, size = batch.len(), "batch failed; handling its events one by one");
                }
            }
        }
        for d in batch {
            self.clone().process(d, queue.clone(), dl.clone()).await;
        }
    }

    /// The acks that settle a committed `batch`: one for all of it (`multiple`, up to its last
    /// delivery tag: one frame, and one settle command in the quorum queue instead of one per
    /// delivery) when every delivery before the batch is settled already, which holds when
    /// batches are handled one at a time and no requeue is waiting; else one per delivery.
    fn acks<'a>(&self, batch: &'a [Delivery]) -> Vec<(&'a Delivery, bool)> {
        match batch.last() {
            Some(last) if self.concurrency == 1 && self.deferred.load(Ordering::Acquire) == 0 => {
                vec![(last, true)]
            }
            _ => batch.iter().map(|d| (d, false)).collect(),
        }
    }

    /// One transaction for `envs` (one or a batch): the fresh ids go into the inbox in one
    /// statement, each fresh event is dispatched (under its span from `spans`, when given), one
    /// commit.
    async fn apply(
        &self,
        envs: &[Envelope],
        spans: &[tracing::Span],
    ) -> Result<Vec<Outcome>, HandlerError> {
        if envs.iter().any(|e| e.id.is_nil()) {
            return Err(HandlerError::Permanent(anyhow::anyhow!(
                "message has no UUID message_id"
            )));
        }
        let mut tx = Tx::new(self.pool.begin().await?, self.outbox.clone());
        let ids: Vec<Uuid> = envs.iter().map(|e| e.id).collect();
        let types: Vec<&str> = envs.iter().map(|e| e.event_type.as_str()).collect();
        let fresh: Vec<Uuid> = sqlx::query_scalar(
            "INSERT INTO inbox (event_id, event_type) SELECT * FROM unnest($1::uuid[], $2::text[])
             ON CONFLICT DO NOTHING RETURNING event_id",
        )
        .bind(&ids)
        .bind(&types)
        .fetch_all(&mut *tx)
        .await?;
        let mut fresh: std::collections::HashSet<Uuid> = fresh.into_iter().collect();
        // A redelivered copy in the same batch is a duplicate of the first.
        let handled: Vec<bool> = envs.iter().map(|e| fresh.remove(&e.id)).collect();
        let todo: Vec<&Envelope> = envs
            .iter()
            .zip(&handled)
            .filter_map(|(e, h)| h.then_some(e))
            .collect();
        self.subscriptions.prepare_batch(&mut tx, &todo).await?;
        let mut outcomes = Vec::with_capacity(envs.len());
        for (i, (env, handle)) in envs.iter().zip(handled).enumerate() {
            if !handle {
                outcomes.push(Outcome::Duplicate);
                continue;
            }
            let span = spans.get(i).cloned().unwrap_or_else(tracing::Span::current);
            self.subscriptions
                .dispatch(&mut tx, env)
                .instrument(span)
                .await?;
            outcomes.push(Outcome::Handled);
        }
        tx.commit().await?;
        fault::after_commit();
        Ok(outcomes)
    }

    async fn process(self: Arc<Self>, d: Delivery, queue: String, dl: Channel) {
        let env = envelope(&d);
        let span = event_span(&d, &env);
        async move {
            let result = self
                .apply(std::slice::from_ref(&env), &[])
                .await
                .map(|o| o.into_iter().next().unwrap_or(Outcome::Duplicate));
            let outcome = match result {
                Ok(o) => {
                    CONSUMED.with_label_values(&[self.service.as_str(), o.label()]).inc();
                    if matches!(o, Outcome::Duplicate) {
                        tracing::debug!("duplicate event absorbed");
                    }
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
                        // Back off a little so a failing handler does not spin, without holding
                        // up the deliveries behind it: the nack waits in a task of its own (a
                        // closed channel requeues it anyway).
                        let pause = Duration::from_millis(100u64 << env.delivery_count.clamp(0, 4));
                        CONSUMED.with_label_values(&[self.service.as_str(), "retried"]).inc();
                        // Counted until sent, so no batch acks it meanwhile (`acks`).
                        let deferred = self.deferred.clone();
                        deferred.fetch_add(1, Ordering::AcqRel);
                        tokio::spawn(async move {
                            tokio::time::sleep(pause).await;
                            if let Err(e) = d.nack(BasicNackOptions { requeue: true, ..Default::default() }).await {
                                tracing::warn!(error = %e, "nack failed");
                            }
                            deferred.fetch_sub(1, Ordering::AcqRel);
                        }.in_current_span());
                        Ok(true)
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
}

/// The event as handlers see it, from the delivery's AMQP properties.
fn envelope(d: &Delivery) -> Envelope {
    let headers = d.properties.headers().as_ref();
    Envelope {
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
    }
}

/// A consumer span per event, continuing the producer's trace.
fn event_span(d: &Delivery, env: &Envelope) -> tracing::Span {
    let span = tracing::info_span!("event", otel.kind = "consumer", event_type = %env.event_type, event_id = %env.id);
    if let Some(tp) = header_str(d.properties.headers().as_ref(), "traceparent") {
        stride_kit::telemetry::set_parent_from_traceparent(&span, &tp);
    }
    span
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

static BATCHES: std::sync::LazyLock<prometheus::HistogramVec> = std::sync::LazyLock::new(|| {
    stride_kit::metrics::histogram(
        "stride_event_batch_size",
        "Deliveries handled in one transaction (batches of two or more)",
        &["service"],
        vec![2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
    )
});

static CONSUMED: std::sync::LazyLock<prometheus::IntCounterVec> = std::sync::LazyLock::new(|| {
    stride_kit::metrics::counter(
        "stride_events_consumed_total",
        "Deliveries by outcome",
        &["service", "outcome"],
    )
});

/// Fault injection for `cargo xtask chaos`: with `STRIDE_FAULT_ABORT_AFTER_COMMITS=N` the
/// process aborts right after its N-th committed delivery (or batch), before acknowledging it —
/// the crash the inbox exists for, which a SIGKILL from outside hits only by luck. Never set in
/// production; unset, it costs one load of a cached `None`.
mod fault {
    use std::sync::{
        LazyLock,
        atomic::{AtomicU64, Ordering},
    };

    static ABORT_AFTER: LazyLock<Option<u64>> = LazyLock::new(|| {
        std::env::var("STRIDE_FAULT_ABORT_AFTER_COMMITS")
            .ok()?
            .parse()
            .ok()
    });
    static COMMITS: AtomicU64 = AtomicU64::new(0);

    pub(super) fn after_commit() {
        if let Some(n) = *ABORT_AFTER
            && COMMITS.fetch_add(1, Ordering::Relaxed) + 1 >= n
        {
            eprintln!(
                "STRIDE_FAULT_ABORT_AFTER_COMMITS={n}: aborting after a commit, before its ack"
            );
            std::process::abort();
        }
    }
}
