//! A transaction that can publish: outbox rows commit with the change they announce, and the
//! relay is woken once the commit is durable. Store functions take `&mut PgConnection`; a `Tx`
//! dereferences to one, so handlers pass `&mut tx` straight through.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    ops::{Deref, DerefMut},
};

use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::{Event, outbox::Outbox};

pub struct Tx {
    inner: Transaction<'static, Postgres>,
    /// Woken after commit when something was published; None where nothing relays (tests).
    outbox: Option<Outbox>,
    published: usize,
    /// What a [`Prepare`](crate::Prepare) left for this transaction's handlers, by type.
    state: HashMap<TypeId, Box<dyn Any + Send>>,
}

impl Tx {
    pub(crate) fn new(inner: Transaction<'static, Postgres>, outbox: Option<Outbox>) -> Self {
        Self {
            inner,
            outbox,
            published: 0,
            state: HashMap::new(),
        }
    }

    /// Writes `event` to the outbox inside this transaction; returns the event id (UUIDv7).
    pub async fn publish<E: Event>(&mut self, event: &E) -> Result<Uuid, sqlx::Error> {
        let id = crate::outbox::enqueue(&mut self.inner, event).await?;
        self.published += 1;
        Ok(id)
    }

    /// `event` as an outbox row the caller writes in this transaction with its own statement
    /// ([`Staged::insert_sql`](crate::outbox::Staged::insert_sql)); counted as published, so the
    /// commit wakes the relay.
    pub fn stage<E: Event>(&mut self, event: &E) -> crate::outbox::Staged {
        self.published += 1;
        crate::outbox::Staged::new(event)
    }

    /// Leaves `value` for the rest of this transaction (one value per type; a second replaces
    /// the first).
    pub fn put<T: Send + 'static>(&mut self, value: T) {
        self.state.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// The value of type `T` left in this transaction, if any.
    pub fn state_mut<T: Send + 'static>(&mut self) -> Option<&mut T> {
        self.state.get_mut(&TypeId::of::<T>())?.downcast_mut()
    }

    /// How many events this transaction published so far.
    pub fn published(&self) -> usize {
        self.published
    }

    /// Commits, then wakes the relay if anything was published (it would otherwise find the
    /// rows at its next poll).
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await?;
        if self.published > 0
            && let Some(outbox) = &self.outbox
        {
            outbox.kick();
        }
        Ok(())
    }
}

impl Deref for Tx {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.inner
    }
}
