//! Operating-system randomness conveniences (feature `std`).
//!
//! The core never draws randomness itself: every function that needs it takes an RNG
//! argument implementing [`rand_core::CryptoRng`]. These are the two the host layer offers.
//!
//! - [`SystemRng`]: ChaCha20 seeded from the operating system, a userspace CSPRNG. Asking the
//!   kernel for 24 bytes is a large share of sealing a short secret, so hosts use this one.
//!   It reseeds from the operating system after every 1 MiB of output and at the first draw
//!   after a `fork` (the process id changed, or a binding's fork probe: see
//!   [`SystemRng::with_fork_probe`]), so a forked child never repeats its parent's nonces.
//! - [`SystemRng::new`] fails with [`ErrorKind::Internal`] if the operating system cannot
//!   supply the seed.

use core::convert::Infallible;

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// Output after which [`SystemRng`] reseeds from the operating system.
pub const RESEED_AFTER: usize = 1 << 20;

/// A ChaCha20 CSPRNG seeded from the operating system, fork-aware and periodically reseeded.
pub struct SystemRng {
    inner: ChaCha20Rng,
    /// What `probe` gave at the last (re)seed.
    marker: u64,
    /// A value that differs in a forked child from its parent's by its first draw.
    probe: fn() -> u64,
    since_reseed: usize,
}

/// The default fork probe: the process id (a system call per draw).
fn process_id() -> u64 {
    u64::from(std::process::id())
}

impl core::fmt::Debug for SystemRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SystemRng(<redacted>)")
    }
}

fn os_seed() -> Result<Zeroizing<[u8; 32]>> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *seed).map_err(|_| {
        Error::new(
            ErrorKind::Internal,
            "the operating system's random number generator is unavailable",
        )
    })?;
    Ok(seed)
}

impl SystemRng {
    /// Seeds a new generator from the operating system.
    pub fn new() -> Result<Self> {
        SystemRng::with_fork_probe(process_id)
    }

    /// Seeds a new generator that detects a fork with `probe` instead of the process id, read
    /// at each draw: `probe` must return a different value in a forked child than its parent
    /// last saw, before the child's first draw. A binding gives a counter that a fork handler
    /// of the process (`pthread_atfork`'s child hook) increments: reading it costs no system
    /// call, unlike `getpid`. A fork the handler does not see (a raw `clone`) is not detected:
    /// use [`SystemRng::new`] where that can happen.
    pub fn with_fork_probe(probe: fn() -> u64) -> Result<Self> {
        let seed = os_seed()?;
        Ok(SystemRng {
            inner: ChaCha20Rng::from_seed(*seed),
            marker: probe(),
            probe,
            since_reseed: 0,
        })
    }

    /// New key = SHA-256(label ‖ current key ‖ position ‖ pid ‖ OS seed). If the operating
    /// system fails to answer, the hash of the secret state, position and new pid still gives
    /// a child a stream of its own.
    fn reseed(&mut self, marker: u64) {
        let pid = std::process::id();
        let mut h = Sha256::new();
        h.update(b"dkm1/system-rng/reseed\0");
        h.update(Zeroizing::new(self.inner.get_seed()).as_slice());
        h.update(self.inner.get_word_pos().to_be_bytes());
        h.update(pid.to_be_bytes());
        if let Ok(seed) = os_seed() {
            h.update(seed.as_slice());
        }
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&h.finalize());
        self.inner = ChaCha20Rng::from_seed(*key);
        self.marker = marker;
        self.since_reseed = 0;
    }
}

impl TryRng for SystemRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> core::result::Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> core::result::Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> core::result::Result<(), Infallible> {
        let marker = (self.probe)();
        if marker != self.marker || self.since_reseed >= RESEED_AFTER {
            self.reseed(marker);
        }
        self.inner.fill_bytes(dst);
        self.since_reseed = self.since_reseed.saturating_add(dst.len());
        Ok(())
    }
}

impl TryCryptoRng for SystemRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_and_reseed_changes_stream() {
        let mut a = SystemRng::new().unwrap();
        let mut b = SystemRng::new().unwrap();
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        a.fill_bytes(&mut x);
        b.fill_bytes(&mut y);
        assert_ne!(x, y);
        // Simulate a fork: the clone of the state must diverge once the pid differs.
        let mut child = SystemRng {
            inner: ChaCha20Rng::deserialize_state(&a.inner.serialize_state()),
            marker: a.marker.wrapping_add(1),
            probe: a.probe,
            since_reseed: 0,
        };
        let (mut p, mut c) = ([0u8; 32], [0u8; 32]);
        a.fill_bytes(&mut p);
        child.fill_bytes(&mut c);
        assert_ne!(p, c);
        assert_eq!(child.marker, u64::from(std::process::id()));
        // Periodic reseed.
        a.since_reseed = RESEED_AFTER;
        let before = a.inner.get_seed();
        a.fill_bytes(&mut p);
        assert_ne!(before, a.inner.get_seed());
        assert_eq!(a.since_reseed, 32);
    }

    static PROBE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(7);

    fn probe() -> u64 {
        PROBE.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn a_fork_probe_that_changes_reseeds_before_the_next_draw() {
        let mut a = SystemRng::with_fork_probe(probe).unwrap();
        let mut copy = SystemRng {
            inner: ChaCha20Rng::deserialize_state(&a.inner.serialize_state()),
            marker: a.marker,
            probe,
            since_reseed: 0,
        };
        let (mut x, mut y) = ([0u8; 24], [0u8; 24]);
        // Same state, probe unchanged: the same stream (what a fork nobody saw would give).
        a.fill_bytes(&mut x);
        copy.fill_bytes(&mut y);
        assert_eq!(x, y);
        // The probe moves (a fork handler ran): the next draw comes from a new key.
        PROBE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let before = copy.inner.get_seed();
        copy.fill_bytes(&mut y);
        assert_ne!(before, copy.inner.get_seed());
        assert_eq!(copy.marker, 8);
    }
}
