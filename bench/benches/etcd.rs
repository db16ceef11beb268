//! A warm seal of 64 bytes on etcd against the same on the memory store (the peer): one
//! long-lived host each, the ring kept verified. On etcd the ring's stamp comes from the
//! store's watch while it is current (no round trip); the third case cuts the watch, so each
//! seal first reads the ring's revision from etcd (one round trip on loopback).
//!
//! Starts its own etcd member on loopback (Debian's etcd-server; scripts/lib/deps.sh).
//! Run with `cargo bench -p dkm-bench --bench etcd`; `cargo test -p dkm-bench --benches` runs
//! each once. Target (issue "rings, request logs and audit in etcd"): etcd ≤ 2× memory, warm.
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
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use dkm_core::ring::Role;
use dkm_core::rng::SystemRng;
use dkm_core::{Identity, Policy};
use dkm_host::{Clock, EtcdOptions, EtcdStore, Host, MemoryPins, MemoryStore, Store};

const T0: u64 = 1_900_000_000;
const PT: [u8; 64] = [0x5a; 64];
const CONTEXT: &[u8] = b"dkm-bench/context";

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

fn ring<S: Store>(store: S) -> (Host<S>, Identity) {
    let mut rng = SystemRng::new().expect("rng");
    let admin = Identity::generate(&mut rng);
    let svc = Identity::generate(&mut rng);
    let h = Host::new(store, MemoryPins::new(), Clock::fixed(T0)).expect("host");
    h.create_ring("r", &admin, Policy::default())
        .expect("create");
    h.add_member("r", &admin, Role::Service, svc.public())
        .expect("member");
    h.maintain("r", &svc).expect("maintain");
    (h, svc)
}

fn bench(c: &mut Criterion) {
    let etcd = etcd_server::Etcd::single();
    let (mem, svc_m) = ring(MemoryStore::new());
    let (live, svc_e) =
        ring(EtcdStore::connect(EtcdOptions::new(etcd.endpoints(), "/bench")).expect("etcd"));
    let cut = Host::new(
        EtcdStore::connect(EtcdOptions::new(etcd.endpoints(), "/bench")).expect("etcd"),
        MemoryPins::new(),
        Clock::fixed(T0),
    )
    .expect("host");
    cut.store().sever_watch();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !live.store().watch_status().current {
        assert!(Instant::now() < deadline, "the watch never became current");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut g = c.benchmark_group("etcd_vs_memory/seal_64B");
    g.bench_function("memory_store", |b| {
        b.iter(|| {
            black_box(
                mem.seal("r", &svc_m, black_box(&PT), CONTEXT)
                    .expect("seal"),
            )
        });
    });
    g.bench_function("etcd_store_watch_current", |b| {
        b.iter(|| {
            black_box(
                live.seal("r", &svc_e, black_box(&PT), CONTEXT)
                    .expect("seal"),
            )
        });
    });
    g.bench_function("etcd_store_per_operation_check", |b| {
        b.iter(|| {
            black_box(
                cut.seal("r", &svc_e, black_box(&PT), CONTEXT)
                    .expect("seal"),
            )
        });
    });
    g.finish();
    assert!(
        live.store().watch_status().current,
        "the watch lapsed during the run"
    );
}

criterion_group! { name = benches; config = config(); targets = bench }
criterion_main!(benches);
