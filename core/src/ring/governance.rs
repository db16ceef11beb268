//! The governance part of a ring: who may do what, signed by an admin.
//!
//! A governance record is a full snapshot (not a delta): ring id, version, the hash of the
//! previous record, name, policy, members, and the cumulative instructions (revoked epochs,
//! shredding cutoff, write-time reset, revoked grants). Each version is signed by an admin of
//! the previous version (the first by an admin it lists). `docs/SPEC.md` §11 has the bytes.

use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::encoding::{Reader, Writer};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::{Identity, IdentityId, PublicIdentity, SigDomain};
use crate::keys::RingId;
use crate::labels;
use crate::ring::keystate::Anchor;
use crate::ring::record::{Envelope, record_hash, sign_record};
use crate::tree::{MAX_INTERVAL_SECS, MAX_START};

/// Format byte of a governance record.
pub const GOVERNANCE_FORMAT: u8 = 1;
/// Longest ring name, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 64;
/// Most members a ring lists.
pub const MAX_MEMBERS: usize = 256;
/// Most approval levels.
pub const MAX_LEVELS: usize = 8;
/// Most approvers listed at one level.
pub const MAX_LEVEL_APPROVERS: usize = 32;
/// Longest level name, in bytes (ASCII letters, digits, `-`, `_`, `.`).
pub const MAX_LEVEL_NAME: usize = 32;
/// Most revoked epochs and most revoked grants a governance lists.
pub const MAX_REVOCATIONS: usize = 1024;
/// Most approval objects a governance record carries.
pub const MAX_EVIDENCE: usize = 64;
/// Longest approval object a governance record carries.
pub const MAX_EVIDENCE_LEN: usize = 4096;
/// Longest freshness period, in intervals.
pub const MAX_FRESHNESS_INTERVALS: u32 = 64;

/// Highest governance or key-state version (versions never wrap or saturate).
pub const MAX_VERSION: u64 = 1 << 62;
/// Highest epoch number and KEK generation.
pub const MAX_EPOCH_NUMBER: u32 = 1 << 31;

/// One day, in seconds.
pub const DAY: u64 = 86_400;
/// One hour, in seconds.
pub const HOUR: u64 = 3_600;

/// What a member may do. One identity has exactly one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Role {
    /// Governs the ring (signs membership, policy and instructions); holds no keys.
    Admin = 1,
    /// A key holder: a service account that can open the ring's keys.
    Service = 2,
    /// Signs approvals; holds no keys.
    Approver = 3,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Service, Role::Approver];

    /// `admin`, `service` or `approver`.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Service => "service",
            Role::Approver => "approver",
        }
    }

    /// From its name (`admin`, `service` or `approver`): `InvalidInput` for any other text.
    pub fn parse(name: &str) -> Result<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or(Error::new(
                ErrorKind::InvalidInput,
                "unknown role: use admin, service or approver",
            ))
    }

    /// From its byte.
    pub fn from_byte(b: u8) -> Result<Role> {
        match b {
            1 => Ok(Role::Admin),
            2 => Ok(Role::Service),
            3 => Ok(Role::Approver),
            _ => Err(Error::new(
                ErrorKind::Unsupported,
                "unknown member role: this build knows admin, service and approver",
            )),
        }
    }
}

/// A member: an identity and its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The role.
    pub role: Role,
    /// The full public identity (compared whole, never by id alone).
    pub identity: PublicIdentity,
}

/// One level of the approval policy: `quorum` distinct approvers out of `approvers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalLevel {
    /// Name (1-32 ASCII letters, digits, `-`, `_`, `.`), unique in the policy.
    pub name: String,
    /// How many distinct approvers of this level must approve (1 to the number listed).
    pub quorum: u8,
    /// Ids of `approver` members, ascending, no duplicates.
    pub approvers: Vec<IdentityId>,
}

/// The ring's policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Interval length of new epochs, in seconds (default one day).
    pub interval_secs: u64,
    /// Longest grant of elevated access (default 8 h).
    pub max_grant_secs: u64,
    /// How far back a grant's scope may reach (default 30 days).
    pub max_lookback_secs: u64,
    /// How long a request stays open after its creation time (default 12 h; a request dated
    /// more than 5 minutes ahead of a checker's clock is refused).
    pub request_lifetime_secs: u64,
    /// `fresh_until = write time + freshness_intervals × interval` (default 2, at most 64).
    pub freshness_intervals: u32,
    /// A newly added approver counts only this long after the key-state write that bound it
    /// (default 24 h).
    pub approver_cooloff_secs: u64,
    /// Ordered approval levels. Empty: no approval policy yet (bootstrap).
    pub levels: Vec<ApprovalLevel>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            interval_secs: DAY,
            max_grant_secs: 8 * HOUR,
            max_lookback_secs: 30 * DAY,
            request_lifetime_secs: 12 * HOUR,
            freshness_intervals: 2,
            approver_cooloff_secs: DAY,
            levels: Vec::new(),
        }
    }
}

/// An instruction to move the recorded write time (possibly backwards), for example after a
/// host with a clock far in the future wrote the ring. `serial` 0 means none was ever given;
/// each new reset takes the next serial.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteTimeReset {
    /// Increases by one with each new reset.
    pub serial: u32,
    /// The write time to record.
    pub to: u64,
}

/// The request (in the ring's request log) whose approvals allow a governance change, the
/// request-log head the admin's tool judged it at, and the request and approval objects
/// themselves (`docs/SPEC.md` §12), which every [`crate::ring::QuorumCheck`] gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalRef {
    /// Hash of the request that proposed this governance's content.
    pub request: [u8; 32],
    /// The request log's head when the change was signed: key holders count denials up to
    /// this frame (at least 1: the request is logged).
    pub log: Anchor,
    /// Approval objects (each at most [`MAX_EVIDENCE_LEN`] bytes, at most [`MAX_EVIDENCE`]).
    pub evidence: Vec<Vec<u8>>,
}

/// The content of a governance version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Governance {
    /// The ring.
    pub ring: RingId,
    /// Version, 1 for the first governance, then +1 for each change.
    pub version: u64,
    /// Hash of the previous signed record (zeros for version 1).
    pub prev_hash: [u8; 32],
    /// Human-readable name.
    pub name: String,
    /// Policy.
    pub policy: Policy,
    /// Members, ascending by id, one role each.
    pub members: Vec<Member>,
    /// Revoked epochs (cumulative, ascending; a revocation is never undone).
    pub revoked_epochs: Vec<u32>,
    /// Shredding cutoff (cumulative, never decreases; 0: none): every interval that ends at or
    /// before it is destroyed.
    pub shred_before: u64,
    /// The latest write-time reset.
    pub write_time_reset: WriteTimeReset,
    /// Revoked grants (ascending grant ids).
    pub revoked_grants: Vec<[u8; 16]>,
    /// The approved request this version carries out, when it needs a quorum.
    pub approval: Option<ApprovalRef>,
}

/// A verified, signed governance record.
#[derive(Clone, Debug)]
pub struct SignedGovernance {
    gov: Governance,
    signer: PublicIdentity,
    bytes: Vec<u8>,
    hash: [u8; 32],
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "a ring name is 1 to 64 bytes of UTF-8 without control characters",
        ));
    }
    Ok(())
}

fn check_level_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_LEVEL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidInput,
            "a level name is 1 to 32 ASCII letters, digits, '-', '_' or '.'",
        ))
    }
}

fn strictly_ascending<T: Ord>(v: &[T]) -> bool {
    v.windows(2).all(|w| matches!(w, [a, b] if a < b))
}

impl Policy {
    fn validate(&self) -> Result<()> {
        const BAD: Error = Error::new(
            ErrorKind::InvalidInput,
            "invalid policy: the interval must be 1 s to 2^32-1 s, durations non-zero and at most 2^40 s, freshness 1 to 64 intervals",
        );
        const MAX_DURATION: u64 = 1 << 40;
        if self.interval_secs == 0 || self.interval_secs > MAX_INTERVAL_SECS {
            return Err(BAD);
        }
        for d in [
            self.max_grant_secs,
            self.max_lookback_secs,
            self.request_lifetime_secs,
        ] {
            if d == 0 || d > MAX_DURATION {
                return Err(BAD);
            }
        }
        if self.approver_cooloff_secs > MAX_DURATION {
            return Err(BAD);
        }
        if self.freshness_intervals == 0 || self.freshness_intervals > MAX_FRESHNESS_INTERVALS {
            return Err(BAD);
        }
        if self.levels.len() > MAX_LEVELS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "an approval policy has at most 8 levels",
            ));
        }
        for (i, level) in self.levels.iter().enumerate() {
            check_level_name(&level.name)?;
            if self.levels.iter().take(i).any(|l| l.name == level.name) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "two approval levels have the same name",
                ));
            }
            if level.approvers.len() > MAX_LEVEL_APPROVERS {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    "an approval level lists at most 32 approvers",
                ));
            }
            if !strictly_ascending(&level.approvers) {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "an approval level lists each approver once, in ascending id order",
                ));
            }
            if level.quorum == 0 || usize::from(level.quorum) > level.approvers.len() {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "a level's quorum must be at least 1 and at most the number of approvers it lists",
                ));
            }
        }
        Ok(())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.put_u64(self.interval_secs);
        out.put_u64(self.max_grant_secs);
        out.put_u64(self.max_lookback_secs);
        out.put_u64(self.request_lifetime_secs);
        out.put_u32(self.freshness_intervals);
        out.put_u64(self.approver_cooloff_secs);
        out.put_u8(u8::try_from(self.levels.len()).unwrap_or(u8::MAX));
        for level in &self.levels {
            out.put_bytes8(level.name.as_bytes());
            out.put_u8(level.quorum);
            out.put_u8(u8::try_from(level.approvers.len()).unwrap_or(u8::MAX));
            for a in &level.approvers {
                out.put(&a.0);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Policy> {
        let interval_secs = r.u64()?;
        let max_grant_secs = r.u64()?;
        let max_lookback_secs = r.u64()?;
        let request_lifetime_secs = r.u64()?;
        let freshness_intervals = r.u32()?;
        let approver_cooloff_secs = r.u64()?;
        let n = usize::from(r.u8()?);
        if n > MAX_LEVELS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "an approval policy has at most 8 levels",
            ));
        }
        let mut levels = Vec::with_capacity(n);
        for _ in 0..n {
            let name = core::str::from_utf8(r.bytes8()?)
                .map_err(|_| Error::malformed("a level name is not UTF-8"))?;
            let quorum = r.u8()?;
            let m = usize::from(r.u8()?);
            if m > MAX_LEVEL_APPROVERS {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    "an approval level lists at most 32 approvers",
                ));
            }
            let mut approvers = Vec::with_capacity(m);
            for _ in 0..m {
                approvers.push(IdentityId(r.array()?));
            }
            levels.push(ApprovalLevel {
                name: name.into(),
                quorum,
                approvers,
            });
        }
        Ok(Policy {
            interval_secs,
            max_grant_secs,
            max_lookback_secs,
            request_lifetime_secs,
            freshness_intervals,
            approver_cooloff_secs,
            levels,
        })
    }
}

/// What a governance change does, relative to the governance in force.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Change {
    /// Key holders added (including a member whose role became `service`).
    pub added_holders: Vec<IdentityId>,
    /// Key holders removed (including a `service` member whose role changed).
    pub removed_holders: Vec<IdentityId>,
    /// The set of admins changed.
    pub admins_changed: bool,
    /// The set of approvers changed.
    pub approvers_changed: bool,
    /// Any policy value changed.
    pub policy_changed: bool,
    /// Epochs newly revoked.
    pub revoked_epochs: Vec<u32>,
    /// The shredding cutoff moved forward.
    pub shredding: bool,
    /// A new write-time reset.
    pub write_time_reset: bool,
    /// Grants newly revoked.
    pub revoked_grants: Vec<[u8; 16]>,
    /// The name changed.
    pub renamed: bool,
}

impl Change {
    /// The difference from `base` to `next`.
    pub fn between(base: &Governance, next: &Governance) -> Change {
        fn ids(g: &Governance, role: Role) -> Vec<&PublicIdentity> {
            g.with_role(role).collect()
        }
        let base_holders = ids(base, Role::Service);
        let next_holders = ids(next, Role::Service);
        let added_holders = next_holders
            .iter()
            .filter(|p| !base_holders.contains(p))
            .map(|p| p.id())
            .collect();
        let removed_holders = base_holders
            .iter()
            .filter(|p| !next_holders.contains(p))
            .map(|p| p.id())
            .collect();
        Change {
            added_holders,
            removed_holders,
            admins_changed: ids(base, Role::Admin) != ids(next, Role::Admin),
            approvers_changed: ids(base, Role::Approver) != ids(next, Role::Approver),
            policy_changed: base.policy != next.policy,
            revoked_epochs: next
                .revoked_epochs
                .iter()
                .filter(|e| !base.revoked_epochs.contains(e))
                .copied()
                .collect(),
            shredding: next.shred_before > base.shred_before,
            write_time_reset: next.write_time_reset.serial > base.write_time_reset.serial,
            revoked_grants: next
                .revoked_grants
                .iter()
                .filter(|g| !base.revoked_grants.contains(g))
                .copied()
                .collect(),
            renamed: base.name != next.name,
        }
    }

    /// Whether the change needs the approval policy's quorum (when the governance in force has
    /// one): adding a key holder, changing admins, approvers or policy, revoking an epoch,
    /// shredding, resetting the write time. Removing a key holder, revoking a grant and
    /// renaming do not.
    pub fn needs_quorum(&self) -> bool {
        !self.added_holders.is_empty()
            || self.admins_changed
            || self.approvers_changed
            || self.policy_changed
            || !self.revoked_epochs.is_empty()
            || self.shredding
            || self.write_time_reset
    }

    /// Whether the change does nothing.
    pub fn is_empty(&self) -> bool {
        *self == Change::default()
    }
}

impl Governance {
    /// The first governance of a ring: `admin` is its only admin, other members and policy as
    /// given. Sign it with [`Governance::sign`].
    pub fn genesis(
        ring: RingId,
        name: &str,
        policy: Policy,
        admin: &PublicIdentity,
        others: &[Member],
    ) -> Result<Governance> {
        let mut g = Governance {
            ring,
            version: 1,
            prev_hash: [0; 32],
            name: name.into(),
            policy,
            members: Vec::new(),
            revoked_epochs: Vec::new(),
            shred_before: 0,
            write_time_reset: WriteTimeReset::default(),
            revoked_grants: Vec::new(),
            approval: None,
        };
        g.add_member(Role::Admin, admin.clone())?;
        for m in others {
            g.add_member(m.role, m.identity.clone())?;
        }
        g.validate()?;
        Ok(g)
    }

    /// The role of `identity` (compared by full public key), if it is a member.
    pub fn role_of(&self, identity: &PublicIdentity) -> Option<Role> {
        self.members
            .iter()
            .find(|m| m.identity == *identity)
            .map(|m| m.role)
    }

    /// The members with `role`.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &PublicIdentity> {
        self.members
            .iter()
            .filter(move |m| m.role == role)
            .map(|m| &m.identity)
    }

    /// Whether there is no approval policy yet (bootstrap): an admin alone may change anything.
    pub fn is_bootstrap(&self) -> bool {
        self.policy.levels.is_empty()
    }

    /// Adds a member. Refuses an identity that already is one (one identity, one role: remove
    /// it first to change its role) and a second identity with the same id.
    pub fn add_member(&mut self, role: Role, identity: PublicIdentity) -> Result<()> {
        if self
            .members
            .iter()
            .any(|m| m.identity.id() == identity.id())
        {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "this identity is already a member: one identity has one role (remove it first to change its role)",
            ));
        }
        if self.members.len() >= MAX_MEMBERS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a ring has at most 256 members",
            ));
        }
        let at = self
            .members
            .partition_point(|m| m.identity.id() < identity.id());
        self.members.insert(at, Member { role, identity });
        Ok(())
    }

    /// Removes a member (compared by full public key). Also drops it from approval levels.
    pub fn remove_member(&mut self, identity: &PublicIdentity) -> Result<Role> {
        let Some(i) = self.members.iter().position(|m| m.identity == *identity) else {
            return Err(Error::new(
                ErrorKind::NotAMember,
                "this identity is not a member of the ring",
            ));
        };
        let m = self.members.remove(i);
        let id = identity.id();
        for level in &mut self.policy.levels {
            level.approvers.retain(|a| *a != id);
        }
        Ok(m.role)
    }

    /// Checks every rule a single governance must meet on its own.
    pub fn validate(&self) -> Result<()> {
        check_name(&self.name)?;
        self.policy.validate()?;
        if self.version == 0 || self.version > MAX_VERSION {
            return Err(Error::malformed("governance versions are 1 to 2^62"));
        }
        if self
            .revoked_epochs
            .last()
            .is_some_and(|e| *e > MAX_EPOCH_NUMBER)
            || self.revoked_epochs.first() == Some(&0)
        {
            return Err(Error::malformed("epoch numbers are 1 to 2^31"));
        }
        if self.version == 1 && self.prev_hash != [0; 32] {
            return Err(Error::malformed(
                "the first governance has an all-zero previous hash",
            ));
        }
        if self.members.len() > MAX_MEMBERS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a ring has at most 256 members",
            ));
        }
        let ids: Vec<IdentityId> = self.members.iter().map(|m| m.identity.id()).collect();
        if !strictly_ascending(&ids) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "members are listed once each, in ascending id order (duplicate member?)",
            ));
        }
        if self.with_role(Role::Admin).next().is_none() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a ring needs at least one admin",
            ));
        }
        for level in &self.policy.levels {
            for a in &level.approvers {
                let is_approver = self
                    .members
                    .iter()
                    .any(|m| m.identity.id() == *a && m.role == Role::Approver);
                if !is_approver {
                    return Err(Error::new(
                        ErrorKind::InvalidInput,
                        "an approval level lists an identity that is not an approver member",
                    ));
                }
            }
        }
        if self.revoked_epochs.len() > MAX_REVOCATIONS
            || self.revoked_grants.len() > MAX_REVOCATIONS
        {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a ring lists at most 1024 revoked epochs and 1024 revoked grants",
            ));
        }
        if !strictly_ascending(&self.revoked_epochs) || !strictly_ascending(&self.revoked_grants) {
            return Err(Error::malformed(
                "revocations are listed once each, in ascending order",
            ));
        }
        if self.write_time_reset.to > MAX_START || self.shred_before > MAX_START {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a write-time reset or shredding cutoff is past 2^62",
            ));
        }
        if self.write_time_reset.serial == 0 && self.write_time_reset.to != 0 {
            return Err(Error::malformed(
                "a write-time reset with serial 0 must have time 0",
            ));
        }
        if let Some(a) = &self.approval {
            if a.log.seq == 0 {
                return Err(Error::malformed(
                    "an approval names a request-log head of at least one frame",
                ));
            }
            if a.evidence.len() > MAX_EVIDENCE
                || a.evidence.iter().any(|e| e.len() > MAX_EVIDENCE_LEN)
            {
                return Err(Error::new(
                    ErrorKind::TooLarge,
                    "a governance carries at most 64 approvals of at most 4096 bytes each",
                ));
            }
        }
        Ok(())
    }

    /// The chain link from the previous record: same ring, consecutive version, hash link.
    pub fn check_link(&self, prev: &SignedGovernance) -> Result<()> {
        if self.ring != prev.gov.ring {
            return Err(Error::new(
                ErrorKind::Tampered,
                "a governance record names another ring",
            ));
        }
        if prev.gov.version.checked_add(1) != Some(self.version) || self.prev_hash != prev.hash {
            return Err(Error::new(
                ErrorKind::Tampered,
                "the governance history is not a chain: a version is missing or a link is broken",
            ));
        }
        Ok(())
    }

    /// Rules from the previous version (`base`) to this one: nothing revoked or shredded is
    /// brought back, a write-time reset is never rewritten, once the ring has a key holder it
    /// keeps one, and once it has approval levels it keeps at least one. Checked by the admin's tool and by `maintain` (a version breaking them is
    /// refused, never carried out).
    pub fn check_monotone(&self, base: &Governance) -> Result<()> {
        let undoes_revocation = base
            .revoked_epochs
            .iter()
            .any(|e| !self.revoked_epochs.contains(e));
        let (r, b) = (&self.write_time_reset, &base.write_time_reset);
        let reset_bad = if r.serial == b.serial {
            r.to != b.to
        } else {
            b.serial.checked_add(1) != Some(r.serial)
        };
        if undoes_revocation || self.shred_before < base.shred_before || reset_bad {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a governance change cannot undo a revocation, move the shredding cutoff back or rewrite a write-time reset",
            ));
        }
        if base.with_role(Role::Service).next().is_some()
            && self.with_role(Role::Service).next().is_none()
        {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the last key holder cannot be removed",
            ));
        }
        if !base.is_bootstrap() && self.is_bootstrap() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "once a ring has an approval policy it keeps one: bootstrap never comes back",
            ));
        }
        Ok(())
    }

    /// The canonical bytes of everything but the approval, signer and signature.
    pub fn content_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.members.len() * 65);
        out.put_u8(GOVERNANCE_FORMAT);
        out.put(&self.ring.0);
        out.put_u64(self.version);
        out.put(&self.prev_hash);
        out.put_bytes8(self.name.as_bytes());
        self.policy.encode(&mut out);
        out.put_count16(self.members.len());
        for m in &self.members {
            out.put_u8(m.role as u8);
            out.put(&m.identity.to_bytes());
        }
        out.put_count16(self.revoked_epochs.len());
        for e in &self.revoked_epochs {
            out.put_u32(*e);
        }
        out.put_u64(self.shred_before);
        out.put_u32(self.write_time_reset.serial);
        out.put_u64(self.write_time_reset.to);
        out.put_count16(self.revoked_grants.len());
        for g in &self.revoked_grants {
            out.put(g);
        }
        out
    }

    /// Parses [`Governance::content_bytes`] (what a change request's log entry carries):
    /// strict, no trailing bytes, every rule of [`Governance::validate`].
    pub fn from_content_bytes(bytes: &[u8]) -> Result<Governance> {
        let mut r = Reader::new(bytes);
        let g = Governance::decode_content(&mut r)?;
        r.finish()?;
        g.validate()?;
        Ok(g)
    }

    fn decode_content(r: &mut Reader<'_>) -> Result<Governance> {
        let format = r.u8()?;
        if format != GOVERNANCE_FORMAT {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "unknown governance format version: upgrade dkm",
            ));
        }
        let ring = RingId(r.array()?);
        let version = r.u64()?;
        let prev_hash = r.array()?;
        let name = core::str::from_utf8(r.bytes8()?)
            .map_err(|_| Error::malformed("the ring name is not UTF-8"))?
            .into();
        let policy = Policy::decode(r)?;
        let n = r.count16(MAX_MEMBERS)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            let role = Role::from_byte(r.u8()?)?;
            let identity = PublicIdentity::from_bytes(r.bytes(PublicIdentity::ENCODED_LEN)?)?;
            members.push(Member { role, identity });
        }
        let n = r.count16(MAX_REVOCATIONS)?;
        let mut revoked_epochs = Vec::with_capacity(n);
        for _ in 0..n {
            revoked_epochs.push(r.u32()?);
        }
        let shred_before = r.u64()?;
        let write_time_reset = WriteTimeReset {
            serial: r.u32()?,
            to: r.u64()?,
        };
        let n = r.count16(MAX_REVOCATIONS)?;
        let mut revoked_grants = Vec::with_capacity(n);
        for _ in 0..n {
            revoked_grants.push(r.array()?);
        }
        Ok(Governance {
            ring,
            version,
            prev_hash,
            name,
            policy,
            members,
            revoked_epochs,
            shred_before,
            write_time_reset,
            revoked_grants,
            approval: None,
        })
    }

    /// `SHA-256("dkm1/governance-content\0" ‖ content)`: what a change request proposes and
    /// approvers approve.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(labels::GOVERNANCE_CONTENT);
        h.update(self.content_bytes());
        h.finalize().into()
    }

    /// Signs this governance as `admin` (whose right to sign is checked by whoever verifies
    /// the chain).
    pub fn sign(self, admin: &Identity) -> Result<SignedGovernance> {
        self.validate()?;
        let mut bytes = self.content_bytes();
        match &self.approval {
            None => bytes.put_u8(0),
            Some(a) => {
                bytes.put_u8(1);
                bytes.put(&a.request);
                bytes.put_u64(a.log.seq);
                bytes.put(&a.log.hash);
                bytes.put_count16(a.evidence.len());
                for e in &a.evidence {
                    bytes.put_bytes32(e);
                }
            }
        }
        let (bytes, hash) =
            sign_record(bytes, admin, SigDomain::Governance, labels::GOVERNANCE_HASH);
        Ok(SignedGovernance {
            gov: self,
            signer: admin.public().clone(),
            bytes,
            hash,
        })
    }
}

impl SignedGovernance {
    /// Parses a record and checks its signature under the signer it names, and every rule of
    /// [`Governance::validate`]. Whether the signer had the right to sign is the chain's
    /// business ([`crate::ring::Ring::load`]).
    pub fn parse(bytes: &[u8]) -> Result<SignedGovernance> {
        let mut r = Reader::new(bytes);
        let mut gov = Governance::decode_content(&mut r)?;
        let approval = if r.flag()? {
            let request = r.array()?;
            let log = Anchor {
                seq: r.u64()?,
                hash: r.array()?,
            };
            let n = r.count16(MAX_EVIDENCE)?;
            let mut evidence = Vec::with_capacity(n);
            for _ in 0..n {
                evidence.push(r.bytes32(MAX_EVIDENCE_LEN)?.to_vec());
            }
            Some(ApprovalRef {
                request,
                log,
                evidence,
            })
        } else {
            None
        };
        let envelope = Envelope::read(r, bytes)?;
        gov.approval = approval;
        gov.validate().map_err(|e| {
            if e.kind() == ErrorKind::InvalidInput {
                Error::malformed(
                    "a governance record breaks a rule of the format (order, duplicates, limits, roles)",
                )
            } else {
                e
            }
        })?;
        envelope.verify(bytes, SigDomain::Governance)?;
        Ok(SignedGovernance {
            gov,
            signer: envelope.signer,
            bytes: bytes.to_vec(),
            hash: record_hash(labels::GOVERNANCE_HASH, bytes),
        })
    }

    /// The governance.
    pub fn governance(&self) -> &Governance {
        &self.gov
    }

    /// Who signed it.
    pub fn signer(&self) -> &PublicIdentity {
        &self.signer
    }

    /// The canonical record bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `SHA-256("dkm1/governance-hash\0" ‖ record)`.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// Version.
    pub fn version(&self) -> u64 {
        self.gov.version
    }
}
