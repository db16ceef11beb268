//! The audit chain as the host keeps it: the check every audited write runs first (the
//! chain from the key state's anchor on), the sink of elevated sessions, the full verify and
//! the records.

use dkm_core::audit::{
    AuditFault, AuditProblem, AuditRecord, AuditSink, audit_verify, audit_verify_tail,
};
use dkm_core::ring::Anchor;
use dkm_core::{ErrorKind, Ring, RingId};

use crate::Host;
use crate::error::{HostError, Result};
use crate::store::Store;
use crate::views::AuditReport;

/// The audit head of ring `name` as stored, after checking that the chain still holds the
/// record the ring's key state anchors and continues from it: the records from the anchor on
/// parse (so their signatures verify), belong to the ring, follow one another and link, and
/// the anchored one is unchanged. The records before the anchor are not read again (a full
/// check is `audit verify`). A cut, edited or replaced chain is `Tampered`: no audited write
/// goes onto it and no plaintext is released under it.
pub(crate) fn checked_audit_head<S: Store>(
    store: &S,
    name: &str,
    anchored: (RingId, Anchor),
    version: u64,
) -> Result<Anchor> {
    tail_head(store, name, anchored).map_err(|e| {
        // A chain read while the ring moved (a rename) or changed is not a cut: go round
        // again (the retry then finds the ring gone, or newer).
        if e.kind() == ErrorKind::Tampered
            && store.load(name).ok().flatten().map(|(_, v)| v) != Some(version)
        {
            HostError::new(
                ErrorKind::Conflict,
                "the ring moved or changed while its audit chain was read: retry",
            )
        } else {
            e
        }
    })
}

fn tail_head<S: Store>(store: &S, name: &str, (id, anchor): (RingId, Anchor)) -> Result<Anchor> {
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
pub(crate) fn audit_anchor(ring: &Ring) -> (RingId, Anchor) {
    let anchor = ring
        .key_state()
        .map_or(Anchor::EMPTY, |k| k.key_state().audit);
    (ring.id(), anchor)
}

/// The audit builder of a write: the records `build` makes, if the store's head is still
/// `checked` (the head [`checked_audit_head`] verified); else a `Conflict`, so the write is
/// retried with the chain read and checked again.
pub(crate) fn at_checked_head(
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
pub(crate) struct StoreSink<'a, S: Store> {
    pub(crate) store: &'a S,
    pub(crate) name: &'a str,
    /// The ring's id and the audit anchor of its key state.
    pub(crate) anchored: (RingId, Anchor),
    /// The store version of the ring as loaded.
    pub(crate) version: u64,
    /// The host's own error behind the last failed `head` (the core's errors carry fixed
    /// messages only), handed back to the caller.
    pub(crate) error: Option<HostError>,
}

impl<S: Store> AuditSink for StoreSink<'_, S> {
    fn head(&mut self) -> dkm_core::Result<Anchor> {
        checked_audit_head(self.store, self.name, self.anchored, self.version).map_err(|e| {
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

impl<S: Store> Host<S> {
    /// Verifies the whole stored audit chain against the key state's anchor: every record
    /// parses, is signed, belongs to the ring, follows and links to the one before, and the
    /// anchored record is there unchanged. The first problem comes back as data (index and
    /// fault), not as an error.
    pub fn audit_verify(&self, name: &str) -> Result<AuditReport> {
        let l = self.load(name)?;
        let lines = self.store.read_audit(name)?;
        let mut bytes = Vec::with_capacity(lines.len());
        for (index, line) in lines.iter().enumerate() {
            match AuditRecord::from_json(line) {
                Ok(r) => bytes.push(r.as_bytes().to_vec()),
                Err(e) => {
                    let fault = if e.kind() == ErrorKind::Tampered {
                        AuditFault::BadSignature
                    } else {
                        AuditFault::Malformed
                    };
                    return Ok(AuditReport {
                        records: lines.len(),
                        head: None,
                        problem: Some(AuditProblem { index, fault }),
                    });
                }
            }
        }
        let (_, anchor) = audit_anchor(&l.ring);
        let anchors: Vec<Anchor> = l.ring.key_state().map(|_| vec![anchor]).unwrap_or_default();
        let verdict = audit_verify(l.ring.id(), bytes.iter().map(Vec::as_slice), &anchors);
        Ok(AuditReport {
            records: lines.len(),
            head: verdict.ok(),
            problem: verdict.err(),
        })
    }

    /// The stored audit records, oldest first (a line that does not parse is an error naming
    /// its index).
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
