//! Where a host keeps what it has seen: the newest pin of each ring (versions and hashes only
//! move forward) and which ring each store's name held (a ring substituted under a name it
//! held is refused). [`crate::PinBook`] keeps them in files; [`MemoryPins`] in memory, for a
//! host without files (a binding can persist what it holds).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use dkm_core::{ErrorKind, Pin, RingId};

use crate::error::{HostError, Result};

/// What a pin store does. Implementations serialise their writes: pins only move forward,
/// also when threads or processes race, and a first sight of a name records one ring.
pub trait PinStore: Send + Sync {
    /// The saved pin of `ring`.
    fn get(&self, ring: RingId) -> Result<Option<Pin>>;
    /// Saves `pin` unless the saved one is newer.
    fn save(&self, pin: &Pin) -> Result<()>;
    /// Checks that ring `name` of the store at `store` is the ring seen under that name before
    /// (`Tampered` otherwise); records it on first sight.
    fn check_name(&self, store: &str, name: &str, ring: RingId) -> Result<()>;
    /// Forgets that `name` held `ring` (after a rename); a record of another ring stays.
    fn forget_name(&self, store: &str, name: &str, ring: RingId) -> Result<()>;
    /// Which ring `name` of the store at `store` was seen holding, without recording anything.
    fn held(&self, store: &str, name: &str) -> Result<Option<RingId>>;
}

/// A shared pin store is a pin store (several hosts, or a binding's handle, over one).
impl<P: PinStore + ?Sized> PinStore for std::sync::Arc<P> {
    fn get(&self, ring: RingId) -> Result<Option<Pin>> {
        (**self).get(ring)
    }
    fn save(&self, pin: &Pin) -> Result<()> {
        (**self).save(pin)
    }
    fn check_name(&self, store: &str, name: &str, ring: RingId) -> Result<()> {
        (**self).check_name(store, name, ring)
    }
    fn forget_name(&self, store: &str, name: &str, ring: RingId) -> Result<()> {
        (**self).forget_name(store, name, ring)
    }
    fn held(&self, store: &str, name: &str) -> Result<Option<RingId>> {
        (**self).held(store, name)
    }
}

/// Whether `old` is newer than `new` in either part (then `new` is not saved).
pub(crate) fn is_newer(old: &Pin, new: &Pin) -> bool {
    let gov = |p: &Pin| p.governance.map_or(0, |g| g.version);
    let ks = |p: &Pin| p.key_state.map_or(0, |k| k.version);
    gov(old) > gov(new) || ks(old) > ks(new)
}

pub(crate) fn substituted(name: &str, ring: RingId) -> HostError {
    HostError::new(
        ErrorKind::Tampered,
        format!(
            "the ring named {name:?} in this store is not the ring this host pinned under that name (ring id {ring} differs): refusing a substituted ring"
        ),
    )
}

#[derive(Default)]
struct Book {
    pins: BTreeMap<RingId, Pin>,
    names: BTreeMap<(String, String), RingId>,
}

/// Pins in memory (see the module doc).
#[derive(Default)]
pub struct MemoryPins {
    book: Mutex<Book>,
}

impl MemoryPins {
    /// An empty pin store.
    pub fn new() -> MemoryPins {
        MemoryPins::default()
    }

    /// Every pin held, to persist them.
    pub fn pins(&self) -> Vec<Pin> {
        self.book().pins.values().cloned().collect()
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // Each write below is a single map operation: a panic cannot leave half of one.
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for MemoryPins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryPins({} pins)", self.book().pins.len())
    }
}

impl PinStore for MemoryPins {
    fn get(&self, ring: RingId) -> Result<Option<Pin>> {
        Ok(self.book().pins.get(&ring).cloned())
    }

    fn save(&self, pin: &Pin) -> Result<()> {
        let mut book = self.book();
        if book
            .pins
            .get(&pin.ring)
            .is_some_and(|old| is_newer(old, pin))
        {
            return Ok(());
        }
        book.pins.insert(pin.ring, pin.clone());
        Ok(())
    }

    fn check_name(&self, store: &str, name: &str, ring: RingId) -> Result<()> {
        let mut book = self.book();
        let key = (store.to_owned(), name.to_owned());
        match book.names.get(&key) {
            Some(held) if *held == ring => Ok(()),
            Some(_) => Err(substituted(name, ring)),
            None => {
                book.names.insert(key, ring);
                Ok(())
            }
        }
    }

    fn held(&self, store: &str, name: &str) -> Result<Option<RingId>> {
        Ok(self
            .book()
            .names
            .get(&(store.to_owned(), name.to_owned()))
            .copied())
    }

    fn forget_name(&self, store: &str, name: &str, ring: RingId) -> Result<()> {
        let mut book = self.book();
        let key = (store.to_owned(), name.to_owned());
        if book.names.get(&key) == Some(&ring) {
            book.names.remove(&key);
        }
        Ok(())
    }
}
