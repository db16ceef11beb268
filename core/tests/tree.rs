//! The key schedule: two independent computations agree, and covers of ranges that start and
//! end at every boundary derive exactly the covered leaves and no other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use dkm_core::tree::{LEAF_COUNT, TREE_DEPTH};
use dkm_core::{ErrorKind, Node, NodePos, NodeSet, Secret32, cover};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

fn root_bytes() -> [u8; 32] {
    let mut r = [0u8; 32];
    for (i, b) in r.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(11);
    }
    r
}

fn root() -> Node {
    Node::root(Secret32::from_array(&mut root_bytes()))
}

/// An independent leaf computation: walk the bits of the interval from the top with the
/// hmac crate directly, as docs/SPEC.md describes it.
fn reference_leaf(root: [u8; 32], interval: u16) -> [u8; 32] {
    let mut node = root;
    for depth in (0..16).rev() {
        let label: &[u8] = if (interval >> depth) & 1 == 1 {
            b"dkm1/tree/1"
        } else {
            b"dkm1/tree/0"
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&node).unwrap();
        mac.update(label);
        node = mac.finalize().into_bytes().into();
    }
    node
}

#[test]
fn library_and_reference_agree() {
    let r = root();
    for interval in [
        0u16, 1, 2, 3, 255, 256, 4095, 32767, 32768, 40000, 65534, 65535,
    ] {
        let leaf = r.derive(NodePos::leaf(interval)).unwrap();
        assert_eq!(
            leaf.secret().expose(),
            &reference_leaf(root_bytes(), interval),
            "interval {interval}"
        );
    }
}

/// Every boundary a range can start or end on: each subtree level's edges (including the
/// interval level and the epoch edges), and one step on either side of them.
fn boundaries() -> Vec<u16> {
    let mut b = vec![0u16, 1, 65534, 65535];
    for h in 1..=TREE_DEPTH {
        let size = 1u32 << h;
        for k in [1u32, 3] {
            let edge = size.wrapping_mul(k) % LEAF_COUNT;
            for d in [-1i64, 0, 1] {
                let v = i64::from(edge) + d;
                if (0..i64::from(LEAF_COUNT)).contains(&v) {
                    b.push(v as u16);
                }
            }
        }
    }
    b.sort_unstable();
    b.dedup();
    b
}

fn check_cover(first: u16, last: u16) {
    let positions = cover(first, last).unwrap();
    assert!(positions.len() <= 30, "cover of {first}..={last} too large");
    // Positions are disjoint, ascending and together exactly [first, last].
    let mut expected = u32::from(first);
    for p in &positions {
        assert_eq!(u32::from(p.first_leaf()), expected);
        expected = u32::from(p.last_leaf()) + 1;
    }
    assert_eq!(expected, u32::from(last) + 1);
    // Minimality: no two adjacent siblings (they would merge into their parent).
    for w in positions.windows(2) {
        let (a, b) = (w[0], w[1]);
        let siblings = a.level() == b.level() && a.index() % 2 == 0 && b.index() == a.index() + 1;
        assert!(!siblings, "cover of {first}..={last} is not minimal");
    }
}

#[test]
fn covers_at_every_boundary_are_exact_and_minimal() {
    let b = boundaries();
    for &first in &b {
        for &last in &b {
            if first <= last {
                check_cover(first, last);
            }
        }
    }
}

#[test]
fn cover_nodes_derive_exactly_the_covered_leaves() {
    let r = root();
    let full = NodeSet::from_root(Secret32::from_array(&mut root_bytes()));
    // Every pair of boundaries (interval, every subtree level, epoch edges), plus a few more.
    let b = boundaries();
    let mut ranges = vec![(0u16, 65535u16), (0, 0), (65535, 65535), (1, 65534)];
    for &first in &b {
        for &last in &b {
            if first <= last {
                ranges.push((first, last));
            }
        }
    }
    assert!(ranges.len() > 1000);
    for (first, last) in ranges {
        let set = full.derive_cover(first, last).unwrap();
        assert_eq!(set.ranges(), vec![(first, last)]);
        // Leaves inside: derivable and equal to the root's; the neighbours outside: refused.
        let probes = [first, last, first + (last - first) / 2];
        for i in probes {
            assert!(set.can_derive(i));
            assert_eq!(set.leaf(i).unwrap(), r.derive(NodePos::leaf(i)).unwrap());
        }
        if let Some(before) = first.checked_sub(1) {
            assert!(!set.can_derive(before));
            assert_eq!(set.leaf(before).unwrap_err().kind(), ErrorKind::UnknownKey);
        }
        if let Some(after) = last.checked_add(1) {
            assert!(!set.can_derive(after));
            assert_eq!(set.leaf(after).unwrap_err().kind(), ErrorKind::UnknownKey);
        }
    }
}

#[test]
fn small_range_exhaustive_leaf_check() {
    // For a range inside a small window, check every leaf of the window.
    let full = NodeSet::from_root(Secret32::from_array(&mut root_bytes()));
    for (first, last) in [(3u16, 12u16), (8, 15), (1, 30), (16, 16)] {
        let set = full.derive_cover(first, last).unwrap();
        for i in 0u16..64 {
            assert_eq!(set.can_derive(i), (first..=last).contains(&i), "leaf {i}");
            assert_eq!(set.leaf(i).is_ok(), (first..=last).contains(&i), "leaf {i}");
        }
    }
}

#[test]
fn node_sets_refuse_overlap_and_excess() {
    let r = root();
    let a = r.derive(NodePos::new(4, 3).unwrap()).unwrap();
    let inside = r.derive(NodePos::new(6, 13).unwrap()).unwrap();
    assert_eq!(
        NodeSet::new(vec![a.clone(), inside]).unwrap_err().kind(),
        ErrorKind::Malformed
    );
    assert_eq!(
        NodeSet::new(vec![a.clone(), a]).unwrap_err().kind(),
        ErrorKind::Malformed
    );
    assert_eq!(
        NodeSet::new(vec![]).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let many: Vec<Node> = (0..33u16)
        .map(|i| r.derive(NodePos::leaf(i * 2)).unwrap())
        .collect();
    assert_eq!(NodeSet::new(many).unwrap_err().kind(), ErrorKind::TooLarge);
}

#[test]
fn a_node_derives_nothing_outside_its_subtree() {
    let r = root();
    let n = r.derive(NodePos::new(8, 77).unwrap()).unwrap();
    assert!(n.derive(NodePos::leaf(n.pos().first_leaf() - 1)).is_err());
    assert!(n.derive(NodePos::leaf(n.pos().last_leaf() + 1)).is_err());
    assert!(n.derive(NodePos::new(7, 38).unwrap()).is_err()); // its parent
    assert!(n.derive(NodePos::leaf(n.pos().last_leaf())).is_ok());
}
