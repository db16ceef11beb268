//! Grants of elevated access: the minimal cover of tree nodes for a request's scope, up to
//! the interval holding the end of the window, wrapped to the requester with HPKE and
//! recorded in the ring's key state. `docs/SPEC.md` §12.4 has the bytes.

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

use crate::encoding::{Reader, Writer};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::{Identity, PublicIdentity, SigDomain};
use crate::keys::{EpochKeys, RingId};
use crate::labels;
use crate::ring::keystate::{
    EpochRecord, EpochState, MAX_GRANT_LEN, hpke_open, hpke_seal, node_secrets, nodes_from,
};
use crate::ring::record::{Envelope, record_hash, sign_record};
use crate::tree::{MAX_NODES, MAX_START, Node, NodePos, NodeSet, cover};

/// Format byte of a grant.
pub const GRANT_FORMAT: u8 = 1;
/// Most parts (epoch ranges) a grant holds.
pub const MAX_GRANT_PARTS: usize = 12;
/// Length of an HPKE encapsulated key.
const ENC_LEN: usize = 32;
/// AES-256-GCM tag.
const TAG_LEN: usize = 16;

/// A grant's id: `SHA-256("dkm1/grant-id\0" ‖ request hash)[..16]`, so one request has
/// exactly one possible grant.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrantId(pub [u8; 16]);

impl GrantId {
    /// The id of the grant for the request with this hash.
    pub fn for_request(request: &[u8; 32]) -> GrantId {
        let h = Sha256::new()
            .chain_update(labels::GRANT_ID)
            .chain_update(request)
            .finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(h.get(..16).unwrap_or(&[0; 16]));
        GrantId(id)
    }

    /// Parses a grant id as printed (32 hex digits): `InvalidInput` otherwise.
    pub fn from_hex(text: &str) -> Result<GrantId> {
        crate::encoding::parse_hex(text)
            .map(GrantId)
            .ok_or(Error::new(
                ErrorKind::InvalidInput,
                "that is not a grant id (32 hex digits)",
            ))
    }
}

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::encoding::write_hex(f, &self.0)
    }
}

impl fmt::Debug for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GrantId({self})")
    }
}

/// The nodes of one epoch's intervals `first..=last`, wrapped to the requester.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantPart {
    /// Epoch.
    pub epoch: u32,
    /// First interval its nodes derive.
    pub first: u16,
    /// Last interval its nodes derive.
    pub last: u16,
    /// The minimal cover of `first..=last` (what [`cover`] returns).
    pub positions: Vec<NodePos>,
    /// HPKE encapsulated key.
    pub enc: [u8; ENC_LEN],
    /// HPKE ciphertext of the node secrets (32 bytes each, in position order) and tag.
    pub ciphertext: Vec<u8>,
}

/// The content of a grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The ring.
    pub ring: RingId,
    /// Its id ([`GrantId::for_request`] of `request`).
    pub id: GrantId,
    /// Hash of the access request it grants.
    pub request: [u8; 32],
    /// The requester (compared whole, never by id alone).
    pub requester: PublicIdentity,
    /// When it was issued.
    pub issued: u64,
    /// Start of the window.
    pub not_before: u64,
    /// End of the window (`not_after <= issued + min(requested, max_grant)`).
    pub not_after: u64,
    /// Its scope runs to the end of the window: `maintain` adds a part when it rolls the
    /// epoch during the window.
    pub follows: bool,
    /// The wrapped node covers, ascending by (epoch, first interval), not overlapping.
    pub parts: Vec<GrantPart>,
}

/// A grant whose signature has been checked (signed by the key holder that issued or last
/// re-issued it; the key state that lists it vouches for it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedGrant {
    g: Grant,
    issuer: PublicIdentity,
    bytes: Vec<u8>,
    hash: [u8; 32],
}

const fn bad() -> Error {
    Error::malformed("a grant breaks a rule of the format (ids, window, parts, covers)")
}

fn ct_len(nodes: usize) -> usize {
    32 * nodes + TAG_LEN
}

fn grant_info(ring: RingId, id: GrantId, request: &[u8; 32]) -> Vec<u8> {
    let mut info = Vec::with_capacity(labels::GRANT_INFO.len() + 64);
    info.put(labels::GRANT_INFO);
    info.put(&ring.0);
    info.put(&id.0);
    info.put(request);
    info
}

fn grant_aad(
    not_before: u64,
    not_after: u64,
    part: (u32, u16, u16),
    positions: &[NodePos],
) -> Vec<u8> {
    let mut aad = Vec::with_capacity(25 + 3 * positions.len());
    aad.put_u64(not_before);
    aad.put_u64(not_after);
    aad.put_u32(part.0);
    aad.put_u16(part.1);
    aad.put_u16(part.2);
    aad.put_u8(u8::try_from(positions.len()).unwrap_or(u8::MAX));
    for p in positions {
        aad.put(&p.to_bytes());
    }
    aad
}

impl Grant {
    /// Checks every rule a grant must meet on its own.
    pub fn validate(&self) -> Result<()> {
        if self.id != GrantId::for_request(&self.request)
            || self.not_before > self.not_after
            || self.issued > self.not_before
            || self.not_after > MAX_START
            || self.parts.is_empty()
        {
            return Err(bad());
        }
        if self.parts.len() > MAX_GRANT_PARTS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a grant holds at most 12 parts",
            ));
        }
        let ordered = self.parts.windows(2).all(|w| match w {
            [a, b] => a.epoch < b.epoch || (a.epoch == b.epoch && a.last < b.first),
            _ => true,
        });
        if !ordered {
            return Err(bad());
        }
        for p in &self.parts {
            if p.first > p.last
                || p.epoch == 0
                || cover(p.first, p.last)? != p.positions
                || p.ciphertext.len() != ct_len(p.positions.len())
            {
                return Err(bad());
            }
        }
        Ok(())
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.parts.len() * 1100);
        out.put_u8(GRANT_FORMAT);
        out.put(&self.ring.0);
        out.put(&self.id.0);
        out.put(&self.request);
        out.put(&self.requester.to_bytes());
        out.put_u64(self.issued);
        out.put_u64(self.not_before);
        out.put_u64(self.not_after);
        out.put_u8(u8::from(self.follows));
        out.put_u8(u8::try_from(self.parts.len()).unwrap_or(u8::MAX));
        for p in &self.parts {
            out.put_u32(p.epoch);
            out.put_u16(p.first);
            out.put_u16(p.last);
            out.put_u8(u8::try_from(p.positions.len()).unwrap_or(u8::MAX));
            for pos in &p.positions {
                out.put(&pos.to_bytes());
            }
            out.put(&p.enc);
            out.put(&p.ciphertext);
        }
        out
    }

    /// Signs the grant as the key holder `issuer`.
    pub fn sign(self, issuer: &Identity) -> Result<SignedGrant> {
        self.validate()?;
        let (bytes, hash) =
            sign_record(self.encode(), issuer, SigDomain::Grant, labels::GRANT_HASH);
        if bytes.len() > MAX_GRANT_LEN {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a grant is at most 16 KiB: narrow its scope",
            ));
        }
        Ok(SignedGrant {
            g: self,
            issuer: issuer.public().clone(),
            bytes,
            hash,
        })
    }

    /// Wraps `nodes` (the cover of `first..=last` of `epoch`) to the requester.
    pub(crate) fn wrap_part(
        &self,
        epoch: u32,
        first: u16,
        last: u16,
        nodes: &NodeSet,
        rng: &mut impl CryptoRng,
    ) -> Result<GrantPart> {
        let cover_nodes = nodes.derive_cover(first, last)?;
        let positions: Vec<NodePos> = cover_nodes.nodes().iter().map(Node::pos).collect();
        let (enc, ct) = hpke_seal(
            &self.requester,
            &grant_info(self.ring, self.id, &self.request),
            &grant_aad(
                self.not_before,
                self.not_after,
                (epoch, first, last),
                &positions,
            ),
            &node_secrets(cover_nodes.nodes()),
            rng,
        )?;
        Ok(GrantPart {
            epoch,
            first,
            last,
            positions,
            enc,
            ciphertext: ct,
        })
    }
}

impl SignedGrant {
    /// Parses a grant and checks its signature and every rule of [`Grant::validate`].
    pub fn parse(bytes: &[u8]) -> Result<SignedGrant> {
        if bytes.len() > MAX_GRANT_LEN {
            return Err(Error::new(ErrorKind::TooLarge, "a grant is at most 16 KiB"));
        }
        let mut r = Reader::new(bytes);
        if r.u8()? != GRANT_FORMAT {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "unknown grant format version: upgrade dkm",
            ));
        }
        let ring = RingId(r.array()?);
        let id = GrantId(r.array()?);
        let request = r.array()?;
        let requester = PublicIdentity::from_bytes(r.bytes(PublicIdentity::ENCODED_LEN)?)?;
        let issued = r.u64()?;
        let not_before = r.u64()?;
        let not_after = r.u64()?;
        let follows = r.flag()?;
        let n = usize::from(r.u8()?);
        if n > MAX_GRANT_PARTS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a grant holds at most 12 parts",
            ));
        }
        let mut parts = Vec::with_capacity(n);
        for _ in 0..n {
            let epoch = r.u32()?;
            let first = r.u16()?;
            let last = r.u16()?;
            let np = usize::from(r.u8()?);
            if np > MAX_NODES {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    "a grant part holds at most 32 nodes",
                ));
            }
            let mut positions = Vec::with_capacity(np);
            for _ in 0..np {
                positions.push(NodePos::from_bytes(&r.array()?)?);
            }
            let enc = r.array()?;
            let ciphertext = r.bytes(ct_len(np))?.to_vec();
            parts.push(GrantPart {
                epoch,
                first,
                last,
                positions,
                enc,
                ciphertext,
            });
        }
        let envelope = Envelope::read(r, bytes)?;
        let g = Grant {
            ring,
            id,
            request,
            requester,
            issued,
            not_before,
            not_after,
            follows,
            parts,
        };
        g.validate()?;
        envelope.verify(bytes, SigDomain::Grant)?;
        Ok(SignedGrant {
            g,
            issuer: envelope.signer,
            bytes: bytes.to_vec(),
            hash: record_hash(labels::GRANT_HASH, bytes),
        })
    }

    /// The grant.
    pub fn grant(&self) -> &Grant {
        &self.g
    }

    /// The key holder that signed it.
    pub fn issuer(&self) -> &PublicIdentity {
        &self.issuer
    }

    /// The canonical record bytes (what the key state lists and a grant file holds).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `SHA-256("dkm1/grant-hash\0" ‖ record)`.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// Unwraps every part with the requester's identity: the raw key material of the grant,
    /// one [`EpochKeys`] per part, which derives exactly the part's intervals. This is what
    /// an honest client guards; a requester who keeps it can unseal inside the bounds
    /// without the window or the audit (see `docs/THREAT_MODEL.md`). Use [`super::GrantSession`].
    pub fn open_parts(
        &self,
        requester: &Identity,
        epochs: &[EpochRecord],
    ) -> Result<Vec<EpochKeys>> {
        let g = &self.g;
        if requester.public() != &g.requester {
            return Err(Error::new(
                ErrorKind::NotAMember,
                "this grant was issued to another identity",
            ));
        }
        let info = grant_info(g.ring, g.id, &g.request);
        let mut out = Vec::with_capacity(g.parts.len());
        for p in &g.parts {
            let aad = grant_aad(
                g.not_before,
                g.not_after,
                (p.epoch, p.first, p.last),
                &p.positions,
            );
            let pt = hpke_open(requester, &p.enc, &info, &aad, &p.ciphertext)?;
            let nodes = nodes_from(&p.positions, &pt)?;
            let rec = epochs
                .iter()
                .find(|e| e.epoch == p.epoch)
                .ok_or(Error::new(
                    ErrorKind::UnknownKey,
                    "a grant part names an epoch the ring does not have",
                ))?;
            out.push(EpochKeys::new(g.ring, p.epoch, rec.schedule()?, nodes));
        }
        Ok(out)
    }
}

/// The interval ranges a grant covers in `epochs` (each live epoch's readable intervals
/// inside the scope), never before `floor` (the request's creation time minus
/// `max_lookback`): for a `Since(start)` scope the intervals from `start` to the one holding
/// `not_after`; for named epochs every readable interval of each (which must be live and
/// closed) up to the one holding `not_after`. A closed epoch counts only up to the interval
/// holding its retirement plus the freshness period (`grace_intervals` of its intervals):
/// after that no host seals with it.
pub(crate) fn scope_ranges(
    epochs: &[EpochRecord],
    scope: &super::request::Scope,
    not_after: u64,
    floor: u64,
    grace_intervals: u32,
) -> Result<Vec<(u32, u16, u16)>> {
    let mut out = Vec::new();
    let last_seal = |e: &EpochRecord| {
        if e.retired == 0 {
            not_after
        } else {
            e.retired
                .saturating_add(u64::from(grace_intervals).saturating_mul(e.interval_secs))
                .min(not_after)
        }
    };
    match scope {
        super::request::Scope::Since(start) => {
            for e in epochs.iter().filter(|e| e.state == EpochState::Live) {
                if let Some((lo, hi)) = window_in(e, (*start).max(floor), last_seal(e))? {
                    push_readable(&mut out, e, lo, hi);
                }
            }
        }
        super::request::Scope::Epochs(named) => {
            for n in named {
                let e = epochs
                    .iter()
                    .find(|e| e.epoch == *n)
                    .filter(|e| e.state == EpochState::Live && e.retired != 0)
                    .ok_or(Error::new(
                        ErrorKind::PolicyUnsatisfied,
                        "the request names an epoch that is not closed and readable",
                    ))?;
                if let Some((lo, hi)) = window_in(e, e.start.max(floor), last_seal(e))? {
                    push_readable(&mut out, e, lo, hi);
                }
            }
        }
    }
    Ok(out)
}

/// The intervals of `e` from time `start` to the one holding `end`, if any.
pub(crate) fn window_in(e: &EpochRecord, start: u64, end: u64) -> Result<Option<(u16, u16)>> {
    let sched = e.schedule()?;
    if e.start > end || sched.end() <= start || start > end {
        return Ok(None);
    }
    let lo = sched.interval_at(start.max(e.start))?;
    let hi = sched.interval_at(end.min(sched.end().saturating_sub(1)))?;
    Ok(Some((lo, hi)))
}

/// The readable sub-ranges of `e` within `lo..=hi`.
pub(crate) fn readable_within(e: &EpochRecord, lo: u16, hi: u16) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    for (a, b) in e.readable() {
        let (a, b) = (a.max(lo), b.min(hi));
        if a <= b {
            out.push((a, b));
        }
    }
    out
}

fn push_readable(out: &mut Vec<(u32, u16, u16)>, e: &EpochRecord, lo: u16, hi: u16) {
    for (a, b) in readable_within(e, lo, hi) {
        out.push((e.epoch, a, b));
    }
}
