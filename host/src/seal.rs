//! Keys at work: `maintain` and epoch rolls, sealing (as a key holder, or seal-only to a
//! ring's public part), and unsealing (as a key holder, or through a grant) with the secret's
//! origin.

use std::sync::Arc;

use dkm_core::sealed::Suite;
use dkm_core::{
    ErrorKind, Event, GcmParts, GrantId, GrantSession, Identity, IntervalKeys, KeyHolder, Pin,
    RingPublic, SealedSecret,
};
use zeroize::Zeroizing;

use crate::audit::{StoreSink, audit_anchor};
use crate::cache::with_holder;
use crate::error::{HostError, Result};
use crate::store::Store;
use crate::{Host, text};

/// Where a secret came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Sealed with the interval's leaf (suite 1): by a key holder, or by whoever else holds
    /// that leaf (a grant holder who extracted its nodes, within the grant's scope); a
    /// seal-only party cannot make one.
    KeyHolder,
    /// Sealed by a seal-only party: anyone holding the ring's public part (a browser, a
    /// partner) can make such a secret, so its origin is not authenticated.
    SealOnly,
}

impl Origin {
    /// `key-holder` or `seal-only`.
    pub const fn name(self) -> &'static str {
        match self {
            Origin::KeyHolder => "key-holder",
            Origin::SealOnly => "seal-only",
        }
    }

    /// The origin a sealed secret's suite shows, refused under [`SealOnly::Refuse`] when it
    /// is seal-only.
    fn of(bytes: &[u8], seal_only: SealOnly) -> Result<Origin> {
        let origin = match SealedSecret::parse(bytes)?.suite() {
            Suite::Xaes256GcmCommit => Origin::KeyHolder,
            Suite::HpkeX25519Xaes256GcmCommit => Origin::SealOnly,
        };
        if origin == Origin::SealOnly && seal_only == SealOnly::Refuse {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                "this secret was sealed by a seal-only party (anyone with the ring's public part), and only secrets sealed by key holders are accepted here",
            ));
        }
        Ok(origin)
    }
}

/// Whether an unseal accepts secrets sealed by seal-only parties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealOnly {
    /// Open them too (the result's [`Origin`] says so).
    Accept,
    /// Refuse them (`InvalidInput`), for callers that trust only what key holders sealed.
    Refuse,
}

/// An opened secret and where it came from.
pub struct Unsealed {
    /// The plaintext (zeroized on drop).
    pub plaintext: Zeroizing<Vec<u8>>,
    /// Who sealed it.
    pub origin: Origin,
}

impl std::fmt::Debug for Unsealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Unsealed {
            plaintext: _,
            origin,
        } = self;
        f.debug_struct("Unsealed")
            .field("plaintext", &"[redacted]")
            .field("origin", origin)
            .finish()
    }
}

impl<S: Store> Host<S> {
    /// Runs `maintain` as the key holder `holder`: carries out governance changes, rolls
    /// keys as needed, publishes seal-only keys, renews freshness. Returns what it did (empty
    /// when nothing needed writing).
    pub fn maintain(&self, name: &str, holder: &Identity) -> Result<Vec<Event>> {
        self.maintain_or_roll(name, holder, false)
    }

    /// `maintain`, and a new epoch in any case.
    pub fn roll_epoch(&self, name: &str, holder: &Identity) -> Result<Vec<Event>> {
        self.maintain_or_roll(name, holder, true)
    }

    fn maintain_or_roll(&self, name: &str, holder: &Identity, roll: bool) -> Result<Vec<Event>> {
        self.retry(|| {
            // The clock first: a clock that fails leaves the store and the pins untouched.
            let now = self.now()?;
            let l = self.load(name)?;
            let head = self.audit_head(name, &l)?;
            let log = self.log(name, &l.ring)?;
            l.ring.recheck_since(0, &log.quorum_check(now))?;
            let mut kh = KeyHolder::open(l.ring, holder)?;
            let quorum = log.quorum_check(now);
            let anchors = (head, log.head());
            let mut rng = self.op_rng();
            let m = if roll {
                kh.roll_epoch(holder, now, &mut rng, &quorum, anchors)?
            } else {
                kh.maintain(holder, now, &mut rng, &quorum, anchors)?
            };
            if m.written {
                self.commit(
                    name,
                    (&l.pin, l.version),
                    (head, now),
                    kh.ring(),
                    &m.events,
                    holder,
                )?;
            }
            Ok(m.events)
        })
    }

    /// Seals as the key holder `holder`, running `maintain` first when the ring needs it.
    /// Asks the request log again about every governance change the ring carries (an
    /// approved change denied in the log before it was signed is refused). A ring verified
    /// before and unchanged in the store since is not loaded again.
    pub fn seal(
        &self,
        name: &str,
        holder: &Identity,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.seal_into(name, holder, plaintext, context, &mut out)?;
        Ok(out)
    }

    /// [`Host::seal`] into `out`, which is emptied first and keeps its allocation (see
    /// `IntervalKeys::seal_into`): a binding that copies each sealed secret into its own
    /// string type reuses one buffer per thread. On an error `out` is left empty.
    pub fn seal_into(
        &self,
        name: &str,
        holder: &Identity,
        plaintext: &[u8],
        context: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        out.clear();
        if let Some(keys) = self.sealing_keys(name, holder)? {
            return Ok(keys.seal_into(plaintext, context, &mut self.draw(), out)?);
        }
        *out = self.seal_loaded(name, holder, plaintext, context)?;
        Ok(())
    }

    /// The interval keys to seal with now, from the verified ring this host keeps, or `None`
    /// when the ring needs `maintain` first (or its keys are stale). The keys are derived
    /// under the key holder's lock; the AEAD runs outside it.
    fn sealing_keys(&self, name: &str, holder: &Identity) -> Result<Option<Arc<IntervalKeys>>> {
        let now = self.now()?;
        let c = self.cached(name, now)?;
        let kh = c.holder(holder)?;
        if with_holder(&kh, |k| Ok(k.needs_maintain(now)))? {
            return Ok(None);
        }
        c.recheck(now)?;
        match with_holder(&kh, |k| k.sealing_keys(now)) {
            Ok(keys) => Ok(Some(keys)),
            Err(e) if e.kind() == ErrorKind::Stale => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Hazmat for a binding with a faster AES-256-GCM than the core's (WebCrypto under
    /// WASM): a seal as the key holder `holder` of a `plaintext_len`-byte plaintext, all but
    /// the bulk encryption (`IntervalKeys::seal_parts`); `prefix ‖ AES-256-GCM(key, iv, aad,
    /// plaintext)` is the sealed secret. Runs `maintain` first when the ring needs it, as
    /// [`Host::seal`] does.
    pub fn seal_parts(
        &self,
        name: &str,
        holder: &Identity,
        plaintext_len: usize,
        context: &[u8],
    ) -> Result<GcmParts> {
        for _ in 0..2 {
            if let Some(keys) = self.sealing_keys(name, holder)? {
                return Ok(keys.seal_parts(plaintext_len, context, &mut self.draw())?);
            }
            self.maintain(name, holder)?;
        }
        Err(HostError::new(
            ErrorKind::Conflict,
            "the ring changed while it was being maintained: retry",
        ))
    }

    /// Hazmat, the opening half of [`Host::seal_parts`]: checks a key holder's secret
    /// (binary or armored) against its commitment as `holder` and returns the AES-256-GCM
    /// inputs and where the ciphertext and tag start in the (dearmored) secret. A seal-only
    /// secret is refused (`InvalidInput`: open it with [`Host::unseal`]).
    pub fn open_parts(
        &self,
        name: &str,
        holder: &Identity,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<(GcmParts, usize)> {
        let c = self.cached(name, self.now()?)?;
        let kh = c.holder(holder)?;
        let bytes = dkm_core::decode_any(crate::input::trim_armor(sealed))?;
        let keys = with_holder(&kh, |k| k.opening_keys(&bytes))?;
        let parsed = SealedSecret::parse(&bytes)?;
        let parts = keys.open_parts(&parsed, context)?;
        Ok((parts, bytes.len() - parsed.ciphertext_and_tag().len()))
    }

    /// [`Host::seal`] with a full load, maintaining first when needed.
    fn seal_loaded(
        &self,
        name: &str,
        holder: &Identity,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>> {
        self.retry(|| {
            // One time for the whole operation (the nested maintain reads the clock itself).
            let now = self.now()?;
            let mut l = self.load(name)?;
            if KeyHolder::open(l.ring.clone(), holder)?.needs_maintain(now) {
                self.maintain(name, holder)?;
                l = self.load(name)?;
                if KeyHolder::open(l.ring.clone(), holder)?.needs_maintain(now) {
                    // Another writer changed the governance meanwhile: go round again.
                    return Err(HostError::new(
                        ErrorKind::Conflict,
                        "the ring changed while it was being maintained: retry",
                    ));
                }
            }
            let log = self.log(name, &l.ring)?;
            // Every change the ring carries, asked of the log again (at most 32 records): a
            // key state written meanwhile may carry out a change denied in the log.
            l.ring.recheck_since(0, &log.quorum_check(now))?;
            let mut kh = KeyHolder::open(l.ring, holder)?;
            Ok(kh.seal(now, plaintext, context, &mut self.op_rng())?)
        })
    }

    /// Seals like [`Host::seal`] and returns the text armor (`dkm1:...`).
    pub fn seal_armored(
        &self,
        name: &str,
        holder: &Identity,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<String> {
        Ok(dkm_core::armor(
            &self.seal(name, holder, plaintext, context)?,
        ))
    }

    /// Opens a secret as the key holder `holder`: binary or armored (an armored one may end
    /// with whitespace). The result says where it came from; with [`SealOnly::Refuse`] a
    /// secret sealed by a seal-only party (whose origin nobody authenticates) is refused with
    /// `InvalidInput` before it is opened.
    pub fn unseal(
        &self,
        name: &str,
        holder: &Identity,
        sealed: &[u8],
        context: &[u8],
        seal_only: SealOnly,
    ) -> Result<Unsealed> {
        let c = self.cached(name, self.now()?)?;
        let kh = c.holder(holder)?;
        let bytes = dkm_core::decode_any(crate::input::trim_armor(sealed))?;
        let origin = Origin::of(&bytes, seal_only)?;
        // The keys are derived under the key holder's lock; the AEAD runs outside it.
        let keys = with_holder(&kh, |k| k.opening_keys(&bytes))?;
        let parsed = SealedSecret::parse(&bytes)?;
        let plaintext = match origin {
            Origin::SealOnly => keys.unseal_seal_only(&parsed, context)?,
            Origin::KeyHolder => keys.unseal(&parsed, context)?,
        };
        Ok(Unsealed { plaintext, origin })
    }

    /// Opens a secret through grant `grant` as its requester, the audit record written to
    /// the store first (no audit, no plaintext). Armor and [`SealOnly`] as for
    /// [`Host::unseal`].
    pub fn unseal_with_grant(
        &self,
        name: &str,
        requester: &Identity,
        grant: GrantId,
        sealed: &[u8],
        context: &[u8],
        seal_only: SealOnly,
    ) -> Result<Unsealed> {
        let (now, flags) = (self.now()?, self.flags());
        let l = self.load(name)?;
        let (anchored, version) = (audit_anchor(&l.ring), l.version);
        let mut s = GrantSession::open(l.ring, requester, grant)?;
        let bytes = dkm_core::decode_any(crate::input::trim_armor(sealed))?;
        let origin = Origin::of(&bytes, seal_only)?;
        let mut sink = StoreSink {
            store: &self.store,
            name,
            anchored,
            version,
            error: None,
        };
        let opened = match origin {
            Origin::SealOnly => {
                s.unseal_seal_only(requester, &bytes, context, now, flags, &mut sink)
            }
            Origin::KeyHolder => s.unseal(requester, &bytes, context, now, flags, &mut sink),
        };
        let plaintext = opened.map_err(|e| sink.error.take().unwrap_or_else(|| e.into()))?;
        Ok(Unsealed { plaintext, origin })
    }

    /// What a seal-only party needs: the pin and the ring blob.
    pub fn export_public(&self, name: &str) -> Result<Vec<u8>> {
        let l = self.load(name)?;
        Ok(text::public_file(&l.ring.pin(), &l.ring.to_bytes()))
    }

    /// Seals to a ring's public part (seal-only: no secret identity), at the host's clock.
    /// Verified through `pin` when given, else through the pin the file carries (which trusts
    /// whoever made the file).
    pub fn seal_to(
        &self,
        public: &[u8],
        pin: Option<&Pin>,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>> {
        self.seal_public(&load_public(public, pin)?, plaintext, context)
    }

    /// Seals to a ring's public part loaded once with [`load_public`] (a binding's
    /// `RingPublic` handle), at the host's clock and with the host's randomness.
    pub fn seal_public(
        &self,
        public: &RingPublic,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>> {
        Ok(public.seal(self.now()?, plaintext, context, &mut self.op_rng())?)
    }

    /// Seals like [`Host::seal_to`] and returns the text armor.
    pub fn seal_to_armored(
        &self,
        public: &[u8],
        pin: Option<&Pin>,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<String> {
        Ok(dkm_core::armor(
            &self.seal_to(public, pin, plaintext, context)?,
        ))
    }
}

/// Loads and verifies a ring's public part (the bytes of [`Host::export_public`]) through
/// `pin` when given, else through the pin the part carries (which trusts whoever made it).
pub fn load_public(public: &[u8], pin: Option<&Pin>) -> Result<RingPublic> {
    let (carried, blob) = text::parse_public_file(public)?;
    Ok(RingPublic::load(&blob, pin.unwrap_or(&carried))?)
}
