//! Seal-only access: anyone holding a ring's blob (it carries no secret) and a pin can seal to
//! the ring's key holders with the seal-only key published for the current interval, and
//! cannot open what it sealed.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::{Pin, QuorumCheck, Ring};
use crate::error::{Error, ErrorKind, Result};
use crate::keys::SealOnlyKey;

/// A ring's public part, verified through a pin, for sealing only.
#[derive(Clone, Debug)]
pub struct RingPublic {
    ring: Ring,
}

impl RingPublic {
    /// Parses and verifies a ring blob through `pin` (exactly as [`Ring::load`]).
    pub fn load(bytes: &[u8], pin: &Pin) -> Result<RingPublic> {
        Ok(RingPublic {
            ring: Ring::load(bytes, pin)?,
        })
    }

    /// [`RingPublic::load`] accepting governance changes `quorum` approves
    /// ([`Ring::load_with`]).
    pub fn load_with(bytes: &[u8], pin: &Pin, quorum: &dyn QuorumCheck) -> Result<RingPublic> {
        Ok(RingPublic {
            ring: Ring::load_with(bytes, pin, quorum)?,
        })
    }

    /// From a verified ring.
    pub fn from_ring(ring: Ring) -> RingPublic {
        RingPublic { ring }
    }

    /// The verified ring (to save its pin or list its keys).
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The published key sealing at `now` uses: that of the interval holding
    /// `max(now, recorded write time)` in the current epoch. Refused with
    /// [`ErrorKind::Stale`] when the ring is pending, past its freshness deadline, or no
    /// published key covers the time.
    pub fn key_at(&self, now: u64) -> Result<&SealOnlyKey> {
        const NO_KEY: Error = Error::new(
            ErrorKind::Stale,
            "no published seal-only key covers this time: a key holder must run maintain",
        );
        let ks = self
            .ring
            .key_state()
            .map(|s| s.key_state())
            .ok_or(Error::new(
                ErrorKind::Stale,
                "the ring has no keys yet: its first key holder must run maintain",
            ))?;
        if self.ring.is_pending() {
            return Err(Error::new(
                ErrorKind::Stale,
                "the ring has governance changes no key holder has carried out yet (a removed key holder may still read it): refusing to seal",
            ));
        }
        if now > ks.fresh_until {
            return Err(Error::new(
                ErrorKind::Stale,
                "the ring is past its freshness deadline: refusing to seal to keys that may be out of date",
            ));
        }
        let t = now.max(ks.write_time);
        let current = ks.current().ok_or(NO_KEY)?;
        let interval = current.schedule()?.interval_at(t).map_err(|_| NO_KEY)?;
        ks.seal_only
            .iter()
            .find(|k| k.id().epoch == current.epoch && k.id().interval == interval)
            .ok_or(NO_KEY)
    }

    /// Seals `plaintext` to the ring's key holders (suite 2), binding `context`.
    pub fn seal(
        &self,
        now: u64,
        plaintext: &[u8],
        context: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>> {
        self.key_at(now)?.seal(plaintext, context, rng)
    }
}
