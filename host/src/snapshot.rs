//! A ring's three streams in one file: how a ring moves between stores, is backed up, and is
//! handed to a test in another language (SPEC §14.1).
//!
//! ```text
//! snapshot = "DKMX" ‖ 0x01 ‖ u32 ring length ‖ ring blob (§11.1)
//!          ‖ u32 n ‖ n × (u16 length ‖ audit record, binary form (§13))
//!          ‖ u32 m ‖ m × (u32 length ‖ request-log frame (§12.6))
//! ```
//!
//! Export verifies what it writes; import verifies the ring through the pin book (or on first
//! use its oldest governance signer, as any load), the whole audit chain against the key
//! state's anchor and the request log against its anchor, then creates the ring under the
//! name it is signed with, all three streams at once.

use dkm_core::access::{LogEntry, RequestLog};
use dkm_core::audit::{AuditRecord, audit_verify};
use dkm_core::ring::{Anchor, MAX_GOVERNANCE_LEN};
use dkm_core::{ErrorKind, Pin, Ring};

use crate::error::{HostError, Result};
use crate::input::MAX_RING_BLOB;
use crate::store::{self, Store};
use crate::{Host, audit};

/// The first bytes of a snapshot.
pub(crate) const MAGIC: &[u8; 4] = b"DKMX";
const VERSION: u8 = 1;
/// Longest request-log frame: header, a request of at most 8 KiB and a change's content of at
/// most 256 KiB, with their lengths.
const MAX_FRAME: usize = 1 + 16 + 8 + 32 + 1 + 4 + 8 * 1024 + 4 + MAX_GOVERNANCE_LEN;

/// A snapshot's parts, as read.
struct Parts {
    ring: Vec<u8>,
    audit: Vec<Vec<u8>>,
    frames: Vec<Vec<u8>>,
}

fn malformed(what: &str) -> HostError {
    HostError::new(
        ErrorKind::Malformed,
        format!("not a dkm ring snapshot: {what}"),
    )
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let (head, rest) = self
            .0
            .split_at_checked(n)
            .ok_or_else(|| malformed(&format!("{what} is truncated")))?;
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self, what: &str) -> Result<usize> {
        let b = self.take(4, what)?;
        let v = u32::from_be_bytes(b.try_into().map_err(|_| malformed(what))?);
        usize::try_from(v).map_err(|_| malformed(what))
    }

    fn u16(&mut self, what: &str) -> Result<usize> {
        let b = self.take(2, what)?;
        Ok(usize::from(u16::from_be_bytes(
            b.try_into().map_err(|_| malformed(what))?,
        )))
    }

    /// A length (at most `max`, else `TooLarge`) and that many bytes.
    fn sized(&mut self, len: usize, max: usize, what: &str) -> Result<&'a [u8]> {
        if len > max {
            return Err(HostError::new(
                ErrorKind::TooLarge,
                format!("a ring snapshot's {what} is longer than its limit ({max} bytes)"),
            ));
        }
        self.take(len, what)
    }
}

fn parse(bytes: &[u8]) -> Result<Parts> {
    let mut r = Reader(bytes);
    if r.take(4, "the magic")? != MAGIC {
        return Err(malformed("bad magic"));
    }
    if r.take(1, "the version")? != [VERSION] {
        return Err(HostError::new(
            ErrorKind::Unsupported,
            "unknown ring snapshot version: upgrade dkm",
        ));
    }
    let n = r.u32("the ring length")?;
    let ring = r.sized(n, MAX_RING_BLOB, "ring")?.to_vec();
    let n = r.u32("the audit record count")?;
    // Each record takes at least its 2-byte length: a count past that is a lie.
    if n > r.0.len() / 2 {
        return Err(malformed("the audit record count exceeds the data"));
    }
    let mut audit = Vec::with_capacity(n);
    for _ in 0..n {
        let len = r.u16("an audit record length")?;
        audit.push(
            r.sized(len, dkm_core::audit::MAX_AUDIT_RECORD_LEN, "audit record")?
                .to_vec(),
        );
    }
    let m = r.u32("the request-log frame count")?;
    if m > r.0.len() / 4 {
        return Err(malformed("the request-log frame count exceeds the data"));
    }
    let mut frames = Vec::with_capacity(m);
    for _ in 0..m {
        let len = r.u32("a request-log frame length")?;
        frames.push(r.sized(len, MAX_FRAME, "request-log frame")?.to_vec());
    }
    if !r.0.is_empty() {
        return Err(malformed("trailing bytes after the request log"));
    }
    Ok(Parts {
        ring,
        audit,
        frames,
    })
}

fn encode(p: &Parts) -> Result<Vec<u8>> {
    let too_many = || {
        HostError::new(
            ErrorKind::TooLarge,
            "the ring's streams are too long to export",
        )
    };
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(
        &u32::try_from(p.ring.len())
            .map_err(|_| too_many())?
            .to_be_bytes(),
    );
    out.extend_from_slice(&p.ring);
    out.extend_from_slice(
        &u32::try_from(p.audit.len())
            .map_err(|_| too_many())?
            .to_be_bytes(),
    );
    for a in &p.audit {
        out.extend_from_slice(
            &u16::try_from(a.len())
                .map_err(|_| too_many())?
                .to_be_bytes(),
        );
        out.extend_from_slice(a);
    }
    out.extend_from_slice(
        &u32::try_from(p.frames.len())
            .map_err(|_| too_many())?
            .to_be_bytes(),
    );
    for f in &p.frames {
        out.extend_from_slice(
            &u32::try_from(f.len())
                .map_err(|_| too_many())?
                .to_be_bytes(),
        );
        out.extend_from_slice(f);
    }
    Ok(out)
}

/// Checks a ring's audit chain (whole, against the key state's anchor) and request log
/// (against its anchor); returns the parsed records and frames.
fn verified_streams(
    ring: &Ring,
    audit: &[Vec<u8>],
    frames: &[Vec<u8>],
) -> Result<(Vec<AuditRecord>, Vec<LogEntry>)> {
    let (id, anchor) = audit::audit_anchor(ring);
    let anchors: Vec<Anchor> = ring.key_state().map(|_| vec![anchor]).unwrap_or_default();
    audit_verify(id, audit.iter().map(Vec::as_slice), &anchors).map_err(|p| {
        HostError::new(
            ErrorKind::Tampered,
            format!("the snapshot's audit chain does not verify ({p})"),
        )
    })?;
    let records = audit
        .iter()
        .map(|b| Ok(AuditRecord::parse(b)?))
        .collect::<Result<Vec<_>>>()?;
    let log_anchor = ring
        .key_state()
        .map_or(Anchor::EMPTY, |k| k.key_state().requests);
    RequestLog::load(id, frames.iter().map(Vec::as_slice), log_anchor)?;
    let entries = frames
        .iter()
        .map(|f| Ok(LogEntry::parse(id, f)?))
        .collect::<Result<Vec<_>>>()?;
    Ok((records, entries))
}

/// What a snapshot holds, verified and ready to store.
pub struct Imported {
    /// The name the ring is signed with (and will be stored under).
    pub name: String,
    /// The verified ring.
    pub ring: Ring,
    records: Vec<AuditRecord>,
    entries: Vec<LogEntry>,
}

impl<S: Store> Host<S> {
    /// The ring `name` with its audit chain and request log in one snapshot, each verified
    /// first (a chain or log that does not verify is not exported: `Tampered`).
    pub fn export_snapshot(&self, name: &str) -> Result<Vec<u8>> {
        self.retry(|| {
            let l = self.load(name)?;
            let streams = (|| {
                let audit = self
                    .store
                    .read_audit(name)?
                    .iter()
                    .map(|line| Ok(AuditRecord::from_json(line)?.as_bytes().to_vec()))
                    .collect::<Result<Vec<_>>>()?;
                let frames = self.store.read_requests(name)?;
                verified_streams(&l.ring, &audit, &frames)?;
                Ok((audit, frames))
            })();
            let (audit, frames) = streams.map_err(|e: HostError| {
                // Streams read while the ring moved or changed are not tampering: again.
                if self.store.load(name).ok().flatten().map(|(_, v)| v) == Some(l.version) {
                    e
                } else {
                    HostError::new(
                        ErrorKind::Conflict,
                        "the ring moved or changed while it was exported: retry",
                    )
                }
            })?;
            let bytes = encode(&Parts {
                ring: l.ring.to_bytes(),
                audit,
                frames,
            })?;
            if bytes.len() > crate::input::Input::Snapshot.limit() {
                return Err(HostError::new(
                    ErrorKind::TooLarge,
                    "the ring's snapshot would be larger than an import accepts (1 GiB)",
                ));
            }
            Ok(bytes)
        })
    }

    /// Reads and verifies a snapshot without storing it: the ring through the explicit pin,
    /// this host's pin of that ring, or on first use its oldest governance signer (as any
    /// load); the whole audit chain and the request log against the key state's anchors.
    pub fn read_snapshot(&self, bytes: &[u8]) -> Result<Imported> {
        let parts = parse(bytes)?;
        let id = crate::ring_id_of(&parts.ring)?;
        let pin = match &self.explicit_pin {
            Some(p) => p.clone(),
            None => match self.pins.get(id)? {
                Some(p) => p,
                None => Pin::new(id, vec![crate::first_signer(&parts.ring)?]),
            },
        };
        let ring = Ring::load(&parts.ring, &pin)?;
        let name = ring.governance().name.clone();
        store::check_ring_name(&name)?;
        let (records, entries) = verified_streams(&ring, &parts.audit, &parts.frames)?;
        Ok(Imported {
            name,
            ring,
            records,
            entries,
        })
    }

    /// Imports a snapshot ([`Host::read_snapshot`]) into the store under the name the ring
    /// is signed with, which must be free; returns the name.
    pub fn import_snapshot(&self, bytes: &[u8]) -> Result<String> {
        let s = self.read_snapshot(bytes)?;
        if self.store.load(&s.name)?.is_some() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("a ring named {:?} already exists in the store", s.name),
            ));
        }
        // One ring, one name in a store: a copy under a second name would fork it.
        for other in self.store.rings()? {
            if let Some((blob, _)) = self.store.load(&other)?
                && crate::ring_id_of(&blob).ok() == Some(s.ring.id())
            {
                return Err(HostError::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "the store already holds this ring (id {}) under the name {other:?}",
                        s.ring.id()
                    ),
                ));
            }
        }
        if self.explicit_pin.is_none() {
            self.pins
                .check_name(&self.store.location(), &s.name, s.ring.id())?;
        }
        self.store
            .create_with_streams(&s.name, &s.ring.to_bytes(), &s.records, &s.entries)?;
        self.pins.save(&s.ring.pin())?;
        Ok(s.name)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parse_refuses_lies_and_leftovers() {
        let p = Parts {
            ring: vec![1, 2, 3],
            audit: vec![vec![4; 10]],
            frames: vec![vec![5; 7], vec![]],
        };
        let bytes = encode(&p).unwrap();
        let back = parse(&bytes).unwrap();
        assert_eq!(
            (back.ring, back.audit, back.frames),
            (p.ring, p.audit, p.frames)
        );
        let kind = |b: &[u8]| parse(b).err().unwrap().kind();
        for n in 0..bytes.len() {
            assert_eq!(kind(&bytes[..n]), ErrorKind::Malformed, "cut at {n}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(kind(&extra), ErrorKind::Malformed);
        let mut v2 = bytes.clone();
        v2[4] = 2;
        assert_eq!(kind(&v2), ErrorKind::Unsupported);
        // A huge count with little data behind it is refused before anything is allocated.
        let mut huge = bytes[..5].to_vec();
        huge.extend_from_slice(&0u32.to_be_bytes());
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(kind(&huge), ErrorKind::Malformed);
        let mut long = bytes[..5].to_vec();
        long.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(kind(&long), ErrorKind::TooLarge);
    }
}
