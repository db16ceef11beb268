//! A governance change denied in the request log, signed anyway by the admin and carried out
//! by a colluding key holder, is refused by an honest key holder's host every time: sealing,
//! maintaining and granting ask the log about every change the ring carries (the refused
//! attempt must not move the pin past the check).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use dkm_core::access::{Decision, LogEntry, LogRecord, RequestLog};
use dkm_core::ring::{QuorumCheck, QuorumQuery, Role};
use dkm_core::rng::SystemRng;
use dkm_core::{ErrorKind, Identity, KeyHolder, Policy, Ring, Verdict};
use dkm_host::{ChangeOutcome, Clock, FileStore, Host, LevelSpec, PinBook, Store};

const T0: u64 = 1_900_000_000;
const DAY: u64 = 86_400;

struct Yes;
impl QuorumCheck for Yes {
    fn check(&self, _: &QuorumQuery<'_>) -> dkm_core::Result<()> {
        Ok(())
    }
}

fn frame(log: &RequestLog, d: dkm_core::SignedDecision) -> LogEntry {
    let head = log.head();
    let mut out = vec![1u8];
    out.extend_from_slice(&log.ring().0);
    out.extend_from_slice(&(head.seq + 1).to_be_bytes());
    out.extend_from_slice(&head.hash);
    out.push(2);
    out.extend_from_slice(&(d.as_bytes().len() as u32).to_be_bytes());
    out.extend_from_slice(d.as_bytes());
    let e = LogEntry::parse(log.ring(), &out).unwrap();
    assert!(matches!(e.record(), LogRecord::Decision(_)));
    e
}

#[test]
fn a_denied_change_carried_out_by_a_colluding_key_holder_is_refused_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let host = |t: u64, home: &str| {
        Host::new(
            FileStore::new(dir.path().join("store")),
            PinBook::new(dir.path().join(home)),
            Clock::fixed(t),
        )
        .unwrap()
    };
    let mut rng = SystemRng::new().unwrap();
    let ids: Vec<Identity> = (0..7).map(|_| Identity::generate(&mut rng)).collect();
    let [admin, s1, s3, a1, a2, b1, puppet] = <[Identity; 7]>::try_from(ids).ok().unwrap();
    let h = host(T0, "home");
    h.create_ring("r", &admin, Policy::default()).unwrap();
    for (role, who) in [
        (Role::Service, &s1),
        (Role::Service, &s3),
        (Role::Approver, &a1),
        (Role::Approver, &a2),
        (Role::Approver, &b1),
    ] {
        h.add_member("r", &admin, role, who.public()).unwrap();
    }
    let levels = [
        LevelSpec {
            name: "ops".into(),
            quorum: 1,
            approvers: vec![a2.public().clone(), a1.public().clone()],
        },
        LevelSpec {
            name: "security".into(),
            quorum: 1,
            approvers: vec![b1.public().clone()],
        },
    ];
    h.set_approval_levels("r", &admin, &levels).unwrap();
    h.maintain("r", &s1).unwrap();
    let t = T0 + 2 * DAY;
    let h = host(t, "home");
    let ChangeOutcome::Requested { request } = h
        .add_member("r", &admin, Role::Service, puppet.public())
        .unwrap()
    else {
        panic!("adding a key holder needs the quorum");
    };
    let request_id = request;
    let request = request.0;
    // a2 denies while it is open; a1 and b1 "approve" anyway through hand-made frames (the
    // store is writable by the admin in this scenario).
    h.deny("r", request_id, "ops", &a2).unwrap();
    let store = FileStore::new(dir.path().join("store"));
    let ring = h.load("r").unwrap().ring;
    let mut log = h.log("r", &ring).unwrap();
    let mut chained = Vec::new();
    for (who, level) in [(&a1, "ops"), (&b1, "security")] {
        let d = Decision {
            ring: ring.id(),
            request,
            level: level.into(),
            verdict: Verdict::Approve,
            time: t,
            chained: chained.clone(),
        }
        .sign(who)
        .unwrap();
        chained = vec![d.hash()];
        let e = frame(&log, d);
        store.append_request("r", &e, &|_| Ok(Vec::new())).unwrap();
        log.push(e).unwrap();
    }
    assert_eq!(
        h.apply("r", request_id, &admin).unwrap_err().kind(),
        ErrorKind::PolicyUnsatisfied
    );
    // The admin signs it by hand; the colluding key holder s3 carries it out.
    let (_, content) = log.request(&request).unwrap();
    let mut draft = dkm_core::ring::Governance::from_content_bytes(content.unwrap()).unwrap();
    draft.approval = Some(log.approval_ref(&request).unwrap());
    let (blob, version) = store.load("r").unwrap().unwrap();
    let pin = h.load("r").unwrap().pin;
    let mut ring = Ring::load(&blob, &pin).unwrap();
    ring.apply_governance(draft, &admin, &Yes, t).unwrap();
    let mut kh = KeyHolder::open(ring, &s3).unwrap();
    let m = kh
        .maintain(
            &s3,
            t,
            &mut rng,
            &Yes,
            (dkm_core::ring::Anchor::EMPTY, log.head()),
        )
        .unwrap_err();
    // (an anchor behind the key state's is refused: give the real heads)
    assert_eq!(m.kind(), ErrorKind::InvalidInput);
    let audit_head = {
        let lines = store.read_audit("r").unwrap();
        dkm_core::AuditRecord::from_json(lines.last().unwrap())
            .unwrap()
            .head()
    };
    kh.maintain(&s3, t, &mut rng, &Yes, (audit_head, log.head()))
        .unwrap();
    store
        .compare_and_swap("r", Some(version), &kh.ring().to_bytes(), &|_| {
            Ok(Vec::new())
        })
        .unwrap();
    // The honest s1 refuses to seal, twice, and to maintain, also with a fresh pin book.
    for home in ["home", "home", "fresh"] {
        let h = host(t + 60, home);
        assert_eq!(
            h.seal("r", &s1, b"secret", b"").unwrap_err().kind(),
            ErrorKind::PolicyUnsatisfied,
            "seal with pin book {home}"
        );
        assert_eq!(
            h.maintain("r", &s1).unwrap_err().kind(),
            ErrorKind::PolicyUnsatisfied
        );
    }
}
