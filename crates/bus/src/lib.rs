//! Events over RabbitMQ (DESIGN §5).
//!
//! - One durable topic exchange [`EXCHANGE`]; routing key = event type (`<entity>.<fact>.v<N>`).
//! - Producers publish through a [`Tx`] (`outbox.begin()` … `tx.publish(&event)` … `tx.commit()`):
//!   the outbox row commits with the state change and the relay is woken on commit; the
//!   [`outbox::Relay`] publishes pending rows with publisher confirms and `mandatory`, and marks
//!   them sent only after the confirm. A crash anywhere re-sends; nothing is dropped.
//! - Consumers register typed handlers ([`On`]) in [`Subscriptions`], from which the queue's
//!   bindings are derived, and run a [`consumer::Subscriber`]: a durable quorum queue `<service>.events` with a
//!   dead-letter exchange and queue and a delivery limit; each event id goes into the `inbox`
//!   table in the same transaction as the handler's effect, and the delivery is acked after
//!   commit. Duplicates are absorbed; a message that keeps failing is dead-lettered with its error.

pub mod amqp;
pub mod consumer;
pub mod directory;
pub mod lifecycle;
pub mod outbox;
mod service;
mod subscribe;
mod tx;

pub use consumer::HandlerError;
pub use lifecycle::{Merge, Merged, Subject};
pub use outbox::Outbox;
pub use service::ServiceExt;
pub use subscribe::{On, Prepare, Subscriptions};
pub use tx::Tx;

/// The topic exchange every event goes through.
pub const EXCHANGE: &str = "stride.events";
/// Where failed deliveries go; each service's dead-letter queue is bound by its queue name.
pub const DEAD_LETTER_EXCHANGE: &str = "stride.events.dlx";
/// Content type of every payload.
pub const CONTENT_TYPE: &str = "application/x-protobuf";

/// Embedded migrations for the `outbox` and `inbox` tables (versions below 100; services start
/// at 1000). Run together with the service's own through `stride_kit::db::migrate`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub use stride_proto::Event;

/// A received event, before its payload is decoded.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub id: uuid::Uuid,
    pub event_type: String,
    pub producer: String,
    pub payload: Vec<u8>,
    /// How many times the broker delivered it before (quorum queues count).
    pub delivery_count: i64,
}

impl Envelope {
    /// Decodes the payload as `E`; a payload that does not decode can never succeed.
    pub fn decode<E: Event>(&self) -> Result<E, consumer::HandlerError> {
        E::decode(self.payload.as_slice()).map_err(|e| {
            consumer::HandlerError::Permanent(anyhow::anyhow!("undecodable {}: {e}", E::TYPE))
        })
    }
}
