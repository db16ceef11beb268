//! Attacks and defects found in review, kept as regression tests: a removed key holder re-signing an old
//! key state, and a single admin making a second identity of its own a key holder by writing
//! the store directly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use chacha20::ChaCha20Rng;
use dkm_core::rand_core::SeedableRng;
use dkm_core::ring::{Anchor, ApprovalLevel, GovRef, Member};
use dkm_core::{
    Error, ErrorKind, Identity, KeyHolder, Pin, Policy, QuorumCheck, QuorumQuery, Result, Ring,
    Role,
};

const START: u64 = 1_767_225_600;
const NO: (Anchor, Anchor) = (Anchor::EMPTY, Anchor::EMPTY);

/// Approves exactly the registered content hashes (a test stand-in for the approval objects of
/// elevated access).
struct Allow(Vec<[u8; 32]>);
impl QuorumCheck for Allow {
    fn check(&self, q: &QuorumQuery<'_>) -> Result<()> {
        if self.0.contains(&q.content_hash) {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::PolicyUnsatisfied, "not approved"))
        }
    }
}

/// The blob of `ring` with its key-state record replaced by `ks`.
fn replace_ks(ring: &Ring, ks: &[u8]) -> Vec<u8> {
    let blob = ring.to_bytes();
    let old = ring.key_state().unwrap().as_bytes().len();
    let mut out = blob[..blob.len() - old - 5].to_vec();
    out.push(1);
    out.extend_from_slice(&(ks.len() as u32).to_be_bytes());
    out.extend_from_slice(ks);
    out
}

/// `blob` with one more governance record appended to its chain.
fn append_governance(blob: &[u8], record: &[u8]) -> Vec<u8> {
    let n = blob[21] as usize;
    let mut at = 22;
    for _ in 0..n {
        let len = u32::from_be_bytes(blob[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + len;
    }
    let mut out = blob[..at].to_vec();
    out[21] += 1;
    out.extend_from_slice(&(record.len() as u32).to_be_bytes());
    out.extend_from_slice(record);
    out.extend_from_slice(&blob[at..]);
    out
}

#[test]
fn removed_holder_cannot_rebind_an_older_governance() {
    let mut rng = ChaCha20Rng::from_seed([7; 32]);
    let admin = Identity::generate(&mut rng);
    let h = Identity::generate(&mut rng);
    let r = Identity::generate(&mut rng);
    let p = Identity::generate(&mut rng);
    let members = [
        Member {
            role: Role::Service,
            identity: h.public().clone(),
        },
        Member {
            role: Role::Service,
            identity: r.public().clone(),
        },
        Member {
            role: Role::Approver,
            identity: p.public().clone(),
        },
    ];
    let (ring, _) = Ring::create("x", Policy::default(), &admin, &members, &mut rng).unwrap();
    let first_use = Pin::new(ring.id(), vec![admin.public().clone()]);
    let mut hh = KeyHolder::open(ring, &h).unwrap();
    hh.maintain(&h, START, &mut rng, &Allow(vec![]), NO)
        .unwrap();
    // v2: first approval policy (bootstrap: the admin alone).
    let mut ring = hh.into_ring();
    let mut d = ring.draft();
    d.policy.levels = vec![ApprovalLevel {
        name: "l".into(),
        quorum: 1,
        approvers: vec![p.id()],
    }];
    ring.apply_governance(d, &admin, &Allow(vec![]), START)
        .unwrap();
    // v3: an approved policy change.
    let mut d = ring.draft();
    d.policy.max_grant_secs = 3600;
    let approved = Allow(vec![d.content_hash()]);
    ring.apply_governance(d, &admin, &approved, START + 2)
        .unwrap();
    let ring = Ring::load_with(&ring.to_bytes(), &first_use, &approved).unwrap();
    let mut hh = KeyHolder::open(ring, &h).unwrap();
    hh.maintain(&h, START + 3, &mut rng, &approved, NO).unwrap();
    let ring = hh.into_ring();
    let before_removal = ring.key_state().unwrap().key_state().clone();
    assert_eq!(before_removal.governance.version, 3);
    // v4 removes R (no quorum needed); the honest key holder carries it out.
    let mut ring = ring;
    let mut d = ring.draft();
    d.remove_member(r.public()).unwrap();
    ring.apply_governance(d, &admin, &approved, START + 4)
        .unwrap();
    let ring = Ring::load_with(&ring.to_bytes(), &first_use, &approved).unwrap();
    let mut hh = KeyHolder::open(ring, &h).unwrap();
    hh.maintain(&h, START + 5, &mut rng, &approved, NO).unwrap();
    let ring = hh.into_ring();
    let pin_h = ring.pin();
    assert_eq!(
        KeyHolder::open(ring.clone(), &r).unwrap_err().kind(),
        ErrorKind::NotAMember
    );

    // R re-signs its last key state, bound to v2 or v3, with a higher version.
    for bound in [2u64, 3] {
        let g = ring.history().find(|g| g.version() == bound).unwrap();
        let mut forged = before_removal.clone();
        forged.version = ring.key_state().unwrap().key_state().version + 1;
        forged.governance = GovRef {
            version: bound,
            hash: g.hash(),
        };
        if bound == 2 {
            forged.fresh_until = forged.write_time + 2 * 86_400;
        }
        let Ok(signed) = forged.sign(&r) else {
            continue;
        };
        let blob = replace_ks(&ring, signed.as_bytes());
        // A host that saw the removal carried out refuses it.
        assert_eq!(
            Ring::load_with(&blob, &pin_h, &approved)
                .unwrap_err()
                .kind(),
            ErrorKind::Rollback
        );
        // A host that never saw it accepts the bytes, but the ring is pending: nobody seals
        // until a key holder's maintain carries out the removal again.
        if let Ok(loaded) = Ring::load_with(&blob, &first_use, &approved) {
            assert!(loaded.is_pending());
            let mut hh = KeyHolder::open(loaded, &h).unwrap();
            assert_eq!(
                hh.seal(START + 6, b"x", b"", &mut rng).unwrap_err().kind(),
                ErrorKind::Stale
            );
            hh.maintain(&h, START + 6, &mut rng, &approved, NO).unwrap();
            let s = hh.seal(START + 7, b"top secret", b"", &mut rng).unwrap();
            let after = Ring::load_with(&hh.ring().to_bytes(), &first_use, &approved).unwrap();
            assert_eq!(
                KeyHolder::open(after.clone(), &r).unwrap_err().kind(),
                ErrorKind::NotAMember
            );
            assert!(KeyHolder::open(after, &h).unwrap().unseal(&s, b"").is_ok());
        }
    }
}

#[test]
fn single_admin_cannot_make_a_puppet_a_key_holder_by_writing_the_store() {
    let mut rng = ChaCha20Rng::from_seed([8; 32]);
    let admin = Identity::generate(&mut rng);
    let h = Identity::generate(&mut rng);
    let p = Identity::generate(&mut rng);
    let puppet = Identity::generate(&mut rng);
    let members = [
        Member {
            role: Role::Service,
            identity: h.public().clone(),
        },
        Member {
            role: Role::Approver,
            identity: p.public().clone(),
        },
    ];
    let policy = Policy {
        levels: vec![ApprovalLevel {
            name: "l".into(),
            quorum: 1,
            approvers: vec![p.id()],
        }],
        ..Policy::default()
    };
    let (ring, _) = Ring::create("x", policy, &admin, &members, &mut rng).unwrap();
    let pin = Pin::new(ring.id(), vec![admin.public().clone()]);
    let mut hh = KeyHolder::open(ring, &h).unwrap();
    hh.maintain(&h, START, &mut rng, &Allow(vec![]), NO)
        .unwrap();
    let ring = hh.into_ring();
    let pinned = Ring::load(&ring.to_bytes(), &pin).unwrap().pin();

    let mut d = ring.draft();
    d.add_member(Role::Service, puppet.public().clone())
        .unwrap();
    // The tool refuses, so the admin signs and writes the record itself.
    let mut r2 = ring.clone();
    assert_eq!(
        r2.apply_governance(d.clone(), &admin, &Allow(vec![]), START + 1)
            .unwrap_err()
            .kind(),
        ErrorKind::PolicyUnsatisfied
    );
    let record = d.clone().sign(&admin).unwrap();
    let blob = append_governance(&ring.to_bytes(), record.as_bytes());
    for pin in [&pin, &pinned] {
        assert_eq!(
            Ring::load(&blob, pin).unwrap_err().kind(),
            ErrorKind::PolicyUnsatisfied
        );
    }
    // With a key state the puppet signed (its own KEK, wrapped to everyone) as well.
    let Some(ks) = ring.key_state() else {
        unreachable!()
    };
    let mut forged = ks.key_state().clone();
    forged.version += 1;
    forged.governance = GovRef {
        version: record.version(),
        hash: record.hash(),
    };
    let signed = forged.sign(&puppet).unwrap();
    let blob2 = append_governance(&replace_ks(&ring, signed.as_bytes()), record.as_bytes());
    // (Its wraps do not match the key holders it claims, so the key-state check may refuse it
    // first; either way nothing loads.)
    for pin in [&pin, &pinned] {
        let kind = Ring::load(&blob2, pin).unwrap_err().kind();
        assert!(
            matches!(kind, ErrorKind::PolicyUnsatisfied | ErrorKind::Tampered),
            "{kind:?}"
        );
    }
    // Honest key holders carry nothing out: the puppet never gets a wrap.
    let mut hh = KeyHolder::open(Ring::load(&ring.to_bytes(), &pinned).unwrap(), &h).unwrap();
    let m = hh
        .maintain(&h, START + 2, &mut rng, &Allow(vec![]), NO)
        .unwrap();
    assert!(!m.written);
    assert_eq!(
        KeyHolder::open(hh.into_ring(), &puppet).unwrap_err().kind(),
        ErrorKind::NotAMember
    );
}

fn bootstrap_ring(seed: u8) -> (ChaCha20Rng, Identity, Identity, Ring, Pin) {
    let mut rng = ChaCha20Rng::from_seed([seed; 32]);
    let admin = Identity::generate(&mut rng);
    let h = Identity::generate(&mut rng);
    let members = [Member {
        role: Role::Service,
        identity: h.public().clone(),
    }];
    let (ring, _) = Ring::create("x", Policy::default(), &admin, &members, &mut rng).unwrap();
    let pin = Pin::new(ring.id(), vec![admin.public().clone()]);
    let mut kh = KeyHolder::open(ring, &h).unwrap();
    kh.maintain(&h, START, &mut rng, &Allow(vec![]), NO)
        .unwrap();
    let ring = Ring::load(&kh.ring().to_bytes(), &pin).unwrap();
    (rng, admin, h, ring, pin)
}

#[test]
fn versions_never_wrap() {
    let (_, admin, _, ring, _) = bootstrap_ring(20);
    let mut d = ring.draft();
    d.version = u64::MAX;
    assert_eq!(d.sign(&admin).unwrap_err().kind(), ErrorKind::Malformed);
    let mut d = ring.draft();
    d.version = (1 << 62) + 1;
    assert_eq!(d.sign(&admin).unwrap_err().kind(), ErrorKind::Malformed);
    let mut ks = ring.key_state().unwrap().key_state().clone();
    ks.version = u64::MAX;
    let (_, _, h, _, _) = bootstrap_ring(20);
    assert_eq!(ks.sign(&h).unwrap_err().kind(), ErrorKind::Malformed);
}

#[test]
fn an_approval_policy_once_set_is_never_dropped() {
    let (mut rng, admin, _, mut ring, _) = bootstrap_ring(21);
    let p = Identity::generate(&mut rng);
    let mut d = ring.draft();
    d.add_member(Role::Approver, p.public().clone()).unwrap();
    d.policy.levels = vec![ApprovalLevel {
        name: "l".into(),
        quorum: 1,
        approvers: vec![p.id()],
    }];
    ring.apply_governance(d, &admin, &Allow(vec![]), START)
        .unwrap();
    let mut d = ring.draft();
    d.policy.levels.clear();
    let approved = Allow(vec![d.content_hash()]);
    assert_eq!(
        ring.apply_governance(d, &admin, &approved, START)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn a_key_holder_removed_by_a_later_version_carries_out_the_earlier_one() {
    let (mut rng, admin, h, mut ring, pin) = bootstrap_ring(22);
    let n = Identity::generate(&mut rng);
    let mut d = ring.draft();
    d.add_member(Role::Service, n.public().clone()).unwrap();
    ring.apply_governance(d, &admin, &Allow(vec![]), START)
        .unwrap();
    // The admin's tool refuses to drop every key holder in force at once...
    let mut d = ring.draft();
    d.remove_member(h.public()).unwrap();
    assert_eq!(
        ring.clone()
            .apply_governance(d.clone(), &admin, &Allow(vec![]), START)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    // ...but a hand-signed one still cannot lock the ring: H carries out v2 (wrapping the
    // KEK to N), then N carries out v3.
    let record = d.sign(&admin).unwrap();
    let blob = append_governance(&ring.to_bytes(), record.as_bytes());
    let ring = Ring::load(&blob, &pin).unwrap();
    assert_eq!(
        KeyHolder::open(ring.clone(), &n).unwrap_err().kind(),
        ErrorKind::NotAMember
    );
    let mut kh = KeyHolder::open(ring, &h).unwrap();
    let m = kh
        .maintain(&h, START + 1, &mut rng, &Allow(vec![]), NO)
        .unwrap();
    assert!(
        m.events
            .contains(&dkm_core::Event::GovernanceApplied { version: 2 })
    );
    assert!(kh.ring().is_pending());
    let ring = Ring::load(&kh.ring().to_bytes(), &pin).unwrap();
    let mut kn = KeyHolder::open(ring, &n).unwrap();
    let m = kn
        .maintain(&n, START + 2, &mut rng, &Allow(vec![]), NO)
        .unwrap();
    assert!(
        m.events
            .contains(&dkm_core::Event::KeyHolderRemoved { id: h.id() })
    );
    assert!(!kn.ring().is_pending());
    kn.seal(START + 3, b"x", b"", &mut rng).unwrap();
    let ring = Ring::load(&kn.ring().to_bytes(), &pin).unwrap();
    assert_eq!(
        KeyHolder::open(ring, &h).unwrap_err().kind(),
        ErrorKind::NotAMember
    );
}

#[test]
fn a_pending_revocation_or_shredding_counts_before_maintain() {
    let (mut rng, admin, h, mut ring, _) = bootstrap_ring(23);
    let mut kh = KeyHolder::open(ring.clone(), &h).unwrap();
    let early = kh.seal(START + 10, b"early", b"", &mut rng).unwrap();
    let mut d = ring.draft();
    d.shred_before = START + 86_400;
    ring.apply_governance(d, &admin, &Allow(vec![]), START + 86_400)
        .unwrap();
    let mut kh = KeyHolder::open(ring.clone(), &h).unwrap();
    assert_eq!(
        kh.unseal(&early, b"").unwrap_err().kind(),
        ErrorKind::KeyDestroyed
    );
    let mut d = ring.draft();
    d.revoked_epochs.push(1);
    ring.apply_governance(d, &admin, &Allow(vec![]), START + 86_400)
        .unwrap();
    let mut kh = KeyHolder::open(ring, &h).unwrap();
    assert_eq!(
        kh.unseal(&early, b"").unwrap_err().kind(),
        ErrorKind::KeyRevoked,
        "a revocation of the whole epoch is reported first"
    );
}

#[test]
fn readers_check_approver_since() {
    let (mut rng, admin, h, mut ring, pin) = bootstrap_ring(24);
    let p = Identity::generate(&mut rng);
    let mut d = ring.draft();
    d.add_member(Role::Approver, p.public().clone()).unwrap();
    ring.apply_governance(d, &admin, &Allow(vec![]), START)
        .unwrap();
    let mut kh = KeyHolder::open(ring, &h).unwrap();
    kh.maintain(&h, START + 5, &mut rng, &Allow(vec![]), NO)
        .unwrap();
    let ring = kh.into_ring();
    let ks = ring.key_state().unwrap().key_state().clone();
    assert_eq!(ks.approver_since.len(), 1);
    for forge in 0..2 {
        let mut k = ks.clone();
        k.version += 1;
        match forge {
            0 => k.approver_since.clear(),
            _ => k.approver_since[0].since = k.write_time + 1,
        }
        let signed = k.sign(&h).unwrap();
        let blob = replace_ks(&ring, signed.as_bytes());
        assert_eq!(
            Ring::load(&blob, &pin).unwrap_err().kind(),
            ErrorKind::Tampered
        );
    }
}

#[test]
fn recheck_since_asks_the_log_again() {
    let (mut rng, admin, _, mut ring, _) = bootstrap_ring(25);
    let p = Identity::generate(&mut rng);
    let mut d = ring.draft();
    d.add_member(Role::Approver, p.public().clone()).unwrap();
    d.policy.levels = vec![ApprovalLevel {
        name: "l".into(),
        quorum: 1,
        approvers: vec![p.id()],
    }];
    ring.apply_governance(d, &admin, &Allow(vec![]), START)
        .unwrap();
    let n = Identity::generate(&mut rng);
    let mut d = ring.draft();
    d.add_member(Role::Service, n.public().clone()).unwrap();
    let approved = Allow(vec![d.content_hash()]);
    ring.apply_governance(d, &admin, &approved, START).unwrap();
    ring.recheck_since(1, &approved).unwrap();
    // The log now holds a denial.
    assert_eq!(
        ring.recheck_since(1, &Allow(vec![])).unwrap_err().kind(),
        ErrorKind::PolicyUnsatisfied
    );
    ring.recheck_since(3, &Allow(vec![])).unwrap();
}
