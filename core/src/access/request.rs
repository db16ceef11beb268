//! Requests (signed by their author) and decisions (approvals and denials, signed by an
//! approver). `docs/SPEC.md` §12 has the bytes.

use alloc::string::String;
use alloc::vec::Vec;

use rand_core::CryptoRng;

use crate::encoding::{Reader, Writer};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::{Identity, PublicIdentity, SigDomain};
use crate::keys::RingId;
use crate::labels;
use crate::ring::governance::{MAX_EPOCH_NUMBER, MAX_LEVEL_APPROVERS, MAX_LEVEL_NAME};
use crate::ring::record::{Envelope, record_hash, sign_record};
use crate::ring::{Governance, Ring, Role};
use crate::tree::MAX_START;

/// Format byte of a request.
pub const REQUEST_FORMAT: u8 = 1;
/// Format byte of a decision.
pub const DECISION_FORMAT: u8 = 1;
/// How far a request or approval may be dated ahead of the checker's clock (5 minutes).
pub const MAX_SKEW_SECS: u64 = 300;
/// Longest reason, in bytes of UTF-8.
pub const MAX_REASON_LEN: usize = 1024;
/// Most epochs a request's scope names.
pub const MAX_SCOPE_EPOCHS: usize = 64;
/// Longest duration a request may ask for (2^40 s; the policy's `max_grant` bounds the grant).
pub const MAX_DURATION_SECS: u64 = 1 << 40;
/// Longest request or decision record.
pub const MAX_RECORD_LEN: usize = 8 * 1024;

/// What an access request may read: sealing times from `start` to the end of the grant's
/// window, or named closed epochs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Secrets sealed from this time (Unix seconds) to the end of the window.
    Since(u64),
    /// Secrets of these closed (no longer current) epochs, ascending.
    Epochs(Vec<u32>),
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// Elevated access for its author (who must not be a key holder).
    Access {
        /// Requested length of the grant's window, in seconds.
        duration_secs: u64,
        /// What it may read.
        scope: Scope,
    },
    /// A governance change that needs the approval policy's quorum.
    Governance {
        /// [`Governance::content_hash`] of the proposed version (which names its version
        /// and the record it follows, so a request approves exactly one change).
        content_hash: [u8; 32],
    },
}

/// The content of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The ring.
    pub ring: RingId,
    /// A random id (so two otherwise equal requests differ).
    pub id: [u8; 16],
    /// Creation time (Unix seconds). The request expires `request_lifetime` after it.
    pub created: u64,
    /// Why (shown to approvers; at most 1024 bytes, no control characters but newline).
    pub reason: String,
    /// What it asks for.
    pub kind: RequestKind,
}

/// A request's id: its hash (`SignedRequest::hash`), printed as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub [u8; 32]);

impl RequestId {
    /// Parses a request id as printed (64 hex digits): `InvalidInput` otherwise.
    pub fn from_hex(text: &str) -> Result<RequestId> {
        crate::encoding::parse_hex(text)
            .map(RequestId)
            .ok_or(Error::new(
                ErrorKind::InvalidInput,
                "that is not a request id (64 hex digits)",
            ))
    }
}

impl core::fmt::Display for RequestId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        crate::encoding::write_hex(f, &self.0)
    }
}

impl core::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RequestId({self})")
    }
}

/// A request whose signature has been checked: the author is its signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRequest {
    req: Request,
    author: PublicIdentity,
    bytes: Vec<u8>,
    hash: [u8; 32],
}

fn check_reason(reason: &str, required: bool) -> Result<()> {
    if reason.len() > MAX_REASON_LEN
        || (required && reason.trim().is_empty())
        || reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "a reason is 1 to 1024 bytes of UTF-8 without control characters (newlines allowed)",
        ));
    }
    Ok(())
}

fn invalid(message: &'static str) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

impl Request {
    /// Checks every rule a request must meet on its own.
    pub fn validate(&self) -> Result<()> {
        if self.created > MAX_START {
            return Err(invalid("a request's creation time is past 2^62"));
        }
        match &self.kind {
            RequestKind::Access {
                duration_secs,
                scope,
            } => {
                check_reason(&self.reason, true)?;
                if *duration_secs == 0 || *duration_secs > MAX_DURATION_SECS {
                    return Err(invalid("a requested duration is 1 s to 2^40 s"));
                }
                match scope {
                    Scope::Since(start) => {
                        if *start > self.created {
                            return Err(invalid(
                                "a scope cannot start after the request was created",
                            ));
                        }
                    }
                    Scope::Epochs(epochs) => {
                        if epochs.is_empty() || epochs.len() > MAX_SCOPE_EPOCHS {
                            return Err(invalid("a scope names 1 to 64 epochs"));
                        }
                        let ascending = epochs.windows(2).all(|w| matches!(w, [a, b] if a < b));
                        if !ascending
                            || epochs.first() == Some(&0)
                            || epochs.last().is_some_and(|e| *e > MAX_EPOCH_NUMBER)
                        {
                            return Err(invalid(
                                "a scope names epochs 1 to 2^31 once each, ascending",
                            ));
                        }
                    }
                }
            }
            RequestKind::Governance { .. } => check_reason(&self.reason, false)?,
        }
        Ok(())
    }

    /// When it expires under `policy_lifetime` (creation time + lifetime).
    pub fn expires(&self, lifetime_secs: u64) -> u64 {
        self.created.saturating_add(lifetime_secs)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.reason.len());
        out.put_u8(REQUEST_FORMAT);
        out.put(&self.ring.0);
        out.put(&self.id);
        out.put_u64(self.created);
        out.put_u16(u16::try_from(self.reason.len()).unwrap_or(u16::MAX));
        out.put(self.reason.as_bytes());
        match &self.kind {
            RequestKind::Access {
                duration_secs,
                scope,
            } => {
                out.put_u8(1);
                out.put_u64(*duration_secs);
                match scope {
                    Scope::Since(start) => {
                        out.put_u8(1);
                        out.put_u64(*start);
                    }
                    Scope::Epochs(epochs) => {
                        out.put_u8(2);
                        out.put_u8(u8::try_from(epochs.len()).unwrap_or(u8::MAX));
                        for e in epochs {
                            out.put_u32(*e);
                        }
                    }
                }
            }
            RequestKind::Governance { content_hash } => {
                out.put_u8(2);
                out.put(content_hash);
            }
        }
        out
    }

    /// Signs the request as its author.
    pub fn sign(self, author: &Identity) -> Result<SignedRequest> {
        self.validate()?;
        let (bytes, hash) = sign_record(
            self.encode(),
            author,
            SigDomain::Request,
            labels::REQUEST_HASH,
        );
        Ok(SignedRequest {
            req: self,
            author: author.public().clone(),
            bytes,
            hash,
        })
    }
}

impl SignedRequest {
    /// An access request by `requester` (who must not be a key holder of `ring`), checked
    /// against the ring's policy at `now`: `duration_secs` at most `max_grant`, a scope from
    /// `start` (default `now`, at most `max_lookback` back) or of named closed epochs.
    pub fn access(
        ring: &Ring,
        requester: &Identity,
        reason: &str,
        duration_secs: u64,
        scope: Option<Scope>,
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<SignedRequest> {
        let gov = ring.governance();
        if gov.role_of(requester.public()) == Some(Role::Service)
            || ring.applied_governance().role_of(requester.public()) == Some(Role::Service)
        {
            return Err(invalid(
                "a key holder needs no elevated access: it can unseal already",
            ));
        }
        if duration_secs > gov.policy.max_grant_secs {
            return Err(invalid(
                "the requested duration is longer than the ring's longest grant (max_grant)",
            ));
        }
        let scope = scope.unwrap_or(Scope::Since(now));
        match &scope {
            Scope::Since(start) => {
                if now.saturating_sub(*start) > gov.policy.max_lookback_secs {
                    return Err(invalid(
                        "the scope reaches further back than the ring's max_lookback",
                    ));
                }
            }
            Scope::Epochs(epochs) => {
                let ks = ring.key_state().map(|k| k.key_state());
                for e in epochs {
                    let closed = ks.and_then(|k| k.epoch(*e)).is_some_and(|r| r.retired != 0);
                    if !closed {
                        return Err(invalid(
                            "the scope names an epoch that does not exist or is still current",
                        ));
                    }
                }
            }
        }
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        Request {
            ring: ring.id(),
            id,
            created: now,
            reason: reason.into(),
            kind: RequestKind::Access {
                duration_secs,
                scope,
            },
        }
        .sign(requester)
    }

    /// A request to approve `draft`, the next governance version of `ring`, by one of its
    /// admins. Returns the request and the draft's content bytes (which the log entry
    /// carries so approvers see exactly what they approve).
    pub fn governance_change(
        ring: &Ring,
        draft: &Governance,
        admin: &Identity,
        reason: &str,
        now: u64,
        rng: &mut impl CryptoRng,
    ) -> Result<(SignedRequest, Vec<u8>)> {
        if ring.governance().role_of(admin.public()) != Some(Role::Admin) {
            return Err(Error::new(
                ErrorKind::NotAMember,
                "only an admin of the ring's current governance can propose a change",
            ));
        }
        if draft.ring != ring.id() {
            return Err(invalid("the draft names another ring"));
        }
        draft.validate()?;
        draft.check_link(ring.latest()).map_err(|_| {
            Error::new(
                ErrorKind::Conflict,
                "the draft does not follow the ring's newest governance: reload and redo the change",
            )
        })?;
        draft.check_monotone(ring.governance())?;
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let req = Request {
            ring: ring.id(),
            id,
            created: now,
            reason: reason.into(),
            kind: RequestKind::Governance {
                content_hash: draft.content_hash(),
            },
        }
        .sign(admin)?;
        Ok((req, draft.content_bytes()))
    }

    /// Parses a request and checks its signature and every rule of [`Request::validate`].
    pub fn parse(bytes: &[u8]) -> Result<SignedRequest> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a request is at most 8 KiB",
            ));
        }
        let mut r = Reader::new(bytes);
        if r.u8()? != REQUEST_FORMAT {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "unknown request format version: upgrade dkm",
            ));
        }
        let ring = RingId(r.array()?);
        let id = r.array()?;
        let created = r.u64()?;
        let n = usize::from(r.u16()?);
        if n > MAX_REASON_LEN {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a reason is at most 1024 bytes",
            ));
        }
        let reason = core::str::from_utf8(r.bytes(n)?)
            .map_err(|_| Error::malformed("a request's reason is not UTF-8"))?
            .into();
        let kind = match r.u8()? {
            1 => {
                let duration_secs = r.u64()?;
                let scope = match r.u8()? {
                    1 => Scope::Since(r.u64()?),
                    2 => {
                        let n = usize::from(r.u8()?);
                        if n > MAX_SCOPE_EPOCHS {
                            return Err(Error::new(
                                ErrorKind::TooLarge,
                                "a scope names at most 64 epochs",
                            ));
                        }
                        let mut epochs = Vec::with_capacity(n);
                        for _ in 0..n {
                            epochs.push(r.u32()?);
                        }
                        Scope::Epochs(epochs)
                    }
                    _ => {
                        return Err(Error::new(
                            ErrorKind::Unsupported,
                            "unknown scope kind: upgrade dkm",
                        ));
                    }
                };
                RequestKind::Access {
                    duration_secs,
                    scope,
                }
            }
            2 => RequestKind::Governance {
                content_hash: r.array()?,
            },
            _ => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "unknown request kind: upgrade dkm",
                ));
            }
        };
        let envelope = Envelope::read(r, bytes)?;
        let req = Request {
            ring,
            id,
            created,
            reason,
            kind,
        };
        req.validate().map_err(|e| {
            if e.kind() == ErrorKind::InvalidInput {
                Error::malformed("a request breaks a rule of the format")
            } else {
                e
            }
        })?;
        envelope.verify(bytes, SigDomain::Request)?;
        Ok(SignedRequest {
            req,
            author: envelope.signer,
            bytes: bytes.to_vec(),
            hash: record_hash(labels::REQUEST_HASH, bytes),
        })
    }

    /// The request.
    pub fn request(&self) -> &Request {
        &self.req
    }

    /// Its author (the requester of an access request).
    pub fn author(&self) -> &PublicIdentity {
        &self.author
    }

    /// The canonical record bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `SHA-256("dkm1/request-hash\0" ‖ record)`: how approvals, grants and governance
    /// records name it.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

/// Approve or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Verdict {
    /// Counts toward its level's quorum.
    Approve = 1,
    /// Ends the request.
    Deny = 2,
}

/// The content of an approval or denial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The ring.
    pub ring: RingId,
    /// The request's hash.
    pub request: [u8; 32],
    /// The approval level it is made at (by name).
    pub level: String,
    /// Approve or deny.
    pub verdict: Verdict,
    /// When (Unix seconds, the approver's clock).
    pub time: u64,
    /// For an approval at level n > 1: hashes of the level n-1 approvals that met that
    /// level's quorum, ascending. Empty otherwise.
    pub chained: Vec<[u8; 32]>,
}

/// A decision whose signature has been checked: the approver is its signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedDecision {
    d: Decision,
    approver: PublicIdentity,
    bytes: Vec<u8>,
    hash: [u8; 32],
}

impl Decision {
    /// Checks every rule a decision must meet on its own.
    pub fn validate(&self) -> Result<()> {
        let name_ok = !self.level.is_empty()
            && self.level.len() <= MAX_LEVEL_NAME
            && self
                .level
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(invalid(
                "a level name is 1 to 32 ASCII letters, digits, '-', '_' or '.'",
            ));
        }
        if self.time > MAX_START {
            return Err(invalid("a decision's time is past 2^62"));
        }
        if self.chained.len() > MAX_LEVEL_APPROVERS
            || !self
                .chained
                .windows(2)
                .all(|w| matches!(w, [a, b] if a < b))
        {
            return Err(invalid(
                "a decision chains at most 32 approvals, once each, ascending",
            ));
        }
        if self.verdict == Verdict::Deny && !self.chained.is_empty() {
            return Err(invalid("a denial chains no approvals"));
        }
        Ok(())
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + 32 * self.chained.len());
        out.put_u8(DECISION_FORMAT);
        out.put(&self.ring.0);
        out.put(&self.request);
        out.put_bytes8(self.level.as_bytes());
        out.put_u8(self.verdict as u8);
        out.put_u64(self.time);
        out.put_u8(u8::try_from(self.chained.len()).unwrap_or(u8::MAX));
        for h in &self.chained {
            out.put(h);
        }
        out
    }

    /// Signs the decision as `approver`.
    pub fn sign(self, approver: &Identity) -> Result<SignedDecision> {
        self.validate()?;
        let (bytes, hash) = sign_record(
            self.encode(),
            approver,
            SigDomain::Approval,
            labels::DECISION_HASH,
        );
        Ok(SignedDecision {
            d: self,
            approver: approver.public().clone(),
            bytes,
            hash,
        })
    }
}

impl SignedDecision {
    /// Parses a decision and checks its signature and every rule of [`Decision::validate`].
    pub fn parse(bytes: &[u8]) -> Result<SignedDecision> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a decision is at most 8 KiB",
            ));
        }
        let mut r = Reader::new(bytes);
        if r.u8()? != DECISION_FORMAT {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "unknown decision format version: upgrade dkm",
            ));
        }
        let ring = RingId(r.array()?);
        let request = r.array()?;
        let level = core::str::from_utf8(r.bytes8()?)
            .map_err(|_| Error::malformed("a level name is not UTF-8"))?
            .into();
        let verdict = match r.u8()? {
            1 => Verdict::Approve,
            2 => Verdict::Deny,
            _ => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "unknown decision verdict: upgrade dkm",
                ));
            }
        };
        let time = r.u64()?;
        let n = usize::from(r.u8()?);
        if n > MAX_LEVEL_APPROVERS {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a decision chains at most 32 approvals",
            ));
        }
        let mut chained = Vec::with_capacity(n);
        for _ in 0..n {
            chained.push(r.array()?);
        }
        let envelope = Envelope::read(r, bytes)?;
        let d = Decision {
            ring,
            request,
            level,
            verdict,
            time,
            chained,
        };
        d.validate().map_err(|e| {
            if e.kind() == ErrorKind::InvalidInput {
                Error::malformed("a decision breaks a rule of the format")
            } else {
                e
            }
        })?;
        envelope.verify(bytes, SigDomain::Approval)?;
        Ok(SignedDecision {
            d,
            approver: envelope.signer,
            bytes: bytes.to_vec(),
            hash: record_hash(labels::DECISION_HASH, bytes),
        })
    }

    /// The decision.
    pub fn decision(&self) -> &Decision {
        &self.d
    }

    /// Who signed it.
    pub fn approver(&self) -> &PublicIdentity {
        &self.approver
    }

    /// The canonical record bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `SHA-256("dkm1/approval-hash\0" ‖ record)`.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
}
