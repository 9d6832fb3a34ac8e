//! Connection and topology helpers shared by the relay and the consumers.

use std::time::Duration;

use anyhow::Context as _;
use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, ShortString},
};

/// Dead-letter after this many failed deliveries.
pub const MAX_DELIVERIES: i64 = 5;

/// How long a broker round trip (setup, a confirm) may take before the link is rebuilt.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `fut` with [`BROKER_TIMEOUT`]; a stall becomes an error, and callers reconnect.
pub async fn bounded<T>(
    what: &str,
    fut: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(BROKER_TIMEOUT, fut)
        .await
        .map_err(|_| anyhow::anyhow!("{what} timed out after {BROKER_TIMEOUT:?}"))?
}

/// Frame size we ask for. lapin keeps 32 frames of send and of receive buffer per connection:
/// with the broker's default 128 KiB that is 8 MiB resident per connection for events of a few
/// hundred bytes. 16 KiB frames cost 1 MiB; larger messages are simply split into more frames.
const FRAME_MAX: u32 = 16 * 1024;

/// Connects with a client-visible name so operators can tell connections apart.
pub async fn connect(url: &str, name: &str) -> anyhow::Result<Connection> {
    let mut uri: lapin::uri::AMQPUri = url
        .parse()
        .map_err(|e: String| anyhow::anyhow!("AMQP_URL: {e}"))?;
    if uri.query.frame_max.is_none() {
        uri.query.frame_max = Some(FRAME_MAX);
    }
    let props = ConnectionProperties::default().with_connection_name(name.into());
    let conn = tokio::time::timeout(Duration::from_secs(10), Connection::connect_uri(uri, props))
        .await
        .context("connecting to RabbitMQ timed out")?
        .context("connecting to RabbitMQ")?;
    Ok(conn)
}

/// Declares the durable event exchange and the dead-letter exchange (idempotent).
pub async fn declare_exchanges(ch: &Channel) -> anyhow::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.exchange_declare(
        crate::EXCHANGE.into(),
        ExchangeKind::Topic,
        durable,
        FieldTable::default(),
    )
    .await
    .context("declaring the event exchange")?;
    ch.exchange_declare(
        crate::DEAD_LETTER_EXCHANGE.into(),
        ExchangeKind::Direct,
        durable,
        FieldTable::default(),
    )
    .await
    .context("declaring the dead-letter exchange")?;
    Ok(())
}

/// Declares `<service>.events` (quorum, dead-lettering at-least-once to `<service>.events.dlq`,
/// delivery limit) and binds it to `types`. Done before consuming so no event is missed.
pub async fn declare_service_queue(
    ch: &Channel,
    service: &str,
    types: &[&str],
) -> anyhow::Result<String> {
    declare_exchanges(ch).await?;
    let queue = format!("{service}.events");
    let dlq = format!("{queue}.dlq");
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };

    let mut dlq_args = FieldTable::default();
    dlq_args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    ch.queue_declare(dlq.as_str().into(), durable, dlq_args)
        .await
        .context("declaring the dead-letter queue")?;
    ch.queue_bind(
        dlq.as_str().into(),
        crate::DEAD_LETTER_EXCHANGE.into(),
        queue.as_str().into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;

    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(crate::DEAD_LETTER_EXCHANGE.into()),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(queue.as_str().into()),
    );
    // at-least-once dead-lettering needs reject-publish overflow; the broker's own delivery limit
    // is a backstop above ours (we dead-letter with the error attached first).
    args.insert(
        "x-dead-letter-strategy".into(),
        AMQPValue::LongString("at-least-once".into()),
    );
    args.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(MAX_DELIVERIES + 2),
    );
    ch.queue_declare(queue.as_str().into(), durable, args)
        .await
        .context("declaring the service queue")?;
    for t in types {
        ch.queue_bind(
            queue.as_str().into(),
            crate::EXCHANGE.into(),
            (*t).into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("binding {queue} to {t}"))?;
    }
    Ok(queue)
}

/// A string header value.
pub fn header_str(headers: Option<&FieldTable>, key: &str) -> Option<String> {
    match headers?.inner().get(&ShortString::from(key))? {
        AMQPValue::LongString(s) => Some(s.to_string()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// An integer header value (quorum queues send `x-delivery-count` as a long).
pub fn header_int(headers: Option<&FieldTable>, key: &str) -> Option<i64> {
    match headers?.inner().get(&ShortString::from(key))? {
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortUInt(v) => Some(i64::from(*v)),
        _ => None,
    }
}

/// How long a broker session may take to wind down after shutdown is asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Keeps a broker link alive: runs `session` until it returns Ok (shutdown) and, after each
/// failure, waits a jittered, doubling delay (200 ms to 5 s, from backon) so replicas do not
/// reconnect in lockstep after a broker restart. A session that stayed up for a minute starts
/// the delays over. `ready` is false between sessions.
pub async fn reconnecting<F, Fut>(
    what: &str,
    ready: &tokio::sync::watch::Sender<bool>,
    shutdown: &tokio_util::sync::CancellationToken,
    mut session: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    use backon::BackoffBuilder as _;
    let delays = || {
        backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_jitter()
            .without_max_times()
            .build()
    };
    let mut backoff = delays();
    while !shutdown.is_cancelled() {
        let started = tokio::time::Instant::now();
        let run = session();
        tokio::pin!(run);
        // On shutdown the session gets a grace period to finish on its own (the relay's last
        // drain, a delivery's commit); a session stuck on a broker that is gone (a deleted vhost,
        // a close that never completes) must not hold the process.
        let result = tokio::select! {
            r = &mut run => r,
            _ = shutdown.cancelled() => match tokio::time::timeout(SHUTDOWN_GRACE, &mut run).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!("{what} did not finish within {SHUTDOWN_GRACE:?} of shutdown; leaving it");
                    break;
                }
            },
        };
        match result {
            Ok(()) => break,
            Err(e) => {
                let _ = ready.send(false);
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = delays();
                }
                let pause = backoff.next().unwrap_or(Duration::from_secs(5));
                tracing::warn!(
                    error = format!("{e:#}"),
                    ?pause,
                    "{what} lost the broker; reconnecting"
                );
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
    let _ = ready.send(false);
}
