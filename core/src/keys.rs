//! Keys derived from a leaf, key ids, and an epoch's key material with a leaf cache.
//!
//! From the leaf of interval `i` of epoch `e` of ring `r`, with `key id = r ‖ e ‖ i`:
//! the sealing key (XAES-256-GCM), the commit key, the seal-only X25519 key pair and a MAC
//! key, each from `HMAC-SHA-256(leaf, label ‖ 0x00 ‖ key id)` under its own label
//! ([`crate::labels`]).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};

use crate::encoding::Reader;
use crate::error::{Error, ErrorKind, Result};
use crate::identity::check_x25519_public;
use crate::labels;
use crate::sealed::CommitKey;
use crate::secret::Secret32;
use crate::tree::{Node, NodePos, NodeSet, Schedule, TREE_DEPTH, hmac_sha256};
use crate::xaes::XaesKey;

/// Length of a ring id.
pub const RING_ID_LEN: usize = 16;
/// Length of an encoded key id.
pub const KEY_ID_LEN: usize = RING_ID_LEN + 4 + 2;

/// A ring's 128-bit identifier.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RingId(pub [u8; RING_ID_LEN]);

impl RingId {
    /// A fresh random ring id.
    pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
        let mut b = [0u8; RING_ID_LEN];
        rng.fill_bytes(&mut b);
        RingId(b)
    }
}

impl fmt::Debug for RingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RingId({self})")
    }
}

impl fmt::Display for RingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::encoding::write_hex(f, &self.0)
    }
}

/// Names the key of one interval of one epoch of one ring. Authenticated in every sealed
/// secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId {
    /// The ring.
    pub ring: RingId,
    /// The epoch number.
    pub epoch: u32,
    /// The interval (leaf index) within the epoch.
    pub interval: u16,
}

impl KeyId {
    /// `ring id (16) ‖ epoch (u32 BE) ‖ interval (u16 BE)`.
    pub fn to_bytes(&self) -> [u8; KEY_ID_LEN] {
        let mut out = [0u8; KEY_ID_LEN];
        let (r, rest) = out.split_at_mut(RING_ID_LEN);
        r.copy_from_slice(&self.ring.0);
        let (e, i) = rest.split_at_mut(4);
        e.copy_from_slice(&self.epoch.to_be_bytes());
        i.copy_from_slice(&self.interval.to_be_bytes());
        out
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(KeyId {
            ring: RingId(r.array()?),
            epoch: r.u32()?,
            interval: r.u16()?,
        })
    }

    /// Strict inverse of [`KeyId::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let id = KeyId::read(&mut r)?;
        r.finish()?;
        Ok(id)
    }
}

/// The keys of one interval: sealing key, commit key, the seed of the seal-only key pair and
/// a MAC key.
/// Zeroized on drop, never printed.
pub struct IntervalKeys {
    id: KeyId,
    pub(crate) xaes: XaesKey,
    pub(crate) commit: CommitKey,
    seal_only_ikm: Secret32,
    mac: Secret32,
}

impl fmt::Debug for IntervalKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntervalKeys")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl IntervalKeys {
    /// Derives the keys of `id` from its leaf. Refuses a node that is not the leaf of
    /// `id.interval`.
    pub fn from_leaf(leaf: &Node, id: KeyId) -> Result<Self> {
        if leaf.pos() != NodePos::leaf(id.interval) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "this node is not the leaf of the key id's interval",
            ));
        }
        let kid = id.to_bytes();
        let l = leaf.secret().expose();
        let seal = hmac_sha256(l, &[labels::LEAF_SEAL, &[0], &kid]);
        Ok(IntervalKeys {
            id,
            xaes: XaesKey::new(seal.expose()),
            commit: CommitKey::new(&hmac_sha256(l, &[labels::LEAF_COMMIT, &[0], &kid]))?,
            seal_only_ikm: hmac_sha256(l, &[labels::LEAF_SEAL_ONLY, &[0], &kid]),
            mac: hmac_sha256(l, &[labels::LEAF_MAC, &[0], &kid]),
        })
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// This interval's MAC key (HMAC-SHA-256 key for the ring layer's MACs; no v1 format
    /// uses it yet). Handle with care: it is secret.
    pub fn mac_key(&self) -> &Secret32 {
        &self.mac
    }

    pub(crate) fn seal_only_secret(&self) -> <X25519HkdfSha256 as Kem>::PrivateKey {
        X25519HkdfSha256::derive_keypair(self.seal_only_ikm.expose()).0
    }

    /// The public half of this interval's seal-only key pair, which key holders publish.
    pub fn seal_only_key(&self) -> SealOnlyKey {
        let (_, pk) = X25519HkdfSha256::derive_keypair(self.seal_only_ikm.expose());
        let mut public = [0u8; 32];
        public.copy_from_slice(&pk.to_bytes());
        SealOnlyKey {
            id: self.id,
            public,
        }
    }
}

/// A published seal-only public key: anyone holding it can seal to the interval it names;
/// only holders of that interval's leaf can unseal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealOnlyKey {
    id: KeyId,
    public: [u8; 32],
}

impl SealOnlyKey {
    /// Length of the encoded form.
    pub const ENCODED_LEN: usize = KEY_ID_LEN + 32;

    /// From a key id and a 32-byte X25519 public key. Refuses a non-canonical or low-order
    /// key ([`crate::identity::check_x25519_public`]).
    pub fn new(id: KeyId, public: [u8; 32]) -> Result<Self> {
        check_x25519_public(&public)?;
        Ok(SealOnlyKey { id, public })
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The X25519 public key.
    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }

    pub(crate) fn hpke_public(&self) -> Result<<X25519HkdfSha256 as Kem>::PublicKey> {
        <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&self.public).map_err(|_| {
            Error::malformed("X25519 public key has the wrong length: it must be 32 bytes")
        })
    }

    /// `key id (22) ‖ X25519 public key (32)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::ENCODED_LEN);
        v.extend_from_slice(&self.id.to_bytes());
        v.extend_from_slice(&self.public);
        v
    }

    /// Strict inverse of [`SealOnlyKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let id = KeyId::read(&mut r)?;
        let public = r.array()?;
        r.finish()?;
        SealOnlyKey::new(id, public)
    }
}

/// Default number of intervals whose keys an [`EpochKeys`] keeps derived.
pub const DEFAULT_CACHE: usize = 8;

/// The key material of one epoch a holder has: the root, or the nodes of a cover (after
/// shredding, or in a grant), with its schedule and a small most-recently-used cache of
/// derived interval keys, so sealing or unsealing in a current or recent interval costs no
/// tree walk. Keys are handed out as `Arc`s: a multi-threaded host locks the `EpochKeys` only
/// for the lookup, not for the sealing itself.
pub struct EpochKeys {
    ring: RingId,
    epoch: u32,
    schedule: Schedule,
    nodes: NodeSet,
    cache: Vec<Arc<IntervalKeys>>,
    cache_cap: usize,
}

impl fmt::Debug for EpochKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpochKeys")
            .field("ring", &self.ring)
            .field("epoch", &self.epoch)
            .field("schedule", &self.schedule)
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

impl EpochKeys {
    /// Key material of epoch `epoch` of `ring`: the nodes held and the schedule.
    pub fn new(ring: RingId, epoch: u32, schedule: Schedule, nodes: NodeSet) -> Self {
        EpochKeys {
            ring,
            epoch,
            schedule,
            nodes,
            cache: Vec::with_capacity(DEFAULT_CACHE),
            cache_cap: DEFAULT_CACHE,
        }
    }

    /// Sets how many intervals' keys stay derived (at least 1).
    pub fn set_cache_capacity(&mut self, cap: usize) {
        self.cache_cap = cap.max(1);
        self.cache.truncate(self.cache_cap);
        self.cache
            .reserve_exact(self.cache_cap.saturating_sub(self.cache.len()));
    }

    /// The ring.
    pub fn ring(&self) -> RingId {
        self.ring
    }

    /// The epoch number.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The schedule.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The nodes held.
    pub fn nodes(&self) -> &NodeSet {
        &self.nodes
    }

    /// The key id of the interval holding time `now`.
    pub fn key_id_at(&self, now: u64) -> Result<KeyId> {
        Ok(KeyId {
            ring: self.ring,
            epoch: self.epoch,
            interval: self.schedule.interval_at(now)?,
        })
    }

    /// The keys of `interval`, from the cache or by a tree walk.
    pub fn interval_keys(&mut self, interval: u16) -> Result<Arc<IntervalKeys>> {
        let id = KeyId {
            ring: self.ring,
            epoch: self.epoch,
            interval,
        };
        if let Some(pos) = self.cache.iter().position(|k| k.id == id) {
            // Most recently used first.
            if let Some(recent) = self.cache.get_mut(..=pos) {
                recent.rotate_right(1);
            }
        } else {
            let leaf = self.nodes.leaf(interval)?;
            debug_assert_eq!(leaf.pos().level(), TREE_DEPTH);
            let keys = Arc::new(IntervalKeys::from_leaf(&leaf, id)?);
            if self.cache.len() >= self.cache_cap {
                self.cache.truncate(self.cache_cap.saturating_sub(1));
            }
            self.cache.insert(0, keys);
        }
        self.cache.first().cloned().ok_or(Error::new(
            ErrorKind::Internal,
            "key cache is empty after insertion",
        ))
    }

    /// The keys of the interval holding `now`, to seal with.
    pub fn keys_at(&mut self, now: u64) -> Result<Arc<IntervalKeys>> {
        let interval = self.schedule.interval_at(now)?;
        self.interval_keys(interval)
    }

    /// Whether the keys of `interval` are currently cached.
    pub fn is_cached(&self, interval: u16) -> bool {
        self.cache.iter().any(|k| k.id.interval == interval)
    }

    /// The keys for a sealed secret's key id; [`ErrorKind::UnknownKey`] when it names another
    /// ring or epoch or an interval these nodes cannot derive.
    pub fn keys_for(&mut self, id: &KeyId) -> Result<Arc<IntervalKeys>> {
        if id.ring != self.ring || id.epoch != self.epoch {
            return Err(Error::new(
                ErrorKind::UnknownKey,
                "the sealed secret names another ring or epoch than this key material",
            ));
        }
        self.interval_keys(id.interval)
    }
}
