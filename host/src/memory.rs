//! The memory store: the reference store of the tests and what a browser or a short-lived
//! process keeps in memory. Every ring's three streams live in one map under one mutex, so
//! each write (a compare-and-swap with its audit records, a request line with its record) is
//! atomic; rings move in and out whole as snapshots ([`crate::Host::export_snapshot`],
//! [`crate::Host::import_snapshot`]).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use dkm_core::ErrorKind;
use dkm_core::access::LogEntry;
use dkm_core::audit::AuditRecord;
use dkm_core::ring::Anchor;

use crate::error::{HostError, Result};
use crate::store::{AuditBuilder, Store, check_ring_name, entry_of_line, request_line};

#[derive(Default)]
struct Streams {
    ring: Vec<u8>,
    version: u64,
    audit: Vec<String>,
    requests: Vec<String>,
    /// The store-wide change count at this ring's last change (ring or request log): its
    /// stamp, never repeated for a name (a ring created again under a name gets a new one).
    changes: u64,
}

/// Rings in memory (see the module doc). Each store has its own random location, so
/// pin-book name records of two memory stores never mix.
pub struct MemoryStore {
    rings: Mutex<BTreeMap<String, Streams>>,
    id: u64,
    /// Changes made to the store so far (under the rings' lock).
    ticks: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryStore({:016x})", self.id)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        use std::hash::{BuildHasher, Hasher};
        // A location no other store shares, in this process or another (std's hasher keys
        // are random per instance).
        let id = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        MemoryStore {
            rings: Mutex::new(BTreeMap::new()),
            id,
            ticks: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The next store-wide change count.
    fn tick(&self) -> u64 {
        self.ticks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .saturating_add(1)
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Streams>> {
        // Every write below checks first and changes last: a panic cannot leave half a write.
        self.rings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn no_ring(ring: &str) -> HostError {
    HostError::new(
        ErrorKind::InvalidInput,
        format!("no ring named {ring:?} in the store"),
    )
}

fn audit_head(lines: &[String]) -> Result<Anchor> {
    match lines.last() {
        None => Ok(Anchor::EMPTY),
        Some(l) => Ok(AuditRecord::from_json(l)?.head()),
    }
}

/// The records `audit` builds at the head of `lines`, as lines (nothing is changed yet).
fn built(lines: &[String], audit: AuditBuilder<'_>) -> Result<Vec<String>> {
    Ok(audit(audit_head(lines)?)?
        .iter()
        .map(AuditRecord::to_json)
        .collect())
}

impl Store for MemoryStore {
    fn load(&self, ring: &str) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(self.map().get(ring).map(|s| (s.ring.clone(), s.version)))
    }

    fn compare_and_swap(
        &self,
        ring: &str,
        expected: Option<u64>,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
    ) -> Result<u64> {
        check_ring_name(ring)?;
        let mut map = self.map();
        let current = map.get(ring).map(|s| s.version);
        if current != expected {
            return Err(HostError::new(
                ErrorKind::Conflict,
                match expected {
                    None => "a ring of that name already exists",
                    Some(_) => "another writer changed the ring: reload and retry",
                },
            ));
        }
        let version = expected
            .map_or(Some(1), |v| v.checked_add(1))
            .ok_or_else(|| {
                HostError::new(
                    ErrorKind::OutOfRange,
                    "the ring's store version is exhausted",
                )
            })?;
        let empty = Vec::new();
        let lines = built(map.get(ring).map_or(&empty, |s| &s.audit), audit)?;
        let s = map.entry(ring.to_owned()).or_default();
        s.ring = bytes.to_vec();
        s.version = version;
        s.audit.extend(lines);
        s.changes = self.tick();
        Ok(version)
    }

    fn compare_and_swap_moving(
        &self,
        ring: &str,
        to: &str,
        expected: u64,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
    ) -> Result<u64> {
        check_ring_name(to)?;
        let mut map = self.map();
        if to != ring && map.contains_key(to) {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("a ring named {to:?} already exists in the store"),
            ));
        }
        let Some(s) = map.get(ring) else {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "the ring moved or was removed: reload and retry",
            ));
        };
        if s.version != expected {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "another writer changed the ring: reload and retry",
            ));
        }
        let version = expected.checked_add(1).ok_or_else(|| {
            HostError::new(
                ErrorKind::OutOfRange,
                "the ring's store version is exhausted",
            )
        })?;
        let lines = built(&s.audit, audit)?;
        let mut s = map.remove(ring).unwrap_or_default();
        s.ring = bytes.to_vec();
        s.version = version;
        s.audit.extend(lines);
        s.changes = self.tick();
        map.insert(to.to_owned(), s);
        Ok(version)
    }

    fn create_with_streams(
        &self,
        ring: &str,
        bytes: &[u8],
        audit: &[AuditRecord],
        requests: &[LogEntry],
    ) -> Result<u64> {
        check_ring_name(ring)?;
        let mut map = self.map();
        if map.contains_key(ring) {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("a ring named {ring:?} already exists in the store"),
            ));
        }
        map.insert(
            ring.to_owned(),
            Streams {
                ring: bytes.to_vec(),
                version: 1,
                audit: audit.iter().map(AuditRecord::to_json).collect(),
                requests: requests.iter().map(request_line).collect(),
                changes: self.tick(),
            },
        );
        Ok(1)
    }

    fn read_audit(&self, ring: &str) -> Result<Vec<String>> {
        Ok(self
            .map()
            .get(ring)
            .map(|s| s.audit.clone())
            .unwrap_or_default())
    }

    fn append_audit(&self, ring: &str, expected: Anchor, records: &[AuditRecord]) -> Result<()> {
        let mut map = self.map();
        let s = map.get_mut(ring).ok_or_else(|| no_ring(ring))?;
        if records.is_empty() {
            return Ok(());
        }
        let head = audit_head(&s.audit)?;
        let first = records.first().map(|r| (r.seq, r.prev));
        if head != expected || first != Some((head.seq.saturating_add(1), head.hash)) {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "the audit chain moved: rebuild the records and retry",
            ));
        }
        s.audit.extend(records.iter().map(AuditRecord::to_json));
        Ok(())
    }

    fn read_requests(&self, ring: &str) -> Result<Vec<Vec<u8>>> {
        self.map()
            .get(ring)
            .map(|s| s.requests.clone())
            .unwrap_or_default()
            .iter()
            .map(|l| Ok(entry_of_line(l)?.as_bytes().to_vec()))
            .collect()
    }

    fn append_request(&self, ring: &str, frame: &LogEntry, audit: AuditBuilder<'_>) -> Result<()> {
        let mut map = self.map();
        let s = map.get_mut(ring).ok_or_else(|| no_ring(ring))?;
        let head = match s.requests.last() {
            None => Anchor::EMPTY,
            Some(l) => entry_of_line(l)?.head(),
        };
        if frame.seq() != head.seq.saturating_add(1) || frame.prev() != head.hash {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "the request log moved: reload and retry",
            ));
        }
        let lines = built(&s.audit, audit)?;
        s.requests.push(request_line(frame));
        s.audit.extend(lines);
        s.changes = self.tick();
        Ok(())
    }

    fn stamp(&self, ring: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .map()
            .get(ring)
            .map(|s| s.changes.to_be_bytes().to_vec()))
    }

    fn rings(&self) -> Result<Vec<String>> {
        Ok(self.map().keys().cloned().collect())
    }

    fn location(&self) -> String {
        format!("memory:{:016x}", self.id)
    }
}
