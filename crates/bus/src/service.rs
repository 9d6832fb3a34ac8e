//! The bus parts of a service, added to the kit's start-up builder.

use stride_kit::service::Builder;

use crate::{Outbox, Subscriptions, consumer::Subscriber, outbox::Relay};

/// `relay()` and `subscribe()` on [`stride_kit::service::Builder`].
pub trait ServiceExt {
    /// Starts the outbox relay (once; later calls return the same handle) and returns the
    /// handle gRPC handlers publish through. Readiness waits for its broker link.
    fn relay(&mut self) -> Outbox;

    /// Consumes `<service>.events`, bound to exactly the subscribed types. Events that handlers
    /// publish wake the relay when [`ServiceExt::relay`] was called first. Readiness waits for
    /// the queue to be declared and consumed.
    fn subscribe(&mut self, subscriptions: Subscriptions);
}

impl ServiceExt for Builder {
    fn relay(&mut self) -> Outbox {
        if let Some(outbox) = self.extensions().get::<Outbox>() {
            return outbox.clone();
        }
        let relay = Relay::spawn(
            self.pool().clone(),
            self.common().amqp_url.expose(),
            self.name(),
            self.shutdown_token(),
        );
        self.extensions_mut().insert(relay.outbox.clone());
        self.component(Some(relay.ready), relay.task);
        relay.outbox
    }

    fn subscribe(&mut self, subscriptions: Subscriptions) {
        assert!(
            !subscriptions.is_empty(),
            "{}: subscribe() without any event type",
            self.name()
        );
        let sub = Subscriber::new(
            self.name(),
            self.common().amqp_url.expose(),
            self.pool().clone(),
            subscriptions,
            self.extensions().get::<Outbox>().cloned(),
        )
        .spawn(self.shutdown_token());
        self.component(Some(sub.ready), sub.task);
    }
}
