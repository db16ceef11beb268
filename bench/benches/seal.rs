//! dkm sealing and unsealing against raw AES-256-GCM from `ring`, plus key derivation.
//!
//! Run with `cargo bench -p dkm-bench`; `cargo test -p dkm-bench --benches` runs each
//! benchmark once as a smoke test. See `bench/README.md` for what each number means.
// A benchmark harness: failing loudly on an unexpected error is what we want.
#![allow(clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dkm_core::rand_core::{TryCryptoRng, TryRng};
use dkm_core::rng::SystemRng;
use dkm_core::{EpochKeys, NodeSet, RingId, Schedule, SealedSecret, Secret32};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Plaintext sizes: a short secret, a small document, a large blob.
const SIZES: [(usize, &str); 3] = [(64, "64B"), (1024, "1KiB"), (1 << 20, "1MiB")];
/// The context every dkm seal binds.
const CONTEXT: &[u8] = b"dkm-bench/context";
/// The interval sealed to (any interval works with the whole tree held).
const INTERVAL: u16 = 4242;
/// dkm's AAD is `header (48 B for suite 1) ‖ SHA-256(context) (32 B)`: give ring the same
/// amount of AAD so GHASH does the same work.
const RING_AAD: [u8; 80] = [0xa5; 80];

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
    let ring = RingId([0x11; 16]);
    let schedule = Schedule::new(1_800_000_000, 3600).expect("schedule");
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

fn ring_key() -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0x37; 32]).expect("AES-256 key"))
}

/// `ciphertext ‖ tag` in a fresh buffer, like dkm's output, under a fresh random nonce.
fn ring_seal(key: &LessSafeKey, rng: &SystemRandom, pt: &[u8]) -> ([u8; NONCE_LEN], Vec<u8>) {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).expect("ring SystemRandom");
    let mut out = Vec::with_capacity(pt.len() + AES_256_GCM.tag_len());
    out.extend_from_slice(pt);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&RING_AAD),
            &mut out,
        )
        .expect("ring seal");
    out.extend_from_slice(tag.as_ref());
    (nonce, out)
}

/// Opens into a fresh buffer (dkm's unseal also returns a new buffer).
fn ring_open(key: &LessSafeKey, nonce: [u8; NONCE_LEN], sealed: &[u8]) -> Vec<u8> {
    let mut buf = sealed.to_vec();
    let len = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&RING_AAD),
            &mut buf,
        )
        .expect("ring open")
        .len();
    buf.truncate(len);
    buf
}

fn seal(c: &mut Criterion) {
    let mut epoch = epoch_keys();
    // Warm the cache: every seal below is a cache hit, as for a current interval.
    epoch.interval_keys(INTERVAL).expect("interval keys");
    let mut sys = SystemRng::new().expect("SystemRng");
    let mut os = OsPerDrawRng;
    let rkey = ring_key();
    let rrng = SystemRandom::new();

    let mut g = c.benchmark_group("seal");
    for (len, name) in SIZES {
        let pt = plaintext(len);
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_with_input(BenchmarkId::new("dkm_system_rng", name), &pt, |b, pt| {
            b.iter(|| {
                let keys = epoch.interval_keys(INTERVAL).expect("interval keys");
                keys.seal(black_box(pt), CONTEXT, &mut sys).expect("seal")
            })
        });
        g.bench_with_input(BenchmarkId::new("dkm_os_per_draw", name), &pt, |b, pt| {
            b.iter(|| {
                let keys = epoch.interval_keys(INTERVAL).expect("interval keys");
                keys.seal(black_box(pt), CONTEXT, &mut os).expect("seal")
            })
        });
        g.bench_with_input(BenchmarkId::new("ring_aes256gcm", name), &pt, |b, pt| {
            b.iter(|| ring_seal(&rkey, &rrng, black_box(pt)))
        });
    }
    g.finish();
}

fn unseal(c: &mut Criterion) {
    let mut epoch = epoch_keys();
    let mut sys = SystemRng::new().expect("SystemRng");
    let rkey = ring_key();
    let rrng = SystemRandom::new();

    let mut g = c.benchmark_group("unseal");
    for (len, name) in SIZES {
        let pt = plaintext(len);
        let sealed = epoch
            .interval_keys(INTERVAL)
            .expect("interval keys")
            .seal(&pt, CONTEXT, &mut sys)
            .expect("seal");
        let (nonce, rsealed) = ring_seal(&rkey, &rrng, &pt);
        g.throughput(Throughput::Bytes(len as u64));
        // What a holder does with a sealed secret: parse, look up the key (cache hit), open.
        g.bench_with_input(BenchmarkId::new("dkm", name), &sealed, |b, sealed| {
            b.iter(|| {
                let s = SealedSecret::parse(black_box(sealed)).expect("parse");
                let keys = epoch.keys_for(&s.key_id()).expect("keys");
                let out = keys.unseal(&s, CONTEXT).expect("unseal");
                assert_eq!(out.len(), len);
                out
            })
        });
        g.bench_with_input(
            BenchmarkId::new("ring_aes256gcm", name),
            &rsealed,
            |b, rs| {
                b.iter(|| {
                    let out = ring_open(&rkey, nonce, black_box(rs));
                    assert_eq!(out.len(), len);
                    out
                })
            },
        );
    }
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
    targets = seal, unseal, seal_only, keys, rng
}
criterion_main!(benches);
