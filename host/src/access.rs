//! Elevated access: requests, approvals and denials in the request log, and grants.

use dkm_core::access::{RequestId, Scope, SignedGrant, SignedRequest, Verdict};
use dkm_core::audit::{AuditRecord, decision_record};
use dkm_core::ring::Governance;
use dkm_core::{ErrorKind, Identity, KeyHolder};

use crate::Host;
use crate::error::{HostError, Result};
use crate::govern::describe_change;
use crate::store::Store;
use crate::views::{IssuedGrant, RequestView};

/// The scope of an access request from the command line's two ways of naming it: secrets
/// sealed `since` a time, or the closed `epochs` named (sorted, each once); neither is
/// `None` (secrets sealed from the request on); both is `InvalidInput`.
pub fn access_scope(since: Option<u64>, epochs: &[u32]) -> Result<Option<Scope>> {
    match (since, epochs.is_empty()) {
        (Some(_), false) => Err(HostError::new(
            ErrorKind::InvalidInput,
            "a request names secrets sealed since a time or closed epochs, not both",
        )),
        (Some(t), true) => Ok(Some(Scope::Since(t))),
        (None, false) => {
            let mut e = epochs.to_vec();
            e.sort_unstable();
            e.dedup();
            Ok(Some(Scope::Epochs(e)))
        }
        (None, true) => Ok(None),
    }
}

impl<S: Store> Host<S> {
    /// Logs an access request by `requester` for `duration_secs` (at most the ring's longest
    /// grant) to `scope` (from [`access_scope`]; `None`: secrets sealed from now); returns its
    /// id.
    pub fn request_access(
        &self,
        name: &str,
        requester: &Identity,
        reason: &str,
        duration_secs: u64,
        scope: Option<Scope>,
    ) -> Result<RequestId> {
        self.retry(|| {
            let now = self.now()?;
            let l = self.load(name)?;
            let req = SignedRequest::access(
                &l.ring,
                requester,
                reason,
                duration_secs,
                scope.clone(),
                now,
                &mut self.op_rng(),
            )?;
            let hash = req.hash();
            self.log_request(name, &l, req, None, requester)?;
            Ok(RequestId(hash))
        })
    }

    /// Every logged request and where it stands.
    pub fn requests(&self, name: &str) -> Result<Vec<RequestView>> {
        let l = self.load(name)?;
        let log = self.log(name, &l.ring)?;
        let now = self.now()?;
        let mut out = Vec::new();
        for r in log.requests() {
            let status = log.status(&l.ring, &r.hash(), now)?;
            let change = match log.request(&r.hash()) {
                Some((_, Some(content))) => match Governance::from_content_bytes(content) {
                    Ok(next) => {
                        let base = l
                            .ring
                            .history()
                            .find(|g| g.version().saturating_add(1) == next.version)
                            .map_or_else(|| l.ring.governance(), |g| g.governance());
                        Some(describe_change(base, &next))
                    }
                    Err(_) => Some("(its content does not parse)".to_owned()),
                },
                _ => None,
            };
            out.push(RequestView::new(r, &status, change));
        }
        Ok(out)
    }

    /// Logs `approver`'s approval of `request` at `level`.
    pub fn approve(
        &self,
        name: &str,
        request: RequestId,
        level: &str,
        approver: &Identity,
    ) -> Result<()> {
        self.decide(name, &request.0, level, Verdict::Approve, approver)
    }

    /// Logs `approver`'s denial of `request` at `level` (one valid denial ends a request).
    pub fn deny(
        &self,
        name: &str,
        request: RequestId,
        level: &str,
        approver: &Identity,
    ) -> Result<()> {
        self.decide(name, &request.0, level, Verdict::Deny, approver)
    }

    fn decide(
        &self,
        name: &str,
        request: &[u8; 32],
        level: &str,
        verdict: Verdict,
        approver: &Identity,
    ) -> Result<()> {
        self.retry(|| {
            let now = self.now()?;
            let l = self.load(name)?;
            let log = self.log(name, &l.ring)?;
            let checked = self.audit_head(name, &l)?;
            let entry = log.decide(&l.ring, request, level, verdict, approver, now)?;
            let dkm_core::access::LogRecord::Decision(d) = entry.record() else {
                return Err(HostError::new(
                    ErrorKind::Internal,
                    "a decision frame lost its decision",
                ));
            };
            let (action, detail) = decision_record(d);
            let (flags, id) = (self.flags(), l.ring.id());
            self.store.append_request(name, &entry, &|head| {
                crate::audit::at_checked_head(checked, head, |head| {
                    Ok(vec![AuditRecord::sign(
                        id, head, now, flags, action, detail, approver,
                    )?])
                })
            })
        })
    }

    /// Issues the grant for the approved `request` as the key holder `holder` (running
    /// `maintain` with it); returns the grant.
    pub fn grant(&self, name: &str, request: RequestId, holder: &Identity) -> Result<IssuedGrant> {
        let request = &request.0;
        self.retry(|| {
            let now = self.now()?;
            let l = self.load(name)?;
            let head = self.audit_head(name, &l)?;
            let log = self.log(name, &l.ring)?;
            l.ring.recheck_since(0, &log.quorum_check(now))?;
            let mut kh = KeyHolder::open(l.ring, holder)?;
            let (m, id) = kh.issue_grant(holder, now, &mut self.op_rng(), &log, request, head)?;
            self.commit(
                name,
                (&l.pin, l.version),
                (head, now),
                kh.ring(),
                &m.events,
                holder,
            )?;
            let ks = kh.ring().key_state().ok_or_else(|| {
                HostError::new(ErrorKind::Internal, "a grant without a key state")
            })?;
            for g in &ks.key_state().grants {
                let g = SignedGrant::parse(g)?;
                if g.grant().id == id {
                    return Ok(IssuedGrant::from(&g));
                }
            }
            Err(HostError::new(
                ErrorKind::Internal,
                "the issued grant is not in the key state",
            ))
        })
    }
}
