//! The gateway's bound per upstream: slots refused at once, never queued, with a reserve for
//! light clients (ADR 0032).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// A fixed number of slots, the last eighth of which only light clients may take: those holding
/// fewer than half their share of the rest (and always those holding fewer than
/// [`FairSlots::LIGHT`]). A client calling once in a while is not refused because a flood from
/// others holds every slot. Refuses at once, never queues (the gateway's
/// bound per upstream: it guards the gateway's memory against a slow upstream, ADR 0032).
#[derive(Debug)]
pub struct FairSlots {
    max: usize,
    reserve: usize,
    held: Mutex<(usize, HashMap<u64, usize>)>,
}

impl FairSlots {
    /// A client holding fewer slots than this may always take the reserved ones.
    pub const LIGHT: usize = 4;

    pub fn new(max: usize) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Self {
            max,
            reserve: max / 8,
            held: Mutex::new((0, HashMap::new())),
        })
    }

    /// A slot for `client`, or `None` at once.
    pub fn try_acquire(self: &Arc<Self>, client: u64) -> Option<FairSlot> {
        let mut g = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per) = &mut *g;
        let mine = per.get(&client).copied().unwrap_or(0);
        let clients = per.len() + usize::from(mine == 0);
        let light = mine < Self::LIGHT.max((self.max - self.reserve) / (2 * clients));
        let open = *total < self.max - self.reserve || (*total < self.max && light);
        if !open {
            return None;
        }
        *total += 1;
        *per.entry(client).or_default() += 1;
        Some(FairSlot {
            slots: self.clone(),
            client,
        })
    }
}

/// One slot of [`FairSlots`], given back on drop.
#[derive(Debug)]
pub struct FairSlot {
    slots: Arc<FairSlots>,
    client: u64,
}

impl Drop for FairSlot {
    fn drop(&mut self) {
        let mut g = self.slots.held.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per) = &mut *g;
        *total = total.saturating_sub(1);
        if let Some(n) = per.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                per.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_slots_are_kept_for_light_clients() {
        let slots = FairSlots::new(16);
        // A flood takes every slot it may: all but the reserved two.
        let flood: Vec<_> = (0..16).filter_map(|_| slots.try_acquire(1)).collect();
        assert_eq!(flood.len(), 14);
        // A light client still gets in, up to the whole.
        let light = slots
            .try_acquire(2)
            .expect("a light client takes a reserved slot");
        let light2 = slots.try_acquire(3).expect("another one too");
        assert!(slots.try_acquire(4).is_none(), "every slot is taken");
        drop((light, light2));
        // A slot given back by the flood is open to anyone again.
        drop(flood);
        let again: Vec<_> = (0..16).filter_map(|_| slots.try_acquire(5)).collect();
        assert_eq!(again.len(), 14, "slots are given back");
        // The smallest bound has no reserve: it refuses the second call.
        let one = FairSlots::new(1);
        let _a = one.try_acquire(1).unwrap();
        assert!(one.try_acquire(2).is_none());
    }
}
