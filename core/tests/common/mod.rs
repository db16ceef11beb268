//! A shared fixture for the elevated-access tests: a ring with two key holders, an admin,
//! two approval levels (`ops`: 1 of 2, `security`: 1 of 2) bound and out of cool-off, an
//! engineer who is no member, a request log and an audit chain.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)] // test code

use std::rc::Rc;

use chacha20::ChaCha20Rng;
use dkm_core::access::{LogEntry, RequestLog, Scope, SignedRequest, Verdict};
use dkm_core::audit::{AuditLog, records_for};
use dkm_core::rand_core::SeedableRng;
use dkm_core::ring::{ApprovalLevel, Member};
use dkm_core::{GrantId, Identity, KeyHolder, Pin, Policy, Ring, Role};

pub const START: u64 = 1_767_225_600;
pub const DAY: u64 = 86_400;
pub const HOUR: u64 = 3_600;

pub struct World {
    pub rng: ChaCha20Rng,
    pub admin: Rc<Identity>,
    pub s1: Rc<Identity>,
    pub s2: Rc<Identity>,
    /// Level `ops`.
    pub a1: Rc<Identity>,
    pub a2: Rc<Identity>,
    /// Level `security`.
    pub b1: Rc<Identity>,
    pub b2: Rc<Identity>,
    /// Not a member.
    pub eng: Rc<Identity>,
    pub ring: Ring,
    pub pin: Pin,
    pub log: RequestLog,
    pub audit: AuditLog,
    /// The fixture's clock: two days after START (approvers out of cool-off).
    pub now: u64,
}

fn member(role: Role, id: &Identity) -> Member {
    Member {
        role,
        identity: id.public().clone(),
    }
}

impl World {
    pub fn new(seed: u8) -> World {
        let mut rng = ChaCha20Rng::from_seed([seed; 32]);
        let admin = Identity::generate(&mut rng);
        let s1 = Identity::generate(&mut rng);
        let s2 = Identity::generate(&mut rng);
        let a1 = Identity::generate(&mut rng);
        let a2 = Identity::generate(&mut rng);
        let b1 = Identity::generate(&mut rng);
        let b2 = Identity::generate(&mut rng);
        let eng = Identity::generate(&mut rng);
        let members: Vec<Member> = [
            (Role::Service, &s1),
            (Role::Service, &s2),
            (Role::Approver, &a1),
            (Role::Approver, &a2),
            (Role::Approver, &b1),
            (Role::Approver, &b2),
        ]
        .iter()
        .map(|(r, i)| member(*r, i))
        .collect();
        let (mut ring, _) =
            Ring::create("mail", Policy::default(), &admin, &members, &mut rng).unwrap();
        // Bootstrap: the admin alone sets the first approval policy.
        let mut d = ring.draft();
        let mut ops = vec![a1.id(), a2.id()];
        ops.sort();
        let mut sec = vec![b1.id(), b2.id()];
        sec.sort();
        d.policy.levels = vec![
            ApprovalLevel {
                name: "ops".into(),
                quorum: 1,
                approvers: ops,
            },
            ApprovalLevel {
                name: "security".into(),
                quorum: 1,
                approvers: sec,
            },
        ];
        ring.apply_governance(d, &admin, &dkm_core::NoApprovals, START)
            .unwrap();
        let pin = Pin::new(ring.id(), vec![admin.public().clone()]);
        let ring = Ring::load(&ring.to_bytes(), &pin).unwrap();
        let log = RequestLog::new(ring.id());
        let mut w = World {
            rng,
            admin: Rc::new(admin),
            s1: Rc::new(s1),
            s2: Rc::new(s2),
            a1: Rc::new(a1),
            a2: Rc::new(a2),
            b1: Rc::new(b1),
            b2: Rc::new(b2),
            eng: Rc::new(eng),
            pin: ring.pin(),
            ring,
            log,
            audit: AuditLog::new(),
            now: START,
        };
        w.maintain(&w.s1.clone(), START);
        w.now = START + 2 * DAY;
        w.maintain(&w.s1.clone(), w.now);
        w
    }

    /// Runs maintain as `holder` at `now` with the log's quorum check and stores the ring.
    pub fn maintain(&mut self, holder: &Identity, now: u64) -> dkm_core::Maintenance {
        let mut h = KeyHolder::open(self.reload(), holder).unwrap();
        let m = h
            .maintain(
                holder,
                now,
                &mut self.rng,
                &self.log.quorum_check(now),
                (self.audit.head_anchor(), self.log.head()),
            )
            .unwrap();
        self.record_events(holder, &m.events, now);
        self.ring = h.into_ring();
        m
    }

    /// Appends audit records for `events`, signed by `actor`.
    pub fn record_events(&mut self, actor: &Identity, events: &[dkm_core::Event], now: u64) {
        use dkm_core::AuditSink;
        let recs = records_for(
            self.ring.id(),
            events,
            actor,
            now,
            0,
            self.audit.head_anchor(),
        )
        .unwrap();
        for r in recs {
            self.audit.append(&r).unwrap();
        }
    }

    /// The stored ring, loaded again through the pin (as a reader would).
    pub fn reload(&mut self) -> Ring {
        let r = Ring::load(&self.ring.to_bytes(), &self.pin).unwrap();
        self.pin = r.pin();
        r
    }

    /// Logs an access request by `who` and returns its hash.
    pub fn request(&mut self, who: &Identity, duration: u64, scope: Option<Scope>) -> [u8; 32] {
        let ring = self.reload();
        let req = SignedRequest::access(
            &ring,
            who,
            "debug the mail sync",
            duration,
            scope,
            self.now,
            &mut self.rng,
        )
        .unwrap();
        let h = req.hash();
        let e = self.log.log_request(&ring, req, None, self.now).unwrap();
        self.log.push(e).unwrap();
        h
    }

    /// Logs a decision; returns the frame's result.
    pub fn decide(
        &mut self,
        hash: &[u8; 32],
        level: &str,
        verdict: Verdict,
        who: &Identity,
    ) -> dkm_core::Result<LogEntry> {
        let ring = self.reload();
        let e = self
            .log
            .decide(&ring, hash, level, verdict, who, self.now)?;
        self.log.push(e.clone()).unwrap();
        Ok(e)
    }

    /// Approves at both levels (a1 then b1).
    pub fn approve_both(&mut self, hash: &[u8; 32]) {
        let (a1, b1) = (self.a1.clone(), self.b1.clone());
        self.decide(hash, "ops", Verdict::Approve, &a1).unwrap();
        self.decide(hash, "security", Verdict::Approve, &b1)
            .unwrap();
    }

    /// Issues the grant for `hash` as s1 at the fixture's clock.
    pub fn grant(&mut self, hash: &[u8; 32]) -> dkm_core::Result<GrantId> {
        let s1 = self.s1.clone();
        let mut h = KeyHolder::open(self.reload(), &s1)?;
        let (m, id) = h.issue_grant(
            &s1,
            self.now,
            &mut self.rng,
            &self.log,
            hash,
            self.audit.head_anchor(),
        )?;
        self.record_events(&s1, &m.events, self.now);
        self.ring = h.into_ring();
        Ok(id)
    }

    /// Seals as s1 at `now` (maintaining first if needed).
    pub fn seal(&mut self, now: u64, plaintext: &[u8]) -> Vec<u8> {
        let s1 = self.s1.clone();
        let mut h = KeyHolder::open(self.reload(), &s1).unwrap();
        if h.needs_maintain(now) {
            self.maintain(&s1, now);
            h = KeyHolder::open(self.reload(), &s1).unwrap();
        }
        h.seal(now, plaintext, b"ctx", &mut self.rng).unwrap()
    }
}
