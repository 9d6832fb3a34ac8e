//! The outbox relay against a real broker: an event nobody can receive is retried on its own
//! schedule and never marked sent, while the events behind it keep flowing.

use stride_proto::events::UserDeleted;
use stride_testkit::bus::{Probe, Publisher};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unroutable_event_is_retried_apart_and_never_marked_sent() {
    let vhost = stride_testkit::vhost().await;
    let amqp = vhost.url.clone();
    let mut probe = Probe::bind(&amqp, <UserDeleted as stride_bus::Event>::TYPE).await;
    let producer = Publisher::start(&amqp, "relay-test").await;

    // No queue is bound to this type: the broker returns it (publishes are `mandatory`).
    let stuck = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO outbox (id, event_type, payload) VALUES ($1, 'relay-test.nobody-listens.v1', '\\x00')",
    )
    .bind(stuck)
    .execute(producer.pool())
    .await
    .expect("unroutable row");

    // Committed after it, so behind it in the relay's order; every one arrives.
    let mut sent = Vec::new();
    for i in 0..150 {
        sent.push(
            producer
                .publish(&UserDeleted {
                    user_id: format!("u{i}"),
                    ..Default::default()
                })
                .await,
        );
    }
    let mut seen = Vec::new();
    for _ in 0..sent.len() {
        seen.push(probe.next::<UserDeleted>().await.0);
    }
    seen.sort();
    sent.sort();
    assert_eq!(seen, sent, "every routable event arrives exactly once");

    // The returned one is still pending, with an attempt recorded and a later retry planned.
    let (published, attempts, deferred): (bool, i32, bool) = stride_testkit::eventually(
        stride_testkit::EVENT_DEADLINE,
        "the unroutable event deferred",
        || async {
            let row: (bool, i32, bool) = sqlx::query_as(
                // Deferred: a next attempt was set. Not compared with now(): the first backoff is
                // one second, which a loaded machine can outlast before this query runs.
                "SELECT published_at IS NOT NULL, attempts, next_attempt_at IS NOT NULL FROM outbox WHERE id = $1",
            )
            .bind(stuck)
            .fetch_one(producer.pool())
            .await
            .expect("row");
            (row.1 >= 1).then_some(row)
        },
    )
    .await;
    assert!(!published, "an unroutable event is never marked sent");
    assert!(attempts >= 1);
    assert!(
        deferred,
        "its next attempt is in the future, apart from the others"
    );

    // The stuck row shows as outbox lag (the signal the StrideOutboxLag alert watches).
    stride_testkit::eventually(
        stride_testkit::EVENT_DEADLINE,
        "the outbox lag gauge above zero",
        || async {
            let text = stride_kit::metrics::render();
            let lag: f64 = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix(r#"stride_outbox_lag_seconds{producer="relay-test"} "#)
                })?
                .parse()
                .ok()?;
            (lag > 0.0).then_some(())
        },
    )
    .await;
}
