//! The dkm host layer (std): a [`Store`] with its three streams per ring, the embedded
//! [`FileStore`], the pin book, the system clock and OS randomness, and the operations every
//! binding and the `dkm` command share. All logic about keys, approvals and audit lives in
//! `dkm-core`; this crate reads and writes, retries lost races, and keeps pins.

pub mod error;
pub mod files;
pub mod input;
pub mod store;

use std::cell::RefCell;
use std::time::Duration;

use dkm_core::access::{RequestLog, RequestStatus, Scope, SignedGrant, SignedRequest, Verdict};
use dkm_core::audit::{
    AuditRecord, AuditSink, FLAG_CLOCK_OVERRIDE, audit_verify, audit_verify_tail, decision_record,
    records_for, request_record,
};
use dkm_core::rand_core::Rng;
use dkm_core::ring::{Anchor, Governance, SignedGovernance};
use dkm_core::rng::SystemRng;
use dkm_core::sealed::Suite;
use dkm_core::{
    ErrorKind, Event, GrantId, GrantSession, Identity, KeyHolder, Pin, Policy, Ring, RingId,
    RingPublic, SealedSecret,
};
use zeroize::Zeroizing;

pub use error::{HostError, Result};
pub use files::PinBook;
pub use store::{FileStore, Store};

/// The clock: the system's, or an override (tests, demos) that audit records flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Unix seconds.
    pub now: u64,
    /// Set by an override: audit records carry [`FLAG_CLOCK_OVERRIDE`].
    pub overridden: bool,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Result<Clock> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| HostError::new(ErrorKind::OutOfRange, "the system clock is before 1970"))?
            .as_secs();
        Ok(Clock {
            now,
            overridden: false,
        })
    }

    /// An overridden clock.
    pub fn fixed(now: u64) -> Clock {
        Clock {
            now,
            overridden: true,
        }
    }

    /// The audit flags of a state change made under this clock.
    pub fn flags(&self) -> u8 {
        if self.overridden {
            FLAG_CLOCK_OVERRIDE
        } else {
            0
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

/// What a governance change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Signed and stored: the new governance version.
    Applied {
        /// Version.
        version: u64,
        /// Key holders must still run `maintain` (always true after a change).
        pending: bool,
    },
    /// It needs the approval policy's quorum: logged as a request.
    Requested {
        /// The request's hash (its id).
        request: [u8; 32],
    },
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

/// The operations of a host on one store.
pub struct Host<S: Store> {
    store: S,
    pins: PinBook,
    clock: Clock,
    rng: RefCell<SystemRng>,
    explicit_pin: Option<Pin>,
}

fn ring_id_of(blob: &[u8]) -> Result<RingId> {
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
fn first_signer(blob: &[u8]) -> Result<dkm_core::PublicIdentity> {
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

fn hex32(text: &str, what: &str) -> Result<[u8; 32]> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            HostError::new(
                ErrorKind::InvalidInput,
                format!("that is not a {what} (64 hex digits)"),
            )
        })
}

/// Parses a request id as printed (64 hex digits).
pub fn parse_request_id(text: &str) -> Result<[u8; 32]> {
    hex32(text, "request id")
}

/// Parses a grant id as printed (32 hex digits).
pub fn parse_grant_id(text: &str) -> Result<GrantId> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(GrantId)
        .ok_or_else(|| {
            HostError::new(
                ErrorKind::InvalidInput,
                "that is not a grant id (32 hex digits) or a grant file",
            )
        })
}

/// The audit head of ring `name` as stored, after checking that the chain still holds the
/// record the ring's key state anchors and continues from it: the records from the anchor on
/// parse (so their signatures verify), belong to the ring, follow one another and link, and
/// the anchored one is unchanged. The records before the anchor are not read again (a full
/// check is `audit verify`). A cut, edited or replaced chain is `Tampered`: no audited write
/// goes onto it and no plaintext is released under it.
fn checked_audit_head<S: Store>(
    store: &S,
    name: &str,
    (id, anchor): (RingId, Anchor),
) -> Result<Anchor> {
    let lines = store.read_audit(name)?;
    let skip = usize::try_from(anchor.seq.saturating_sub(1)).unwrap_or(usize::MAX);
    let cut = |index: usize, what: &str| {
        HostError::new(
            ErrorKind::Tampered,
            format!(
                "the audit chain does not continue from the record the ring anchors (audit record {index}: {what}): it was cut, edited or replaced, so nothing is written to it or released under it; `audit verify` shows the first bad record"
            ),
        )
    };
    let mut tail = Vec::new();
    for (i, line) in lines.get(skip..).unwrap_or_default().iter().enumerate() {
        let rec = AuditRecord::from_json(line).map_err(|e| {
            cut(
                skip.saturating_add(i),
                if e.kind() == ErrorKind::Tampered {
                    "edited record (JSON fields or signature)"
                } else {
                    "malformed record"
                },
            )
        })?;
        tail.push(rec);
    }
    audit_verify_tail(id, anchor, &tail)
        .map_err(|p| cut(skip.saturating_add(p.index), p.fault.name()))
}

/// A ring's id and the audit head its key state anchors (none yet: the chain's start).
fn audit_anchor(ring: &Ring) -> (RingId, Anchor) {
    let anchor = ring
        .key_state()
        .map_or(Anchor::EMPTY, |k| k.key_state().audit);
    (ring.id(), anchor)
}

/// The audit builder of a write: the records `build` makes, if the store's head is still
/// `checked` (the head [`checked_audit_head`] verified); else a `Conflict`, so the write is
/// retried with the chain read and checked again.
fn at_checked_head(
    checked: Anchor,
    head: Anchor,
    build: impl FnOnce(Anchor) -> dkm_core::Result<Vec<AuditRecord>>,
) -> dkm_core::Result<Vec<AuditRecord>> {
    if head != checked {
        return Err(dkm_core::Error::new(
            ErrorKind::Conflict,
            "the audit chain moved while it was being checked: retry",
        ));
    }
    build(head)
}

/// The audit sink of an elevated session: the store's audit stream, checked from the ring's
/// anchor on before the first record.
struct StoreSink<'a, S: Store> {
    store: &'a S,
    name: &'a str,
    /// The ring's id and the audit anchor of its key state.
    anchored: (RingId, Anchor),
    /// The host's own error behind the last failed `head` (the core's errors carry fixed
    /// messages only), handed back to the caller.
    error: Option<HostError>,
}

impl<S: Store> AuditSink for StoreSink<'_, S> {
    fn head(&mut self) -> dkm_core::Result<Anchor> {
        checked_audit_head(self.store, self.name, self.anchored).map_err(|e| {
            let core = match e.kind() {
                ErrorKind::Tampered => dkm_core::Error::new(
                    ErrorKind::Tampered,
                    "the audit chain does not continue from the record the ring anchors: no plaintext without audit",
                ),
                _ => dkm_core::Error::new(
                    ErrorKind::StoreUnavailable,
                    "the audit chain cannot be read",
                ),
            };
            self.error = Some(e);
            core
        })
    }

    fn append(&mut self, record: &AuditRecord) -> dkm_core::Result<()> {
        let expected = Anchor {
            seq: record.seq.saturating_sub(1),
            hash: record.prev,
        };
        self.store
            .append_audit(self.name, expected, std::slice::from_ref(record))
            .map_err(|e| {
                if e.kind() == ErrorKind::Conflict {
                    dkm_core::Error::new(ErrorKind::Conflict, "the audit chain moved")
                } else {
                    dkm_core::Error::new(
                        ErrorKind::StoreUnavailable,
                        "the audit record could not be written: no plaintext without audit",
                    )
                }
            })
    }
}

/// A logged request, where it stands, and for a governance change what it changes.
#[derive(Clone, Debug)]
pub struct RequestView {
    /// The request.
    pub request: SignedRequest,
    /// Where it stands.
    pub status: RequestStatus,
    /// For a governance change: what it does, in words (members with roles, policy,
    /// instructions), so approvers see what they approve.
    pub change: Option<String>,
}

/// What a governance version changes from `base`, in words.
pub fn describe_change(base: &Governance, next: &Governance) -> String {
    use dkm_core::ring::Change;
    let c = Change::between(base, next);
    let mut parts = Vec::new();
    for m in &next.members {
        if base.role_of(&m.identity) != Some(m.role) {
            parts.push(format!("adds {} {}", m.role.name(), m.identity.to_text()));
        }
    }
    for m in &base.members {
        if next.role_of(&m.identity) != Some(m.role) {
            parts.push(format!("removes {} {}", m.role.name(), m.identity.id()));
        }
    }
    if c.policy_changed {
        let levels: Vec<String> = next
            .policy
            .levels
            .iter()
            .map(|l| {
                format!(
                    "{}: {} of [{}]",
                    l.name,
                    l.quorum,
                    l.approvers
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        parts.push(format!(
            "sets the policy (interval {} s, max grant {} s, max lookback {} s, levels {})",
            next.policy.interval_secs,
            next.policy.max_grant_secs,
            next.policy.max_lookback_secs,
            levels.join("; ")
        ));
    }
    if !c.revoked_epochs.is_empty() {
        parts.push(format!("revokes epochs {:?}", c.revoked_epochs));
    }
    if c.shredding {
        parts.push(format!(
            "shreds every interval ending before {}",
            files::format_time(next.shred_before)
        ));
    }
    if c.write_time_reset {
        parts.push(format!(
            "resets the write time to {}",
            files::format_time(next.write_time_reset.to)
        ));
    }
    for g in &c.revoked_grants {
        parts.push(format!("revokes grant {}", hex::encode(g)));
    }
    if c.renamed {
        parts.push(format!("renames the ring to {:?}", next.name));
    }
    if parts.is_empty() {
        "changes nothing".to_owned()
    } else {
        parts.join("; ")
    }
}

/// The first problem of an audit chain as stored, by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Records read.
    pub records: usize,
    /// The head, when the chain verifies.
    pub head: Option<Anchor>,
    /// The first problem: index and reason.
    pub problem: Option<(usize, String)>,
}

impl<S: Store> Host<S> {
    /// A host on `store` keeping pins in `pins`, with `clock`.
    pub fn new(store: S, pins: PinBook, clock: Clock) -> Result<Host<S>> {
        Ok(Host {
            store,
            pins,
            clock,
            rng: RefCell::new(SystemRng::new()?),
            explicit_pin: None,
        })
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
    pub fn clock(&self) -> Clock {
        self.clock
    }

    fn now(&self) -> u64 {
        self.clock.now
    }

    fn flags(&self) -> u8 {
        self.clock.flags()
    }

    fn retry<T>(&self, mut f: impl FnMut() -> Result<T>) -> Result<T> {
        let mut last = None;
        for attempt in 0..RETRIES {
            match f() {
                Err(e) if e.kind() == ErrorKind::Conflict && attempt + 1 < RETRIES => {
                    last = Some(e);
                    let mut b = [0u8; 1];
                    self.rng.borrow_mut().fill_bytes(&mut b);
                    let jitter = u64::from(b[0] % 20);
                    std::thread::sleep(Duration::from_millis(2 + jitter));
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

    /// The audit head of `name`, the chain checked from `ring`'s anchor on (the ring as
    /// loaded from the store, before any write of this operation).
    fn audit_head(&self, name: &str, ring: &Ring) -> Result<Anchor> {
        checked_audit_head(&self.store, name, audit_anchor(ring))
    }

    /// Writes `ring` over the loaded `version` with the audit records of `events`, at the
    /// audit head `checked` (from [`Host::audit_head`] on the ring as loaded). A ring whose
    /// signed name changed moves to it in the same write.
    fn commit(
        &self,
        name: &str,
        (pin, version): (&Pin, u64),
        checked: Anchor,
        ring: &Ring,
        events: &[Event],
        actor: &Identity,
    ) -> Result<()> {
        let (now, flags, id) = (self.now(), self.flags(), ring.id());
        // Verified through the pin the ring was loaded with, like any load, before it is
        // written; the pin book keeps the newest pin (saves only move forward).
        let verified = Ring::load(&ring.to_bytes(), pin)?;
        let bytes = ring.to_bytes();
        let build = |head| {
            at_checked_head(checked, head, |head| {
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
        }
        self.pins.save(&verified.pin())
    }

    /// Creates ring `name` with `admin` as its only admin.
    pub fn create_ring(&self, name: &str, admin: &Identity, policy: Policy) -> Result<RingId> {
        store::check_ring_name(name)?;
        if self.store.load(name)?.is_some() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("a ring named {name:?} already exists in the store"),
            ));
        }
        let (ring, events) = Ring::create(name, policy, admin, &[], &mut *self.rng.borrow_mut())?;
        self.pins
            .check_name(&self.store.location(), name, ring.id())
            .map_err(|_| {
                HostError::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "this host pinned another ring under the name {name:?} in this store: pick another name (or remove its record from the pin book's names directory)"
                    ),
                )
            })?;
        if !self.store.read_audit(name)?.is_empty() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!(
                    "the store holds an audit chain under the name {name:?} but no ring: a new ring does not continue another's chain (remove what is left of the old ring first)"
                ),
            ));
        }
        let (now, flags, id) = (self.now(), self.flags(), ring.id());
        self.store
            .compare_and_swap(name, None, &ring.to_bytes(), &|head| {
                at_checked_head(Anchor::EMPTY, head, |head| {
                    records_for(id, &events, admin, now, flags, head)
                })
            })
            .map_err(|e| {
                if e.kind() == ErrorKind::Conflict {
                    HostError::new(
                        ErrorKind::InvalidInput,
                        format!("a ring named {name:?} already exists in the store"),
                    )
                } else {
                    e
                }
            })?;
        self.pins.save(&ring.pin())?;
        Ok(id)
    }

    /// Changes the governance as `admin`: applied at once when it needs no quorum, else
    /// logged as a change request for approvers.
    pub fn govern(
        &self,
        name: &str,
        admin: &Identity,
        reason: &str,
        edit: impl Fn(&mut Governance) -> Result<()>,
    ) -> Result<ChangeOutcome> {
        self.retry(|| {
            let l = self.load(name)?;
            let mut draft = l.ring.draft();
            edit(&mut draft)?;
            if l.ring.needs_quorum(&draft) {
                let (req, content) = SignedRequest::governance_change(
                    &l.ring,
                    &draft,
                    admin,
                    reason,
                    self.now(),
                    &mut *self.rng.borrow_mut(),
                )?;
                let hash = req.hash();
                self.log_request(name, &l.ring, req, Some(content), admin)?;
                return Ok(ChangeOutcome::Requested { request: hash });
            }
            let log = self.log(name, &l.ring)?;
            let head = self.audit_head(name, &l.ring)?;
            let mut ring = l.ring;
            let (_, events) =
                ring.apply_governance(draft, admin, &log.quorum_check(self.now()), self.now())?;
            self.commit(name, (&l.pin, l.version), head, &ring, &events, admin)?;
            Ok(ChangeOutcome::Applied {
                version: ring.governance().version,
                pending: ring.is_pending(),
            })
        })
    }

    /// Renames ring `name` to `new_name` as `admin` (a governance change that needs no
    /// quorum): the store moves the ring, its audit chain and its request log to the new name
    /// in the same write. The new name must be free in the store.
    pub fn rename_ring(
        &self,
        name: &str,
        new_name: &str,
        admin: &Identity,
    ) -> Result<ChangeOutcome> {
        store::check_ring_name(new_name)?;
        if new_name == name {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("the ring is already named {name:?}"),
            ));
        }
        if self.store.load(new_name)?.is_some() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("a ring named {new_name:?} already exists in the store"),
            ));
        }
        self.govern(name, admin, "rename the ring", |d| {
            d.name = new_name.to_owned();
            Ok(())
        })
    }

    fn log_request(
        &self,
        name: &str,
        ring: &Ring,
        req: SignedRequest,
        content: Option<Vec<u8>>,
        author: &Identity,
    ) -> Result<()> {
        let log = self.log(name, ring)?;
        let checked = self.audit_head(name, ring)?;
        let (action, detail) = request_record(&req);
        let entry = log.log_request(ring, req, content, self.now())?;
        let (now, flags, id) = (self.now(), self.flags(), ring.id());
        self.store.append_request(name, &entry, &|head| {
            at_checked_head(checked, head, |head| {
                Ok(vec![AuditRecord::sign(
                    id, head, now, flags, action, detail, author,
                )?])
            })
        })
    }

    /// Signs the approved change request `request` with its approvals, as `admin`.
    pub fn apply(&self, name: &str, request: &[u8; 32], admin: &Identity) -> Result<u64> {
        self.retry(|| {
            let l = self.load(name)?;
            let log = self.log(name, &l.ring)?;
            let (_, content) = log.request(request).ok_or_else(|| {
                HostError::new(
                    ErrorKind::InvalidInput,
                    "no such request in the ring's request log",
                )
            })?;
            let content = content.ok_or_else(|| {
                HostError::new(
                    ErrorKind::InvalidInput,
                    "that request is not a governance change with its content: nothing to apply",
                )
            })?;
            let mut draft = Governance::from_content_bytes(content)?;
            draft.approval = Some(log.approval_ref(request)?);
            let head = self.audit_head(name, &l.ring)?;
            let mut ring = l.ring;
            let (_, events) = ring
                .apply_governance(draft, admin, &log.quorum_check(self.now()), self.now())
                .map_err(|e| {
                    if e.kind() == ErrorKind::Conflict {
                        HostError::new(
                            ErrorKind::InvalidInput,
                            "the ring changed since this change was requested: request it again",
                        )
                    } else {
                        e.into()
                    }
                })?;
            self.commit(name, (&l.pin, l.version), head, &ring, &events, admin)?;
            Ok(ring.governance().version)
        })
    }

    /// Runs `maintain` (or `roll_epoch`) as the key holder `holder`; returns what it did
    /// (empty when nothing needed writing).
    pub fn maintain(&self, name: &str, holder: &Identity, roll: bool) -> Result<Vec<Event>> {
        self.retry(|| {
            let l = self.load(name)?;
            let head = self.audit_head(name, &l.ring)?;
            let log = self.log(name, &l.ring)?;
            let now = self.now();
            l.ring.recheck_since(0, &log.quorum_check(now))?;
            let mut kh = KeyHolder::open(l.ring, holder)?;
            let quorum = log.quorum_check(now);
            let anchors = (head, log.head());
            let mut rng = self.rng.borrow_mut();
            let m = if roll {
                kh.roll_epoch(holder, now, &mut *rng, &quorum, anchors)?
            } else {
                kh.maintain(holder, now, &mut *rng, &quorum, anchors)?
            };
            drop(rng);
            if m.written {
                self.commit(
                    name,
                    (&l.pin, l.version),
                    head,
                    kh.ring(),
                    &m.events,
                    holder,
                )?;
            }
            Ok(m.events)
        })
    }

    /// Seals as the key holder `holder`, running `maintain` first when the ring needs it.
    /// Asks the request log again about every governance change the ring carries (an
    /// approved change denied in the log before it was signed is refused).
    pub fn seal(
        &self,
        name: &str,
        holder: &Identity,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>> {
        self.retry(|| {
            let mut l = self.load(name)?;
            if KeyHolder::open(l.ring.clone(), holder)?.needs_maintain(self.now()) {
                self.maintain(name, holder, false)?;
                l = self.load(name)?;
                if KeyHolder::open(l.ring.clone(), holder)?.needs_maintain(self.now()) {
                    // Another writer changed the governance meanwhile: go round again.
                    return Err(HostError::new(
                        ErrorKind::Conflict,
                        "the ring changed while it was being maintained: retry",
                    ));
                }
            }
            let log = self.log(name, &l.ring)?;
            // Every change the ring carries, asked of the log again (at most 32 records): a
            // key state written meanwhile may carry out a change denied in the log.
            l.ring.recheck_since(0, &log.quorum_check(self.now()))?;
            let mut kh = KeyHolder::open(l.ring, holder)?;
            Ok(kh.seal(self.now(), plaintext, context, &mut *self.rng.borrow_mut())?)
        })
    }

    /// Opens a secret (either suite) as the key holder `holder`.
    pub fn unseal(
        &self,
        name: &str,
        holder: &Identity,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let l = self.load(name)?;
        let mut kh = KeyHolder::open(l.ring, holder)?;
        let bytes = dkm_core::decode_any(sealed)?;
        match SealedSecret::parse(&bytes)?.suite() {
            Suite::HpkeX25519Xaes256GcmCommit => Ok(kh.unseal_seal_only(&bytes, context)?),
            Suite::Xaes256GcmCommit => Ok(kh.unseal(&bytes, context)?),
        }
    }

    /// Opens a secret through grant `grant` as its requester, the audit record written to
    /// the store first.
    pub fn unseal_with_grant(
        &self,
        name: &str,
        requester: &Identity,
        grant: GrantId,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let l = self.load(name)?;
        let anchored = audit_anchor(&l.ring);
        let mut s = GrantSession::open(l.ring, requester, grant)?;
        let bytes = dkm_core::decode_any(sealed)?;
        let mut sink = StoreSink {
            store: &self.store,
            name,
            anchored,
            error: None,
        };
        let (now, flags) = (self.now(), self.flags());
        let opened = match SealedSecret::parse(&bytes)?.suite() {
            Suite::HpkeX25519Xaes256GcmCommit => {
                s.unseal_seal_only(requester, &bytes, context, now, flags, &mut sink)
            }
            Suite::Xaes256GcmCommit => s.unseal(requester, &bytes, context, now, flags, &mut sink),
        };
        opened.map_err(|e| sink.error.take().unwrap_or_else(|| e.into()))
    }

    /// What a seal-only party needs: the pin and the ring blob.
    pub fn export_public(&self, name: &str) -> Result<Vec<u8>> {
        let l = self.load(name)?;
        Ok(files::public_file(&l.ring.pin(), &l.ring.to_bytes()))
    }

    /// Logs an access request by `requester`; returns its id.
    pub fn request_access(
        &self,
        name: &str,
        requester: &Identity,
        reason: &str,
        duration_secs: u64,
        scope: Option<Scope>,
    ) -> Result<[u8; 32]> {
        self.retry(|| {
            let l = self.load(name)?;
            let req = SignedRequest::access(
                &l.ring,
                requester,
                reason,
                duration_secs,
                scope.clone(),
                self.now(),
                &mut *self.rng.borrow_mut(),
            )?;
            let hash = req.hash();
            self.log_request(name, &l.ring, req, None, requester)?;
            Ok(hash)
        })
    }

    /// Every logged request and where it stands.
    pub fn requests(&self, name: &str) -> Result<Vec<RequestView>> {
        let l = self.load(name)?;
        let log = self.log(name, &l.ring)?;
        let mut out = Vec::new();
        for r in log.requests() {
            let status = log.status(&l.ring, &r.hash(), self.now())?;
            let change = match log.request(&r.hash()) {
                Some((_, Some(content))) => match Governance::from_content_bytes(content) {
                    Ok(next) => {
                        let base = l
                            .ring
                            .history()
                            .find(|g| g.version().saturating_add(1) == next.version)
                            .map_or_else(|| l.ring.governance(), |g| g.governance());
                        Some(describe_change(base, &next))
                    }
                    Err(_) => Some("(its content does not parse)".to_owned()),
                },
                _ => None,
            };
            out.push(RequestView {
                request: r.clone(),
                status,
                change,
            });
        }
        Ok(out)
    }

    /// Logs `approver`'s decision on `request` at `level`.
    pub fn decide(
        &self,
        name: &str,
        request: &[u8; 32],
        level: &str,
        verdict: Verdict,
        approver: &Identity,
    ) -> Result<()> {
        self.retry(|| {
            let l = self.load(name)?;
            let log = self.log(name, &l.ring)?;
            let checked = self.audit_head(name, &l.ring)?;
            let entry = log.decide(&l.ring, request, level, verdict, approver, self.now())?;
            let dkm_core::access::LogRecord::Decision(d) = entry.record() else {
                return Err(HostError::new(
                    ErrorKind::Internal,
                    "a decision frame lost its decision",
                ));
            };
            let (action, detail) = decision_record(d);
            let (now, flags, id) = (self.now(), self.flags(), l.ring.id());
            self.store.append_request(name, &entry, &|head| {
                at_checked_head(checked, head, |head| {
                    Ok(vec![AuditRecord::sign(
                        id, head, now, flags, action, detail, approver,
                    )?])
                })
            })
        })
    }

    /// Issues the grant for `request` as the key holder `holder` (running `maintain` with
    /// it); returns the signed grant.
    pub fn grant(&self, name: &str, request: &[u8; 32], holder: &Identity) -> Result<SignedGrant> {
        self.retry(|| {
            let l = self.load(name)?;
            let head = self.audit_head(name, &l.ring)?;
            let log = self.log(name, &l.ring)?;
            l.ring.recheck_since(0, &log.quorum_check(self.now()))?;
            let mut kh = KeyHolder::open(l.ring, holder)?;
            let (m, id) = kh.issue_grant(
                holder,
                self.now(),
                &mut *self.rng.borrow_mut(),
                &log,
                request,
                head,
            )?;
            self.commit(
                name,
                (&l.pin, l.version),
                head,
                kh.ring(),
                &m.events,
                holder,
            )?;
            let ks = kh.ring().key_state().ok_or_else(|| {
                HostError::new(ErrorKind::Internal, "a grant without a key state")
            })?;
            for g in &ks.key_state().grants {
                let g = SignedGrant::parse(g)?;
                if g.grant().id == id {
                    return Ok(g);
                }
            }
            Err(HostError::new(
                ErrorKind::Internal,
                "the issued grant is not in the key state",
            ))
        })
    }

    /// Verifies the stored audit chain against the key state's anchor.
    pub fn audit_verify(&self, name: &str) -> Result<AuditReport> {
        let l = self.load(name)?;
        let lines = self.store.read_audit(name)?;
        let mut bytes = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            match AuditRecord::from_json(line) {
                Ok(r) => bytes.push(r.as_bytes().to_vec()),
                Err(e) => {
                    let reason = match e.kind() {
                        ErrorKind::Tampered => {
                            "edited record (JSON fields or signature)".to_owned()
                        }
                        k => format!("malformed record ({k})"),
                    };
                    return Ok(AuditReport {
                        records: lines.len(),
                        head: None,
                        problem: Some((i, reason)),
                    });
                }
            }
        }
        let anchors: Vec<Anchor> = l
            .ring
            .key_state()
            .map(|k| vec![k.key_state().audit])
            .unwrap_or_default();
        Ok(
            match audit_verify(l.ring.id(), bytes.iter().map(Vec::as_slice), &anchors) {
                Ok(head) => AuditReport {
                    records: lines.len(),
                    head: Some(head),
                    problem: None,
                },
                Err(p) => AuditReport {
                    records: lines.len(),
                    head: None,
                    problem: Some((p.index, p.fault.name().to_owned())),
                },
            },
        )
    }

    /// The stored audit records (each line parsed; a bad line is an error naming it).
    pub fn audit_records(&self, name: &str) -> Result<Vec<AuditRecord>> {
        self.load(name)?;
        self.store
            .read_audit(name)?
            .iter()
            .enumerate()
            .map(|(i, l)| {
                AuditRecord::from_json(l).map_err(|e| {
                    HostError::new(e.kind(), format!("audit record {i}: {}", e.message()))
                })
            })
            .collect()
    }
}

/// Seals to a ring's public part (seal-only: no secret identity).
/// Verified through `pin` when given, else through the pin the file carries (which trusts
/// whoever made the file).
pub fn seal_to(
    public: &[u8],
    pin: Option<&Pin>,
    now: u64,
    plaintext: &[u8],
    context: &[u8],
) -> Result<Vec<u8>> {
    let (carried, blob) = files::parse_public_file(public)?;
    let rp = RingPublic::load(&blob, pin.unwrap_or(&carried))?;
    let mut rng = SystemRng::new()?;
    Ok(rp.seal(now, plaintext, context, &mut rng)?)
}
