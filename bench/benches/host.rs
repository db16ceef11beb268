//! What the host layer adds to a warm seal and unseal of 64 bytes: the core's key holder
//! alone (the peer) against one long-lived `dkm_host::Host` on the memory store and on the
//! file store, the ring kept verified between operations (a store fingerprint per call).
//!
//! Run with `cargo bench -p dkm-bench --bench host`; `cargo test -p dkm-bench --benches` runs
//! each once. Targets (issue "One host for every binding", part 2): host − core ≤ 0.5 µs on
//! the memory store and ≤ 5 µs on the file store, per operation.
//!
//! Then a warm seal on etcd against the same on the memory store (the peer). On etcd the
//! ring's stamp comes from the store's watch while it is current (no round trip); the third
//! case cuts the watch, so each seal first reads the ring's revision from etcd (one loopback
//! round trip). It starts its own etcd member (Debian's etcd-server; scripts/lib/deps.sh).
//! Target (issue "rings, request logs and audit in etcd"): etcd ≤ 2× memory, warm.
// A benchmark harness: failing loudly on an unexpected error is what we want.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    missing_docs
)]

#[path = "../../host/tests/etcd_server/mod.rs"]
mod etcd_server;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use dkm_core::ring::Role;
use dkm_core::rng::SystemRng;
use dkm_core::{Identity, KeyHolder, Policy};
use dkm_host::{
    Clock, EtcdOptions, EtcdStore, FileStore, Host, MemoryStore, PinBook, SealOnly, SharedStore,
    Store,
};

const T0: u64 = 1_900_000_000;
const PT: [u8; 64] = [0x5a; 64];
const CONTEXT: &[u8] = b"dkm-bench/context";

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

/// A ring "r" with one key holder, maintained, on `store`; the host and the key holder.
fn ring<S: Store>(store: S, pins: &std::path::Path) -> (Host<S>, Identity) {
    let mut rng = SystemRng::new().expect("rng");
    let admin = Identity::generate(&mut rng);
    let svc = Identity::generate(&mut rng);
    let h = Host::new(store, PinBook::new(pins), Clock::fixed(T0)).expect("host");
    h.create_ring("r", &admin, Policy::default())
        .expect("create");
    h.add_member("r", &admin, Role::Service, svc.public())
        .expect("member");
    h.maintain("r", &svc).expect("maintain");
    (h, svc)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mem, svc_m) = ring(MemoryStore::new(), &dir.path().join("pins-m"));
    let (file, svc_f) = ring(
        FileStore::new(dir.path().join("store")),
        &dir.path().join("pins-f"),
    );
    // The peer: the core's key holder on the same ring, opened once.
    let mut kh = KeyHolder::open(mem.load("r").expect("load").ring, &svc_m).expect("open");
    let mut rng = SystemRng::new().expect("rng");
    let sealed = kh.seal(T0, &PT, CONTEXT, &mut rng).expect("seal");
    let sealed_f = file.seal("r", &svc_f, &PT, CONTEXT).expect("seal");

    let mut g = c.benchmark_group("host_vs_core/seal_64B");
    g.bench_function("core_key_holder", |b| {
        b.iter(|| {
            black_box(
                kh.seal(T0, black_box(&PT), CONTEXT, &mut rng)
                    .expect("seal"),
            )
        });
    });
    g.bench_function("host_memory_store", |b| {
        b.iter(|| {
            black_box(
                mem.seal("r", &svc_m, black_box(&PT), CONTEXT)
                    .expect("seal"),
            )
        });
    });
    g.bench_function("host_file_store", |b| {
        b.iter(|| {
            black_box(
                file.seal("r", &svc_f, black_box(&PT), CONTEXT)
                    .expect("seal"),
            )
        });
    });
    g.finish();

    let mut g = c.benchmark_group("host_vs_core/unseal_64B");
    g.bench_function("core_key_holder", |b| {
        b.iter(|| black_box(kh.unseal(black_box(&sealed), CONTEXT).expect("unseal")));
    });
    g.bench_function("host_memory_store", |b| {
        b.iter(|| {
            black_box(
                mem.unseal("r", &svc_m, black_box(&sealed), CONTEXT, SealOnly::Refuse)
                    .expect("unseal"),
            )
        });
    });
    g.bench_function("host_file_store", |b| {
        b.iter(|| {
            black_box(
                file.unseal("r", &svc_f, black_box(&sealed_f), CONTEXT, SealOnly::Refuse)
                    .expect("unseal"),
            )
        });
    });
    g.finish();
}

fn bench_etcd(c: &mut Criterion) {
    let etcd = etcd_server::Etcd::single();
    let dir = tempfile::tempdir().expect("tempdir");
    let connect = || {
        Arc::new(EtcdStore::connect(EtcdOptions::new(etcd.endpoints(), "/bench")).expect("etcd"))
    };
    // All three behind the same `SharedStore` pointer, as a binding holds them.
    let memory: SharedStore = Arc::new(MemoryStore::new());
    let (mem, svc_m) = ring(memory, &dir.path().join("pins-m"));
    let (live_store, cut_store) = (connect(), connect());
    let (live, svc_e) = ring(
        Arc::clone(&live_store) as SharedStore,
        &dir.path().join("pins-e"),
    );
    let cut = Host::new(
        Arc::clone(&cut_store) as SharedStore,
        PinBook::new(dir.path().join("pins-c")),
        Clock::fixed(T0),
    )
    .expect("host");
    cut_store.sever_watch();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !live_store.watch_status().current {
        assert!(Instant::now() < deadline, "the watch never became current");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut g = c.benchmark_group("etcd_vs_memory/seal_64B");
    for (name, h, svc) in [
        ("memory_store", &mem, &svc_m),
        ("etcd_store_watch_current", &live, &svc_e),
        ("etcd_store_per_operation_check", &cut, &svc_e),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(h.seal("r", svc, black_box(&PT), CONTEXT).expect("seal")));
        });
    }
    g.finish();
    assert!(
        live_store.watch_status().current,
        "the watch lapsed during the run"
    );
}

criterion_group! { name = benches; config = config(); targets = bench, bench_etcd }
criterion_main!(benches);
