//! A fork signal without a system call: a counter that a `pthread_atfork` child handler
//! increments, read by the hosts' random generators at each draw instead of `getpid` (which
//! costs a system call, about a tenth of a small seal here). Python's `os.fork` and
//! `multiprocessing` fork through `fork(3)`, which runs the handler.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use dkm_core::rng::SystemRng;
use dkm_host::{Entropy, HostError};

/// Forks seen in this process's line (a child starts with its parent's count plus one).
static FORKS: AtomicU64 = AtomicU64::new(0);

/// Whether the handler is registered (else the generators probe the process id).
static REGISTERED: OnceLock<bool> = OnceLock::new();

extern "C" fn after_fork_in_child() {
    // An atomic add: async-signal-safe, as a handler run in a forked child must be.
    FORKS.fetch_add(1, Ordering::SeqCst);
}

fn forks() -> u64 {
    FORKS.load(Ordering::SeqCst)
}

fn registered() -> bool {
    *REGISTERED.get_or_init(|| {
        // SAFETY: `pthread_atfork` is given no prepare or parent handler and, as the child
        // handler, a function with C linkage and no arguments that lives as long as the
        // process (a static function of this library, which Python never unloads) and only
        // increments an atomic. It is called once (OnceLock).
        let status = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
        status == 0
    })
}

/// Registers the fork handler (at module import, before any host draws).
pub(crate) fn init() {
    registered();
}

/// A host's randomness: the operating system's, through a generator that reseeds in a forked
/// child at its first draw (signalled by the handler; by the process id if it could not be
/// registered).
pub(crate) fn entropy() -> Result<Entropy, HostError> {
    let mut rng = if registered() {
        SystemRng::with_fork_probe(forks)?
    } else {
        SystemRng::new()?
    };
    Ok(Box::new(move |buf: &mut [u8]| {
        dkm_core::rand_core::Rng::fill_bytes(&mut rng, buf)
    }))
}
