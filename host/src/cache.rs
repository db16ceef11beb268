//! Rings a host verified, kept while the store says they did not change: the hot path of a
//! service (seal and unseal) then costs a store fingerprint ([`Store::stamp`]) instead of a
//! full load (signatures, the request log, the KEK unwrap). A ring is kept only when its
//! fingerprint was the same before and after it was loaded, and used only while the store
//! gives that same fingerprint; a store without fingerprints is never cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use dkm_core::access::RequestLog;
use dkm_core::{Identity, KeyHolder, PublicIdentity};

use crate::error::Result;
use crate::store::Store;
use crate::{Host, Loaded};

/// The most rings a host keeps (then it starts over: a simple bound, not an LRU).
const MAX_CACHED: usize = 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The values behind these locks are only replaced whole: a panic cannot leave one torn.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A verified ring with what was derived from it.
pub(crate) struct Cached {
    stamp: Vec<u8>,
    loaded: Loaded,
    log: RequestLog,
    /// The last time at which every governance change the ring carries was asked of the
    /// request log again and passed.
    rechecked_at: Mutex<Option<u64>>,
    /// The last time the pin store was asked whether it holds a newer pin of this ring (one
    /// saved by another host over another copy of the ring): then the kept ring is dropped.
    pin_checked_at: Mutex<Option<u64>>,
    /// Key holders opened on this ring (the KEK unwrapped once each).
    holders: Mutex<Vec<(PublicIdentity, Arc<Mutex<KeyHolder>>)>>,
}

/// The host's kept rings.
#[derive(Default)]
pub(crate) struct RingCache {
    rings: Mutex<HashMap<String, Arc<Cached>>>,
}

impl Cached {
    /// The key holder `identity` opened on this ring (once; `NotAMember` when it is not one).
    pub(crate) fn holder(&self, identity: &Identity) -> Result<Arc<Mutex<KeyHolder>>> {
        if let Some((_, kh)) = lock(&self.holders)
            .iter()
            .find(|(p, _)| p == identity.public())
        {
            return Ok(Arc::clone(kh));
        }
        let kh = Arc::new(Mutex::new(KeyHolder::open(
            self.loaded.ring.clone(),
            identity,
        )?));
        lock(&self.holders).push((identity.public().clone(), Arc::clone(&kh)));
        Ok(kh)
    }

    /// Asks the request log about every governance change the ring carries (as a full seal
    /// does), once per distinct `now`.
    pub(crate) fn recheck(&self, now: u64) -> Result<()> {
        if *lock(&self.rechecked_at) == Some(now) {
            return Ok(());
        }
        self.loaded
            .ring
            .recheck_since(0, &self.log.quorum_check(now))?;
        *lock(&self.rechecked_at) = Some(now);
        Ok(())
    }
}

/// Locks a cached key holder for a short step (deriving keys), never across an AEAD.
pub(crate) fn with_holder<T>(
    kh: &Mutex<KeyHolder>,
    f: impl FnOnce(&mut KeyHolder) -> dkm_core::Result<T>,
) -> Result<T> {
    Ok(f(&mut lock(kh))?)
}

impl<S: Store> Host<S> {
    /// Ring `name` verified: the kept one while the store's fingerprint is unchanged, else
    /// loaded in full (and kept when the fingerprint held still across the load).
    pub(crate) fn cached(&self, name: &str, now: u64) -> Result<Arc<Cached>> {
        let before = self.store.stamp(name)?;
        let hit = match &before {
            Some(stamp) => lock(&self.cache.rings)
                .get(name)
                .filter(|c| c.stamp == *stamp)
                .map(Arc::clone),
            None => None,
        };
        if let Some(c) = hit {
            if *lock(&c.pin_checked_at) == Some(now) {
                return Ok(c);
            }
            // Once a second: a newer pin saved meanwhile (another copy of the ring moved on)
            // means the kept ring may be a rollback: load it in full, which decides.
            let kept = c.loaded.ring.pin();
            let newer = self
                .pins
                .get(kept.ring)?
                .is_some_and(|saved| crate::pins::is_newer(&saved, &kept));
            if !newer {
                *lock(&c.pin_checked_at) = Some(now);
                return Ok(c);
            }
        }
        let loaded = self.load(name)?;
        let log = self.log(name, &loaded.ring)?;
        let after = self.store.stamp(name)?;
        let c = Arc::new(Cached {
            stamp: after.clone().unwrap_or_default(),
            loaded,
            log,
            rechecked_at: Mutex::new(None),
            pin_checked_at: Mutex::new(Some(now)),
            holders: Mutex::new(Vec::new()),
        });
        let mut rings = lock(&self.cache.rings);
        match (&before, &after) {
            (Some(b), Some(a)) if b == a => {
                if rings.len() >= MAX_CACHED {
                    rings.clear();
                }
                rings.insert(name.to_owned(), Arc::clone(&c));
            }
            _ => {
                rings.remove(name);
            }
        }
        Ok(c)
    }

    /// Whether ring `name` is kept verified here.
    fn is_kept(&self, name: &str) -> bool {
        lock(&self.cache.rings).contains_key(name)
    }
}

impl<S: Store + Send + Sync + 'static> Host<S> {
    /// Reloads, in a thread of its own, every ring this host keeps verified as soon as the
    /// store announces that another writer changed it (the etcd store's watch: an epoch rolled,
    /// a member removed, a revocation), so the next operation finds it loaded and verified
    /// instead of loading it first. `None` when the store announces nothing (every store but
    /// etcd with its watch). The thread holds the host weakly and ends within a second of
    /// its last `Arc` being dropped. Reload failures are left for the next operation to
    /// report.
    pub fn spawn_refresher(host: &Arc<Host<S>>) -> Option<std::thread::JoinHandle<()>> {
        let feed = host.store.change_feed()?;
        let weak = Arc::downgrade(host);
        std::thread::Builder::new()
            .name("dkm-refresh".into())
            .spawn(move || {
                loop {
                    let names = feed.wait(std::time::Duration::from_secs(1));
                    let Some(host) = weak.upgrade() else { return };
                    for name in names.iter().filter(|n| host.is_kept(n)) {
                        let _ = host.now().and_then(|now| host.cached(name, now));
                    }
                }
            })
            .ok()
    }
}
