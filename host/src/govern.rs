//! Governance verbs: create a ring, and every change an admin makes (members, approval
//! levels, revocations, shredding, grant revocation, rename), each applied at once or logged
//! as a change request when the policy needs a quorum; `apply` signs an approved request.

use dkm_core::access::{RequestId, SignedRequest};
use dkm_core::audit::{AuditRecord, records_for, request_record};
use dkm_core::ring::{Anchor, ApprovalLevel, Governance, Role};
use dkm_core::{ErrorKind, GrantId, Identity, Policy, PublicIdentity, Ring, RingId};

use crate::error::{HostError, Result};
use crate::store::{self, Store};
use crate::{Host, text};

/// What a governance change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Signed and stored: the new governance version.
    Applied {
        /// Version.
        version: u64,
        /// Key holders must still run `maintain` (always true after a change).
        pending: bool,
    },
    /// It needs the approval policy's quorum: logged as a request.
    Requested {
        /// The request's id.
        request: RequestId,
    },
}

/// One approval level as an admin states it: a name, a quorum and the approvers' public
/// identities (in any order; the host sorts them and refuses duplicates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelSpec {
    /// The level's name.
    pub name: String,
    /// How many of its approvers must approve.
    pub quorum: u8,
    /// Its approvers.
    pub approvers: Vec<PublicIdentity>,
}

impl LevelSpec {
    /// Parses `NAME:K:PUB,PUB,...` (the command line's form).
    pub fn parse(text: &str) -> Result<LevelSpec> {
        let mut parts = text.splitn(3, ':');
        let (Some(name), Some(k), Some(pubs)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("{text:?} is not NAME:K:PUB,PUB,..."),
            ));
        };
        let quorum: u8 = k.parse().map_err(|_| {
            HostError::new(
                ErrorKind::InvalidInput,
                format!("{k:?} is not a quorum (1 to 32)"),
            )
        })?;
        let approvers = pubs
            .split(',')
            .map(crate::text::parse_public_identity)
            .collect::<Result<Vec<_>>>()?;
        Ok(LevelSpec {
            name: name.to_owned(),
            quorum,
            approvers,
        })
    }

    /// The level as the governance holds it: approver ids ascending, each once.
    fn to_level(&self) -> Result<ApprovalLevel> {
        let mut approvers: Vec<_> = self.approvers.iter().map(PublicIdentity::id).collect();
        approvers.sort();
        if approvers.windows(2).any(|w| w.first() == w.get(1)) {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("level {:?} names an approver twice", self.name),
            ));
        }
        Ok(ApprovalLevel {
            name: self.name.clone(),
            quorum: self.quorum,
            approvers,
        })
    }
}

/// An approval level's approvers, as ids separated by ", ".
pub fn approver_list(level: &ApprovalLevel) -> String {
    level
        .approvers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a governance version changes from `base`, in words.
pub fn describe_change(base: &Governance, next: &Governance) -> String {
    use dkm_core::ring::Change;
    let c = Change::between(base, next);
    let mut parts = Vec::new();
    for m in &next.members {
        if base.role_of(&m.identity) != Some(m.role) {
            parts.push(format!("adds {} {}", m.role.name(), m.identity.to_text()));
        }
    }
    for m in &base.members {
        if next.role_of(&m.identity) != Some(m.role) {
            parts.push(format!("removes {} {}", m.role.name(), m.identity.id()));
        }
    }
    if c.policy_changed {
        let levels: Vec<String> = next
            .policy
            .levels
            .iter()
            .map(|l| format!("{}: {} of [{}]", l.name, l.quorum, approver_list(l)))
            .collect();
        parts.push(format!(
            "sets the policy (interval {} s, max grant {} s, max lookback {} s, levels {})",
            next.policy.interval_secs,
            next.policy.max_grant_secs,
            next.policy.max_lookback_secs,
            levels.join("; ")
        ));
    }
    if !c.revoked_epochs.is_empty() {
        parts.push(format!(
            "revokes epochs {}",
            c.revoked_epochs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if c.shredding {
        parts.push(format!(
            "shreds every interval ending before {}",
            text::format_time(next.shred_before)
        ));
    }
    if c.write_time_reset {
        parts.push(format!(
            "resets the write time to {}",
            text::format_time(next.write_time_reset.to)
        ));
    }
    for g in &c.revoked_grants {
        parts.push(format!("revokes grant {}", hex::encode(g)));
    }
    if c.renamed {
        parts.push(format!("renames the ring to {:?}", next.name));
    }
    if parts.is_empty() {
        "changes nothing".to_owned()
    } else {
        parts.join("; ")
    }
}

impl<S: Store> Host<S> {
    /// Creates ring `name` with `admin` as its only admin.
    pub fn create_ring(&self, name: &str, admin: &Identity, policy: Policy) -> Result<RingId> {
        store::check_ring_name(name)?;
        if self.store.load(name)?.is_some() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("a ring named {name:?} already exists in the store"),
            ));
        }
        let (ring, events) = Ring::create(name, policy, admin, &[], &mut self.op_rng())?;
        self.pins
            .check_name(&self.store.location(), name, ring.id())
            .map_err(|_| {
                HostError::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "this host pinned another ring under the name {name:?} in this store: pick another name (or remove its record from the pin book's names directory)"
                    ),
                )
            })?;
        let (location, id) = (self.store.location(), ring.id());
        let written = (|| {
            if !self.store.read_audit(name)?.is_empty() {
                return Err(HostError::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "the store holds an audit chain under the name {name:?} but no ring: a new ring does not continue another's chain (remove what is left of the old ring first)"
                    ),
                ));
            }
            let (now, flags) = (self.now()?, self.flags());
            self.store
                .compare_and_swap(name, None, &ring.to_bytes(), &|head| {
                    crate::audit::at_checked_head(Anchor::EMPTY, head, |head| {
                        records_for(id, &events, admin, now, flags, head)
                    })
                })
                .map_err(|e| {
                    if e.kind() == ErrorKind::Conflict {
                        HostError::new(
                            ErrorKind::InvalidInput,
                            format!("a ring named {name:?} already exists in the store"),
                        )
                    } else {
                        e
                    }
                })
        })();
        if let Err(e) = written {
            // The name was recorded for this new ring's id, which no store holds: forget it,
            // so a retry under the same name is not refused as a substitution.
            let _ = self.pins.forget_name(&location, name, id);
            return Err(e);
        }
        self.pins.save(&ring.pin())?;
        Ok(id)
    }

    /// Changes the governance as `admin`: applied at once when it needs no quorum, else
    /// logged as a change request for approvers. Private: surfaces call the named verbs.
    fn change(
        &self,
        name: &str,
        admin: &Identity,
        reason: &str,
        edit: impl Fn(&mut Governance) -> Result<()>,
    ) -> Result<ChangeOutcome> {
        self.retry(|| {
            let now = self.now()?;
            let l = self.load(name)?;
            let mut draft = l.ring.draft();
            edit(&mut draft)?;
            if l.ring.needs_quorum(&draft) {
                let (req, content) = SignedRequest::governance_change(
                    &l.ring,
                    &draft,
                    admin,
                    reason,
                    now,
                    &mut self.op_rng(),
                )?;
                let hash = req.hash();
                self.log_request(name, &l, req, Some(content), admin)?;
                return Ok(ChangeOutcome::Requested {
                    request: RequestId(hash),
                });
            }
            let log = self.log(name, &l.ring)?;
            let head = self.audit_head(name, &l)?;
            let mut ring = l.ring;
            let (_, events) = ring.apply_governance(draft, admin, &log.quorum_check(now), now)?;
            self.commit(
                name,
                (&l.pin, l.version),
                (head, now),
                &ring,
                &events,
                admin,
            )?;
            Ok(ChangeOutcome::Applied {
                version: ring.governance().version,
                pending: ring.is_pending(),
            })
        })
    }

    /// Adds `member` with `role` as `admin` (adding a key holder needs the quorum once the
    /// ring has approval levels).
    pub fn add_member(
        &self,
        name: &str,
        admin: &Identity,
        role: Role,
        member: &PublicIdentity,
    ) -> Result<ChangeOutcome> {
        self.change(name, admin, "add a member", |d| {
            Ok(d.add_member(role, member.clone())?)
        })
    }

    /// Removes `member` as `admin` (no quorum; a key holder's `maintain` carries it out and
    /// rolls the keys).
    pub fn remove_member(
        &self,
        name: &str,
        admin: &Identity,
        member: &PublicIdentity,
    ) -> Result<ChangeOutcome> {
        self.change(name, admin, "remove a member", |d| {
            d.remove_member(member)?;
            Ok(())
        })
    }

    /// Sets the approval levels, in order, as `admin` (needs the quorum once there are
    /// levels).
    pub fn set_approval_levels(
        &self,
        name: &str,
        admin: &Identity,
        levels: &[LevelSpec],
    ) -> Result<ChangeOutcome> {
        let levels = levels
            .iter()
            .map(LevelSpec::to_level)
            .collect::<Result<Vec<_>>>()?;
        self.change(name, admin, "set the approval policy", |d| {
            d.policy.levels.clone_from(&levels);
            Ok(())
        })
    }

    /// Revokes `epoch` as `admin` (needs the quorum once there are approval levels).
    pub fn revoke_epoch(&self, name: &str, admin: &Identity, epoch: u32) -> Result<ChangeOutcome> {
        if epoch == 0 || epoch > 1 << 31 {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("epoch {epoch} does not exist: epoch numbers are 1 to 2^31"),
            ));
        }
        self.change(name, admin, "revoke an epoch", |d| {
            if let Err(i) = d.revoked_epochs.binary_search(&epoch) {
                d.revoked_epochs.insert(i, epoch);
            }
            Ok(())
        })
    }

    /// Shreds every interval that ends before `cutoff` (Unix seconds) as `admin` (needs the
    /// quorum once there are approval levels); a cutoff at or before the current one changes
    /// nothing (`InvalidInput`).
    pub fn shred_before(&self, name: &str, admin: &Identity, cutoff: u64) -> Result<ChangeOutcome> {
        self.change(name, admin, "shred", |d| {
            d.shred_before = d.shred_before.max(cutoff);
            Ok(())
        })
    }

    /// Revokes grant `grant` as `admin` (no quorum).
    pub fn revoke_grant(
        &self,
        name: &str,
        admin: &Identity,
        grant: GrantId,
    ) -> Result<ChangeOutcome> {
        self.change(name, admin, "revoke a grant", |d| {
            if let Err(i) = d.revoked_grants.binary_search(&grant.0) {
                d.revoked_grants.insert(i, grant.0);
            }
            Ok(())
        })
    }

    /// Renames ring `name` to `new_name` as `admin` (a governance change that needs no
    /// quorum): the store moves the ring, its audit chain and its request log to the new name
    /// in the same write. The new name must be free in the store.
    pub fn rename_ring(
        &self,
        name: &str,
        new_name: &str,
        admin: &Identity,
    ) -> Result<ChangeOutcome> {
        store::check_ring_name(new_name)?;
        if new_name == name {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("the ring is already named {name:?}"),
            ));
        }
        if self.store.load(new_name)?.is_some() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("a ring named {new_name:?} already exists in the store"),
            ));
        }
        self.change(name, admin, "rename the ring", |d| {
            d.name = new_name.to_owned();
            Ok(())
        })
    }

    /// Logs `req` (with a change's `content`) in the request log of the loaded ring `l`,
    /// with its audit record, at the audit head checked from the ring's anchor.
    pub(crate) fn log_request(
        &self,
        name: &str,
        l: &crate::Loaded,
        req: SignedRequest,
        content: Option<Vec<u8>>,
        author: &Identity,
    ) -> Result<()> {
        let ring = &l.ring;
        let log = self.log(name, ring)?;
        let checked = self.audit_head(name, l)?;
        let (action, detail) = request_record(&req);
        let now = self.now()?;
        let entry = log.log_request(ring, req, content, now)?;
        let (flags, id) = (self.flags(), ring.id());
        self.store.append_request(name, &entry, &|head| {
            crate::audit::at_checked_head(checked, head, |head| {
                Ok(vec![AuditRecord::sign(
                    id, head, now, flags, action, detail, author,
                )?])
            })
        })
    }

    /// Signs the approved change request `request` with its approvals, as `admin`.
    pub fn apply(&self, name: &str, request: RequestId, admin: &Identity) -> Result<u64> {
        let request = &request.0;
        self.retry(|| {
            let now = self.now()?;
            let l = self.load(name)?;
            let log = self.log(name, &l.ring)?;
            let (_, content) = log.request(request).ok_or_else(|| {
                HostError::new(
                    ErrorKind::InvalidInput,
                    "no such request in the ring's request log",
                )
            })?;
            let content = content.ok_or_else(|| {
                HostError::new(
                    ErrorKind::InvalidInput,
                    "that request is not a governance change with its content: nothing to apply",
                )
            })?;
            let mut draft = Governance::from_content_bytes(content)?;
            draft.approval = Some(log.approval_ref(request)?);
            let head = self.audit_head(name, &l)?;
            let mut ring = l.ring;
            let (_, events) = ring
                .apply_governance(draft, admin, &log.quorum_check(now), now)
                .map_err(|e| {
                    if e.kind() == ErrorKind::Conflict {
                        HostError::new(
                            ErrorKind::InvalidInput,
                            "the ring changed since this change was requested: request it again",
                        )
                    } else {
                        e.into()
                    }
                })?;
            self.commit(
                name,
                (&l.pin, l.version),
                (head, now),
                &ring,
                &events,
                admin,
            )?;
            Ok(ring.governance().version)
        })
    }
}
