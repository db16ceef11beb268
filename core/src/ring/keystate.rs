//! The key-state part of a ring, signed by a key holder: epochs and their sealed nodes, the
//! KEK wrapped to each key holder, published seal-only keys, freshness, anchors.
//! `docs/SPEC.md` §11.4 has the bytes.

use alloc::vec::Vec;

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::encoding::{Reader, Writer};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::{Identity, IdentityId, PublicIdentity, SigDomain};
use crate::keys::{KeyId, RingId, SealOnlyKey};
use crate::labels;
use crate::ring::governance::{MAX_EPOCH_NUMBER, MAX_MEMBERS, MAX_VERSION};
use crate::ring::record::{Envelope, record_hash, sign_record};
use crate::secret::Secret32;
use crate::tree::{MAX_NODES, Node, NodePos, NodeSet, Schedule, hmac_sha256};
use crate::xaes::{NONCE_LEN, TAG_LEN, XaesKey};

/// Format byte of a key-state record.
pub const KEY_STATE_FORMAT: u8 = 1;
/// Most epochs a key state lists.
pub const MAX_EPOCHS: usize = 4096;
/// Most published seal-only keys.
pub const MAX_PUBLISHED: usize = 128;
/// Most grant entries (their format comes with elevated access).
pub const MAX_GRANTS: usize = 256;
/// Longest grant entry.
pub const MAX_GRANT_LEN: usize = 16 * 1024;
/// Most used request hashes recorded.
pub const MAX_USED_REQUESTS: usize = 4096;
/// Length of a KEK wrap's HPKE ciphertext (32-byte KEK + 16-byte tag).
pub const WRAP_CT_LEN: usize = 48;

/// The state of an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EpochState {
    /// Its keys open secrets (the newest live epoch is the current one, which seals).
    Live = 1,
    /// Revoked by an approved instruction: its nodes are gone ([`ErrorKind::KeyRevoked`]).
    Revoked = 2,
    /// Shredded whole by an approved instruction ([`ErrorKind::KeyDestroyed`]).
    Destroyed = 3,
}

impl EpochState {
    /// `live`, `revoked` or `destroyed`.
    pub const fn name(self) -> &'static str {
        match self {
            EpochState::Live => "live",
            EpochState::Revoked => "revoked",
            EpochState::Destroyed => "destroyed",
        }
    }

    /// From its name: `InvalidInput` for any other text.
    pub fn parse(name: &str) -> Result<EpochState> {
        [EpochState::Live, EpochState::Revoked, EpochState::Destroyed]
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or(Error::new(
                ErrorKind::InvalidInput,
                "unknown epoch state: live, revoked or destroyed",
            ))
    }

    fn from_byte(b: u8) -> Result<Self> {
        match b {
            1 => Ok(EpochState::Live),
            2 => Ok(EpochState::Revoked),
            3 => Ok(EpochState::Destroyed),
            _ => Err(Error::new(
                ErrorKind::Unsupported,
                "unknown epoch state: upgrade dkm",
            )),
        }
    }
}

/// A reference to a governance version: its number and record hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GovRef {
    /// Version.
    pub version: u64,
    /// Hash of the signed record.
    pub hash: [u8; 32],
}

/// The head of a hash-chained stream (audit chain or request log) at a key-state write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Anchor {
    /// Number of records in the stream (0: empty).
    pub seq: u64,
    /// Hash of the last record (zeros when empty).
    pub hash: [u8; 32],
}

impl Anchor {
    /// The head of an empty stream.
    pub const EMPTY: Anchor = Anchor {
        seq: 0,
        hash: [0; 32],
    };
}

/// The KEK wrapped to one key holder with HPKE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KekWrap {
    /// The key holder's id.
    pub recipient: IdentityId,
    /// HPKE encapsulated key.
    pub enc: [u8; 32],
    /// HPKE ciphertext of the KEK (AES-256-GCM).
    pub ciphertext: [u8; WRAP_CT_LEN],
}

/// One epoch: its schedule, state and (when live) its nodes sealed under the KEK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochRecord {
    /// Epoch number (ascending, never reused).
    pub epoch: u32,
    /// State.
    pub state: EpochState,
    /// Schedule start (Unix seconds).
    pub start: u64,
    /// Interval length (seconds).
    pub interval_secs: u64,
    /// Write time of the key state that created it.
    pub created: u64,
    /// Write time of the key state that rolled past it (0: it is the current epoch).
    pub retired: u64,
    /// Positions of its nodes (the root, or after shredding the cover of what is left).
    pub positions: Vec<NodePos>,
    /// `nonce (24) ‖ XAES-256-GCM(node secrets, 32 bytes each) ‖ tag (16)`; empty unless live.
    pub sealed_nodes: Vec<u8>,
}

impl EpochRecord {
    /// The schedule.
    pub fn schedule(&self) -> Result<Schedule> {
        Schedule::new(self.start, self.interval_secs)
    }

    /// Marks the epoch revoked or destroyed and forgets its nodes.
    pub(crate) fn drop_material(&mut self, state: EpochState) {
        self.state = state;
        self.positions.clear();
        self.sealed_nodes.clear();
    }

    /// The ranges of intervals its nodes derive.
    pub fn readable(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for p in &self.positions {
            match out.last_mut() {
                Some(last) if u32::from(last.1) + 1 == u32::from(p.first_leaf()) => {
                    last.1 = p.last_leaf();
                }
                _ => out.push((p.first_leaf(), p.last_leaf())),
            }
        }
        out
    }
}

/// The first interval of `sched` that ends after `cutoff` (`None` when the cutoff is at or
/// before the schedule's start: nothing to destroy). May be past the last interval.
pub(crate) fn first_kept(sched: &Schedule, cutoff: u64) -> Option<u64> {
    let elapsed = cutoff.checked_sub(sched.start()).filter(|e| *e > 0)?;
    Some(elapsed / sched.interval_secs())
}

/// Since when an approver counts (the write time of the key state that first bound it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApproverSince {
    /// The approver.
    pub approver: IdentityId,
    /// Write time of the key state that bound it.
    pub since: u64,
}

/// The content of a key state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyState {
    /// The ring.
    pub ring: RingId,
    /// Version (1, 2, ...).
    pub version: u64,
    /// Hash of the previous key-state record (zeros for version 1).
    pub prev_hash: [u8; 32],
    /// The governance in force: the version this key state carries out.
    pub governance: GovRef,
    /// Recorded write time: never moves back except by an approved reset.
    pub write_time: u64,
    /// Freshness deadline.
    pub fresh_until: u64,
    /// Serial of the last write-time reset carried out.
    pub reset_serial: u32,
    /// Shredding cutoff carried out.
    pub shred_applied: u64,
    /// Audit chain head at this write.
    pub audit: Anchor,
    /// Request log head at this write.
    pub requests: Anchor,
    /// KEK generation (1, 2, ...).
    pub kek_generation: u32,
    /// `HMAC-SHA-256(KEK, "dkm1/kek-check\0" ‖ ring id ‖ generation)`.
    pub kek_check: [u8; 32],
    /// The KEK wrapped to each key holder, ascending by recipient.
    pub wraps: Vec<KekWrap>,
    /// Epochs, ascending; the last is live and current.
    pub epochs: Vec<EpochRecord>,
    /// Published seal-only public keys, ascending by (epoch, interval).
    pub seal_only: Vec<SealOnlyKey>,
    /// Approvers and since when they count, ascending by id.
    pub approver_since: Vec<ApproverSince>,
    /// Grant entries (format: elevated access).
    pub grants: Vec<Vec<u8>>,
    /// Hashes of requests already used (one request, at most one use), ascending.
    pub used_requests: Vec<[u8; 32]>,
}

/// A signed key state whose signature has been checked.
#[derive(Clone, Debug)]
pub struct SignedKeyState {
    ks: KeyState,
    signer: PublicIdentity,
    bytes: Vec<u8>,
    hash: [u8; 32],
}

fn ascending_by<T, K: Ord>(v: &[T], key: impl Fn(&T) -> K) -> bool {
    v.windows(2).all(|w| matches!(w, [a, b] if key(a) < key(b)))
}

fn sealed_nodes_len(n: usize) -> usize {
    NONCE_LEN + 32 * n + TAG_LEN
}

impl KeyState {
    /// The current (newest, live) epoch.
    pub fn current(&self) -> Option<&EpochRecord> {
        self.epochs.last().filter(|e| e.state == EpochState::Live)
    }

    /// The record of `epoch`.
    pub fn epoch(&self, epoch: u32) -> Option<&EpochRecord> {
        self.epochs
            .binary_search_by_key(&epoch, |e| e.epoch)
            .ok()
            .and_then(|i| self.epochs.get(i))
    }

    /// Checks every rule a key state must meet on its own.
    pub fn validate(&self) -> Result<()> {
        const BAD: Error =
            Error::malformed("a key state breaks a rule of the format (order, lengths, states)");
        if self.version == 0
            || self.version > MAX_VERSION
            || (self.version == 1 && self.prev_hash != [0; 32])
            || self.governance.version == 0
            || self.governance.version > MAX_VERSION
            || self.kek_generation > MAX_EPOCH_NUMBER
            || self
                .epochs
                .last()
                .is_some_and(|e| e.epoch > MAX_EPOCH_NUMBER)
            || self.epochs.first().is_some_and(|e| e.epoch == 0)
            || self.write_time > self.fresh_until
            || self.kek_generation == 0
            || self.wraps.is_empty()
            || [self.audit, self.requests]
                .iter()
                .any(|a| a.seq == 0 && a.hash != [0; 32])
        {
            return Err(BAD);
        }
        if self.wraps.len() > MAX_MEMBERS
            || self.epochs.len() > MAX_EPOCHS
            || self.seal_only.len() > MAX_PUBLISHED
            || self.approver_since.len() > MAX_MEMBERS
            || self.grants.len() > MAX_GRANTS
            || self.grants.iter().any(|g| g.len() > MAX_GRANT_LEN)
            || self.used_requests.len() > MAX_USED_REQUESTS
        {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a key state list is longer than its documented limit",
            ));
        }
        if !ascending_by(&self.wraps, |w| w.recipient)
            || !ascending_by(&self.epochs, |e| e.epoch)
            || !ascending_by(&self.seal_only, |k| (k.id().epoch, k.id().interval))
            || !ascending_by(&self.approver_since, |a| a.approver)
            || !ascending_by(&self.used_requests, |r| *r)
        {
            return Err(BAD);
        }
        if self.current().is_none() {
            return Err(BAD);
        }
        for e in &self.epochs {
            e.schedule().map_err(|_| BAD)?;
            match e.state {
                EpochState::Live => {
                    if e.positions.is_empty()
                        || e.positions.len() > MAX_NODES
                        || e.sealed_nodes.len() != sealed_nodes_len(e.positions.len())
                        || !e
                            .positions
                            .windows(2)
                            .all(|w| matches!(w, [a, b] if a.last_leaf() < b.first_leaf()))
                    {
                        return Err(BAD);
                    }
                }
                EpochState::Revoked | EpochState::Destroyed => {
                    if !e.positions.is_empty() || !e.sealed_nodes.is_empty() {
                        return Err(BAD);
                    }
                }
            }
        }
        for k in &self.seal_only {
            let id = k.id();
            let live = self
                .epoch(id.epoch)
                .is_some_and(|e| e.state == EpochState::Live);
            if id.ring != self.ring || !live {
                return Err(BAD);
            }
        }
        Ok(())
    }

    /// The canonical bytes of the body (everything the signature covers but the signer).
    fn body_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.wraps.len() * 96 + self.epochs.len() * 160);
        out.put_u8(KEY_STATE_FORMAT);
        out.put(&self.ring.0);
        out.put_u64(self.version);
        out.put(&self.prev_hash);
        out.put_u64(self.governance.version);
        out.put(&self.governance.hash);
        out.put_u64(self.write_time);
        out.put_u64(self.fresh_until);
        out.put_u32(self.reset_serial);
        out.put_u64(self.shred_applied);
        for a in [self.audit, self.requests] {
            out.put_u64(a.seq);
            out.put(&a.hash);
        }
        out.put_u32(self.kek_generation);
        out.put(&self.kek_check);
        out.put_count16(self.wraps.len());
        for w in &self.wraps {
            out.put(&w.recipient.0);
            out.put(&w.enc);
            out.put(&w.ciphertext);
        }
        out.put_count16(self.epochs.len());
        for e in &self.epochs {
            out.put_u32(e.epoch);
            out.put_u8(e.state as u8);
            out.put_u64(e.start);
            out.put_u64(e.interval_secs);
            out.put_u64(e.created);
            out.put_u64(e.retired);
            out.put_u8(u8::try_from(e.positions.len()).unwrap_or(u8::MAX));
            for p in &e.positions {
                out.put(&p.to_bytes());
            }
            out.put(&e.sealed_nodes);
        }
        out.put_count16(self.seal_only.len());
        for k in &self.seal_only {
            out.put_u32(k.id().epoch);
            out.put_u16(k.id().interval);
            out.put(k.public());
        }
        out.put_count16(self.approver_since.len());
        for a in &self.approver_since {
            out.put(&a.approver.0);
            out.put_u64(a.since);
        }
        out.put_count16(self.grants.len());
        for g in &self.grants {
            out.put_bytes32(g);
        }
        out.put_count16(self.used_requests.len());
        for r in &self.used_requests {
            out.put(r);
        }
        out
    }

    /// Signs this key state as the key holder `holder`.
    pub fn sign(self, holder: &Identity) -> Result<SignedKeyState> {
        self.validate()?;
        let (bytes, hash) = sign_record(
            self.body_bytes(),
            holder,
            SigDomain::KeyState,
            labels::KEY_STATE_HASH,
        );
        Ok(SignedKeyState {
            ks: self,
            signer: holder.public().clone(),
            bytes,
            hash,
        })
    }
}

impl SignedKeyState {
    /// Parses a record and checks its signature under the signer it names and every rule of
    /// [`KeyState::validate`]. Whether the signer is a key holder is the ring's business.
    pub fn parse(bytes: &[u8]) -> Result<SignedKeyState> {
        let mut r = Reader::new(bytes);
        if r.u8()? != KEY_STATE_FORMAT {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "unknown key-state format version: upgrade dkm",
            ));
        }
        let ring = RingId(r.array()?);
        let version = r.u64()?;
        let prev_hash = r.array()?;
        let governance = GovRef {
            version: r.u64()?,
            hash: r.array()?,
        };
        let write_time = r.u64()?;
        let fresh_until = r.u64()?;
        let reset_serial = r.u32()?;
        let shred_applied = r.u64()?;
        let audit = Anchor {
            seq: r.u64()?,
            hash: r.array()?,
        };
        let requests = Anchor {
            seq: r.u64()?,
            hash: r.array()?,
        };
        let kek_generation = r.u32()?;
        let kek_check = r.array()?;
        let n = r.count16(MAX_MEMBERS)?;
        let mut wraps = Vec::with_capacity(n);
        for _ in 0..n {
            wraps.push(KekWrap {
                recipient: IdentityId(r.array()?),
                enc: r.array()?,
                ciphertext: r.array()?,
            });
        }
        let n = r.count16(MAX_EPOCHS)?;
        let mut epochs = Vec::with_capacity(n);
        for _ in 0..n {
            let epoch = r.u32()?;
            let state = EpochState::from_byte(r.u8()?)?;
            let start = r.u64()?;
            let interval_secs = r.u64()?;
            let created = r.u64()?;
            let retired = r.u64()?;
            let np = usize::from(r.u8()?);
            if np > MAX_NODES {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    "an epoch holds at most 32 nodes",
                ));
            }
            let mut positions = Vec::with_capacity(np);
            for _ in 0..np {
                positions.push(NodePos::from_bytes(&r.array()?)?);
            }
            let sealed_nodes = if state == EpochState::Live {
                r.bytes(sealed_nodes_len(np))?.to_vec()
            } else {
                Vec::new()
            };
            epochs.push(EpochRecord {
                epoch,
                state,
                start,
                interval_secs,
                created,
                retired,
                positions,
                sealed_nodes,
            });
        }
        let n = r.count16(MAX_PUBLISHED)?;
        let mut seal_only = Vec::with_capacity(n);
        for _ in 0..n {
            let epoch = r.u32()?;
            let interval = r.u16()?;
            let public = r.array()?;
            seal_only.push(SealOnlyKey::new(
                KeyId {
                    ring,
                    epoch,
                    interval,
                },
                public,
            )?);
        }
        let n = r.count16(MAX_MEMBERS)?;
        let mut approver_since = Vec::with_capacity(n);
        for _ in 0..n {
            approver_since.push(ApproverSince {
                approver: IdentityId(r.array()?),
                since: r.u64()?,
            });
        }
        let n = r.count16(MAX_GRANTS)?;
        let mut grants = Vec::with_capacity(n);
        for _ in 0..n {
            grants.push(r.bytes32(MAX_GRANT_LEN)?.to_vec());
        }
        let n = r.count16(MAX_USED_REQUESTS)?;
        let mut used_requests = Vec::with_capacity(n);
        for _ in 0..n {
            used_requests.push(r.array()?);
        }
        let envelope = Envelope::read(r, bytes)?;
        let ks = KeyState {
            ring,
            version,
            prev_hash,
            governance,
            write_time,
            fresh_until,
            reset_serial,
            shred_applied,
            audit,
            requests,
            kek_generation,
            kek_check,
            wraps,
            epochs,
            seal_only,
            approver_since,
            grants,
            used_requests,
        };
        ks.validate()?;
        envelope.verify(bytes, SigDomain::KeyState)?;
        Ok(SignedKeyState {
            ks,
            signer: envelope.signer,
            bytes: bytes.to_vec(),
            hash: record_hash(labels::KEY_STATE_HASH, bytes),
        })
    }

    /// The key state.
    pub fn key_state(&self) -> &KeyState {
        &self.ks
    }

    /// Who signed it.
    pub fn signer(&self) -> &PublicIdentity {
        &self.signer
    }

    /// The canonical record bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `SHA-256("dkm1/key-state-hash\0" ‖ record)`.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

// ---- key material under the KEK -------------------------------------------------------

fn gen_bytes(ring: RingId, generation: u32) -> [u8; 20] {
    let mut b = [0u8; 20];
    let (r, g) = b.split_at_mut(16);
    r.copy_from_slice(&ring.0);
    g.copy_from_slice(&generation.to_be_bytes());
    b
}

/// The KEK check value every key holder verifies after unwrapping.
pub(crate) fn kek_check(kek: &Secret32, ring: RingId, generation: u32) -> [u8; 32] {
    *hmac_sha256(
        kek.expose(),
        &[labels::KEK_CHECK, &gen_bytes(ring, generation)],
    )
    .expose()
}

fn kek_info(ring: RingId, generation: u32, recipient: IdentityId) -> Vec<u8> {
    let mut info = Vec::with_capacity(labels::KEK_INFO.len() + 36);
    info.put(labels::KEK_INFO);
    info.put(&gen_bytes(ring, generation));
    info.put(&recipient.0);
    info
}

/// Wraps the KEK to `recipient` with HPKE (base mode, DHKEM(X25519, HKDF-SHA256),
/// HKDF-SHA256, AES-256-GCM), `info = "dkm1/kek" ‖ ring id ‖ generation ‖ recipient id`.
pub(crate) fn wrap_kek(
    kek: &Secret32,
    ring: RingId,
    generation: u32,
    recipient: &PublicIdentity,
    rng: &mut impl CryptoRng,
) -> Result<KekWrap> {
    let (enc, ct) = hpke_seal(
        recipient,
        &kek_info(ring, generation, recipient.id()),
        &[],
        kek.expose(),
        rng,
    )?;
    let ciphertext = <[u8; WRAP_CT_LEN]>::try_from(ct.as_slice()).map_err(|_| {
        Error::new(
            ErrorKind::Internal,
            "HPKE ciphertext has an unexpected length",
        )
    })?;
    Ok(KekWrap {
        recipient: recipient.id(),
        enc,
        ciphertext,
    })
}

/// Unwraps the KEK with the key holder's identity and checks it against the check value.
pub(crate) fn unwrap_kek(
    wrap: &KekWrap,
    holder: &Identity,
    ring: RingId,
    generation: u32,
    check: &[u8; 32],
) -> Result<Secret32> {
    let pt = hpke_open(
        holder,
        &wrap.enc,
        &kek_info(ring, generation, holder.id()),
        &[],
        &wrap.ciphertext,
    )?;
    let mut arr = Zeroizing::new([0u8; 32]);
    if pt.len() != 32 {
        return Err(Error::tampered());
    }
    arr.copy_from_slice(&pt);
    let kek = Secret32::from_array(&mut arr);
    let ok = subtle::ConstantTimeEq::ct_eq(&kek_check(&kek, ring, generation)[..], &check[..]);
    if !bool::from(ok) {
        return Err(Error::new(
            ErrorKind::Tampered,
            "the unwrapped KEK does not match the key state's check value",
        ));
    }
    Ok(kek)
}

fn root_key(kek: &Secret32, ring: RingId, generation: u32) -> XaesKey {
    let k = hmac_sha256(
        kek.expose(),
        &[labels::ROOT_KEY, &gen_bytes(ring, generation)],
    );
    XaesKey::new(k.expose())
}

fn root_aad(ring: RingId, epoch: u32, generation: u32, positions: &[NodePos]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(labels::ROOT_AAD.len() + 25 + 3 * positions.len());
    aad.put(labels::ROOT_AAD);
    aad.put(&ring.0);
    aad.put_u32(epoch);
    aad.put_u32(generation);
    aad.put_u8(u8::try_from(positions.len()).unwrap_or(u8::MAX));
    for p in positions {
        aad.put(&p.to_bytes());
    }
    aad
}

/// Seals an epoch's nodes under the KEK: returns (positions, sealed bytes).
pub(crate) fn seal_nodes(
    kek: &Secret32,
    ring: RingId,
    epoch: u32,
    generation: u32,
    nodes: &NodeSet,
    rng: &mut impl CryptoRng,
) -> Result<(Vec<NodePos>, Vec<u8>)> {
    let positions: Vec<NodePos> = nodes.nodes().iter().map(Node::pos).collect();
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(sealed_nodes_len(positions.len()));
    out.put(&nonce);
    let start = out.len();
    out.put(&node_secrets(nodes.nodes()));
    root_key(kek, ring, generation).encrypt_tail(
        &nonce,
        &root_aad(ring, epoch, generation, &positions),
        &mut out,
        start,
    )?;
    Ok((positions, out))
}

/// Opens an epoch's nodes.
pub(crate) fn open_nodes(
    kek: &Secret32,
    ring: RingId,
    generation: u32,
    rec: &EpochRecord,
) -> Result<NodeSet> {
    let (nonce, body) = rec
        .sealed_nodes
        .split_at_checked(NONCE_LEN)
        .ok_or(Error::malformed("sealed nodes are truncated"))?;
    let nonce: [u8; NONCE_LEN] = nonce
        .try_into()
        .map_err(|_| Error::malformed("sealed nodes are truncated"))?;
    let pt = root_key(kek, ring, generation).decrypt(
        &nonce,
        &root_aad(ring, rec.epoch, generation, &rec.positions),
        body,
    )?;
    nodes_from(&rec.positions, &pt)
}

/// HPKE base mode (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM), single shot, to
/// `recipient`'s X25519 key: returns the encapsulated key and the ciphertext.
pub(crate) fn hpke_seal(
    recipient: &PublicIdentity,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<([u8; 32], Vec<u8>)> {
    let pk = recipient.hpke_public()?;
    let (enc, ct) = hpke::single_shot_seal_with_rng::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|_| Error::new(ErrorKind::Internal, "HPKE wrap failed"))?;
    let mut enc_bytes = [0u8; 32];
    enc_bytes.copy_from_slice(&enc.to_bytes());
    Ok((enc_bytes, ct))
}

/// Opens [`hpke_seal`] with `holder`'s X25519 secret (`Tampered` on any failure).
pub(crate) fn hpke_open(
    holder: &Identity,
    enc: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let sk = holder.hpke_secret()?;
    let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(enc)
        .map_err(|_| Error::tampered())?;
    Ok(Zeroizing::new(
        hpke::single_shot_open::<AesGcm256, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk,
            &enc,
            info,
            ciphertext,
            aad,
        )
        .map_err(|_| Error::tampered())?,
    ))
}

/// The secrets of `nodes`, 32 bytes each, in order.
pub(crate) fn node_secrets(nodes: &[Node]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(32 * nodes.len()));
    for n in nodes {
        out.extend_from_slice(n.secret().expose());
    }
    out
}

/// The node set of `positions` whose secrets are `plaintext` (32 bytes each, in order);
/// `Tampered` when the lengths disagree.
pub(crate) fn nodes_from(positions: &[NodePos], plaintext: &[u8]) -> Result<NodeSet> {
    if plaintext.len() != 32 * positions.len() {
        return Err(Error::tampered());
    }
    let mut nodes = Vec::with_capacity(positions.len());
    for (pos, chunk) in positions.iter().zip(plaintext.chunks_exact(32)) {
        let mut arr = Zeroizing::new([0u8; 32]);
        arr.copy_from_slice(chunk);
        nodes.push(Node::new(*pos, Secret32::from_array(&mut arr)));
    }
    NodeSet::new(nodes)
}
