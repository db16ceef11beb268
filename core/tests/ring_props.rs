//! Property tests of rings: random sequences of seal / maintain / roll_epoch / add key holder /
//! remove key holder / revoke epoch / shred / time passing (hours to months) over simulated
//! years keep every ciphertext unsealable by a current key holder unless its epoch was revoked
//! (`KeyRevoked`) or its interval shredded (`KeyDestroyed`) by an approved instruction.
//!
//! Two worlds: bootstrap (no approval levels: the admin alone may do anything) and a policy
//! ring whose quorum check is a test request log that approves exactly the governance
//! contents registered in it (and only when the candidate names the registered request). In
//! both, the admin also signs changes by hand and splices them into the store, bypassing
//! `apply_governance`: in the policy ring, readers (`Ring::load_with`) and `maintain` must
//! refuse those that need a quorum they lack, and the host keeps the previous blob.
//!
//! A model predicts, independently of the ring code, which changes need a quorum, who the key
//! holders are, and what each ciphertext unseals to. After every step the ring goes through
//! `to_bytes` / `Ring::load_with` with the host's pin, and the model is checked: the
//! governance version carried out, who may open the ring (a removed member gets
//! `NotAMember`), every ciphertext, the epoch states of the key listing, and that a removed
//! member's old session cannot open anything sealed after its removal was carried out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use std::collections::BTreeMap;

use chacha20::ChaCha20Rng;
use dkm_core::rand_core::{Rng, SeedableRng};
use dkm_core::ring::{Anchor, ApprovalLevel, ApprovalRef, EpochState, Governance, Member};
use dkm_core::{
    Error, ErrorKind, Event, Identity, KeyHolder, Pin, Policy, PublicIdentity, QuorumCheck,
    QuorumQuery, Ring, Role, SealedSecret,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

const START: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;
const LEAVES: u64 = 65_536;
const MAX_HISTORY: usize = 32;
const NO: (Anchor, Anchor) = (Anchor::EMPTY, Anchor::EMPTY);

// ---- the test request log --------------------------------------------------------------

const SHORT: Error = Error::new(
    ErrorKind::PolicyUnsatisfied,
    "test log: no approved request for this content",
);

/// Approves exactly the registered contents, when the candidate names the registered request.
#[derive(Default)]
struct Approvals {
    approved: BTreeMap<[u8; 32], [u8; 32]>,
}

impl Approvals {
    fn approve(&mut self, draft: &mut Governance, request: [u8; 32]) {
        draft.approval = Some(ApprovalRef {
            log: dkm_core::ring::Anchor {
                seq: 1,
                hash: [0; 32],
            },
            request,
            evidence: vec![request.to_vec()],
        });
        self.approved.insert(draft.content_hash(), request);
    }
}

impl QuorumCheck for Approvals {
    fn check(&self, q: &QuorumQuery<'_>) -> dkm_core::Result<()> {
        if q.content_hash != q.candidate.content_hash()
            || q.base.is_bootstrap()
            || q.candidate.version <= q.base.version
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

/// What a careless (or the admin's own) loader would pass: approves everything.
struct Yes;

impl QuorumCheck for Yes {
    fn check(&self, _q: &QuorumQuery<'_>) -> dkm_core::Result<()> {
        Ok(())
    }
}

// ---- an independent model of the rules -------------------------------------------------

fn services(g: &Governance) -> Vec<&PublicIdentity> {
    g.members
        .iter()
        .filter(|m| m.role == Role::Service)
        .map(|m| &m.identity)
        .collect()
}

fn with_role(g: &Governance, role: Role) -> Vec<&PublicIdentity> {
    g.members
        .iter()
        .filter(|m| m.role == role)
        .map(|m| &m.identity)
        .collect()
}

/// What needs the approval policy's quorum, from the issue: adding a key holder, changing
/// admins, approvers or any policy value, revoking an epoch, shredding, resetting the
/// write time.
fn needs_quorum(base: &Governance, cand: &Governance) -> bool {
    if base.policy.levels.is_empty() {
        return false;
    }
    let base_holders = services(base);
    services(cand).iter().any(|p| !base_holders.contains(p))
        || with_role(base, Role::Admin) != with_role(cand, Role::Admin)
        || with_role(base, Role::Approver) != with_role(cand, Role::Approver)
        || base.policy != cand.policy
        || cand
            .revoked_epochs
            .iter()
            .any(|e| !base.revoked_epochs.contains(e))
        || cand.shred_before > base.shred_before
        || cand.write_time_reset.serial > base.write_time_reset.serial
}

/// Nothing revoked or shredded comes back; a ring with key holders keeps one.
fn monotone(base: &Governance, cand: &Governance) -> bool {
    base.revoked_epochs
        .iter()
        .all(|e| cand.revoked_epochs.contains(e))
        && cand.shred_before >= base.shred_before
        && cand.write_time_reset.serial >= base.write_time_reset.serial
        && (services(base).is_empty() || !services(cand).is_empty())
}

#[derive(Clone, Copy, Debug)]
struct ModelEpoch {
    revoked: bool,
    destroyed: bool,
    /// Intervals ending at or before this were shredded while the epoch was live.
    cutoff: u64,
    end: u64,
}

struct Ct {
    bytes: Vec<u8>,
    ctx: Vec<u8>,
    pt: Vec<u8>,
    epoch: u32,
    /// Start and length of the interval it was sealed in.
    start: u64,
    len: u64,
}

#[derive(Clone, Debug)]
enum Op {
    Seal {
        who: u8,
        len: u8,
    },
    Maintain {
        who: u8,
    },
    Roll {
        who: u8,
    },
    Add {
        approved: bool,
    },
    Remove {
        who: u8,
    },
    Revoke {
        which: u8,
        approved: bool,
    },
    Shred {
        back: u64,
        approved: bool,
    },
    Advance {
        secs: u64,
    },
    /// The admin signs a change by hand and splices it in: 0 adds its own second identity
    /// as a key holder, 1 revokes the current epoch, 2 shreds up to now.
    Rogue {
        kind: u8,
    },
}

struct Sim {
    rng: ChaCha20Rng,
    policy: bool,
    admin: Identity,
    approvers: Vec<Identity>,
    /// `everyone[0]` is the admin's second identity; 1 and 2 the first key holders; the rest
    /// are added one by one.
    everyone: Vec<Identity>,
    next_new: usize,
    log: Approvals,
    blob: Vec<u8>,
    pin: Pin,
    now: u64,
    // model
    govs: BTreeMap<u64, Governance>,
    /// The governance version the key state carries out (0: no key state yet).
    applied: u64,
    shred_applied: u64,
    epochs: BTreeMap<u32, ModelEpoch>,
    cts: Vec<Ct>,
    /// A removed member, its session from before the removal was carried out, and the index
    /// of the first ciphertext sealed after.
    removed: Vec<(usize, KeyHolder, usize)>,
    stats: [usize; 11],
}

impl Sim {
    fn new(seed: [u8; 32], interval: u64, policy: bool) -> Sim {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let admin = Identity::generate(&mut rng);
        let approvers: Vec<Identity> = (0..3).map(|_| Identity::generate(&mut rng)).collect();
        let everyone: Vec<Identity> = (0..9).map(|_| Identity::generate(&mut rng)).collect();
        let mut members: Vec<Member> = everyone[1..3]
            .iter()
            .map(|h| Member {
                role: Role::Service,
                identity: h.public().clone(),
            })
            .collect();
        let mut levels = Vec::new();
        if policy {
            members.extend(approvers.iter().map(|a| Member {
                role: Role::Approver,
                identity: a.public().clone(),
            }));
            let mut ids: Vec<_> = approvers.iter().map(Identity::id).collect();
            ids.sort();
            levels.push(ApprovalLevel {
                name: "ops".into(),
                quorum: 2,
                approvers: ids,
            });
        }
        let pol = Policy {
            interval_secs: interval,
            levels,
            ..Policy::default()
        };
        let (ring, _) = Ring::create("props", pol, &admin, &members, &mut rng).unwrap();
        let pin = Pin::new(ring.id(), vec![admin.public().clone()]);
        let genesis = ring.governance().clone();
        let mut sim = Sim {
            rng,
            policy,
            admin,
            approvers,
            everyone,
            next_new: 3,
            log: Approvals::default(),
            blob: ring.to_bytes(),
            pin,
            now: START,
            govs: BTreeMap::from([(1, genesis)]),
            applied: 0,
            shred_applied: 0,
            epochs: BTreeMap::new(),
            cts: Vec::new(),
            removed: Vec::new(),
            stats: [0; 11],
        };
        sim.maintain_as(1, false);
        sim
    }

    fn load(&mut self) -> Ring {
        let ring = Ring::load_with(&self.blob, &self.pin, &self.log).unwrap();
        self.pin = ring.pin();
        ring
    }

    fn store(&mut self, ring: &Ring) {
        self.blob = ring.to_bytes();
        self.load();
    }

    fn index_of(&self, p: &PublicIdentity) -> usize {
        self.everyone.iter().position(|i| i.public() == p).unwrap()
    }

    /// Key holders in the model: the key holders of the governance it says is in force.
    fn holders(&self) -> Vec<usize> {
        services(&self.govs[&self.applied.max(1)])
            .into_iter()
            .map(|p| self.index_of(p))
            .collect()
    }

    /// Who can run maintain: a key holder in force that the newest governance still lists.
    fn eligible(&self, ring: &Ring) -> Vec<usize> {
        let latest = services(ring.governance());
        let e: Vec<usize> = self
            .holders()
            .into_iter()
            .filter(|i| latest.contains(&self.everyone[*i].public()))
            .collect();
        assert!(!e.is_empty(), "nobody can maintain the ring");
        e
    }

    fn maintain_as(&mut self, who: usize, roll: bool) {
        let ring = self.load();
        let head = ring.latest().version();
        let old_holders = self.holders();
        let new_holders: Vec<usize> = services(&self.govs[&head])
            .into_iter()
            .map(|p| self.index_of(p))
            .collect();
        // Sessions of members about to be removed, opened before the removal.
        let mut leaving = Vec::new();
        for h in old_holders.iter().filter(|h| !new_holders.contains(h)) {
            leaving.push((
                *h,
                KeyHolder::open(ring.clone(), &self.everyone[*h]).unwrap(),
            ));
        }
        let mut kh = KeyHolder::open(ring, &self.everyone[who]).unwrap();
        let m = if roll {
            kh.roll_epoch(&self.everyone[who], self.now, &mut self.rng, &self.log, NO)
        } else {
            kh.maintain(&self.everyone[who], self.now, &mut self.rng, &self.log, NO)
        }
        .unwrap();
        // Every version after the one in force is carried out.
        for v in self.applied.max(1)..=head {
            if v > self.applied {
                assert!(
                    m.events.contains(&Event::GovernanceApplied { version: v }),
                    "v{v} should apply: {:?}",
                    m.events
                );
                self.stats[0] += 1;
            }
        }
        for (h, _) in &leaving {
            let id = self.everyone[*h].id();
            assert!(m.events.contains(&Event::KeyHolderRemoved { id }));
        }
        if self.applied > 0 {
            for h in new_holders.iter().filter(|h| !old_holders.contains(h)) {
                let id = self.everyone[*h].id();
                assert!(m.events.contains(&Event::KeyHolderAdded { id }));
            }
        }
        if m.written {
            self.store(kh.ring());
        } else {
            assert!(head == self.applied && !roll, "{m:?}");
        }
        // The model follows.
        self.applied = head;
        let g = self.govs[&head].clone();
        for e in &g.revoked_epochs {
            if let Some(me) = self.epochs.get_mut(e)
                && !me.revoked
                && !me.destroyed
            {
                me.revoked = true;
                self.stats[2] += 1;
            }
        }
        if g.shred_before > self.shred_applied {
            for me in self
                .epochs
                .values_mut()
                .filter(|m| !m.revoked && !m.destroyed)
            {
                me.cutoff = me.cutoff.max(g.shred_before);
                me.destroyed = g.shred_before >= me.end;
            }
            self.shred_applied = g.shred_before;
            self.stats[3] += 1;
        }
        let ring = self.load();
        for e in &ring.key_state().unwrap().key_state().epochs {
            self.epochs.entry(e.epoch).or_insert(ModelEpoch {
                revoked: false,
                destroyed: false,
                cutoff: 0,
                end: e.start + LEAVES * e.interval_secs,
            });
        }
        for (h, s) in leaving {
            self.removed.push((h, s, self.cts.len()));
            self.stats[4] += 1;
        }
    }

    fn seal(&mut self, who: u8, len: u8) {
        let ring = self.load();
        let elig = self.eligible(&ring);
        let i = elig[usize::from(who) % elig.len()];
        if KeyHolder::open(ring, &self.everyone[i])
            .unwrap()
            .needs_maintain(self.now)
        {
            self.maintain_as(i, false);
        }
        let ring = self.load();
        let ks = ring.key_state().unwrap().key_state().clone();
        let mut kh = KeyHolder::open(ring, &self.everyone[i]).unwrap();
        assert!(!kh.needs_maintain(self.now));
        let mut pt = vec![0u8; usize::from(len)];
        self.rng.fill_bytes(&mut pt);
        let ctx = format!("ctx {}", self.cts.len()).into_bytes();
        let bytes = kh.seal(self.now, &pt, &ctx, &mut self.rng).unwrap();
        let id = SealedSecret::parse(&bytes).unwrap().key_id();
        let cur = ks.current().unwrap();
        let t = self.now.max(ks.write_time);
        assert_eq!(id.epoch, cur.epoch);
        assert_eq!(u64::from(id.interval), (t - cur.start) / cur.interval_secs);
        assert_eq!(
            cur.interval_secs,
            self.govs[&self.applied].policy.interval_secs
        );
        self.cts.push(Ct {
            bytes,
            ctx,
            pt,
            epoch: id.epoch,
            start: cur.start + u64::from(id.interval) * cur.interval_secs,
            len: cur.interval_secs,
        });
    }

    /// Applies `d` as the admin, as the model predicts: refused without a quorum it needs,
    /// `TooLarge` when it would drop the governance in force from the history.
    fn submit(&mut self, mut ring: Ring, mut d: Governance, approved: bool) {
        let needs = needs_quorum(ring.governance(), &d);
        assert_eq!(needs, ring.needs_quorum(&d));
        let registered = needs && approved;
        if registered {
            let mut request = [0u8; 32];
            self.rng.fill_bytes(&mut request);
            self.log.approve(&mut d, request);
        }
        let count = ring.history().count();
        let oldest = ring.history().next().unwrap().version();
        let keep_from = ring
            .key_state()
            .map_or(1, |k| k.key_state().governance.version);
        let drop = (count + 1).saturating_sub(MAX_HISTORY) as u64;
        let too_large = drop > 0 && oldest + drop > keep_from;
        let r = ring.apply_governance(d.clone(), &self.admin, &self.log, self.now);
        if !monotone(ring.governance(), &d) {
            assert_eq!(r.unwrap_err().kind(), ErrorKind::InvalidInput);
        } else if needs && !registered {
            assert_eq!(r.unwrap_err().kind(), ErrorKind::PolicyUnsatisfied);
            self.stats[5] += 1;
        } else if too_large {
            assert_eq!(r.unwrap_err().kind(), ErrorKind::TooLarge);
        } else {
            r.unwrap();
            self.store(&ring);
            self.govs.insert(d.version, d);
        }
    }

    /// The admin signs `d` by hand and splices it into the stored blob. Without the quorum it
    /// needs, no reader loads it and no key holder carries it out: the host keeps the
    /// previous blob.
    fn splice(&mut self, ring: &Ring, d: Governance) {
        if ring.history().count() >= MAX_HISTORY {
            return;
        }
        let needs = needs_quorum(ring.governance(), &d);
        if needs {
            let mut r = ring.clone();
            let e = r.apply_governance(d.clone(), &self.admin, &self.log, self.now);
            assert_eq!(e.unwrap_err().kind(), ErrorKind::PolicyUnsatisfied);
        }
        let signed = d.clone().sign(&self.admin).unwrap();
        let mut blob = self.blob.clone();
        // Container: ... ‖ n (u8) at offset 21 ‖ records ‖ flag ‖ [key state]; the new record
        // goes after the last governance record.
        let n = usize::from(blob[21]);
        let mut at = 22;
        for _ in 0..n {
            let len = u32::from_be_bytes(blob[at..at + 4].try_into().unwrap()) as usize;
            at += 4 + len;
        }
        blob[21] += 1;
        let len = u32::try_from(signed.as_bytes().len())
            .unwrap()
            .to_be_bytes();
        let record = [&len[..], signed.as_bytes()].concat();
        blob.splice(at..at, record);
        self.stats[6] += 1;
        if needs {
            self.stats[1] += 1;
            let refused = Ring::load_with(&blob, &self.pin, &self.log).unwrap_err();
            assert_eq!(refused.kind(), ErrorKind::PolicyUnsatisfied);
            let first_use = Pin::new(ring.id(), vec![self.admin.public().clone()]);
            let refused = Ring::load_with(&blob, &first_use, &self.log).unwrap_err();
            assert_eq!(refused.kind(), ErrorKind::PolicyUnsatisfied);
            // A key holder handed it by an approve-all loader refuses it in maintain.
            let lax = Ring::load_with(&blob, &self.pin, &Yes).unwrap();
            let who = self.eligible(ring)[0];
            let mut kh = KeyHolder::open(lax, &self.everyone[who]).unwrap();
            let e = kh
                .maintain(&self.everyone[who], self.now, &mut self.rng, &self.log, NO)
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PolicyUnsatisfied);
        } else {
            self.blob = blob;
            let ring = self.load();
            assert!(ring.is_pending());
            self.govs.insert(d.version, d);
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Seal { who, len } => self.seal(who, len),
            Op::Maintain { who } | Op::Roll { who } => {
                let ring = self.load();
                let elig = self.eligible(&ring);
                let i = elig[usize::from(who) % elig.len()];
                self.maintain_as(i, matches!(op, Op::Roll { .. }));
            }
            Op::Advance { secs } => self.now += secs,
            Op::Add { approved } => {
                if self.next_new >= self.everyone.len() {
                    return;
                }
                let new = self.everyone[self.next_new].public().clone();
                self.next_new += 1;
                let ring = self.load();
                let mut d = ring.draft();
                d.add_member(Role::Service, new).unwrap();
                self.submit(ring, d, approved);
            }
            Op::Remove { who } => {
                let ring = self.load();
                let mut d = ring.draft();
                let present: Vec<usize> = services(&d).iter().map(|p| self.index_of(p)).collect();
                let target = present[usize::from(who) % present.len()];
                if present.len() == 1 {
                    d.remove_member(self.everyone[target].public()).unwrap();
                    let mut r = ring.clone();
                    let e = r.apply_governance(d, &self.admin, &self.log, self.now);
                    assert_eq!(e.unwrap_err().kind(), ErrorKind::InvalidInput);
                    return;
                }
                d.remove_member(self.everyone[target].public()).unwrap();
                let holders = self.holders();
                let keeps_one = services(&d)
                    .iter()
                    .any(|p| holders.contains(&self.index_of(p)));
                if keeps_one {
                    self.submit(ring, d, true);
                }
            }
            Op::Revoke { which, approved } => {
                let ring = self.load();
                let mut choices: Vec<u32> = ring
                    .key_state()
                    .unwrap()
                    .key_state()
                    .epochs
                    .iter()
                    .map(|e| e.epoch)
                    .collect();
                choices.push(choices.last().unwrap() + 1); // revoked ahead of time
                let e = choices[usize::from(which) % choices.len()];
                let mut d = ring.draft();
                if let Err(at) = d.revoked_epochs.binary_search(&e) {
                    d.revoked_epochs.insert(at, e);
                    self.submit(ring, d, approved);
                }
            }
            Op::Shred { back, approved } => {
                let ring = self.load();
                let mut d = ring.draft();
                let cutoff = self.now.saturating_sub(back);
                if cutoff > d.shred_before {
                    d.shred_before = cutoff;
                    self.submit(ring, d, approved);
                }
            }
            Op::Rogue { kind } => {
                let ring = self.load();
                let mut d = ring.draft();
                match kind {
                    0 => {
                        if d.role_of(self.everyone[0].public()).is_some() {
                            return;
                        }
                        d.add_member(Role::Service, self.everyone[0].public().clone())
                            .unwrap();
                    }
                    1 => {
                        let cur = ring.key_state().unwrap().key_state().epochs.last().unwrap();
                        match d.revoked_epochs.binary_search(&cur.epoch) {
                            Ok(_) => return,
                            Err(at) => d.revoked_epochs.insert(at, cur.epoch),
                        }
                    }
                    _ => {
                        if self.now <= d.shred_before {
                            return;
                        }
                        d.shred_before = self.now;
                    }
                }
                self.splice(&ring, d);
            }
        }
    }

    /// Every invariant, after every step.
    fn check(&mut self) {
        let ring = self.load();
        let ks = ring.key_state().unwrap().key_state().clone();
        assert_eq!(ks.governance.version, self.applied, "governance in force");
        // Who may open: exactly the key holders in force.
        let holders = self.holders();
        for (i, id) in self.everyone.iter().enumerate() {
            match KeyHolder::open(ring.clone(), id) {
                Ok(_) => assert!(holders.contains(&i), "identity {i} opens the ring"),
                Err(e) => {
                    assert!(!holders.contains(&i), "key holder {i}: {e:?}");
                    assert_eq!(e.kind(), ErrorKind::NotAMember);
                }
            }
        }
        for id in self.approvers.iter().chain([&self.admin]) {
            assert_eq!(
                KeyHolder::open(ring.clone(), id).unwrap_err().kind(),
                ErrorKind::NotAMember
            );
        }
        // Every ciphertext.
        // A revocation or shredding the newest governance orders counts before maintain
        // carries it out.
        let newest = &self.govs[&ring.latest().version()];
        let mut h = KeyHolder::open(ring.clone(), &self.everyone[holders[0]]).unwrap();
        for (n, ct) in self.cts.iter().enumerate() {
            let mut me = self.epochs[&ct.epoch];
            if !me.revoked && !me.destroyed {
                me.revoked = newest.revoked_epochs.contains(&ct.epoch);
                me.cutoff = me.cutoff.max(newest.shred_before);
            }
            let got = h.unseal(&ct.bytes, &ct.ctx);
            if me.revoked {
                assert_eq!(got.unwrap_err().kind(), ErrorKind::KeyRevoked, "ct {n}");
                self.stats[8] += 1;
            } else if me.destroyed || ct.start + ct.len <= me.cutoff {
                assert_eq!(got.unwrap_err().kind(), ErrorKind::KeyDestroyed, "ct {n}");
                self.stats[9] += 1;
            } else {
                assert_eq!(&got.unwrap()[..], &ct.pt[..], "ct {n}");
                self.stats[7] += 1;
            }
        }
        // A removed member's old session opens nothing sealed after its removal.
        for (who, session, from) in &mut self.removed {
            for ct in &self.cts[*from..] {
                let e = session.unseal(&ct.bytes, &ct.ctx).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::UnknownKey, "removed member {who}");
                self.stats[10] += 1;
            }
        }
        // The key listing agrees on every epoch's state.
        let listing = ring.keys(self.now);
        assert_eq!(listing.epochs.len(), self.epochs.len());
        for e in &listing.epochs {
            let me = self.epochs[&e.epoch];
            let want = if me.revoked {
                EpochState::Revoked
            } else if me.destroyed {
                EpochState::Destroyed
            } else {
                EpochState::Live
            };
            assert_eq!(e.state, want, "epoch {}", e.epoch);
        }
        assert_eq!(listing.bootstrap, !self.policy);
    }
}

fn run(seed: [u8; 32], interval: u64, policy: bool, ops: &[Op]) -> [usize; 11] {
    let mut sim = Sim::new(seed, interval, policy);
    sim.check();
    for op in ops {
        sim.step(op);
        sim.check();
    }
    sim.stats
}

// ---- strategies ------------------------------------------------------------------------

fn advance() -> impl Strategy<Value = u64> {
    prop_oneof![
        (1u64..=48).prop_map(|h| h * HOUR),
        (1u64..=30).prop_map(|d| d * DAY),
        (1u64..=12).prop_map(|m| m * 30 * DAY),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let yes = prop::bool::weighted(0.75);
    prop_oneof![
        6 => (any::<u8>(), any::<u8>()).prop_map(|(who, len)| Op::Seal { who, len: len % 64 }),
        2 => any::<u8>().prop_map(|who| Op::Maintain { who }),
        1 => any::<u8>().prop_map(|who| Op::Roll { who }),
        2 => yes.prop_map(|approved| Op::Add { approved }),
        2 => any::<u8>().prop_map(|who| Op::Remove { who }),
        1 => (any::<u8>(), yes).prop_map(|(which, approved)| Op::Revoke { which, approved }),
        1 => ((0u64..=730).prop_map(|d| d * DAY), yes)
            .prop_map(|(back, approved)| Op::Shred { back, approved }),
        5 => advance().prop_map(|secs| Op::Advance { secs }),
        1 => (0u8..3).prop_map(|kind| Op::Rogue { kind }),
    ]
}

fn interval() -> impl Strategy<Value = u64> {
    prop_oneof![Just(600u64), Just(HOUR), Just(DAY)]
}

fn config() -> Config {
    Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Bootstrap: the admin alone may add, remove, revoke and shred.
    #[test]
    fn bootstrap_ring_keeps_every_secret_not_revoked_or_shredded(
        seed in any::<[u8; 32]>(),
        interval in interval(),
        ops in prop::collection::vec(op(), 1..=40),
    ) {
        run(seed, interval, false, &ops);
    }

    /// A policy ring: adding, revoking and shredding need the log's approval, in
    /// `apply_governance` and again in `maintain`; hand-signed changes are refused.
    #[test]
    fn policy_ring_keeps_every_secret_not_revoked_or_shredded_by_approval(
        seed in any::<[u8; 32]>(),
        interval in interval(),
        ops in prop::collection::vec(op(), 1..=40),
    ) {
        run(seed, interval, true, &ops);
    }
}

/// The properties above exercise what they claim: over a fixed set of long runs, governance
/// versions are applied and refused, epochs revoked and shredded, members removed, changes
/// spliced in by hand, and refusals happen at `apply_governance`.
#[test]
fn the_model_exercises_every_path() {
    let mut total = [0usize; 11];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let ops = prop::collection::vec(op(), 40..=40);
    for policy in [false, true] {
        for k in 0..6u8 {
            let tree = ops.new_tree(&mut runner).unwrap();
            let s = run(
                [k; 32],
                [600, HOUR, DAY][usize::from(k % 3)],
                policy,
                &tree.current(),
            );
            for (t, s) in total.iter_mut().zip(s) {
                *t += s;
            }
        }
    }
    println!(
        "versions applied {}; spliced and refused {}; epochs revoked {}; shreds {}; \
         removals {}; apply refusals {}; spliced {}; unseals ok {} KeyRevoked {} \
         KeyDestroyed {}; removed-session refusals {}",
        total[0],
        total[1],
        total[2],
        total[3],
        total[4],
        total[5],
        total[6],
        total[7],
        total[8],
        total[9],
        total[10]
    );
    assert!(total.iter().all(|t| *t > 0), "{total:?}");
}
