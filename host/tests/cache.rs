//! The host keeps verified rings between operations and sees every change: another host's
//! write, a removed ring, an edited request log, a ring file edited in place with its
//! modification time put back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;

use common::{T0, people};
use dkm_core::ring::Role;
use dkm_core::{ErrorKind, Policy, SealedSecret};
use dkm_host::{Clock, FileStore, Host, MemoryStore, PinBook, SealOnly, Store};

fn epoch_of(sealed: &[u8]) -> u32 {
    SealedSecret::parse(sealed).unwrap().key_id().epoch
}

/// Two hosts (two processes' worth: their own caches and pin books) over one store.
fn sees_other_hosts_writes<S: Store + Clone>(store: S, pins: &std::path::Path) {
    let p = people();
    let mk = |dir: &str| {
        Host::new(
            store.clone(),
            PinBook::new(pins.join(dir)),
            Clock::fixed(T0),
        )
        .unwrap()
    };
    let (h1, h2) = (mk("one"), mk("two"));
    h1.create_ring("r", &p.admin, Policy::default()).unwrap();
    for s in [&p.svc, &p.eng] {
        h1.add_member("r", &p.admin, Role::Service, s.public())
            .unwrap();
    }
    h1.maintain("r", &p.svc).unwrap();
    let first = h1.seal("r", &p.eng, b"a", b"").unwrap();
    let again = h1.seal("r", &p.eng, b"b", b"").unwrap();
    assert_eq!((epoch_of(&first), epoch_of(&again)), (1, 1));
    // The other host removes eng and carries it out: the first host's next seal sees it.
    h2.remove_member("r", &p.admin, p.eng.public()).unwrap();
    h2.maintain("r", &p.svc).unwrap();
    assert_eq!(
        h1.seal("r", &p.eng, b"c", b"").unwrap_err().kind(),
        ErrorKind::NotAMember
    );
    let after = h1.seal("r", &p.svc, b"d", b"").unwrap();
    assert_eq!(epoch_of(&after), 2);
    assert_eq!(
        &h1.unseal("r", &p.svc, &first, b"", SealOnly::Refuse)
            .unwrap()
            .plaintext[..],
        b"a"
    );
    // Removed from the store: the next operation says so.
    h2.rename_ring("r", "s", &p.admin).unwrap();
    assert_eq!(
        h1.seal("r", &p.svc, b"e", b"").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(epoch_of(&h1.seal("s", &p.svc, b"f", b"").unwrap()), 2);
}

#[test]
fn another_hosts_writes_are_seen_on_files_and_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    sees_other_hosts_writes(FileStore::new(dir.path().join("store")), dir.path());
    let dir = tempfile::tempdir().unwrap();
    sees_other_hosts_writes(Arc::new(MemoryStore::new()), dir.path());
}

#[test]
fn edits_behind_a_warm_host_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = people();
    let h = Host::new(
        FileStore::new(dir.path().join("store")),
        PinBook::new(dir.path().join("pins")),
        Clock::fixed(T0),
    )
    .unwrap();
    h.create_ring("r", &p.admin, Policy::default()).unwrap();
    h.add_member("r", &p.admin, Role::Service, p.svc.public())
        .unwrap();
    h.add_member("r", &p.admin, Role::Approver, p.ops.public())
        .unwrap();
    h.maintain("r", &p.svc).unwrap();
    let req = h.request_access("r", &p.eng, "why", 3_600, None).unwrap();
    let sealed = h.seal("r", &p.svc, b"warm", b"").unwrap();
    h.unseal("r", &p.svc, &sealed, b"", SealOnly::Refuse)
        .unwrap();
    let ring_file = dir.path().join("store").join("r").join("ring");
    let log_file = dir.path().join("store").join("r").join("requests.jsonl");

    // An edited request-log line: seen at once.
    let log = std::fs::read_to_string(&log_file).unwrap();
    std::fs::write(&log_file, log.replacen("\"seq\":1", "\"seq\":2", 1)).unwrap();
    assert_eq!(
        h.seal("r", &p.svc, b"x", b"").unwrap_err().kind(),
        ErrorKind::Tampered
    );
    std::fs::write(&log_file, &log).unwrap();
    h.seal("r", &p.svc, b"x", b"").unwrap();
    let _ = req;

    // The ring file edited in place (same inode, same size) and its modification time put
    // back: the change time still moves, so the next unseal verifies again and refuses.
    // The change time has the file system's coarse clock (a few ms): edit after a tick.
    std::thread::sleep(std::time::Duration::from_millis(30));
    let modified = std::fs::metadata(&ring_file).unwrap().modified().unwrap();
    let bytes = std::fs::read(&ring_file).unwrap();
    let at = bytes.len() - 70;
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&ring_file)
            .unwrap();
        f.seek(SeekFrom::Start(at as u64)).unwrap();
        f.write_all(&[bytes[at] ^ 1]).unwrap();
        f.set_modified(modified).unwrap();
    }
    assert_eq!(
        std::fs::metadata(&ring_file).unwrap().modified().unwrap(),
        modified
    );
    let kind = h
        .unseal("r", &p.svc, &sealed, b"", SealOnly::Refuse)
        .unwrap_err()
        .kind();
    // Which check fails depends on the byte (a signature: Tampered; a length: Malformed).
    assert!(
        matches!(kind, ErrorKind::Tampered | ErrorKind::Malformed),
        "{kind:?}"
    );
    // Put back: works again (the pin never moved back).
    std::fs::write(&ring_file, &bytes).unwrap();
    assert_eq!(
        &h.unseal("r", &p.svc, &sealed, b"", SealOnly::Refuse)
            .unwrap()
            .plaintext[..],
        b"warm"
    );
}

/// A ring renamed away and another built under its name in the same shape: the warm host
/// never seals to the ring it kept (the memory store's fingerprint is store-wide).
#[test]
fn a_ring_recreated_under_a_kept_name_is_not_mistaken_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = people();
    let store = Arc::new(MemoryStore::new());
    let mk = |pins: &str| {
        Host::new(
            Arc::clone(&store),
            PinBook::new(dir.path().join(pins)),
            Clock::fixed(T0),
        )
        .unwrap()
    };
    let (h1, h2) = (mk("one"), mk("two"));
    let shape = |h: &Host<Arc<MemoryStore>>| {
        let id = h.create_ring("a", &p.admin, Policy::default()).unwrap();
        h.add_member("a", &p.admin, Role::Service, p.svc.public())
            .unwrap();
        h.maintain("a", &p.svc).unwrap();
        id
    };
    let first = shape(&h1);
    let s = h1.seal("a", &p.svc, b"x", b"").unwrap();
    assert_eq!(SealedSecret::parse(&s).unwrap().key_id().ring, first);
    h2.rename_ring("a", "b", &p.admin).unwrap();
    let second = shape(&h2);
    // The host that kept "a" never seals to the ring it kept: it loads in full, and its pin
    // book, which saw "a" hold the first ring, refuses the second under that name.
    assert_eq!(
        h1.seal("a", &p.svc, b"y", b"").unwrap_err().kind(),
        ErrorKind::Tampered
    );
    let s = h2.seal("a", &p.svc, b"z", b"").unwrap();
    assert_eq!(SealedSecret::parse(&s).unwrap().key_id().ring, second);
}

/// Two copies of a ring in two stores share one pin store: when one copy moves on, the host
/// kept warm on the other refuses within a second (a full load says Rollback).
#[test]
fn a_newer_pin_saved_elsewhere_ends_a_kept_ring() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let p = people();
    let pins = Arc::new(dkm_host::MemoryPins::new());
    let now = Arc::new(AtomicU64::new(T0));
    let clock = {
        let now = Arc::clone(&now);
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    };
    let host = |store: MemoryStore| {
        let mut os = dkm_core::rng::SystemRng::new().unwrap();
        Host::with_entropy(
            store,
            Arc::clone(&pins),
            clock.clone(),
            Box::new(move |b: &mut [u8]| dkm_core::rand_core::Rng::fill_bytes(&mut os, b)),
        )
    };
    let a = host(MemoryStore::new());
    a.create_ring("r", &p.admin, Policy::default()).unwrap();
    a.add_member("r", &p.admin, Role::Service, p.svc.public())
        .unwrap();
    a.maintain("r", &p.svc).unwrap();
    let snap = a.export_snapshot("r").unwrap();
    let b = host(MemoryStore::new());
    b.import_snapshot(&snap).unwrap();
    a.seal("r", &p.svc, b"warm", b"").unwrap();
    b.roll_epoch("r", &p.svc).unwrap();
    now.store(T0 + 1, Ordering::SeqCst);
    assert_eq!(
        a.seal("r", &p.svc, b"stale", b"").unwrap_err().kind(),
        ErrorKind::Rollback
    );
}
