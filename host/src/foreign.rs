//! Stores a binding brings (a C vtable, a Python object, a JS object, a database table): the
//! foreign side gives primitives only, and everything that knows dkm's formats stays here.
//!
//! A foreign store keeps, per ring name, the ring's bytes with a *change token* (any string
//! that changes whenever the bytes change: a version column, an etag, a revision), and two
//! append-only streams of text lines (the audit chain and the request log, the same JSON lines
//! as the file store's). It answers reads (the ring and its token; a stream's line count,
//! last line, and lines from an index) and carries out one atomic [`Commit`]: it checks the
//! expected token and line counts, then writes all of it or nothing, reporting a mismatch as
//! [`ErrorKind::Conflict`]. Heads, audit records, request-log frames and every check are
//! computed here; the host retries a `Conflict` as on any store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use dkm_core::ErrorKind;
use dkm_core::access::LogEntry;
use dkm_core::audit::AuditRecord;
use dkm_core::ring::Anchor;

use crate::error::{HostError, Result};
use crate::store::{AuditBuilder, Store, check_ring_name, entry_of_line, request_line};

/// A ring's two line streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    /// The audit chain: one audit record's JSON form a line (SPEC §13).
    Audit,
    /// The request log: one frame's JSON line a line (SPEC §14).
    Requests,
}

impl Stream {
    /// `audit` or `requests`.
    pub const fn name(self) -> &'static str {
        match self {
            Stream::Audit => "audit",
            Stream::Requests => "requests",
        }
    }
}

/// One atomic write: the foreign store checks every expectation, then applies every change,
/// or applies nothing and fails with `Conflict`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The ring written: `expected_token` is its current token (`None`: the ring must not
    /// exist: a create).
    pub ring: Option<RingWrite>,
    /// Each stream's line count the write was computed from, and the lines to append to it.
    pub appends: Vec<(Stream, u64, Vec<String>)>,
    /// After the write, the ring and both streams move to this name: a rename. An expectation
    /// too: the name must hold no ring (else `Conflict`).
    pub move_to: Option<String>,
}

/// The ring bytes of a [`Commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingWrite {
    /// The token the ring must still have (`None`: it must not exist).
    pub expected_token: Option<String>,
    /// The new ring bytes (the store makes a new token for them).
    pub bytes: Vec<u8>,
}

/// What a binding's store gives. Every method may fail with a [`HostError`] of kind
/// `StoreUnavailable` (or `Conflict` from [`ForeignStore::commit`]).
pub trait ForeignStore: Send + Sync {
    /// Ring `name`'s bytes and change token, if it exists.
    fn ring(&self, name: &str) -> Result<Option<(Vec<u8>, String)>>;
    /// How many lines `stream` of ring `name` holds (0 when none).
    fn line_count(&self, name: &str, stream: Stream) -> Result<u64>;
    /// The last line of `stream`, if any.
    fn last_line(&self, name: &str, stream: Stream) -> Result<Option<String>>;
    /// The lines of `stream` from index `from` (0-based) to the end.
    fn lines_from(&self, name: &str, stream: Stream, from: u64) -> Result<Vec<String>>;
    /// Carries out `commit` atomically for ring `name` (see [`Commit`]).
    fn commit(&self, name: &str, commit: &Commit) -> Result<()>;
    /// The names of the rings it holds.
    fn names(&self) -> Result<Vec<String>>;
    /// Where it is, stable across processes (for the pin book's record of which ring a name
    /// held): a database and table, a bucket and prefix.
    fn location(&self) -> String;
    /// A fingerprint of ring `name` and its request log that changes whenever either does,
    /// made by the store itself (a revision it assigns, never a value a writer chose); `None`
    /// (the default): unknown, and the host loads the ring in full each time. See
    /// [`Store::stamp`].
    fn stamp(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let _ = name;
        Ok(None)
    }
    /// The store's location as the host records it: `foreign:` and [`ForeignStore::location`]
    /// (a store dkm itself provides names its own kind instead: `etcd:`).
    fn qualified_location(&self) -> String {
        format!("foreign:{}", self.location())
    }
    /// See [`Store::change_feed`] (default: none).
    fn change_feed(&self) -> Option<crate::store::ChangeFeed> {
        None
    }
}

/// A shared foreign store is a foreign store.
impl<F: ForeignStore + ?Sized> ForeignStore for std::sync::Arc<F> {
    fn ring(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        (**self).ring(name)
    }
    fn line_count(&self, name: &str, stream: Stream) -> Result<u64> {
        (**self).line_count(name, stream)
    }
    fn last_line(&self, name: &str, stream: Stream) -> Result<Option<String>> {
        (**self).last_line(name, stream)
    }
    fn lines_from(&self, name: &str, stream: Stream, from: u64) -> Result<Vec<String>> {
        (**self).lines_from(name, stream, from)
    }
    fn commit(&self, name: &str, commit: &Commit) -> Result<()> {
        (**self).commit(name, commit)
    }
    fn names(&self) -> Result<Vec<String>> {
        (**self).names()
    }
    fn location(&self) -> String {
        (**self).location()
    }
    fn stamp(&self, name: &str) -> Result<Option<Vec<u8>>> {
        (**self).stamp(name)
    }
    fn qualified_location(&self) -> String {
        (**self).qualified_location()
    }
    fn change_feed(&self) -> Option<crate::store::ChangeFeed> {
        (**self).change_feed()
    }
}

/// A ring's last version handed out and its recent tokens with their versions.
type Versions = (u64, Vec<(String, u64)>);

/// How many recent tokens of a ring the adapter remembers.
const RECENT_TOKENS: usize = 16;

/// A [`Store`] over a [`ForeignStore`].
pub struct ForeignAdapter<F: ForeignStore> {
    foreign: F,
    /// Per ring, the last version handed out and the recent tokens with their versions: the
    /// host compares versions; the foreign side compares tokens.
    versions: Mutex<BTreeMap<String, Versions>>,
}

impl<F: ForeignStore + std::fmt::Debug> std::fmt::Debug for ForeignAdapter<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ForeignAdapter")
            .field(&self.foreign)
            .finish()
    }
}

impl<F: ForeignStore> ForeignAdapter<F> {
    /// The adapter over `foreign`.
    pub fn new(foreign: F) -> Self {
        ForeignAdapter {
            foreign,
            versions: Mutex::new(BTreeMap::new()),
        }
    }

    /// The foreign store.
    pub fn foreign(&self) -> &F {
        &self.foreign
    }

    /// The version for `token` of ring `name`: the same as before for a token seen recently,
    /// a new one for a new token (so threads that read different tokens never get each
    /// other's versions).
    fn version_of(&self, name: &str, token: &str) -> u64 {
        let mut v = self
            .versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (next, seen) = v.entry(name.to_owned()).or_default();
        if let Some((_, n)) = seen.iter().find(|(t, _)| t == token) {
            return *n;
        }
        *next = next.saturating_add(1);
        seen.push((token.to_owned(), *next));
        if seen.len() > RECENT_TOKENS {
            seen.remove(0);
        }
        *next
    }

    /// The token that version `version` of ring `name` was handed out for.
    fn token_of(&self, name: &str, version: u64) -> Result<String> {
        let v = self
            .versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        v.get(name)
            .and_then(|(_, seen)| seen.iter().find(|(_, n)| *n == version))
            .map(|(t, _)| t.clone())
            .ok_or_else(|| {
                HostError::new(
                    ErrorKind::Conflict,
                    "another writer changed the ring: reload and retry",
                )
            })
    }

    fn audit_head(&self, name: &str) -> Result<(u64, Anchor)> {
        let count = self.foreign.line_count(name, Stream::Audit)?;
        let head = match self.foreign.last_line(name, Stream::Audit)? {
            None if count == 0 => Anchor::EMPTY,
            Some(l) if count > 0 => AuditRecord::from_json(&l)?.head(),
            _ => {
                return Err(HostError::new(
                    ErrorKind::StoreUnavailable,
                    "the store's audit line count and last line disagree",
                ));
            }
        };
        Ok((count, head))
    }

    fn ring_write(
        &self,
        name: &str,
        expected: Option<u64>,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
        move_to: Option<&str>,
    ) -> Result<u64> {
        let expected_token = match expected {
            None => None,
            Some(v) => Some(self.token_of(name, v)?),
        };
        let (count, head) = self.audit_head(name)?;
        let lines: Vec<String> = audit(head)?.iter().map(AuditRecord::to_json).collect();
        let commit = Commit {
            ring: Some(RingWrite {
                expected_token,
                bytes: bytes.to_vec(),
            }),
            appends: vec![(Stream::Audit, count, lines)],
            move_to: move_to.map(str::to_owned),
        };
        let expected_token = commit.ring.as_ref().and_then(|w| w.expected_token.clone());
        self.foreign.commit(name, &commit)?;
        let at = move_to.unwrap_or(name);
        let (_, token) = self.foreign.ring(at)?.ok_or_else(|| {
            HostError::new(
                ErrorKind::StoreUnavailable,
                "the store lost a ring it had just written",
            )
        })?;
        // A commit that reported success while the ring still has the token it was to
        // replace wrote nothing (a store that lost the write, or a binding that swallowed the
        // failure): saying so keeps the pins from moving ahead of the store. Another writer
        // after this one would have made a new token, so this never refuses a real write.
        if expected_token.as_deref() == Some(token.as_str()) {
            return Err(HostError::new(
                ErrorKind::StoreUnavailable,
                "the store's commit reported success but the ring still has its old token: nothing was written",
            ));
        }
        Ok(self.version_of(at, &token))
    }
}

impl<F: ForeignStore> Store for ForeignAdapter<F> {
    fn load(&self, ring: &str) -> Result<Option<(Vec<u8>, u64)>> {
        Ok(self.foreign.ring(ring)?.map(|(bytes, token)| {
            let v = self.version_of(ring, &token);
            (bytes, v)
        }))
    }

    fn compare_and_swap(
        &self,
        ring: &str,
        expected: Option<u64>,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
    ) -> Result<u64> {
        check_ring_name(ring)?;
        self.ring_write(ring, expected, bytes, audit, None)
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
        let move_to = (to != ring).then_some(to);
        self.ring_write(ring, Some(expected), bytes, audit, move_to)
    }

    fn create_with_streams(
        &self,
        ring: &str,
        bytes: &[u8],
        audit: &[AuditRecord],
        requests: &[LogEntry],
    ) -> Result<u64> {
        check_ring_name(ring)?;
        let commit = Commit {
            ring: Some(RingWrite {
                expected_token: None,
                bytes: bytes.to_vec(),
            }),
            appends: vec![
                (
                    Stream::Audit,
                    0,
                    audit.iter().map(AuditRecord::to_json).collect(),
                ),
                (
                    Stream::Requests,
                    0,
                    requests.iter().map(request_line).collect(),
                ),
            ],
            move_to: None,
        };
        self.foreign.commit(ring, &commit).map_err(|e| {
            if e.kind() == ErrorKind::Conflict {
                HostError::new(
                    ErrorKind::InvalidInput,
                    format!("a ring named {ring:?} already exists in the store"),
                )
            } else {
                e
            }
        })?;
        Ok(self
            .foreign
            .ring(ring)?
            .map_or(1, |(_, token)| self.version_of(ring, &token)))
    }

    fn read_audit(&self, ring: &str) -> Result<Vec<String>> {
        self.foreign.lines_from(ring, Stream::Audit, 0)
    }

    fn append_audit(&self, ring: &str, expected: Anchor, records: &[AuditRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.foreign.ring(ring)?.is_none() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("no ring named {ring:?} in the store"),
            ));
        }
        let (count, head) = self.audit_head(ring)?;
        let first = records.first().map(|r| (r.seq, r.prev));
        if head != expected || first != Some((head.seq.saturating_add(1), head.hash)) {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "the audit chain moved: rebuild the records and retry",
            ));
        }
        let commit = Commit {
            ring: None,
            appends: vec![(
                Stream::Audit,
                count,
                records.iter().map(AuditRecord::to_json).collect(),
            )],
            move_to: None,
        };
        self.foreign.commit(ring, &commit)
    }

    fn read_requests(&self, ring: &str) -> Result<Vec<Vec<u8>>> {
        self.foreign
            .lines_from(ring, Stream::Requests, 0)?
            .iter()
            .map(|l| Ok(entry_of_line(l)?.as_bytes().to_vec()))
            .collect()
    }

    fn append_request(&self, ring: &str, frame: &LogEntry, audit: AuditBuilder<'_>) -> Result<()> {
        if self.foreign.ring(ring)?.is_none() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("no ring named {ring:?} in the store"),
            ));
        }
        let requests = self.foreign.line_count(ring, Stream::Requests)?;
        let head = match self.foreign.last_line(ring, Stream::Requests)? {
            None => Anchor::EMPTY,
            Some(l) => entry_of_line(&l)?.head(),
        };
        if frame.seq() != head.seq.saturating_add(1) || frame.prev() != head.hash {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "the request log moved: reload and retry",
            ));
        }
        let (count, audit_head) = self.audit_head(ring)?;
        let lines: Vec<String> = audit(audit_head)?
            .iter()
            .map(AuditRecord::to_json)
            .collect();
        let commit = Commit {
            ring: None,
            appends: vec![
                (Stream::Requests, requests, vec![request_line(frame)]),
                (Stream::Audit, count, lines),
            ],
            move_to: None,
        };
        self.foreign.commit(ring, &commit)
    }

    fn rings(&self) -> Result<Vec<String>> {
        let mut names = self.foreign.names()?;
        names.retain(|n| check_ring_name(n).is_ok());
        names.sort();
        Ok(names)
    }

    fn location(&self) -> String {
        self.foreign.qualified_location()
    }

    fn stamp(&self, ring: &str) -> Result<Option<Vec<u8>>> {
        check_ring_name(ring)?;
        self.foreign.stamp(ring)
    }

    fn change_feed(&self) -> Option<crate::store::ChangeFeed> {
        self.foreign.change_feed()
    }
}
