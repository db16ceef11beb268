//! The dkm host layer (std): what every surface shares. One named verb per thing a user does
//! ([`Host`]: create, govern, maintain, seal, unseal, request, approve, grant, audit, export
//! and import), plain views with one JSON form each ([`views`]), the [`Store`] with its three
//! streams per ring and the embedded [`FileStore`], the pin book, the clock, OS randomness,
//! bounded input reading ([`input`]) and identity files ([`files`]). All logic about keys,
//! approvals and audit lives in `dkm-core`; this crate reads and writes, retries lost races,
//! keeps pins, and normalises arguments, so a surface (the `dkm` command, a binding) only
//! converts its language's values and calls one verb.

mod access;
mod audit;
mod cache;
pub mod error;
#[cfg(feature = "etcd")]
pub mod etcd;
#[cfg(all(feature = "file-store", unix))]
mod file_store;
#[cfg(all(feature = "file-store", unix))]
pub mod files;
pub mod foreign;
mod govern;
pub mod input;
pub mod memory;
pub mod pins;
mod seal;
pub mod snapshot;
pub mod store;
pub mod text;
pub mod views;
pub mod write_set;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chacha20::ChaCha20Rng;
use dkm_core::access::RequestLog;
use dkm_core::audit::{FLAG_CLOCK_OVERRIDE, records_for};
#[cfg(feature = "system-rng")]
use dkm_core::rand_core::Rng;
use dkm_core::rand_core::SeedableRng;
use dkm_core::ring::{Anchor, SignedGovernance};
use dkm_core::{ErrorKind, Event, Identity, Pin, Ring, RingId};

pub use access::access_scope;
pub use error::{HostError, Result};
#[cfg(feature = "etcd")]
pub use etcd::{EtcdOptions, EtcdStore};
#[cfg(all(feature = "file-store", unix))]
pub use file_store::FileStore;
#[cfg(all(feature = "file-store", unix))]
pub use files::PinBook;
pub use foreign::{Commit, ForeignAdapter, ForeignStore, RingWrite, Stream};
pub use govern::{ChangeOutcome, LevelSpec, approver_list, describe_change};
pub use memory::MemoryStore;
pub use pins::{MemoryPins, PinStore};
pub use seal::{Origin, SealOnly, Unsealed, load_public};
pub use store::{ChangeFeed, SharedStore, Store};
pub use views::{AuditReport, IssuedGrant, RequestView, RingInfo, ToJson};
pub use write_set::{Pending, RingData, Snapshot, SnapshotHost};

/// The clock, read at each operation: the system's; a fixed time (tests, demos: audit records
/// carry the clock-override flag); or a function a binding supplies (JS `Date.now()`, a test's
/// advancing clock; not flagged).
#[derive(Clone)]
pub struct Clock {
    source: ClockSource,
}

#[derive(Clone)]
enum ClockSource {
    System,
    Fixed(u64),
    Function(Arc<dyn Fn() -> Result<u64> + Send + Sync>),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            ClockSource::System => f.write_str("Clock::system()"),
            ClockSource::Fixed(t) => write!(f, "Clock::fixed({t})"),
            ClockSource::Function(_) => f.write_str("Clock::from_fn(..)"),
        }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock {
            source: ClockSource::System,
        }
    }

    /// A fixed time (an override: audit records say so).
    pub fn fixed(now: u64) -> Clock {
        Clock {
            source: ClockSource::Fixed(now),
        }
    }

    /// A time source the caller supplies (Unix seconds), read at each operation.
    pub fn from_fn(now: impl Fn() -> u64 + Send + Sync + 'static) -> Clock {
        Clock::try_from_fn(move || Ok(now()))
    }

    /// A time source that may fail (a C callback reporting an error, a time the caller must
    /// have set for the call): its error fails the operation before it loads a ring (so no
    /// pin is saved) or writes anything.
    pub fn try_from_fn(now: impl Fn() -> Result<u64> + Send + Sync + 'static) -> Clock {
        Clock {
            source: ClockSource::Function(Arc::new(now)),
        }
    }

    /// The time now, in Unix seconds.
    pub fn now(&self) -> Result<u64> {
        match &self.source {
            ClockSource::System => Ok(std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| {
                    HostError::new(ErrorKind::OutOfRange, "the system clock is before 1970")
                })?
                .as_secs()),
            ClockSource::Fixed(t) => Ok(*t),
            ClockSource::Function(f) => f(),
        }
    }

    /// The audit flags of a state change made under this clock.
    pub fn flags(&self) -> u8 {
        match self.source {
            ClockSource::Fixed(_) => FLAG_CLOCK_OVERRIDE,
            ClockSource::System | ClockSource::Function(_) => 0,
        }
    }
}

/// A ring loaded and verified through its pin.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The ring.
    pub ring: Ring,
    /// Its store version.
    pub version: u64,
    /// The pin it was verified through.
    pub pin: Pin,
}

/// A load that failed, with the store version it read.
struct LoadError {
    error: HostError,
    version: u64,
}

impl LoadError {
    fn kind(&self) -> ErrorKind {
        self.error.kind()
    }
}

impl From<HostError> for LoadError {
    fn from(error: HostError) -> LoadError {
        LoadError { error, version: 0 }
    }
}

/// How many times a lost compare-and-swap is retried.
const RETRIES: u32 = 64;

/// Where a host's randomness comes from: fills a buffer with bytes from a cryptographically
/// secure source (the OS's by default; `crypto.getRandomValues` in a browser).
pub type Entropy = Box<dyn FnMut(&mut [u8]) + Send>;

/// How a host waits between retries of a lost race (`std::thread::sleep` by default; a
/// binding without threads passes its own, or none).
pub type Pause = Box<dyn Fn(Duration) + Send + Sync>;

/// The operations of a host on one store: every verb a surface calls. `Send + Sync`: one host
/// serves many threads.
pub struct Host<S: Store> {
    store: S,
    pins: Box<dyn PinStore>,
    clock: Clock,
    entropy: Mutex<Entropy>,
    pause: Pause,
    explicit_pin: Option<Pin>,
    cache: cache::RingCache,
    retries: u32,
}

/// See [`Host::draw`].
pub(crate) struct Draw<'a>(&'a Mutex<Entropy>);

impl dkm_core::rand_core::TryRng for Draw<'_> {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> std::result::Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> std::result::Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> std::result::Result<(), Self::Error> {
        // As in `Host::entropy`: a panic while drawing leaves nothing half-updated.
        (self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))(dst);
        Ok(())
    }
}

impl dkm_core::rand_core::TryCryptoRng for Draw<'_> {}

pub(crate) fn ring_id_of(blob: &[u8]) -> Result<RingId> {
    if blob.get(..4) != Some(dkm_core::ring::RING_MAGIC.as_slice()) {
        return Err(HostError::new(
            ErrorKind::Malformed,
            "not a dkm ring (bad magic)",
        ));
    }
    blob.get(5..21)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(RingId)
        .ok_or_else(|| HostError::new(ErrorKind::Malformed, "the ring is truncated"))
}

/// The signer of the oldest governance record a blob carries (trusted on first use).
pub(crate) fn first_signer(blob: &[u8]) -> Result<dkm_core::PublicIdentity> {
    let bad = || HostError::new(ErrorKind::Malformed, "the ring is truncated");
    let n = blob.get(21).copied().ok_or_else(bad)?;
    if n == 0 {
        return Err(HostError::new(
            ErrorKind::Malformed,
            "a ring carries at least one governance record",
        ));
    }
    let len = blob
        .get(22..26)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or_else(bad)?;
    let len = usize::try_from(len).map_err(|_| bad())?;
    let rec = blob.get(26..26usize.saturating_add(len)).ok_or_else(bad)?;
    Ok(SignedGovernance::parse(rec)?.signer().clone())
}

impl<S: Store> Host<S> {
    /// A host on `store` keeping pins in `pins`, with `clock` and the operating system's
    /// randomness (the `system-rng` feature).
    #[cfg(feature = "system-rng")]
    pub fn new(store: S, pins: impl PinStore + 'static, clock: Clock) -> Result<Host<S>> {
        let mut rng = dkm_core::rng::SystemRng::new()?;
        Ok(Host::with_entropy(
            store,
            pins,
            clock,
            Box::new(move |buf: &mut [u8]| rng.fill_bytes(buf)),
        ))
    }

    /// A host whose randomness comes from `entropy` (a binding's secure source), for targets
    /// without the operating system's (`wasm32-unknown-unknown`).
    pub fn with_entropy(
        store: S,
        pins: impl PinStore + 'static,
        clock: Clock,
        entropy: Entropy,
    ) -> Host<S> {
        Host {
            store,
            pins: Box::new(pins),
            clock,
            entropy: Mutex::new(entropy),
            pause: Box::new(std::thread::sleep),
            explicit_pin: None,
            cache: cache::RingCache::default(),
            retries: RETRIES,
        }
    }

    /// Waits between retries with `pause` instead of `std::thread::sleep`.
    pub fn with_pause(mut self, pause: Pause) -> Host<S> {
        self.pause = pause;
        self
    }

    /// Makes no retries: a lost race is returned as `Conflict` at once (a driver of
    /// asynchronous storage retries from a fresh snapshot itself).
    pub fn without_retries(mut self) -> Host<S> {
        self.retries = 1;
        self
    }

    /// A new identity from the host's randomness.
    pub fn generate_identity(&self) -> Identity {
        Identity::generate(&mut self.op_rng())
    }

    /// Verifies every ring through `pin` instead of the pin book's.
    pub fn with_pin(mut self, pin: Pin) -> Host<S> {
        self.explicit_pin = Some(pin);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The time now, read from the clock (each call reads it again).
    pub fn now(&self) -> Result<u64> {
        self.clock.now()
    }

    /// A random generator for one operation, seeded from the host's: the shared one is
    /// locked only to draw the seed, never across a store call or an AEAD.
    pub(crate) fn op_rng(&self) -> ChaCha20Rng {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        (self.entropy())(&mut *seed);
        ChaCha20Rng::from_seed(*seed)
    }

    /// The host's entropy as a generator for one small draw (a seal's nonce): the shared
    /// source is locked for each fill only, never across the AEAD. Cheaper than
    /// [`Host::op_rng`] when an operation draws a few bytes once (no second generator to
    /// key and wipe).
    pub(crate) fn draw(&self) -> Draw<'_> {
        Draw(&self.entropy)
    }

    fn entropy(&self) -> MutexGuard<'_, Entropy> {
        // A panic while drawing cannot leave the source half-updated in a way that matters
        // (it only moves forward): take it back.
        self.entropy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn flags(&self) -> u8 {
        self.clock.flags()
    }

    pub(crate) fn retry<T>(&self, mut f: impl FnMut() -> Result<T>) -> Result<T> {
        let mut last = None;
        for attempt in 0..self.retries {
            match f() {
                Err(e) if e.kind() == ErrorKind::Conflict && attempt + 1 < self.retries => {
                    last = Some(e);
                    let mut b = [0u8; 1];
                    (self.entropy())(&mut b);
                    let jitter = u64::from(b[0] % 20);
                    (self.pause)(Duration::from_millis(2 + jitter));
                }
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| HostError::new(ErrorKind::Conflict, "too many lost races")))
    }

    /// Loads `name` and verifies it through the explicit pin, the pin book's pin, or on first
    /// use the signer of its oldest governance record; saves the new pin.
    pub fn load(&self, name: &str) -> Result<Loaded> {
        // A writer may commit and save a newer pin between our read of the ring and of the
        // pin: the older ring then looks like a rollback. Read again while the store moves.
        let mut attempt = 0;
        loop {
            match self.load_once(name) {
                Err(e) if e.kind() == ErrorKind::Rollback && attempt < RETRIES => {
                    attempt += 1;
                    let now_version = self.store.load(name)?.map(|(_, v)| v);
                    if now_version == Some(e.version) {
                        return Err(e.error);
                    }
                }
                Err(e) => return Err(e.error),
                Ok(l) => return Ok(l),
            }
        }
    }

    fn load_once(&self, name: &str) -> std::result::Result<Loaded, LoadError> {
        let (blob, version) = self.store.load(name)?.ok_or_else(|| {
            HostError::new(
                ErrorKind::InvalidInput,
                format!("no ring named {name:?} in the store"),
            )
        })?;
        self.verify_blob(name, &blob, version)
            .map_err(|error| LoadError { error, version })
    }

    fn verify_blob(&self, name: &str, blob: &[u8], version: u64) -> Result<Loaded> {
        let id = ring_id_of(blob)?;
        let pin = match &self.explicit_pin {
            Some(p) => p.clone(),
            None => match self.pins.get(id)? {
                Some(p) => p,
                None => Pin::new(id, vec![first_signer(blob)?]),
            },
        };
        let ring = Ring::load(blob, &pin)?;
        // The name the ring is signed with is the name it is stored under: a ring copied or
        // moved under another name is not accepted, on first use either (and leaves no
        // record in the pin book that would later refuse the real ring of that name).
        let signed = &ring.governance().name;
        if signed != name {
            return Err(HostError::new(
                ErrorKind::Tampered,
                format!(
                    "the ring stored under the name {name:?} is signed with the name {signed:?}: a ring copied or moved under another name is refused (a rename moves the ring in the same write; if one was interrupted, any command on the old name finishes it)"
                ),
            ));
        }
        if self.explicit_pin.is_none() {
            self.pins.check_name(&self.store.location(), name, id)?;
        }
        self.pins.save(&ring.pin())?;
        Ok(Loaded { ring, version, pin })
    }

    /// The ring's request log, checked against the key state's anchor.
    pub fn log(&self, name: &str, ring: &Ring) -> Result<RequestLog> {
        let frames = self.store.read_requests(name)?;
        let anchor = ring
            .key_state()
            .map_or(Anchor::EMPTY, |k| k.key_state().requests);
        Ok(RequestLog::load(
            ring.id(),
            frames.iter().map(Vec::as_slice),
            anchor,
        )?)
    }

    /// The audit head of `name`, the chain checked from the anchor of the ring as loaded
    /// (`l`, before any write of this operation).
    pub(crate) fn audit_head(&self, name: &str, l: &Loaded) -> Result<Anchor> {
        audit::checked_audit_head(&self.store, name, audit::audit_anchor(&l.ring), l.version)
    }

    /// Writes `ring` over the loaded `version` with the audit records of `events` (dated
    /// `now`, the operation's time), at the audit head `checked` (from [`Host::audit_head`] on the ring as loaded). A ring whose
    /// signed name changed moves to it in the same write.
    pub(crate) fn commit(
        &self,
        name: &str,
        (pin, version): (&Pin, u64),
        (checked, now): (Anchor, u64),
        ring: &Ring,
        events: &[Event],
        actor: &Identity,
    ) -> Result<()> {
        let (flags, id) = (self.flags(), ring.id());
        // Verified through the pin the ring was loaded with, like any load, before it is
        // written; the pin book keeps the newest pin (saves only move forward).
        let verified = Ring::load(&ring.to_bytes(), pin)?;
        let bytes = ring.to_bytes();
        let build = |head| {
            audit::at_checked_head(checked, head, |head| {
                records_for(id, events, actor, now, flags, head)
            })
        };
        let new_name = &ring.governance().name;
        if new_name == name {
            self.store
                .compare_and_swap(name, Some(version), &bytes, &build)?;
        } else {
            store::check_ring_name(new_name)?;
            self.store
                .compare_and_swap_moving(name, new_name, version, &bytes, &build)?;
            self.pins.forget_name(&self.store.location(), name, id)?;
        }
        self.pins.save(&verified.pin())
    }
}
