//! Asynchronous storage (IndexedDB, an edge KV, a remote database): an operation runs against
//! a snapshot the driver read, and yields a *write set* instead of writing. The driver
//! persists the write set with its own compare-and-swap and then confirms; only then does the
//! host advance its pins and hand out the operation's result (a grant's plaintext exists
//! outside only after its audit record is durable). A lost race is `Conflict` from the
//! driver's own check: it takes a fresh snapshot and runs the operation again.
//!
//! The write set is one [`Commit`] per ring name (the same form as a foreign store's, several
//! writes of one operation merged, also across a rename in it): the ring bytes with the token
//! they must replace (`None`: a create), each stream's line count the lines were computed from
//! and the lines to append, and an optional rename whose new name must hold no ring. The
//! driver checks every expectation against its storage, then writes all of it in one
//! transaction, or nothing. The snapshot must hold every name the operation touches, present
//! or absent (a rename's new name too): any other name is refused, so nothing is assumed
//! absent that the driver did not read. (An import checks the store's other rings for a copy
//! of the one imported only among the names in the snapshot.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use dkm_core::{ErrorKind, Pin, RingId};

use crate::error::{HostError, Result};
use crate::foreign::{Commit, ForeignAdapter, ForeignStore, RingWrite, Stream};
use crate::pins::PinStore;
use crate::store::SharedStore;
use crate::{Clock, Entropy, Host};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every value behind these locks is replaced or extended whole.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One ring as the driver read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RingData {
    /// The ring's bytes and its change token (`None`: no ring under the name).
    pub ring: Option<(Vec<u8>, String)>,
    /// The audit chain's lines.
    pub audit: Vec<String>,
    /// The request log's lines.
    pub requests: Vec<String>,
}

/// What the driver read for an operation: the rings it may touch, by name, and the storage's
/// location (stable across processes, for the pin store's name records).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The rings, by name.
    pub rings: BTreeMap<String, RingData>,
    /// Where the storage is.
    pub location: String,
}

/// A snapshot that records writes instead of making them: reads see the operation's own
/// writes; each write checks its expectations against the snapshot.
struct Recorder {
    /// The rings by name: every name the snapshot holds (present or absent) and no other.
    data: Mutex<BTreeMap<String, RingData>>,
    writes: Mutex<Vec<(String, Commit)>>,
    tokens: Mutex<u64>,
    location: String,
}

fn not_in_snapshot(name: &str) -> HostError {
    HostError::new(
        ErrorKind::InvalidInput,
        format!(
            "the snapshot does not hold the name {name:?}: a driver includes every name an operation touches, present or absent (a rename's new name too)"
        ),
    )
}

impl Recorder {
    fn stream(d: &RingData, s: Stream) -> &Vec<String> {
        match s {
            Stream::Audit => &d.audit,
            Stream::Requests => &d.requests,
        }
    }

    /// Adds `c` for ring `name` to the write set, merged with an earlier write of the same
    /// ring (the first expectations stand; the newest bytes and every line are kept).
    fn record(&self, name: &str, c: &Commit) {
        let mut writes = lock(&self.writes);
        // The ring's earlier write: under this name, or renamed to it earlier in this
        // operation (its expectations are the driver's; later ones name pending states).
        if let Some((_, w)) = writes.iter_mut().find(|(n, w)| match &w.move_to {
            None => n == name,
            Some(to) => to == name,
        }) {
            if let Some(r) = &c.ring {
                match &mut w.ring {
                    Some(first) => first.bytes.clone_from(&r.bytes),
                    None => w.ring = Some(r.clone()),
                }
            }
            for (s, count, lines) in &c.appends {
                match w.appends.iter_mut().find(|(t, _, _)| t == s) {
                    Some((_, _, all)) => all.extend(lines.iter().cloned()),
                    None => w.appends.push((*s, *count, lines.clone())),
                }
            }
            // A later rename moves the ring on; a later plain write keeps the first move.
            if c.move_to.is_some() {
                w.move_to.clone_from(&c.move_to);
            }
            return;
        }
        writes.push((name.to_owned(), c.clone()));
    }
}

impl ForeignStore for Recorder {
    fn ring(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        let data = lock(&self.data);
        let d = data.get(name).ok_or_else(|| not_in_snapshot(name))?;
        Ok(d.ring.clone())
    }

    fn line_count(&self, name: &str, stream: Stream) -> Result<u64> {
        let data = lock(&self.data);
        let d = data.get(name).ok_or_else(|| not_in_snapshot(name))?;
        Ok(Self::stream(d, stream).len() as u64)
    }

    fn last_line(&self, name: &str, stream: Stream) -> Result<Option<String>> {
        let data = lock(&self.data);
        let d = data.get(name).ok_or_else(|| not_in_snapshot(name))?;
        Ok(Self::stream(d, stream).last().cloned())
    }

    fn lines_from(&self, name: &str, stream: Stream, from: u64) -> Result<Vec<String>> {
        let from = usize::try_from(from).unwrap_or(usize::MAX);
        let data = lock(&self.data);
        let d = data.get(name).ok_or_else(|| not_in_snapshot(name))?;
        Ok(Self::stream(d, stream)
            .get(from..)
            .unwrap_or_default()
            .to_vec())
    }

    fn commit(&self, name: &str, c: &Commit) -> Result<()> {
        let mut data = lock(&self.data);
        let cur = data
            .get(name)
            .cloned()
            .ok_or_else(|| not_in_snapshot(name))?;
        if let Some(to) = &c.move_to
            && !data.contains_key(to)
        {
            return Err(not_in_snapshot(to));
        }
        let conflict = |what: &str| {
            HostError::new(
                ErrorKind::Conflict,
                format!("the snapshot moved within the operation ({what}): retry"),
            )
        };
        if let Some(RingWrite { expected_token, .. }) = &c.ring
            && cur.ring.as_ref().map(|(_, t)| t) != expected_token.as_ref()
        {
            return Err(conflict("ring"));
        }
        for (s, count, _) in &c.appends {
            if Self::stream(&cur, *s).len() as u64 != *count {
                return Err(conflict(s.name()));
            }
        }
        if let Some(to) = &c.move_to
            && data.get(to).is_some_and(|d| d.ring.is_some())
        {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("a ring named {to:?} already exists in the store"),
            ));
        }
        let mut next = cur;
        if let Some(w) = &c.ring {
            let mut n = lock(&self.tokens);
            *n += 1;
            next.ring = Some((w.bytes.clone(), format!("pending:{n}")));
        }
        for (s, _, lines) in &c.appends {
            match s {
                Stream::Audit => next.audit.extend(lines.iter().cloned()),
                Stream::Requests => next.requests.extend(lines.iter().cloned()),
            }
        }
        match &c.move_to {
            Some(to) => {
                // The old name stays in the snapshot, now holding nothing.
                data.insert(name.to_owned(), RingData::default());
                data.insert(to.clone(), next);
            }
            None => {
                data.insert(name.to_owned(), next);
            }
        }
        drop(data);
        self.record(name, c);
        Ok(())
    }

    fn names(&self) -> Result<Vec<String>> {
        Ok(lock(&self.data)
            .iter()
            .filter(|(_, d)| d.ring.is_some())
            .map(|(n, _)| n.clone())
            .collect())
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

/// A pin store that keeps an operation's pin writes aside until it is confirmed; reads see
/// them layered over the real store.
struct DeferredPins {
    real: Arc<dyn PinStore>,
    pins: Mutex<BTreeMap<RingId, Pin>>,
    names: Mutex<Vec<(String, String, RingId, bool)>>,
}

impl PinStore for DeferredPins {
    fn get(&self, ring: RingId) -> Result<Option<Pin>> {
        match lock(&self.pins).get(&ring) {
            Some(p) => Ok(Some(p.clone())),
            None => self.real.get(ring),
        }
    }

    fn save(&self, pin: &Pin) -> Result<()> {
        let mut pins = lock(&self.pins);
        let newer_kept = match pins.get(&pin.ring) {
            Some(old) => crate::pins::is_newer(old, pin),
            None => self
                .real
                .get(pin.ring)?
                .is_some_and(|old| crate::pins::is_newer(&old, pin)),
        };
        if !newer_kept {
            pins.insert(pin.ring, pin.clone());
        }
        Ok(())
    }

    fn check_name(&self, store: &str, name: &str, ring: RingId) -> Result<()> {
        let mut names = lock(&self.names);
        // This operation's own records first, then the real store's; a first sight is
        // recorded in the real store only on confirmation.
        let pending = names
            .iter()
            .rev()
            .find(|(s, n, _, _)| s == store && n == name)
            .map(|(_, _, r, remember)| (*r, *remember));
        let held = match pending {
            Some((r, true)) => Some(r),
            Some((_, false)) => None,
            None => self.real.held(store, name)?,
        };
        match held {
            Some(h) if h == ring => Ok(()),
            Some(_) => Err(crate::pins::substituted(name, ring)),
            None => {
                names.push((store.to_owned(), name.to_owned(), ring, true));
                Ok(())
            }
        }
    }

    fn held(&self, store: &str, name: &str) -> Result<Option<RingId>> {
        let names = lock(&self.names);
        match names
            .iter()
            .rev()
            .find(|(s, n, _, _)| s == store && n == name)
        {
            Some((_, _, r, true)) => Ok(Some(*r)),
            Some((_, _, _, false)) => Ok(None),
            None => self.real.held(store, name),
        }
    }

    fn forget_name(&self, store: &str, name: &str, ring: RingId) -> Result<()> {
        lock(&self.names).push((store.to_owned(), name.to_owned(), ring, false));
        Ok(())
    }
}

/// An operation's result, held until its write set is persisted.
#[must_use = "persist the write set, then confirm: the result is not released before"]
pub struct Pending<T> {
    value: T,
    writes: Vec<(String, Commit)>,
    pins: Vec<Pin>,
    names: Vec<(String, String, RingId, bool)>,
    real: Arc<dyn PinStore>,
}

impl<T> Pending<T> {
    /// What to persist, per ring name, in one transaction of the driver's storage: every
    /// expectation checked, then every change made, or none (`Conflict`: run again).
    pub fn write_set(&self) -> &[(String, Commit)] {
        &self.writes
    }

    /// The driver persisted the write set: the host advances its pins and releases the
    /// result.
    pub fn confirm(self) -> Result<T> {
        for p in &self.pins {
            self.real.save(p)?;
        }
        for (store, name, ring, remember) in &self.names {
            if *remember {
                self.real.check_name(store, name, *ring)?;
            } else {
                self.real.forget_name(store, name, *ring)?;
            }
        }
        Ok(self.value)
    }
}

/// Runs operations against snapshots, for a driver of asynchronous storage.
pub struct SnapshotHost {
    pins: Arc<dyn PinStore>,
    clock: Clock,
    entropy: Arc<Mutex<Entropy>>,
}

impl SnapshotHost {
    /// A host keeping pins in `pins` (advanced only on confirmation), reading `clock`, with
    /// randomness from `entropy`.
    pub fn new(pins: Arc<dyn PinStore>, clock: Clock, entropy: Entropy) -> SnapshotHost {
        SnapshotHost {
            pins,
            clock,
            entropy: Arc::new(Mutex::new(entropy)),
        }
    }

    /// Runs `op` on a host over `snapshot`: nothing is written anywhere, and the result waits
    /// in a [`Pending`] until the driver persisted its write set and confirms. Retries of lost
    /// races inside the operation are not made (a `Conflict` goes back to the driver, which
    /// takes a fresh snapshot). The host's store is a [`SharedStore`], the type a binding's
    /// other hosts have too, so one instance of the verbs serves both (smaller WASM).
    pub fn run<T>(
        &self,
        snapshot: Snapshot,
        op: impl FnOnce(&Host<SharedStore>) -> Result<T>,
    ) -> Result<Pending<T>> {
        let recorder = Arc::new(Recorder {
            data: Mutex::new(snapshot.rings),
            writes: Mutex::new(Vec::new()),
            tokens: Mutex::new(0),
            location: snapshot.location,
        });
        let deferred = Arc::new(DeferredPins {
            real: Arc::clone(&self.pins),
            pins: Mutex::new(BTreeMap::new()),
            names: Mutex::new(Vec::new()),
        });
        let entropy = Arc::clone(&self.entropy);
        let store: SharedStore =
            Arc::new(ForeignAdapter::new(SnapshotStore(Arc::clone(&recorder))));
        let host = Host::with_entropy(
            store,
            Arc::clone(&deferred),
            self.clock.clone(),
            Box::new(move |buf: &mut [u8]| (lock(&entropy))(buf)),
        )
        .with_pause(Box::new(|_| {}))
        .without_retries();
        let value = op(&host)?;
        drop(host);
        let writes = std::mem::take(&mut *lock(&recorder.writes));
        let pins = lock(&deferred.pins).values().cloned().collect();
        let names = std::mem::take(&mut *lock(&deferred.names));
        Ok(Pending {
            value,
            writes,
            pins,
            names,
            real: Arc::clone(&self.pins),
        })
    }
}

/// The store an operation of a [`SnapshotHost`] runs on (the snapshot, recording writes).
pub struct SnapshotStore(Arc<Recorder>);

impl ForeignStore for SnapshotStore {
    fn ring(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        self.0.ring(name)
    }
    fn line_count(&self, name: &str, stream: Stream) -> Result<u64> {
        self.0.line_count(name, stream)
    }
    fn last_line(&self, name: &str, stream: Stream) -> Result<Option<String>> {
        self.0.last_line(name, stream)
    }
    fn lines_from(&self, name: &str, stream: Stream, from: u64) -> Result<Vec<String>> {
        self.0.lines_from(name, stream, from)
    }
    fn commit(&self, name: &str, commit: &Commit) -> Result<()> {
        self.0.commit(name, commit)
    }
    fn names(&self) -> Result<Vec<String>> {
        self.0.names()
    }
    fn location(&self) -> String {
        self.0.location()
    }
}
