//! dkm sealing and unsealing against raw AES-256-GCM from `ring` and `aws-lc-rs` (key set up,
//! counter nonce), seal-only against one X25519 Diffie-Hellman, key lookups, secrets by age.
//!
//! Run with `cargo bench -p dkm-bench`; `cargo test -p dkm-bench --benches` runs each
//! benchmark once as a smoke test. See `bench/README.md` for what each number means.
// A benchmark harness: failing loudly on an unexpected error is what we want.
#![allow(clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dkm_core::rand_core::{TryCryptoRng, TryRng};
use dkm_core::rng::SystemRng;
use dkm_core::{EpochKeys, NodeSet, RingId, Schedule, SealedSecret, Secret32};

/// Plaintext sizes: a short secret, a small document, a medium one, a large blob.
const SIZES: [(usize, &str); 4] = [
    (64, "64B"),
    (1024, "1KiB"),
    (64 << 10, "64KiB"),
    (1 << 20, "1MiB"),
];
/// The context every dkm seal binds.
const CONTEXT: &[u8] = b"dkm-bench/context";
/// The interval sealed to (any interval works with the whole tree held).
const INTERVAL: u16 = 4242;
/// dkm's AAD is `header (48 B for suite 1) ‖ SHA-256(context) (32 B)`: give the peers the
/// same amount of AAD so GHASH does the same work.
const PEER_AAD: [u8; 80] = [0xa5; 80];

/// An RNG that asks the operating system (`getrandom(2)`) for every draw: what sealing costs
/// without a userspace CSPRNG.
struct OsPerDrawRng;

impl TryRng for OsPerDrawRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        getrandom::fill(dst).expect("the OS random number generator failed");
        Ok(())
    }
}

impl TryCryptoRng for OsPerDrawRng {}

/// Epoch key material holding the whole tree (the epoch's root), as the ring's creator has it.
fn epoch_keys() -> EpochKeys {
    epoch_keys_with(Schedule::new(1_800_000_000, 3600).expect("schedule"))
}

fn epoch_keys_with(schedule: Schedule) -> EpochKeys {
    let ring = RingId([0x11; 16]);
    let mut root = [0x42u8; 32];
    EpochKeys::new(
        ring,
        7,
        schedule,
        NodeSet::from_root(Secret32::from_array(&mut root)),
    )
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The peers: raw AES-256-GCM with the key set up once and a counter nonce (no RNG), sealing
/// into a fresh buffer (`ciphertext ‖ tag`) and opening into a fresh buffer, as dkm does.
trait Peer {
    fn seal(&self, counter: u64, pt: &[u8]) -> Vec<u8>;
    fn open(&self, counter: u64, sealed: &[u8]) -> Vec<u8>;
}

fn nonce_of(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

/// A peer over a `ring`-shaped AEAD API (`ring` and `aws-lc-rs` share it).
macro_rules! peer {
    ($name:ident, $krate:ident) => {
        struct $name($krate::aead::LessSafeKey);

        impl Peer for $name {
            fn seal(&self, counter: u64, pt: &[u8]) -> Vec<u8> {
                use $krate::aead::{Aad, Nonce};
                let mut out = Vec::with_capacity(pt.len() + 16);
                out.extend_from_slice(pt);
                let tag = self
                    .0
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce_of(counter)),
                        Aad::from(&PEER_AAD),
                        &mut out,
                    )
                    .expect("seal");
                out.extend_from_slice(tag.as_ref());
                out
            }

            fn open(&self, counter: u64, sealed: &[u8]) -> Vec<u8> {
                use $krate::aead::{Aad, Nonce};
                let mut buf = sealed.to_vec();
                let len = self
                    .0
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce_of(counter)),
                        Aad::from(&PEER_AAD),
                        &mut buf,
                    )
                    .expect("open")
                    .len();
                buf.truncate(len);
                buf
            }
        }
    };
}

peer!(RingPeer, ring);
peer!(AwsLcPeer, aws_lc_rs);

fn peers() -> [(&'static str, Box<dyn Peer>); 2] {
    let key = [0x37u8; 32];
    [
        (
            "ring",
            Box::new(RingPeer(ring::aead::LessSafeKey::new(
                ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key).expect("key"),
            ))),
        ),
        (
            "aws_lc_rs",
            Box::new(AwsLcPeer(aws_lc_rs::aead::LessSafeKey::new(
                aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &key).expect("key"),
            ))),
        ),
    ]
}

fn seal(c: &mut Criterion) {
    let mut epoch = epoch_keys();
    // Warm the cache: every seal below is a cache hit, as for a current interval.
    epoch.interval_keys(INTERVAL).expect("interval keys");
    let mut sys = SystemRng::new().expect("SystemRng");
    let peers = peers();

    let mut g = c.benchmark_group("seal");
    for (len, name) in SIZES {
        let pt = plaintext(len);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("dkm", name), &pt, |b, pt| {
            b.iter(|| {
                let keys = epoch.interval_keys(INTERVAL).expect("interval keys");
                keys.seal(black_box(pt), CONTEXT, &mut sys).expect("seal")
            })
        });
        for (peer, p) in &peers {
            let mut counter = 0u64;
            g.bench_with_input(BenchmarkId::new(*peer, name), &pt, |b, pt| {
                b.iter(|| {
                    counter += 1;
                    p.seal(counter, black_box(pt))
                })
            });
        }
    }
    g.finish();
}

fn unseal(c: &mut Criterion) {
    let mut epoch = epoch_keys();
    let mut sys = SystemRng::new().expect("SystemRng");
    let peers = peers();

    let mut g = c.benchmark_group("unseal");
    for (len, name) in SIZES {
        let pt = plaintext(len);
        let sealed = epoch
            .interval_keys(INTERVAL)
            .expect("interval keys")
            .seal(&pt, CONTEXT, &mut sys)
            .expect("seal");
        g.throughput(Throughput::Bytes(len as u64));
        // What a holder does with a sealed secret: parse, look up the key (cache hit), open
        // into a fresh buffer (zeroized when dropped, inside the timing).
        g.bench_with_input(BenchmarkId::new("dkm", name), &sealed, |b, sealed| {
            b.iter(|| {
                let s = SealedSecret::parse(black_box(sealed)).expect("parse");
                let keys = epoch.keys_for(&s.key_id()).expect("keys");
                let out = keys.unseal(&s, CONTEXT).expect("unseal");
                assert_eq!(out.len(), len);
                out
            })
        });
        // In place, taking the sealed bytes (their copy is made outside the timing).
        let keys = epoch
            .keys_for(&SealedSecret::parse(&sealed).expect("parse").key_id())
            .expect("keys");
        g.bench_with_input(BenchmarkId::new("dkm_owned", name), &sealed, |b, sealed| {
            b.iter_batched(
                || sealed.clone(),
                |owned| {
                    let out = keys.unseal_owned(owned, CONTEXT).expect("unseal");
                    assert_eq!(out.len(), len);
                    out
                },
                BatchSize::LargeInput,
            )
        });
        for (peer, p) in &peers {
            let psealed = p.seal(1, &pt);
            g.bench_with_input(BenchmarkId::new(*peer, name), &psealed, |b, ps| {
                b.iter(|| {
                    let out = p.open(1, black_box(ps));
                    assert_eq!(out.len(), len);
                    out
                })
            });
        }
    }
    g.finish();
}

/// A secret sealed three years ago (1,096 daily intervals back) against a current one, both
/// with their interval keys cached, and the old one with a cache miss every time.
fn age(c: &mut Criterion) {
    let start = 1_700_000_000;
    let mut epoch = epoch_keys_with(Schedule::new(start, 86_400).expect("schedule"));
    let mut sys = SystemRng::new().expect("SystemRng");
    let pt = plaintext(64);
    let (old_i, now_i) = (10u16, 10 + 1_096);
    let old = epoch
        .interval_keys(old_i)
        .expect("keys")
        .seal(&pt, CONTEXT, &mut sys)
        .expect("seal");
    let cur = epoch
        .interval_keys(now_i)
        .expect("keys")
        .seal(&pt, CONTEXT, &mut sys)
        .expect("seal");
    let mut g = c.benchmark_group("unseal_by_age");
    for (name, sealed) in [("current_64B", &cur), ("three_years_old_64B", &old)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let s = SealedSecret::parse(black_box(sealed)).expect("parse");
                let keys = epoch.keys_for(&s.key_id()).expect("keys");
                keys.unseal(&s, CONTEXT).expect("unseal")
            })
        });
    }
    // A one-entry cache and the current secret opened in between: the old one's interval
    // keys are derived again each time (a 16-level walk from the root).
    let mut cold = epoch_keys_with(Schedule::new(start, 86_400).expect("schedule"));
    cold.set_cache_capacity(1);
    let cur_id = SealedSecret::parse(&cur).expect("parse").key_id();
    g.bench_function("three_years_old_64B_uncached", |b| {
        b.iter(|| {
            cold.keys_for(&cur_id).expect("keys");
            let s = SealedSecret::parse(black_box(&old)).expect("parse");
            let keys = cold.keys_for(&s.key_id()).expect("keys");
            keys.unseal(&s, CONTEXT).expect("unseal")
        })
    });
    g.finish();
}

fn seal_only(c: &mut Criterion) {
    let mut epoch = epoch_keys();
    let sok = epoch
        .interval_keys(INTERVAL)
        .expect("interval keys")
        .seal_only_key();
    let mut sys = SystemRng::new().expect("SystemRng");
    let pt = plaintext(64);
    let sealed = sok.seal(&pt, CONTEXT, &mut sys).expect("seal-only seal");

    let mut g = c.benchmark_group("seal_only");
    g.throughput(Throughput::Bytes(64));
    g.bench_function("seal/64B", |b| {
        b.iter(|| sok.seal(black_box(&pt), CONTEXT, &mut sys).expect("seal"))
    });
    g.bench_function("unseal/64B", |b| {
        b.iter(|| {
            let s = SealedSecret::parse(black_box(&sealed)).expect("parse");
            let keys = epoch.keys_for(&s.key_id()).expect("keys");
            keys.unseal_seal_only(&s, CONTEXT).expect("unseal")
        })
    });
    // The peer: one X25519 Diffie-Hellman of x25519-dalek (a seal-only seal does one, plus
    // the ephemeral key's base-point multiplication).
    let secret = x25519_dalek::StaticSecret::from([0x24u8; 32]);
    let public = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from([0x42u8; 32]));
    g.bench_function("x25519_dalek_dh", |b| {
        b.iter(|| secret.diffie_hellman(black_box(&public)).to_bytes())
    });
    g.finish();
}

fn keys(c: &mut Criterion) {
    let mut g = c.benchmark_group("keys");

    // Cache miss every time: a one-entry cache and two intervals in turn, each a 16-level
    // walk from the root plus the four leaf derivations and the XAES key setup.
    let mut cold = epoch_keys();
    cold.set_cache_capacity(1);
    let mut flip = false;
    g.bench_function("interval_keys_cold", |b| {
        b.iter(|| {
            flip = !flip;
            let i = if flip { 1_000 } else { 60_000 };
            cold.interval_keys(black_box(i)).expect("keys").id()
        })
    });

    let mut warm = epoch_keys();
    warm.interval_keys(INTERVAL).expect("keys");
    g.bench_function("interval_keys_warm", |b| {
        b.iter(|| warm.interval_keys(black_box(INTERVAL)).expect("keys").id())
    });

    // The X25519 key-pair derivation a seal-only unseal repeats (it is not cached).
    let keys = warm.interval_keys(INTERVAL).expect("keys");
    g.bench_function("seal_only_key", |b| b.iter(|| keys.seal_only_key()));
    g.finish();
}

/// The per-draw cost of each RNG: a suite-1 seal draws one 24-byte nonce.
fn rng(c: &mut Criterion) {
    let mut g = c.benchmark_group("rng_24B");
    let mut sys = SystemRng::new().expect("SystemRng");
    let mut os = OsPerDrawRng;
    g.bench_function("system_rng", |b| {
        b.iter(|| {
            let mut n = [0u8; 24];
            sys.try_fill_bytes(&mut n).expect("infallible");
            n
        })
    });
    g.bench_function("os_per_draw", |b| {
        b.iter(|| {
            let mut n = [0u8; 24];
            os.try_fill_bytes(&mut n).expect("infallible");
            n
        })
    });
    // SystemRng checks the process id on every draw (fork safety); on glibc that is a
    // getpid(2) system call each time.
    g.bench_function("std_process_id", |b| b.iter(std::process::id));
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = seal, unseal, age, seal_only, keys, rng
}
criterion_main!(benches);
