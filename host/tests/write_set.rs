//! Asynchronous storage: operations run against a snapshot and yield a write set that the
//! driver persists with its own compare-and-swap before confirming. Racing writers: one gets
//! `Conflict`, runs again from a fresh snapshot, nothing is lost; no plaintext and no pin
//! moves before confirmation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{DAY, HOUR, T0, people};
use dkm_core::ring::Role;
use dkm_core::{ErrorKind, Policy};
use dkm_host::{
    Clock, Commit, Host, HostError, LevelSpec, MemoryPins, Pending, PinStore, RingData, SealOnly,
    Snapshot, SnapshotHost, Stream, access_scope,
};

/// The driver's storage (IndexedDB, a KV): rings by name, tokens from a counter.
#[derive(Default)]
struct Db {
    rings: Mutex<BTreeMap<String, RingData>>,
    next: Mutex<u64>,
}

impl Db {
    fn snapshot(&self, names: &[&str]) -> Snapshot {
        let rings = self.rings.lock().unwrap();
        Snapshot {
            rings: names
                .iter()
                .map(|n| (n.to_string(), rings.get(*n).cloned().unwrap_or_default()))
                .collect(),
            location: "db:test".into(),
        }
    }

    /// One transaction: every expectation, then every write.
    fn apply(&self, set: &[(String, Commit)]) -> Result<(), HostError> {
        let mut rings = self.rings.lock().unwrap();
        for (name, c) in set {
            let cur = rings.get(name).cloned().unwrap_or_default();
            if let Some(w) = &c.ring
                && cur.ring.as_ref().map(|(_, t)| t) != w.expected_token.as_ref()
            {
                return Err(HostError::new(ErrorKind::Conflict, "ring token"));
            }
            for (s, count, _) in &c.appends {
                let have = match s {
                    Stream::Audit => cur.audit.len(),
                    Stream::Requests => cur.requests.len(),
                };
                if have as u64 != *count {
                    return Err(HostError::new(ErrorKind::Conflict, "line count"));
                }
            }
            if let Some(to) = &c.move_to
                && rings.get(to).is_some_and(|d| d.ring.is_some())
            {
                return Err(HostError::new(ErrorKind::Conflict, "rename target taken"));
            }
        }
        for (name, c) in set {
            let mut d = rings.remove(name).unwrap_or_default();
            if let Some(w) = &c.ring {
                let mut n = self.next.lock().unwrap();
                *n += 1;
                d.ring = Some((w.bytes.clone(), format!("db{n}")));
            }
            for (s, _, lines) in &c.appends {
                match s {
                    Stream::Audit => d.audit.extend(lines.iter().cloned()),
                    Stream::Requests => d.requests.extend(lines.iter().cloned()),
                }
            }
            match &c.move_to {
                Some(to) => {
                    rings.insert(to.clone(), d);
                }
                None => {
                    rings.insert(name.clone(), d);
                }
            }
        }
        Ok(())
    }
}

type SnapHost = Host<dkm_host::SharedStore>;

/// What a driver does: snapshot, run, persist, confirm; again on `Conflict`.
fn drive<T>(db: &Db, sh: &SnapshotHost, op: impl Fn(&SnapHost) -> dkm_host::Result<T>) -> T {
    for _ in 0..20 {
        let pending = sh.run(db.snapshot(&["r"]), &op).unwrap();
        match db.apply(pending.write_set()) {
            Ok(()) => return pending.confirm().unwrap(),
            Err(e) if e.kind() == ErrorKind::Conflict => {}
            Err(e) => panic!("{e}"),
        }
    }
    panic!("too many lost races");
}

fn snapshot_host(pins: Arc<MemoryPins>, t: u64) -> SnapshotHost {
    let mut os = dkm_core::rng::SystemRng::new().unwrap();
    SnapshotHost::new(
        pins,
        Clock::fixed(t),
        Box::new(move |b: &mut [u8]| dkm_core::rand_core::Rng::fill_bytes(&mut os, b)),
    )
}

#[test]
fn the_story_runs_through_write_sets() {
    let db = Db::default();
    let pins = Arc::new(MemoryPins::new());
    let p = people();
    let sh = snapshot_host(Arc::clone(&pins), T0);
    drive(&db, &sh, |h| {
        h.create_ring("r", &p.admin, Policy::default())
    });
    drive(&db, &sh, |h| {
        h.add_member("r", &p.admin, Role::Service, p.svc.public())
    });
    for a in [&p.ops, &p.sec] {
        drive(&db, &sh, |h| {
            h.add_member("r", &p.admin, Role::Approver, a.public())
        });
    }
    let levels = [
        LevelSpec {
            name: "ops".into(),
            quorum: 1,
            approvers: vec![p.ops.public().clone()],
        },
        LevelSpec {
            name: "sec".into(),
            quorum: 1,
            approvers: vec![p.sec.public().clone()],
        },
    ];
    drive(&db, &sh, |h| h.set_approval_levels("r", &p.admin, &levels));
    drive(&db, &sh, |h| h.maintain("r", &p.svc));
    let sh = snapshot_host(Arc::clone(&pins), T0 + DAY + HOUR);
    let sealed = drive(&db, &sh, |h| h.seal("r", &p.svc, b"async", b"c"));
    let req = drive(&db, &sh, |h| {
        h.request_access(
            "r",
            &p.eng,
            "debug",
            HOUR,
            access_scope(Some(T0), &[]).unwrap(),
        )
    });
    drive(&db, &sh, |h| h.approve("r", req, "ops", &p.ops));
    drive(&db, &sh, |h| h.approve("r", req, "sec", &p.sec));
    let g = drive(&db, &sh, |h| h.grant("r", req, &p.svc));
    // The elevated unseal: its audit record is in the write set; the plaintext only comes
    // with the confirmation.
    let pending: Pending<_> = sh
        .run(db.snapshot(&["r"]), |h| {
            h.unseal_with_grant("r", &p.eng, g.id, &sealed, b"c", SealOnly::Refuse)
        })
        .unwrap();
    let set = pending.write_set();
    assert_eq!(set.len(), 1);
    assert!(set[0].1.ring.is_none());
    let (stream, _, lines) = &set[0].1.appends[0];
    assert_eq!(*stream, Stream::Audit);
    assert!(
        lines[0].contains("\"action\":\"grant-unseal\""),
        "{}",
        lines[0]
    );
    db.apply(pending.write_set()).unwrap();
    assert_eq!(&pending.confirm().unwrap().plaintext[..], b"async");
    let report = drive(&db, &sh, |h| h.audit_verify("r"));
    assert!(report.problem.is_none());
}

#[test]
fn racing_writers_retry_and_nothing_is_lost_or_released_early() {
    let db = Db::default();
    let pins = Arc::new(MemoryPins::new());
    let p = people();
    let sh = snapshot_host(Arc::clone(&pins), T0);
    drive(&db, &sh, |h| {
        h.create_ring("r", &p.admin, Policy::default())
    });
    drive(&db, &sh, |h| {
        h.add_member("r", &p.admin, Role::Service, p.svc.public())
    });
    drive(&db, &sh, |h| h.maintain("r", &p.svc));
    let before = pins.pins()[0].clone();
    // Two writers read the same snapshot and both roll the epoch.
    let snap = db.snapshot(&["r"]);
    let a = sh.run(snap.clone(), |h| h.roll_epoch("r", &p.svc)).unwrap();
    let b = sh.run(snap, |h| h.roll_epoch("r", &p.svc)).unwrap();
    // Nothing moved before confirmation: not the storage, not the pins.
    assert_eq!(pins.pins()[0], before);
    db.apply(a.write_set()).unwrap();
    a.confirm().unwrap();
    assert_ne!(pins.pins()[0], before);
    assert_eq!(
        db.apply(b.write_set()).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    drop(b);
    // The loser runs again from a fresh snapshot.
    drive(&db, &sh, |h| h.roll_epoch("r", &p.svc));
    let keys = drive(&db, &sh, |h| h.keys("r"));
    assert_eq!(keys.epochs.len(), 3);
    assert!(drive(&db, &sh, |h| h.audit_verify("r")).problem.is_none());
    // A seal whose write set was never persisted released nothing and changed nothing.
    let sh = snapshot_host(Arc::clone(&pins), T0 + 10 * DAY);
    let lost = sh
        .run(db.snapshot(&["r"]), |h| h.seal("r", &p.svc, b"x", b""))
        .unwrap();
    assert!(
        !lost.write_set().is_empty(),
        "a stale ring is maintained first"
    );
    let pinned = pins.pins()[0].clone();
    drop(lost);
    assert_eq!(pins.pins()[0], pinned);
    assert!(
        pins.held("foreign:db:test", "r").unwrap().is_some(),
        "the name was recorded on the first confirmation"
    );
}

#[test]
fn renames_through_write_sets_name_their_target_and_merge_later_writes() {
    let db = Db::default();
    let pins = Arc::new(MemoryPins::new());
    let p = people();
    let sh = snapshot_host(Arc::clone(&pins), T0);
    drive(&db, &sh, |h| {
        h.create_ring("r", &p.admin, Policy::default())
    });
    drive(&db, &sh, |h| {
        h.add_member("r", &p.admin, Role::Service, p.svc.public())
    });
    drive(&db, &sh, |h| h.maintain("r", &p.svc));
    // The new name must be in the snapshot: nothing is assumed absent unread.
    let e = sh
        .run(db.snapshot(&["r"]), |h| h.rename_ring("r", "s", &p.admin))
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // A rename and a maintain of the new name in one operation: one Commit, persisted whole.
    let pending = sh
        .run(db.snapshot(&["r", "s"]), |h| {
            h.rename_ring("r", "s", &p.admin)?;
            h.roll_epoch("s", &p.svc)
        })
        .unwrap();
    assert_eq!(pending.write_set().len(), 1);
    assert_eq!(pending.write_set()[0].1.move_to.as_deref(), Some("s"));
    // Meanwhile another writer took "s": the rename's expectation fails, nothing is written.
    let other = Db::default();
    {
        let rings = db.rings.lock().unwrap().clone();
        *other.rings.lock().unwrap() = rings;
    }
    let taken = sh
        .run(other.snapshot(&["s"]), |h| {
            h.create_ring("s", &p.eng, Policy::default())
        })
        .unwrap();
    other.apply(taken.write_set()).unwrap();
    assert_eq!(
        other.apply(pending.write_set()).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    db.apply(pending.write_set()).unwrap();
    pending.confirm().unwrap();
    let info = drive_on(&db, &sh, "s", |h| h.ring_info("s"));
    assert_eq!(info.name, "s");
    assert_eq!(drive_on(&db, &sh, "s", |h| h.keys("s")).epochs.len(), 2);
}

/// `drive` on ring name `name` (and "r", absent after a rename).
fn drive_on<T>(
    db: &Db,
    sh: &SnapshotHost,
    name: &str,
    op: impl Fn(&SnapHost) -> dkm_host::Result<T>,
) -> T {
    let pending = sh.run(db.snapshot(&["r", name]), &op).unwrap();
    db.apply(pending.write_set()).unwrap();
    pending.confirm().unwrap()
}
