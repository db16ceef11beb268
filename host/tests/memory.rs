//! The memory store runs the whole story the file store runs (governance, keys, elevated
//! access, audit, rename), and rings move between memory and file stores by snapshot.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

mod common;

use std::sync::Arc;

use common::{DAY, HOUR, T0, people, story};
use dkm_core::Policy;
use dkm_core::ring::Role;
use dkm_host::{Clock, FileStore, Host, MemoryStore, PinBook, SealOnly};

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

/// A host with no file system at all, as a browser or an edge function builds it: the memory
/// store, memory pins, randomness and time from the embedder, retries without sleeping.
#[test]
fn a_host_without_files_runs_the_story_and_pins() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let now = Arc::new(AtomicU64::new(T0));
    let clock = {
        let now = Arc::clone(&now);
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    };
    // The embedder's secure source (here the OS's, as crypto.getRandomValues would be).
    let mut os = dkm_core::rng::SystemRng::new().unwrap();
    let entropy: dkm_host::Entropy =
        Box::new(move |buf: &mut [u8]| dkm_core::rand_core::Rng::fill_bytes(&mut os, buf));
    let store = Arc::new(MemoryStore::new());
    let pins = Arc::new(dkm_host::MemoryPins::new());
    let h = Host::with_entropy(Arc::clone(&store), Arc::clone(&pins), clock, entropy)
        .with_pause(Box::new(|_| {}));
    let p = people();
    h.create_ring("r", &p.admin, Policy::default()).unwrap();
    h.add_member("r", &p.admin, Role::Service, p.svc.public())
        .unwrap();
    h.maintain("r", &p.svc).unwrap();
    now.store(T0 + DAY, Ordering::SeqCst);
    let sealed = h.seal("r", &p.svc, b"no files", b"").unwrap();
    assert_eq!(
        &h.unseal("r", &p.svc, &sealed, b"", SealOnly::Refuse)
            .unwrap()
            .plaintext[..],
        b"no files"
    );
    let id = h.generate_identity();
    assert_ne!(id.id(), p.svc.id());
    // The pins moved forward and name the ring; a substituted ring under the name is refused.
    let pin = h.load("r").unwrap().ring.pin();
    assert_eq!(pins.pins(), vec![pin.clone()]);
    let other = Host::with_entropy(
        MemoryStore::new(),
        dkm_host::MemoryPins::new(),
        Clock::fixed(T0),
        Box::new(|buf: &mut [u8]| buf.fill(7)),
    );
    let other_id = other.create_ring("r", &p.eng, Policy::default()).unwrap();
    use dkm_host::{PinStore, Store};
    assert_eq!(
        pins.check_name(&store.location(), "r", other_id)
            .unwrap_err()
            .kind(),
        dkm_core::ErrorKind::Tampered
    );
    pins.check_name(&store.location(), "r", pin.ring).unwrap();
}
