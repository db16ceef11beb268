//! Rings: a governance chain signed by admins and a key state signed by key holders, loaded
//! only through a [`Pin`].
//!
//! ```text
//! ring blob = "DKMR" ‖ 0x01 ‖ ring id (16)
//!           ‖ n (u8, 1..=32) ‖ n × (u32 length ‖ governance record)   oldest first, consecutive
//!           ‖ flag (u8) ‖ [u32 length ‖ key-state record]
//! ```
//!
//! [`Ring::load`] verifies everything a store reader can check without secrets: every
//! governance record is signed by an admin of the previous one and hash-linked to it, the
//! chain reaches the pin, the key state is signed by a key holder of the governance it binds,
//! and nothing is older than what the pin has seen. [`KeyHolder`] adds the KEK and the keys;
//! [`RingPublic`] seals without being able to open.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use crate::access::{EvidenceQuorum, GrantId, SignedGrant};
use crate::encoding::{Reader, Writer};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::{Identity, IdentityId, PublicIdentity};
use crate::keys::{KeyId, RingId};

pub mod governance;
mod holder;
pub mod keystate;
mod public;
pub(crate) mod record;

pub use governance::{
    ApprovalLevel, ApprovalRef, Change, Governance, Member, Policy, Role, SignedGovernance,
    WriteTimeReset,
};
pub use holder::{KeyHolder, Maintenance};
pub use keystate::{
    Anchor, ApproverSince, EpochRecord, EpochState, GovRef, KekWrap, KeyState, SignedKeyState,
};
pub use public::RingPublic;

/// Magic bytes of a ring blob.
pub const RING_MAGIC: &[u8; 4] = b"DKMR";
/// Format byte of a ring blob.
pub const RING_FORMAT: u8 = 1;
/// Most governance records a ring carries. An admin's change drops the oldest records once
/// there are more, but never the one the key state applies: past that, changes wait for a
/// key holder's `maintain` ([`ErrorKind::TooLarge`]). A reader whose pin is older than the
/// oldest carried record must be re-pinned ([`ErrorKind::Stale`]).
pub const MAX_GOVERNANCE_HISTORY: usize = 32;
/// Longest governance record.
pub const MAX_GOVERNANCE_LEN: usize = 256 * 1024;
/// Longest key-state record.
pub const MAX_KEY_STATE_LEN: usize = 8 * 1024 * 1024;
/// Format byte of a pin.
pub const PIN_FORMAT: u8 = 1;
/// Most admins a pin names (as many as a ring can have members).
pub const MAX_PIN_ADMINS: usize = governance::MAX_MEMBERS;

/// What a reader trusts a ring through: the ring id, admin identities, and the highest
/// governance and key-state versions (with hashes) it has seen. Save the pin [`Ring::pin`]
/// returns after each load, like SSH's `known_hosts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// The ring.
    pub ring: RingId,
    /// Admins trusted on first use: some governance record the ring carries must be signed by
    /// one of them (ignored once `governance` is set).
    pub admins: Vec<PublicIdentity>,
    /// Highest governance version seen, and its record hash.
    pub governance: Option<GovRef>,
    /// Highest key state seen.
    pub key_state: Option<PinnedKeyState>,
}

/// The key state a pin has seen: its version and hash, and the governance version it carried
/// out (which never decreases either).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinnedKeyState {
    /// Key-state version.
    pub version: u64,
    /// Key-state record hash.
    pub hash: [u8; 32],
    /// The governance version that key state carried out.
    pub governance_version: u64,
}

impl Pin {
    /// A first-use pin: the ring id and the admins trusted to have signed it.
    pub fn new(ring: RingId, admins: Vec<PublicIdentity>) -> Pin {
        Pin {
            ring,
            admins,
            governance: None,
            key_state: None,
        }
    }

    /// `0x01 ‖ ring id ‖ n (u16) ‖ n × public identity (64)
    /// ‖ [0x00 | 0x01 ‖ governance version (u64) ‖ hash (32)]
    /// ‖ [0x00 | 0x01 ‖ key-state version (u64) ‖ hash (32) ‖ its governance version (u64)]`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + 64 * self.admins.len() + 90);
        out.put_u8(PIN_FORMAT);
        out.put(&self.ring.0);
        out.put_count16(self.admins.len());
        for a in &self.admins {
            out.put(&a.to_bytes());
        }
        match self.governance {
            None => out.put_u8(0),
            Some(g) => {
                out.put_u8(1);
                out.put_u64(g.version);
                out.put(&g.hash);
            }
        }
        match self.key_state {
            None => out.put_u8(0),
            Some(k) => {
                out.put_u8(1);
                out.put_u64(k.version);
                out.put(&k.hash);
                out.put_u64(k.governance_version);
            }
        }
        out
    }

    /// Parses [`Pin::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Pin> {
        let mut r = Reader::new(bytes);
        if r.u8()? != PIN_FORMAT {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "unknown pin format version: upgrade dkm",
            ));
        }
        let ring = RingId(r.array()?);
        let n = r.count16(MAX_PIN_ADMINS)?;
        let mut admins = Vec::with_capacity(n);
        for _ in 0..n {
            admins.push(PublicIdentity::from_bytes(
                r.bytes(PublicIdentity::ENCODED_LEN)?,
            )?);
        }
        let governance = if r.flag()? {
            Some(GovRef {
                version: r.u64()?,
                hash: r.array()?,
            })
        } else {
            None
        };
        let key_state = if r.flag()? {
            Some(PinnedKeyState {
                version: r.u64()?,
                hash: r.array()?,
                governance_version: r.u64()?,
            })
        } else {
            None
        };
        r.finish()?;
        if admins.is_empty() && governance.is_none() {
            return Err(Error::malformed(
                "a pin names at least one admin or a governance version",
            ));
        }
        Ok(Pin {
            ring,
            admins,
            governance,
            key_state,
        })
    }
}

/// The approval question asked of every governance change that needs a quorum: by readers
/// ([`Ring::load_with`], from the approvals the record carries), by the admin's tool
/// ([`Ring::apply_governance`]) and by key holders in `maintain` (which also reads the request
/// log for denials).
#[derive(Clone, Copy, Debug)]
pub struct QuorumQuery<'a> {
    /// The previous governance: its policy decides.
    pub base: &'a Governance,
    /// The proposed governance (its [`Governance::approval`] names the request and carries
    /// the approvals).
    pub candidate: &'a Governance,
    /// [`Governance::content_hash`] of the candidate: what the request must propose.
    pub content_hash: [u8; 32],
    /// Since when each approver counts (cool-off), from the key state.
    pub approver_since: &'a [ApproverSince],
    /// The checker's time: `now` for the admin's tool and `maintain`; for a reader the key
    /// state's write time (0 without one). Judge an approval's cool-off and expiry by the
    /// times the approval objects carry, not by this.
    pub now: u64,
    /// The key state already carries out this version: a key holder judged its approvers'
    /// cool-off against the start times of its time, which the current `approver_since` no
    /// longer holds for approvers removed (or re-added) since. Cool-off is not judged again.
    pub carried_out: bool,
}

/// Decides whether a governance change that needs a quorum has it. Return
/// [`ErrorKind::PolicyUnsatisfied`] when the quorum is short, a level is missing or a denial
/// is known; any other error is passed on unchanged (for example a store that cannot be read).
pub trait QuorumCheck {
    /// `Ok(())` only when the change is approved.
    fn check(&self, query: &QuorumQuery<'_>) -> Result<()>;
}

/// The quorum check when no approvals are available: refuses every change that needs one.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoApprovals;

impl QuorumCheck for NoApprovals {
    fn check(&self, _query: &QuorumQuery<'_>) -> Result<()> {
        Err(Error::new(
            ErrorKind::PolicyUnsatisfied,
            "this change needs approvals meeting the ring's policy: log a request and collect them first",
        ))
    }
}

/// Why an epoch was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollReason {
    /// The ring's first epoch.
    Created,
    /// A key holder asked for it (`roll_epoch`).
    OnDemand,
    /// A key holder was removed.
    MemberRemoved,
    /// The current epoch was revoked.
    Revoked,
    /// Shredding reached the current interval.
    Shredded,
    /// The current epoch's leaves run out.
    LeavesRunOut,
    /// The policy's interval length changed.
    PolicyChanged,
    /// The recorded write time moved before the current epoch's start (approved reset).
    WriteTimeReset,
    /// A grant with nodes in the current epoch was revoked.
    GrantRevoked,
}

/// What a governance change or a `maintain` did: the raw material of audit records. Never
/// carries key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// An admin signed governance `version`.
    GovernanceSigned {
        /// Version.
        version: u64,
        /// The admin.
        by: IdentityId,
    },
    /// `maintain` carried out governance `version`.
    GovernanceApplied {
        /// Version.
        version: u64,
    },
    /// The KEK was wrapped to a new key holder.
    KeyHolderAdded {
        /// The key holder.
        id: IdentityId,
    },
    /// A key holder's wrap was dropped (with a KEK and epoch roll).
    KeyHolderRemoved {
        /// The former key holder.
        id: IdentityId,
    },
    /// A new KEK generation.
    KekRolled {
        /// Generation.
        generation: u32,
    },
    /// A new epoch.
    EpochCreated {
        /// Epoch.
        epoch: u32,
        /// Why.
        reason: RollReason,
    },
    /// An epoch was revoked.
    EpochRevoked {
        /// Epoch.
        epoch: u32,
    },
    /// Shredding destroyed an epoch's intervals before `first_kept` (`None`: all of them).
    EpochShredded {
        /// Epoch.
        epoch: u32,
        /// First interval still readable.
        first_kept: Option<u16>,
    },
    /// The recorded write time was reset by an approved instruction.
    WriteTimeReset {
        /// The new write time.
        to: u64,
    },
    /// Freshness renewed.
    FreshnessRenewed {
        /// New deadline.
        until: u64,
    },
    /// Seal-only public keys published for intervals `first..=last` of `epoch`.
    SealOnlyPublished {
        /// Epoch.
        epoch: u32,
        /// First interval.
        first: u16,
        /// Last interval.
        last: u16,
    },
    /// A grant of elevated access was issued.
    GrantIssued {
        /// The grant.
        grant: GrantId,
        /// The request it grants.
        request: [u8; 32],
        /// The requester.
        requester: IdentityId,
        /// End of its window.
        not_after: u64,
    },
    /// An expired grant was dropped.
    GrantExpired {
        /// The grant.
        grant: GrantId,
    },
    /// A revoked grant was dropped.
    GrantRevoked {
        /// The grant.
        grant: GrantId,
    },
    /// A live grant's cover was re-issued in a new epoch.
    GrantReissued {
        /// The grant.
        grant: GrantId,
        /// The new epoch.
        epoch: u32,
    },
}

/// One epoch in a key listing (never material).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochInfo {
    /// Epoch number.
    pub epoch: u32,
    /// State.
    pub state: EpochState,
    /// Start of interval 0.
    pub start: u64,
    /// First second after the last interval.
    pub end: u64,
    /// Interval length.
    pub interval_secs: u64,
    /// Write time of its creation.
    pub created: u64,
    /// Write time it was rolled past (`None`: current).
    pub retired: Option<u64>,
    /// Ranges of intervals its keys still open.
    pub readable: Vec<(u16, u16)>,
}

/// What `keys` shows: epochs, the current key, states and times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyListing {
    /// The ring.
    pub ring: RingId,
    /// The key a key holder's `seal` would use at this time (`None` when there are no keys
    /// yet or the current epoch does not cover the time).
    pub current: Option<KeyId>,
    /// Recorded write time.
    pub write_time: Option<u64>,
    /// Freshness deadline.
    pub fresh_until: Option<u64>,
    /// Past the freshness deadline.
    pub stale: bool,
    /// Governance changes wait for a key holder's `maintain`.
    pub pending: bool,
    /// No approval policy yet: an admin alone may change anything.
    pub bootstrap: bool,
    /// KEK generation.
    pub kek_generation: Option<u32>,
    /// Epochs, oldest first.
    pub epochs: Vec<EpochInfo>,
}

/// A ring whose signatures, chain and pin have been verified. Holds no secret.
#[derive(Clone, Debug)]
pub struct Ring {
    id: RingId,
    /// Older governance records, oldest first (the newest is `head`).
    older: Vec<SignedGovernance>,
    head: SignedGovernance,
    key_state: Option<SignedKeyState>,
}

fn tampered(message: &'static str) -> Error {
    Error::new(ErrorKind::Tampered, message)
}

/// The rules of one governance change from `base` to `next`: monotone instructions, and the
/// quorum when the change needs one and `base` has an approval policy.
pub(crate) fn check_change(
    base: &Governance,
    next: &Governance,
    quorum: &dyn QuorumCheck,
    approver_since: &[ApproverSince],
    now: u64,
    carried_out: bool,
) -> Result<()> {
    next.check_monotone(base)?;
    if !base.is_bootstrap() && Change::between(base, next).needs_quorum() {
        quorum.check(&QuorumQuery {
            base,
            candidate: next,
            content_hash: next.content_hash(),
            approver_since,
            now,
            carried_out,
        })?;
    }
    Ok(())
}

fn is_admin_of(g: &Governance, who: &PublicIdentity) -> bool {
    g.role_of(who) == Some(Role::Admin)
}

impl Ring {
    /// A new ring: its first governance, signed by `admin` (its only admin), with the other
    /// members and the policy given. It has no keys until its first key holder runs
    /// `maintain`: an admin never creates or sees them.
    pub fn create(
        name: &str,
        policy: Policy,
        admin: &Identity,
        others: &[Member],
        rng: &mut impl CryptoRng,
    ) -> Result<(Ring, Vec<Event>)> {
        let id = RingId::generate(rng);
        let g = Governance::genesis(id, name, policy, admin.public(), others)?;
        let signed = g.sign(admin)?;
        Ok((
            Ring {
                id,
                older: Vec::new(),
                head: signed,
                key_state: None,
            },
            alloc::vec![Event::GovernanceSigned {
                version: 1,
                by: admin.id(),
            }],
        ))
    }

    /// Parses and verifies a ring blob through `pin`, checking each governance change that
    /// needs a quorum against the request and approvals its record carries
    /// ([`EvidenceQuorum`]). A key holder's host then also asks the request log
    /// ([`Ring::recheck_since`] with [`crate::access::RequestLog::quorum_check`]).
    pub fn load(bytes: &[u8], pin: &Pin) -> Result<Ring> {
        Ring::load_with(bytes, pin, &EvidenceQuorum)
    }

    /// Parses and verifies a ring blob through `pin`: every governance record's signature and
    /// link, each change after the pinned point made by an admin of the previous version,
    /// keeping the rules of [`Governance::check_monotone`], and approved by `quorum` when it
    /// needs a quorum; the key state signed by a key holder of the governance it carries out;
    /// nothing older than the pin has seen.
    pub fn load_with(bytes: &[u8], pin: &Pin, quorum: &dyn QuorumCheck) -> Result<Ring> {
        let mut r = Reader::new(bytes);
        if r.bytes(RING_MAGIC.len())? != RING_MAGIC {
            return Err(Error::malformed("not a dkm ring (bad magic)"));
        }
        if r.u8()? != RING_FORMAT {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "unknown ring format version: upgrade dkm",
            ));
        }
        let id = RingId(r.array()?);
        let n = usize::from(r.u8()?);
        if n > MAX_GOVERNANCE_HISTORY {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a ring carries at most 32 governance records",
            ));
        }
        let mut older = Vec::with_capacity(n);
        for _ in 0..n {
            older.push(SignedGovernance::parse(r.bytes32(MAX_GOVERNANCE_LEN)?)?);
        }
        let head = older.pop().ok_or(Error::malformed(
            "a ring carries at least one governance record",
        ))?;
        let key_state = if r.flag()? {
            Some(SignedKeyState::parse(r.bytes32(MAX_KEY_STATE_LEN)?)?)
        } else {
            None
        };
        r.finish()?;
        if id != pin.ring {
            return Err(tampered("this is not the pinned ring (ring ids differ)"));
        }
        let ring = Ring {
            id,
            older,
            head,
            key_state,
        };
        let anchor = ring.verify_chain(pin)?;
        ring.verify_key_state_pin(pin)?;
        if let Some(ks) = &ring.key_state {
            let oldest = if pin.governance.is_some() { 0 } else { anchor };
            ring.verify_key_state(ks, oldest)?;
        }
        ring.verify_changes_after(anchor, quorum)?;
        Ok(ring)
    }

    /// Checks the links and signers of the whole chain and finds the record the pin vouches
    /// for (the anchor: the pinned version, or on first use the oldest record a pinned admin
    /// signed). Returns the anchor's version.
    fn verify_chain(&self, pin: &Pin) -> Result<u64> {
        let mut prev: Option<&SignedGovernance> = None;
        for g in self.history() {
            if g.governance().ring != self.id {
                return Err(tampered("a governance record names another ring"));
            }
            match prev {
                Some(p) => {
                    g.governance().check_link(p)?;
                    if !is_admin_of(p.governance(), g.signer()) {
                        return Err(tampered(
                            "a governance change is not signed by an admin of the previous governance",
                        ));
                    }
                }
                None => {
                    if g.version() == 1 && !is_admin_of(g.governance(), g.signer()) {
                        return Err(tampered(
                            "the first governance is not signed by an admin it lists",
                        ));
                    }
                    if self.key_state.is_none() && g.version() != 1 {
                        return Err(Error::malformed(
                            "a ring without a key state carries its whole governance history",
                        ));
                    }
                }
            }
            prev = Some(g);
        }
        let latest = self.latest();
        let anchor = match pin.governance {
            Some(p) => {
                if p.version > latest.version() {
                    return Err(Error::new(
                        ErrorKind::Rollback,
                        "the ring's governance is older than the pinned version: refusing a rollback",
                    ));
                }
                let Some(g) = self.history().find(|g| g.version() == p.version) else {
                    return Err(Error::new(
                        ErrorKind::Stale,
                        "the pin is older than the governance history this ring carries: re-pin from an admin's word",
                    ));
                };
                if g.hash() != p.hash {
                    return Err(Error::new(
                        ErrorKind::Rollback,
                        "the ring's governance differs from the pinned version with the same number: refusing a fork",
                    ));
                }
                p.version
            }
            None => self
                .history()
                .find(|g| pin.admins.iter().any(|a| a == g.signer()))
                .map(SignedGovernance::version)
                .ok_or(tampered(
                    "no governance record of this ring is signed by an admin the pin names",
                ))?,
        };
        Ok(anchor)
    }

    /// Checks every governance change after version `after` against its previous version:
    /// the chain rules ([`Governance::check_monotone`], `Malformed` here) and, where a change
    /// needs a quorum, `quorum` (with the verified key state's `approver_since` and write time).
    fn verify_changes_after(&self, after: u64, quorum: &dyn QuorumCheck) -> Result<()> {
        let since = self
            .key_state
            .as_ref()
            .map(|k| k.key_state().approver_since.as_slice())
            .unwrap_or_default();
        let now = self
            .key_state
            .as_ref()
            .map_or(0, |k| k.key_state().write_time);
        let carried = self
            .key_state
            .as_ref()
            .map_or(0, |k| k.key_state().governance.version);
        let mut prev: Option<&SignedGovernance> = None;
        for g in self.history() {
            if let Some(p) = prev
                && g.version() > after
            {
                let carried_out = g.version() <= carried;
                check_change(p.governance(), g.governance(), quorum, since, now, carried_out).map_err(
                    |e| {
                        if e.kind() == ErrorKind::InvalidInput {
                            Error::malformed(
                                "a governance change breaks the chain rules (undoes a revocation, lowers the shred cutoff, rewrites a reset, drops the approval policy or removes the last key holder)",
                            )
                        } else {
                            e
                        }
                    },
                )?;
            }
            prev = Some(g);
        }
        Ok(())
    }

    /// Asks `quorum` again about every change after governance version `after` that needs
    /// one. A key holder's host calls it before sealing with the request log's checker and
    /// the governance version its previous pin's key state carried out: a key state written
    /// since then may carry out a change that was approved but later denied in the log, which
    /// a reader (who sees only the approvals a record carries) cannot know.
    pub fn recheck_since(&self, after: u64, quorum: &dyn QuorumCheck) -> Result<()> {
        self.verify_changes_after(after, quorum)
    }

    fn verify_key_state_pin(&self, pin: &Pin) -> Result<()> {
        match (pin.key_state, &self.key_state) {
            (None, _) => Ok(()),
            (Some(_), None) => Err(Error::new(
                ErrorKind::Rollback,
                "the ring has no key state but the pin has seen one: refusing a rollback",
            )),
            (Some(p), Some(ks)) => {
                let k = ks.key_state();
                if k.version < p.version
                    || (k.version == p.version && ks.hash() != p.hash)
                    || k.governance.version < p.governance_version
                {
                    Err(Error::new(
                        ErrorKind::Rollback,
                        "the ring's key state is older than, or differs from, what the pin has seen: refusing a rollback",
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }

    fn find(&self, r: GovRef) -> Result<&SignedGovernance> {
        let i = self.chain_index(r)?;
        self.history()
            .nth(i)
            .ok_or(Error::new(ErrorKind::Internal, "governance index lost"))
    }

    fn verify_key_state(&self, sks: &SignedKeyState, anchor: u64) -> Result<()> {
        let ks = sks.key_state();
        if ks.ring != self.id {
            return Err(tampered("the key state names another ring"));
        }
        let record = self.find(ks.governance)?;
        if record.version() < anchor {
            return Err(Error::new(
                ErrorKind::Stale,
                "the key state carries out a governance older than the pin can vouch for: a key holder must run maintain (or pin an admin who signed that version)",
            ));
        }
        let applied = record.governance();
        if applied.role_of(sks.signer()) != Some(Role::Service) {
            return Err(tampered(
                "the key state is not signed by a key holder of the governance it carries out",
            ));
        }
        let holders: Vec<IdentityId> = applied.with_role(Role::Service).map(|p| p.id()).collect();
        let recipients: Vec<IdentityId> = ks.wraps.iter().map(|w| w.recipient).collect();
        if holders != recipients {
            return Err(tampered(
                "the key state's KEK wraps do not match the key holders of the governance it applies",
            ));
        }
        let revoked_live = applied
            .revoked_epochs
            .iter()
            .any(|e| ks.epoch(*e).is_some_and(|r| r.state == EpochState::Live));
        let period = u64::from(applied.policy.freshness_intervals)
            .saturating_mul(applied.policy.interval_secs);
        if ks.fresh_until != ks.write_time.saturating_add(period) {
            return Err(tampered(
                "the key state's freshness deadline is not its write time plus the policy's period",
            ));
        }
        let shredded_live = ks
            .epochs
            .iter()
            .filter(|e| e.state == EpochState::Live)
            .any(|e| {
                let Ok(sched) = e.schedule() else {
                    return true;
                };
                keystate::first_kept(&sched, ks.shred_applied).is_some_and(|first| {
                    e.positions
                        .first()
                        .is_some_and(|p| u64::from(p.first_leaf()) < first)
                })
            });
        let approvers: Vec<IdentityId> =
            applied.with_role(Role::Approver).map(|p| p.id()).collect();
        let since_ok = ks.approver_since.len() == approvers.len()
            && ks
                .approver_since
                .iter()
                .zip(&approvers)
                .all(|(a, id)| a.approver == *id && a.since <= ks.write_time);
        let mut grant_ids: Vec<GrantId> = Vec::with_capacity(ks.grants.len());
        for g in &ks.grants {
            let g = SignedGrant::parse(g)?;
            let g = g.grant();
            if g.ring != self.id
                || ks.used_requests.binary_search(&g.request).is_err()
                || applied.revoked_grants.contains(&g.id.0)
                || g.parts.iter().any(|p| {
                    ks.epoch(p.epoch).is_none_or(|e| {
                        e.state != EpochState::Live
                            || !e
                                .readable()
                                .iter()
                                .any(|(a, b)| *a <= p.first && p.last <= *b)
                    })
                })
            {
                return Err(tampered(
                    "a grant in the key state is for another ring, unrecorded, revoked, or reaches keys its epoch no longer has",
                ));
            }
            grant_ids.push(g.id);
        }
        if !grant_ids.windows(2).all(|w| matches!(w, [a, b] if a < b)) {
            return Err(tampered(
                "the key state lists its grants out of order or twice",
            ));
        }
        if revoked_live
            || shredded_live
            || !since_ok
            || ks.shred_applied != applied.shred_before
            || ks.reset_serial != applied.write_time_reset.serial
        {
            return Err(tampered(
                "the key state does not carry out the instructions of the governance it applies",
            ));
        }
        Ok(())
    }

    /// The ring id.
    pub fn id(&self) -> RingId {
        self.id
    }

    /// The newest governance record.
    pub fn latest(&self) -> &SignedGovernance {
        &self.head
    }

    /// The newest governance.
    pub fn governance(&self) -> &Governance {
        self.latest().governance()
    }

    /// The governance in force: the one the key state carries out (the first, before any).
    pub fn applied_governance(&self) -> &Governance {
        match &self.key_state {
            Some(ks) => match self.find(ks.key_state().governance) {
                Ok(g) => g.governance(),
                Err(_) => self.governance(),
            },
            None => self.older.first().unwrap_or(&self.head).governance(),
        }
    }

    /// The governance records this ring carries, oldest first.
    pub fn history(&self) -> impl DoubleEndedIterator<Item = &SignedGovernance> + Clone {
        self.older.iter().chain(core::iter::once(&self.head))
    }

    /// The verified key state, if a key holder has written one.
    pub fn key_state(&self) -> Option<&SignedKeyState> {
        self.key_state.as_ref()
    }

    /// Governance changes wait for a key holder's `maintain` (or there are no keys yet).
    pub fn is_pending(&self) -> bool {
        match &self.key_state {
            Some(ks) => ks.key_state().governance.version < self.latest().version(),
            None => true,
        }
    }

    /// Past the freshness deadline at `now` (or no keys yet).
    pub fn is_stale(&self, now: u64) -> bool {
        match &self.key_state {
            Some(ks) => now > ks.key_state().fresh_until,
            None => true,
        }
    }

    /// No approval policy in force yet: an admin alone may add members and set the first
    /// policy.
    pub fn is_bootstrap(&self) -> bool {
        self.applied_governance().is_bootstrap() && self.governance().is_bootstrap()
    }

    /// The pin to save after this load: ring id, current admins, versions and hashes.
    pub fn pin(&self) -> Pin {
        let latest = self.latest();
        Pin {
            ring: self.id,
            admins: latest
                .governance()
                .with_role(Role::Admin)
                .cloned()
                .collect(),
            governance: Some(GovRef {
                version: latest.version(),
                hash: latest.hash(),
            }),
            key_state: self.key_state.as_ref().map(|ks| PinnedKeyState {
                version: ks.key_state().version,
                hash: ks.hash(),
                governance_version: ks.key_state().governance.version,
            }),
        }
    }

    /// The canonical ring blob.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put(RING_MAGIC);
        out.put_u8(RING_FORMAT);
        out.put(&self.id.0);
        out.put_u8(u8::try_from(self.older.len() + 1).unwrap_or(u8::MAX));
        for g in self.history() {
            out.put_bytes32(g.as_bytes());
        }
        match &self.key_state {
            None => out.put_u8(0),
            Some(ks) => {
                out.put_u8(1);
                out.put_bytes32(ks.as_bytes());
            }
        }
        out
    }

    /// Epochs, current key, states and times at `now`. Never key material.
    pub fn keys(&self, now: u64) -> KeyListing {
        let ks = self.key_state.as_ref().map(|s| s.key_state());
        let epochs = ks
            .map(|k| {
                k.epochs
                    .iter()
                    .map(|e| EpochInfo {
                        epoch: e.epoch,
                        state: e.state,
                        start: e.start,
                        end: e.schedule().map_or(e.start, |s| s.end()),
                        interval_secs: e.interval_secs,
                        created: e.created,
                        retired: (e.retired != 0).then_some(e.retired),
                        readable: e.readable(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let current = ks.and_then(|k| {
            let e = k.current()?;
            let t = now.max(k.write_time);
            let interval = e.schedule().ok()?.interval_at(t).ok()?;
            Some(KeyId {
                ring: self.id,
                epoch: e.epoch,
                interval,
            })
        });
        KeyListing {
            ring: self.id,
            current,
            write_time: ks.map(|k| k.write_time),
            fresh_until: ks.map(|k| k.fresh_until),
            stale: self.is_stale(now),
            pending: self.is_pending(),
            bootstrap: self.is_bootstrap(),
            kek_generation: ks.map(|k| k.kek_generation),
            epochs,
        }
    }

    /// The next governance version to edit: the newest content with the version bumped, the
    /// hash link set and no approval. Change it, then [`Ring::apply_governance`].
    pub fn draft(&self) -> Governance {
        let latest = self.latest();
        let mut g = latest.governance().clone();
        // Past MAX_VERSION the draft fails validation when applied.
        g.version = latest.version().saturating_add(1);
        g.prev_hash = latest.hash();
        g.approval = None;
        g
    }

    /// Whether `draft` needs the approval policy's quorum (never during bootstrap).
    pub fn needs_quorum(&self, draft: &Governance) -> bool {
        let base = self.governance();
        !base.is_bootstrap() && Change::between(base, draft).needs_quorum()
    }

    /// Signs `draft` as `admin` (an admin of the newest governance) and appends it. A change
    /// that needs a quorum must carry its approvals ([`Governance::approval`]) and pass
    /// `quorum` (else [`ErrorKind::PolicyUnsatisfied`]): readers and key holders check them
    /// again. Refuses a shredding cutoff later than `now`. Drops the oldest records past
    /// [`MAX_GOVERNANCE_HISTORY`], never the one the key state carries out.
    pub fn apply_governance(
        &mut self,
        draft: Governance,
        admin: &Identity,
        quorum: &dyn QuorumCheck,
        now: u64,
    ) -> Result<(Change, Vec<Event>)> {
        let latest = self.latest();
        if !is_admin_of(latest.governance(), admin.public()) {
            return Err(Error::new(
                ErrorKind::NotAMember,
                "only an admin of the ring's current governance can change it",
            ));
        }
        if draft.ring != self.id {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the draft names another ring",
            ));
        }
        draft.validate()?;
        draft.check_link(latest).map_err(|_| {
            Error::new(
                ErrorKind::Conflict,
                "the draft does not follow the ring's newest governance: reload and redo the change",
            )
        })?;
        let change = Change::between(latest.governance(), &draft);
        if change.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the draft changes nothing",
            ));
        }
        if self.key_state.is_some() {
            let in_force = self.applied_governance();
            let keeps_one = in_force
                .with_role(Role::Service)
                .any(|h| draft.role_of(h) == Some(Role::Service));
            if !keeps_one {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "the change keeps none of the key holders who hold the KEK now: add the new key holder, let maintain carry it out, then remove the old one",
                ));
            }
        }
        if change.shredding && draft.shred_before > now {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a shredding cutoff cannot be in the future",
            ));
        }
        let since = self
            .key_state
            .as_ref()
            .map(|k| k.key_state().approver_since.as_slice())
            .unwrap_or_default();
        check_change(latest.governance(), &draft, quorum, since, now, false)?;
        let version = draft.version;
        let signed = draft.sign(admin)?;
        let keep_from = self
            .key_state
            .as_ref()
            .map_or(1, |k| k.key_state().governance.version);
        let mut older: Vec<SignedGovernance> = self.history().cloned().collect();
        let drop = (older.len() + 1).saturating_sub(MAX_GOVERNANCE_HISTORY);
        if older.iter().take(drop).any(|g| g.version() >= keep_from) {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "too many governance changes wait for a key holder's maintain: run maintain first",
            ));
        }
        older.drain(..drop);
        self.older = older;
        self.head = signed;
        Ok((
            change,
            alloc::vec![Event::GovernanceSigned {
                version,
                by: admin.id(),
            }],
        ))
    }

    pub(crate) fn chain_index(&self, r: GovRef) -> Result<usize> {
        self.history()
            .position(|g| g.version() == r.version && g.hash() == r.hash)
            .ok_or(tampered(
                "the key state is bound to a governance outside this ring's chain",
            ))
    }

    pub(crate) fn set_key_state(&mut self, ks: SignedKeyState) -> Result<()> {
        self.verify_key_state(&ks, 0)?;
        self.key_state = Some(ks);
        Ok(())
    }
}
