//! The key schedule: per epoch a GGM binary tree (a puncturable PRF) of depth 16 whose leaves
//! are consecutive time intervals.
//!
//! A node's children are `HMAC-SHA-256(node, "dkm1/tree/0")` (left) and
//! `HMAC-SHA-256(node, "dkm1/tree/1")` (right). The root is the epoch's random 256-bit secret;
//! leaf `i` (level 16, index `i`) is the key material of interval `i`, which starts at
//! `start + i * interval_secs`. No node is used as a key directly: see [`crate::keys`].
//!
//! Holding a node means being able to derive exactly the leaves below it. A set of nodes
//! ([`NodeSet`]) derives the union of their subtrees and nothing else; [`cover`] gives the
//! minimal set of node positions whose subtrees are exactly a range of intervals.

use alloc::vec::Vec;
use core::fmt;

use hmac::digest::FixedOutput;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::encoding::Reader;
use crate::error::{Error, ErrorKind, Result};
use crate::labels;
use crate::secret::Secret32;

/// Depth of every epoch tree: leaves are at level 16.
pub const TREE_DEPTH: u8 = 16;
/// Number of leaves (intervals) in an epoch.
pub const LEAF_COUNT: u32 = 1 << TREE_DEPTH;
/// Most nodes a [`NodeSet`] may hold. A minimal cover of any range has at most 30.
pub const MAX_NODES: usize = 32;
/// Longest interval: 2^32 - 1 seconds.
pub const MAX_INTERVAL_SECS: u64 = u32::MAX as u64;
/// Latest epoch start (Unix seconds): 2^62, so every interval boundary fits in a `u64`.
pub const MAX_START: u64 = 1 << 62;

const OUT_OF_TREE: Error = Error::new(
    ErrorKind::OutOfRange,
    "node position outside the tree: level must be at most 16 and index below 2^level",
);

/// `HMAC-SHA-256(key, parts[0] ‖ parts[1] ‖ ...)` into a fresh secret.
pub(crate) fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> Secret32 {
    Secret32::fill_with(|out| {
        // HMAC accepts keys of any length, so this cannot fail; the fallback keeps it total.
        if let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
            for p in parts {
                mac.update(p);
            }
            // Straight into the secret's own memory: no stack temporary to leave behind.
            mac.finalize_into(out.into());
        }
    })
}

/// The position of a node: `level` 0 (root) to 16 (leaves), `index` below `2^level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodePos {
    level: u8,
    index: u16,
}

impl NodePos {
    /// The root.
    pub const ROOT: NodePos = NodePos { level: 0, index: 0 };

    /// A checked position.
    pub fn new(level: u8, index: u16) -> Result<Self> {
        if level > TREE_DEPTH || u32::from(index) >= (1u32 << level) {
            return Err(OUT_OF_TREE);
        }
        Ok(NodePos { level, index })
    }

    /// The leaf of interval `interval`.
    pub const fn leaf(interval: u16) -> Self {
        NodePos {
            level: TREE_DEPTH,
            index: interval,
        }
    }

    /// Level (0 = root, 16 = leaf).
    pub const fn level(self) -> u8 {
        self.level
    }

    /// Index within its level.
    pub const fn index(self) -> u16 {
        self.index
    }

    fn height(self) -> u32 {
        u32::from(TREE_DEPTH.saturating_sub(self.level))
    }

    /// First interval below this node.
    pub fn first_leaf(self) -> u16 {
        ((u32::from(self.index) << self.height()) & 0xffff) as u16
    }

    /// Last interval below this node.
    pub fn last_leaf(self) -> u16 {
        let h = self.height();
        let last = ((u32::from(self.index) + 1) << h).saturating_sub(1);
        (last & 0xffff) as u16
    }

    /// Whether `other` is this node or below it.
    pub fn covers(self, other: NodePos) -> bool {
        other.level >= self.level
            && (u32::from(other.index) >> (other.level - self.level)) == u32::from(self.index)
    }

    /// Canonical encoding: `level (u8) ‖ index (u16, big-endian)`.
    pub fn to_bytes(self) -> [u8; 3] {
        let i = self.index.to_be_bytes();
        [self.level, i[0], i[1]]
    }

    /// Strict inverse of [`NodePos::to_bytes`].
    pub fn from_bytes(bytes: &[u8; 3]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let level = r.u8()?;
        let index = r.u16()?;
        r.finish()?;
        NodePos::new(level, index)
    }
}

/// A tree node: its position and its 32-byte secret. Zeroized on drop; `Debug` shows the
/// position only.
#[derive(Clone, PartialEq, Eq)]
pub struct Node {
    pos: NodePos,
    secret: Secret32,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Node { pos, secret: _ } = self;
        f.debug_struct("Node")
            .field("pos", pos)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Node {
    /// The root of an epoch tree.
    pub fn root(secret: Secret32) -> Self {
        Node {
            pos: NodePos::ROOT,
            secret,
        }
    }

    /// A node at `pos` holding `secret` (as received in a cover or grant).
    pub fn new(pos: NodePos, secret: Secret32) -> Self {
        Node { pos, secret }
    }

    /// Its position.
    pub fn pos(&self) -> NodePos {
        self.pos
    }

    /// Its secret.
    pub fn secret(&self) -> &Secret32 {
        &self.secret
    }

    fn child(&self, right: bool) -> Node {
        let label = if right {
            labels::TREE_RIGHT
        } else {
            labels::TREE_LEFT
        };
        Node {
            pos: NodePos {
                level: self.pos.level.saturating_add(1),
                index: ((u32::from(self.pos.index) << 1 | u32::from(right)) & 0xffff) as u16,
            },
            secret: hmac_sha256(self.secret.expose(), &[label]),
        }
    }

    /// The node at `target`, if `target` is this node or below it.
    pub fn derive(&self, target: NodePos) -> Result<Node> {
        if !self.pos.covers(target) {
            return Err(Error::new(
                ErrorKind::UnknownKey,
                "the requested node is not below any node held: this key material cannot derive it",
            ));
        }
        let mut node = self.clone();
        for level in (self.pos.level + 1)..=target.level {
            let bit = (u32::from(target.index) >> (target.level - level)) & 1 == 1;
            node = node.child(bit);
        }
        Ok(node)
    }
}

/// The minimal set of node positions whose subtrees together are exactly the intervals
/// `first..=last`, in ascending order. At most 30 nodes.
pub fn cover(first: u16, last: u16) -> Result<Vec<NodePos>> {
    if first > last {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "empty interval range: the first interval must not be after the last",
        ));
    }
    let mut out = Vec::new();
    let mut lo = u32::from(first);
    let hi = u32::from(last) + 1; // exclusive, at most 2^16
    while lo < hi {
        let mut h = if lo == 0 {
            u32::from(TREE_DEPTH)
        } else {
            lo.trailing_zeros().min(u32::from(TREE_DEPTH))
        };
        while lo + (1 << h) > hi {
            h -= 1;
        }
        let level = (u32::from(TREE_DEPTH) - h) as u8;
        out.push(NodePos {
            level,
            index: ((lo >> h) & 0xffff) as u16,
        });
        lo += 1 << h;
    }
    Ok(out)
}

/// A set of non-overlapping nodes of one epoch tree: it derives the leaves below its nodes
/// and nothing else.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeSet {
    nodes: Vec<Node>,
}

impl fmt::Debug for NodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.nodes.iter().map(|n| n.pos))
            .finish()
    }
}

impl NodeSet {
    /// The whole tree.
    pub fn from_root(root: Secret32) -> Self {
        NodeSet {
            nodes: alloc::vec![Node::root(root)],
        }
    }

    /// A set of nodes. Refuses an empty set, more than [`MAX_NODES`], and nodes that overlap
    /// (one inside another, or the same position twice). Sorted by position.
    pub fn new(mut nodes: Vec<Node>) -> Result<Self> {
        if nodes.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a node set needs at least one node",
            ));
        }
        if nodes.len() > MAX_NODES {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "too many nodes: a node set holds at most 32",
            ));
        }
        nodes.sort_by_key(|n| (n.pos.first_leaf(), n.pos.level));
        for pair in nodes.windows(2) {
            if let [a, b] = pair
                && a.pos.last_leaf() >= b.pos.first_leaf()
            {
                return Err(Error::malformed(
                    "overlapping nodes: a node set must not hold a node and its descendant or the same node twice",
                ));
            }
        }
        Ok(NodeSet { nodes })
    }

    /// The nodes a range's minimal cover needs, derived from this set.
    pub fn derive_cover(&self, first: u16, last: u16) -> Result<NodeSet> {
        let mut out = Vec::new();
        for pos in cover(first, last)? {
            out.push(self.derive(pos)?);
        }
        NodeSet::new(out)
    }

    /// The node at `pos`, if some node of the set is at or above it.
    pub fn derive(&self, pos: NodePos) -> Result<Node> {
        match self.nodes.iter().find(|n| n.pos.covers(pos)) {
            Some(n) => n.derive(pos),
            None => Err(Error::new(
                ErrorKind::UnknownKey,
                "this interval is not derivable from the key material held",
            )),
        }
    }

    /// The leaf of `interval`.
    pub fn leaf(&self, interval: u16) -> Result<Node> {
        self.derive(NodePos::leaf(interval))
    }

    /// Whether the leaf of `interval` is derivable.
    pub fn can_derive(&self, interval: u16) -> bool {
        let leaf = NodePos::leaf(interval);
        self.nodes.iter().any(|n| n.pos.covers(leaf))
    }

    /// The derivable intervals as ascending, merged inclusive ranges.
    pub fn ranges(&self) -> Vec<(u16, u16)> {
        let mut out: Vec<(u16, u16)> = Vec::new();
        for n in &self.nodes {
            let (a, b) = (n.pos.first_leaf(), n.pos.last_leaf());
            match out.last_mut() {
                Some(last) if u32::from(last.1) + 1 == u32::from(a) => last.1 = b,
                _ => out.push((a, b)),
            }
        }
        out
    }

    /// The nodes, sorted.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }
}

/// When an epoch's intervals fall: interval `i` is `[start + i*interval_secs, start +
/// (i+1)*interval_secs)` in Unix seconds, for `i` below 65,536.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    start: u64,
    interval_secs: u64,
}

impl Schedule {
    /// A schedule starting at `start` (Unix seconds, at most 2^62) with intervals of
    /// `interval_secs` (1 to 2^32 - 1 seconds).
    pub fn new(start: u64, interval_secs: u64) -> Result<Self> {
        if interval_secs == 0 || interval_secs > MAX_INTERVAL_SECS || start > MAX_START {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "invalid schedule: the interval must be 1 to 4294967295 seconds and the start at most 2^62",
            ));
        }
        Ok(Schedule {
            start,
            interval_secs,
        })
    }

    /// Start of interval 0.
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// Length of each interval in seconds.
    pub const fn interval_secs(&self) -> u64 {
        self.interval_secs
    }

    /// First second after the last interval.
    pub fn end(&self) -> u64 {
        // start <= 2^62 and interval * 2^16 < 2^48: no overflow.
        self.start
            .saturating_add(self.interval_secs.saturating_mul(u64::from(LEAF_COUNT)))
    }

    /// The interval holding time `t`.
    pub fn interval_at(&self, t: u64) -> Result<u16> {
        if t < self.start {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                "time is before the epoch's start: check the clock or use an earlier epoch",
            ));
        }
        let i = (t - self.start) / self.interval_secs;
        u16::try_from(i).map_err(|_| {
            Error::new(
                ErrorKind::OutOfRange,
                "time is past the epoch's last interval: roll to a new epoch",
            )
        })
    }

    /// Start of interval `i`.
    pub fn interval_start(&self, i: u16) -> u64 {
        self.start
            .saturating_add(self.interval_secs.saturating_mul(u64::from(i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Secret32 {
        Secret32::from_array(&mut [42u8; 32])
    }

    #[test]
    fn positions() {
        assert!(NodePos::new(17, 0).is_err());
        assert!(NodePos::new(3, 8).is_err());
        let p = NodePos::new(3, 5).unwrap();
        assert_eq!(p.first_leaf(), 5 << 13);
        assert_eq!(p.last_leaf(), (6 << 13) - 1);
        assert_eq!(NodePos::ROOT.last_leaf(), u16::MAX);
        assert_eq!(NodePos::from_bytes(&p.to_bytes()).unwrap(), p);
        assert!(NodePos::from_bytes(&[2, 0, 4]).is_err());
    }

    #[test]
    fn derive_is_path_independent() {
        let r = Node::root(root());
        let leaf = r.derive(NodePos::leaf(12345)).unwrap();
        let mid = r.derive(NodePos::new(5, 12345 >> 11).unwrap()).unwrap();
        assert_eq!(mid.derive(NodePos::leaf(12345)).unwrap(), leaf);
        assert!(mid.derive(NodePos::leaf(0)).is_err());
    }

    #[test]
    fn cover_examples() {
        assert_eq!(cover(0, u16::MAX).unwrap(), alloc::vec![NodePos::ROOT]);
        assert_eq!(cover(7, 7).unwrap(), alloc::vec![NodePos::leaf(7)]);
        assert_eq!(cover(1, u16::MAX - 1).unwrap().len(), 30);
        assert!(cover(3, 2).is_err());
    }

    #[test]
    fn schedule_bounds() {
        let s = Schedule::new(1000, 10).unwrap();
        assert!(s.interval_at(999).is_err());
        assert_eq!(s.interval_at(1000).unwrap(), 0);
        assert_eq!(s.interval_at(1019).unwrap(), 1);
        assert_eq!(s.interval_at(s.end() - 1).unwrap(), u16::MAX);
        assert!(s.interval_at(s.end()).is_err());
        assert!(Schedule::new(0, 0).is_err());
        assert!(Schedule::new(MAX_START + 1, 1).is_err());
        assert!(Schedule::new(0, MAX_INTERVAL_SECS + 1).is_err());
        let far = Schedule::new(MAX_START, MAX_INTERVAL_SECS).unwrap();
        assert_eq!(
            far.interval_at(u64::MAX).unwrap_err().kind(),
            ErrorKind::OutOfRange
        );
        assert_eq!(far.interval_at(far.end() - 1).unwrap(), u16::MAX);
    }
}
