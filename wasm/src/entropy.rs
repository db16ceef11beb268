//! Randomness: ChaCha20 seeded from `crypto.getRandomValues` (through `getrandom`), reseeded
//! after every 64 KiB it hands out. One `getRandomValues` call costs several microseconds in
//! Node and browsers, far more than a seal's nonce: drawing each nonce from it would dominate
//! a small seal. wasm32 has one thread, so one generator serves the module.

use std::cell::RefCell;

use chacha20::ChaCha20Rng;
use dkm_core::ErrorKind;
use dkm_core::rand_core::{Rng, SeedableRng};
use wasm_bindgen::JsValue;
use zeroize::Zeroizing;

use crate::convert::error;

/// Bytes handed out between reseeds.
const RESEED_AFTER: usize = 64 * 1024;

struct Pool {
    rng: ChaCha20Rng,
    left: usize,
}

thread_local! {
    static POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
}

fn seeded() -> Result<ChaCha20Rng, getrandom::Error> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *seed)?;
    Ok(ChaCha20Rng::from_seed(*seed))
}

/// Seeds the generator if it is not yet: `Internal` when the runtime has no
/// `crypto.getRandomValues`. Every entry point that draws randomness calls this first.
pub fn ready() -> Result<(), JsValue> {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_none() {
            let rng = seeded().map_err(|e| {
                error(
                    ErrorKind::Internal,
                    format!("no secure randomness in this runtime (crypto.getRandomValues): {e}"),
                )
            })?;
            *p = Some(Pool {
                rng,
                left: RESEED_AFTER,
            });
        }
        Ok(())
    })
}

/// Fills `buf`. Called only after [`ready`] succeeded; a failed reseed keeps the current
/// stream (ChaCha20 from a 256-bit seed), and an unseeded generator that cannot be seeded
/// stops the module rather than hand out anything but randomness.
pub fn fill(buf: &mut [u8]) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        let pool = match &mut *p {
            Some(pool) => pool,
            None => match seeded() {
                Ok(rng) => p.insert(Pool {
                    rng,
                    left: RESEED_AFTER,
                }),
                #[allow(clippy::panic)]
                Err(e) => panic!("no secure randomness in this runtime: {e}"),
            },
        };
        if pool.left < buf.len() {
            if let Ok(rng) = seeded() {
                pool.rng = rng;
            }
            pool.left = RESEED_AFTER;
        }
        pool.left = pool.left.saturating_sub(buf.len());
        pool.rng.fill_bytes(buf);
    });
}

/// A host's entropy source.
pub fn source() -> dkm_host::Entropy {
    Box::new(fill)
}

/// A generator for one operation outside a host (an identity, a seal-only seal).
pub fn op_rng() -> Result<ChaCha20Rng, JsValue> {
    ready()?;
    let mut seed = Zeroizing::new([0u8; 32]);
    fill(&mut *seed);
    Ok(ChaCha20Rng::from_seed(*seed))
}
