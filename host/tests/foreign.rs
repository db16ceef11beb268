//! The foreign-store adapter over a map (what a binding's store object looks like from Rust):
//! the whole story runs through it, racing writers get `Conflict` and lose nothing, a commit
//! whose expectations fail writes nothing, a commit that claims a write it did not make is
//! refused, and a tampered line between two operations is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{DAY, HOUR, T0, people, story};
use dkm_core::ring::Role;
use dkm_core::{ErrorKind, Policy};
use dkm_host::{
    Clock, Commit, ForeignAdapter, ForeignStore, Host, HostError, PinBook, Result, SealOnly, Store,
    Stream,
};

#[derive(Default, Clone)]
struct Entry {
    ring: Option<(Vec<u8>, u64)>,
    audit: Vec<String>,
    requests: Vec<String>,
}

/// A foreign store as a binding would write one: a map, a counter for tokens, one lock.
#[derive(Default)]
struct MapStore {
    map: Mutex<BTreeMap<String, Entry>>,
    next_token: Mutex<u64>,
    commits: Mutex<u64>,
    /// Report every commit as done without doing it (a binding that swallowed a failure).
    lose_commits: std::sync::atomic::AtomicBool,
}

fn conflict(what: &str) -> HostError {
    HostError::new(ErrorKind::Conflict, what)
}

impl MapStore {
    fn stream(e: &Entry, s: Stream) -> &Vec<String> {
        match s {
            Stream::Audit => &e.audit,
            Stream::Requests => &e.requests,
        }
    }
}

impl ForeignStore for MapStore {
    fn ring(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        let map = self.map.lock().unwrap();
        Ok(map
            .get(name)
            .and_then(|e| e.ring.clone())
            .map(|(b, t)| (b, format!("t{t}"))))
    }

    fn line_count(&self, name: &str, stream: Stream) -> Result<u64> {
        let map = self.map.lock().unwrap();
        Ok(map
            .get(name)
            .map_or(0, |e| Self::stream(e, stream).len() as u64))
    }

    fn last_line(&self, name: &str, stream: Stream) -> Result<Option<String>> {
        let map = self.map.lock().unwrap();
        Ok(map
            .get(name)
            .and_then(|e| Self::stream(e, stream).last().cloned()))
    }

    fn lines_from(&self, name: &str, stream: Stream, from: u64) -> Result<Vec<String>> {
        let map = self.map.lock().unwrap();
        Ok(map.get(name).map_or(Vec::new(), |e| {
            Self::stream(e, stream)
                .iter()
                .skip(from as usize)
                .cloned()
                .collect()
        }))
    }

    fn commit(&self, name: &str, c: &Commit) -> Result<()> {
        if self.lose_commits.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let mut map = self.map.lock().unwrap();
        let cur = map.get(name).cloned().unwrap_or_default();
        if let Some(w) = &c.ring {
            let token = cur.ring.as_ref().map(|(_, t)| format!("t{t}"));
            if token != w.expected_token {
                return Err(conflict("ring token"));
            }
        }
        for (s, count, _) in &c.appends {
            if Self::stream(&cur, *s).len() as u64 != *count {
                return Err(conflict("stream count"));
            }
        }
        if let Some(to) = &c.move_to
            && map.get(to).is_some_and(|e| e.ring.is_some())
        {
            return Err(conflict("target exists"));
        }
        let mut next = cur;
        if let Some(w) = &c.ring {
            let mut t = self.next_token.lock().unwrap();
            *t += 1;
            next.ring = Some((w.bytes.clone(), *t));
        }
        for (s, _, lines) in &c.appends {
            match s {
                Stream::Audit => next.audit.extend(lines.iter().cloned()),
                Stream::Requests => next.requests.extend(lines.iter().cloned()),
            }
        }
        match &c.move_to {
            Some(to) => {
                map.remove(name);
                map.insert(to.clone(), next);
            }
            None => {
                map.insert(name.to_owned(), next);
            }
        }
        *self.commits.lock().unwrap() += 1;
        Ok(())
    }

    fn names(&self) -> Result<Vec<String>> {
        let map = self.map.lock().unwrap();
        Ok(map
            .iter()
            .filter(|(_, e)| e.ring.is_some())
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn location(&self) -> String {
        "test-map".to_owned()
    }
}

fn host(
    store: &Arc<ForeignAdapter<MapStore>>,
    pins: &std::path::Path,
    t: u64,
) -> Host<Arc<ForeignAdapter<MapStore>>> {
    Host::new(Arc::clone(store), PinBook::new(pins), Clock::fixed(t)).unwrap()
}

#[test]
fn the_story_runs_through_the_foreign_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ForeignAdapter::new(MapStore::default()));
    let p = people();
    let pins = dir.path().join("pins");
    let sealed = story(
        &host(&store, &pins, T0),
        &host(&store, &pins, T0 + DAY + HOUR),
        &p,
    );
    // A second process's adapter over the same map sees the same ring.
    let foreign = Arc::new(ForeignAdapter::new(MapStore::default()));
    let h = host(&store, &pins, T0 + DAY + HOUR);
    let snap = h.export_snapshot("s").unwrap();
    let other = host(&foreign, &dir.path().join("other-pins"), T0 + DAY + HOUR);
    assert_eq!(other.import_snapshot(&snap).unwrap(), "s");
    let u = other
        .unseal("s", &p.svc, &sealed, b"c", SealOnly::Refuse)
        .unwrap();
    assert_eq!(&u.plaintext[..], b"kept");
    assert_eq!(other.export_snapshot("s").unwrap(), snap);
}

#[test]
fn racing_writers_through_the_adapter_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ForeignAdapter::new(MapStore::default()));
    let p = people();
    let pins = dir.path().join("pins");
    let h = host(&store, &pins, T0);
    h.create_ring("r", &p.admin, Policy::default()).unwrap();
    h.add_member("r", &p.admin, Role::Service, p.svc.public())
        .unwrap();
    h.maintain("r", &p.svc).unwrap();
    // Four hosts, each with its own adapter instance over one map (as four processes would
    // have), roll epochs at once: every roll lands with its records.
    let shared = Arc::new(MapStore::default());
    {
        let snap = h.export_snapshot("r").unwrap();
        let first = Arc::new(ForeignAdapter::new(Arc::clone(&shared)));
        Host::new(first, PinBook::new(dir.path().join("p0")), Clock::fixed(T0))
            .unwrap()
            .import_snapshot(&snap)
            .unwrap();
    }
    std::thread::scope(|s| {
        for t in 0..4 {
            let shared = Arc::clone(&shared);
            let p = &p;
            let pins = dir.path().join(format!("p{t}"));
            s.spawn(move || {
                let h = Host::new(
                    ForeignAdapter::new(shared),
                    PinBook::new(pins),
                    Clock::fixed(T0),
                )
                .unwrap();
                for _ in 0..3 {
                    h.roll_epoch("r", &p.svc).unwrap();
                    let s = h.seal("r", &p.svc, b"x", b"").unwrap();
                    h.unseal("r", &p.svc, &s, b"", SealOnly::Refuse).unwrap();
                }
            });
        }
    });
    let h = Host::new(
        ForeignAdapter::new(Arc::clone(&shared)),
        PinBook::new(dir.path().join("final")),
        Clock::fixed(T0),
    )
    .unwrap();
    assert!(h.audit_verify("r").unwrap().problem.is_none());
    assert_eq!(h.keys("r").unwrap().epochs.len(), 1 + 12);
}

#[test]
fn a_failed_commit_writes_nothing_and_tampering_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ForeignAdapter::new(MapStore::default()));
    let p = people();
    let h = host(&store, &dir.path().join("pins"), T0);
    h.create_ring("r", &p.admin, Policy::default()).unwrap();
    h.add_member("r", &p.admin, Role::Service, p.svc.public())
        .unwrap();
    h.maintain("r", &p.svc).unwrap();
    // A stale version: Conflict from the adapter, nothing written.
    let stale = h.load("r").unwrap();
    h.roll_epoch("r", &p.svc).unwrap();
    let before = store
        .foreign()
        .map
        .lock()
        .unwrap()
        .get("r")
        .unwrap()
        .audit
        .len();
    let e = store
        .compare_and_swap("r", Some(stale.version), &stale.ring.to_bytes(), &|_| {
            Ok(Vec::new())
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert_eq!(
        store
            .foreign()
            .map
            .lock()
            .unwrap()
            .get("r")
            .unwrap()
            .audit
            .len(),
        before
    );
    // An audit line edited in the foreign store between two operations: refused.
    {
        let mut map = store.foreign().map.lock().unwrap();
        let e = map.get_mut("r").unwrap();
        let last = e.audit.last_mut().unwrap();
        *last = last.replacen("\"time\":", "\"time\":9", 1);
    }
    assert_eq!(
        h.roll_epoch("r", &p.svc).unwrap_err().kind(),
        ErrorKind::Tampered
    );
    assert!(h.audit_verify("r").unwrap().problem.is_some());
}

#[test]
fn a_commit_that_claims_a_write_it_did_not_make_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ForeignAdapter::new(MapStore::default()));
    let p = people();
    let h = host(&store, &dir.path().join("pins"), T0);
    h.create_ring("r", &p.admin, Policy::default()).unwrap();
    h.add_member("r", &p.admin, Role::Service, p.svc.public())
        .unwrap();
    h.maintain("r", &p.svc).unwrap();
    let lose = |on| {
        store
            .foreign()
            .lose_commits
            .store(on, std::sync::atomic::Ordering::SeqCst)
    };
    // The store says "done" and writes nothing: the ring still has its old token, so the
    // host reports the write as failed instead of moving its pins past the store.
    lose(true);
    let e = h
        .add_member("r", &p.admin, Role::Approver, p.ops.public())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StoreUnavailable, "{e}");
    assert!(e.message().contains("old token"), "{e}");
    assert_eq!(
        h.roll_epoch("r", &p.svc).unwrap_err().kind(),
        ErrorKind::StoreUnavailable
    );
    // With the store working again, nothing is ahead of it: no Rollback, and the change
    // goes through.
    lose(false);
    h.add_member("r", &p.admin, Role::Approver, p.ops.public())
        .unwrap();
    h.roll_epoch("r", &p.svc).unwrap();
    let sealed = h.seal("r", &p.svc, b"still here", b"c").unwrap();
    let u = h
        .unseal("r", &p.svc, &sealed, b"c", SealOnly::Refuse)
        .unwrap();
    assert_eq!(&u.plaintext[..], b"still here");
}

#[test]
fn a_create_that_failed_in_the_store_can_be_retried_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(ForeignAdapter::new(MapStore::default()));
    let p = people();
    let h = host(&store, &dir.path().join("pins"), T0);
    store
        .foreign()
        .lose_commits
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let e = h.create_ring("r", &p.admin, Policy::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::StoreUnavailable, "{e}");
    store
        .foreign()
        .lose_commits
        .store(false, std::sync::atomic::Ordering::SeqCst);
    // The name recorded for the ring that was never written is forgotten: the retry works.
    h.create_ring("r", &p.admin, Policy::default()).unwrap();
    h.add_member("r", &p.admin, Role::Service, p.svc.public())
        .unwrap();
    h.maintain("r", &p.svc).unwrap();
}
