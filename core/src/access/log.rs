//! The request log: a hash-chained stream of requests and decisions, anchored in key-state
//! writes, where approvers find what waits for them and nobody can hide a denial.
//!
//! ```text
//! frame = 0x01 ‖ ring id (16) ‖ seq (u64, 1, 2, ...) ‖ prev frame hash (32, zeros for seq 1)
//!       ‖ kind (u8: 1 request, 2 decision) ‖ u32 length ‖ record
//!       ‖ [kind 1: u32 length ‖ attachment (the proposed governance content, or empty)]
//! frame hash = SHA-256("dkm1/request-log\0" ‖ frame)
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use super::quorum::{Tally, tally};
use super::request::{
    MAX_RECORD_LEN, MAX_SKEW_SECS, RequestKind, SignedDecision, SignedRequest, Verdict,
};
use crate::encoding::{Reader, Writer};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::Identity;
use crate::keys::RingId;
use crate::labels;
use crate::ring::record::record_hash;
use crate::ring::{
    Anchor, ApproverSince, Governance, MAX_GOVERNANCE_LEN, QuorumCheck, QuorumQuery, Ring, Role,
};

/// Format byte of a request-log frame.
pub const LOG_FORMAT: u8 = 1;

/// What a log frame carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogRecord {
    /// A request, and for a governance change the proposed content
    /// ([`Governance::content_bytes`]).
    Request {
        /// The request.
        request: SignedRequest,
        /// The proposed governance content (governance changes only; may be absent).
        content: Option<Vec<u8>>,
    },
    /// An approval or denial.
    Decision(SignedDecision),
}

/// One frame of the request log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    seq: u64,
    prev: [u8; 32],
    record: LogRecord,
    bytes: Vec<u8>,
    hash: [u8; 32],
}

impl LogEntry {
    fn build(ring: RingId, head: Anchor, record: LogRecord) -> Result<LogEntry> {
        let seq = head
            .seq
            .checked_add(1)
            .ok_or(Error::new(ErrorKind::OutOfRange, "the request log is full"))?;
        let mut out = Vec::new();
        out.put_u8(LOG_FORMAT);
        out.put(&ring.0);
        out.put_u64(seq);
        out.put(&head.hash);
        match &record {
            LogRecord::Request { request, content } => {
                out.put_u8(1);
                out.put_bytes32(request.as_bytes());
                out.put_bytes32(content.as_deref().unwrap_or_default());
            }
            LogRecord::Decision(d) => {
                out.put_u8(2);
                out.put_bytes32(d.as_bytes());
            }
        }
        let hash = record_hash(labels::REQUEST_LOG_HASH, &out);
        Ok(LogEntry {
            seq,
            prev: head.hash,
            record,
            bytes: out,
            hash,
        })
    }

    /// Parses a frame of `ring`'s log: the record's signature and rules, and for a
    /// governance request that the attachment is the content it proposes.
    pub fn parse(ring: RingId, bytes: &[u8]) -> Result<LogEntry> {
        let mut r = Reader::new(bytes);
        if r.u8()? != LOG_FORMAT {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "unknown request-log format version: upgrade dkm",
            ));
        }
        if RingId(r.array()?) != ring {
            return Err(Error::new(
                ErrorKind::Tampered,
                "a request-log frame names another ring",
            ));
        }
        let seq = r.u64()?;
        let prev = r.array()?;
        let record = match r.u8()? {
            1 => {
                let request = SignedRequest::parse(r.bytes32(MAX_RECORD_LEN)?)?;
                let content = r.bytes32(MAX_GOVERNANCE_LEN)?;
                let content = match request.request().kind {
                    RequestKind::Governance { content_hash } if !content.is_empty() => {
                        let h: [u8; 32] = Sha256::new()
                            .chain_update(labels::GOVERNANCE_CONTENT)
                            .chain_update(content)
                            .finalize()
                            .into();
                        if h != content_hash {
                            return Err(Error::new(
                                ErrorKind::Tampered,
                                "a logged change request carries other content than it proposes",
                            ));
                        }
                        Some(content.to_vec())
                    }
                    RequestKind::Governance { .. } => None,
                    RequestKind::Access { .. } if content.is_empty() => None,
                    RequestKind::Access { .. } => {
                        return Err(Error::malformed(
                            "an access request's log frame carries an attachment",
                        ));
                    }
                };
                LogRecord::Request { request, content }
            }
            2 => LogRecord::Decision(SignedDecision::parse(r.bytes32(MAX_RECORD_LEN)?)?),
            _ => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "unknown request-log record kind: upgrade dkm",
                ));
            }
        };
        r.finish()?;
        let in_ring = match &record {
            LogRecord::Request { request, .. } => request.request().ring == ring,
            LogRecord::Decision(d) => d.decision().ring == ring,
        };
        if !in_ring {
            return Err(Error::new(
                ErrorKind::Tampered,
                "a request-log record names another ring",
            ));
        }
        if seq == 0 {
            return Err(Error::malformed("request-log sequence numbers start at 1"));
        }
        Ok(LogEntry {
            seq,
            prev,
            record,
            bytes: bytes.to_vec(),
            hash: record_hash(labels::REQUEST_LOG_HASH, bytes),
        })
    }

    /// Sequence number (1 for the first frame).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Hash of the previous frame.
    pub fn prev(&self) -> [u8; 32] {
        self.prev
    }

    /// What it carries.
    pub fn record(&self) -> &LogRecord {
        &self.record
    }

    /// The canonical frame bytes (what the store keeps).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `SHA-256("dkm1/request-log\0" ‖ frame)`.
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }

    /// The stream head once this frame is appended.
    pub fn head(&self) -> Anchor {
        Anchor {
            seq: self.seq,
            hash: self.hash,
        }
    }
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// Waiting for approvals (the tally says which levels are met).
    Pending,
    /// Every level has its quorum.
    Approved,
    /// A valid denial is in the log.
    Denied,
    /// Its lifetime is over with no grant.
    Expired,
    /// A grant was issued for it (access requests).
    Granted,
    /// A governance record carries the change it proposed (change requests): signed by an
    /// admin, carried out by the next key holder's `maintain`.
    Applied,
}

impl RequestState {
    /// Every state.
    pub const ALL: [RequestState; 6] = [
        RequestState::Pending,
        RequestState::Approved,
        RequestState::Denied,
        RequestState::Expired,
        RequestState::Granted,
        RequestState::Applied,
    ];

    /// `pending`, `approved`, `denied`, `expired`, `granted` or `applied`.
    pub const fn name(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Expired => "expired",
            RequestState::Granted => "granted",
            RequestState::Applied => "applied",
        }
    }

    /// From its name: `InvalidInput` for any other text.
    pub fn parse(name: &str) -> Result<RequestState> {
        RequestState::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or(Error::new(
                ErrorKind::InvalidInput,
                "unknown request state: pending, approved, denied, expired, granted or applied",
            ))
    }
}

/// A request and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestStatus {
    /// The request's hash.
    pub hash: [u8; 32],
    /// Its state.
    pub state: RequestState,
    /// The levels as counted now.
    pub tally: Tally,
    /// When it expires.
    pub expires: u64,
}

/// A ring's request log, verified frame by frame.
#[derive(Clone, Debug)]
pub struct RequestLog {
    ring: RingId,
    entries: Vec<LogEntry>,
}

impl RequestLog {
    /// An empty log.
    pub fn new(ring: RingId) -> RequestLog {
        RequestLog {
            ring,
            entries: Vec::new(),
        }
    }

    /// Loads a log from its frames, oldest first: each frame parses and links to the one
    /// before ([`ErrorKind::Tampered`] on a gap, reorder or broken link), and the log holds
    /// the frame `anchor` (from the ring's key state) names ([`ErrorKind::Tampered`]: a cut or
    /// rewritten log).
    pub fn load<'a>(
        ring: RingId,
        frames: impl IntoIterator<Item = &'a [u8]>,
        anchor: Anchor,
    ) -> Result<RequestLog> {
        let mut log = RequestLog::new(ring);
        for f in frames {
            let e = LogEntry::parse(ring, f)?;
            log.push(e)?;
        }
        log.check_anchor(anchor)?;
        Ok(log)
    }

    /// Checks that the log holds the frame `anchor` names (nothing when it is empty).
    pub fn check_anchor(&self, anchor: Anchor) -> Result<()> {
        if anchor == Anchor::EMPTY {
            return Ok(());
        }
        let ok = anchor
            .seq
            .checked_sub(1)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.entries.get(i))
            .is_some_and(|e| e.hash == anchor.hash);
        if ok {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Tampered,
                "the request log does not hold the frame the ring's key state anchors: it was cut or rewritten",
            ))
        }
    }

    /// The ring.
    pub fn ring(&self) -> RingId {
        self.ring
    }

    /// The frames, oldest first.
    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    /// The head: number of frames and hash of the last.
    pub fn head(&self) -> Anchor {
        self.entries.last().map_or(Anchor::EMPTY, LogEntry::head)
    }

    /// Appends a frame that follows the head.
    pub fn push(&mut self, entry: LogEntry) -> Result<()> {
        let head = self.head();
        if entry.seq != head.seq.saturating_add(1) || entry.prev != head.hash {
            return Err(Error::new(
                ErrorKind::Tampered,
                "a request-log frame does not follow the one before it (gap, reorder or broken link)",
            ));
        }
        self.entries.push(entry);
        Ok(())
    }

    /// The logged request with this hash (its first frame) and the content it proposes.
    pub fn request(&self, hash: &[u8; 32]) -> Option<(&SignedRequest, Option<&[u8]>)> {
        self.entries.iter().find_map(|e| match &e.record {
            LogRecord::Request { request, content } if request.hash() == *hash => {
                Some((request, content.as_deref()))
            }
            _ => None,
        })
    }

    /// The decisions logged for a request, oldest first.
    pub fn decisions(&self, request: &[u8; 32]) -> Vec<&SignedDecision> {
        self.decisions_upto(request, u64::MAX)
    }

    /// The decisions logged for a request in frames up to `seq`, oldest first.
    pub fn decisions_upto(&self, request: &[u8; 32], seq: u64) -> Vec<&SignedDecision> {
        self.entries
            .iter()
            .take_while(|e| e.seq <= seq)
            .filter_map(|e| match &e.record {
                LogRecord::Decision(d) if d.decision().request == *request => Some(d),
                _ => None,
            })
            .collect()
    }

    /// The requests logged, oldest first.
    pub fn requests(&self) -> impl Iterator<Item = &SignedRequest> {
        self.entries.iter().filter_map(|e| match &e.record {
            LogRecord::Request { request, .. } => Some(request),
            LogRecord::Decision(_) => None,
        })
    }

    /// The frame that logs `request` at `now` (append it to the store with the head as
    /// expected, then [`RequestLog::push`] it). Refuses a request for another ring, one
    /// already logged, one dated more than [`MAX_SKEW_SECS`] ahead of `now`
    /// ([`ErrorKind::PolicyUnsatisfied`]) or already expired under `ring`'s policy.
    pub fn log_request(
        &self,
        ring: &Ring,
        request: SignedRequest,
        content: Option<Vec<u8>>,
        now: u64,
    ) -> Result<LogEntry> {
        let req = request.request();
        if req.ring != self.ring || ring.id() != self.ring {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the request is for another ring",
            ));
        }
        if self.request(&request.hash()).is_some() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "this request is already in the log",
            ));
        }
        check_request_time(ring.governance(), &request, now)?;
        LogEntry::build(
            self.ring,
            self.head(),
            LogRecord::Request { request, content },
        )
    }

    /// The frame that logs `approver`'s decision on the request `hash` at level `level`
    /// at `now`. Refuses at once what could not count: an unknown, expired, denied or
    /// already granted request; an approver the level does not list
    /// ([`ErrorKind::NotAMember`]); the requester approving its own request; a second
    /// decision by the same approver; an approval at level n > 1 before level n-1 has its
    /// quorum ([`ErrorKind::PolicyUnsatisfied`]). The approval chains the level n-1
    /// approvals that met the quorum.
    pub fn decide(
        &self,
        ring: &Ring,
        hash: &[u8; 32],
        level: &str,
        verdict: Verdict,
        approver: &Identity,
        now: u64,
    ) -> Result<LogEntry> {
        let (request, _) = self.request(hash).ok_or(Error::new(
            ErrorKind::InvalidInput,
            "no such request in the ring's request log",
        ))?;
        let gov = ring.governance();
        let signed = ring.history().any(|g| {
            g.governance()
                .approval
                .as_ref()
                .is_some_and(|a| a.request == *hash)
        });
        if signed {
            return Err(Error::new(
                ErrorKind::PolicyUnsatisfied,
                "this change was already signed: the request is closed",
            ));
        }
        let status = self.status(ring, hash, now)?;
        match status.state {
            RequestState::Pending | RequestState::Approved => {}
            RequestState::Denied => {
                return Err(Error::new(
                    ErrorKind::PolicyUnsatisfied,
                    "the request was already denied",
                ));
            }
            RequestState::Expired => {
                return Err(Error::new(
                    ErrorKind::PolicyUnsatisfied,
                    "the request has expired",
                ));
            }
            RequestState::Granted => {
                return Err(Error::new(
                    ErrorKind::PolicyUnsatisfied,
                    "the request was already granted",
                ));
            }
            RequestState::Applied => {
                return Err(Error::new(
                    ErrorKind::PolicyUnsatisfied,
                    "this change was already signed: the request is closed",
                ));
            }
        }
        let me = approver.public();
        let index = gov
            .policy
            .levels
            .iter()
            .position(|l| l.name == level)
            .ok_or(Error::new(
                ErrorKind::InvalidInput,
                "the ring's approval policy has no level of that name",
            ))?;
        let listed = gov
            .policy
            .levels
            .get(index)
            .is_some_and(|l| l.approvers.binary_search(&me.id()).is_ok());
        if gov.role_of(me) != Some(Role::Approver) || !listed {
            return Err(Error::new(
                ErrorKind::NotAMember,
                "this identity is not an approver listed at that level",
            ));
        }
        if me == request.author() {
            return Err(Error::new(
                ErrorKind::PolicyUnsatisfied,
                "an approver cannot decide on its own request",
            ));
        }
        if self.decisions(hash).iter().any(|d| d.approver() == me) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "this approver has already decided on this request",
            ));
        }
        let chained = match (verdict, index.checked_sub(1)) {
            (Verdict::Approve, Some(p)) => {
                let prev = status
                    .tally
                    .levels
                    .get(p)
                    .ok_or(Error::new(ErrorKind::Internal, "tally lost a level"))?;
                if !prev.met() {
                    return Err(Error::new(
                        ErrorKind::PolicyUnsatisfied,
                        "the level before this one has not met its quorum yet",
                    ));
                }
                let mut c = prev.counted.clone();
                c.sort_unstable();
                c
            }
            _ => Vec::new(),
        };
        let d = super::request::Decision {
            ring: self.ring,
            request: *hash,
            level: String::from(level),
            verdict,
            time: now,
            chained,
        }
        .sign(approver)?;
        LogEntry::build(self.ring, self.head(), LogRecord::Decision(d))
    }

    /// Where the request `hash` stands at `now`, counted against `ring`'s newest governance.
    pub fn status(&self, ring: &Ring, hash: &[u8; 32], now: u64) -> Result<RequestStatus> {
        let (request, _) = self.request(hash).ok_or(Error::new(
            ErrorKind::InvalidInput,
            "no such request in the ring's request log",
        ))?;
        let gov = ring.governance();
        let t = tally(
            gov,
            Some(since_of(ring)),
            request,
            &self.decisions(hash),
            Some(now),
        )?;
        let expires = request.request().expires(gov.policy.request_lifetime_secs);
        let granted = ring
            .key_state()
            .is_some_and(|k| k.key_state().used_requests.binary_search(hash).is_ok());
        let applied = ring.history().any(|g| {
            g.governance()
                .approval
                .as_ref()
                .is_some_and(|a| a.request == *hash)
        });
        let state = if granted {
            RequestState::Granted
        } else if applied {
            RequestState::Applied
        } else if t.denied.is_some() {
            RequestState::Denied
        } else if now > expires {
            RequestState::Expired
        } else if t.approved() {
            RequestState::Approved
        } else {
            RequestState::Pending
        };
        Ok(RequestStatus {
            hash: *hash,
            state,
            tally: t,
            expires,
        })
    }

    /// The approval a governance record carries for the approved change request `hash`: the
    /// request, the log's head, and the approvals ([`RequestLog::evidence`]).
    pub fn approval_ref(&self, hash: &[u8; 32]) -> Result<crate::ring::ApprovalRef> {
        Ok(crate::ring::ApprovalRef {
            request: *hash,
            log: self.head(),
            evidence: self.evidence(hash)?,
        })
    }

    /// The evidence a governance record carries for the approved change request `hash`:
    /// the request, then the approvals logged for it (at most 63).
    pub fn evidence(&self, hash: &[u8; 32]) -> Result<Vec<Vec<u8>>> {
        let (request, _) = self.request(hash).ok_or(Error::new(
            ErrorKind::InvalidInput,
            "no such request in the ring's request log",
        ))?;
        let mut out = alloc::vec![request.as_bytes().to_vec()];
        for d in self.decisions(hash) {
            if d.decision().verdict == Verdict::Approve
                && out.len() < crate::ring::governance::MAX_EVIDENCE
            {
                out.push(d.as_bytes().to_vec());
            }
        }
        Ok(out)
    }

    /// The quorum check of key holders and the admin's tool: the approvals a record
    /// carries, and also this log (the request must be logged, and no valid denial may be
    /// in it), with approvals dated ahead of `now` refused.
    pub fn quorum_check(&self, now: u64) -> QuorumCheckLog<'_> {
        QuorumCheckLog { log: self, now }
    }
}

fn since_of(ring: &Ring) -> &[ApproverSince] {
    ring.key_state()
        .map(|k| k.key_state().approver_since.as_slice())
        .unwrap_or_default()
}

/// Refuses a request dated more than [`MAX_SKEW_SECS`] ahead of `now` or expired at `now`.
pub(crate) fn check_request_time(
    gov: &Governance,
    request: &SignedRequest,
    now: u64,
) -> Result<()> {
    let req = request.request();
    if req.created > now.saturating_add(MAX_SKEW_SECS) {
        return Err(Error::new(
            ErrorKind::PolicyUnsatisfied,
            "the request is dated in the future (more than 5 minutes ahead of this clock)",
        ));
    }
    if now > req.expires(gov.policy.request_lifetime_secs) {
        return Err(Error::new(
            ErrorKind::PolicyUnsatisfied,
            "the request has expired",
        ));
    }
    Ok(())
}

/// The quorum check that also reads the request log: see [`RequestLog::quorum_check`].
#[derive(Clone, Copy, Debug)]
pub struct QuorumCheckLog<'a> {
    log: &'a RequestLog,
    now: u64,
}

impl QuorumCheck for QuorumCheckLog<'_> {
    fn check(&self, query: &QuorumQuery<'_>) -> Result<()> {
        let (request, approvals) = super::quorum::carried(query)?;
        let upto = query
            .candidate
            .approval
            .as_ref()
            .map_or(Anchor::EMPTY, |a| a.log);
        if self.log.check_anchor(upto).is_err() || upto.seq == 0 {
            return Err(Error::new(
                ErrorKind::PolicyUnsatisfied,
                "the change names a request-log head this log does not hold",
            ));
        }
        let logged_at = self.log.entries.iter().find_map(|e| match &e.record {
            LogRecord::Request { request: r, .. } if r.hash() == request.hash() => Some(e.seq),
            _ => None,
        });
        if logged_at.is_none_or(|s| s > upto.seq) {
            return Err(Error::new(
                ErrorKind::PolicyUnsatisfied,
                "the approved change request is not in the ring's request log",
            ));
        }
        let since = (!query.carried_out).then_some(query.approver_since);
        // The log's own decisions up to the head the change names count (approvals and
        // denials). The head can be no earlier than the frame where the logged approvals met
        // every level, so a denial logged while the request was open always counts; one
        // logged after it was approved is audited but cannot stop an irreversible change
        // for ever.
        let logged = self.log.decisions_upto(&request.hash(), upto.seq);
        let t = tally(query.base, since, &request, &logged, Some(self.now))?;
        if t.denied.is_some() {
            return Err(Error::new(
                ErrorKind::PolicyUnsatisfied,
                "the request log holds a denial of this change",
            ));
        }
        // What the record carries must meet the policy too (what readers check)...
        let refs: Vec<&SignedDecision> = approvals.iter().collect();
        tally(query.base, since, &request, &refs, Some(self.now))?.require()?;
        // ...and so must the log's approvals.
        t.require().map_err(|e| {
            if e.message().contains("denied") {
                e
            } else {
                Error::new(
                    ErrorKind::PolicyUnsatisfied,
                    "the request log's approvals up to the head the change names do not meet the policy",
                )
            }
        })
    }
}
