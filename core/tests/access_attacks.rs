//! Regressions for the holes an adversarial review of the elevated-access layer found: each
//! test failed before its fix.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

mod common;

use common::{DAY, HOUR, World};
use dkm_core::access::{Request, RequestKind, RequestLog, Scope, SignedGrant, SignedRequest};
use dkm_core::ring::{Anchor, ApprovalRef, Governance, Role};
use dkm_core::{ErrorKind, GrantSession, Identity, KeyHolder, Pin, Ring};

/// Proposes `change` as the admin, logs it, approves it at both levels and applies it.
fn approved_change(w: &mut World, change: impl FnOnce(&mut Governance)) {
    let ring = w.reload();
    let mut d = ring.draft();
    change(&mut d);
    let (req, content) =
        SignedRequest::governance_change(&ring, &d, &w.admin, "change", w.now, &mut w.rng).unwrap();
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
    ring.apply_governance(d, &w.admin, &w.log.quorum_check(w.now), w.now)
        .unwrap();
    w.ring = ring;
}

/// Removing an approver whose approval carried an earlier change must not make the ring
/// unloadable for new readers (cool-off was judged against start times it no longer has).
#[test]
fn removing_an_approver_keeps_the_ring_loadable() {
    let mut w = World::new(101);
    let newcomer = Identity::generate(&mut w.rng);
    approved_change(&mut w, |d| {
        d.add_member(Role::Service, newcomer.public().clone())
            .unwrap();
    });
    let s1 = w.s1.clone();
    w.maintain(&s1, w.now + 60);
    // a1 (who approved) leaves; removing an approver needs a quorum too: a2 and b1 approve.
    let a1 = w.a1.public().clone();
    let ring = w.reload();
    let mut d = ring.draft();
    d.remove_member(&a1).unwrap();
    let (req, content) =
        SignedRequest::governance_change(&ring, &d, &w.admin, "a1 leaves", w.now, &mut w.rng)
            .unwrap();
    let h = req.hash();
    let e = w.log.log_request(&ring, req, Some(content), w.now).unwrap();
    w.log.push(e).unwrap();
    let (a2, b1) = (w.a2.clone(), w.b1.clone());
    w.decide(&h, "ops", dkm_core::Verdict::Approve, &a2)
        .unwrap();
    w.decide(&h, "security", dkm_core::Verdict::Approve, &b1)
        .unwrap();
    d.approval = Some(ApprovalRef {
        log: w.log.head(),
        request: h,
        evidence: w.log.evidence(&h).unwrap(),
    });
    let mut ring = ring;
    ring.apply_governance(d, &w.admin, &w.log.quorum_check(w.now), w.now)
        .unwrap();
    w.ring = ring;
    w.maintain(&s1, w.now + 120);
    // A first-use reader loads the whole history.
    let first_use = Pin::new(w.ring.id(), vec![w.admin.public().clone()]);
    Ring::load(&w.ring.to_bytes(), &first_use).unwrap();
}

/// After an approved shredding, the key state must not keep grant nodes that derive the
/// destroyed intervals (the requester could recover them from the store later).
#[test]
fn shredding_cuts_the_grant_parts_in_the_key_state() {
    let mut w = World::new(102);
    let t0 = w.now;
    let old = w.seal(t0, b"old"); // interval 2, which ends at t0 + DAY
    w.now = t0 + DAY + 60;
    let s1 = w.s1.clone();
    w.maintain(&s1, w.now);
    let h = w.request(&w.eng.clone(), 4 * HOUR, Some(Scope::Since(t0 - DAY)));
    w.approve_both(&h);
    let id = w.grant(&h).unwrap();
    let before = SignedGrant::parse(&w.ring.key_state().unwrap().key_state().grants[0]).unwrap();
    assert_eq!(before.grant().parts[0].first, 1);
    let cutoff = t0 + DAY;
    approved_change(&mut w, move |d| d.shred_before = cutoff);
    w.maintain(&s1, w.now + 60);
    let ring = w.reload();
    let ks = ring.key_state().unwrap().key_state();
    let grant = SignedGrant::parse(&ks.grants[0]).unwrap();
    assert_eq!(grant.grant().id, id);
    let mut parts = grant.open_parts(&w.eng, &ks.epochs).unwrap();
    let kid = dkm_core::SealedSecret::parse(&old).unwrap().key_id();
    for p in &mut parts {
        assert_eq!(
            p.keys_for(&kid).unwrap_err().kind(),
            ErrorKind::UnknownKey,
            "the raw grant still derives a shredded interval"
        );
    }
    let eng = w.eng.clone();
    let mut s = GrantSession::open(ring, &eng, id).unwrap();
    assert_eq!(
        s.unseal(&eng, &old, b"ctx", w.now + 120, 0, &mut w.audit)
            .unwrap_err()
            .kind(),
        ErrorKind::KeyDestroyed
    );
}

/// A grant for named closed epochs opens and reads them.
#[test]
fn a_grant_for_named_epochs_opens() {
    let mut w = World::new(103);
    let t0 = w.now;
    let old = w.seal(t0, b"epoch one");
    let s1 = w.s1.clone();
    let mut h = KeyHolder::open(w.reload(), &s1).unwrap();
    let m = h
        .roll_epoch(
            &s1,
            t0 + 60,
            &mut w.rng,
            &w.log.quorum_check(t0 + 60),
            (w.audit.head_anchor(), w.log.head()),
        )
        .unwrap();
    assert!(m.written);
    w.ring = h.into_ring();
    w.now = t0 + 120;
    let eng = w.eng.clone();
    let req = w.request(&eng, 2 * HOUR, Some(Scope::Epochs(vec![1])));
    w.approve_both(&req);
    let id = w.grant(&req).unwrap();
    let mut s = GrantSession::open(w.reload(), &eng, id).unwrap();
    assert_eq!(
        &s.unseal(&eng, &old, b"ctx", w.now + 60, 0, &mut w.audit)
            .unwrap()[..],
        b"epoch one"
    );
    let new = w.seal(w.now, b"epoch two");
    assert_eq!(
        s.unseal(&eng, &new, b"ctx", w.now + 60, 0, &mut w.audit)
            .unwrap_err()
            .kind(),
        ErrorKind::UnknownKey
    );
}

/// A store writer re-frames the request log without an anchored denial: `issue_grant`
/// refuses the cut log.
#[test]
fn a_cut_request_log_is_refused_by_issue_grant() {
    let mut w = World::new(104);
    let eng = w.eng.clone();
    let h = w.request(&eng, HOUR, None);
    let a2 = w.a2.clone();
    w.decide(&h, "ops", dkm_core::Verdict::Deny, &a2).unwrap();
    // A key-state write anchors the log with the denial.
    let s1 = w.s1.clone();
    let mut kh = KeyHolder::open(w.reload(), &s1).unwrap();
    kh.roll_epoch(
        &s1,
        w.now,
        &mut w.rng,
        &w.log.quorum_check(w.now),
        (w.audit.head_anchor(), w.log.head()),
    )
    .unwrap();
    w.ring = kh.into_ring();
    // The forged log: the request and fresh approvals, no denial.
    let ring = w.reload();
    let mut forged = RequestLog::new(ring.id());
    let (req, _) = w.log.request(&h).unwrap();
    let e = forged.log_request(&ring, req.clone(), None, w.now).unwrap();
    forged.push(e).unwrap();
    for (who, level) in [(w.a1.clone(), "ops"), (w.b1.clone(), "security")] {
        let e = forged
            .decide(&ring, &h, level, dkm_core::Verdict::Approve, &who, w.now)
            .unwrap();
        forged.push(e).unwrap();
    }
    let mut kh = KeyHolder::open(ring, &s1).unwrap();
    let err = kh
        .issue_grant(&s1, w.now, &mut w.rng, &forged, &h, w.audit.head_anchor())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tampered);
    // And loading it through the anchor is refused too.
    let frames: Vec<Vec<u8>> = forged
        .entries()
        .iter()
        .map(|e| e.as_bytes().to_vec())
        .collect();
    let anchor = w.ring.key_state().unwrap().key_state().requests;
    assert_eq!(
        RequestLog::load(w.ring.id(), frames.iter().map(Vec::as_slice), anchor)
            .unwrap_err()
            .kind(),
        ErrorKind::Tampered
    );
}

/// `maintain` refuses audit or request-log heads that go back or differ at the same number.
#[test]
fn maintain_refuses_anchors_that_go_back_or_fork() {
    let mut w = World::new(105);
    let s1 = w.s1.clone();
    let had = w.ring.key_state().unwrap().key_state().audit;
    assert!(had.seq > 0);
    for bad in [
        Anchor::EMPTY,
        Anchor {
            seq: had.seq,
            hash: [7; 32],
        },
    ] {
        let mut kh = KeyHolder::open(w.reload(), &s1).unwrap();
        let err = kh
            .roll_epoch(
                &s1,
                w.now,
                &mut w.rng,
                &w.log.quorum_check(w.now),
                (bad, w.log.head()),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
}

/// A governance change "requested" by a non-admin is refused by readers even with valid
/// approvals of that request.
#[test]
fn a_change_request_by_a_non_admin_is_refused() {
    let mut w = World::new(106);
    let puppet = Identity::generate(&mut w.rng);
    let ring = w.reload();
    let mut d = ring.draft();
    d.add_member(Role::Service, puppet.public().clone())
        .unwrap();
    // The engineer (no member) signs the request by hand.
    let req = Request {
        ring: ring.id(),
        id: [9; 16],
        created: w.now,
        reason: "let me in".into(),
        kind: RequestKind::Governance {
            content_hash: d.content_hash(),
        },
    }
    .sign(&w.eng)
    .unwrap();
    let h = req.hash();
    let e = w.log.log_request(&ring, req, None, w.now).unwrap();
    w.log.push(e).unwrap();
    w.approve_both(&h);
    d.approval = Some(ApprovalRef {
        log: w.log.head(),
        request: h,
        evidence: w.log.evidence(&h).unwrap(),
    });
    let mut r = ring.clone();
    let err = r
        .apply_governance(d.clone(), &w.admin, &w.log.quorum_check(w.now), w.now)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PolicyUnsatisfied);
    assert!(err.message().contains("admin"), "{err}");
    // Signed by the admin's key by hand and spliced: readers refuse it.
    let mut r = ring.clone();
    let err = r
        .apply_governance(d, &w.admin, &dkm_core::EvidenceQuorum, w.now)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PolicyUnsatisfied);
}

/// A `Since` grant takes no part in epochs closed (plus the freshness period) before its
/// scope starts: it used to take one in every live epoch, and past 12 none could be issued.
#[test]
fn a_since_grant_skips_epochs_closed_before_its_scope() {
    let mut w = World::new(107);
    let s1 = w.s1.clone();
    for _ in 0..14 {
        w.now += 3 * DAY;
        let mut kh = KeyHolder::open(w.reload(), &s1).unwrap();
        let m = kh
            .roll_epoch(
                &s1,
                w.now,
                &mut w.rng,
                &w.log.quorum_check(w.now),
                (w.audit.head_anchor(), w.log.head()),
            )
            .unwrap();
        w.record_events(&s1, &m.events, w.now);
        w.ring = kh.into_ring();
    }
    w.now += 3 * DAY;
    w.maintain(&s1, w.now);
    let eng = w.eng.clone();
    let h = w.request(&eng, HOUR, Some(Scope::Since(w.now - HOUR)));
    w.approve_both(&h);
    let id = w.grant(&h).unwrap();
    let ring = w.reload();
    let ks = ring.key_state().unwrap().key_state();
    let g = SignedGrant::parse(&ks.grants[0]).unwrap();
    assert_eq!(g.grant().id, id);
    let current = ks.current().unwrap().epoch;
    let epochs: Vec<u32> = g.grant().parts.iter().map(|p| p.epoch).collect();
    assert_eq!(epochs, vec![current], "{:?}", g.grant().parts);
}

/// An approver's denial logged after an irreversible change was signed (here: shredding)
/// used to stop every later `maintain` for ever; now the change is judged against the log up
/// to the head its record names, and `decide` refuses decisions on a signed change.
#[test]
fn a_denial_after_the_change_was_signed_does_not_stop_maintain() {
    let mut w = World::new(108);
    let cutoff = w.now - DAY;
    let ring = w.reload();
    let mut d = ring.draft();
    d.shred_before = cutoff;
    let (req, content) =
        SignedRequest::governance_change(&ring, &d, &w.admin, "shred", w.now, &mut w.rng).unwrap();
    let h = req.hash();
    let e = w.log.log_request(&ring, req, Some(content), w.now).unwrap();
    w.log.push(e).unwrap();
    w.approve_both(&h);
    d.approval = Some(w.log.approval_ref(&h).unwrap());
    let mut ring = ring;
    ring.apply_governance(d, &w.admin, &w.log.quorum_check(w.now), w.now)
        .unwrap();
    w.ring = ring;
    // a2 (not needed for the quorum) tries to deny now: refused by the tool...
    let a2 = w.a2.clone();
    let ring = w.reload();
    assert_eq!(
        w.log
            .decide(&ring, &h, "ops", dkm_core::Verdict::Deny, &a2, w.now)
            .unwrap_err()
            .kind(),
        ErrorKind::PolicyUnsatisfied
    );
    // ...and a hand-made denial frame appended anyway does not stop maintain.
    let denial = dkm_core::access::Decision {
        ring: ring.id(),
        request: h,
        level: "ops".into(),
        verdict: dkm_core::Verdict::Deny,
        time: w.now,
        chained: vec![],
    }
    .sign(&a2)
    .unwrap();
    let frame = forged_frame(&w.log, dkm_core::access::LogRecord::Decision(denial));
    w.log.push(frame).unwrap();
    let s1 = w.s1.clone();
    let m = w.maintain(&s1, w.now + 60);
    assert!(m.written);
    assert!(!w.reload().is_pending());
}

/// A frame appended by hand (as any store writer can), built through the public parser.
fn forged_frame(
    log: &RequestLog,
    record: dkm_core::access::LogRecord,
) -> dkm_core::access::LogEntry {
    let head = log.head();
    let mut out = vec![1u8];
    out.extend_from_slice(&log.ring().0);
    out.extend_from_slice(&(head.seq + 1).to_be_bytes());
    out.extend_from_slice(&head.hash);
    match &record {
        dkm_core::access::LogRecord::Decision(d) => {
            out.push(2);
            out.extend_from_slice(&(d.as_bytes().len() as u32).to_be_bytes());
            out.extend_from_slice(d.as_bytes());
        }
        dkm_core::access::LogRecord::Request { .. } => unreachable!(),
    }
    dkm_core::access::LogEntry::parse(log.ring(), &out).unwrap()
}

/// A denial logged while the request was open cannot be dodged by naming an earlier
/// request-log head: the log's approvals up to that head must meet the policy themselves.
#[test]
fn an_admin_cannot_dodge_a_denial_by_naming_an_early_log_head() {
    let mut w = World::new(109);
    let newcomer = dkm_core::Identity::generate(&mut w.rng);
    let ring = w.reload();
    let mut d = ring.draft();
    d.add_member(Role::Service, newcomer.public().clone())
        .unwrap();
    let (req, content) =
        SignedRequest::governance_change(&ring, &d, &w.admin, "new worker", w.now, &mut w.rng)
            .unwrap();
    let h = req.hash();
    let e = w.log.log_request(&ring, req, Some(content), w.now).unwrap();
    w.log.push(e).unwrap();
    let at_request = w.log.head();
    let a2 = w.a2.clone();
    w.decide(&h, "ops", dkm_core::Verdict::Deny, &a2).unwrap();
    // Approvals made anyway (hand-made frames: the tool refuses a denied request).
    let mut chained = Vec::new();
    for (who, level) in [(w.a1.clone(), "ops"), (w.b1.clone(), "security")] {
        let dec = dkm_core::access::Decision {
            ring: ring.id(),
            request: h,
            level: level.into(),
            verdict: dkm_core::Verdict::Approve,
            time: w.now,
            chained: chained.clone(),
        }
        .sign(&who)
        .unwrap();
        chained = vec![dec.hash()];
        let f = forged_frame(&w.log, dkm_core::access::LogRecord::Decision(dec));
        w.log.push(f).unwrap();
    }
    for head in [at_request, w.log.head()] {
        let mut a = w.log.approval_ref(&h).unwrap();
        a.log = head;
        let mut draft = d.clone();
        draft.approval = Some(a);
        let err = ring
            .clone()
            .apply_governance(draft, &w.admin, &w.log.quorum_check(w.now), w.now)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PolicyUnsatisfied, "{err}");
    }
}
