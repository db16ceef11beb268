//! The etcd store against real etcd members on loopback: the whole story, lost races
//! (`Conflict`, retried), transactions that write all or nothing, a 16 MiB ring, the watch
//! standing in for the per-operation check within its bound and the fallback when it is cut,
//! a member killed and brought back while sealing and rolling go on, and an unreachable etcd
//! giving `StoreUnavailable` within the timeout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

mod common;
mod etcd_server;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{DAY, HOUR, T0, people, story};
use dkm_core::ring::Role;
use dkm_core::sealed::SealedSecret;
use dkm_core::{ErrorKind, Identity, Policy};
use dkm_host::files::generate_identity;
use dkm_host::{
    Clock, Commit, EtcdOptions, EtcdStore, ForeignStore, Host, MemoryPins, RingWrite, SealOnly,
    Store, Stream,
};
use etcd_server::Etcd;

fn connect(e: &Etcd, prefix: &str) -> EtcdStore {
    EtcdStore::connect(EtcdOptions::new(e.endpoints(), prefix)).unwrap()
}

fn host(store: EtcdStore, clock: Clock) -> Host<EtcdStore> {
    Host::new(store, MemoryPins::new(), clock).unwrap()
}

fn epoch(sealed: &[u8]) -> u32 {
    SealedSecret::parse(sealed).unwrap().key_id().epoch
}

/// A ring "r" with admin and service account, its first epoch made.
fn ring(h: &Host<EtcdStore>) -> (Identity, Identity) {
    let admin = generate_identity().unwrap();
    let svc = generate_identity().unwrap();
    h.create_ring("r", &admin, Policy::default()).unwrap();
    h.add_member("r", &admin, Role::Service, svc.public())
        .unwrap();
    h.maintain("r", &svc).unwrap();
    (admin, svc)
}

#[test]
fn the_story_runs_on_etcd_and_races_lose_nothing() {
    let e = Etcd::single();
    let p = people();
    let sealed = story(
        &host(connect(&e, "/story"), Clock::fixed(T0)),
        &host(connect(&e, "/story"), Clock::fixed(T0 + DAY + HOUR)),
        &p,
    );
    let h = host(connect(&e, "/story"), Clock::fixed(T0 + DAY + HOUR));
    let u = h
        .unseal("s", &p.svc, &sealed, b"c", SealOnly::Refuse)
        .unwrap();
    assert_eq!(&u.plaintext[..], b"kept");
    assert_eq!(h.store().rings().unwrap(), vec!["s".to_owned()]);
    // Another prefix is another store.
    assert!(connect(&e, "/other").rings().unwrap().is_empty());
    assert_ne!(
        connect(&e, "/story").location(),
        connect(&e, "/other").location()
    );
    assert!(h.store().location().starts_with("etcd:"));

    // A compare-and-swap from a stale version is `Conflict` and writes nothing.
    let a = connect(&e, "/cas");
    let ha = host(connect(&e, "/cas"), Clock::fixed(T0));
    let (admin, _svc) = ring(&ha);
    let (bytes, v) = a.load("r").unwrap().unwrap();
    let audit_before = a.read_audit("r").unwrap();
    ha.add_member(
        "r",
        &admin,
        Role::Service,
        generate_identity().unwrap().public(),
    )
    .unwrap();
    let stale = a
        .compare_and_swap("r", Some(v), &bytes, &|_| Ok(Vec::new()))
        .unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    assert_eq!(a.read_audit("r").unwrap().len(), audit_before.len() + 1);
    // A commit whose stream head is stale writes nothing either (not even the ring).
    let kv = a.kv();
    let (_, token) = kv.ring("r").unwrap().unwrap();
    let count = kv.line_count("r", Stream::Audit).unwrap();
    let bad = Commit {
        ring: Some(RingWrite {
            expected_token: Some(token.clone()),
            bytes: b"junk".to_vec(),
        }),
        appends: vec![(Stream::Audit, count - 1, vec!["{}".into()])],
        move_to: None,
    };
    assert_eq!(
        kv.commit("r", &bad).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(kv.ring("r").unwrap().unwrap().1, token);
    assert_eq!(kv.line_count("r", Stream::Audit).unwrap(), count);

    // Four hosts, each on its own connection, add a member each at once: every add lands
    // (the losers reload and retry), the audit chain verifies.
    let added: Vec<Identity> = (0..4).map(|_| generate_identity().unwrap()).collect();
    std::thread::scope(|s| {
        for id in &added {
            let (e, admin) = (&e, &admin);
            s.spawn(move || {
                host(connect(e, "/cas"), Clock::fixed(T0))
                    .add_member("r", admin, Role::Approver, id.public())
                    .unwrap();
            });
        }
    });
    let info = ha.ring_info("r").unwrap();
    for id in &added {
        assert!(info.members.iter().any(|m| m.id == id.public().id()));
    }
    let report = ha.audit_verify("r").unwrap();
    assert!(report.problem.is_none(), "{report:?}");
}

#[test]
fn a_ring_of_sixteen_mebibytes_fits_in_one_transaction() {
    let e = Etcd::single();
    let s = connect(&e, "/big");
    let bytes: Vec<u8> = (0..16 * 1024 * 1024 + 300)
        .map(|i| (i % 251) as u8)
        .collect();
    let c = Commit {
        ring: Some(RingWrite {
            expected_token: None,
            bytes: bytes.clone(),
        }),
        appends: vec![(Stream::Audit, 0, vec!["line".into()])],
        move_to: None,
    };
    s.kv().commit("big", &c).unwrap();
    assert_eq!(s.kv().ring("big").unwrap().unwrap().0, bytes);
    // Written again only with the token it holds.
    assert_eq!(
        s.kv().commit("big", &c).unwrap_err().kind(),
        ErrorKind::Conflict
    );
}

#[test]
fn the_watch_stands_in_for_the_check_within_its_bound_and_falls_back_when_cut() {
    let e = Etcd::single();
    let a = host(connect(&e, "/watch"), Clock::fixed(T0));
    let (_admin, svc) = ring(&a);
    let b = host(connect(&e, "/watch"), Clock::fixed(T0));
    let first = b.seal("r", &svc, b"x", b"c").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.store().watch_status().current {
        assert!(Instant::now() < deadline, "the watch never became current");
        std::thread::sleep(Duration::from_millis(50));
    }
    b.seal("r", &svc, b"x", b"c").unwrap();
    // A warm seal while the watch is current: no round trip to etcd.
    let trips = b.store().round_trips();
    for _ in 0..100 {
        b.seal("r", &svc, b"x", b"c").unwrap();
    }
    assert_eq!(b.store().round_trips(), trips, "a warm seal went to etcd");

    // Host A rolls the epoch; host B seals under it within the bound, with no reload asked.
    a.roll_epoch("r", &svc).unwrap();
    let rolled = Instant::now();
    let bound = Duration::from_secs(1);
    let seen = loop {
        let s = b.seal("r", &svc, b"x", b"c").unwrap();
        if epoch(&s) == epoch(&first) + 1 {
            break rolled.elapsed();
        }
        assert!(
            rolled.elapsed() <= bound,
            "host B still sealed under the old epoch {} ms after the roll",
            rolled.elapsed().as_millis()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    eprintln!(
        "host B sealed under the new epoch {} ms after the roll",
        seen.as_millis()
    );

    // With a refresher, host B reloads the changed ring in the background: its next seal
    // finds the new epoch loaded and verified, with no round trip of its own.
    let b = Arc::new(b);
    let refresher = Host::spawn_refresher(&b).expect("the etcd store announces changes");
    let before = b.store().round_trips();
    a.roll_epoch("r", &svc).unwrap();
    let rolled = Instant::now();
    while b.store().round_trips() == before {
        assert!(
            rolled.elapsed() <= bound,
            "no background reload within the bound"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(100));
    let trips = b.store().round_trips();
    let s = b.seal("r", &svc, b"x", b"c").unwrap();
    assert_eq!(epoch(&s), epoch(&first) + 2);
    assert_eq!(
        b.store().round_trips(),
        trips,
        "the seal after the roll loaded the ring itself"
    );
    // The refresher holds the host weakly: it ends once the host is dropped.
    let b = Arc::try_unwrap(b)
        .ok()
        .expect("only the refresher's weak reference is left");

    // The watch cut: every operation checks the ring's revision first, so the next roll is
    // seen by the very next seal.
    b.store().sever_watch();
    assert!(!b.store().watch_status().current);
    let trips = b.store().round_trips();
    b.seal("r", &svc, b"x", b"c").unwrap();
    assert!(
        b.store().round_trips() > trips,
        "no per-operation check without the watch"
    );
    a.roll_epoch("r", &svc).unwrap();
    let s = b.seal("r", &svc, b"x", b"c").unwrap();
    assert_eq!(epoch(&s), epoch(&first) + 3);
    // A removed member's access ends on the next operation without the watch.
    let other = generate_identity().unwrap();
    let admin = _admin;
    a.add_member("r", &admin, Role::Service, other.public())
        .unwrap();
    a.maintain("r", &svc).unwrap();
    b.seal("r", &other, b"y", b"c").unwrap();
    a.remove_member("r", &admin, other.public()).unwrap();
    assert_eq!(
        b.seal("r", &other, b"y", b"c").unwrap_err().kind(),
        ErrorKind::NotAMember
    );
    // The refresher ends within a second of its host.
    let dropped = Instant::now();
    drop(b);
    refresher.join().unwrap();
    assert!(dropped.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_member_killed_and_brought_back_loses_nothing() {
    let mut e = Etcd::cluster(3);
    // The location is the cluster's, not the endpoint list's.
    let mut reversed = e.endpoints();
    reversed.reverse();
    let other_order = EtcdStore::connect(EtcdOptions::new(reversed, "/fault")).unwrap();
    assert_eq!(connect(&e, "/fault").location(), other_order.location());

    let now = Arc::new(AtomicU64::new(T0));
    let clock = {
        let now = Arc::clone(&now);
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    };
    let h = Arc::new(host(connect(&e, "/fault"), clock.clone()));
    let (_admin, svc) = ring(&h);
    let sealed = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let rolls = AtomicU64::new(0);
    let roller = host(connect(&e, "/fault"), clock.clone());
    std::thread::scope(|s| {
        // Sealing.
        s.spawn(|| {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let msg = format!("secret {i}");
                match h.seal("r", &svc, msg.as_bytes(), b"c") {
                    Ok(b) => sealed.lock().unwrap().push((msg, b)),
                    Err(err) => failures.lock().unwrap().push(format!("seal: {err}")),
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        // Rolling, on its own connection, with time moving on.
        s.spawn(|| {
            while !stop.load(Ordering::SeqCst) {
                now.fetch_add(HOUR, Ordering::SeqCst);
                match roller.roll_epoch("r", &svc) {
                    Ok(_) => {
                        rolls.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(err) => failures.lock().unwrap().push(format!("roll: {err}")),
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        std::thread::sleep(Duration::from_secs(2));
        e.kill(0);
        std::thread::sleep(Duration::from_secs(4));
        e.restart(0);
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::SeqCst);
    });
    let sealed = sealed.into_inner().unwrap();
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "{} sealed, {} rolls, {} failed operations: {:?}",
        sealed.len(),
        rolls.load(Ordering::SeqCst),
        failures.len(),
        failures.iter().take(5).collect::<Vec<_>>()
    );
    assert!(sealed.len() > 100 && rolls.load(Ordering::SeqCst) > 10);
    // Failures are only the store being briefly unavailable, never a lost race or worse.
    assert!(failures.iter().all(|f| f.contains("etcd")), "{failures:?}");
    // Read through the member that was killed: everything is there.
    let back = host(
        EtcdStore::connect(EtcdOptions::new(vec![e.endpoints()[0].clone()], "/fault")).unwrap(),
        clock,
    );
    let epochs: std::collections::BTreeSet<u32> = sealed.iter().map(|(_, b)| epoch(b)).collect();
    assert!(epochs.len() > 5, "sealing went on across rolls: {epochs:?}");
    for (msg, b) in &sealed {
        let u = back.unseal("r", &svc, b, b"c", SealOnly::Refuse).unwrap();
        assert_eq!(&u.plaintext[..], msg.as_bytes());
    }
    let report = back.audit_verify("r").unwrap();
    assert!(report.problem.is_none(), "{report:?}");
    assert!(report.records as u64 >= rolls.load(Ordering::SeqCst));
}

#[test]
fn an_unreachable_etcd_is_store_unavailable_within_the_timeout() {
    // A port that accepts connections and never answers: the worst case, a hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let started = Instant::now();
    let err = EtcdStore::connect(EtcdOptions::new(vec![endpoint.clone()], "/x")).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::StoreUnavailable, "{err}");
    assert!(took <= Duration::from_millis(5500), "took {took:?}");
    let mut o = EtcdOptions::new(vec![endpoint], "/x");
    o.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let err = EtcdStore::connect(o).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StoreUnavailable);
    assert!(started.elapsed() <= Duration::from_millis(1500));
    // Nothing listening.
    let closed = format!("http://127.0.0.1:{}", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    });
    let started = Instant::now();
    let err = EtcdStore::connect(EtcdOptions::new(vec![closed], "/x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StoreUnavailable);
    assert!(started.elapsed() <= Duration::from_millis(5500));

    // A store whose etcd goes away: operations fail in time once the watch's bound passed.
    let mut e = Etcd::single();
    let h = host(connect(&e, "/gone"), Clock::fixed(T0));
    let (_admin, svc) = ring(&h);
    h.seal("r", &svc, b"x", b"c").unwrap();
    e.kill(0);
    std::thread::sleep(Duration::from_millis(1100));
    let started = Instant::now();
    let err = h.seal("r", &svc, b"x", b"c").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StoreUnavailable, "{err}");
    assert!(started.elapsed() <= Duration::from_millis(5500));
}

/// Connects within 30 s (a member that has just started may not serve yet).
fn connect_retrying(o: &EtcdOptions) -> EtcdStore {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match EtcdStore::connect(o.clone()) {
            Ok(s) => return s,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("cannot connect: {e}"),
        }
    }
}

#[test]
fn tls_with_client_certificates_and_etcd_users_are_passed_through() {
    let dir = tempfile::tempdir().unwrap();
    let tls = etcd_server::Tls::generate(dir.path());
    let e = Etcd::single_tls(&tls);
    let port = e.endpoints()[0].rsplit(':').next().unwrap().to_owned();
    let url = format!(
        "etcds://127.0.0.1:{port}/tls?ca={}&cert={}&key={}",
        tls.ca.display(),
        tls.client_cert.display(),
        tls.client_key.display()
    );
    let o = EtcdOptions::from_url(&url, None).unwrap();
    let h = host(connect_retrying(&o), Clock::fixed(T0));
    let (_admin, svc) = ring(&h);
    let sealed = h.seal("r", &svc, b"over tls", b"c").unwrap();
    let u = h
        .unseal("r", &svc, &sealed, b"c", SealOnly::Refuse)
        .unwrap();
    assert_eq!(&u.plaintext[..], b"over tls");
    // Without a client certificate the member refuses; without the CA the client does.
    let mut no_cert = o.clone();
    no_cert.client_cert_pem = None;
    no_cert.timeout = Duration::from_secs(2);
    assert_eq!(
        EtcdStore::connect(no_cert).unwrap_err().kind(),
        ErrorKind::StoreUnavailable
    );
    let mut no_ca = o.clone();
    no_ca.ca_pem = None;
    no_ca.timeout = Duration::from_secs(2);
    no_ca.endpoints = vec![format!("https://127.0.0.1:{port}")];
    assert_eq!(
        EtcdStore::connect(no_ca).unwrap_err().kind(),
        ErrorKind::StoreUnavailable
    );

    // etcd users: the password is passed apart from the URL.
    let plain = Etcd::single();
    for (path, body) in [
        (
            "/v3/auth/user/add",
            r#"{"name":"root","password":"root-pw"}"#,
        ),
        ("/v3/auth/user/grant", r#"{"user":"root","role":"root"}"#),
        ("/v3/auth/enable", "{}"),
    ] {
        let out = plain.gateway(path, body);
        assert!(
            out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"),
            "{path}: {out}"
        );
    }
    let base = plain.url("auth");
    let h = host(
        EtcdStore::open_url(&format!("{base}?user=root"), Some("root-pw")).unwrap(),
        Clock::fixed(T0),
    );
    let (_admin, svc) = ring(&h);
    h.seal("r", &svc, b"x", b"c").unwrap();
    for (url, password) in [
        (format!("{base}?user=root"), Some("wrong")),
        (base.clone(), None),
    ] {
        let err = match EtcdStore::open_url(&url, password) {
            Err(e) => e,
            // Without a user, connecting may succeed and the first request is refused.
            Ok(s) => s.rings().unwrap_err(),
        };
        assert_eq!(err.kind(), ErrorKind::StoreUnavailable, "{err}");
    }
}
