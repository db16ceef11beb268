//! Ring scenarios and refusals: who may open, what a single admin cannot do alone, forged,
//! rolled-back, forked, spliced, tampered and truncated rings, pins, freshness, write time,
//! seal-only access, determinism of `maintain`, and the key listing.
//!
//! Every step that changes a ring goes through `Ring::to_bytes` and `Ring::load_with` (with
//! the host's request log as the quorum check) and the pin a host would have saved.
//! (Tests once marked as bugs found in review now pass and run as regressions.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use std::cell::Cell;
use std::collections::BTreeMap;

use chacha20::ChaCha20Rng;
use dkm_core::rand_core::{Rng, SeedableRng};
use dkm_core::ring::{
    Anchor, ApprovalLevel, ApprovalRef, EpochState, Governance, KeyState, Member, RollReason,
    WriteTimeReset,
};
use dkm_core::{
    Error, ErrorKind, Event, Identity, KeyHolder, Maintenance, NoApprovals, Pin, Policy,
    QuorumCheck, QuorumQuery, Ring, RingId, RingPublic, Role, SealedSecret, SigDomain,
};

const START: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;
const NO: (Anchor, Anchor) = (Anchor::EMPTY, Anchor::EMPTY);

// ---- helpers ---------------------------------------------------------------------------

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn kind<T>(r: dkm_core::Result<T>) -> ErrorKind {
    match r {
        Ok(_) => panic!("expected an error, got Ok"),
        Err(e) => e.kind(),
    }
}

fn member(role: Role, id: &Identity) -> Member {
    Member {
        role,
        identity: id.public().clone(),
    }
}

/// A policy with one approval level: `quorum` of `approvers`.
fn policy_with_level(approvers: &[&Identity], quorum: u8) -> Policy {
    let mut ids: Vec<_> = approvers.iter().map(|a| a.id()).collect();
    ids.sort();
    Policy {
        levels: vec![ApprovalLevel {
            name: "ops".into(),
            quorum,
            approvers: ids,
        }],
        ..Policy::default()
    }
}

/// The quorum check of a test request log: approves exactly the governance contents that were
/// registered, and only when the candidate names the request registered for that content.
#[derive(Default)]
struct Approvals {
    approved: BTreeMap<[u8; 32], [u8; 32]>,
    calls: Cell<usize>,
}

const SHORT: Error = Error::new(
    ErrorKind::PolicyUnsatisfied,
    "test log: no approved request for this content",
);

impl Approvals {
    /// Registers `draft`'s content as approved under a request, and names the request in it.
    fn approve(&mut self, draft: &mut Governance, request: [u8; 32]) {
        draft.approval = Some(ApprovalRef {
            log: dkm_core::ring::Anchor {
                seq: 1,
                hash: [0; 32],
            },
            request,
            evidence: vec![b"approval-1".to_vec(), b"approval-2".to_vec()],
        });
        self.approved.insert(draft.content_hash(), request);
    }
}

impl QuorumCheck for Approvals {
    fn check(&self, q: &QuorumQuery<'_>) -> dkm_core::Result<()> {
        self.calls.set(self.calls.get() + 1);
        if q.content_hash != q.candidate.content_hash()
            || q.base.is_bootstrap()
            || q.candidate.version <= q.base.version
            || q.candidate.ring != q.base.ring
        {
            return Err(SHORT);
        }
        let Some(request) = self.approved.get(&q.content_hash) else {
            return Err(SHORT);
        };
        match &q.candidate.approval {
            Some(a) if a.request == *request => Ok(()),
            _ => Err(SHORT),
        }
    }
}

/// What an attacker's own code would pass: approves everything.
struct Yes;

impl QuorumCheck for Yes {
    fn check(&self, _q: &QuorumQuery<'_>) -> dkm_core::Result<()> {
        Ok(())
    }
}

/// A ring blob taken apart along the documented container format.
#[derive(Clone, Debug)]
struct Blob {
    id: [u8; 16],
    govs: Vec<Vec<u8>>,
    ks: Option<Vec<u8>>,
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (h, t) = b.split_at(n);
    *b = t;
    h
}

fn take_u32(b: &mut &[u8]) -> usize {
    u32::from_be_bytes(take(b, 4).try_into().unwrap()) as usize
}

impl Blob {
    fn split(blob: &[u8]) -> Blob {
        let mut b = blob;
        assert_eq!(take(&mut b, 4), b"DKMR");
        assert_eq!(take(&mut b, 1), [1]);
        let id: [u8; 16] = take(&mut b, 16).try_into().unwrap();
        let n = take(&mut b, 1)[0];
        let mut govs = Vec::new();
        for _ in 0..n {
            let len = take_u32(&mut b);
            govs.push(take(&mut b, len).to_vec());
        }
        let ks = match take(&mut b, 1)[0] {
            0 => None,
            1 => {
                let len = take_u32(&mut b);
                Some(take(&mut b, len).to_vec())
            }
            f => panic!("flag {f}"),
        };
        assert!(b.is_empty());
        Blob { id, govs, ks }
    }

    fn join(&self) -> Vec<u8> {
        let mut out = b"DKMR\x01".to_vec();
        out.extend_from_slice(&self.id);
        out.push(u8::try_from(self.govs.len()).unwrap());
        for g in &self.govs {
            out.extend_from_slice(&u32::try_from(g.len()).unwrap().to_be_bytes());
            out.extend_from_slice(g);
        }
        match &self.ks {
            None => out.push(0),
            Some(k) => {
                out.push(1);
                out.extend_from_slice(&u32::try_from(k.len()).unwrap().to_be_bytes());
                out.extend_from_slice(k);
            }
        }
        out
    }
}

/// A store with one ring blob, the pin of the host that reads it, and the request log it
/// reads approvals from.
struct World {
    rng: ChaCha20Rng,
    admin: Identity,
    holders: Vec<Identity>,
    approvers: Vec<Identity>,
    log: Approvals,
    blob: Vec<u8>,
    pin: Pin,
}

impl World {
    /// A ring with `n` key holders (and two approvers with a 2-of-2 level when `policy`),
    /// after its first key holder's first `maintain` at `START`.
    fn new(seed: u8, n: usize, policy: bool) -> World {
        let mut rng = rng(seed);
        let admin = Identity::generate(&mut rng);
        let holders: Vec<Identity> = (0..n).map(|_| Identity::generate(&mut rng)).collect();
        let approvers: Vec<Identity> = if policy {
            (0..2).map(|_| Identity::generate(&mut rng)).collect()
        } else {
            Vec::new()
        };
        let mut members: Vec<Member> = holders.iter().map(|h| member(Role::Service, h)).collect();
        members.extend(approvers.iter().map(|a| member(Role::Approver, a)));
        let pol = if policy {
            policy_with_level(&approvers.iter().collect::<Vec<_>>(), 2)
        } else {
            Policy::default()
        };
        let (ring, events) = Ring::create("mail", pol, &admin, &members, &mut rng).unwrap();
        assert_eq!(
            events,
            vec![Event::GovernanceSigned {
                version: 1,
                by: admin.id()
            }]
        );
        let pin = Pin::new(ring.id(), vec![admin.public().clone()]);
        let mut w = World {
            rng,
            admin,
            holders,
            approvers,
            log: Approvals::default(),
            blob: ring.to_bytes(),
            pin,
        };
        let ring = w.ring();
        assert!(ring.is_pending());
        assert_eq!(ring.is_bootstrap(), !policy);
        if n > 0 {
            let m = w.maintain(0, START);
            assert!(m.written);
            assert!(m.events.contains(&Event::EpochCreated {
                epoch: 1,
                reason: RollReason::Created
            }));
        }
        w
    }

    fn id(&self) -> RingId {
        self.load(&self.blob).unwrap().id()
    }

    /// Loads `blob` through the host's pin and request log.
    fn load(&self, blob: &[u8]) -> dkm_core::Result<Ring> {
        Ring::load_with(blob, &self.pin, &self.log)
    }

    /// Loads the stored blob and saves the new pin.
    fn ring(&mut self) -> Ring {
        let ring = self.load(&self.blob).unwrap();
        self.pin = ring.pin();
        ring
    }

    /// Stores a ring (compare-and-swap elided) and reloads it as a host would.
    fn store(&mut self, ring: &Ring) {
        self.blob = ring.to_bytes();
        self.ring();
    }

    fn open(&mut self, i: usize) -> KeyHolder {
        let ring = self.ring();
        KeyHolder::open(ring, &self.holders[i]).unwrap()
    }

    fn maintain(&mut self, i: usize, now: u64) -> Maintenance {
        let mut h = self.open(i);
        let m = h
            .maintain(&self.holders[i], now, &mut self.rng, &self.log, NO)
            .unwrap();
        if m.written {
            self.store(h.ring());
        }
        m
    }

    fn roll(&mut self, i: usize, now: u64) -> Maintenance {
        let mut h = self.open(i);
        let m = h
            .roll_epoch(&self.holders[i], now, &mut self.rng, &self.log, NO)
            .unwrap();
        assert!(m.written);
        self.store(h.ring());
        m
    }

    fn seal(&mut self, i: usize, now: u64, pt: &[u8], ctx: &[u8]) -> Vec<u8> {
        let mut h = self.open(i);
        h.seal(now, pt, ctx, &mut self.rng).unwrap()
    }

    fn unseal(&mut self, i: usize, ct: &[u8], ctx: &[u8]) -> dkm_core::Result<Vec<u8>> {
        let mut h = self.open(i);
        h.unseal(ct, ctx).map(|p| p.to_vec())
    }

    /// Drafts the next governance, lets `f` edit it, and applies it as the admin, with no
    /// approval for it in the log.
    fn govern(&mut self, now: u64, f: impl FnOnce(&mut Governance)) -> dkm_core::Result<()> {
        let mut ring = self.ring();
        let mut d = ring.draft();
        f(&mut d);
        ring.apply_governance(d, &self.admin, &self.log, now)?;
        self.store(&ring);
        Ok(())
    }

    /// The same, with the change approved in the log first.
    fn govern_approved(
        &mut self,
        now: u64,
        f: impl FnOnce(&mut Governance),
    ) -> dkm_core::Result<()> {
        let mut ring = self.ring();
        let mut d = ring.draft();
        f(&mut d);
        let mut request = [0u8; 32];
        self.rng.fill_bytes(&mut request);
        self.log.approve(&mut d, request);
        ring.apply_governance(d, &self.admin, &self.log, now)?;
        self.store(&ring);
        Ok(())
    }

    /// The admin signs `d` by hand and appends it to the stored blob's chain.
    fn splice(&self, d: Governance) -> Vec<u8> {
        let signed = d.sign(&self.admin).unwrap();
        let mut b = self.split();
        b.govs.push(signed.as_bytes().to_vec());
        b.join()
    }

    fn split(&self) -> Blob {
        Blob::split(&self.blob)
    }
}

fn key_id(ct: &[u8]) -> dkm_core::KeyId {
    SealedSecret::parse(ct).unwrap().key_id()
}

// ---- who may open ----------------------------------------------------------------------

#[test]
fn non_member_cannot_open() {
    let mut w = World::new(1, 0, false);
    let stranger = Identity::generate(&mut w.rng);
    // No key state yet.
    assert_eq!(
        kind(KeyHolder::open(w.ring(), &stranger)),
        ErrorKind::NotAMember
    );
    let mut w = World::new(2, 2, false);
    let stranger = Identity::generate(&mut w.rng);
    assert_eq!(
        kind(KeyHolder::open(w.ring(), &stranger)),
        ErrorKind::NotAMember
    );
}

#[test]
fn admin_and_approver_cannot_open() {
    // Before any key state, and after.
    let mut w = World::new(3, 0, true);
    let r = w.ring();
    assert_eq!(
        kind(KeyHolder::open(r.clone(), &w.admin)),
        ErrorKind::NotAMember
    );
    assert_eq!(
        kind(KeyHolder::open(r, &w.approvers[0])),
        ErrorKind::NotAMember
    );
    let mut w = World::new(4, 1, true);
    let r = w.ring();
    assert!(r.key_state().is_some());
    assert_eq!(
        kind(KeyHolder::open(r.clone(), &w.admin)),
        ErrorKind::NotAMember
    );
    for a in &w.approvers {
        assert_eq!(kind(KeyHolder::open(r.clone(), a)), ErrorKind::NotAMember);
    }
    // maintain is for the key holder the ring was opened as.
    let mut h = KeyHolder::open(r, &w.holders[0]).unwrap();
    assert_eq!(
        kind(h.maintain(&w.admin, START, &mut w.rng, &NoApprovals, NO)),
        ErrorKind::InvalidInput
    );
}

#[test]
fn added_key_holder_opens_only_after_maintain() {
    let mut w = World::new(5, 1, false);
    let new = Identity::generate(&mut w.rng);
    let ct = w.seal(0, START + 10, b"before", b"c");
    w.govern(START + 20, |d| {
        d.add_member(Role::Service, new.public().clone()).unwrap();
    })
    .unwrap();
    assert_eq!(kind(KeyHolder::open(w.ring(), &new)), ErrorKind::NotAMember);
    let m = w.maintain(0, START + 30);
    assert!(m.events.contains(&Event::GovernanceApplied { version: 2 }));
    assert!(m.events.contains(&Event::KeyHolderAdded { id: new.id() }));
    // Adding a key holder needs neither a KEK roll nor an epoch roll.
    assert!(
        !m.events
            .iter()
            .any(|e| matches!(e, Event::KekRolled { .. } | Event::EpochCreated { .. })),
        "{:?}",
        m.events
    );
    let mut h = KeyHolder::open(w.ring(), &new).unwrap();
    assert_eq!(&h.unseal(&ct, b"c").unwrap()[..], b"before");
}

// ---- a single admin without quorum -----------------------------------------------------

/// A policy ring (2-of-2 approvers), two key holders.
fn policy_world(seed: u8) -> World {
    let mut w = World::new(seed, 2, true);
    assert!(!w.ring().is_bootstrap());
    w
}

/// The admin signs `draft` (which needs a quorum it lacks) by hand and splices it into the
/// stored blob: every reader refuses the ring (`PolicyUnsatisfied`), through its pin and on
/// first use; a key holder whose ring was loaded with an approve-all check refuses it in
/// `maintain`; `new` never becomes a key holder; the previous blob still serves.
fn bypass_is_refused(w: &mut World, draft: Governance, new: &Identity) {
    let ct = w.seal(0, START + 5, b"pw", b"ctx");
    let good = w.blob.clone();
    let rogue = w.splice(draft);
    let first_use = Pin::new(w.id(), vec![w.admin.public().clone()]);
    for r in [
        w.load(&rogue),
        Ring::load(&rogue, &w.pin),
        Ring::load_with(&rogue, &first_use, &w.log),
        RingPublic::load(&rogue, &w.pin).map(|p| p.ring().clone()),
    ] {
        assert_eq!(kind(r), ErrorKind::PolicyUnsatisfied);
    }
    // Loaded by a tool that approves everything, the key holders still refuse it.
    let lax = Ring::load_with(&rogue, &w.pin, &Yes).unwrap();
    assert!(lax.is_pending());
    assert_eq!(lax.governance().role_of(new.public()), Some(Role::Service));
    assert_eq!(
        kind(KeyHolder::open(lax.clone(), new)),
        ErrorKind::NotAMember
    );
    let mut h = KeyHolder::open(lax.clone(), &w.holders[1]).unwrap();
    let before = h.ring().to_bytes();
    assert_eq!(
        kind(h.maintain(&w.holders[1], START + DAY, &mut w.rng, &w.log, NO)),
        ErrorKind::PolicyUnsatisfied
    );
    assert_eq!(h.ring().to_bytes(), before, "nothing written");
    assert_eq!(
        kind(h.seal(START + DAY, b"x", b"", &mut w.rng)),
        ErrorKind::Stale
    );
    // The honest store keeps serving.
    w.blob = good;
    w.maintain(1, START + DAY);
    assert_eq!(kind(KeyHolder::open(w.ring(), new)), ErrorKind::NotAMember);
    assert_eq!(w.unseal(1, &ct, b"ctx").unwrap(), b"pw");
}

#[test]
fn single_admin_adding_a_second_identity_of_its_own_is_refused() {
    let mut w = policy_world(10);
    let alt = Identity::generate(&mut w.rng); // the admin's second identity
    let before = w.blob.clone();
    let mut ring = w.ring();
    let mut d = ring.draft();
    d.add_member(Role::Service, alt.public().clone()).unwrap();
    assert!(ring.needs_quorum(&d));
    assert_eq!(
        kind(ring.apply_governance(d.clone(), &w.admin, &NoApprovals, START + 1)),
        ErrorKind::PolicyUnsatisfied
    );
    // A log that approved something else does not help, nor naming an unapproved request.
    let mut other = ring.draft();
    other.name = "renamed".into();
    w.log.approve(&mut other, [7; 32]);
    let mut named = d.clone();
    named.approval = Some(ApprovalRef {
        log: dkm_core::ring::Anchor {
            seq: 1,
            hash: [0; 32],
        },
        request: [7; 32],
        evidence: vec![],
    });
    assert_eq!(
        kind(ring.apply_governance(named, &w.admin, &w.log, START + 1)),
        ErrorKind::PolicyUnsatisfied
    );
    assert_eq!(
        ring.to_bytes(),
        before,
        "a refused change leaves the ring as it was"
    );
    bypass_is_refused(&mut w, d, &alt);
}

#[test]
fn single_admin_changing_its_own_role_to_service_is_refused() {
    // Alone, it cannot even draft it: the ring would have no admin.
    let mut w = policy_world(11);
    let mut ring = w.ring();
    let mut d = ring.draft();
    assert_eq!(d.remove_member(w.admin.public()).unwrap(), Role::Admin);
    d.add_member(Role::Service, w.admin.public().clone())
        .unwrap();
    assert_eq!(
        kind(ring.apply_governance(d.clone(), &w.admin, &NoApprovals, START + 1)),
        ErrorKind::InvalidInput
    );
    assert_eq!(kind(d.sign(&w.admin)), ErrorKind::InvalidInput);

    // With a co-admin, one admin alone changing its own role.
    let mut rng = rng(12);
    let admin = Identity::generate(&mut rng);
    let co = Identity::generate(&mut rng);
    let hs: Vec<Identity> = (0..2).map(|_| Identity::generate(&mut rng)).collect();
    let ap: Vec<Identity> = (0..2).map(|_| Identity::generate(&mut rng)).collect();
    let mut members = vec![member(Role::Admin, &co)];
    members.extend(hs.iter().map(|h| member(Role::Service, h)));
    members.extend(ap.iter().map(|a| member(Role::Approver, a)));
    let (ring, _) = Ring::create(
        "two admins",
        policy_with_level(&[&ap[0], &ap[1]], 2),
        &admin,
        &members,
        &mut rng,
    )
    .unwrap();
    let mut w = World {
        rng,
        pin: Pin::new(ring.id(), vec![admin.public().clone()]),
        blob: ring.to_bytes(),
        admin,
        holders: hs,
        approvers: ap,
        log: Approvals::default(),
    };
    w.maintain(0, START);
    let mut ring = w.ring();
    let mut d = ring.draft();
    d.remove_member(w.admin.public()).unwrap();
    d.add_member(Role::Service, w.admin.public().clone())
        .unwrap();
    assert!(ring.needs_quorum(&d));
    assert_eq!(
        kind(ring.apply_governance(d.clone(), &w.admin, &NoApprovals, START + 1)),
        ErrorKind::PolicyUnsatisfied
    );
    let me = Identity::from_secret_text(&w.admin.to_secret_text()).unwrap();
    bypass_is_refused(&mut w, d, &me);
}

/// A single admin who can also write the store signs a governance adding a second identity
/// of its own as a key holder, then writes, as that identity, a key state carrying it out
/// (its own `maintain` on the ring with the key state stripped, with its own quorum check),
/// with a version above what hosts have pinned.
#[test]
fn single_admin_with_store_write_cannot_make_itself_a_reader() {
    let mut w = policy_world(13);
    w.roll(0, START + HOUR);
    w.roll(1, START + 2 * HOUR);
    let honest_pin = w.pin.clone();
    let honest_version = w.ring().key_state().unwrap().key_state().version;

    // The attack, with public API only.
    let alt = Identity::generate(&mut w.rng);
    let mut d = w.ring().draft();
    d.add_member(Role::Service, alt.public().clone()).unwrap();
    let mut blob = Blob::split(&w.splice(d));
    blob.ks = None;
    let stripped = Ring::load_with(
        &blob.join(),
        &Pin::new(RingId(blob.id), vec![w.admin.public().clone()]),
        &Yes,
    )
    .unwrap();
    let mut evil = KeyHolder::open(stripped, &alt).unwrap();
    evil.maintain(&alt, START + 3 * HOUR, &mut w.rng, &Yes, NO)
        .unwrap();
    while evil.ring().key_state().unwrap().key_state().version <= honest_version {
        evil.roll_epoch(&alt, START + 3 * HOUR, &mut w.rng, &Yes, NO)
            .unwrap();
    }
    let evil_blob = evil.ring().to_bytes();

    // An honest host with its pin and request log refuses it.
    assert_eq!(
        kind(Ring::load_with(&evil_blob, &honest_pin, &w.log)),
        ErrorKind::PolicyUnsatisfied
    );
    // Nor does a first-use reader, nor plain `load`.
    let first_use = Pin::new(w.id(), vec![w.admin.public().clone()]);
    assert_eq!(
        kind(Ring::load_with(&evil_blob, &first_use, &w.log)),
        ErrorKind::PolicyUnsatisfied
    );
    assert_eq!(
        kind(Ring::load(&evil_blob, &honest_pin)),
        ErrorKind::PolicyUnsatisfied
    );
}

#[test]
fn approved_change_applies_and_readers_and_maintain_recheck_the_quorum() {
    let mut w = policy_world(14);
    let new = Identity::generate(&mut w.rng);
    let mut ring = w.ring();
    let mut d = ring.draft();
    d.add_member(Role::Service, new.public().clone()).unwrap();
    w.log.approve(&mut d, [1; 32]);
    // The right content naming another request is refused.
    let mut wrong = d.clone();
    wrong.approval.as_mut().unwrap().request = [2; 32];
    assert_eq!(
        kind(ring.apply_governance(wrong, &w.admin, &w.log, START + 1)),
        ErrorKind::PolicyUnsatisfied
    );
    let calls = w.log.calls.get();
    ring.apply_governance(d, &w.admin, &w.log, START + 1)
        .unwrap();
    assert!(w.log.calls.get() > calls, "apply asks the quorum check");
    let blob = ring.to_bytes();
    // A reader or key holder whose log lacks the approval refuses it...
    assert_eq!(
        kind(Ring::load_with(&blob, &w.pin, &NoApprovals)),
        ErrorKind::PolicyUnsatisfied
    );
    let mut h = KeyHolder::open(
        Ring::load_with(&blob, &w.pin, &w.log).unwrap(),
        &w.holders[0],
    )
    .unwrap();
    assert_eq!(
        kind(h.maintain(&w.holders[0], START + 2, &mut w.rng, &NoApprovals, NO)),
        ErrorKind::PolicyUnsatisfied
    );
    // ...one that reads it carries it out.
    w.store(&ring);
    let calls = w.log.calls.get();
    let m = w.maintain(1, START + 2);
    assert!(w.log.calls.get() > calls, "maintain asks the quorum check");
    assert!(m.events.contains(&Event::GovernanceApplied { version: 2 }));
    assert!(m.events.contains(&Event::KeyHolderAdded { id: new.id() }));
    let ct = w.seal(0, START + 3, b"x", b"");
    let mut h = KeyHolder::open(w.ring(), &new).unwrap();
    assert_eq!(&h.unseal(&ct, b"").unwrap()[..], b"x");
    // Once pinned past it, plain load no longer asks.
    Ring::load(&w.blob, &w.pin).unwrap();
}

/// A refused admin addition does not make its admin one: what it signs next is refused too.
#[test]
fn versions_signed_by_an_unapproved_admin_are_refused() {
    let mut w = policy_world(16);
    let alt = Identity::generate(&mut w.rng);
    let mut d = w.ring().draft();
    d.add_member(Role::Admin, alt.public().clone()).unwrap();
    assert_eq!(
        kind(
            w.ring()
                .apply_governance(d.clone(), &w.admin, &w.log, START)
        ),
        ErrorKind::PolicyUnsatisfied
    );
    let rogue = w.splice(d);
    let lax = Ring::load_with(&rogue, &w.pin, &Yes).unwrap();
    // alt, an admin of version 2 only, signs version 3: a chain-valid record that needs no
    // quorum of its own.
    let mut ring = lax.clone();
    let mut d3 = ring.draft();
    d3.remove_member(w.holders[1].public()).unwrap();
    ring.apply_governance(d3, &alt, &NoApprovals, START)
        .unwrap();
    let blob = ring.to_bytes();
    Ring::load_with(&blob, &w.pin, &Yes).unwrap();
    assert_eq!(kind(w.load(&blob)), ErrorKind::PolicyUnsatisfied);
    let mut h = KeyHolder::open(ring, &w.holders[0]).unwrap();
    assert_eq!(
        kind(h.maintain(&w.holders[0], START + 1, &mut w.rng, &w.log, NO)),
        ErrorKind::PolicyUnsatisfied
    );
    // Holder 1 stays.
    KeyHolder::open(w.ring(), &w.holders[1]).unwrap();
}

/// An approver logs a denial after the admin applied an approved change. Readers check the
/// approvals the record carries (they cannot see the log), so the ring still loads and
/// unseals; key holders' `maintain` sees the denial and refuses to carry the change out
/// (nothing is sealed meanwhile); once an admin undoes the change, `maintain` carries the
/// versions out (their sum needs no quorum) and sealing resumes.
#[test]
fn a_denied_change_stops_maintain_until_undone_and_never_blocks_unseal() {
    let mut w = policy_world(17);
    let ct = w.seal(0, START + 5, b"kept", b"");
    let pin_before = w.pin.clone();
    let new = Identity::generate(&mut w.rng);
    w.govern_approved(START + 10, |d| {
        d.add_member(Role::Service, new.public().clone()).unwrap();
    })
    .unwrap();
    // The log now holds a denial: a key holder's log-aware check refuses the change.
    let denied = Approvals::default();
    // Readers (approvals carried in the record) still load and unseal.
    let ring = Ring::load_with(&w.blob, &pin_before, &w.log).unwrap();
    let mut h = KeyHolder::open(ring, &w.holders[1]).unwrap();
    assert_eq!(&h.unseal(&ct, b"").unwrap()[..], b"kept");
    // maintain refuses; sealing waits.
    let ring = Ring::load_with(&w.blob, &w.pin, &w.log).unwrap();
    let mut h = KeyHolder::open(ring, &w.holders[0]).unwrap();
    assert_eq!(
        kind(h.maintain(&w.holders[0], START + 11, &mut w.rng, &denied, NO)),
        ErrorKind::PolicyUnsatisfied
    );
    assert_eq!(
        kind(h.seal(START + 11, b"x", b"", &mut w.rng)),
        ErrorKind::Stale
    );
    // The admin undoes it (a removal needs no quorum); maintain carries both out.
    let mut ring = h.into_ring();
    let mut d = ring.draft();
    d.remove_member(new.public()).unwrap();
    ring.apply_governance(d, &w.admin, &denied, START + 20)
        .unwrap();
    let mut h = KeyHolder::open(ring, &w.holders[0]).unwrap();
    let m = h.maintain(&w.holders[0], START + 30, &mut w.rng, &denied, NO);
    assert!(m.is_ok(), "{m:?}");
    h.seal(START + 31, b"x", b"", &mut w.rng).unwrap();
    assert_eq!(
        kind(KeyHolder::open(h.into_ring(), &new)),
        ErrorKind::NotAMember
    );
}

#[test]
fn revocation_and_shredding_need_quorum_and_refuse_with_their_kinds() {
    let mut w = policy_world(15);
    let e1 = w.seal(0, START + HOUR, b"e1", b"");
    w.roll(0, START + 2 * DAY);
    let e2_old = w.seal(0, START + 2 * DAY + 1, b"e2 old", b"");
    for f in [
        (|d: &mut Governance| d.revoked_epochs.push(1)) as fn(&mut Governance),
        |d| d.shred_before = START + 3 * DAY,
    ] {
        assert_eq!(
            kind(w.govern(START + 3 * DAY, f)),
            ErrorKind::PolicyUnsatisfied
        );
    }
    w.govern_approved(START + 3 * DAY, |d| d.revoked_epochs.push(1))
        .unwrap();
    // A shredding cutoff in the future is refused even with approvals.
    assert_eq!(
        kind(w.govern_approved(START + 3 * DAY, |d| d.shred_before = START + 4 * DAY)),
        ErrorKind::InvalidInput
    );
    w.govern_approved(START + 3 * DAY, |d| d.shred_before = START + 3 * DAY)
        .unwrap();
    let m = w.maintain(1, START + 3 * DAY + 5);
    assert!(m.events.contains(&Event::EpochRevoked { epoch: 1 }));
    assert!(
        m.events
            .iter()
            .any(|e| matches!(e, Event::EpochShredded { epoch: 2, .. })),
        "{:?}",
        m.events
    );
    assert!(
        m.events
            .iter()
            .any(|e| matches!(e, Event::KekRolled { .. })),
        "{:?}",
        m.events
    );
    assert_eq!(kind(w.unseal(0, &e1, b"")), ErrorKind::KeyRevoked);
    assert_eq!(kind(w.unseal(1, &e2_old, b"")), ErrorKind::KeyDestroyed);
    let listing = w.ring().keys(START + 3 * DAY + 6);
    assert_eq!(listing.epochs[0].state, EpochState::Revoked);
    assert_eq!(listing.epochs[1].state, EpochState::Live);
    let start2 = listing.epochs[1].start;
    let first_kept = u16::try_from((START + 3 * DAY - start2) / DAY).unwrap();
    assert_eq!(listing.epochs[1].readable, vec![(first_kept, u16::MAX)]);
}

// ---- forged, rolled back, forked, spliced ----------------------------------------------

#[test]
fn governance_signed_by_a_non_admin_is_tampered() {
    let mut w = World::new(20, 2, false);
    let first_use = Pin::new(w.id(), vec![w.admin.public().clone()]);
    // A key holder signs the next version, making itself admin.
    let mut d = w.ring().draft();
    d.remove_member(w.holders[1].public()).unwrap();
    d.add_member(Role::Admin, w.holders[1].public().clone())
        .unwrap();
    let forged = d.sign(&w.holders[1]).unwrap();
    let mut b = w.split();
    b.govs.push(forged.as_bytes().to_vec());
    for pin in [&w.pin, &first_use] {
        assert_eq!(
            kind(Ring::load_with(&b.join(), pin, &Yes)),
            ErrorKind::Tampered
        );
    }
    // An outsider claiming to be an admin of the version it signs.
    let mut d = w.ring().draft();
    let outsider = Identity::generate(&mut w.rng);
    d.add_member(Role::Admin, outsider.public().clone())
        .unwrap();
    let forged = d.sign(&outsider).unwrap();
    let mut b = w.split();
    b.govs.push(forged.as_bytes().to_vec());
    assert_eq!(
        kind(Ring::load_with(&b.join(), &w.pin, &Yes)),
        ErrorKind::Tampered
    );
    // ...and through apply_governance.
    let mut ring = w.ring();
    let mut d = ring.draft();
    d.name = "x".into();
    assert_eq!(
        kind(ring.apply_governance(d, &outsider, &Yes, START)),
        ErrorKind::NotAMember
    );

    // A first governance signed by someone it does not list as admin.
    let mut rng = rng(21);
    let admin = Identity::generate(&mut rng);
    let other = Identity::generate(&mut rng);
    let id = RingId::generate(&mut rng);
    let g = Governance::genesis(id, "x", Policy::default(), admin.public(), &[]).unwrap();
    let signed = g.sign(&other).unwrap();
    let b = Blob {
        id: id.0,
        govs: vec![signed.as_bytes().to_vec()],
        ks: None,
    };
    for pin in [
        Pin::new(id, vec![admin.public().clone()]),
        Pin::new(id, vec![other.public().clone()]),
    ] {
        assert_eq!(kind(Ring::load(&b.join(), &pin)), ErrorKind::Tampered);
    }
    // A genuine ring under a pin naming other admins, or another ring id.
    let w2 = World::new(22, 1, false);
    let pin = Pin::new(w2.pin.ring, vec![other.public().clone()]);
    assert_eq!(kind(Ring::load(&w2.blob, &pin)), ErrorKind::Tampered);
    let pin = Pin::new(id, vec![w2.admin.public().clone()]);
    assert_eq!(kind(Ring::load(&w2.blob, &pin)), ErrorKind::Tampered);
}

#[test]
fn key_state_signed_by_a_non_key_holder_is_tampered() {
    let mut w = World::new(23, 1, true);
    let ring = w.ring();
    let sks = ring.key_state().unwrap();
    for signer in [&w.admin, &w.approvers[0]] {
        let mut ks = sks.key_state().clone();
        ks.version += 1;
        ks.prev_hash = sks.hash();
        let forged = ks.sign(signer).unwrap();
        let mut b = w.split();
        b.ks = Some(forged.as_bytes().to_vec());
        assert_eq!(kind(w.load(&b.join())), ErrorKind::Tampered);
    }
    // Re-signed by the genuine key holder it loads (the construction is sound).
    let mut ks = sks.key_state().clone();
    ks.version += 1;
    let ok = ks.sign(&w.holders[0]).unwrap();
    let mut b = w.split();
    b.ks = Some(ok.as_bytes().to_vec());
    w.load(&b.join()).unwrap();
    // Wraps that do not match the key holders.
    let mut ks = sks.key_state().clone();
    ks.version += 1;
    let mut extra = ks.wraps[0].clone();
    extra.recipient = dkm_core::IdentityId([0xff; 16]);
    ks.wraps.push(extra);
    b.ks = Some(ks.sign(&w.holders[0]).unwrap().as_bytes().to_vec());
    assert_eq!(kind(w.load(&b.join())), ErrorKind::Tampered);
    // A freshness deadline stretched past the policy's period.
    let mut ks = sks.key_state().clone();
    ks.version += 1;
    ks.fresh_until += DAY;
    b.ks = Some(ks.sign(&w.holders[0]).unwrap().as_bytes().to_vec());
    assert_eq!(kind(w.load(&b.join())), ErrorKind::Tampered);
}

#[test]
fn rolled_back_ring_is_refused() {
    let mut w = World::new(24, 2, false);
    let v1 = w.blob.clone();
    w.govern(START + 1, |d| d.name = "renamed".into()).unwrap();
    let v2_pending = w.blob.clone();
    w.maintain(0, START + 2);
    let v2 = w.blob.clone();
    // Older governance than pinned.
    assert_eq!(kind(w.load(&v1)), ErrorKind::Rollback);
    // Same governance, older key state.
    assert_eq!(kind(w.load(&v2_pending)), ErrorKind::Rollback);
    // Key state dropped.
    let mut b = Blob::split(&v2);
    b.ks = None;
    assert_eq!(kind(w.load(&b.join())), ErrorKind::Rollback);
    let mut pin_no_gov = w.pin.clone();
    pin_no_gov.governance = None;
    assert_eq!(
        kind(Ring::load(&b.join(), &pin_no_gov)),
        ErrorKind::Rollback
    );
    // A newer key state carrying out an older governance (signed by a genuine holder).
    let ring = w.ring();
    let sks = ring.key_state().unwrap();
    let mut ks = sks.key_state().clone();
    let g1 = ring.history().next().unwrap();
    ks.version += 1;
    ks.governance = dkm_core::ring::GovRef {
        version: g1.version(),
        hash: g1.hash(),
    };
    let mut b = Blob::split(&v2);
    b.ks = Some(ks.sign(&w.holders[0]).unwrap().as_bytes().to_vec());
    assert_eq!(kind(w.load(&b.join())), ErrorKind::Rollback);
    // The current one loads.
    w.load(&v2).unwrap();
}

#[test]
fn forked_ring_is_refused() {
    let mut w = World::new(25, 2, false);
    let base = w.blob.clone();
    let pin0 = w.pin.clone();
    w.govern(START + 1, |d| d.name = "fork a".into()).unwrap();
    let a = w.blob.clone();
    let pin_a = w.pin.clone();
    w.blob = base;
    w.pin = pin0;
    w.govern(START + 1, |d| d.name = "fork b".into()).unwrap();
    let b = w.blob.clone();
    assert_eq!(
        pin_a.governance.unwrap().version,
        w.pin.governance.unwrap().version
    );
    assert_eq!(kind(Ring::load(&b, &pin_a)), ErrorKind::Rollback);
    assert_eq!(kind(Ring::load(&a, &w.pin)), ErrorKind::Rollback);
}

/// Admin A hands over to admin B (signed by A), B signs a change, no key holder has run
/// `maintain` yet. A new host pins B on first use. The ring is genuine and merely pending, but
/// it is refused as `Tampered` (its key state carries out a version before the first one B
/// signed); `Stale` (run maintain, then load) would say what to do.
#[test]
fn first_use_pin_of_a_new_admin_on_a_pending_ring_is_not_tampered() {
    let mut w = World::new(28, 1, false);
    let b = Identity::generate(&mut w.rng);
    let a = w.admin.public().clone();
    w.govern(START + 1, |d| {
        d.remove_member(&a).unwrap();
        d.add_member(Role::Admin, b.public().clone()).unwrap();
    })
    .unwrap();
    let mut ring = w.ring();
    let mut d = ring.draft();
    d.name = "by b".into();
    ring.apply_governance(d, &b, &NoApprovals, START + 2)
        .unwrap();
    let pin_b = Pin::new(ring.id(), vec![b.public().clone()]);
    let r = Ring::load(&ring.to_bytes(), &pin_b);
    assert!(
        r.as_ref().is_ok_and(Ring::is_pending)
            || r.as_ref().is_err_and(|e| e.kind() == ErrorKind::Stale),
        "{:?}",
        r.err()
    );
}

#[test]
fn key_state_from_another_governance_chain_is_tampered() {
    let a = World::new(26, 1, false);
    let ring_a = Ring::load(&a.blob, &a.pin).unwrap();
    // Ring B: same ring id, a different admin, the same key holder, built by hand.
    let mut rng = rng(27);
    let admin_b = Identity::generate(&mut rng);
    let g = Governance::genesis(
        ring_a.id(),
        "mail",
        Policy::default(),
        admin_b.public(),
        &[member(Role::Service, &a.holders[0])],
    )
    .unwrap();
    let signed = g.sign(&admin_b).unwrap();
    let b = Blob {
        id: ring_a.id().0,
        govs: vec![signed.as_bytes().to_vec()],
        ks: Some(ring_a.key_state().unwrap().as_bytes().to_vec()),
    };
    let pin_b = Pin::new(ring_a.id(), vec![admin_b.public().clone()]);
    let mut no_ks = b.clone();
    no_ks.ks = None;
    Ring::load(&no_ks.join(), &pin_b).unwrap();
    assert_eq!(kind(Ring::load(&b.join(), &pin_b)), ErrorKind::Tampered);
    // And A's chain with a key state bound to B's chain.
    let mut hb =
        KeyHolder::open(Ring::load(&no_ks.join(), &pin_b).unwrap(), &a.holders[0]).unwrap();
    hb.maintain(&a.holders[0], START, &mut rng, &NoApprovals, NO)
        .unwrap();
    for _ in 0..3 {
        // above the version A's pin has seen, so that the pin check passes
        hb.roll_epoch(&a.holders[0], START, &mut rng, &NoApprovals, NO)
            .unwrap();
    }
    let mut a2 = Blob::split(&a.blob);
    a2.ks = Some(hb.ring().key_state().unwrap().as_bytes().to_vec());
    assert_eq!(kind(Ring::load(&a2.join(), &a.pin)), ErrorKind::Tampered);
    let first_use = Pin::new(ring_a.id(), vec![a.admin.public().clone()]);
    assert_eq!(
        kind(Ring::load(&a2.join(), &first_use)),
        ErrorKind::Tampered
    );
}

// ---- bytes -----------------------------------------------------------------------------

/// A ring with 3 governance records, 3 key holders, a key state with 2 epochs.
fn rich_world(seed: u8) -> World {
    let mut w = World::new(seed, 2, false);
    let s3 = Identity::generate(&mut w.rng);
    w.govern(START + 1, |d| {
        d.add_member(Role::Service, s3.public().clone()).unwrap();
    })
    .unwrap();
    w.holders.push(s3);
    w.maintain(0, START + 2);
    w.roll(1, START + DAY);
    w.govern(START + DAY + 1, |d| d.name = "mail-2".into())
        .unwrap();
    w
}

#[test]
fn every_flipped_byte_is_a_typed_error() {
    let mut w = rich_world(30);
    let ring = w.ring();
    assert!(ring.history().count() >= 2);
    assert_eq!(ring.key_state().unwrap().key_state().epochs.len(), 2);
    let first_use = Pin::new(ring.id(), vec![w.admin.public().clone()]);
    let blob = w.blob.clone();
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    for pin in [&w.pin, &first_use] {
        Ring::load(&blob, pin).unwrap();
        for i in 0..blob.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = blob.clone();
                bad[i] ^= mask;
                match Ring::load_with(&bad, pin, &Yes) {
                    Ok(_) => panic!("flipping byte {i} with {mask:#x} still loads"),
                    Err(e) => {
                        assert_ne!(e.kind(), ErrorKind::Internal, "byte {i}");
                        *kinds.entry(e.kind().name()).or_default() += 1;
                    }
                }
            }
        }
    }
    println!("{} bytes: {kinds:?}", blob.len());
}

#[test]
fn truncated_or_extended_blob_is_malformed() {
    let mut w = rich_world(31);
    let blob = w.blob.clone();
    let pin = w.ring().pin();
    for n in 0..blob.len() {
        assert_eq!(
            kind(Ring::load(&blob[..n], &pin)),
            ErrorKind::Malformed,
            "prefix of {n} bytes"
        );
    }
    for extra in [0u8, 1, 0xff] {
        let mut long = blob.clone();
        long.push(extra);
        assert_eq!(kind(Ring::load(&long, &pin)), ErrorKind::Malformed);
    }
    assert_eq!(kind(Ring::load(b"", &pin)), ErrorKind::Malformed);
    let mut bad = blob.clone();
    bad[4] = 2;
    assert_eq!(kind(Ring::load(&bad, &pin)), ErrorKind::Unsupported);
    // No governance record at all.
    let mut b = Blob::split(&blob);
    b.govs.clear();
    assert_eq!(kind(Ring::load(&b.join(), &pin)), ErrorKind::Malformed);
}

#[test]
fn duplicate_members_are_refused() {
    let mut w = World::new(32, 1, false);
    let mut d = w.ring().draft();
    assert_eq!(
        kind(d.add_member(Role::Service, w.holders[0].public().clone())),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(d.add_member(Role::Approver, w.admin.public().clone())),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(Governance::genesis(
            RingId([1; 16]),
            "x",
            Policy::default(),
            w.admin.public(),
            &[member(Role::Service, &w.admin)],
        )),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(Ring::create(
            "x",
            Policy::default(),
            &w.admin,
            &[
                member(Role::Service, &w.holders[0]),
                member(Role::Approver, &w.holders[0])
            ],
            &mut w.rng
        )),
        ErrorKind::InvalidInput
    );
    // Pushed by hand: signing refuses it...
    let dup = d.members[0].clone();
    d.members.insert(0, dup);
    assert_eq!(kind(d.clone().sign(&w.admin)), ErrorKind::InvalidInput);
    // ...and a record signed over such bytes does not parse.
    let mut bytes = d.content_bytes();
    bytes.push(0); // no approval
    bytes.extend_from_slice(&w.admin.public().to_bytes());
    let sig = w.admin.sign(SigDomain::Governance, &bytes);
    bytes.extend_from_slice(&sig);
    assert_eq!(
        kind(dkm_core::ring::SignedGovernance::parse(&bytes)),
        ErrorKind::Malformed
    );
    let mut b = w.split();
    b.govs.push(bytes);
    assert_eq!(kind(w.load(&b.join())), ErrorKind::Malformed);
}

#[test]
fn pin_round_trips_and_rejects_bad_bytes() {
    let mut w = rich_world(33);
    let pins = [
        w.ring().pin(),
        Pin::new(w.id(), vec![w.admin.public().clone()]),
    ];
    for pin in pins {
        let bytes = pin.to_bytes();
        assert_eq!(Pin::from_bytes(&bytes).unwrap(), pin);
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(kind(Pin::from_bytes(&long)), ErrorKind::Malformed);
        for n in 0..bytes.len() {
            assert!(Pin::from_bytes(&bytes[..n]).is_err(), "prefix {n}");
        }
        let mut v = bytes.clone();
        v[0] = 2;
        assert_eq!(kind(Pin::from_bytes(&v)), ErrorKind::Unsupported);
    }
    let empty = Pin::new(w.id(), vec![]);
    assert_eq!(
        kind(Pin::from_bytes(&empty.to_bytes())),
        ErrorKind::Malformed
    );
}

/// `Ring::pin` names every admin of the newest governance, which may list up to 256 members.
#[test]
fn pin_of_a_ring_with_many_admins_round_trips() {
    let mut w = World::new(34, 1, false);
    let mut rng = rng(35);
    let extra: Vec<Identity> = (0..254).map(|_| Identity::generate(&mut rng)).collect();
    w.govern(START + 1, |d| {
        for a in &extra {
            d.add_member(Role::Admin, a.public().clone()).unwrap();
        }
    })
    .unwrap();
    let pin = w.ring().pin();
    assert_eq!(pin.admins.len(), 255);
    assert_eq!(Pin::from_bytes(&pin.to_bytes()).unwrap(), pin);
    let mut d = w.ring().draft();
    let one_more = Identity::generate(&mut rng);
    assert_eq!(
        kind(d.add_member(Role::Admin, one_more.public().clone())),
        ErrorKind::TooLarge
    );
}

#[test]
fn pin_older_than_the_carried_history_is_stale() {
    let mut w = World::new(36, 1, false);
    let pin_v1 = w.pin.clone();
    for i in 0..40u64 {
        w.govern(START + i, |d| d.name = format!("name {i}"))
            .unwrap();
        if i % 8 == 7 {
            w.maintain(0, START + i);
        }
    }
    let ring = w.ring();
    assert_eq!(ring.history().count(), 32);
    assert!(ring.history().next().unwrap().version() > 1);
    assert_eq!(kind(Ring::load(&w.blob, &pin_v1)), ErrorKind::Stale);
    // A first-use pin still anchors on an admin's signature.
    Ring::load(
        &w.blob,
        &Pin::new(ring.id(), vec![w.admin.public().clone()]),
    )
    .unwrap();
}

#[test]
fn too_many_changes_waiting_for_maintain_are_refused() {
    let mut w = World::new(37, 1, false);
    let mut refused = None;
    for i in 0..40u64 {
        if let Err(e) = w.govern(START + i, |d| d.name = format!("n{i}")) {
            refused = Some((i, e.kind()));
            break;
        }
    }
    // Version 1 is carried out and must stay: 32 records fit.
    assert_eq!(refused, Some((31, ErrorKind::TooLarge)));
    let m = w.maintain(0, START + 50);
    assert!(m.events.contains(&Event::GovernanceApplied { version: 32 }));
    w.govern(START + 51, |d| d.name = "after".into()).unwrap();
}

// ---- freshness and time ----------------------------------------------------------------

#[test]
fn seal_on_a_stale_or_pending_ring_is_stale() {
    let mut w = World::new(40, 2, false);
    let fresh_until = w.ring().key_state().unwrap().key_state().fresh_until;
    assert_eq!(fresh_until, START + 2 * DAY);
    let mut h = w.open(0);
    assert!(!h.needs_maintain(fresh_until));
    h.seal(fresh_until, b"x", b"", &mut w.rng).unwrap();
    assert!(h.needs_maintain(fresh_until + 1));
    assert_eq!(
        kind(h.seal(fresh_until + 1, b"x", b"", &mut w.rng)),
        ErrorKind::Stale
    );
    assert!(w.ring().is_stale(fresh_until + 1));
    assert!(w.ring().keys(fresh_until + 1).stale);
    // Pending.
    w.govern(START + 1, |d| d.name = "pending".into()).unwrap();
    let mut h = w.open(1);
    assert!(w.ring().is_pending());
    assert!(h.needs_maintain(START + 2));
    assert_eq!(
        kind(h.seal(START + 2, b"x", b"", &mut w.rng)),
        ErrorKind::Stale
    );
    // A ring with no keys yet.
    let mut w0 = World::new(41, 0, false);
    let s = Identity::generate(&mut w0.rng);
    w0.govern(START, |d| {
        d.add_member(Role::Service, s.public().clone()).unwrap();
    })
    .unwrap();
    let mut h = KeyHolder::open(w0.ring(), &s).unwrap();
    assert!(h.needs_maintain(START));
    assert_eq!(
        kind(h.seal(START, b"x", b"", &mut w0.rng)),
        ErrorKind::Stale
    );
}

#[test]
fn unseal_needs_no_freshness() {
    let mut w = World::new(42, 2, false);
    let ct = w.seal(0, START + 7, b"kept", b"ctx");
    let armored = dkm_core::armor(&ct);
    // Years later, with no maintain at all.
    let later = START + 5 * 365 * DAY;
    assert!(w.ring().is_stale(later));
    let mut h = w.open(1);
    assert_eq!(&h.unseal(&ct, b"ctx").unwrap()[..], b"kept");
    assert_eq!(&h.unseal(armored.as_bytes(), b"ctx").unwrap()[..], b"kept");
    assert_eq!(kind(h.unseal(&ct, b"other")), ErrorKind::Tampered);
    // And after years of maintenance and rolls.
    for k in 1..=8usize {
        let t = START + k as u64 * 200 * DAY;
        w.maintain(k % 2, t);
        if k % 3 == 0 {
            w.roll(0, t + 1);
        }
    }
    assert_eq!(w.unseal(0, &ct, b"ctx").unwrap(), b"kept");
}

#[test]
fn seal_uses_the_later_of_now_and_the_write_time() {
    let mut w = World::new(43, 1, false);
    let wt = START + 10 * DAY + 5 * HOUR;
    w.maintain(0, wt);
    let ring = w.ring();
    let ks = ring.key_state().unwrap().key_state();
    assert_eq!(ks.write_time, wt);
    let e = ks.current().unwrap();
    let expect = u16::try_from((wt - e.start) / e.interval_secs).unwrap();
    for now in [START, START + 9 * DAY, wt - 1, wt] {
        let ct = w.seal(0, now, b"x", b"");
        let id = key_id(&ct);
        assert_eq!((id.epoch, id.interval), (e.epoch, expect), "now {now}");
        assert_eq!(w.ring().keys(now).current, Some(id));
    }
    let ct = w.seal(0, wt + DAY, b"x", b"");
    assert_eq!(key_id(&ct).interval, expect + 1);
}

#[test]
fn maintain_never_moves_the_write_time_back() {
    let mut w = World::new(44, 2, false);
    let wt = START + 30 * DAY;
    w.maintain(0, wt);
    let m = w.maintain(1, wt - 5 * DAY);
    assert!(!m.written, "{m:?}");
    let m = w.roll(1, wt - 5 * DAY);
    assert!(
        m.events.contains(&Event::EpochCreated {
            epoch: 2,
            reason: RollReason::OnDemand
        }),
        "{:?}",
        m.events
    );
    let ring = w.ring();
    let ks = ring.key_state().unwrap().key_state();
    assert_eq!(ks.write_time, wt);
    assert_eq!(ks.fresh_until, wt + 2 * DAY);
    assert_eq!(ks.epochs[1].created, wt);
    assert_eq!(ks.epochs[0].retired, wt);
    // A governance change carried out with an early clock, too.
    w.govern(START, |d| d.name = "early".into()).unwrap();
    w.maintain(0, START);
    assert_eq!(
        w.ring().key_state().unwrap().key_state().write_time,
        wt,
        "an early clock never moves the write time back"
    );
}

#[test]
fn approved_write_time_reset_moves_it_back() {
    for policy in [false, true] {
        let mut w = World::new(45 + u8::from(policy), 2, policy);
        // A host with a clock 1000 days ahead wrote the ring.
        let future = START + 1000 * DAY;
        w.roll(1, future);
        let now = START + DAY;
        let ct = w.seal(0, now, b"x", b"");
        let ring = w.ring();
        let e2 = ring.key_state().unwrap().key_state().current().unwrap();
        assert_eq!(key_id(&ct).epoch, 2);
        assert_eq!(
            u64::from(key_id(&ct).interval),
            (future - e2.start) / DAY,
            "sealed under the future write time's interval"
        );
        let reset = WriteTimeReset {
            serial: 1,
            to: START + DAY,
        };
        if policy {
            assert_eq!(
                kind(w.govern(now, |d| d.write_time_reset = reset)),
                ErrorKind::PolicyUnsatisfied
            );
        }
        w.govern_approved(now, |d| d.write_time_reset = reset)
            .unwrap();
        let m = w.maintain(0, now + 60);
        assert!(
            m.events
                .contains(&Event::WriteTimeReset { to: START + DAY }),
            "{:?}",
            m.events
        );
        assert!(
            m.events.contains(&Event::EpochCreated {
                epoch: 3,
                reason: RollReason::WriteTimeReset
            }),
            "{:?}",
            m.events
        );
        let ring = w.ring();
        let ks = ring.key_state().unwrap().key_state();
        assert_eq!(ks.write_time, now + 60);
        assert_eq!(ks.reset_serial, 1);
        assert_eq!(ks.fresh_until, now + 60 + 2 * DAY);
        let ct2 = w.seal(1, now + 61, b"y", b"");
        let id = key_id(&ct2);
        assert_eq!((id.epoch, id.interval), (3, 0));
        assert_eq!(w.unseal(0, &ct, b"").unwrap(), b"x");
        // The same reset is not carried out twice.
        let m = w.roll(1, now + 120);
        assert!(
            !m.events
                .iter()
                .any(|e| matches!(e, Event::WriteTimeReset { .. }))
        );
        // A reset cannot be rewritten under the same serial.
        assert_eq!(
            kind(w.govern_approved(now, |d| d.write_time_reset.to = START)),
            ErrorKind::InvalidInput
        );
    }
}

// ---- seal-only access ------------------------------------------------------------------

#[test]
fn seal_only_secrets_open_only_with_unseal_seal_only() {
    let mut w = World::new(50, 2, false);
    let public = RingPublic::load(&w.blob, &w.pin).unwrap();
    let key = public.key_at(START + 5).unwrap();
    assert_eq!(key.id(), w.ring().keys(START + 5).current.unwrap());
    let so = public.seal(START + 5, b"pw", b"acct", &mut w.rng).unwrap();
    let mut h = w.open(1);
    assert_eq!(kind(h.unseal(&so, b"acct")), ErrorKind::InvalidInput);
    assert_eq!(&h.unseal_seal_only(&so, b"acct").unwrap()[..], b"pw");
    assert_eq!(kind(h.unseal_seal_only(&so, b"other")), ErrorKind::Tampered);
    let ks = w.seal(0, START + 5, b"k", b"");
    assert_eq!(kind(h.unseal_seal_only(&ks, b"")), ErrorKind::InvalidInput);
    let other = Identity::generate(&mut w.rng);
    assert_eq!(
        kind(KeyHolder::open(public.ring().clone(), &other)),
        ErrorKind::NotAMember
    );
}

#[test]
fn ring_public_refuses_stale_pending_and_uncovered_rings() {
    let mut w = World::new(51, 1, false);
    let fresh_until = w.ring().key_state().unwrap().key_state().fresh_until;
    let public = RingPublic::load(&w.blob, &w.pin).unwrap();
    public.seal(fresh_until, b"x", b"", &mut w.rng).unwrap();
    assert_eq!(
        kind(public.seal(fresh_until + 1, b"x", b"", &mut w.rng)),
        ErrorKind::Stale
    );
    // No published key covers now: a key state (signed by the key holder) without it.
    let ring = w.ring();
    let sks = ring.key_state().unwrap();
    let mut ks = sks.key_state().clone();
    ks.version += 1;
    ks.prev_hash = sks.hash();
    let t = START + 5;
    let e = ks.current().unwrap().clone();
    let now_interval = u16::try_from((t - e.start) / e.interval_secs).unwrap();
    ks.seal_only.retain(|k| k.id().interval != now_interval);
    assert!(!ks.seal_only.is_empty());
    let signed = ks.sign(&w.holders[0]).unwrap();
    let mut b = w.split();
    b.ks = Some(signed.as_bytes().to_vec());
    let p2 = RingPublic::load(&b.join(), &w.pin).unwrap();
    assert_eq!(kind(p2.seal(t, b"x", b"", &mut w.rng)), ErrorKind::Stale);
    p2.seal(t + DAY, b"x", b"", &mut w.rng).unwrap();
    // Pending.
    w.govern(START + 1, |d| d.name = "pending".into()).unwrap();
    let public = RingPublic::load(&w.blob, &w.pin).unwrap();
    assert_eq!(
        kind(public.seal(START + 2, b"x", b"", &mut w.rng)),
        ErrorKind::Stale
    );
    // No key state.
    let w0 = World::new(52, 0, false);
    let public = RingPublic::load(&w0.blob, &w0.pin).unwrap();
    let mut rng = rng(53);
    assert_eq!(
        kind(public.seal(START, b"x", b"", &mut rng)),
        ErrorKind::Stale
    );
    // Verified through the pin, like a ring: another ring's blob is refused.
    assert_eq!(
        kind(RingPublic::load(&World::new(54, 1, false).blob, &w.pin)),
        ErrorKind::Tampered
    );
}

/// A policy ring after a change "approved" by this file's test log, whose evidence is not
/// real approval objects: `RingPublic::load` verifies like `Ring::load`, checking the
/// evidence the record carries (`EvidenceQuorum`), so it refuses; a `RingPublic` built
/// from `Ring::load_with` and that log works. (Real approvals: tests/access*.rs.)
#[test]
fn ring_public_checks_the_evidence_a_change_carries() {
    let mut w = policy_world(55);
    let new = Identity::generate(&mut w.rng);
    w.govern_approved(START + 1, |d| {
        d.add_member(Role::Service, new.public().clone()).unwrap();
    })
    .unwrap();
    w.maintain(0, START + 2);
    let first_use = Pin::new(w.id(), vec![w.admin.public().clone()]);
    assert!(matches!(
        kind(RingPublic::load(&w.blob, &first_use)),
        ErrorKind::Unsupported | ErrorKind::Malformed | ErrorKind::PolicyUnsatisfied
    ));
    let public = RingPublic::from_ring(Ring::load_with(&w.blob, &first_use, &w.log).unwrap());
    let so = public.seal(START + 3, b"pw", b"", &mut w.rng).unwrap();
    let mut h = KeyHolder::open(w.ring(), &new).unwrap();
    assert_eq!(&h.unseal_seal_only(&so, b"").unwrap()[..], b"pw");
}

// ---- membership ------------------------------------------------------------------------

#[test]
fn last_key_holder_cannot_be_removed() {
    let mut w = World::new(60, 1, false);
    let last = w.holders[0].public().clone();
    assert_eq!(
        kind(w.govern(START + 1, |d| {
            d.remove_member(&last).unwrap();
        })),
        ErrorKind::InvalidInput
    );
    // Signed by hand and spliced: readers refuse the chain.
    let mut d = w.ring().draft();
    d.remove_member(&last).unwrap();
    let rogue = w.splice(d);
    assert_eq!(kind(w.load(&rogue)), ErrorKind::Malformed);
    // Removing a non-member.
    let stranger = Identity::generate(&mut w.rng);
    assert_eq!(
        kind(w.ring().draft().remove_member(stranger.public())),
        ErrorKind::NotAMember
    );
    // Two holders: one may go, without any quorum even under a policy.
    let mut w = World::new(61, 2, true);
    let gone = w.holders[1].public().clone();
    w.govern(START + 1, |d| {
        d.remove_member(&gone).unwrap();
    })
    .unwrap();
    let keep = w.holders[0].public().clone();
    assert_eq!(
        kind(w.govern(START + 1, |d| {
            d.remove_member(&keep).unwrap();
        })),
        ErrorKind::InvalidInput
    );
}

#[test]
fn removed_member_cannot_open_or_read_what_is_sealed_after() {
    let mut w = World::new(62, 3, true);
    let before = w.seal(2, START + 5, b"before", b"");
    let mut old_session = w.open(2);
    let gone = w.holders[2].public().clone();
    w.govern(START + 10, |d| {
        d.remove_member(&gone).unwrap();
    })
    .unwrap();
    // Pending: the removed member still opens, but nobody seals.
    let mut pending_session = KeyHolder::open(w.ring(), &w.holders[2]).unwrap();
    assert_eq!(
        kind(pending_session.seal(START + 11, b"x", b"", &mut w.rng)),
        ErrorKind::Stale
    );
    // It cannot carry out its own removal.
    assert_eq!(
        kind(pending_session.maintain(&w.holders[2], START + 11, &mut w.rng, &w.log, NO)),
        ErrorKind::NotAMember
    );
    let m = w.maintain(0, START + 12);
    for e in [
        Event::KeyHolderRemoved { id: gone.id() },
        Event::EpochCreated {
            epoch: 2,
            reason: RollReason::MemberRemoved,
        },
        Event::KekRolled { generation: 2 },
    ] {
        assert!(m.events.contains(&e), "{:?}", m.events);
    }
    assert_eq!(
        kind(KeyHolder::open(w.ring(), &w.holders[2])),
        ErrorKind::NotAMember
    );
    let after = w.seal(1, START + 13, b"after", b"");
    let public = RingPublic::load(&w.blob, &w.pin).unwrap();
    let after_so = public.seal(START + 13, b"so", b"", &mut w.rng).unwrap();
    for s in [&mut old_session, &mut pending_session] {
        assert_eq!(kind(s.unseal(&after, b"")), ErrorKind::UnknownKey);
        assert_eq!(
            kind(s.unseal_seal_only(&after_so, b"")),
            ErrorKind::UnknownKey
        );
        // What it could read before, it still can (its copy of the old keys).
        assert_eq!(&s.unseal(&before, b"").unwrap()[..], b"before");
    }
    assert_eq!(w.unseal(0, &before, b"").unwrap(), b"before");
}

/// Replacing the only key holder in one change (remove A, add B): A may not carry out its own
/// removal, and B has no KEK wrap yet, so nobody can run `maintain`.
#[test]
fn replacing_the_sole_key_holder_in_one_change_is_refused_or_carried_out() {
    let mut w = World::new(63, 1, false);
    let b_id = Identity::generate(&mut w.rng);
    let a = w.holders[0].public().clone();
    let applied = w.govern(START + 1, |d| {
        d.remove_member(&a).unwrap();
        d.add_member(Role::Service, b_id.public().clone()).unwrap();
    });
    if applied.is_err() {
        return; // refused up front: fine
    }
    let ring = w.ring();
    let by_a = KeyHolder::open(ring.clone(), &w.holders[0]).and_then(|mut h| {
        h.maintain(&w.holders[0], START + 2, &mut w.rng, &NoApprovals, NO)
            .map(|_| h)
    });
    let by_b = KeyHolder::open(ring, &b_id).and_then(|mut h| {
        h.maintain(&b_id, START + 2, &mut w.rng, &NoApprovals, NO)
            .map(|_| h)
    });
    assert!(
        by_a.is_ok() || by_b.is_ok(),
        "nobody can carry out the change: A {:?}, B {:?}",
        by_a.err(),
        by_b.err()
    );
}

// ---- maintain: determinism, races, reasons ---------------------------------------------

#[test]
fn maintain_is_deterministic_in_its_decisions() {
    let mut w = World::new(70, 4, false);
    w.seal(0, START + 5, b"x", b"");
    let gone = w.holders[3].public().clone();
    let new = Identity::generate(&mut w.rng);
    w.govern(START + DAY, |d| {
        d.remove_member(&gone).unwrap();
        d.add_member(Role::Service, new.public().clone()).unwrap();
        d.revoked_epochs.push(1);
        d.shred_before = START + HOUR;
    })
    .unwrap();
    let now = START + 3 * DAY;
    let blob = w.blob.clone();
    let mut results = Vec::new();
    for (i, seed) in [(0usize, 100u8), (1, 101), (2, 102)] {
        let ring = w.load(&blob).unwrap();
        let mut h = KeyHolder::open(ring, &w.holders[i]).unwrap();
        let m = h
            .maintain(&w.holders[i], now, &mut rng(seed), &NoApprovals, NO)
            .unwrap();
        let ks = h.ring().key_state().unwrap().key_state().clone();
        let bytes = h.ring().to_bytes();
        results.push((m, ks, bytes));
    }
    let (m0, k0, b0) = &results[0];
    assert!(m0.written);
    type Shape = Vec<(u32, EpochState, u64, u64, u64, u64, usize, usize)>;
    let shape = |k: &KeyState| -> Shape {
        k.epochs
            .iter()
            .map(|e| {
                (
                    e.epoch,
                    e.state,
                    e.start,
                    e.interval_secs,
                    e.created,
                    e.retired,
                    e.positions.len(),
                    e.sealed_nodes.len(),
                )
            })
            .collect()
    };
    for (m, k, b) in &results[1..] {
        assert_eq!(m, m0);
        assert_ne!(b, b0, "fresh randomness");
        assert_eq!(
            (k.version, k.governance, k.write_time, k.fresh_until),
            (k0.version, k0.governance, k0.write_time, k0.fresh_until)
        );
        assert_eq!(
            (k.kek_generation, k.reset_serial, k.shred_applied),
            (k0.kek_generation, k0.reset_serial, k0.shred_applied)
        );
        assert_eq!(shape(k), shape(k0));
        for (e, e0) in k.epochs.iter().zip(&k0.epochs) {
            assert_eq!(e.positions, e0.positions);
        }
        let recips = |k: &KeyState| k.wraps.iter().map(|w| w.recipient).collect::<Vec<_>>();
        assert_eq!(recips(k), recips(k0));
        let so = |k: &KeyState| k.seal_only.iter().map(|s| s.id()).collect::<Vec<_>>();
        assert_eq!(so(k), so(k0));
        assert_eq!(k.approver_since, k0.approver_since);
    }
    for e in [
        Event::GovernanceApplied { version: 2 },
        Event::KeyHolderRemoved { id: gone.id() },
        Event::KeyHolderAdded { id: new.id() },
        Event::EpochRevoked { epoch: 1 },
    ] {
        assert!(m0.events.contains(&e), "{:?}", m0.events);
    }
}

#[test]
fn lost_race_both_write_the_same_key_state_version() {
    let mut w = World::new(71, 2, false);
    let n = w.ring().key_state().unwrap().key_state().version;
    let blob = w.blob.clone();
    let now = START + 3 * DAY; // stale: both renew
    let mut writes = Vec::new();
    for i in 0..2 {
        let mut h = KeyHolder::open(w.load(&blob).unwrap(), &w.holders[i]).unwrap();
        let m = h
            .maintain(&w.holders[i], now, &mut w.rng, &NoApprovals, NO)
            .unwrap();
        assert!(m.written);
        assert_eq!(h.ring().key_state().unwrap().key_state().version, n + 1);
        writes.push((h.ring().to_bytes(), h.ring().pin()));
    }
    // The first wins the compare-and-swap; a host that saw it refuses the second...
    w.blob = writes[0].0.clone();
    w.ring();
    assert_eq!(kind(w.load(&writes[1].0)), ErrorKind::Rollback);
    assert_eq!(
        kind(Ring::load(&writes[0].0, &writes[1].1)),
        ErrorKind::Rollback
    );
    // ...and the loser, reloading, has nothing left to do.
    let m = w.maintain(1, now);
    assert!(!m.written, "{m:?}");
}

/// A ring of one-minute intervals (an epoch lasts 45.5 days) with one key holder, its admin's
/// first-use pin and the key holder.
fn short_ring(seed: u8) -> (ChaCha20Rng, Identity, Ring, Pin) {
    let mut rng = rng(seed);
    let admin = Identity::generate(&mut rng);
    let s = Identity::generate(&mut rng);
    let policy = Policy {
        interval_secs: 60,
        ..Policy::default()
    };
    let (ring, _) = Ring::create(
        "short",
        policy,
        &admin,
        &[member(Role::Service, &s)],
        &mut rng,
    )
    .unwrap();
    let pin = Pin::new(ring.id(), vec![admin.public().clone()]);
    (rng, s, ring, pin)
}

/// When time jumps past the end of the current epoch (65 536 intervals), the new epoch's
/// reason should say its leaves ran out, not that it was shredded.
#[test]
fn epoch_past_its_end_rolls_because_its_leaves_ran_out() {
    let (mut rng, s, ring, pin) = short_ring(72);
    let mut h = KeyHolder::open(Ring::load(&ring.to_bytes(), &pin).unwrap(), &s).unwrap();
    h.maintain(&s, START, &mut rng, &NoApprovals, NO).unwrap();
    let end = START + 60 * 65_536;
    let m = h
        .maintain(&s, end + 10, &mut rng, &NoApprovals, NO)
        .unwrap();
    assert!(
        m.events.contains(&Event::EpochCreated {
            epoch: 2,
            reason: RollReason::LeavesRunOut
        }),
        "{:?}",
        m.events
    );
}

#[test]
fn epoch_rolls_ahead_when_its_leaves_run_out() {
    let (mut rng, s, ring, mut pin) = short_ring(73);
    let mut blob = ring.to_bytes();
    let end = START + 60 * 65_536; // epoch 1 ends after 45.5 days
    let mut times: Vec<u64> = (0..7).map(|k| START + k * 7 * DAY + 11).collect();
    times.extend([end - 100, end + DAY]);
    let mut cts = Vec::new();
    let mut run_out = 0;
    for t in times {
        let ring = Ring::load(&blob, &pin).unwrap();
        pin = ring.pin();
        let mut h = KeyHolder::open(ring, &s).unwrap();
        let m = h.maintain(&s, t, &mut rng, &NoApprovals, NO).unwrap();
        if m.events.contains(&Event::EpochCreated {
            epoch: 2,
            reason: RollReason::LeavesRunOut,
        }) {
            assert_eq!(t, end - 100);
            run_out += 1;
        }
        blob = h.ring().to_bytes();
        cts.push((h.seal(t, &t.to_be_bytes(), b"", &mut rng).unwrap(), t));
    }
    assert_eq!(run_out, 1);
    let ring = Ring::load(&blob, &pin).unwrap();
    assert_eq!(ring.key_state().unwrap().key_state().epochs.len(), 2);
    let mut h = KeyHolder::open(ring, &s).unwrap();
    for (ct, t) in &cts {
        assert_eq!(&h.unseal(ct, b"").unwrap()[..], &t.to_be_bytes());
    }
}

// ---- key listing -----------------------------------------------------------------------

#[test]
fn key_listing_shows_epochs_states_and_times_never_material() {
    let mut w = World::new(80, 2, false);
    let ct = w.seal(0, START + 5, b"x", b"");
    w.roll(1, START + 2 * DAY); // epoch 2
    w.roll(0, START + 4 * DAY); // epoch 3
    w.govern(START + 4 * DAY, |d| {
        d.revoked_epochs.push(1);
        d.shred_before = START + 3 * DAY;
    })
    .unwrap();
    let pending = w.ring().keys(START + 4 * DAY);
    assert!(pending.pending && pending.bootstrap && !pending.stale);
    w.maintain(0, START + 5 * DAY);
    let now = START + 5 * DAY + HOUR;
    let l = w.ring().keys(now);
    assert_eq!(l.ring, w.id());
    assert!(!l.pending && !l.stale && l.bootstrap);
    assert_eq!(l.write_time, Some(START + 5 * DAY));
    assert_eq!(l.fresh_until, Some(START + 7 * DAY));
    assert!(l.kek_generation.unwrap() >= 2);
    let states: Vec<_> = l.epochs.iter().map(|e| (e.epoch, e.state)).collect();
    assert_eq!(
        states,
        vec![
            (1, EpochState::Revoked),
            (2, EpochState::Live),
            (3, EpochState::Live)
        ]
    );
    assert_eq!(l.epochs[0].readable, Vec::<(u16, u16)>::new());
    assert_eq!(l.epochs[1].readable, vec![(1, u16::MAX)]); // [start+2d, start+3d) shredded
    assert_eq!(l.epochs[1].retired, Some(START + 4 * DAY));
    assert_eq!(l.epochs[2].retired, None);
    assert_eq!(l.epochs[2].created, START + 4 * DAY);
    assert_eq!(l.epochs[2].end, START + 4 * DAY + 65_536 * DAY);
    assert_eq!(l.epochs[2].interval_secs, DAY);
    let cur = l.current.unwrap();
    assert_eq!((cur.epoch, cur.interval), (3, 1));
    let sealed = w.seal(1, now, b"y", b"");
    assert_eq!(key_id(&sealed), cur);
    assert_eq!(kind(w.unseal(0, &ct, b"")), ErrorKind::KeyRevoked);
    // Never material.
    let dbg = format!("{l:?}");
    assert!(!dbg.contains("sealed_nodes") && !dbg.contains("kek_check"));
    assert!(dbg.len() < 2_000, "{} chars", dbg.len());
    let ring = w.ring();
    let ks = ring.key_state().unwrap().key_state();
    for e in ks.epochs.iter().filter(|e| !e.sealed_nodes.is_empty()) {
        let secret = format!("{:?}", &e.sealed_nodes[24..40]);
        assert!(!dbg.contains(&secret[1..secret.len() - 1]));
    }
    let h = w.open(0);
    let hd = format!("{h:?}");
    assert!(hd.contains("<redacted>") && hd.len() < 500, "{hd}");
    // No keys yet.
    let w0 = World::new(81, 0, false);
    let l0 = Ring::load(&w0.blob, &w0.pin).unwrap().keys(START);
    assert!(l0.current.is_none() && l0.epochs.is_empty() && l0.pending && l0.stale);
}

#[test]
fn governance_changes_keep_instructions_and_follow_the_newest() {
    let mut w = World::new(82, 1, false);
    w.govern(START, |d| {
        d.revoked_epochs.push(7);
        d.shred_before = START - DAY;
    })
    .unwrap();
    for f in [
        (|d: &mut Governance| d.revoked_epochs.clear()) as fn(&mut Governance),
        |d| d.shred_before = START - 2 * DAY,
    ] {
        assert_eq!(kind(w.govern(START, f)), ErrorKind::InvalidInput);
    }
    // A shredding cutoff in the future.
    assert_eq!(
        kind(w.govern(START, |d| d.shred_before = START + 1)),
        ErrorKind::InvalidInput
    );
    // A draft that changes nothing.
    assert_eq!(kind(w.govern(START, |_| {})), ErrorKind::InvalidInput);
    // A draft from an older version than the newest: a conflict.
    let mut ring = w.ring();
    let stale_draft = ring.draft();
    let mut d = ring.draft();
    d.name = "first".into();
    ring.apply_governance(d, &w.admin, &NoApprovals, START)
        .unwrap();
    let mut d = stale_draft;
    d.name = "second".into();
    assert_eq!(
        kind(ring.apply_governance(d, &w.admin, &NoApprovals, START)),
        ErrorKind::Conflict
    );
    // Only an admin applies governance.
    let mut d = ring.draft();
    d.name = "third".into();
    assert_eq!(
        kind(ring.apply_governance(d, &w.holders[0], &NoApprovals, START)),
        ErrorKind::NotAMember
    );
}
