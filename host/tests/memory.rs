//! The memory store runs the whole story the file store runs (governance, keys, elevated
//! access, audit, rename), and rings move between memory and file stores by snapshot.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use std::sync::Arc;

use dkm_core::ring::Role;
use dkm_core::{ErrorKind, Identity, Policy};
use dkm_host::files::generate_identity;
use dkm_host::{
    Clock, FileStore, Host, LevelSpec, MemoryStore, PinBook, SealOnly, Store, access_scope,
};

const T0: u64 = 1_900_000_000;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

struct People {
    admin: Identity,
    svc: Identity,
    ops: Identity,
    sec: Identity,
    eng: Identity,
}

fn people() -> People {
    let id = || generate_identity().unwrap();
    People {
        admin: id(),
        svc: id(),
        ops: id(),
        sec: id(),
        eng: id(),
    }
}

/// The story on any store; returns a secret sealed in it.
fn story<S: Store>(h: &Host<S>, later: &Host<S>, p: &People) -> Vec<u8> {
    h.create_ring("r", &p.admin, Policy::default()).unwrap();
    assert_eq!(
        h.create_ring("r", &p.admin, Policy::default())
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    h.add_member("r", &p.admin, Role::Service, p.svc.public())
        .unwrap();
    for a in [&p.ops, &p.sec] {
        h.add_member("r", &p.admin, Role::Approver, a.public())
            .unwrap();
    }
    let level = |name: &str, who: &Identity| LevelSpec {
        name: name.into(),
        quorum: 1,
        approvers: vec![who.public().clone()],
    };
    h.set_approval_levels("r", &p.admin, &[level("ops", &p.ops), level("sec", &p.sec)])
        .unwrap();
    h.maintain("r", &p.svc).unwrap();
    let sealed = later.seal("r", &p.svc, b"kept", b"c").unwrap();
    let req = later
        .request_access(
            "r",
            &p.eng,
            "debug",
            HOUR,
            access_scope(Some(T0), &[]).unwrap(),
        )
        .unwrap();
    later.approve("r", req, "ops", &p.ops).unwrap();
    later.approve("r", req, "sec", &p.sec).unwrap();
    let g = later.grant("r", req, &p.svc).unwrap();
    let u = later
        .unseal_with_grant("r", &p.eng, g.id, &sealed, b"c", SealOnly::Refuse)
        .unwrap();
    assert_eq!(&u.plaintext[..], b"kept");
    assert!(later.audit_verify("r").unwrap().problem.is_none());
    later.rename_ring("r", "s", &p.admin).unwrap();
    assert_eq!(later.ring_info("s").unwrap().name, "s");
    assert!(later.audit_verify("s").unwrap().problem.is_none());
    assert_eq!(later.requests("s").unwrap().len(), 1);
    sealed
}

#[test]
fn the_story_runs_on_the_memory_store_and_rings_move_between_stores() {
    let dir = tempfile::tempdir().unwrap();
    let p = people();
    let mem = Arc::new(MemoryStore::new());
    let host = |t: u64| {
        Host::new(
            Arc::clone(&mem),
            PinBook::new(dir.path().join("pins")),
            Clock::fixed(t),
        )
        .unwrap()
    };
    let sealed = story(&host(T0), &host(T0 + DAY + HOUR), &p);
    let h = host(T0 + DAY + HOUR);
    // Memory to files, and back into a fresh memory store.
    let snap = h.export_snapshot("s").unwrap();
    let file = Host::new(
        FileStore::new(dir.path().join("store")),
        PinBook::new(dir.path().join("pins")),
        Clock::fixed(T0 + DAY + HOUR),
    )
    .unwrap();
    assert_eq!(file.import_snapshot(&snap).unwrap(), "s");
    let u = file
        .unseal("s", &p.svc, &sealed, b"c", SealOnly::Refuse)
        .unwrap();
    assert_eq!(&u.plaintext[..], b"kept");
    let back = file.export_snapshot("s").unwrap();
    assert_eq!(back, snap);
    let other = Host::new(
        MemoryStore::new(),
        PinBook::new(dir.path().join("other-pins")),
        Clock::fixed(T0 + DAY + HOUR),
    )
    .unwrap();
    assert_eq!(other.import_snapshot(&back).unwrap(), "s");
    assert_eq!(other.requests("s").unwrap(), h.requests("s").unwrap());
    // The same story on the file store ends in the same shape.
    let dir2 = tempfile::tempdir().unwrap();
    let fh = |t: u64| {
        Host::new(
            FileStore::new(dir2.path().join("store")),
            PinBook::new(dir2.path().join("pins")),
            Clock::fixed(t),
        )
        .unwrap()
    };
    story(&fh(T0), &fh(T0 + DAY + HOUR), &p);
}

#[test]
fn memory_store_writes_are_atomic_under_threads() {
    let dir = tempfile::tempdir().unwrap();
    let p = people();
    let h = Host::new(
        MemoryStore::new(),
        PinBook::new(dir.path().join("pins")),
        Clock::fixed(T0),
    )
    .unwrap();
    h.create_ring("r", &p.admin, Policy::default()).unwrap();
    h.add_member("r", &p.admin, Role::Service, p.svc.public())
        .unwrap();
    h.maintain("r", &p.svc).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let h = &h;
            let p = &p;
            s.spawn(move || {
                for i in 0..10 {
                    let pt = format!("{t}/{i}").into_bytes();
                    let sealed = h.seal("r", &p.svc, &pt, b"").unwrap();
                    let u = h
                        .unseal("r", &p.svc, &sealed, b"", SealOnly::Refuse)
                        .unwrap();
                    assert_eq!(&u.plaintext[..], &pt[..]);
                    if i % 5 == 0 {
                        h.roll_epoch("r", &p.svc).unwrap();
                    }
                }
            });
        }
    });
    let report = h.audit_verify("r").unwrap();
    assert!(report.problem.is_none());
    // Sixteen rolls, each with its records, none lost.
    let rolls = h
        .audit_records("r")
        .unwrap()
        .iter()
        .filter(|r| r.action == dkm_core::audit::Action::EpochCreated)
        .count();
    assert_eq!(rolls, 17);
}
