//! Every host verb, as a binding calls it: what it returns and how it refuses (exact kinds),
//! the secret's origin on unseal and the refusal of seal-only secrets when asked, views and
//! their JSON forms, and ring snapshots (round trip; tampered ones refused, store unchanged).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use std::path::PathBuf;

use dkm_core::access::RequestState;
use dkm_core::ring::Role;
use dkm_core::{ErrorKind, GrantId, Identity, Policy, RequestId};
use dkm_host::views::FromJson;
use dkm_host::{
    AuditReport, ChangeOutcome, Clock, FileStore, Host, IssuedGrant, LevelSpec, Origin, PinBook,
    RequestView, RingInfo, SealOnly, Store, ToJson, access_scope,
};
use tempfile::TempDir;

const T0: u64 = 1_900_000_000;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;
/// After the approvers' 24 h cool-off.
const T1: u64 = T0 + DAY + HOUR;

struct Fx {
    dir: TempDir,
    admin: Identity,
    svc1: Identity,
    svc2: Identity,
    ops: Identity,
    sec: Identity,
    eng: Identity,
}

fn kind<T>(r: dkm_host::Result<T>) -> ErrorKind {
    match r {
        Ok(_) => panic!("expected a refusal"),
        Err(e) => e.kind(),
    }
}

impl Fx {
    fn new() -> Fx {
        let id = || dkm_host::files::generate_identity().unwrap();
        Fx {
            dir: TempDir::new().unwrap(),
            admin: id(),
            svc1: id(),
            svc2: id(),
            ops: id(),
            sec: id(),
            eng: id(),
        }
    }

    fn store_dir(&self, store: &str) -> PathBuf {
        self.dir.path().join(store)
    }

    /// A host on store `store` with pin book `pins`, at `t`.
    fn host_on(&self, store: &str, pins: &str, t: u64) -> Host<FileStore> {
        Host::new(
            FileStore::new(self.store_dir(store)),
            PinBook::new(self.dir.path().join(pins)),
            Clock::fixed(t),
        )
        .unwrap()
    }

    fn host(&self, t: u64) -> Host<FileStore> {
        self.host_on("store", "pins", t)
    }

    fn levels(&self) -> [LevelSpec; 2] {
        [
            LevelSpec {
                name: "ops".into(),
                quorum: 1,
                approvers: vec![self.ops.public().clone()],
            },
            LevelSpec {
                name: "security".into(),
                quorum: 1,
                approvers: vec![self.sec.public().clone()],
            },
        ]
    }

    /// Ring "r" at T0: key holder svc1, approvers ops and sec, two levels, maintained.
    fn ring(&self) -> Host<FileStore> {
        let h = self.host(T0);
        h.create_ring("r", &self.admin, Policy::default()).unwrap();
        h.add_member("r", &self.admin, Role::Service, self.svc1.public())
            .unwrap();
        for a in [&self.ops, &self.sec] {
            h.add_member("r", &self.admin, Role::Approver, a.public())
                .unwrap();
        }
        h.set_approval_levels("r", &self.admin, &self.levels())
            .unwrap();
        h.maintain("r", &self.svc1).unwrap();
        h
    }

    fn requested(&self, o: ChangeOutcome) -> RequestId {
        match o {
            ChangeOutcome::Requested { request } => request,
            ChangeOutcome::Applied { .. } => panic!("expected a change request"),
        }
    }

    fn state(&self, h: &Host<FileStore>, id: RequestId) -> RequestState {
        h.requests("r")
            .unwrap()
            .into_iter()
            .find(|v| v.id == id)
            .unwrap()
            .state
    }

    /// Every file under the store, with its bytes.
    fn snapshot(&self, store: &str) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.store_dir(store), &mut out);
        out.sort();
        out
    }
}

#[test]
fn governance_verbs_apply_or_request_and_refuse() {
    let fx = Fx::new();
    let h = fx.host(T0);
    h.create_ring("r", &fx.admin, Policy::default()).unwrap();
    assert_eq!(
        kind(h.create_ring("r", &fx.admin, Policy::default())),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(h.create_ring("../x", &fx.admin, Policy::default())),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(h.add_member("nope", &fx.admin, Role::Service, fx.svc1.public())),
        ErrorKind::InvalidInput
    );
    // Bootstrap: the admin alone may do anything; each change is applied at once.
    let out = h
        .add_member("r", &fx.admin, Role::Service, fx.svc1.public())
        .unwrap();
    assert_eq!(
        out,
        ChangeOutcome::Applied {
            version: 2,
            pending: true
        }
    );
    assert_eq!(
        kind(h.add_member("r", &fx.admin, Role::Approver, fx.svc1.public())),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(h.add_member("r", &fx.svc1, Role::Approver, fx.ops.public())),
        ErrorKind::NotAMember
    );
    for a in [&fx.ops, &fx.sec] {
        h.add_member("r", &fx.admin, Role::Approver, a.public())
            .unwrap();
    }
    // Levels: approvers given in any order are sorted; a duplicate is refused.
    let mut twice = fx.levels();
    twice[0].approvers.push(fx.ops.public().clone());
    assert_eq!(
        kind(h.set_approval_levels("r", &fx.admin, &twice)),
        ErrorKind::InvalidInput
    );
    let mut not_member = fx.levels();
    not_member[1].approvers.push(fx.eng.public().clone());
    assert!(h.set_approval_levels("r", &fx.admin, &not_member).is_err());
    h.set_approval_levels("r", &fx.admin, &fx.levels()).unwrap();
    let info = h.ring_info("r").unwrap();
    assert_eq!(info.policy.levels.len(), 2);
    assert!(info.pending);
    assert!(!h.maintain("r", &fx.svc1).unwrap().is_empty());
    assert!(h.maintain("r", &fx.svc1).unwrap().is_empty());
    assert_eq!(kind(h.maintain("r", &fx.admin)), ErrorKind::NotAMember);

    // With a policy: changes that need the quorum are logged as requests.
    let h = fx.host(T1);
    let add = fx.requested(
        h.add_member("r", &fx.admin, Role::Service, fx.svc2.public())
            .unwrap(),
    );
    assert_eq!(fx.state(&h, add), RequestState::Pending);
    assert_eq!(
        kind(h.apply("r", add, &fx.admin)),
        ErrorKind::PolicyUnsatisfied
    );
    h.approve("r", add, "ops", &fx.ops).unwrap();
    assert_eq!(
        kind(h.approve("r", add, "ops", &fx.ops)),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(h.approve("r", add, "nope", &fx.sec)),
        ErrorKind::InvalidInput
    );
    h.approve("r", add, "security", &fx.sec).unwrap();
    assert_eq!(fx.state(&h, add), RequestState::Approved);
    assert_eq!(kind(h.apply("r", add, &fx.ops)), ErrorKind::NotAMember);
    let v = h.apply("r", add, &fx.admin).unwrap();
    // A signed change shows as applied, and cannot be decided or applied again.
    assert_eq!(fx.state(&h, add), RequestState::Applied);
    assert_eq!(
        kind(h.deny("r", add, "ops", &fx.ops)),
        ErrorKind::PolicyUnsatisfied
    );
    assert!(h.apply("r", add, &fx.admin).is_err());
    assert_eq!(h.ring_info("r").unwrap().governance_version, v);
    assert_eq!(
        kind(h.apply("r", RequestId([7; 32]), &fx.admin)),
        ErrorKind::InvalidInput
    );
    h.maintain("r", &fx.svc1).unwrap();

    for out in [
        h.revoke_epoch("r", &fx.admin, 1).unwrap(),
        h.shred_before("r", &fx.admin, T0 + HOUR).unwrap(),
    ] {
        fx.requested(out);
    }
    // Revoking a grant and removing a key holder need no quorum.
    assert!(matches!(
        h.revoke_grant("r", &fx.admin, GrantId([9; 16])).unwrap(),
        ChangeOutcome::Applied { .. }
    ));
    assert!(matches!(
        h.remove_member("r", &fx.admin, fx.svc2.public()).unwrap(),
        ChangeOutcome::Applied { .. }
    ));
    assert_eq!(
        kind(h.remove_member("r", &fx.admin, fx.eng.public())),
        ErrorKind::NotAMember
    );
    // Rename: to a free, valid name only.
    assert_eq!(
        kind(h.rename_ring("r", "r", &fx.admin)),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(h.rename_ring("r", ".x", &fx.admin)),
        ErrorKind::InvalidInput
    );
    h.rename_ring("r", "s", &fx.admin).unwrap();
    assert_eq!(h.ring_info("s").unwrap().name, "s");
    assert_eq!(kind(h.ring_info("r")), ErrorKind::InvalidInput);
}

#[test]
fn seal_unseal_with_origin_and_seal_only_refusal() {
    let fx = Fx::new();
    let h = fx.ring();
    let sealed = h.seal("r", &fx.svc1, b"pw", b"acct:1").unwrap();
    let armored = h.seal_armored("r", &fx.svc1, b"pw", b"acct:1").unwrap();
    assert!(armored.starts_with("dkm1:"));
    for input in [
        sealed.clone(),
        armored.clone().into_bytes(),
        format!("{armored}\n").into_bytes(),
    ] {
        for policy in [SealOnly::Accept, SealOnly::Refuse] {
            let u = h.unseal("r", &fx.svc1, &input, b"acct:1", policy).unwrap();
            assert_eq!(
                (&u.plaintext[..], u.origin),
                (&b"pw"[..], Origin::KeyHolder)
            );
        }
    }
    assert!(
        !format!(
            "{:?}",
            h.unseal("r", &fx.svc1, &sealed, b"acct:1", SealOnly::Accept)
                .unwrap()
        )
        .contains("pw")
    );
    assert_eq!(
        kind(h.unseal("r", &fx.svc1, &sealed, b"acct:2", SealOnly::Accept)),
        ErrorKind::Tampered
    );
    assert_eq!(
        kind(h.unseal("r", &fx.admin, &sealed, b"acct:1", SealOnly::Accept)),
        ErrorKind::NotAMember
    );
    assert_eq!(kind(h.seal("r", &fx.ops, b"x", b"")), ErrorKind::NotAMember);
    assert_eq!(
        kind(h.unseal("r", &fx.svc1, b"garbage", b"", SealOnly::Accept)),
        ErrorKind::Unsupported
    );

    // Seal-only: anyone with the public part seals; the origin says so; refusable.
    let public = h.export_public("r").unwrap();
    let from_browser = fx
        .host_on("elsewhere", "browser-pins", T0 + 60)
        .seal_to(&public, None, b"browser pw", b"acct:1")
        .unwrap();
    let u = h
        .unseal("r", &fx.svc1, &from_browser, b"acct:1", SealOnly::Accept)
        .unwrap();
    assert_eq!(
        (&u.plaintext[..], u.origin),
        (&b"browser pw"[..], Origin::SealOnly)
    );
    let e = h
        .unseal("r", &fx.svc1, &from_browser, b"acct:1", SealOnly::Refuse)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("seal-only"), "{}", e.message());
    let armored_to = h.seal_to_armored(&public, None, b"x", b"").unwrap();
    assert!(armored_to.starts_with("dkm1:"));
    assert_eq!(
        kind(h.seal_to(&public[..public.len() - 1], None, b"x", b"")),
        ErrorKind::Malformed
    );
}

#[test]
fn access_verbs_and_grants() {
    let fx = Fx::new();
    fx.ring();
    let h = fx.host(T1);
    let sealed = h.seal("r", &fx.svc1, b"in scope", b"c").unwrap();
    // Scope normalisation.
    assert_eq!(kind(access_scope(Some(T0), &[1])), ErrorKind::InvalidInput);
    assert_eq!(
        access_scope(None, &[3, 1, 3]).unwrap(),
        Some(dkm_core::Scope::Epochs(vec![1, 3]))
    );
    assert_eq!(access_scope(None, &[]).unwrap(), None);
    assert_eq!(
        kind(h.request_access("r", &fx.svc1, "a key holder", HOUR, None)),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(h.request_access("r", &fx.eng, "too long", 30 * DAY, None)),
        ErrorKind::InvalidInput
    );
    // Denied: one denial ends it.
    let denied = h
        .request_access(
            "r",
            &fx.eng,
            "debug",
            HOUR,
            Some(dkm_core::Scope::Since(T0)),
        )
        .unwrap();
    h.deny("r", denied, "ops", &fx.ops).unwrap();
    assert_eq!(fx.state(&h, denied), RequestState::Denied);
    assert_eq!(
        kind(h.grant("r", denied, &fx.svc1)),
        ErrorKind::PolicyUnsatisfied
    );
    // Approved at both levels, in order, then granted.
    let req = h
        .request_access(
            "r",
            &fx.eng,
            "debug",
            4 * HOUR,
            access_scope(Some(T0), &[]).unwrap(),
        )
        .unwrap();
    assert_eq!(
        kind(h.approve("r", req, "security", &fx.sec)),
        ErrorKind::PolicyUnsatisfied
    );
    assert_eq!(
        kind(h.grant("r", req, &fx.svc1)),
        ErrorKind::PolicyUnsatisfied
    );
    h.approve("r", req, "ops", &fx.ops).unwrap();
    h.approve("r", req, "security", &fx.sec).unwrap();
    assert_eq!(kind(h.grant("r", req, &fx.eng)), ErrorKind::NotAMember);
    let g = h.grant("r", req, &fx.svc1).unwrap();
    assert_eq!((g.request, g.requester), (req, fx.eng.id()));
    assert_eq!(g.id, GrantId::for_request(&req.0));
    assert_eq!(g.not_after - g.not_before, 4 * HOUR);
    assert_eq!(fx.state(&h, req), RequestState::Granted);
    assert_eq!(
        dkm_core::SignedGrant::parse(&g.bytes).unwrap().grant().id,
        g.id
    );
    let u = h
        .unseal_with_grant("r", &fx.eng, g.id, &sealed, b"c", SealOnly::Refuse)
        .unwrap();
    assert_eq!(
        (&u.plaintext[..], u.origin),
        (&b"in scope"[..], Origin::KeyHolder)
    );
    assert_eq!(
        kind(h.unseal_with_grant("r", &fx.ops, g.id, &sealed, b"c", SealOnly::Accept)),
        ErrorKind::NotAMember
    );
    assert_eq!(
        kind(fx.host(T1 + 5 * HOUR).unseal_with_grant(
            "r",
            &fx.eng,
            g.id,
            &sealed,
            b"c",
            SealOnly::Accept
        )),
        ErrorKind::GrantExpired
    );
    // The unseal is in the audit chain, which verifies.
    let records = h.audit_records("r").unwrap();
    assert_eq!(
        records.last().unwrap().action,
        dkm_core::audit::Action::GrantUnseal
    );
    let report = h.audit_verify("r").unwrap();
    assert_eq!((report.records, report.problem), (records.len(), None));
}

#[test]
fn audit_verify_gives_the_first_problem_as_data() {
    let fx = Fx::new();
    let h = fx.ring();
    let path = fx.store_dir("store").join("r").join("audit.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replacen("\"time\":", "\"time\":1", 1);
    std::fs::write(&path, format!("{}\n", lines.join("\n"))).unwrap();
    let r = h.audit_verify("r").unwrap();
    let p = r.problem.unwrap();
    assert_eq!(
        (p.index, p.fault),
        (2, dkm_core::audit::AuditFault::BadSignature)
    );
    assert_eq!(r.head, None);
    let v = r.to_json();
    assert_eq!(v["problem"]["index"], 2);
    assert_eq!(v["verified"], false);
}

#[test]
fn views_round_trip_through_json() {
    let fx = Fx::new();
    fx.ring();
    let h = fx.host(T1);
    let add = fx.requested(
        h.add_member("r", &fx.admin, Role::Service, fx.svc2.public())
            .unwrap(),
    );
    h.roll_epoch("r", &fx.svc1).unwrap();
    let req = h
        .request_access(
            "r",
            &fx.eng,
            "two\nlines",
            HOUR,
            access_scope(None, &[1]).unwrap(),
        )
        .unwrap();
    h.approve("r", req, "ops", &fx.ops).unwrap();
    let info = h.ring_info("r").unwrap();
    assert_eq!(RingInfo::from_json(&info.to_json()).unwrap(), info);
    let keys = h.keys("r").unwrap();
    assert_eq!(
        dkm_core::ring::KeyListing::from_json(&keys.to_json()).unwrap(),
        keys
    );
    let views = h.requests("r").unwrap();
    assert_eq!(views.len(), 2);
    assert!(views.iter().any(|v| v.id == add && v.change.is_some()));
    for v in &views {
        assert_eq!(&RequestView::from_json(&v.to_json()).unwrap(), v);
    }
    for o in [
        ChangeOutcome::Requested { request: add },
        ChangeOutcome::Applied {
            version: 9,
            pending: false,
        },
    ] {
        assert_eq!(ChangeOutcome::from_json(&o.to_json()).unwrap(), o);
    }
    let report = h.audit_verify("r").unwrap();
    assert_eq!(AuditReport::from_json(&report.to_json()).unwrap(), report);
    h.approve("r", req, "security", &fx.sec).unwrap();
    let g = h.grant("r", req, &fx.svc1).unwrap();
    assert_eq!(IssuedGrant::from_json(&g.to_json()).unwrap(), g);
    // A JSON form that lies is refused, never half-read: a bad value, fields that disagree
    // with each other, an extra field.
    let mut bad = info.to_json();
    bad["members"][0]["role"] = "owner".into();
    assert_eq!(kind(RingInfo::from_json(&bad)), ErrorKind::InvalidInput);
    let mut bad = info.to_json();
    bad["members"][0]["id"] = info.members[1].id.to_string().into();
    assert_eq!(kind(RingInfo::from_json(&bad)), ErrorKind::InvalidInput);
    let mut bad = views[1].to_json();
    bad["description"] = "access to everything".into();
    assert_eq!(kind(RequestView::from_json(&bad)), ErrorKind::InvalidInput);
    let mut bad = report.to_json();
    bad["problem"] = serde_json::json!({"index": 0, "fault": "malformed record"});
    assert_eq!(kind(AuditReport::from_json(&bad)), ErrorKind::InvalidInput);
    let mut bad = keys.to_json();
    bad["epochs"][0]["readable"] = serde_json::json!([[0, 1, 2]]);
    assert_eq!(
        kind(dkm_core::ring::KeyListing::from_json(&bad)),
        ErrorKind::InvalidInput
    );
    let mut bad = g.to_json();
    bad["extra"] = 1.into();
    assert_eq!(kind(IssuedGrant::from_json(&bad)), ErrorKind::InvalidInput);
}

#[test]
fn a_snapshot_moves_a_ring_and_a_tampered_one_is_refused() {
    let fx = Fx::new();
    fx.ring();
    let h = fx.host(T1);
    let sealed = h.seal("r", &fx.svc1, b"moved", b"").unwrap();
    let req = h.request_access("r", &fx.eng, "debug", HOUR, None).unwrap();
    h.approve("r", req, "ops", &fx.ops).unwrap();
    let snap = h.export_snapshot("r").unwrap();
    assert_eq!(kind(h.export_snapshot("nope")), ErrorKind::InvalidInput);
    // Into a fresh store with a fresh pin book (first use trusts the ring's oldest admin).
    let other = fx.host_on("other", "other-pins", T1);
    assert_eq!(other.import_snapshot(&snap).unwrap(), "r");
    assert_eq!(kind(other.import_snapshot(&snap)), ErrorKind::InvalidInput);
    let u = other
        .unseal("r", &fx.svc1, &sealed, b"", SealOnly::Refuse)
        .unwrap();
    assert_eq!(&u.plaintext[..], b"moved");
    assert_eq!(other.requests("r").unwrap(), h.requests("r").unwrap());
    assert_eq!(
        other.audit_verify("r").unwrap().records,
        h.audit_verify("r").unwrap().records
    );
    other.approve("r", req, "security", &fx.sec).unwrap();
    other.grant("r", req, &fx.svc1).unwrap();
    assert!(other.export_snapshot("r").unwrap().len() > snap.len());
    // An older snapshot of a ring this host has seen newer is a rollback.
    assert_eq!(kind(other.import_snapshot(&snap)), ErrorKind::Rollback);

    // Tampered snapshots: refused with the store unchanged.
    let third = fx.host_on("third", "third-pins", T1);
    let before = fx.snapshot("third");
    let ring_len = u32::from_be_bytes(snap[5..9].try_into().unwrap()) as usize;
    let audit_at = 9 + ring_len;
    let n_audit = u32::from_be_bytes(snap[audit_at..audit_at + 4].try_into().unwrap()) as usize;
    assert!(n_audit > 3);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut flip_ring = snap.clone();
    flip_ring[9 + ring_len / 2] ^= 1;
    cases.push(("ring byte", flip_ring));
    let mut flip_audit = snap.clone();
    flip_audit[audit_at + 4 + 2 + 30] ^= 1;
    cases.push(("audit byte", flip_audit));
    let mut flip_log = snap.clone();
    let last = flip_log.len() - 10;
    flip_log[last] ^= 1;
    cases.push(("request-log byte", flip_log));
    cases.push(("truncated", snap[..snap.len() - 1].to_vec()));
    let mut trailing = snap.clone();
    trailing.push(0);
    cases.push(("trailing", trailing));
    // The audit chain cut after its first record (the anchored record missing).
    let first_len =
        u16::from_be_bytes(snap[audit_at + 4..audit_at + 6].try_into().unwrap()) as usize;
    let mut cut = snap[..audit_at].to_vec();
    cut.extend_from_slice(&1u32.to_be_bytes());
    cut.extend_from_slice(&snap[audit_at + 4..audit_at + 6 + first_len]);
    let mut rest = audit_at + 4;
    for _ in 0..n_audit {
        let len = u16::from_be_bytes(snap[rest..rest + 2].try_into().unwrap()) as usize;
        rest += 2 + len;
    }
    cut.extend_from_slice(&snap[rest..]);
    cases.push(("cut audit chain", cut));
    for (what, bytes) in cases {
        let e = third.import_snapshot(&bytes).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Tampered | ErrorKind::Malformed | ErrorKind::BadChecksum
            ),
            "{what}: {e}"
        );
        assert_eq!(fx.snapshot("third"), before, "{what}: the store changed");
    }
    assert_eq!(third.import_snapshot(&snap).unwrap(), "r");
    assert_eq!(
        FileStore::new(fx.store_dir("third")).rings().unwrap(),
        vec!["r".to_owned()]
    );
    // One ring, one name: after a rename, an import of the old snapshot (by a host that
    // never pinned it) would fork the ring under its old name: refused.
    third.rename_ring("r", "s", &fx.admin).unwrap();
    let fresh = fx.host_on("third", "fresh-pins", T1);
    assert_eq!(kind(fresh.import_snapshot(&snap)), ErrorKind::InvalidInput);
    assert_eq!(
        FileStore::new(fx.store_dir("third")).rings().unwrap(),
        vec!["s".to_owned()]
    );
}

#[test]
fn a_write_that_lost_a_race_with_a_rename_leaves_no_directory_behind() {
    let fx = Fx::new();
    let h = fx.ring();
    let stale = h.load("r").unwrap();
    h.rename_ring("r", "s", &fx.admin).unwrap();
    // A writer still holding the old name's version: Conflict, and no "r" directory appears.
    let store = FileStore::new(fx.store_dir("store"));
    let e = store
        .compare_and_swap("r", Some(stale.version), &stale.ring.to_bytes(), &|_| {
            Ok(Vec::new())
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(!fx.store_dir("store").join("r").exists());
    // So the old name can hold a new ring again.
    h.create_ring("r", &fx.admin, Policy::default()).unwrap();
}

#[test]
fn identities_generate_write_and_read() {
    let fx = Fx::new();
    let p = fx.dir.path().join("me.id");
    let id = dkm_host::files::generate_identity().unwrap();
    dkm_host::files::write_identity(&p, "me", &id).unwrap();
    assert_eq!(
        kind(dkm_host::files::write_identity(&p, "me", &id)),
        ErrorKind::InvalidInput
    );
    let back = dkm_host::files::read_identity(&p).unwrap();
    assert_eq!(back.identity.id(), id.id());
    assert!(back.warning.is_none());
    let text = std::fs::read(&p).unwrap();
    assert_eq!(
        dkm_host::files::identity_from_file_text(&text, "memory")
            .unwrap()
            .id(),
        id.id()
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        dkm_host::files::read_identity(&p)
            .unwrap()
            .warning
            .is_some()
    );
}
