//! An elevated session: the requester's view of a ring through its grant. It can only unseal,
//! only secrets inside the grant's bounds, only while `now` is inside the window, and each
//! unseal hands out plaintext only after the caller's audit sink accepted its record.

use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use super::grant::{GrantId, SignedGrant};
use crate::audit::{Action, AuditRecord, AuditSink, Detail, append_with, secret_name};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::Identity;
use crate::keys::{EpochKeys, KeyId};
use crate::ring::{EpochState, Ring};
use crate::sealed::{SealedSecret, decode_any};

/// A requester's open grant. It checks revocation and epoch state against the ring it was
/// opened with: reload the ring and open the session again before each use.
pub struct GrantSession {
    ring: Ring,
    grant: SignedGrant,
    parts: Vec<EpochKeys>,
}

impl fmt::Debug for GrantSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantSession")
            .field("ring", &self.ring.id())
            .field("grant", &self.grant.grant().id)
            .finish_non_exhaustive()
    }
}

const fn expired(message: &'static str) -> Error {
    Error::new(ErrorKind::GrantExpired, message)
}

impl GrantSession {
    /// Opens grant `id` of `ring` (a ring loaded through a pin) as `requester`: the grant
    /// must be listed in the ring's key state ([`ErrorKind::GrantExpired`] when it is not:
    /// expired and dropped, revoked, or never issued), not revoked by the newest governance,
    /// issued to `requester` ([`ErrorKind::NotAMember`]) and no longer than the policy's
    /// `max_grant` ([`ErrorKind::PolicyUnsatisfied`]). Unwraps its nodes.
    pub fn open(ring: Ring, requester: &Identity, id: GrantId) -> Result<GrantSession> {
        let ks = ring
            .key_state()
            .map(|k| k.key_state())
            .ok_or(expired("the ring has no keys, so no grant"))?;
        let mut found = None;
        for g in &ks.grants {
            let g = SignedGrant::parse(g)?;
            if g.grant().id == id {
                found = Some(g);
                break;
            }
        }
        let grant = found.ok_or(expired(
            "the ring lists no such grant: it expired, was revoked or was never issued",
        ))?;
        if ring.governance().revoked_grants.contains(&id.0) {
            return Err(expired("the grant was revoked"));
        }
        let g = grant.grant();
        if g.ring != ring.id() {
            return Err(Error::new(
                ErrorKind::Tampered,
                "the grant names another ring",
            ));
        }
        let policy = &ring.applied_governance().policy;
        if g.not_after.saturating_sub(g.issued) > policy.max_grant_secs {
            return Err(Error::new(
                ErrorKind::PolicyUnsatisfied,
                "the grant is longer than the ring's longest grant (max_grant)",
            ));
        }
        let parts = grant.open_parts(requester, &ks.epochs)?;
        // The last interval of a part of an epoch the window reaches into is the one that
        // holds not_after: a grant never derives later keys.
        for p in &parts {
            let last = g
                .parts
                .iter()
                .filter(|q| q.epoch == p.epoch())
                .map(|q| q.last)
                .max()
                .unwrap_or(0);
            if p.schedule().interval_start(last) > g.not_after {
                return Err(Error::new(
                    ErrorKind::Tampered,
                    "a grant part reaches past the interval that holds the end of its window",
                ));
            }
        }
        Ok(GrantSession { ring, grant, parts })
    }

    /// The grant.
    pub fn grant(&self) -> &SignedGrant {
        &self.grant
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    fn check(&self, id: &KeyId, now: u64) -> Result<usize> {
        let g = self.grant.grant();
        if now < g.not_before {
            return Err(expired("the grant's window has not started yet"));
        }
        if now > g.not_after {
            return Err(expired("the grant has expired"));
        }
        let gov = self.ring.governance();
        if gov.revoked_grants.contains(&g.id.0) {
            return Err(expired("the grant was revoked"));
        }
        if id.ring != self.ring.id() {
            return Err(Error::new(
                ErrorKind::UnknownKey,
                "the secret was sealed for another ring",
            ));
        }
        let ks = self
            .ring
            .key_state()
            .map(|k| k.key_state())
            .ok_or(Error::new(
                ErrorKind::Internal,
                "a grant without a key state",
            ))?;
        let rec = ks.epoch(id.epoch).ok_or(Error::new(
            ErrorKind::UnknownKey,
            "the ring has no such epoch",
        ))?;
        if rec.state == EpochState::Revoked || gov.revoked_epochs.binary_search(&id.epoch).is_ok() {
            return Err(Error::new(
                ErrorKind::KeyRevoked,
                "the key's epoch was revoked",
            ));
        }
        let sched = rec.schedule()?;
        let end = sched
            .interval_start(id.interval)
            .saturating_add(sched.interval_secs());
        if rec.state == EpochState::Destroyed || end <= gov.shred_before || end <= ks.shred_applied
        {
            return Err(Error::new(
                ErrorKind::KeyDestroyed,
                "the key's interval was shredded",
            ));
        }
        let part = g
            .parts
            .iter()
            .position(|p| p.epoch == id.epoch && p.first <= id.interval && id.interval <= p.last)
            .ok_or(Error::new(
                ErrorKind::UnknownKey,
                "the secret was sealed outside the grant's bounds",
            ))?;
        Ok(part)
    }

    #[allow(clippy::too_many_arguments)]
    fn open_with(
        &mut self,
        requester: &Identity,
        sealed: &[u8],
        context: &[u8],
        now: u64,
        flags: u8,
        sink: &mut dyn AuditSink,
        seal_only: bool,
    ) -> Result<Zeroizing<Vec<u8>>> {
        if requester.public() != &self.grant.grant().requester {
            return Err(Error::new(
                ErrorKind::NotAMember,
                "this grant was issued to another identity",
            ));
        }
        let bytes = decode_any(sealed)?;
        let parsed = SealedSecret::parse(&bytes)?;
        let id = parsed.key_id();
        let part = self.check(&id, now)?;
        let keys = self
            .parts
            .get_mut(part)
            .ok_or(Error::new(ErrorKind::Internal, "grant part lost"))?
            .keys_for(&id)?;
        let plaintext = if seal_only {
            keys.unseal_seal_only(&parsed, context)?
        } else {
            keys.unseal(&parsed, context)?
        };
        let ring = self.ring.id();
        let grant = self.grant.grant().id;
        let name = secret_name(&bytes);
        append_with(sink, |head| {
            AuditRecord::sign(
                ring,
                head,
                now,
                flags,
                Action::GrantUnseal,
                Detail {
                    grant: Some(grant),
                    key: Some(id),
                    object: Some(name),
                    ..Detail::default()
                },
                requester,
            )
        })?;
        Ok(plaintext)
    }

    /// Opens a secret a key holder sealed, inside the grant's bounds and window, after the
    /// sink accepted its audit record signed by `requester` (a failing sink: its error, and
    /// no plaintext). `flags` go into the record ([`crate::audit::FLAG_CLOCK_OVERRIDE`]).
    pub fn unseal(
        &mut self,
        requester: &Identity,
        sealed: &[u8],
        context: &[u8],
        now: u64,
        flags: u8,
        sink: &mut dyn AuditSink,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.open_with(requester, sealed, context, now, flags, sink, false)
    }

    /// [`GrantSession::unseal`] for a secret sealed by a seal-only party.
    pub fn unseal_seal_only(
        &mut self,
        requester: &Identity,
        sealed: &[u8],
        context: &[u8],
        now: u64,
        flags: u8,
        sink: &mut dyn AuditSink,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.open_with(requester, sealed, context, now, flags, sink, true)
    }
}
