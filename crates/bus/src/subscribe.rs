//! Typed event subscriptions: a consumer registers one handler per event type, and the queue's
//! bindings are derived from the registrations, so there is no hand-kept list of types to drift
//! from the handlers and no string `match`.
//!
//! ```ignore
//! let subs = Subscriptions::new()
//!     .on::<SessionCompleted, _>(handlers.clone())
//!     .on::<UserDeleted, _>(handlers);
//! ```

use std::{collections::BTreeMap, future::Future, marker::PhantomData};

use futures::future::BoxFuture;

use crate::{Envelope, Event, Tx, consumer::HandlerError};

/// Reacts to events of type `E`. `tx` also records the event id in the inbox: write the effect
/// through it (and publish follow-up events with [`Tx::publish`]), nothing else.
pub trait On<E: Event>: Send + Sync + 'static {
    fn on(
        &self,
        tx: &mut Tx,
        event: E,
        meta: &Envelope,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// Runs once per transaction of several events, after the inbox took them and before their
/// handlers: writes in one statement what each handler would otherwise write alone (analytics'
/// event log), and leaves what it did for the handlers with [`Tx::put`]. It sees the events the
/// handlers will see (fresh, in delivery order); an error fails the transaction like a
/// handler's (a batch is then handled one event at a time, where it does not run).
pub trait Prepare: Send + Sync + 'static {
    fn prepare<'a>(
        &'a self,
        tx: &'a mut Tx,
        envs: &'a [&'a Envelope],
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}

trait Dispatch: Send + Sync {
    fn dispatch<'a>(
        &'a self,
        tx: &'a mut Tx,
        env: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}

struct Typed<E, H>(H, PhantomData<fn() -> E>);

impl<E: Event, H: On<E>> Dispatch for Typed<E, H> {
    fn dispatch<'a>(
        &'a self,
        tx: &'a mut Tx,
        env: &'a Envelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let event = env.decode::<E>()?;
            self.0.on(tx, event, env).await
        })
    }
}

/// The event types a service consumes, each with its handler.
#[derive(Default)]
pub struct Subscriptions {
    handlers: BTreeMap<&'static str, Box<dyn Dispatch>>,
    prepare: Option<Box<dyn Prepare>>,
}

impl Subscriptions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for events of type `E` (and binds the queue to `E::TYPE`).
    ///
    /// # Panics
    /// When `E` is already registered: two handlers for one type is a wiring mistake that must
    /// fail at start, not pick one silently.
    pub fn on<E: Event, H: On<E>>(mut self, handler: H) -> Self {
        let previous = self
            .handlers
            .insert(E::TYPE, Box::new(Typed::<E, H>(handler, PhantomData)));
        assert!(previous.is_none(), "{} is subscribed twice", E::TYPE);
        self
    }

    /// Runs `p` before the handlers of every transaction of several events ([`Prepare`]).
    pub fn prepare(mut self, p: impl Prepare) -> Self {
        self.prepare = Some(Box::new(p));
        self
    }

    pub(crate) async fn prepare_batch(
        &self,
        tx: &mut Tx,
        envs: &[&Envelope],
    ) -> Result<(), HandlerError> {
        match &self.prepare {
            Some(p) if envs.len() > 1 => p.prepare(tx, envs).await,
            _ => Ok(()),
        }
    }

    /// The routing keys the queue is bound to.
    pub fn event_types(&self) -> Vec<&'static str> {
        self.handlers.keys().copied().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.handlers.is_empty()
    }

    /// Decodes and hands the event to its handler. A type nobody registered can only arrive by
    /// a binding made outside this code: it is dead-lettered, not silently dropped.
    pub(crate) async fn dispatch(&self, tx: &mut Tx, env: &Envelope) -> Result<(), HandlerError> {
        match self.handlers.get(env.event_type.as_str()) {
            Some(h) => h.dispatch(tx, env).await,
            None => Err(HandlerError::Permanent(anyhow::anyhow!(
                "no handler for event type {:?}",
                env.event_type
            ))),
        }
    }
}
