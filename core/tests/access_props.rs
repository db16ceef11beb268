//! Property tests of elevated access: random histories on one [`World`] of sealing, time
//! passing (minutes to days), `maintain`, `roll_epoch`, access requests (a `since` scope
//! within the lookback or named closed epochs, any duration up to `max_grant`) approved at both
//! levels and granted, grant revocations (no quorum), approved shredding to a cutoff in the past
//! and approved epoch revocations.
//!
//! An independent model keeps, for each grant, its window, its scope, whether the newest
//! governance revokes it, whether the key state still lists it and the interval range it
//! covers in each epoch (§12.4: from the interval holding the scope's start, or a named
//! epoch's start, but not before `created - max_lookback`, to the one holding `not_after`, for
//! a closed epoch no later than its retirement plus the freshness period, cut to what
//! shredding left; a grant with a `since` scope gains each epoch created during its window,
//! giving up its oldest parts past 12), and the state and retirement of every epoch, the shred
//! cutoff and the revoked epochs, both as the newest governance orders them and as the key
//! state carries them out. It predicts every grant event of every write (issued, expired,
//! revoked, re-issued), which issue requests are refused (`PolicyUnsatisfied`, `TooLarge`),
//! and that a revoked grant still reading the current epoch rolls it.
//!
//! After every step, on freshly loaded rings: every grant the key state lists matches the
//! model (window and parts) and nothing else is listed; every grant ever issued either opens
//! and unseals every remembered secret inside its window exactly as the model predicts
//! (plaintext, or `KeyRevoked`, `KeyDestroyed`, `UnknownKey`), refusing with `GrantExpired`
//! just outside the window, or (dropped or revoked) refuses to open with `GrantExpired`; the
//! raw grant parts (`open_parts`) derive exactly the model's ranges, never an interval past the
//! one holding `not_after` nor a shredded one; the epoch states agree; the ring loads with a
//! first-use pin; and `audit_verify` accepts the audit chain with the key state's anchor.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{DAY, HOUR, World};
use dkm_core::access::{Scope, SignedGrant, SignedRequest};
use dkm_core::audit::AuditLog;
use dkm_core::rand_core::Rng;
use dkm_core::ring::{ApprovalRef, EpochState, Governance};
use dkm_core::{
    ErrorKind, Event, GrantId, GrantSession, KeyHolder, Maintenance, NoApprovals, Pin, Ring,
    SealedSecret, audit_verify,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

const LEAVES: u64 = 65_536;
const MAX_PARTS: usize = 12;
const MINUTE: u64 = 60;
/// The fixture's policy (the default): `max_lookback` and `freshness`.
const MAX_LOOKBACK: u64 = 30 * DAY;
const FRESHNESS: u64 = 2;

// ---- statistics -------------------------------------------------------------------------

const SEAL: usize = 0;
const ADVANCE: usize = 1;
const MAINTAIN: usize = 2;
const ROLL: usize = 3;
const GRANTED: usize = 4;
const GRANTED_EPOCHS: usize = 5;
const REVOKE_GRANT: usize = 6;
const SHRED: usize = 7;
const REVOKE_EPOCH: usize = 8;
const UNSEAL_OK: usize = 9;
const KEY_REVOKED: usize = 10;
const KEY_DESTROYED: usize = 11;
const UNKNOWN_KEY: usize = 12;
const OUTSIDE_WINDOW: usize = 13;
const OPEN_EXPIRED: usize = 14;
const FOLLOWED: usize = 15;
const RAW_CHECKED: usize = 16;
const REVOKED_ROLL: usize = 17;
const CUT_BY_SHRED: usize = 18;
const GRANT_REFUSED: usize = 19;
const DESTROYED_PENDING: usize = 20;
const REVOKED_PENDING: usize = 21;
const PARTS_REPLACED: usize = 22;
const TOO_LARGE: usize = 23;
const STATS: usize = 24;
const NAMES: [&str; STATS] = [
    "seal",
    "advance",
    "maintain",
    "roll_epoch",
    "grant issued",
    "grant for named epochs",
    "grant revoked",
    "shred",
    "epoch revoked",
    "unseal ok",
    "KeyRevoked",
    "KeyDestroyed",
    "UnknownKey",
    "GrantExpired outside window",
    "GrantExpired at open",
    "part added in a new epoch",
    "raw parts checked",
    "revoked grant rolled the epoch",
    "part cut by shredding",
    "grant refused as predicted",
    "KeyDestroyed before maintain",
    "KeyRevoked before maintain",
    "oldest part replaced",
    "grant refused: too many ranges",
];

// ---- the model --------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Live,
    Revoked,
    Destroyed,
}

#[derive(Clone, Copy, Debug)]
struct MEpoch {
    start: u64,
    iv: u64,
    /// Write time of the write that rolled past it (0: current).
    retired: u64,
    /// As the key state carries it out.
    state: St,
}

impl MEpoch {
    fn end(&self) -> u64 {
        self.start + LEAVES * self.iv
    }

    /// The interval holding `t` (`t` inside the schedule).
    fn at(&self, t: u64) -> u16 {
        u16::try_from((t - self.start) / self.iv).unwrap()
    }

    /// The first interval that ends after `cutoff`.
    fn first_kept(&self, cutoff: u64) -> u64 {
        cutoff.saturating_sub(self.start) / self.iv
    }
}

/// What a grant with `scope`, issued at `created` with window end `not_after`, covers in the
/// live epochs of `epochs` under the shred cutoff `cutoff` (§12.4): with `floor = created -
/// max_lookback` and `last` the window's end (for a closed epoch no later than its retirement
/// plus the freshness period), the intervals from the one holding the scope's start (named
/// epochs: their start), not before `floor`, to the one holding `last`, that shredding left.
fn scope_parts(
    epochs: &BTreeMap<u32, MEpoch>,
    cutoff: u64,
    scope: &MScope,
    created: u64,
    not_after: u64,
) -> BTreeMap<u32, (u16, u16)> {
    let floor = created.saturating_sub(MAX_LOOKBACK);
    let mut out = BTreeMap::new();
    for (n, e) in epochs {
        if e.state != St::Live {
            continue;
        }
        let start = match scope {
            MScope::Since(start) => *start,
            MScope::Epochs(named) if named.contains(n) => e.start,
            MScope::Epochs(_) => continue,
        };
        let from = start.max(floor).max(e.start);
        let last = if e.retired == 0 {
            not_after
        } else {
            not_after.min(e.retired + FRESHNESS * e.iv)
        };
        if e.start > last || e.end() <= from || from > last {
            continue;
        }
        let lo = u64::from(e.at(from)).max(e.first_kept(cutoff));
        let hi = u64::from(e.at(last.min(e.end() - 1)));
        if lo <= hi {
            out.insert(*n, (u16::try_from(lo).unwrap(), u16::try_from(hi).unwrap()));
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum MScope {
    Since(u64),
    Epochs(Vec<u32>),
}

#[derive(Clone, Debug)]
struct MGrant {
    id: GrantId,
    not_before: u64,
    not_after: u64,
    scope: MScope,
    /// The newest governance revokes it.
    revoked: bool,
    /// The key state lists it.
    present: bool,
    /// The intervals it derives in each epoch.
    parts: BTreeMap<u32, (u16, u16)>,
    /// A new epoch came while it already held the most parts: it did not follow.
    capped: bool,
}

struct MSecret {
    bytes: Vec<u8>,
    ctx: Vec<u8>,
    pt: Vec<u8>,
    epoch: u32,
    interval: u16,
    /// Start and length of its interval.
    start: u64,
    len: u64,
}

#[derive(Clone, Debug)]
enum ScopeChoice {
    /// `Since(now - back)`.
    Since(u64),
    /// The closed epochs whose index (in the key state) has its bit set.
    Epochs(u64),
}

#[derive(Clone, Debug)]
enum Op {
    Seal { len: u8 },
    Advance { secs: u64 },
    Maintain,
    Roll,
    Access { duration: u64, scope: ScopeChoice },
    RevokeGrant { which: u8 },
    Shred { back: u64 },
    RevokeEpoch { which: u8 },
}

/// Grant events of a write, comparable: (kind, grant, epoch).
type GEvent = (u8, [u8; 16], u32);

fn grant_events(events: &[Event]) -> Vec<GEvent> {
    let mut v: Vec<GEvent> = events
        .iter()
        .filter_map(|e| match e {
            Event::GrantRevoked { grant } => Some((1, grant.0, 0)),
            Event::GrantExpired { grant } => Some((2, grant.0, 0)),
            Event::GrantReissued { grant, epoch } => Some((3, grant.0, *epoch)),
            Event::GrantIssued { grant, .. } => Some((4, grant.0, 0)),
            _ => None,
        })
        .collect();
    v.sort_unstable();
    v
}

struct Sim {
    w: World,
    // The newest governance.
    revoked: BTreeSet<u32>,
    cutoff: u64,
    // As carried out by the key state.
    applied_cutoff: u64,
    epochs: BTreeMap<u32, MEpoch>,
    grants: Vec<MGrant>,
    secrets: Vec<MSecret>,
    stats: [usize; STATS],
}

impl Sim {
    fn new(seed: u8) -> Sim {
        let mut w = World::new(seed);
        let ring = w.reload();
        let ks = ring.key_state().unwrap().key_state();
        let mut epochs = BTreeMap::new();
        for e in &ks.epochs {
            assert_eq!(e.state, EpochState::Live);
            epochs.insert(
                e.epoch,
                MEpoch {
                    start: e.start,
                    iv: e.interval_secs,
                    retired: e.retired,
                    state: St::Live,
                },
            );
        }
        assert!(ks.grants.is_empty());
        Sim {
            w,
            revoked: BTreeSet::new(),
            cutoff: 0,
            applied_cutoff: 0,
            epochs,
            grants: Vec::new(),
            secrets: Vec::new(),
            stats: [0; STATS],
        }
    }

    /// The model follows a key-state write by `maintain` at `now` (which carries out the
    /// newest governance), and checks the write's grant events. `issued`: the grant
    /// `issue_grant` added in the same write.
    fn after_write(&mut self, now: u64, m: &Maintenance, issued: Option<MGrant>) {
        let ring = self.w.reload();
        let ks = ring.key_state().unwrap().key_state().clone();
        let mut expected: Vec<GEvent> = Vec::new();
        // Revocations and shredding of existing epochs.
        self.applied_cutoff = self.cutoff;
        for (n, e) in &mut self.epochs {
            if e.state == St::Live && self.revoked.contains(n) {
                e.state = St::Revoked;
            } else if e.state == St::Live && self.applied_cutoff >= e.end() {
                e.state = St::Destroyed;
            }
        }
        let current_live = self
            .epochs
            .iter()
            .next_back()
            .filter(|(_, e)| e.state == St::Live)
            .map(|(n, _)| *n);
        // Existing grants: revoked, expired, cut.
        let mut expect_roll = false;
        let epochs = self.epochs.clone();
        let cutoff = self.applied_cutoff;
        for g in self.grants.iter_mut().filter(|g| g.present) {
            if g.revoked {
                g.present = false;
                expected.push((1, g.id.0, 0));
                if now <= g.not_after && current_live.is_some_and(|c| g.parts.contains_key(&c)) {
                    expect_roll = true;
                }
            } else if now > g.not_after {
                g.present = false;
                expected.push((2, g.id.0, 0));
            } else {
                let before = g.parts.clone();
                g.parts.retain(|n, (lo, hi)| {
                    let e = &epochs[n];
                    if e.state != St::Live {
                        return false;
                    }
                    let keep = e.first_kept(cutoff);
                    if keep > u64::from(*hi) {
                        return false;
                    }
                    *lo = (*lo).max(u16::try_from(keep).unwrap());
                    true
                });
                if before != g.parts {
                    self.stats[CUT_BY_SHRED] += 1;
                }
            }
        }
        // New epochs (at most one per write).
        let new: Vec<_> = ks
            .epochs
            .iter()
            .filter(|e| !self.epochs.contains_key(&e.epoch))
            .collect();
        assert!(new.len() <= 1, "two epochs in one write");
        if expect_roll {
            assert_eq!(
                new.len(),
                1,
                "a revoked grant reading the current epoch must roll it"
            );
            self.stats[REVOKED_ROLL] += 1;
        }
        for e in new {
            assert_eq!(e.state, EpochState::Live);
            assert!(
                !self.revoked.contains(&e.epoch),
                "a revoked number was used"
            );
            assert!(
                self.epochs.keys().all(|n| *n < e.epoch),
                "epoch numbers ascend"
            );
            // The new epoch starts at the beginning of the interval holding the write time;
            // the one before retires at the write time.
            let t = ks.write_time;
            assert!(t >= now);
            assert_eq!(e.start, t - t % e.interval_secs);
            if let Some(prev) = self.epochs.values_mut().next_back()
                && prev.retired == 0
            {
                prev.retired = t;
            }
            let me = MEpoch {
                start: e.start,
                iv: e.interval_secs,
                retired: 0,
                state: St::Live,
            };
            self.epochs.insert(e.epoch, me);
            // A grant that follows its window gains the new epoch's readable intervals up to
            // the one holding not_after, its oldest parts going when it would hold too many.
            for g in self.grants.iter_mut().filter(|g| g.present) {
                if !matches!(g.scope, MScope::Since(_)) || me.start > g.not_after {
                    continue;
                }
                let lo = me.first_kept(self.applied_cutoff);
                let hi = u64::from(me.at(g.not_after.min(me.end() - 1)));
                if lo > hi {
                    continue;
                }
                while g.parts.len() + 1 > MAX_PARTS {
                    g.parts.pop_first();
                    g.capped = true;
                    self.stats[PARTS_REPLACED] += 1;
                }
                g.parts.insert(
                    e.epoch,
                    (u16::try_from(lo).unwrap(), u16::try_from(hi).unwrap()),
                );
                expected.push((3, g.id.0, e.epoch));
                self.stats[FOLLOWED] += 1;
            }
        }
        for g in self.grants.iter_mut().filter(|g| g.present) {
            if g.parts.is_empty() {
                g.present = false;
                expected.push((2, g.id.0, 0));
            }
        }
        if let Some(mut g) = issued {
            g.parts = scope_parts(
                &self.epochs,
                self.applied_cutoff,
                &g.scope,
                g.not_before,
                g.not_after,
            );
            assert!(!g.parts.is_empty() && g.parts.len() <= MAX_PARTS);
            expected.push((4, g.id.0, 0));
            self.grants.push(g);
        }
        expected.sort_unstable();
        assert_eq!(
            grant_events(&m.events),
            expected,
            "grant events of the write: {:?}",
            m.events
        );
    }

    // ---- operations ----------------------------------------------------------------------

    fn maintain(&mut self, roll: bool) {
        let now = self.w.now;
        let m = if roll {
            let s1 = self.w.s1.clone();
            let mut h = KeyHolder::open(self.w.reload(), &s1).unwrap();
            let m = h
                .roll_epoch(
                    &s1,
                    now,
                    &mut self.w.rng,
                    &self.w.log.quorum_check(now),
                    (self.w.audit.head_anchor(), self.w.log.head()),
                )
                .unwrap();
            assert!(m.written);
            self.w.record_events(&s1, &m.events, now);
            self.w.ring = h.into_ring();
            m
        } else {
            let s1 = self.w.s1.clone();
            self.w.maintain(&s1, now)
        };
        self.after_write(now, &m, None);
    }

    fn seal(&mut self, len: u8) {
        let now = self.w.now;
        let s1 = self.w.s1.clone();
        if KeyHolder::open(self.w.reload(), &s1)
            .unwrap()
            .needs_maintain(now)
        {
            self.maintain(false);
        }
        let ring = self.w.reload();
        let ks = ring.key_state().unwrap().key_state().clone();
        let h = KeyHolder::open(ring, &s1).unwrap();
        assert!(!h.needs_maintain(now));
        let mut h = h;
        let mut pt = vec![0u8; usize::from(len)];
        self.w.rng.fill_bytes(&mut pt);
        let ctx = format!("secret {}", self.secrets.len()).into_bytes();
        let bytes = h.seal(now, &pt, &ctx, &mut self.w.rng).unwrap();
        let kid = SealedSecret::parse(&bytes).unwrap().key_id();
        let cur = ks.current().unwrap();
        assert_eq!(kid.epoch, cur.epoch, "sealed in the current epoch");
        let sched = cur.schedule().unwrap();
        let t = now.max(ks.write_time);
        assert_eq!(kid.interval, sched.interval_at(t).unwrap(), "seal time");
        self.secrets.push(MSecret {
            bytes,
            ctx,
            pt,
            epoch: kid.epoch,
            interval: kid.interval,
            start: sched.interval_start(kid.interval),
            len: sched.interval_secs(),
        });
        self.stats[SEAL] += 1;
    }

    fn access(&mut self, duration: u64, choice: &ScopeChoice) {
        let now = self.w.now;
        let ring = self.w.reload();
        let ks = ring.key_state().unwrap().key_state().clone();
        let scope = match *choice {
            ScopeChoice::Since(back) => Scope::Since(now - back),
            ScopeChoice::Epochs(mask) => {
                let named: Vec<u32> = ks
                    .epochs
                    .iter()
                    .filter(|e| e.retired != 0)
                    .enumerate()
                    .filter(|(i, _)| mask >> (i % 64) & 1 == 1)
                    .map(|(_, e)| e.epoch)
                    .collect();
                if named.is_empty() {
                    Scope::Since(now)
                } else {
                    Scope::Epochs(named)
                }
            }
        };
        let mscope = match &scope {
            Scope::Since(s) => MScope::Since(*s),
            Scope::Epochs(v) => MScope::Epochs(v.clone()),
        };
        let eng = self.w.eng.clone();
        let hash = self.w.request(&eng, duration, Some(scope));
        self.w.approve_both(&hash);
        // The prediction, before the write (which may add an epoch): what the governance in
        // force after it leaves live.
        let predicted = {
            let mut e = self.epochs.clone();
            for (n, me) in &mut e {
                if me.state == St::Live && self.revoked.contains(n) {
                    me.state = St::Revoked;
                } else if me.state == St::Live && self.cutoff >= me.end() {
                    me.state = St::Destroyed;
                }
            }
            e
        };
        let named_dead = match &mscope {
            MScope::Epochs(named) => named.iter().any(|n| predicted[n].state != St::Live),
            MScope::Since(_) => false,
        };
        let not_after = now + duration;
        // The write rolls the epoch when the current one is revoked, or a revoked grant
        // still reads it: a `since` scope then also reads the new epoch.
        let current = predicted
            .iter()
            .next_back()
            .filter(|(_, e)| e.state == St::Live)
            .map(|(n, _)| *n);
        let rolls = current.is_none_or(|c| {
            self.grants
                .iter()
                .any(|g| g.present && g.revoked && now <= g.not_after && g.parts.contains_key(&c))
        });
        let mut ranges = scope_parts(&predicted, self.cutoff, &mscope, now, not_after).len();
        if rolls && matches!(mscope, MScope::Since(_)) {
            ranges += 1;
        }
        let want = if named_dead || ranges == 0 {
            Some(ErrorKind::PolicyUnsatisfied)
        } else if ranges > MAX_PARTS {
            Some(ErrorKind::TooLarge)
        } else {
            None
        };
        let s1 = self.w.s1.clone();
        let mut h = KeyHolder::open(self.w.reload(), &s1).unwrap();
        let r = h.issue_grant(
            &s1,
            now,
            &mut self.w.rng,
            &self.w.log,
            &hash,
            self.w.audit.head_anchor(),
        );
        match r {
            Ok((m, id)) => {
                assert_eq!(want, None, "a grant the model refuses was issued");
                assert!(m.written);
                assert_eq!(id, GrantId::for_request(&hash));
                self.w.record_events(&s1, &m.events, now);
                self.w.ring = h.into_ring();
                let named = matches!(mscope, MScope::Epochs(_));
                self.after_write(
                    now,
                    &m,
                    Some(MGrant {
                        id,
                        not_before: now,
                        not_after,
                        scope: mscope,
                        revoked: false,
                        present: true,
                        parts: BTreeMap::new(),
                        capped: false,
                    }),
                );
                self.stats[GRANTED] += 1;
                if named {
                    self.stats[GRANTED_EPOCHS] += 1;
                }
            }
            Err(e) => {
                assert_eq!(Some(e.kind()), want, "{e}: {ranges} ranges");
                self.stats[GRANT_REFUSED] += 1;
                if e.kind() == ErrorKind::TooLarge {
                    self.stats[TOO_LARGE] += 1;
                }
            }
        }
    }

    fn revoke_grant(&mut self, which: u8) {
        let live: Vec<usize> = (0..self.grants.len())
            .filter(|i| self.grants[*i].present && !self.grants[*i].revoked)
            .collect();
        if live.is_empty() {
            return;
        }
        let i = live[usize::from(which) % live.len()];
        let id = self.grants[i].id;
        let mut ring = self.w.reload();
        let mut d = ring.draft();
        let at = d.revoked_grants.partition_point(|g| *g < id.0);
        d.revoked_grants.insert(at, id.0);
        assert!(!ring.needs_quorum(&d), "revoking a grant needs no quorum");
        let (_, events) = ring
            .apply_governance(d, &self.w.admin, &NoApprovals, self.w.now)
            .unwrap();
        self.w.ring = ring;
        let admin = self.w.admin.clone();
        self.w.record_events(&admin, &events, self.w.now);
        self.grants[i].revoked = true;
        self.stats[REVOKE_GRANT] += 1;
    }

    /// Proposes `change` as the admin, logs it, approves it at both levels and applies it.
    fn approved_change(&mut self, change: impl FnOnce(&mut Governance)) {
        let w = &mut self.w;
        let ring = w.reload();
        let mut d = ring.draft();
        change(&mut d);
        assert!(ring.needs_quorum(&d));
        let (req, content) =
            SignedRequest::governance_change(&ring, &d, &w.admin, "change", w.now, &mut w.rng)
                .unwrap();
        let h = req.hash();
        let e = w.log.log_request(&ring, req, Some(content), w.now).unwrap();
        w.log.push(e).unwrap();
        w.approve_both(&h);
        d.approval = Some(ApprovalRef {
            log: w.log.head(),
            request: h,
            evidence: w.log.evidence(&h).unwrap(),
        });
        let mut ring = ring;
        let (_, events) = ring
            .apply_governance(d, &w.admin, &w.log.quorum_check(w.now), w.now)
            .unwrap();
        w.ring = ring;
        let admin = w.admin.clone();
        let now = w.now;
        w.record_events(&admin, &events, now);
    }

    fn shred(&mut self, back: u64) {
        let cutoff = self.w.now - back;
        if cutoff <= self.cutoff {
            return;
        }
        self.approved_change(|d| d.shred_before = cutoff);
        self.cutoff = cutoff;
        self.stats[SHRED] += 1;
    }

    fn revoke_epoch(&mut self, which: u8) {
        let mut choices: Vec<u32> = self.epochs.keys().copied().collect();
        choices.push(choices.last().unwrap() + 1); // ahead of time
        choices.retain(|n| !self.revoked.contains(n));
        if choices.is_empty() {
            return;
        }
        let n = choices[usize::from(which) % choices.len()];
        self.approved_change(|d| {
            let at = d.revoked_epochs.partition_point(|e| *e < n);
            d.revoked_epochs.insert(at, n);
        });
        self.revoked.insert(n);
        self.stats[REVOKE_EPOCH] += 1;
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Seal { len } => self.seal(*len),
            Op::Advance { secs } => {
                self.w.now += secs;
                self.stats[ADVANCE] += 1;
            }
            Op::Maintain => {
                self.maintain(false);
                self.stats[MAINTAIN] += 1;
            }
            Op::Roll => {
                self.maintain(true);
                self.stats[ROLL] += 1;
            }
            Op::Access { duration, scope } => self.access(*duration, scope),
            Op::RevokeGrant { which } => self.revoke_grant(*which),
            Op::Shred { back } => self.shred(*back),
            Op::RevokeEpoch { which } => self.revoke_epoch(*which),
        }
    }

    // ---- the checks ----------------------------------------------------------------------

    /// What a session of `g` (listed, not revoked) gives for `s` inside the window.
    fn expect(&self, g: &MGrant, s: &MSecret) -> Result<(), ErrorKind> {
        if self.revoked.contains(&s.epoch) {
            return Err(ErrorKind::KeyRevoked);
        }
        if s.start + s.len <= self.cutoff {
            return Err(ErrorKind::KeyDestroyed);
        }
        let by_parts = g
            .parts
            .get(&s.epoch)
            .is_some_and(|(lo, hi)| *lo <= s.interval && s.interval <= *hi);
        // The same from the grant's bounds alone, in seal times: a `since` scope reads the
        // intervals from the one holding its start to the one holding `not_after`; named
        // epochs, their intervals not wholly before `created - max_lookback`. (Secrets of a
        // closed epoch were sealed before its retirement, so the freshness bound never
        // matters here.) A grant that gave up parts for newer epochs reads less.
        let by_bounds = match &g.scope {
            MScope::Since(start) => s.start + s.len > *start && s.start <= g.not_after,
            MScope::Epochs(named) => {
                named.contains(&s.epoch) && s.start + s.len > g.not_before - MAX_LOOKBACK
            }
        };
        if !g.capped {
            assert_eq!(
                by_parts, by_bounds,
                "the grant's parts and its bounds disagree on secret in epoch {} interval {}",
                s.epoch, s.interval
            );
        }
        if by_parts {
            Ok(())
        } else {
            Err(ErrorKind::UnknownKey)
        }
    }

    fn check(&mut self) {
        let ring = self.w.reload();
        // A first-use reader loads the whole history.
        let first_use = Pin::new(ring.id(), vec![self.w.admin.public().clone()]);
        Ring::load(&self.w.ring.to_bytes(), &first_use).unwrap();
        let ks = ring.key_state().unwrap().key_state().clone();
        // Governance.
        let gov = ring.governance();
        assert_eq!(
            gov.revoked_epochs,
            self.revoked.iter().copied().collect::<Vec<_>>()
        );
        assert_eq!(gov.shred_before, self.cutoff);
        let mut revoked_grants: Vec<[u8; 16]> = self
            .grants
            .iter()
            .filter(|g| g.revoked)
            .map(|g| g.id.0)
            .collect();
        revoked_grants.sort_unstable();
        assert_eq!(gov.revoked_grants, revoked_grants);
        // Epochs.
        assert_eq!(ks.shred_applied, self.applied_cutoff);
        assert_eq!(
            ks.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
            self.epochs.keys().copied().collect::<Vec<_>>()
        );
        for e in &ks.epochs {
            let me = self.epochs[&e.epoch];
            let want = match me.state {
                St::Live => EpochState::Live,
                St::Revoked => EpochState::Revoked,
                St::Destroyed => EpochState::Destroyed,
            };
            assert_eq!(e.state, want, "epoch {}", e.epoch);
            assert_eq!(
                (e.start, e.interval_secs, e.retired),
                (me.start, me.iv, me.retired)
            );
            if me.state == St::Live {
                let first = u16::try_from(me.first_kept(self.applied_cutoff)).unwrap();
                assert_eq!(e.readable(), vec![(first, u16::MAX)], "epoch {}", e.epoch);
            }
        }
        // Grants the key state lists: exactly the present ones, as the model has them.
        let listed: Vec<SignedGrant> = ks
            .grants
            .iter()
            .map(|b| SignedGrant::parse(b).unwrap())
            .collect();
        let mut want: Vec<GrantId> = self
            .grants
            .iter()
            .filter(|g| g.present)
            .map(|g| g.id)
            .collect();
        want.sort();
        assert_eq!(
            listed.iter().map(|g| g.grant().id).collect::<Vec<_>>(),
            want,
            "grants listed"
        );
        let eng = self.w.eng.clone();
        for sg in &listed {
            let gr = sg.grant();
            let g = self.grants.iter().find(|g| g.id == gr.id).unwrap();
            assert_eq!((gr.not_before, gr.not_after), (g.not_before, g.not_after));
            assert_eq!(gr.follows, matches!(g.scope, MScope::Since(_)));
            let parts: BTreeMap<u32, (u16, u16)> = gr
                .parts
                .iter()
                .map(|p| (p.epoch, (p.first, p.last)))
                .collect();
            assert_eq!(parts.len(), gr.parts.len(), "one part per epoch");
            assert_eq!(parts, g.parts, "parts of grant {}", gr.id);
            // The raw nodes: exactly the model's ranges, never past the interval holding
            // not_after, never a shredded interval, only live epochs.
            let mut raw = sg.open_parts(&eng, &ks.epochs).unwrap();
            assert_eq!(raw.len(), gr.parts.len());
            for k in &mut raw {
                let me = self.epochs[&k.epoch()];
                assert_eq!(me.state, St::Live, "a raw part of a dead epoch");
                let sched = *k.schedule();
                let ranges = k.nodes().ranges();
                assert_eq!(ranges.len(), 1);
                for (a, b) in &ranges {
                    assert!(
                        sched.interval_start(*b) <= gr.not_after,
                        "raw nodes derive past the interval holding not_after"
                    );
                    assert!(
                        sched.interval_start(*a) + sched.interval_secs() > self.applied_cutoff,
                        "raw nodes derive a shredded interval"
                    );
                    assert_eq!(Some(&(*a, *b)), g.parts.get(&k.epoch()));
                }
                for s in &self.secrets {
                    let kid = SealedSecret::parse(&s.bytes).unwrap().key_id();
                    let inside = s.epoch == k.epoch()
                        && ranges
                            .iter()
                            .any(|(a, b)| *a <= s.interval && s.interval <= *b);
                    match k.keys_for(&kid) {
                        Ok(keys) => {
                            assert!(inside, "raw nodes derive a key outside their range");
                            let parsed = SealedSecret::parse(&s.bytes).unwrap();
                            assert_eq!(&keys.unseal(&parsed, &s.ctx).unwrap()[..], &s.pt[..]);
                        }
                        Err(e) => {
                            assert!(!inside, "raw nodes fail inside their range: {e}");
                            assert_eq!(e.kind(), ErrorKind::UnknownKey);
                        }
                    }
                    self.stats[RAW_CHECKED] += 1;
                }
            }
        }
        // Every grant ever issued, through a fresh session on the freshly loaded ring.
        let mut scratch = AuditLog::new();
        for gi in 0..self.grants.len() {
            let g = self.grants[gi].clone();
            let ring = ring.clone();
            if !g.present || g.revoked {
                let e = GrantSession::open(ring, &eng, g.id).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::GrantExpired, "grant {}: {e}", g.id);
                self.stats[OPEN_EXPIRED] += 1;
                continue;
            }
            let mut session = GrantSession::open(ring, &eng, g.id).unwrap();
            let times = [
                g.not_before,
                g.not_before + (g.not_after - g.not_before) / 2,
                g.not_after,
            ];
            let mut into_world = true;
            for (k, s) in self.secrets.iter().enumerate() {
                for t in [g.not_before - 1, g.not_after + 1] {
                    let e = session
                        .unseal(&eng, &s.bytes, &s.ctx, t, 0, &mut scratch)
                        .unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::GrantExpired);
                    self.stats[OUTSIDE_WINDOW] += 1;
                }
                let want = self.expect(&g, s);
                // The first plaintext of each session goes into the world's audit chain.
                let sink: &mut AuditLog = if want.is_ok() && into_world {
                    into_world = false;
                    &mut self.w.audit
                } else {
                    &mut scratch
                };
                let before = sink.records().len();
                let got = session.unseal(&eng, &s.bytes, &s.ctx, times[k % 3], 0, sink);
                match (want, got) {
                    (Ok(()), Ok(pt)) => {
                        assert_eq!(&pt[..], &s.pt[..]);
                        assert_eq!(sink.records().len(), before + 1, "audited");
                        self.stats[UNSEAL_OK] += 1;
                    }
                    (Err(kind), Err(e)) => {
                        assert_eq!(
                            e.kind(),
                            kind,
                            "grant {} secret {k} (epoch {} interval {}): {e}",
                            g.id,
                            s.epoch,
                            s.interval
                        );
                        assert_eq!(sink.records().len(), before, "no record for a refusal");
                        self.stats[match kind {
                            ErrorKind::KeyRevoked => KEY_REVOKED,
                            ErrorKind::KeyDestroyed => KEY_DESTROYED,
                            _ => UNKNOWN_KEY,
                        }] += 1;
                        // Ordered by the newest governance, not yet carried out.
                        let pending =
                            match kind {
                                ErrorKind::KeyRevoked => (self.epochs[&s.epoch].state == St::Live)
                                    .then_some(REVOKED_PENDING),
                                ErrorKind::KeyDestroyed => (s.start + s.len > self.applied_cutoff)
                                    .then_some(DESTROYED_PENDING),
                                _ => None,
                            };
                        if let Some(p) = pending {
                            self.stats[p] += 1;
                        }
                    }
                    (want, got) => panic!(
                        "grant {} secret {k} (epoch {} interval {}): want {want:?}, got {:?}",
                        g.id,
                        s.epoch,
                        s.interval,
                        got.map(|p| p.len())
                    ),
                }
            }
        }
        // The audit chain, with the key state's anchor.
        let anchor = ring.key_state().unwrap().key_state().audit;
        let recs: Vec<&[u8]> = self
            .w
            .audit
            .records()
            .iter()
            .map(|r| r.as_bytes())
            .collect();
        audit_verify(ring.id(), recs, &[anchor]).unwrap();
    }
}

fn run(seed: u8, ops: &[Op]) -> [usize; STATS] {
    let mut sim = Sim::new(seed);
    sim.check();
    for op in ops {
        sim.step(op);
        sim.check();
    }
    sim.stats
}

// ---- strategies -------------------------------------------------------------------------

fn advance() -> impl Strategy<Value = u64> {
    prop_oneof![
        (1u64..=180).prop_map(|m| m * MINUTE),
        (1u64..=24).prop_map(|h| h * HOUR),
        (1u64..=3 * DAY),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let scope = prop_oneof![
        2 => (0u64..=3 * DAY).prop_map(ScopeChoice::Since),
        1 => (0u64..=30 * DAY).prop_map(ScopeChoice::Since),
        2 => any::<u64>().prop_map(ScopeChoice::Epochs),
    ];
    prop_oneof![
        5 => any::<u8>().prop_map(|len| Op::Seal { len: len % 48 }),
        4 => advance().prop_map(|secs| Op::Advance { secs }),
        1 => Just(Op::Maintain),
        2 => Just(Op::Roll),
        4 => (MINUTE..=8 * HOUR, scope)
            .prop_map(|(duration, scope)| Op::Access { duration, scope }),
        2 => any::<u8>().prop_map(|which| Op::RevokeGrant { which }),
        2 => (HOUR..=3 * DAY).prop_map(|back| Op::Shred { back }),
        2 => any::<u8>().prop_map(|which| Op::RevokeEpoch { which }),
    ]
}

fn config() -> Config {
    Config {
        cases: 32,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Grants read exactly what their scope, window, the revocations and the shredding
    /// allow, through sessions and through their raw nodes.
    #[test]
    fn grants_read_exactly_their_bounds(
        seed in any::<u8>(),
        ops in prop::collection::vec(op(), 1..=25),
    ) {
        run(seed, &ops);
    }
}

/// Many rolls during one grant's window: the grant follows each new epoch and, once full,
/// gives up its oldest parts; a `since` request then spans more epochs than a grant holds
/// (closed epochs count for the freshness period after their retirement) and is refused,
/// and once they are past it, granted.
fn many_rolls() -> Vec<Op> {
    let mut ops = vec![
        Op::Seal { len: 8 },
        Op::Access {
            duration: 8 * HOUR,
            scope: ScopeChoice::Since(DAY),
        },
    ];
    for _ in 0..13 {
        ops.push(Op::Roll);
        ops.push(Op::Seal { len: 8 });
    }
    ops.extend([
        Op::Access {
            duration: HOUR,
            scope: ScopeChoice::Since(0),
        },
        Op::Access {
            duration: HOUR,
            scope: ScopeChoice::Epochs(u64::MAX),
        },
        Op::Advance { secs: 3 * DAY },
        Op::Maintain,
        Op::Access {
            duration: HOUR,
            scope: ScopeChoice::Since(HOUR),
        },
    ]);
    ops
}

#[test]
fn a_grant_follows_many_rolls_and_keeps_its_newest_parts() {
    let s = run(77, &many_rolls());
    assert_eq!(s[FOLLOWED], 13);
    assert_eq!(s[PARTS_REPLACED], 2);
    assert_eq!((s[TOO_LARGE], s[GRANT_REFUSED]), (2, 2));
    assert_eq!((s[GRANTED], s[GRANTED_EPOCHS]), (2, 0));
}

/// The property above exercises what it claims: over a fixed set of runs (random ones and
/// [`many_rolls`]) every operation happens and every outcome is seen.
#[test]
fn the_model_exercises_every_path() {
    let mut total = [0usize; STATS];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let ops = prop::collection::vec(op(), 25..=25);
    let mut runs: Vec<Vec<Op>> = (0..8)
        .map(|_| ops.new_tree(&mut runner).unwrap().current())
        .collect();
    runs.push(many_rolls());
    for (k, ops) in (200u8..).zip(&runs) {
        let s = run(k, ops);
        for (t, s) in total.iter_mut().zip(s) {
            *t += s;
        }
    }
    let report: Vec<String> = NAMES
        .iter()
        .zip(total)
        .map(|(n, t)| format!("{n} {t}"))
        .collect();
    println!("{}", report.join("; "));
    let missing: Vec<&str> = NAMES
        .iter()
        .zip(total)
        .filter(|(_, t)| *t == 0)
        .map(|(n, _)| *n)
        .collect();
    assert!(missing.is_empty(), "never happened: {missing:?}");
}
