//! A key holder's session: the ring, the unwrapped KEK and the epochs' keys. Seals, unseals,
//! and runs `maintain` / `roll_epoch`, which write the next key state.

use alloc::collections::BTreeMap;
use alloc::collections::btree_map::Entry;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::keystate::{kek_check, open_nodes, seal_nodes, unwrap_kek, wrap_kek};
use super::{
    Anchor, ApproverSince, Change, EpochRecord, EpochState, Event, GovRef, KeyState, QuorumCheck,
    Ring, Role, RollReason, check_change,
};
use crate::access::{
    GrantId, MAX_GRANT_PARTS, RequestKind, RequestLog, Scope, SignedGrant, SignedRequest,
    check_request_time, readable_within, scope_ranges, tally, window_in,
};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::{Identity, IdentityId, PublicIdentity};
use crate::keys::{EpochKeys, IntervalKeys, RingId, SealOnlyKey};
use crate::ring::governance::{MAX_EPOCH_NUMBER, MAX_VERSION};
use crate::ring::keystate::{MAX_GRANTS, MAX_PUBLISHED, MAX_USED_REQUESTS};
use crate::sealed::{SealedSecret, decode_any};
use crate::secret::Secret32;
use crate::tree::{NodeSet, Schedule};

/// Opens an epoch's nodes under the key state's KEK once, keeping them in `plain` (where
/// `maintain` also puts the nodes it changes or creates).
struct Opener<'k> {
    kek: Option<&'k Secret32>,
    ring: RingId,
    generation: u32,
}

impl Opener<'_> {
    fn opened<'p>(
        &self,
        plain: &'p mut BTreeMap<u32, NodeSet>,
        rec: &EpochRecord,
    ) -> Result<&'p NodeSet> {
        match plain.entry(rec.epoch) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(v) => {
                let kek = self.kek.ok_or(Error::new(
                    ErrorKind::Internal,
                    "a key state without an unwrapped KEK",
                ))?;
                Ok(v.insert(open_nodes(kek, self.ring, self.generation, rec)?))
            }
        }
    }
}

/// What shredding to `cutoff` leaves of an epoch's nodes: `None` when nothing changes,
/// `Some(None)` when nothing is left, else the covers of the intervals that end after it.
fn shred(nodes: &NodeSet, sched: &Schedule, cutoff: u64) -> Result<Option<Option<NodeSet>>> {
    let Some(first_kept) = super::keystate::first_kept(sched, cutoff) else {
        return Ok(None);
    };
    let ranges = nodes.ranges();
    if ranges
        .first()
        .is_some_and(|(a, _)| u64::from(*a) >= first_kept)
    {
        return Ok(None);
    }
    let mut kept = Vec::new();
    if let Ok(first_kept) = u16::try_from(first_kept) {
        for (a, b) in ranges {
            if b >= first_kept {
                kept.extend(
                    nodes
                        .derive_cover(a.max(first_kept), b)?
                        .nodes()
                        .iter()
                        .cloned(),
                );
            }
        }
    }
    if kept.is_empty() {
        Ok(Some(None))
    } else {
        Ok(Some(Some(NodeSet::new(kept)?)))
    }
}

/// What `maintain` or `roll_epoch` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Maintenance {
    /// A new key state was written into the ring: store [`Ring::to_bytes`] with a
    /// compare-and-swap (on a lost race, reload and call again).
    pub written: bool,
    /// What happened, for the audit chain.
    pub events: Vec<Event>,
}

/// A key holder's open ring.
pub struct KeyHolder {
    ring: Ring,
    holder: PublicIdentity,
    kek: Option<Secret32>,
    epochs: BTreeMap<u32, EpochKeys>,
}

impl fmt::Debug for KeyHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let KeyHolder {
            ring,
            holder,
            kek: _,
            epochs,
        } = self;
        f.debug_struct("KeyHolder")
            .field("ring", &ring.id())
            .field("holder", &holder.id())
            .field("kek", &"<redacted>")
            .field("open_epochs", &epochs.keys().collect::<Vec<_>>())
            .finish()
    }
}

const PENDING: Error = Error::new(
    ErrorKind::Stale,
    "the ring has governance changes no key holder has carried out yet: run maintain first",
);
const STALE: Error = Error::new(
    ErrorKind::Stale,
    "the ring is past its freshness deadline: a key holder must run maintain",
);

impl KeyHolder {
    /// Opens `ring` as the key holder `identity`: unwraps the KEK and checks it. A ring with
    /// no key state yet opens for a `service` member of its newest governance, whose first
    /// `maintain` creates the keys.
    pub fn open(ring: Ring, identity: &Identity) -> Result<KeyHolder> {
        let me = identity.public();
        let kek = match ring.key_state() {
            Some(sks) => {
                let ks = sks.key_state();
                let wrap = ks.wraps.iter().find(|w| w.recipient == me.id());
                let holder = ring.applied_governance().role_of(me) == Some(Role::Service);
                let (Some(wrap), true) = (wrap, holder) else {
                    return Err(Error::new(
                        ErrorKind::NotAMember,
                        "this identity is not a key holder of the ring (or not yet: a key holder must run maintain)",
                    ));
                };
                Some(unwrap_kek(
                    wrap,
                    identity,
                    ks.ring,
                    ks.kek_generation,
                    &ks.kek_check,
                )?)
            }
            None => {
                if ring.governance().role_of(me) != Some(Role::Service) {
                    return Err(Error::new(
                        ErrorKind::NotAMember,
                        "this identity is not a key holder of the ring",
                    ));
                }
                None
            }
        };
        Ok(KeyHolder {
            holder: me.clone(),
            ring,
            kek,
            epochs: BTreeMap::new(),
        })
    }

    /// The ring (to store after `maintain`, or to list keys).
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The key holder.
    pub fn holder(&self) -> &PublicIdentity {
        &self.holder
    }

    /// Gives the ring back.
    pub fn into_ring(self) -> Ring {
        self.ring
    }

    /// Whether a `seal` at `now` would need `maintain` first (pending, stale, or no key
    /// covers the time).
    pub fn needs_maintain(&self, now: u64) -> bool {
        self.seal_target(now).is_err()
    }

    fn key_state(&self) -> Result<&KeyState> {
        self.ring
            .key_state()
            .map(|s| s.key_state())
            .ok_or(Error::new(
                ErrorKind::Stale,
                "the ring has no keys yet: its first key holder must run maintain",
            ))
    }

    fn seal_target(&self, now: u64) -> Result<(u32, u16)> {
        let ks = self.key_state()?;
        if self.ring.is_pending() {
            return Err(PENDING);
        }
        if now > ks.fresh_until {
            return Err(STALE);
        }
        let t = now.max(ks.write_time);
        let e = ks.current().ok_or(STALE)?;
        let i = e.schedule()?.interval_at(t).map_err(|_| {
            Error::new(
                ErrorKind::Stale,
                "the current epoch does not cover this time: a key holder must run maintain",
            )
        })?;
        Ok((e.epoch, i))
    }

    fn epoch_keys(&mut self, epoch: u32) -> Result<&mut EpochKeys> {
        let ks = self.key_state()?;
        let rec = ks.epoch(epoch).ok_or(Error::new(
            ErrorKind::UnknownKey,
            "the ring has no such epoch",
        ))?;
        // A revocation the newest governance orders counts at once, before a key holder's
        // maintain carries it out.
        let pending_revocation = self
            .ring
            .governance()
            .revoked_epochs
            .binary_search(&epoch)
            .is_ok();
        match rec.state {
            EpochState::Live if !pending_revocation => {}
            EpochState::Live | EpochState::Revoked => {
                return Err(Error::new(
                    ErrorKind::KeyRevoked,
                    "the key's epoch was revoked",
                ));
            }
            EpochState::Destroyed => {
                return Err(Error::new(
                    ErrorKind::KeyDestroyed,
                    "the key's epoch was shredded",
                ));
            }
        }
        if !self.epochs.contains_key(&epoch) {
            let kek = self.kek.as_ref().ok_or(Error::new(
                ErrorKind::Internal,
                "a key state without an unwrapped KEK",
            ))?;
            let nodes = open_nodes(kek, ks.ring, ks.kek_generation, rec)?;
            let keys = EpochKeys::new(ks.ring, epoch, rec.schedule()?, nodes);
            self.epochs.insert(epoch, keys);
        }
        self.epochs
            .get_mut(&epoch)
            .ok_or(Error::new(ErrorKind::Internal, "epoch cache lost an entry"))
    }

    fn interval_keys(&mut self, epoch: u32, interval: u16) -> Result<Arc<IntervalKeys>> {
        // Shredding the newest governance orders counts at once, like a revocation.
        let cutoff = self.ring.governance().shred_before;
        let keys = self.epoch_keys(epoch)?;
        let end = keys
            .schedule()
            .interval_start(interval)
            .saturating_add(keys.schedule().interval_secs());
        if !keys.nodes().can_derive(interval) || end <= cutoff {
            return Err(Error::new(
                ErrorKind::KeyDestroyed,
                "the key's interval was shredded",
            ));
        }
        keys.interval_keys(interval)
    }

    /// Seals `plaintext` under the key of the interval holding `max(now, write time)`,
    /// binding `context`. A pending or stale ring is refused with [`ErrorKind::Stale`]: run
    /// [`KeyHolder::maintain`] (and store the result) first.
    pub fn seal(
        &mut self,
        now: u64,
        plaintext: &[u8],
        context: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>> {
        let (epoch, interval) = self.seal_target(now)?;
        self.interval_keys(epoch, interval)?
            .seal(plaintext, context, rng)
    }

    /// The keys [`KeyHolder::seal`] would use at `now` (same checks: `Stale` when pending,
    /// stale or uncovered), for sealing outside a lock held on this key holder.
    pub fn sealing_keys(&mut self, now: u64) -> Result<Arc<IntervalKeys>> {
        let (epoch, interval) = self.seal_target(now)?;
        self.interval_keys(epoch, interval)
    }

    /// The keys of the interval a sealed secret (either suite, binary or armored) names, with
    /// the checks [`KeyHolder::unseal`] makes on its key id (another ring `UnknownKey`,
    /// `KeyRevoked`, `KeyDestroyed`), for opening it outside a lock held on this key holder.
    pub fn opening_keys(&mut self, sealed: &[u8]) -> Result<Arc<IntervalKeys>> {
        Ok(self.open_sealed(sealed)?.0)
    }

    fn open_sealed<'s>(
        &mut self,
        sealed: &'s [u8],
    ) -> Result<(Arc<IntervalKeys>, alloc::borrow::Cow<'s, [u8]>)> {
        let bytes = decode_any(sealed)?;
        let id = SealedSecret::parse(&bytes)?.key_id();
        if id.ring != self.ring.id() {
            return Err(Error::new(
                ErrorKind::UnknownKey,
                "the secret was sealed for another ring",
            ));
        }
        let keys = self.interval_keys(id.epoch, id.interval)?;
        Ok((keys, bytes))
    }

    /// Opens a secret a key holder sealed (binary or armored), under any interval of an epoch
    /// that is neither revoked ([`ErrorKind::KeyRevoked`]) nor shredded
    /// ([`ErrorKind::KeyDestroyed`]). Never needs freshness. A seal-only secret is refused
    /// with [`ErrorKind::InvalidInput`]: open it with [`KeyHolder::unseal_seal_only`].
    pub fn unseal(&mut self, sealed: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let (keys, bytes) = self.open_sealed(sealed)?;
        keys.unseal(&SealedSecret::parse(&bytes)?, context)
    }

    /// Opens a secret sealed by a seal-only party ([`super::RingPublic::seal`]). Its origin
    /// is not authenticated: anyone with the ring's public part could have sealed it.
    pub fn unseal_seal_only(
        &mut self,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let (keys, bytes) = self.open_sealed(sealed)?;
        keys.unseal_seal_only(&SealedSecret::parse(&bytes)?, context)
    }

    /// Carries out governance changes (wrapping the KEK to added key holders, rolling the
    /// KEK and the epoch for removed ones, revocations and shredding), rolls the epoch when
    /// its leaves run out, publishes upcoming seal-only keys and renews freshness. Every
    /// decision is a function of (ring, `now`, the quorum checks); fresh randomness only
    /// makes the new roots, KEKs, nonces and HPKE encapsulations. It carries out the newest
    /// governance version in which the caller is still a key holder; when the versions up to
    /// it add up to a change that needs a quorum, each is asked of `quorum` again (which also
    /// reads the request log for denials), and a refusal stops `maintain` with its error and
    /// nothing written. `anchors` are the audit and request-log heads to record.
    pub fn maintain(
        &mut self,
        identity: &Identity,
        now: u64,
        rng: &mut impl CryptoRng,
        quorum: &dyn QuorumCheck,
        anchors: (Anchor, Anchor),
    ) -> Result<Maintenance> {
        self.maintain_inner(identity, now, rng, quorum, anchors, false, None)
    }

    /// `maintain` (with the request log's quorum check), and a grant of elevated access for
    /// the access request `request` in `log`: the request must be logged, unexpired, not
    /// dated ahead of `now`, not granted before, from someone who is not a key holder, its
    /// scope within `max_lookback` of its creation, no valid denial logged, and every level
    /// of the policy of the governance this write carries out met by the logged approvals
    /// ([`ErrorKind::PolicyUnsatisfied`] otherwise). The grant's window is `[now, now +
    /// min(requested, max_grant)]`; its nodes are the minimal covers of the scope's
    /// readable intervals up to the one holding the window's end, wrapped to the requester.
    /// `audit` is the audit head to anchor (the request log's head is anchored too).
    pub fn issue_grant(
        &mut self,
        identity: &Identity,
        now: u64,
        rng: &mut impl CryptoRng,
        log: &RequestLog,
        request: &[u8; 32],
        audit: Anchor,
    ) -> Result<(Maintenance, GrantId)> {
        if log.ring() != self.ring.id() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the request log is another ring's",
            ));
        }
        let m = self.maintain_inner(
            identity,
            now,
            rng,
            &log.quorum_check(now),
            (audit, log.head()),
            false,
            Some(GrantOrder {
                log,
                request: *request,
            }),
        )?;
        Ok((m, GrantId::for_request(request)))
    }

    /// `maintain`, and a new epoch with a fresh random root in any case.
    pub fn roll_epoch(
        &mut self,
        identity: &Identity,
        now: u64,
        rng: &mut impl CryptoRng,
        quorum: &dyn QuorumCheck,
        anchors: (Anchor, Anchor),
    ) -> Result<Maintenance> {
        self.maintain_inner(identity, now, rng, quorum, anchors, true, None)
    }

    #[allow(clippy::too_many_lines, clippy::too_many_arguments)]
    fn maintain_inner(
        &mut self,
        identity: &Identity,
        now: u64,
        rng: &mut impl CryptoRng,
        quorum: &dyn QuorumCheck,
        anchors: (Anchor, Anchor),
        force_roll: bool,
        order: Option<GrantOrder<'_>>,
    ) -> Result<Maintenance> {
        if identity.public() != &self.holder {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "maintain must be called with the identity this ring was opened with",
            ));
        }
        let ring_id = self.ring.id();
        let old: Option<KeyState> = self.ring.key_state().map(|s| s.key_state().clone());
        if let (Some(o), Some(order)) = (&old, &order) {
            order.log.check_anchor(o.requests)?;
        }
        let behind = |given: Anchor, had: Anchor| {
            given.seq < had.seq || (given.seq == had.seq && given.hash != had.hash)
        };
        if let Some(o) = &old
            && (behind(anchors.0, o.audit) || behind(anchors.1, o.requests))
        {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the audit or request-log head given is older than, or differs from, the one the key state anchors: read the streams again",
            ));
        }
        let old_hash = self.ring.key_state().map(|s| s.hash());
        let mut events = Vec::new();

        // 1. Governance: every version after the one in force, each checked against the one
        //    before it (the key holder's quorum check also reads the request log for denials).
        //    The key state then carries out the newest version.
        let since: &[ApproverSince] = old
            .as_ref()
            .map(|k| k.approver_since.as_slice())
            .unwrap_or_default();
        let first = match &old {
            Some(ks) => self.ring.chain_index(ks.governance)?.saturating_add(1),
            None => {
                events.push(Event::GovernanceApplied { version: 1 });
                1
            }
        };
        let chain: Vec<_> = self.ring.history().collect();
        let in_force_idx = first.saturating_sub(1);
        let in_force = chain
            .get(in_force_idx)
            .ok_or(Error::new(ErrorKind::Internal, "governance index lost"))?;
        // Carry out the newest version in which the caller is still a key holder: if a
        // later one removes it, another key holder (perhaps one this write adds) goes on.
        let target = (in_force_idx..chain.len())
            .rev()
            .find(|i| {
                chain
                    .get(*i)
                    .is_some_and(|g| g.governance().role_of(&self.holder) == Some(Role::Service))
            })
            .filter(|t| *t > in_force_idx || in_force_idx + 1 == chain.len())
            .ok_or(Error::new(
                ErrorKind::NotAMember,
                "this identity is no longer a key holder of the ring",
            ))?;
        let applied_rec = *chain
            .get(target)
            .ok_or(Error::new(ErrorKind::Internal, "governance index lost"))?;
        // When the versions since the one in force add up to nothing that needs a quorum (a
        // change undone by a later one), there is nothing a denial could stop: readers have
        // already checked each version's own approvals. Otherwise each is asked again.
        let net_needs_quorum =
            Change::between(in_force.governance(), applied_rec.governance()).needs_quorum();
        for pair in chain
            .windows(2)
            .skip(in_force_idx)
            .take(target - in_force_idx)
        {
            if let [prev, next] = pair {
                if net_needs_quorum {
                    check_change(
                        prev.governance(),
                        next.governance(),
                        quorum,
                        since,
                        now,
                        false,
                    )?;
                }
                events.push(Event::GovernanceApplied {
                    version: next.version(),
                });
            }
        }
        let ag = applied_rec.governance();
        let applied = GovRef {
            version: applied_rec.version(),
            hash: applied_rec.hash(),
        };

        // 1b. A grant to issue: checked against the governance this write carries out.
        let new_grant = match &order {
            Some(o) => Some(check_order(o, ag, old.as_ref(), since, now)?),
            None => None,
        };

        // 2. Write time: never backwards, except by an approved reset.
        let mut write_time = old.as_ref().map_or(now, |k| k.write_time);
        let mut reset_serial = old
            .as_ref()
            .map_or(ag.write_time_reset.serial, |k| k.reset_serial);
        let mut reset = false;
        if ag.write_time_reset.serial > reset_serial {
            write_time = ag.write_time_reset.to;
            reset_serial = ag.write_time_reset.serial;
            reset = true;
            events.push(Event::WriteTimeReset { to: write_time });
        }
        let write_time = write_time.max(now);
        let t = write_time;

        // 3. Epoch nodes are opened when a step needs them (`opened`): a maintain that writes
        //    nothing opens only the current epoch's.
        let mut epochs: Vec<EpochRecord> =
            old.as_ref().map(|k| k.epochs.clone()).unwrap_or_default();
        let mut plain: BTreeMap<u32, NodeSet> = BTreeMap::new();
        let opener = Opener {
            kek: self.kek.as_ref(),
            ring: ring_id,
            generation: old.as_ref().map_or(0, |k| k.kek_generation),
        };
        let mut changed_epochs: Vec<u32> = Vec::new();
        let mut roll_kek = old.is_none();
        let mut roll: Option<RollReason> = if old.is_none() {
            Some(RollReason::Created)
        } else if force_roll {
            Some(RollReason::OnDemand)
        } else {
            None
        };

        // 4. Membership.
        let holders: Vec<&PublicIdentity> = ag.with_role(Role::Service).collect();
        let old_recipients: Vec<IdentityId> = old
            .as_ref()
            .map(|k| k.wraps.iter().map(|w| w.recipient).collect())
            .unwrap_or_default();
        for r in &old_recipients {
            if !holders.iter().any(|h| h.id() == *r) {
                events.push(Event::KeyHolderRemoved { id: *r });
                roll_kek = true;
                roll = roll.or(Some(RollReason::MemberRemoved));
            }
        }
        let added: Vec<&PublicIdentity> = holders
            .iter()
            .filter(|h| !old_recipients.contains(&h.id()))
            .copied()
            .collect();

        // 5. Revocations.
        let current_epoch = epochs.last().map(|e| e.epoch);
        for e in epochs.iter_mut() {
            if e.state == EpochState::Live && ag.revoked_epochs.contains(&e.epoch) {
                e.drop_material(EpochState::Revoked);
                plain.remove(&e.epoch);
                changed_epochs.push(e.epoch);
                roll_kek = true;
                if Some(e.epoch) == current_epoch {
                    roll = roll.or(Some(RollReason::Revoked));
                }
                events.push(Event::EpochRevoked { epoch: e.epoch });
            }
        }

        // 6. Shredding: keep only the intervals that end after the cutoff.
        let shred_applied = old.as_ref().map_or(ag.shred_before, |k| k.shred_applied);
        if ag.shred_before > shred_applied {
            roll_kek = true;
            for e in epochs.iter_mut().filter(|e| e.state == EpochState::Live) {
                let nodes = opener.opened(&mut plain, e)?;
                match shred(nodes, &e.schedule()?, ag.shred_before)? {
                    None => continue,
                    Some(None) => {
                        e.drop_material(EpochState::Destroyed);
                        plain.remove(&e.epoch);
                        events.push(Event::EpochShredded {
                            epoch: e.epoch,
                            first_kept: None,
                        });
                    }
                    Some(Some(set)) => {
                        let first = set.ranges().first().map(|r| r.0);
                        plain.insert(e.epoch, set);
                        events.push(Event::EpochShredded {
                            epoch: e.epoch,
                            first_kept: first,
                        });
                    }
                }
                changed_epochs.push(e.epoch);
            }
        }

        // 6b. Grants: drop expired and revoked ones (a revoked one that still reads the
        //     current epoch rolls it).
        let current_live = epochs
            .last()
            .filter(|e| e.state == EpochState::Live)
            .map(|e| e.epoch);
        let mut grants: Vec<SignedGrant> = Vec::new();
        let mut grants_changed = new_grant.is_some();
        for g in old
            .as_ref()
            .map(|o| o.grants.as_slice())
            .unwrap_or_default()
        {
            let g = SignedGrant::parse(g)?;
            let gr = g.grant();
            if ag.revoked_grants.contains(&gr.id.0) {
                events.push(Event::GrantRevoked { grant: gr.id });
                grants_changed = true;
                if now <= gr.not_after && gr.parts.iter().any(|p| Some(p.epoch) == current_live) {
                    roll = roll.or(Some(RollReason::GrantRevoked));
                }
            } else if now > gr.not_after {
                events.push(Event::GrantExpired { grant: gr.id });
                grants_changed = true;
            } else {
                grants.push(g);
            }
        }

        // 7. Does the current epoch still serve? (Its nodes must derive the interval of t
        //    and the freshness window ahead.)
        let policy = &ag.policy;
        let fresh_period =
            u64::from(policy.freshness_intervals).saturating_mul(policy.interval_secs);
        let lookahead = fresh_period.saturating_add(policy.interval_secs);
        if roll.is_none() {
            match epochs.last() {
                Some(e) if e.state == EpochState::Live => {
                    let sched = e.schedule()?;
                    let nodes = opener.opened(&mut plain, e)?;
                    let serves_t = sched
                        .interval_at(t)
                        .ok()
                        .is_some_and(|i| nodes.can_derive(i));
                    if e.interval_secs != policy.interval_secs {
                        roll = Some(RollReason::PolicyChanged);
                    } else if t < sched.start() {
                        roll = Some(RollReason::WriteTimeReset);
                    } else if t.saturating_add(lookahead) >= sched.end() {
                        roll = Some(RollReason::LeavesRunOut);
                    } else if !serves_t {
                        roll = Some(RollReason::Shredded);
                    }
                }
                Some(e) if e.state == EpochState::Destroyed => roll = Some(RollReason::Shredded),
                _ => roll = Some(RollReason::Revoked),
            }
        }
        let structural =
            !events.is_empty() || roll_kek || roll.is_some() || reset || grants_changed;
        let renew = old
            .as_ref()
            .is_none_or(|o| now.saturating_add(fresh_period / 2) >= o.fresh_until);
        if old.is_some() && !structural && !renew {
            return Ok(Maintenance {
                written: false,
                events: Vec::new(),
            });
        }
        if let Some(reason) = roll {
            const EXHAUSTED: Error = Error::new(
                ErrorKind::OutOfRange,
                "the ring has used every epoch number",
            );
            let mut number = epochs
                .last()
                .map_or(Some(1), |e| e.epoch.checked_add(1))
                .filter(|n| *n <= MAX_EPOCH_NUMBER)
                .ok_or(EXHAUSTED)?;
            // Numbers an instruction revoked ahead of time are skipped.
            while ag.revoked_epochs.binary_search(&number).is_ok() {
                number = number
                    .checked_add(1)
                    .filter(|n| *n <= MAX_EPOCH_NUMBER)
                    .ok_or(EXHAUSTED)?;
            }
            if let Some(prev) = epochs.last_mut()
                && prev.retired == 0
            {
                prev.retired = t;
            }
            let start = t - t % policy.interval_secs;
            let sched = Schedule::new(start, policy.interval_secs)?;
            let mut root = [0u8; 32];
            rng.fill_bytes(&mut root);
            let mut nodes = NodeSet::from_root(Secret32::from_array(&mut root));
            // A cutoff past the new epoch's start (a clock behind the admin's) applies to it too.
            match shred(&nodes, &sched, ag.shred_before)? {
                None => {}
                Some(Some(kept)) => nodes = kept,
                Some(None) => {
                    return Err(Error::new(
                        ErrorKind::OutOfRange,
                        "the shredding cutoff is past the whole new epoch: check this host's clock",
                    ));
                }
            }
            plain.insert(number, nodes);
            epochs.push(EpochRecord {
                epoch: number,
                state: EpochState::Live,
                start: sched.start(),
                interval_secs: sched.interval_secs(),
                created: t,
                retired: 0,
                positions: Vec::new(),
                sealed_nodes: Vec::new(),
            });
            changed_epochs.push(number);
            events.push(Event::EpochCreated {
                epoch: number,
                reason,
            });
        }
        if epochs.len() > super::keystate::MAX_EPOCHS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "the ring has reached its limit of 4096 epochs",
            ));
        }

        // 8. KEK: roll it (new random key, wrapped to every key holder, every live epoch
        //    re-sealed), or wrap the current one to added key holders.
        let (kek, generation) = if roll_kek {
            let mut k = [0u8; 32];
            rng.fill_bytes(&mut k);
            let generation = old
                .as_ref()
                .map_or(Some(1), |o| o.kek_generation.checked_add(1))
                .filter(|g| *g <= MAX_EPOCH_NUMBER)
                .ok_or(Error::new(
                    ErrorKind::OutOfRange,
                    "the ring has used every KEK generation",
                ))?;
            events.push(Event::KekRolled { generation });
            (Secret32::from_array(&mut k), generation)
        } else {
            let kek = self.kek.as_ref().ok_or(Error::new(
                ErrorKind::Internal,
                "a key state without an unwrapped KEK",
            ))?;
            let generation = old.as_ref().map_or(1, |o| o.kek_generation);
            (kek.duplicate(), generation)
        };
        let mut wraps = Vec::with_capacity(holders.len());
        for h in &holders {
            let existing = old
                .as_ref()
                .filter(|_| !roll_kek)
                .and_then(|o| o.wraps.iter().find(|w| w.recipient == h.id()));
            match existing {
                Some(w) => wraps.push(w.clone()),
                None => wraps.push(wrap_kek(&kek, ring_id, generation, h, rng)?),
            }
        }
        for h in &added {
            events.push(Event::KeyHolderAdded { id: h.id() });
        }
        for e in epochs.iter_mut().filter(|e| e.state == EpochState::Live) {
            if roll_kek || changed_epochs.contains(&e.epoch) {
                // Opened under the previous KEK before being sealed under this one.
                let nodes = opener.opened(&mut plain, e)?;
                let (positions, sealed) =
                    seal_nodes(&kek, ring_id, e.epoch, generation, nodes, rng)?;
                e.positions = positions;
                e.sealed_nodes = sealed;
            }
        }

        // 8b. Grants: parts of dead epochs go, parts are cut to what their epoch still reads
        //     (shredding), a live grant that follows its window gets a part in a new epoch,
        //     and the new grant is issued.
        let created_epoch = events.iter().find_map(|e| match e {
            Event::EpochCreated { epoch, .. } if old.is_some() => Some(*epoch),
            _ => None,
        });
        let mut signed_grants: Vec<Vec<u8>> = Vec::with_capacity(grants.len() + 1);
        for g in grants {
            let gr = g.grant();
            let mut next = gr.clone();
            // Parts keep only what their epoch still reads: a revoked or destroyed epoch's
            // part goes, a part reaching into shredded intervals is re-wrapped without them.
            let mut parts = Vec::with_capacity(gr.parts.len() + 1);
            for p in &gr.parts {
                let Some(e) = epochs
                    .iter()
                    .find(|e| e.epoch == p.epoch && e.state == EpochState::Live)
                else {
                    continue;
                };
                let kept = readable_within(e, p.first, p.last);
                if kept == [(p.first, p.last)] {
                    parts.push(p.clone());
                    continue;
                }
                let nodes = opener.opened(&mut plain, e)?;
                for (a, b) in kept {
                    parts.push(next.wrap_part(e.epoch, a, b, nodes, rng)?);
                }
            }
            if parts.len() > MAX_GRANT_PARTS {
                parts.drain(..parts.len() - MAX_GRANT_PARTS);
            }
            next.parts = parts;
            if let Some(n) = created_epoch.filter(|_| gr.follows)
                && let Some(rec) = epochs.iter().find(|e| e.epoch == n)
                && let Some((lo, hi)) = window_in(rec, rec.start, gr.not_after)?
            {
                let ranges = readable_within(rec, lo, hi);
                if !ranges.is_empty() {
                    // The new epoch's cover replaces the oldest parts when the grant is full.
                    let excess = (next.parts.len() + ranges.len()).saturating_sub(MAX_GRANT_PARTS);
                    next.parts.drain(..excess.min(next.parts.len()));
                    let nodes = opener.opened(&mut plain, rec)?;
                    for (a, b) in ranges {
                        let part = next.wrap_part(n, a, b, nodes, rng)?;
                        next.parts.push(part);
                    }
                    events.push(Event::GrantReissued {
                        grant: gr.id,
                        epoch: n,
                    });
                }
            }
            if next.parts.is_empty() {
                events.push(Event::GrantExpired { grant: gr.id });
            } else if next.parts == gr.parts {
                signed_grants.push(g.as_bytes().to_vec());
            } else {
                signed_grants.push(next.sign(identity)?.as_bytes().to_vec());
            }
        }
        let mut used_requests = old
            .as_ref()
            .map(|o| o.used_requests.clone())
            .unwrap_or_default();
        if let Some((request, duration, scope)) = new_grant {
            let hash = request.hash();
            let not_after = now.saturating_add(duration.min(policy.max_grant_secs));
            let floor = request
                .request()
                .created
                .saturating_sub(policy.max_lookback_secs);
            let ranges = scope_ranges(
                &epochs,
                &scope,
                not_after,
                floor,
                policy.freshness_intervals,
            )?;
            if ranges.len() > MAX_GRANT_PARTS {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    "the scope spans more than 12 epoch ranges: narrow it",
                ));
            }
            let mut g = crate::access::Grant {
                ring: ring_id,
                id: GrantId::for_request(&hash),
                request: hash,
                requester: request.author().clone(),
                issued: now,
                not_before: now,
                not_after,
                follows: matches!(scope, Scope::Since(_)),
                parts: Vec::with_capacity(ranges.len()),
            };
            for (n, lo, hi) in ranges {
                let rec = epochs.iter().find(|e| e.epoch == n).ok_or(Error::new(
                    ErrorKind::Internal,
                    "a grant range names a lost epoch",
                ))?;
                let nodes = opener.opened(&mut plain, rec)?;
                let part = g.wrap_part(n, lo, hi, nodes, rng)?;
                g.parts.push(part);
            }
            if g.parts.is_empty() {
                return Err(Error::new(
                    ErrorKind::PolicyUnsatisfied,
                    "nothing in the request's scope is readable any more",
                ));
            }
            let id = g.id;
            let signed = g.sign(identity)?;
            let at = signed_grants
                .partition_point(|b| SignedGrant::parse(b).is_ok_and(|x| x.grant().id < id));
            signed_grants.insert(at, signed.as_bytes().to_vec());
            let at = used_requests.partition_point(|r| *r < hash);
            used_requests.insert(at, hash);
            if signed_grants.len() > MAX_GRANTS || used_requests.len() > MAX_USED_REQUESTS {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    "the ring holds as many grants or used requests as it can",
                ));
            }
            events.push(Event::GrantIssued {
                grant: id,
                request: hash,
                requester: request.author().id(),
                not_after,
            });
        }

        // 9. Freshness and seal-only keys for the window ahead.
        let fresh_until = t.saturating_add(fresh_period);
        let current = epochs.last().ok_or(Error::new(
            ErrorKind::Internal,
            "no current epoch after maintain",
        ))?;
        let cur_nodes = plain.get(&current.epoch).ok_or(Error::new(
            ErrorKind::Internal,
            "the current epoch's nodes were not opened",
        ))?;
        let sched = current.schedule()?;
        let first = sched.interval_at(t)?;
        let until = fresh_until
            .saturating_add(policy.interval_secs)
            .min(sched.end().saturating_sub(1));
        let last = sched.interval_at(until).unwrap_or(u16::MAX).max(first);
        let mut seal_only: Vec<SealOnlyKey> = Vec::new();
        let mut published = EpochKeys::new(ring_id, current.epoch, sched, cur_nodes.clone());
        published.set_cache_capacity(1);
        for i in first..=last {
            if seal_only.len() >= MAX_PUBLISHED {
                break;
            }
            if cur_nodes.can_derive(i) {
                seal_only.push(published.interval_keys(i)?.seal_only_key());
            }
        }

        // 10. Approvers count from the write that bound them.
        let approver_since: Vec<ApproverSince> = {
            let mut v: Vec<ApproverSince> = ag
                .with_role(Role::Approver)
                .map(|p| ApproverSince {
                    approver: p.id(),
                    since: since
                        .iter()
                        .find(|a| a.approver == p.id())
                        .map_or(t, |a| a.since),
                })
                .collect();
            v.sort_by_key(|a| a.approver);
            v
        };

        let next = KeyState {
            ring: ring_id,
            version: match &old {
                None => 1,
                Some(o) => o
                    .version
                    .checked_add(1)
                    .filter(|v| *v <= MAX_VERSION)
                    .ok_or(Error::new(
                        ErrorKind::OutOfRange,
                        "the key state has used every version number",
                    ))?,
            },
            prev_hash: old_hash.unwrap_or([0; 32]),
            governance: applied,
            write_time,
            fresh_until,
            reset_serial,
            shred_applied: ag.shred_before,
            audit: anchors.0,
            requests: anchors.1,
            kek_generation: generation,
            kek_check: kek_check(&kek, ring_id, generation),
            wraps,
            epochs,
            seal_only,
            approver_since,
            grants: signed_grants,
            used_requests,
        };
        if next.fresh_until != old.as_ref().map_or(0, |o| o.fresh_until) {
            events.push(Event::FreshnessRenewed {
                until: next.fresh_until,
            });
        }
        if let (Some(a), Some(b)) = (next.seal_only.first(), next.seal_only.last()) {
            let before = old
                .as_ref()
                .map(|o| o.seal_only.as_slice())
                .unwrap_or_default();
            if before != next.seal_only.as_slice() {
                events.push(Event::SealOnlyPublished {
                    epoch: a.id().epoch,
                    first: a.id().interval,
                    last: b.id().interval,
                });
            }
        }
        let signed = next.sign(identity)?;
        self.ring.set_key_state(signed)?;
        if roll_kek {
            self.epochs.clear();
        } else {
            for e in &changed_epochs {
                self.epochs.remove(e);
            }
        }
        self.kek = Some(kek);
        Ok(Maintenance {
            written: true,
            events,
        })
    }
}

/// A grant `issue_grant` asks `maintain` to add.
struct GrantOrder<'a> {
    log: &'a RequestLog,
    request: [u8; 32],
}

/// Checks a grant order against the governance `ag` this write carries out: returns the
/// request, its duration and its scope.
fn check_order(
    o: &GrantOrder<'_>,
    ag: &super::Governance,
    old: Option<&KeyState>,
    since: &[ApproverSince],
    now: u64,
) -> Result<(SignedRequest, u64, Scope)> {
    let (request, _) = o.log.request(&o.request).ok_or(Error::new(
        ErrorKind::InvalidInput,
        "no such request in the ring's request log",
    ))?;
    let RequestKind::Access {
        duration_secs,
        scope,
    } = &request.request().kind
    else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "this is a governance change request: an admin applies it, no grant is issued",
        ));
    };
    if old.is_some_and(|k| k.used_requests.binary_search(&o.request).is_ok()) {
        return Err(Error::new(
            ErrorKind::PolicyUnsatisfied,
            "this request was granted already: one request, at most one grant",
        ));
    }
    if ag
        .revoked_grants
        .contains(&GrantId::for_request(&o.request).0)
    {
        return Err(Error::new(
            ErrorKind::GrantExpired,
            "the grant for this request was revoked",
        ));
    }
    if ag.role_of(request.author()) == Some(Role::Service) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "a key holder needs no elevated access",
        ));
    }
    check_request_time(ag, request, now)?;
    if let Scope::Since(start) = scope
        && request.request().created.saturating_sub(*start) > ag.policy.max_lookback_secs
    {
        return Err(Error::new(
            ErrorKind::PolicyUnsatisfied,
            "the request's scope reaches further back than the policy's max_lookback",
        ));
    }
    tally(
        ag,
        Some(since),
        request,
        &o.log.decisions(&o.request),
        Some(now),
    )?
    .require()?;
    Ok((request.clone(), *duration_secs, scope.clone()))
}
