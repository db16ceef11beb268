//! A long-lived host in a service: the clock is read at each operation (an expired grant is
//! refused by the same host object, without rebuilding it), and one host serves many threads
//! at once (sealing, unsealing, maintaining on one ring; every secret opens; the pin book
//! ends right).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dkm_core::ring::Role;
use dkm_core::{ErrorKind, Identity, Policy};
use dkm_host::files::generate_identity;
use dkm_host::{Clock, FileStore, Host, LevelSpec, PinBook, SealOnly, access_scope};

const T0: u64 = 1_900_000_000;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn a_host_is_send_and_sync() {
    assert_send_sync::<Host<FileStore>>();
    assert_send_sync::<Clock>();
}

#[test]
fn one_host_reads_its_clock_at_each_operation() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(T0));
    let clock = {
        let now = Arc::clone(&now);
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    };
    let h = Host::new(
        FileStore::new(dir.path().join("store")),
        PinBook::new(dir.path().join("pins")),
        clock,
    )
    .unwrap();
    let ids: Vec<Identity> = (0..5).map(|_| generate_identity().unwrap()).collect();
    let [admin, svc, ops, sec, eng] = <[Identity; 5]>::try_from(ids).ok().unwrap();
    h.create_ring("r", &admin, Policy::default()).unwrap();
    h.add_member("r", &admin, Role::Service, svc.public())
        .unwrap();
    for a in [&ops, &sec] {
        h.add_member("r", &admin, Role::Approver, a.public())
            .unwrap();
    }
    let level = |name: &str, who: &Identity| LevelSpec {
        name: name.into(),
        quorum: 1,
        approvers: vec![who.public().clone()],
    };
    h.set_approval_levels("r", &admin, &[level("ops", &ops), level("sec", &sec)])
        .unwrap();
    h.maintain("r", &svc).unwrap();
    now.store(T0 + DAY + HOUR, Ordering::SeqCst);
    let sealed = h.seal("r", &svc, b"s", b"").unwrap();
    let req = h
        .request_access(
            "r",
            &eng,
            "debug",
            HOUR,
            access_scope(Some(T0), &[]).unwrap(),
        )
        .unwrap();
    h.approve("r", req, "ops", &ops).unwrap();
    h.approve("r", req, "sec", &sec).unwrap();
    let g = h.grant("r", req, &svc).unwrap();
    let open = || h.unseal_with_grant("r", &eng, g.id, &sealed, b"", SealOnly::Accept);
    assert_eq!(&open().unwrap().plaintext[..], b"s");
    // The window ends; the same host, not rebuilt, refuses.
    now.store(g.not_after + 1, Ordering::SeqCst);
    assert_eq!(open().unwrap_err().kind(), ErrorKind::GrantExpired);
    // Records written under a supplied clock are not flagged as an override.
    let last = h.audit_records("r").unwrap();
    assert!(last.iter().all(|r| r.flags == 0));
    // A clock the binding supplies may go back; the host judges with what it reads.
    now.store(g.not_before, Ordering::SeqCst);
    assert_eq!(&open().unwrap().plaintext[..], b"s");
}

#[test]
fn eight_threads_share_one_host() {
    let dir = tempfile::tempdir().unwrap();
    let h = Host::new(
        FileStore::new(dir.path().join("store")),
        PinBook::new(dir.path().join("pins")),
        Clock::fixed(T0),
    )
    .unwrap();
    let admin = generate_identity().unwrap();
    let holders: Vec<Identity> = (0..2).map(|_| generate_identity().unwrap()).collect();
    h.create_ring("r", &admin, Policy::default()).unwrap();
    for s in &holders {
        h.add_member("r", &admin, Role::Service, s.public())
            .unwrap();
    }
    h.maintain("r", &holders[0]).unwrap();
    let h = Arc::new(h);
    let holders = Arc::new(holders);
    let sealed: Vec<(Vec<u8>, Vec<u8>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let h = Arc::clone(&h);
                let holders = Arc::clone(&holders);
                scope.spawn(move || {
                    let me = &holders[t % 2];
                    let mut out = Vec::new();
                    for i in 0..12 {
                        let pt = format!("thread {t} secret {i}").into_bytes();
                        let ctx = format!("ctx {t}").into_bytes();
                        let s = h.seal("r", me, &pt, &ctx).unwrap();
                        let other = &holders[(t + 1) % 2];
                        let u = h.unseal("r", other, &s, &ctx, SealOnly::Refuse).unwrap();
                        assert_eq!(&u.plaintext[..], &pt[..]);
                        if i % 4 == 0 {
                            h.maintain("r", me).unwrap();
                        }
                        if t == 0 && i == 6 {
                            h.roll_epoch("r", me).unwrap();
                        }
                        out.push((s, pt));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(sealed.len(), 96);
    // Every secret opens afterwards, through a fresh host with a fresh pin book too.
    let fresh = Host::new(
        FileStore::new(dir.path().join("store")),
        PinBook::new(dir.path().join("fresh-pins")),
        Clock::fixed(T0),
    )
    .unwrap();
    for (i, (s, pt)) in sealed.iter().enumerate() {
        let ctx = format!("ctx {}", i / 12).into_bytes();
        for host in [&*h, &fresh] {
            let u = host
                .unseal("r", &holders[0], s, &ctx, SealOnly::Refuse)
                .unwrap();
            assert_eq!(&u.plaintext[..], &pt[..]);
        }
    }
    // The pin book holds the newest pin, and the audit chain verifies.
    let newest = h.load("r").unwrap().ring.pin();
    let id = newest.ring;
    assert_eq!(
        PinBook::new(dir.path().join("pins"))
            .get(id)
            .unwrap()
            .unwrap(),
        newest
    );
    assert!(h.audit_verify("r").unwrap().problem.is_none());
}
