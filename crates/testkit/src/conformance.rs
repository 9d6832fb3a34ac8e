//! The user lifecycle contract every consuming service keeps (DESIGN §5, docs/events.md):
//!
//! - `user.deleted.v1`: every row of the user is gone, nobody else's changes; a redelivery and a
//!   retry under a new id change nothing; a bad payload is dead-lettered and changes nothing.
//! - `user.merged.v1`: bad payloads (ids that are not UUIDs, a merge into itself, bytes that do
//!   not decode) are dead-lettered and change no account; then a valid merge leaves nothing of
//!   the source, the target keeps at least what it had, a bystander is untouched; a redelivery
//!   changes nothing.
//!
//! A service runs both with a `seed` that gives a user some data through its real API or
//! events; what a merge combines is the service's own test. Rows are counted in every table of
//! the service's schema that has a `user_id` column, so a table added later is covered.

use std::future::Future;

use prost::Message as _;
use stride_proto::{Event as _, events};
use uuid::Uuid;

use crate::{
    ServiceHarness,
    bus::{Publisher, consumed_count, publish_raw, user_rows},
    fixtures,
};

type Rows = Vec<(String, i64)>;

fn total(rows: &Rows) -> i64 {
    rows.iter().map(|(_, n)| n).sum()
}

/// Publishes `payloads` as raw deliveries of `event_type` and waits until all were
/// dead-lettered; nothing is handled meanwhile.
async fn dead_lettered<C>(h: &ServiceHarness<C>, event_type: &str, payloads: Vec<Vec<u8>>) {
    let handled = consumed_count(h.service, "handled");
    let before = consumed_count(h.service, "dead_lettered");
    let n = payloads.len() as u64;
    for payload in payloads {
        publish_raw(&h.amqp, Uuid::now_v7(), event_type, "auth", &payload).await;
    }
    h.deliveries("dead_lettered", before + n).await;
    assert_eq!(
        consumed_count(h.service, "handled"),
        handled,
        "a bad {event_type} was handled"
    );
}

/// Runs the `user.deleted.v1` contract against the started service.
pub async fn user_deleted<C, F, Fut>(h: &ServiceHarness<C>, seed: F)
where
    F: Fn(Uuid) -> Fut,
    Fut: Future<Output = ()>,
{
    let (victim, bystander) = (Uuid::now_v7(), Uuid::now_v7());
    seed(victim).await;
    seed(bystander).await;
    let had = user_rows(&h.db, victim).await;
    assert!(total(&had) > 0, "the seed gave the user no rows: {had:?}");
    let kept = user_rows(&h.db, bystander).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let event = fixtures::user_deleted(victim, h.clock_now());
    let id = auth.publish(&event).await;
    h.consumed(id).await;
    let left = user_rows(&h.db, victim).await;
    assert_eq!(total(&left), 0, "rows of the deleted user remain: {left:?}");
    assert_eq!(
        user_rows(&h.db, bystander).await,
        kept,
        "a bystander lost rows"
    );

    // The broker redelivers the same message: absorbed by the inbox.
    let duplicates = consumed_count(h.service, "duplicate");
    publish_raw(
        &h.amqp,
        id,
        events::UserDeleted::TYPE,
        "auth",
        &event.encode_to_vec(),
    )
    .await;
    h.deliveries("duplicate", duplicates + 1).await;
    // auth retries under a new id: deletes nothing more, fails nothing.
    let again = auth.publish(&event).await;
    h.consumed(again).await;
    assert_eq!(user_rows(&h.db, bystander).await, kept);

    let bad = |user_id: &str| {
        events::UserDeleted {
            user_id: user_id.to_owned(),
            ..event.clone()
        }
        .encode_to_vec()
    };
    dead_lettered(
        h,
        events::UserDeleted::TYPE,
        vec![
            bad("not-a-uuid"),
            bad(""),
            bad(&Uuid::nil().to_string()),
            b"\xff\xff\xff".to_vec(),
        ],
    )
    .await;
    assert_eq!(user_rows(&h.db, bystander).await, kept);
}

/// Runs the generic part of the `user.merged.v1` contract against the started service.
pub async fn user_merged<C, F, Fut>(h: &ServiceHarness<C>, seed: F)
where
    F: Fn(Uuid) -> Fut,
    Fut: Future<Output = ()>,
{
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for u in [source, target, bystander] {
        seed(u).await;
    }
    let source_had = user_rows(&h.db, source).await;
    assert!(
        total(&source_had) > 0,
        "the seed gave the user no rows: {source_had:?}"
    );
    let target_had = total(&user_rows(&h.db, target).await);
    let kept = user_rows(&h.db, bystander).await;

    let (s, t) = (source.to_string(), target.to_string());
    // Bad merges first: refused, they leave every account as it was — the guest's included.
    let bad = |s: &str, t: &str| fixtures::user_merged(s, t, h.clock_now()).encode_to_vec();
    dead_lettered(
        h,
        events::UserMerged::TYPE,
        vec![
            bad("not-a-uuid", &t),
            bad(&s, ""),
            bad(&s, &s),
            b"\xff\xff\xff".to_vec(),
        ],
    )
    .await;
    assert_eq!(
        user_rows(&h.db, source).await,
        source_had,
        "a refused merge changed the guest"
    );
    assert_eq!(total(&user_rows(&h.db, target).await), target_had);
    assert_eq!(user_rows(&h.db, bystander).await, kept);

    let auth = Publisher::start(&h.amqp, "auth").await;
    let event = fixtures::user_merged(&s, &t, h.clock_now());
    let id = auth.publish(&event).await;
    h.consumed(id).await;
    let left = user_rows(&h.db, source).await;
    assert_eq!(total(&left), 0, "rows of the merged guest remain: {left:?}");
    let target_has = user_rows(&h.db, target).await;
    assert!(
        total(&target_has) >= target_had,
        "the target lost rows in the merge: {target_has:?}"
    );
    assert_eq!(
        user_rows(&h.db, bystander).await,
        kept,
        "a bystander changed"
    );

    let duplicates = consumed_count(h.service, "duplicate");
    publish_raw(
        &h.amqp,
        id,
        events::UserMerged::TYPE,
        "auth",
        &event.encode_to_vec(),
    )
    .await;
    h.deliveries("duplicate", duplicates + 1).await;
    assert_eq!(
        user_rows(&h.db, target).await,
        target_has,
        "a replay changed the target"
    );
}

impl<C> ServiceHarness<C> {
    fn clock_now(&self) -> time::OffsetDateTime {
        stride_kit::Clock::now(&self.clock)
    }
}
