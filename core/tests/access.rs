//! Elevated access, refusal by refusal: every path that must say no (missing level, short
//! quorum, duplicate, unlisted, cooling-off and self approvals, hidden denials, unchained and
//! foreign approvals, replayed, expired and future-dated requests, max_grant, max_lookback,
//! the window and the bounds of a grant, a failing audit sink, revocation, unapproved
//! governance changes) with its exact error kind and, where kinds are shared, its message;
//! and what must work: the bounds of a grant's raw nodes, re-issue on an epoch roll, and one
//! audit record per unseal.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

mod common;

use common::{DAY, HOUR, World};
use dkm_core::access::{
    Decision, LogEntry, LogRecord, Request, RequestKind, Scope, SignedDecision, SignedGrant,
    SignedRequest, Verdict,
};
use dkm_core::audit::{Action, AuditRecord, FLAG_CLOCK_OVERRIDE, secret_name};
use dkm_core::rand_core::Rng;
use dkm_core::ring::{Anchor, ApprovalRef, Governance, RollReason};
use dkm_core::{
    AuditSink, Error, ErrorKind, Event, EvidenceQuorum, GrantId, GrantSession, Identity, KeyHolder,
    Maintenance, NoApprovals, Result, Ring, RingId, RingPublic, Role, SealedSecret, armor,
    audit_verify, decode_any,
};

const CTX: &[u8] = b"ctx";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Asserts that `r` failed with `kind` and a message containing `text`; returns the error.
#[track_caller]
fn refused<T: std::fmt::Debug>(r: Result<T>, kind: ErrorKind, text: &str) -> Error {
    let e = r.expect_err("expected a refusal");
    assert_eq!(e.kind(), kind, "{e}");
    assert!(
        e.message().contains(text),
        "message {:?} does not contain {:?}",
        e.message(),
        text
    );
    e
}

/// Appends a request-log frame (SPEC §12.6) carrying `record` (kind 1: a request, 2: a
/// decision) to the world's log, as a writer of the store could, without the early refusals
/// of `RequestLog::log_request` and `RequestLog::decide`.
fn push_frame(w: &mut World, kind: u8, record: &[u8]) {
    try_push_frame(w, kind, record).unwrap();
}

/// [`push_frame`], reporting what `LogEntry::parse` says of the frame.
fn try_push_frame(w: &mut World, kind: u8, record: &[u8]) -> Result<()> {
    let head = w.log.head();
    let mut f = vec![1u8];
    f.extend_from_slice(&w.ring.id().0);
    f.extend_from_slice(&(head.seq + 1).to_be_bytes());
    f.extend_from_slice(&head.hash);
    f.push(kind);
    f.extend_from_slice(&u32::try_from(record.len()).unwrap().to_be_bytes());
    f.extend_from_slice(record);
    if kind == 1 {
        f.extend_from_slice(&0u32.to_be_bytes()); // no attachment
    }
    let e = LogEntry::parse(w.ring.id(), &f)?;
    w.log.push(e)
}

/// A decision of this world's ring signed by `who`.
fn decision(
    w: &World,
    who: &Identity,
    request: [u8; 32],
    level: &str,
    time: u64,
    chained: Vec<[u8; 32]>,
) -> SignedDecision {
    Decision {
        ring: w.ring.id(),
        request,
        level: level.into(),
        verdict: Verdict::Approve,
        time,
        chained,
    }
    .sign(who)
    .unwrap()
}

/// Signs an approval by hand (dated at the world's clock) and pushes it into the log.
fn push_approval(
    w: &mut World,
    who: &Identity,
    request: [u8; 32],
    level: &str,
    chained: Vec<[u8; 32]>,
) -> [u8; 32] {
    let d = decision(w, who, request, level, w.now, chained);
    push_frame(w, 2, d.as_bytes());
    d.hash()
}

/// The hash of the decision a log frame carries.
fn decision_hash(e: &LogEntry) -> [u8; 32] {
    match e.record() {
        LogRecord::Decision(d) => d.hash(),
        LogRecord::Request { .. } => panic!("not a decision frame"),
    }
}

/// An access request made by hand, past the checks of `SignedRequest::access`.
fn hand_request(
    w: &mut World,
    who: &Identity,
    created: u64,
    duration_secs: u64,
    scope: Scope,
) -> SignedRequest {
    let mut id = [0u8; 16];
    w.rng.fill_bytes(&mut id);
    Request {
        ring: w.ring.id(),
        id,
        created,
        reason: "made by hand".into(),
        kind: RequestKind::Access {
            duration_secs,
            scope,
        },
    }
    .sign(who)
    .unwrap()
}

/// Logs `req` through `RequestLog::log_request` at the world's clock; returns its hash.
fn log_request(w: &mut World, req: SignedRequest) -> [u8; 32] {
    let ring = w.reload();
    let h = req.hash();
    let e = w.log.log_request(&ring, req, None, w.now).unwrap();
    w.log.push(e).unwrap();
    h
}

/// The engineer's request for `duration` from now, approved at both levels.
fn approved(w: &mut World, duration: u64, scope: Option<Scope>) -> [u8; 32] {
    let eng = w.eng.clone();
    let h = w.request(&eng, duration, scope);
    w.approve_both(&h);
    h
}

/// `maintain` as s1 at `now` with the log's quorum check, without unwrapping.
fn try_maintain(w: &mut World, now: u64) -> Result<Maintenance> {
    let s1 = w.s1.clone();
    let mut h = KeyHolder::open(w.reload(), &s1)?;
    let m = h.maintain(
        &s1,
        now,
        &mut w.rng,
        &w.log.quorum_check(now),
        (w.audit.head_anchor(), w.log.head()),
    )?;
    w.record_events(&s1, &m.events, now);
    w.ring = h.into_ring();
    Ok(m)
}

/// `roll_epoch` as s1 at `now`.
fn roll(w: &mut World, now: u64) -> Maintenance {
    let s1 = w.s1.clone();
    let mut h = KeyHolder::open(w.reload(), &s1).unwrap();
    let m = h
        .roll_epoch(
            &s1,
            now,
            &mut w.rng,
            &w.log.quorum_check(now),
            (w.audit.head_anchor(), w.log.head()),
        )
        .unwrap();
    w.record_events(&s1, &m.events, now);
    w.ring = h.into_ring();
    m
}

/// A governance change that needs the quorum, signed properly: a change request in the log,
/// approved at both levels (a1, b1), applied by the admin with the log's check. Not carried
/// out yet (the ring is pending).
fn sign_change(w: &mut World, edit: impl FnOnce(&mut Governance)) {
    let ring = w.reload();
    let mut d = ring.draft();
    edit(&mut d);
    assert!(ring.needs_quorum(&d));
    let admin = w.admin.clone();
    let (req, content) =
        SignedRequest::governance_change(&ring, &d, &admin, "policy", w.now, &mut w.rng).unwrap();
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
        .apply_governance(d, &admin, &w.log.quorum_check(w.now), w.now)
        .unwrap();
    w.ring = ring;
    w.record_events(&admin, &events, w.now);
}

/// [`sign_change`], then carried out by s1's `maintain`.
fn govern(w: &mut World, edit: impl FnOnce(&mut Governance)) {
    sign_change(w, edit);
    let s1 = w.s1.clone();
    w.maintain(&s1, w.now);
}

/// The admin revokes grant `id` (no quorum needed) at the world's clock.
fn revoke(w: &mut World, id: GrantId) {
    let mut ring = w.reload();
    let mut d = ring.draft();
    d.revoked_grants = vec![id.0];
    assert!(!ring.needs_quorum(&d), "revoking a grant needs no quorum");
    let admin = w.admin.clone();
    let (_, events) = ring
        .apply_governance(d, &admin, &NoApprovals, w.now)
        .unwrap();
    w.ring = ring;
    w.record_events(&admin, &events, w.now);
}

/// `blob` with one more governance record appended to its chain (before the key state).
fn append_governance(blob: &[u8], record: &[u8]) -> Vec<u8> {
    let n = usize::from(blob[21]);
    let mut at = 22;
    for _ in 0..n {
        let len = u32::from_be_bytes(blob[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + len;
    }
    let mut out = blob[..at].to_vec();
    out[21] += 1;
    out.extend_from_slice(&u32::try_from(record.len()).unwrap().to_be_bytes());
    out.extend_from_slice(record);
    out.extend_from_slice(&blob[at..]);
    out
}

/// The engineer's session on the stored ring.
fn session(w: &mut World, id: GrantId) -> GrantSession {
    let eng = w.eng.clone();
    GrantSession::open(w.reload(), &eng, id).unwrap()
}

/// Unseals as the engineer into the world's audit chain.
fn unseal(w: &mut World, s: &mut GrantSession, sealed: &[u8], now: u64) -> Result<Vec<u8>> {
    let eng = w.eng.clone();
    s.unseal(&eng, sealed, CTX, now, 0, &mut w.audit)
        .map(|p| p.to_vec())
}

/// The grant `id` as the stored key state lists it.
fn grant_of(w: &World, id: GrantId) -> SignedGrant {
    w.ring
        .key_state()
        .unwrap()
        .key_state()
        .grants
        .iter()
        .map(|g| SignedGrant::parse(g).unwrap())
        .find(|g| g.grant().id == id)
        .expect("the key state lists the grant")
}

fn grants_listed(w: &World) -> usize {
    w.ring.key_state().unwrap().key_state().grants.len()
}

fn key_id(sealed: &[u8]) -> dkm_core::KeyId {
    SealedSecret::parse(sealed).unwrap().key_id()
}

// ---------------------------------------------------------------------------------------
// Approvals
// ---------------------------------------------------------------------------------------

#[test]
fn missing_level_is_refused() {
    let mut w = World::new(10);
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let a1 = w.a1.clone();
    w.decide(&h, "ops", Verdict::Approve, &a1).unwrap();
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "missing level");
    assert_eq!(grants_listed(&w), 0, "a refused grant writes nothing");
}

#[test]
fn quorum_short_is_refused() {
    let mut w = World::new(11);
    govern(&mut w, |d| d.policy.levels[0].quorum = 2);
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let (a1, a2, b1) = (w.a1.clone(), w.a2.clone(), w.b1.clone());
    w.decide(&h, "ops", Verdict::Approve, &a1).unwrap();
    refused(
        w.decide(&h, "security", Verdict::Approve, &b1),
        ErrorKind::PolicyUnsatisfied,
        "not met its quorum yet",
    );
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "quorum is short");
    // The second ops approver completes the level; then security can chain it.
    w.decide(&h, "ops", Verdict::Approve, &a2).unwrap();
    w.decide(&h, "security", Verdict::Approve, &b1).unwrap();
    w.grant(&h).unwrap();
}

#[test]
fn duplicate_approver_counts_once() {
    let mut w = World::new(12);
    // a1 is listed at both levels (allowed).
    let a1_id = w.a1.id();
    govern(&mut w, move |d| {
        let sec = &mut d.policy.levels[1].approvers;
        sec.push(a1_id);
        sec.sort();
    });
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let (a1, b1) = (w.a1.clone(), w.b1.clone());
    let ops = decision_hash(&w.decide(&h, "ops", Verdict::Approve, &a1).unwrap());
    refused(
        w.decide(&h, "security", Verdict::Approve, &a1),
        ErrorKind::InvalidInput,
        "already decided",
    );
    // a1's second approval, at security, chained to its own ops approval, pushed by hand.
    push_approval(&mut w, &a1, h, "security", vec![ops]);
    refused(
        w.grant(&h),
        ErrorKind::PolicyUnsatisfied,
        "duplicate approver",
    );
    // A second person at security makes it.
    w.decide(&h, "security", Verdict::Approve, &b1).unwrap();
    w.grant(&h).unwrap();
}

#[test]
fn same_approver_twice_at_one_level_counts_once() {
    let mut w = World::new(53);
    govern(&mut w, |d| d.policy.levels[0].quorum = 2);
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let a1 = w.a1.clone();
    w.decide(&h, "ops", Verdict::Approve, &a1).unwrap();
    refused(
        w.decide(&h, "ops", Verdict::Approve, &a1),
        ErrorKind::InvalidInput,
        "already decided",
    );
    push_approval(&mut w, &a1, h, "ops", vec![]);
    refused(
        w.grant(&h),
        ErrorKind::PolicyUnsatisfied,
        "duplicate approver",
    );
}

#[test]
fn approver_not_listed_at_the_level_is_refused() {
    let mut w = World::new(13);
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let (a1, a2) = (w.a1.clone(), w.a2.clone());
    let ops = decision_hash(&w.decide(&h, "ops", Verdict::Approve, &a1).unwrap());
    refused(
        w.decide(&h, "security", Verdict::Approve, &a2),
        ErrorKind::NotAMember,
        "not an approver listed at that level",
    );
    refused(
        w.decide(&h, "audit", Verdict::Approve, &a2),
        ErrorKind::InvalidInput,
        "no level of that name",
    );
    push_approval(&mut w, &a2, h, "security", vec![ops]);
    refused(
        w.grant(&h),
        ErrorKind::PolicyUnsatisfied,
        "an approver the level does not list",
    );
}

#[test]
fn approval_by_a_non_approver_is_refused() {
    let mut w = World::new(14);
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let (a1, admin) = (w.a1.clone(), w.admin.clone());
    let ops = decision_hash(&w.decide(&h, "ops", Verdict::Approve, &a1).unwrap());
    refused(
        w.decide(&h, "security", Verdict::Approve, &admin),
        ErrorKind::NotAMember,
        "not an approver listed at that level",
    );
    push_approval(&mut w, &admin, h, "security", vec![ops]);
    refused(
        w.grant(&h),
        ErrorKind::PolicyUnsatisfied,
        "not an approver of the ring",
    );
}

#[test]
fn approver_in_cool_off_is_refused() {
    let mut w = World::new(15);
    // c1 joins level ops through an approved change; maintain binds it at the write time.
    let c1 = Identity::generate(&mut w.rng);
    let (c1_id, c1_pub) = (c1.id(), c1.public().clone());
    govern(&mut w, move |d| {
        d.add_member(Role::Approver, c1_pub).unwrap();
        let ops = &mut d.policy.levels[0].approvers;
        ops.push(c1_id);
        ops.sort();
    });
    let since = w
        .ring
        .key_state()
        .unwrap()
        .key_state()
        .approver_since
        .iter()
        .find(|a| a.approver == c1_id)
        .unwrap()
        .since;
    assert_eq!(since, w.now);
    let b1 = w.b1.clone();
    // Right away: `decide` logs it (it does not judge cool-off), the grant refuses it.
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    w.decide(&h, "ops", Verdict::Approve, &c1).unwrap();
    refused(
        w.decide(&h, "security", Verdict::Approve, &b1),
        ErrorKind::PolicyUnsatisfied,
        "not met its quorum yet",
    );
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "cool-off");
    // One second before the cool-off ends: still refused.
    w.now = since + DAY - 1;
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    w.decide(&h, "ops", Verdict::Approve, &c1).unwrap();
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "cool-off");
    // A hand-signed approval dated inside the cool-off, in the log at a later clock: refused.
    w.now = since + DAY + HOUR;
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let early = decision(&w, &c1, h, "ops", since + DAY - 1, vec![]);
    push_frame(&mut w, 2, early.as_bytes());
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "cool-off");
    // From since + cool-off on, c1 counts.
    w.now = since + DAY;
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    w.decide(&h, "ops", Verdict::Approve, &c1).unwrap();
    w.decide(&h, "security", Verdict::Approve, &b1).unwrap();
    w.grant(&h).unwrap();
}

#[test]
fn self_approval_is_refused() {
    let mut w = World::new(16);
    // An approver (not a key holder) may ask for access...
    let a2 = w.a2.clone();
    let h = w.request(&a2, 2 * HOUR, None);
    // ...but not approve its own request.
    refused(
        w.decide(&h, "ops", Verdict::Approve, &a2),
        ErrorKind::PolicyUnsatisfied,
        "its own request",
    );
    push_approval(&mut w, &a2, h, "ops", vec![]);
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "self-approval");
    // Another approver of each level: granted, and the approver can open it.
    w.approve_both(&h);
    let id = w.grant(&h).unwrap();
    GrantSession::open(w.reload(), &a2, id).unwrap();
}

#[test]
fn level_two_approval_not_chained_to_level_one_is_refused() {
    let mut w = World::new(17);
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let (a1, b1, b2) = (w.a1.clone(), w.b1.clone(), w.b2.clone());
    w.decide(&h, "ops", Verdict::Approve, &a1).unwrap();
    // Chaining nothing.
    push_approval(&mut w, &b1, h, "security", vec![]);
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "not chained");
    // Chaining something that is not a counted ops approval.
    push_approval(&mut w, &b2, h, "security", vec![[0x55; 32]]);
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "not chained");
}

#[test]
fn first_level_approval_chaining_anything_is_refused() {
    let mut w = World::new(18);
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let a1 = w.a1.clone();
    push_approval(&mut w, &a1, h, "ops", vec![[0x11; 32]]);
    refused(
        w.grant(&h),
        ErrorKind::PolicyUnsatisfied,
        "first-level approval chains no earlier approvals",
    );
}

#[test]
fn denial_in_the_log_refuses_the_grant() {
    let mut w = World::new(19);
    let h = approved(&mut w, 2 * HOUR, None);
    let (a2, b2) = (w.a2.clone(), w.b2.clone());
    w.decide(&h, "ops", Verdict::Deny, &a2).unwrap();
    refused(
        w.grant(&h),
        ErrorKind::PolicyUnsatisfied,
        "denied by an approver",
    );
    refused(
        w.decide(&h, "security", Verdict::Deny, &b2),
        ErrorKind::PolicyUnsatisfied,
        "already denied",
    );
}

#[test]
fn denial_in_the_log_but_not_presented_refuses_a_governance_change() {
    let mut w = World::new(20);
    let newcomer = Identity::generate(&mut w.rng);
    let ring = w.reload();
    let mut d = ring.draft();
    d.add_member(Role::Service, newcomer.public().clone())
        .unwrap();
    let admin = w.admin.clone();
    let (req, content) =
        SignedRequest::governance_change(&ring, &d, &admin, "new worker", w.now, &mut w.rng)
            .unwrap();
    let h = req.hash();
    let e = w.log.log_request(&ring, req, Some(content), w.now).unwrap();
    w.log.push(e).unwrap();
    w.approve_both(&h);
    let a2 = w.a2.clone();
    w.decide(&h, "ops", Verdict::Deny, &a2).unwrap();
    let evidence = w.log.evidence(&h).unwrap();
    assert_eq!(
        evidence.len(),
        3,
        "the request and two approvals: no denial"
    );
    d.approval = Some(ApprovalRef {
        log: w.log.head(),
        request: h,
        evidence,
    });
    // The admin's tool reading the log refuses.
    refused(
        ring.clone()
            .apply_governance(d.clone(), &admin, &w.log.quorum_check(w.now), w.now),
        ErrorKind::PolicyUnsatisfied,
        "holds a denial",
    );
    // An admin who checks the evidence only can sign it, and a reader accepts it...
    let mut signed = ring.clone();
    signed
        .apply_governance(d, &admin, &EvidenceQuorum, w.now)
        .unwrap();
    let blob = signed.to_bytes();
    let loaded = Ring::load(&blob, &w.pin).unwrap();
    // ...but not one that also reads the log.
    refused(
        Ring::load_with(&blob, &w.pin, &w.log.quorum_check(w.now)),
        ErrorKind::PolicyUnsatisfied,
        "holds a denial",
    );
    refused(
        loaded.recheck_since(ring.latest().version(), &w.log.quorum_check(w.now)),
        ErrorKind::PolicyUnsatisfied,
        "holds a denial",
    );
    // Key holders never carry it out.
    let version = w.ring.key_state().unwrap().key_state().version;
    w.ring = loaded;
    let now = w.now + 60;
    refused(
        try_maintain(&mut w, now),
        ErrorKind::PolicyUnsatisfied,
        "holds a denial",
    );
    assert!(w.ring.is_pending());
    assert_eq!(w.ring.key_state().unwrap().key_state().version, version);
    refused(
        KeyHolder::open(w.reload(), &newcomer),
        ErrorKind::NotAMember,
        "not a key holder",
    );
}

#[test]
fn approval_of_another_request_or_ring_is_refused() {
    let mut w = World::new(21);
    let newcomer = Identity::generate(&mut w.rng);
    let ring = w.reload();
    let mut d = ring.draft();
    d.add_member(Role::Service, newcomer.public().clone())
        .unwrap();
    let admin = w.admin.clone();
    let (req, content) =
        SignedRequest::governance_change(&ring, &d, &admin, "new worker", w.now, &mut w.rng)
            .unwrap();
    let h = req.hash();
    let e = w.log.log_request(&ring, req, Some(content), w.now).unwrap();
    w.log.push(e).unwrap();
    w.approve_both(&h);
    let honest = w.log.evidence(&h).unwrap();
    let a2 = w.a2.clone();
    let other_request = decision(&w, &a2, [7; 32], "ops", w.now, vec![]);
    let other_ring = Decision {
        ring: RingId([9; 16]),
        request: h,
        level: "ops".into(),
        verdict: Verdict::Approve,
        time: w.now,
        chained: vec![],
    }
    .sign(&a2)
    .unwrap();
    // The log itself takes no decision of another ring.
    refused(
        try_push_frame(&mut w, 2, other_ring.as_bytes()),
        ErrorKind::Tampered,
        "names another ring",
    );
    for foreign in [other_request, other_ring] {
        let mut bad = d.clone();
        let mut evidence = honest.clone();
        evidence.push(foreign.as_bytes().to_vec());
        bad.approval = Some(ApprovalRef {
            log: w.log.head(),
            request: h,
            evidence,
        });
        for check in [
            &EvidenceQuorum as &dyn dkm_core::QuorumCheck,
            &w.log.quorum_check(w.now),
        ] {
            refused(
                ring.clone()
                    .apply_governance(bad.clone(), &admin, check, w.now),
                ErrorKind::PolicyUnsatisfied,
                "names another ring or another request",
            );
        }
        // Hand-signed by the admin and spliced into the store: readers refuse it.
        let rec = bad.sign(&admin).unwrap();
        let blob = append_governance(&ring.to_bytes(), rec.as_bytes());
        refused(
            Ring::load(&blob, &w.pin),
            ErrorKind::PolicyUnsatisfied,
            "names another ring or another request",
        );
    }
    // The honest evidence alone goes through.
    d.approval = Some(ApprovalRef {
        log: w.log.head(),
        request: h,
        evidence: honest,
    });
    ring.clone()
        .apply_governance(d, &admin, &w.log.quorum_check(w.now), w.now)
        .unwrap();
}

/// A request-log head for changes whose request was never logged (the log is empty).
const NOT_LOGGED: dkm_core::ring::Anchor = dkm_core::ring::Anchor {
    seq: 1,
    hash: [0; 32],
};

#[test]
fn unapproved_governance_change_is_refused() {
    let mut w = World::new(22);
    let newcomer = Identity::generate(&mut w.rng);
    let ring = w.reload();
    let admin = w.admin.clone();
    let eng = w.eng.clone();
    let mut d = ring.draft();
    d.add_member(Role::Service, newcomer.public().clone())
        .unwrap();
    assert!(ring.needs_quorum(&d));
    refused(
        ring.clone()
            .apply_governance(d.clone(), &admin, &NoApprovals, w.now),
        ErrorKind::PolicyUnsatisfied,
        "collect them first",
    );
    for check in [
        &EvidenceQuorum as &dyn dkm_core::QuorumCheck,
        &w.log.quorum_check(w.now),
    ] {
        refused(
            ring.clone()
                .apply_governance(d.clone(), &admin, check, w.now),
            ErrorKind::PolicyUnsatisfied,
            "carries none",
        );
    }
    let splice = |g: Governance| {
        let rec = g.sign(&admin).unwrap();
        append_governance(&ring.to_bytes(), rec.as_bytes())
    };
    // Spliced into the store with no approval at all.
    refused(
        Ring::load(&splice(d.clone()), &w.pin),
        ErrorKind::PolicyUnsatisfied,
        "carries none",
    );
    // A real change request "approved" by someone who is not an approver.
    let (req, _) =
        SignedRequest::governance_change(&ring, &d, &admin, "new worker", w.now, &mut w.rng)
            .unwrap();
    let h = req.hash();
    let fake_ops = decision(&w, &eng, h, "ops", w.now, vec![]);
    let fake_sec = decision(&w, &eng, h, "security", w.now, vec![fake_ops.hash()]);
    let mut fake = d.clone();
    fake.approval = Some(ApprovalRef {
        log: NOT_LOGGED,
        request: h,
        evidence: vec![
            req.as_bytes().to_vec(),
            fake_ops.as_bytes().to_vec(),
            fake_sec.as_bytes().to_vec(),
        ],
    });
    refused(
        Ring::load(&splice(fake), &w.pin),
        ErrorKind::PolicyUnsatisfied,
        "not an approver of the ring",
    );
    // Genuine approvals, but the record names another request hash.
    let (a1, b1) = (w.a1.clone(), w.b1.clone());
    let ops = decision(&w, &a1, h, "ops", w.now, vec![]);
    let sec = decision(&w, &b1, h, "security", w.now, vec![ops.hash()]);
    let evidence = vec![
        req.as_bytes().to_vec(),
        ops.as_bytes().to_vec(),
        sec.as_bytes().to_vec(),
    ];
    let mut renamed = d.clone();
    renamed.approval = Some(ApprovalRef {
        log: NOT_LOGGED,
        request: [1; 32],
        evidence: evidence.clone(),
    });
    refused(
        Ring::load(&splice(renamed), &w.pin),
        ErrorKind::PolicyUnsatisfied,
        "not the one it names",
    );
    // Genuine approvals of a request for other content.
    let mut other = ring.draft();
    other
        .add_member(Role::Service, eng.public().clone())
        .unwrap();
    let mut moved = other;
    moved.approval = Some(ApprovalRef {
        log: NOT_LOGGED,
        request: h,
        evidence: evidence.clone(),
    });
    refused(
        Ring::load(&splice(moved), &w.pin),
        ErrorKind::PolicyUnsatisfied,
        "proposes other content",
    );
    // Genuine approvals of a request that was never logged: a reader (evidence only) accepts,
    // the admin's tool and key holders (who read the log) refuse.
    let mut unlogged = d.clone();
    unlogged.approval = Some(ApprovalRef {
        log: NOT_LOGGED,
        request: h,
        evidence,
    });
    refused(
        ring.clone()
            .apply_governance(unlogged.clone(), &admin, &w.log.quorum_check(w.now), w.now),
        ErrorKind::PolicyUnsatisfied,
        "request-log head this log does not hold",
    );
    let loaded = Ring::load(&splice(unlogged), &w.pin).unwrap();
    w.ring = loaded;
    let now = w.now + 60;
    refused(
        try_maintain(&mut w, now),
        ErrorKind::PolicyUnsatisfied,
        "request-log head this log does not hold",
    );
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

#[test]
fn replayed_request_is_refused() {
    let mut w = World::new(23);
    let h = approved(&mut w, HOUR, None);
    let id = w.grant(&h).unwrap();
    assert!(
        w.ring
            .key_state()
            .unwrap()
            .key_state()
            .used_requests
            .contains(&h)
    );
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "granted already");
    let a2 = w.a2.clone();
    refused(
        w.decide(&h, "ops", Verdict::Approve, &a2),
        ErrorKind::PolicyUnsatisfied,
        "already granted",
    );
    // Once the grant expired and was dropped, the request still cannot be used again.
    w.now += 2 * HOUR;
    let s1 = w.s1.clone();
    let m = w.maintain(&s1, w.now);
    assert!(m.events.contains(&Event::GrantExpired { grant: id }));
    assert_eq!(grants_listed(&w), 0);
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "granted already");
}

#[test]
fn grant_needs_a_logged_access_request() {
    let mut w = World::new(24);
    refused(
        w.grant(&[3; 32]),
        ErrorKind::InvalidInput,
        "no such request",
    );
    // A governance change request, even approved, is no access request.
    let newcomer = Identity::generate(&mut w.rng);
    let ring = w.reload();
    let mut d = ring.draft();
    d.add_member(Role::Service, newcomer.public().clone())
        .unwrap();
    let admin = w.admin.clone();
    let (req, content) =
        SignedRequest::governance_change(&ring, &d, &admin, "", w.now, &mut w.rng).unwrap();
    let h = req.hash();
    let e = w.log.log_request(&ring, req, Some(content), w.now).unwrap();
    w.log.push(e).unwrap();
    w.approve_both(&h);
    refused(
        w.grant(&h),
        ErrorKind::InvalidInput,
        "governance change request",
    );
}

#[test]
fn expired_request_is_refused() {
    let mut w = World::new(25);
    let t0 = w.now;
    let h1 = approved(&mut w, 2 * HOUR, None);
    w.now = t0 + 1;
    let h2 = approved(&mut w, 2 * HOUR, None);
    // h1 expired a second ago; h2 expires now (still open).
    w.now = t0 + 12 * HOUR + 1;
    refused(w.grant(&h1), ErrorKind::PolicyUnsatisfied, "has expired");
    let a2 = w.a2.clone();
    refused(
        w.decide(&h1, "ops", Verdict::Approve, &a2),
        ErrorKind::PolicyUnsatisfied,
        "has expired",
    );
    w.grant(&h2).unwrap();
}

#[test]
fn future_dated_request_is_refused() {
    let mut w = World::new(26);
    let t0 = w.now;
    let eng = w.eng.clone();
    let ring = w.reload();
    // 301 s ahead: refused by the log; 300 s: accepted.
    let ahead = hand_request(&mut w, &eng, t0 + 301, 2 * HOUR, Scope::Since(t0));
    refused(
        w.log.log_request(&ring, ahead.clone(), None, t0),
        ErrorKind::PolicyUnsatisfied,
        "dated in the future",
    );
    let edge = hand_request(&mut w, &eng, t0 + 300, 2 * HOUR, Scope::Since(t0));
    w.log.log_request(&ring, edge, None, t0).unwrap();
    // A log writer whose clock is one second later takes it, and approvals follow.
    w.now = t0 + 1;
    let h = log_request(&mut w, ahead);
    w.approve_both(&h);
    // A key holder at t0 refuses to grant it; one at t0 + 1 grants it.
    w.now = t0;
    refused(
        w.grant(&h),
        ErrorKind::PolicyUnsatisfied,
        "dated in the future",
    );
    w.now = t0 + 1;
    w.grant(&h).unwrap();
}

#[test]
fn admin_may_request_access() {
    let mut w = World::new(55);
    let admin = w.admin.clone();
    let h = w.request(&admin, HOUR, None);
    w.approve_both(&h);
    let id = w.grant(&h).unwrap();
    GrantSession::open(w.reload(), &admin, id).unwrap();
}

#[test]
fn key_holder_cannot_request_access() {
    let mut w = World::new(27);
    let ring = w.reload();
    let s1 = w.s1.clone();
    refused(
        SignedRequest::access(&ring, &s1, "curious", HOUR, None, w.now, &mut w.rng),
        ErrorKind::InvalidInput,
        "key holder needs no elevated access: it can unseal already",
    );
    // Made by hand, logged and approved: the key holder still refuses to grant it.
    let now = w.now;
    let req = hand_request(&mut w, &s1, now, HOUR, Scope::Since(now));
    let h = log_request(&mut w, req);
    w.approve_both(&h);
    let e = refused(
        w.grant(&h),
        ErrorKind::InvalidInput,
        "a key holder needs no elevated access",
    );
    assert!(!e.message().contains("it can unseal already"));
}

// ---------------------------------------------------------------------------------------
// Policy bounds: max_grant, max_lookback
// ---------------------------------------------------------------------------------------

#[test]
fn access_request_past_max_grant_is_refused() {
    let mut w = World::new(28);
    let ring = w.reload();
    let eng = w.eng.clone();
    refused(
        SignedRequest::access(&ring, &eng, "long", 8 * HOUR + 1, None, w.now, &mut w.rng),
        ErrorKind::InvalidInput,
        "max_grant",
    );
    SignedRequest::access(&ring, &eng, "long", 8 * HOUR, None, w.now, &mut w.rng).unwrap();
}

#[test]
fn grant_window_is_clamped_to_max_grant() {
    let mut w = World::new(29);
    let eng = w.eng.clone();
    let now = w.now;
    let req = hand_request(&mut w, &eng, now, 10 * HOUR, Scope::Since(now));
    let h = log_request(&mut w, req);
    w.approve_both(&h);
    let id = w.grant(&h).unwrap();
    let g = grant_of(&w, id);
    let g = g.grant();
    assert_eq!(g.issued, w.now);
    assert_eq!(g.not_before, w.now);
    assert_eq!(g.not_after - g.not_before, 8 * HOUR);
}

#[test]
fn grant_window_follows_a_lowered_max_grant() {
    let mut w = World::new(30);
    let h = approved(&mut w, 6 * HOUR, None);
    govern(&mut w, |d| d.policy.max_grant_secs = 4 * HOUR);
    let id = w.grant(&h).unwrap();
    let g = grant_of(&w, id);
    assert_eq!(g.grant().not_after - g.grant().not_before, 4 * HOUR);
}

#[test]
fn session_refuses_a_grant_longer_than_a_lowered_max_grant() {
    let mut w = World::new(31);
    let h = approved(&mut w, 6 * HOUR, None);
    let id = w.grant(&h).unwrap();
    govern(&mut w, |d| d.policy.max_grant_secs = 4 * HOUR);
    let eng = w.eng.clone();
    refused(
        GrantSession::open(w.reload(), &eng, id),
        ErrorKind::PolicyUnsatisfied,
        "longer than the ring's longest grant",
    );
}

#[test]
fn access_scope_past_max_lookback_is_refused() {
    let mut w = World::new(32);
    let ring = w.reload();
    let eng = w.eng.clone();
    let now = w.now;
    refused(
        SignedRequest::access(
            &ring,
            &eng,
            "old",
            HOUR,
            Some(Scope::Since(now - 30 * DAY - 1)),
            now,
            &mut w.rng,
        ),
        ErrorKind::InvalidInput,
        "max_lookback",
    );
    SignedRequest::access(
        &ring,
        &eng,
        "old",
        HOUR,
        Some(Scope::Since(now - 30 * DAY)),
        now,
        &mut w.rng,
    )
    .unwrap();
}

#[test]
fn hand_made_scope_past_max_lookback_is_refused_at_grant() {
    let mut w = World::new(33);
    let eng = w.eng.clone();
    let now = w.now;
    let req = hand_request(&mut w, &eng, now, HOUR, Scope::Since(now - 30 * DAY - 1));
    let h = log_request(&mut w, req);
    w.approve_both(&h);
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "max_lookback");
}

// ---------------------------------------------------------------------------------------
// Grant sessions: window, bounds, identity, audit sink
// ---------------------------------------------------------------------------------------

#[test]
fn unseal_before_not_before_is_refused() {
    let mut w = World::new(34);
    let t0 = w.now;
    let sealed = w.seal(t0, b"secret");
    let h = approved(&mut w, 2 * HOUR, None);
    let id = w.grant(&h).unwrap();
    let mut s = session(&mut w, id);
    let before = w.audit.records().len();
    refused(
        unseal(&mut w, &mut s, &sealed, t0 - 1),
        ErrorKind::GrantExpired,
        "not started yet",
    );
    assert_eq!(w.audit.records().len(), before);
    assert_eq!(unseal(&mut w, &mut s, &sealed, t0).unwrap(), b"secret");
}

#[test]
fn unseal_after_not_after_is_refused() {
    let mut w = World::new(35);
    let t0 = w.now;
    let sealed = w.seal(t0, b"secret");
    let h = approved(&mut w, 2 * HOUR, None);
    let id = w.grant(&h).unwrap();
    let mut s = session(&mut w, id);
    assert_eq!(
        unseal(&mut w, &mut s, &sealed, t0 + 2 * HOUR).unwrap(),
        b"secret"
    );
    let before = w.audit.records().len();
    refused(
        unseal(&mut w, &mut s, &sealed, t0 + 2 * HOUR + 1),
        ErrorKind::GrantExpired,
        "has expired",
    );
    assert_eq!(w.audit.records().len(), before);
}

#[test]
fn secret_sealed_before_the_scope_is_unknown() {
    let mut w = World::new(36);
    let early = w.seal(w.now, b"early"); // interval 2
    w.now += 2 * DAY;
    let s1 = w.s1.clone();
    w.maintain(&s1, w.now);
    let inside = w.seal(w.now, b"inside"); // interval 4
    let start = w.now - DAY;
    let h = approved(&mut w, 2 * HOUR, Some(Scope::Since(start)));
    let id = w.grant(&h).unwrap();
    let g = grant_of(&w, id);
    assert_eq!((g.grant().parts[0].first, g.grant().parts[0].last), (3, 4));
    let mut s = session(&mut w, id);
    let now = w.now + HOUR;
    assert_eq!(unseal(&mut w, &mut s, &inside, now).unwrap(), b"inside");
    refused(
        unseal(&mut w, &mut s, &early, now),
        ErrorKind::UnknownKey,
        "outside the grant's bounds",
    );
}

#[test]
fn secret_sealed_after_the_window_interval_is_unknown() {
    let mut w = World::new(37);
    let t0 = w.now;
    let h = approved(&mut w, 2 * HOUR, None);
    let id = w.grant(&h).unwrap();
    let mut s = session(&mut w, id);
    // A key holder seals in the next interval (the window ends in this one).
    let later = w.seal(t0 + DAY, b"tomorrow");
    assert_eq!(
        key_id(&later).interval,
        key_id(&w.seal(t0, b"today")).interval + 1
    );
    refused(
        unseal(&mut w, &mut s, &later, t0 + HOUR),
        ErrorKind::UnknownKey,
        "outside the grant's bounds",
    );
}

#[test]
fn secret_of_another_ring_is_unknown() {
    let mut w = World::new(38);
    let mut other = World::new(39);
    let foreign = other.seal(other.now, b"elsewhere");
    let h = approved(&mut w, 2 * HOUR, None);
    let id = w.grant(&h).unwrap();
    let mut s = session(&mut w, id);
    let now = w.now + HOUR;
    refused(
        unseal(&mut w, &mut s, &foreign, now),
        ErrorKind::UnknownKey,
        "another ring",
    );
}

#[test]
fn grant_of_someone_else_is_refused() {
    let mut w = World::new(40);
    let sealed = w.seal(w.now, b"secret");
    let h = approved(&mut w, 2 * HOUR, None);
    let id = w.grant(&h).unwrap();
    let a1 = w.a1.clone();
    refused(
        GrantSession::open(w.reload(), &a1, id),
        ErrorKind::NotAMember,
        "issued to another identity",
    );
    let mut s = session(&mut w, id);
    refused(
        s.unseal(&a1, &sealed, CTX, w.now, 0, &mut w.audit),
        ErrorKind::NotAMember,
        "issued to another identity",
    );
    // A grant id that was never issued.
    let eng = w.eng.clone();
    refused(
        GrantSession::open(w.reload(), &eng, GrantId([0; 16])),
        ErrorKind::GrantExpired,
        "lists no such grant",
    );
}

/// An audit sink whose store is down (or whose head cannot be read, or that always loses
/// the race).
struct BrokenSink {
    fail: ErrorKind,
    head_fails: bool,
    attempts: usize,
    records: Vec<AuditRecord>,
}

impl BrokenSink {
    fn new(fail: ErrorKind, head_fails: bool) -> BrokenSink {
        BrokenSink {
            fail,
            head_fails,
            attempts: 0,
            records: Vec::new(),
        }
    }
}

impl AuditSink for BrokenSink {
    fn head(&mut self) -> Result<Anchor> {
        if self.head_fails {
            Err(Error::new(self.fail, "the audit store cannot be read"))
        } else {
            Ok(Anchor::EMPTY)
        }
    }

    fn append(&mut self, _record: &AuditRecord) -> Result<()> {
        self.attempts += 1;
        Err(Error::new(self.fail, "the audit store is down"))
    }
}

#[test]
fn sink_failure_gives_no_plaintext() {
    let mut w = World::new(41);
    let sealed = w.seal(w.now, b"secret");
    let h = approved(&mut w, 2 * HOUR, None);
    let id = w.grant(&h).unwrap();
    let mut s = session(&mut w, id);
    let eng = w.eng.clone();
    let now = w.now + HOUR;

    let mut down = BrokenSink::new(ErrorKind::StoreUnavailable, false);
    refused(
        s.unseal(&eng, &sealed, CTX, now, 0, &mut down),
        ErrorKind::StoreUnavailable,
        "the audit store is down",
    );
    assert_eq!(down.attempts, 1, "no retry on a store failure");
    assert!(down.records.is_empty());

    let mut unreadable = BrokenSink::new(ErrorKind::StoreUnavailable, true);
    refused(
        s.unseal(&eng, &sealed, CTX, now, 0, &mut unreadable),
        ErrorKind::StoreUnavailable,
        "cannot be read",
    );
    assert_eq!(unreadable.attempts, 0);

    let mut racing = BrokenSink::new(ErrorKind::Conflict, false);
    refused(
        s.unseal(&eng, &sealed, CTX, now, 0, &mut racing),
        ErrorKind::Conflict,
        "the audit store is down",
    );
    assert_eq!(racing.attempts, 8, "a lost race is retried a few times");
    assert!(racing.records.is_empty());

    // The session still works with a sink that takes the record.
    assert_eq!(unseal(&mut w, &mut s, &sealed, now).unwrap(), b"secret");
}

#[test]
fn every_unseal_appends_one_audit_record() {
    let mut w = World::new(42);
    let t0 = w.now;
    let one = w.seal(t0, b"one");
    let two = w.seal(t0, b"two");
    let h = approved(&mut w, 2 * HOUR, None);
    let id = w.grant(&h).unwrap();
    let seal_only = RingPublic::load(&w.ring.to_bytes(), &w.pin)
        .unwrap()
        .seal(t0, b"three", CTX, &mut w.rng)
        .unwrap();
    let mut s = session(&mut w, id);
    let eng = w.eng.clone();
    let cases: [(Vec<u8>, u8, bool, &[u8]); 3] = [
        (one, 0, false, b"one"),
        (armor(&two).into_bytes(), FLAG_CLOCK_OVERRIDE, false, b"two"),
        (seal_only, 0, true, b"three"),
    ];
    for (i, (input, flags, only, pt)) in cases.iter().enumerate() {
        let now = t0 + 60 * i as u64;
        let before = w.audit.records().len();
        let out = if *only {
            s.unseal_seal_only(&eng, input, CTX, now, *flags, &mut w.audit)
        } else {
            s.unseal(&eng, input, CTX, now, *flags, &mut w.audit)
        }
        .unwrap();
        assert_eq!(&out[..], *pt);
        assert_eq!(w.audit.records().len(), before + 1);
        let binary = decode_any(input).unwrap();
        let r = w.audit.records().last().unwrap();
        assert_eq!(r.action, Action::GrantUnseal);
        assert_eq!(r.ring, w.ring.id());
        assert_eq!(r.time, now);
        assert_eq!(r.flags, *flags);
        assert_eq!(r.actor(), eng.public());
        assert_eq!(r.detail.grant, Some(id));
        assert_eq!(r.detail.key, Some(key_id(&binary)));
        assert_eq!(r.detail.object, Some(secret_name(&binary)));
        assert_eq!(r.detail.request, None);
        // The JSON form round-trips and says the same.
        let json = r.to_json();
        assert_eq!(&AuditRecord::from_json(&json).unwrap(), r);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["action"], "grant-unseal");
        assert_eq!(v["grant"], id.to_string());
        assert_eq!(v["object"], hex::encode(secret_name(&binary)));
        assert_eq!(v["clock_override"], *flags == FLAG_CLOCK_OVERRIDE);
        assert_eq!(v["key"]["interval"], key_id(&binary).interval);
    }
    // Failures append nothing: a wrong context, the wrong entry point, a time past the window.
    let before = w.audit.records().len();
    let probe = w.seal(t0, b"probe");
    let other_suite = RingPublic::load(&w.ring.to_bytes(), &w.pin)
        .unwrap()
        .seal(t0, b"four", CTX, &mut w.rng)
        .unwrap();
    refused(
        s.unseal(&eng, &other_suite, CTX, t0, 0, &mut w.audit),
        ErrorKind::InvalidInput,
        "seal-only secret",
    );
    refused(
        s.unseal(&eng, &probe, b"other", t0, 0, &mut w.audit),
        ErrorKind::Tampered,
        "authentication failed",
    );
    refused(
        s.unseal(&eng, &probe, CTX, t0 + 3 * HOUR, 0, &mut w.audit),
        ErrorKind::GrantExpired,
        "has expired",
    );
    assert_eq!(w.audit.records().len(), before);
    // The whole chain (key-state events and unseals) verifies against the anchor.
    let s1 = w.s1.clone();
    w.maintain(&s1, t0 + DAY);
    let recs: Vec<&[u8]> = w.audit.records().iter().map(|r| r.as_bytes()).collect();
    let anchors = [w.ring.key_state().unwrap().key_state().audit];
    audit_verify(w.ring.id(), recs, &anchors).unwrap();
}

// ---------------------------------------------------------------------------------------
// Grants and the key state: bounds of the raw nodes, re-issue, revocation
// ---------------------------------------------------------------------------------------

#[test]
fn raw_grant_nodes_derive_only_their_intervals() {
    let mut w = World::new(43);
    w.now += 10 * DAY; // interval 12 of epoch 1
    let s1 = w.s1.clone();
    w.maintain(&s1, w.now);
    let start = w.now - 7 * DAY;
    let h = approved(&mut w, 2 * HOUR, Some(Scope::Since(start)));
    let id = w.grant(&h).unwrap();
    let ks = w.ring.key_state().unwrap().key_state().clone();
    let g = grant_of(&w, id);
    assert_eq!(g.grant().parts.len(), 1);
    let part = &g.grant().parts[0];
    assert_eq!((part.epoch, part.first, part.last), (1, 5, 12));
    let eng = w.eng.clone();
    let mut keys = g.open_parts(&eng, &ks.epochs).unwrap();
    assert_eq!(keys.len(), 1);
    let k = &mut keys[0];
    assert_eq!(k.nodes().ranges(), vec![(5, 12)]);
    for i in part.first..=part.last {
        k.interval_keys(i).unwrap();
    }
    refused(
        k.interval_keys(part.last + 1).map(|_| ()),
        ErrorKind::UnknownKey,
        "not derivable",
    );
    refused(
        k.interval_keys(part.first - 1).map(|_| ()),
        ErrorKind::UnknownKey,
        "not derivable",
    );
    // Nobody else can unwrap them.
    let a1 = w.a1.clone();
    refused(
        g.open_parts(&a1, &ks.epochs).map(|_| ()),
        ErrorKind::NotAMember,
        "issued to another identity",
    );
}

#[test]
fn epoch_roll_during_a_live_grant_reissues_it() {
    let mut w = World::new(44);
    let t0 = w.now;
    let before = w.seal(t0, b"before the roll");
    let h = approved(&mut w, 4 * HOUR, None);
    let id = w.grant(&h).unwrap();
    let mut old_session = session(&mut w, id);
    let m = roll(&mut w, t0 + HOUR);
    assert!(m.events.contains(&Event::GrantReissued {
        grant: id,
        epoch: 2
    }));
    let g = grant_of(&w, id);
    let parts: Vec<(u32, u16, u16)> = g
        .grant()
        .parts
        .iter()
        .map(|p| (p.epoch, p.first, p.last))
        .collect();
    assert_eq!(parts, vec![(1, 2, 2), (2, 0, 0)]);
    assert_eq!(g.issuer(), w.s1.public());
    // Sealed after the roll: by a key holder, and by a seal-only party.
    let after = w.seal(t0 + HOUR, b"after the roll");
    assert_eq!(key_id(&after).epoch, 2);
    let seal_only = RingPublic::load(&w.ring.to_bytes(), &w.pin)
        .unwrap()
        .seal(t0 + HOUR, b"seal-only", CTX, &mut w.rng)
        .unwrap();
    assert_eq!(key_id(&seal_only).epoch, 2);
    let now = t0 + 2 * HOUR;
    let mut s = session(&mut w, id);
    assert_eq!(
        unseal(&mut w, &mut s, &after, now).unwrap(),
        b"after the roll"
    );
    assert_eq!(
        unseal(&mut w, &mut s, &before, now).unwrap(),
        b"before the roll"
    );
    let eng = w.eng.clone();
    assert_eq!(
        &s.unseal_seal_only(&eng, &seal_only, CTX, now, 0, &mut w.audit)
            .unwrap()[..],
        b"seal-only"
    );
    // The session opened before the roll knows neither the new epoch nor a part in it.
    refused(
        unseal(&mut w, &mut old_session, &after, now),
        ErrorKind::UnknownKey,
        "no such epoch",
    );
}

#[test]
fn revoked_grant_is_refused_then_dropped_with_an_epoch_roll() {
    let mut w = World::new(45);
    let t0 = w.now;
    let sealed = w.seal(t0, b"secret");
    let h = approved(&mut w, 4 * HOUR, None);
    let id = w.grant(&h).unwrap();
    let mut s = session(&mut w, id);
    unseal(&mut w, &mut s, &sealed, t0).unwrap();
    let eng = w.eng.clone();
    let raw = grant_of(&w, id)
        .open_parts(&eng, &w.ring.key_state().unwrap().key_state().epochs)
        .unwrap();
    revoke(&mut w, id);
    // Before any key holder's maintain: still listed, but refused.
    assert_eq!(grants_listed(&w), 1);
    refused(
        GrantSession::open(w.reload(), &eng, id),
        ErrorKind::GrantExpired,
        "was revoked",
    );
    // maintain drops it and rolls the epoch it reads.
    let s1 = w.s1.clone();
    let m = w.maintain(&s1, t0 + 60);
    assert!(m.events.contains(&Event::GrantRevoked { grant: id }));
    assert!(m.events.contains(&Event::EpochCreated {
        epoch: 2,
        reason: RollReason::GrantRevoked
    }));
    assert_eq!(grants_listed(&w), 0);
    assert_eq!(
        w.ring
            .key_state()
            .unwrap()
            .key_state()
            .current()
            .unwrap()
            .epoch,
        2
    );
    refused(
        GrantSession::open(w.reload(), &eng, id),
        ErrorKind::GrantExpired,
        "lists no such grant",
    );
    refused(w.grant(&h), ErrorKind::PolicyUnsatisfied, "granted already");
    // Nodes extracted before the revocation do not reach the epoch rolled in after it.
    let later = w.seal(t0 + 60, b"after the revocation");
    assert_eq!(key_id(&later).epoch, 2);
    for mut k in raw {
        refused(
            k.keys_for(&key_id(&later)).map(|_| ()),
            ErrorKind::UnknownKey,
            "another ring or epoch",
        );
    }
}

#[test]
fn grant_revoked_before_it_was_issued_is_refused() {
    let mut w = World::new(46);
    let h = approved(&mut w, 2 * HOUR, None);
    revoke(&mut w, GrantId::for_request(&h));
    refused(w.grant(&h), ErrorKind::GrantExpired, "was revoked");
}

#[test]
fn grant_of_named_closed_epochs() {
    let mut w = World::new(47);
    let t0 = w.now;
    let old = w.seal(t0, b"closed epoch");
    roll(&mut w, t0 + HOUR);
    w.now = t0 + HOUR;
    let current = w.seal(w.now, b"current epoch");
    let ring = w.reload();
    let eng = w.eng.clone();
    refused(
        SignedRequest::access(
            &ring,
            &eng,
            "epoch 2",
            HOUR,
            Some(Scope::Epochs(vec![2])),
            w.now,
            &mut w.rng,
        ),
        ErrorKind::InvalidInput,
        "still current",
    );
    let h = approved(&mut w, 2 * HOUR, Some(Scope::Epochs(vec![1])));
    let id = w.grant(&h).unwrap();
    let g = grant_of(&w, id);
    assert!(!g.grant().follows);
    assert!(g.grant().parts.iter().all(|p| p.epoch == 1));
    // (At ef91048 this was refused as Tampered: the part was the whole epoch, 0..=65535.)
    let mut s =
        GrantSession::open(w.reload(), &eng, id).expect("a grant of a named closed epoch opens");
    let now = w.now + HOUR;
    assert_eq!(unseal(&mut w, &mut s, &old, now).unwrap(), b"closed epoch");
    refused(
        unseal(&mut w, &mut s, &current, now),
        ErrorKind::UnknownKey,
        "outside the grant's bounds",
    );
    // The threat model: a grant's cover ends at the interval holding not_after.
    let sched = w
        .ring
        .key_state()
        .unwrap()
        .key_state()
        .epoch(1)
        .unwrap()
        .schedule()
        .unwrap();
    for p in &g.grant().parts {
        assert!(
            sched.interval_start(p.last) <= g.grant().not_after,
            "part ({}, {}, {}) reaches past not_after",
            p.epoch,
            p.first,
            p.last
        );
    }
}

#[test]
fn revoked_epoch_is_refused_by_the_session() {
    let mut w = World::new(48);
    let t0 = w.now;
    let sealed = w.seal(t0, b"secret");
    let h = approved(&mut w, 4 * HOUR, None);
    let id = w.grant(&h).unwrap();
    // The revocation is signed and approved; no key holder has carried it out yet.
    sign_change(&mut w, |d| d.revoked_epochs = vec![1]);
    assert!(w.ring.is_pending());
    let mut s = session(&mut w, id);
    refused(
        unseal(&mut w, &mut s, &sealed, t0 + 60),
        ErrorKind::KeyRevoked,
        "revoked",
    );
    // maintain drops the grant's part in the revoked epoch and re-issues it in the new one.
    let s1 = w.s1.clone();
    let m = w.maintain(&s1, t0 + 60);
    assert!(m.events.contains(&Event::EpochRevoked { epoch: 1 }));
    assert!(m.events.contains(&Event::GrantReissued {
        grant: id,
        epoch: 2
    }));
    let g = grant_of(&w, id);
    assert!(g.grant().parts.iter().all(|p| p.epoch == 2));
    let fresh = w.seal(t0 + 60, b"fresh");
    let mut s = session(&mut w, id);
    refused(
        unseal(&mut w, &mut s, &sealed, t0 + 120),
        ErrorKind::KeyRevoked,
        "revoked",
    );
    assert_eq!(unseal(&mut w, &mut s, &fresh, t0 + 120).unwrap(), b"fresh");
}

/// A grant reading intervals 2 and 3 of epoch 1, then a shredding of everything that ends by
/// the start of interval 3 (so interval 2), signed and approved. Returns the grant, the
/// secrets of intervals 2 and 3, and the clock.
fn shred_under_a_grant(seed: u8) -> (World, GrantId, Vec<u8>, Vec<u8>, u64) {
    let mut w = World::new(seed);
    let t0 = w.now;
    let old = w.seal(t0, b"old"); // interval 2
    w.now = t0 + DAY;
    let s1 = w.s1.clone();
    w.maintain(&s1, w.now);
    let new = w.seal(w.now, b"new"); // interval 3
    let h = approved(&mut w, 4 * HOUR, Some(Scope::Since(t0)));
    let id = w.grant(&h).unwrap();
    let p = &grant_of(&w, id).grant().parts[0].clone();
    assert_eq!((p.epoch, p.first, p.last), (1, 2, 3));
    let cutoff = w.now;
    sign_change(&mut w, move |d| d.shred_before = cutoff);
    let now = w.now;
    (w, id, old, new, now)
}

#[test]
fn shredded_interval_is_refused_by_the_session() {
    let (mut w, id, old, new, now) = shred_under_a_grant(49);
    // Ordered, not carried out yet: refused at once.
    let mut s = session(&mut w, id);
    refused(
        unseal(&mut w, &mut s, &old, now + 60),
        ErrorKind::KeyDestroyed,
        "shredded",
    );
    assert_eq!(unseal(&mut w, &mut s, &new, now + 60).unwrap(), b"new");
    // Carried out.
    let s1 = w.s1.clone();
    w.maintain(&s1, now + 60);
    let mut s = session(&mut w, id);
    refused(
        unseal(&mut w, &mut s, &old, now + 120),
        ErrorKind::KeyDestroyed,
        "shredded",
    );
    assert_eq!(unseal(&mut w, &mut s, &new, now + 120).unwrap(), b"new");
}

#[test]
fn shredding_trims_the_nodes_of_live_grants() {
    let (mut w, id, _, _, now) = shred_under_a_grant(50);
    let s1 = w.s1.clone();
    w.maintain(&s1, now + 60);
    let ks = w.ring.key_state().unwrap().key_state().clone();
    assert_eq!(ks.shred_applied, now);
    // The epoch's own nodes no longer derive interval 2...
    assert_eq!(ks.epoch(1).unwrap().readable()[0].0, 3);
    // ...and neither may the grant's, in the same key state: its part is re-wrapped to what
    // the epoch still reads. (At ef91048 it was left as it was.)
    let g = grant_of(&w, id);
    let parts: Vec<(u32, u16, u16)> = g
        .grant()
        .parts
        .iter()
        .map(|p| (p.epoch, p.first, p.last))
        .collect();
    assert_eq!(parts, vec![(1, 3, 3)]);
    let eng = w.eng.clone();
    for mut k in g.open_parts(&eng, &ks.epochs).unwrap() {
        refused(
            k.interval_keys(2).map(|_| ()),
            ErrorKind::UnknownKey,
            "not derivable",
        );
    }
}

#[test]
fn approval_dated_outside_the_request_lifetime_is_refused() {
    let mut w = World::new(51);
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let a1 = w.a1.clone();
    // Dated 301 s before the request was created.
    let early = decision(&w, &a1, h, "ops", w.now - 301, vec![]);
    push_frame(&mut w, 2, early.as_bytes());
    refused(
        w.grant(&h),
        ErrorKind::PolicyUnsatisfied,
        "outside its request's lifetime",
    );
}

#[test]
fn approval_dated_in_the_future_is_refused() {
    let mut w = World::new(52);
    let h = w.request(&w.eng.clone(), 2 * HOUR, None);
    let (a1, b1) = (w.a1.clone(), w.b1.clone());
    let ahead = decision(&w, &a1, h, "ops", w.now + 301, vec![]);
    push_frame(&mut w, 2, ahead.as_bytes());
    let sec = decision(&w, &b1, h, "security", w.now + 301, vec![ahead.hash()]);
    push_frame(&mut w, 2, sec.as_bytes());
    refused(
        w.grant(&h),
        ErrorKind::PolicyUnsatisfied,
        "dated in the future",
    );
    // At a clock that has caught up, the same approvals count.
    w.now += 1;
    w.grant(&h).unwrap();
}

#[test]
fn ring_without_approval_policy_grants_nothing() {
    use chacha20::ChaCha20Rng;
    use dkm_core::access::RequestLog;
    use dkm_core::rand_core::SeedableRng;
    use dkm_core::ring::Member;
    use dkm_core::{Pin, Policy};

    let mut rng = ChaCha20Rng::from_seed([54; 32]);
    let admin = Identity::generate(&mut rng);
    let holder = Identity::generate(&mut rng);
    let eng = Identity::generate(&mut rng);
    let members = [Member {
        role: Role::Service,
        identity: holder.public().clone(),
    }];
    let (ring, _) = Ring::create("bare", Policy::default(), &admin, &members, &mut rng).unwrap();
    let pin = Pin::new(ring.id(), vec![admin.public().clone()]);
    let mut log = RequestLog::new(ring.id());
    let now = common::START;
    let mut kh = KeyHolder::open(ring, &holder).unwrap();
    kh.maintain(
        &holder,
        now,
        &mut rng,
        &log.quorum_check(now),
        (Anchor::EMPTY, Anchor::EMPTY),
    )
    .unwrap();
    let ring = Ring::load(&kh.into_ring().to_bytes(), &pin).unwrap();
    assert!(ring.is_bootstrap());
    let req = SignedRequest::access(&ring, &eng, "no policy", HOUR, None, now, &mut rng).unwrap();
    let h = req.hash();
    let e = log.log_request(&ring, req, None, now).unwrap();
    log.push(e).unwrap();
    let mut kh = KeyHolder::open(ring, &holder).unwrap();
    refused(
        kh.issue_grant(&holder, now, &mut rng, &log, &h, Anchor::EMPTY),
        ErrorKind::PolicyUnsatisfied,
        "no approval policy yet",
    );
}
