//! Counting approvals against a governance's approval policy. One function decides for
//! elevated access (a key holder issuing a grant), for governance changes (readers, the
//! admin's tool and `maintain`) and for showing where a request stands.

use alloc::vec::Vec;

use super::request::{MAX_SKEW_SECS, RequestKind, SignedDecision, SignedRequest, Verdict};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::IdentityId;
use crate::ring::{ApproverSince, Governance, QuorumCheck, QuorumQuery, Role};

/// Where one approval level stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelTally {
    /// The level's name.
    pub name: alloc::string::String,
    /// Its quorum.
    pub quorum: u8,
    /// Hashes of the approvals that count at this level, in the order they were counted.
    pub counted: Vec<[u8; 32]>,
    /// Their approvers.
    pub approvers: Vec<IdentityId>,
    /// Why the first approval that did not count was refused, if one did not.
    pub refused: Option<&'static str>,
}

impl LevelTally {
    /// Whether the level has its quorum.
    pub fn met(&self) -> bool {
        self.counted.len() >= usize::from(self.quorum)
    }
}

/// Where a request stands against a governance's approval policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    /// The levels, in policy order.
    pub levels: Vec<LevelTally>,
    /// A valid denial was seen (hash of the first).
    pub denied: Option<[u8; 32]>,
}

const fn unsatisfied(message: &'static str) -> Error {
    Error::new(ErrorKind::PolicyUnsatisfied, message)
}

impl Tally {
    /// `Ok` only when no denial was seen and every level has its quorum; otherwise
    /// [`ErrorKind::PolicyUnsatisfied`] saying why (for the first level short, the reason
    /// its first refused approval did not count, if any).
    pub fn require(&self) -> Result<()> {
        if self.denied.is_some() {
            return Err(unsatisfied("the request was denied by an approver"));
        }
        if self.levels.is_empty() {
            return Err(unsatisfied(
                "the ring has no approval policy yet: nothing can be approved",
            ));
        }
        for level in &self.levels {
            if !level.met() {
                return Err(unsatisfied(match (level.counted.len(), level.refused) {
                    (_, Some(reason)) => reason,
                    (0, None) => "a level has no approval yet (missing level)",
                    _ => "a level's quorum is short",
                }));
            }
        }
        Ok(())
    }

    /// Whether every level has its quorum (denials aside).
    pub fn approved(&self) -> bool {
        !self.levels.is_empty() && self.levels.iter().all(LevelTally::met)
    }
}

/// Why an approval does not count, or `None` when it may (the level and chain rules are
/// checked by [`tally`]).
fn refusal(
    gov: &Governance,
    since: Option<&[ApproverSince]>,
    request: &SignedRequest,
    a: &SignedDecision,
    level: usize,
    now: Option<u64>,
) -> Option<&'static str> {
    let d = a.decision();
    let id = a.approver().id();
    if gov.role_of(a.approver()) != Some(Role::Approver) {
        return Some("an approval is signed by someone who is not an approver of the ring");
    }
    let listed = gov
        .policy
        .levels
        .get(level)
        .is_some_and(|l| l.approvers.binary_search(&id).is_ok());
    if !listed {
        return Some("an approval is signed by an approver the level does not list");
    }
    if a.approver() == request.author() {
        return Some("an approver cannot approve its own request (self-approval)");
    }
    let cooled = since.is_none_or(|since| {
        since
            .iter()
            .find(|s| s.approver == id)
            .is_some_and(|s| s.since.saturating_add(gov.policy.approver_cooloff_secs) <= d.time)
    });
    if !cooled {
        return Some("an approval was made during the approver's cool-off");
    }
    let req = request.request();
    if d.time.saturating_add(MAX_SKEW_SECS) < req.created
        || d.time > req.expires(gov.policy.request_lifetime_secs)
    {
        return Some("an approval is dated outside its request's lifetime");
    }
    if now.is_some_and(|n| d.time > n.saturating_add(MAX_SKEW_SECS)) {
        return Some("an approval is dated in the future");
    }
    None
}

/// Counts `decisions` for `request` under `gov` (its levels, quorums and cool-off) with the
/// approver start times `since` (`None`: cool-off not judged, for changes a key holder
/// already carried out after judging it against the start times of its time). Every decision must name the request's ring and hash
/// (else [`ErrorKind::PolicyUnsatisfied`]). An approver counts at most once across all
/// levels (at the first level where one of its approvals counts), only at a level that
/// lists it, never for its own request, only after its cool-off, only with an approval
/// dated inside the request's lifetime (and, when `now` is given, not ahead of it by more
/// than [`MAX_SKEW_SECS`]); an approval at level n > 1 counts only if it chains approvals
/// counted at level n-1 from at least that level's quorum of distinct approvers. A denial
/// counts when its signer is an approver listed at the level it names.
pub fn tally(
    gov: &Governance,
    since: Option<&[ApproverSince]>,
    request: &SignedRequest,
    decisions: &[&SignedDecision],
    now: Option<u64>,
) -> Result<Tally> {
    let req = request.request();
    for d in decisions {
        if d.decision().ring != req.ring || d.decision().request != request.hash() {
            return Err(unsatisfied(
                "an approval names another ring or another request",
            ));
        }
    }
    let level_index = |name: &str| gov.policy.levels.iter().position(|l| l.name == name);
    let mut denied = None;
    for d in decisions
        .iter()
        .filter(|d| d.decision().verdict == Verdict::Deny)
    {
        let listed = level_index(&d.decision().level)
            .and_then(|i| gov.policy.levels.get(i))
            .is_some_and(|l| l.approvers.binary_search(&d.approver().id()).is_ok());
        if listed && gov.role_of(d.approver()) == Some(Role::Approver) {
            denied = Some(d.hash());
            break;
        }
    }
    // Deterministic order: by time, then hash.
    let mut approvals: Vec<&SignedDecision> = decisions
        .iter()
        .filter(|d| d.decision().verdict == Verdict::Approve)
        .copied()
        .collect();
    approvals.sort_by_key(|a| (a.decision().time, a.hash()));
    let mut used: Vec<IdentityId> = Vec::new();
    let mut levels: Vec<LevelTally> = Vec::with_capacity(gov.policy.levels.len());
    for (i, level) in gov.policy.levels.iter().enumerate() {
        let mut t = LevelTally {
            name: level.name.clone(),
            quorum: level.quorum,
            counted: Vec::new(),
            approvers: Vec::new(),
            refused: None,
        };
        let prev = i.checked_sub(1).and_then(|p| levels.get(p));
        for a in approvals
            .iter()
            .filter(|a| level_index(&a.decision().level) == Some(i))
        {
            let id = a.approver().id();
            let mut why = refusal(gov, since, request, a, i, now);
            if why.is_none() && used.contains(&id) {
                why = Some("an approver counts only once across all levels (duplicate approver)");
            }
            if why.is_none() {
                why = match prev {
                    None if !a.decision().chained.is_empty() => {
                        Some("a first-level approval chains no earlier approvals")
                    }
                    None => None,
                    Some(p) => {
                        let mut distinct: Vec<IdentityId> = Vec::new();
                        for (h, who) in p.counted.iter().zip(&p.approvers) {
                            if a.decision().chained.binary_search(h).is_ok()
                                && !distinct.contains(who)
                            {
                                distinct.push(*who);
                            }
                        }
                        (distinct.len() < usize::from(p.quorum)).then_some(
                            "an approval is not chained to the quorum of the level before it",
                        )
                    }
                };
            }
            match why {
                None => {
                    t.counted.push(a.hash());
                    t.approvers.push(id);
                    used.push(id);
                }
                Some(reason) => {
                    t.refused.get_or_insert(reason);
                }
            }
        }
        levels.push(t);
    }
    // An approver's approvals at later levels were refused as duplicates above; its
    // approvals at earlier levels than one it already counted at cannot exist (levels are
    // counted in order).
    Ok(Tally { levels, denied })
}

/// Checks the request and approvals a governance record carries ([`crate::ring::ApprovalRef`]:
/// `evidence[0]` is the request, the rest are approvals) without a request log: what every
/// reader can check. [`crate::ring::Ring::load`] uses it.
#[derive(Clone, Copy, Debug, Default)]
pub struct EvidenceQuorum;

/// The request and approvals a governance record carries, parsed and checked against the
/// query (request hash, ring, kind, content hash).
pub(crate) fn carried(query: &QuorumQuery<'_>) -> Result<(SignedRequest, Vec<SignedDecision>)> {
    let Some(a) = &query.candidate.approval else {
        return Err(unsatisfied(
            "this change needs approvals meeting the ring's policy but carries none: log a request and collect them first",
        ));
    };
    let Some((first, rest)) = a.evidence.split_first() else {
        return Err(unsatisfied(
            "a governance record's approval carries no request",
        ));
    };
    let request = SignedRequest::parse(first)?;
    if query.base.role_of(request.author()) != Some(Role::Admin) {
        return Err(unsatisfied(
            "a governance change request must be made by an admin of the version it changes",
        ));
    }
    if request.hash() != a.request || request.request().ring != query.candidate.ring {
        return Err(unsatisfied(
            "the request a governance record carries is not the one it names",
        ));
    }
    match request.request().kind {
        RequestKind::Governance { content_hash } if content_hash == query.content_hash => {}
        _ => {
            return Err(unsatisfied(
                "the approved request proposes other content than this governance version",
            ));
        }
    }
    let approvals = rest
        .iter()
        .map(|e| SignedDecision::parse(e))
        .collect::<Result<Vec<_>>>()?;
    Ok((request, approvals))
}

impl QuorumCheck for EvidenceQuorum {
    fn check(&self, query: &QuorumQuery<'_>) -> Result<()> {
        let (request, approvals) = carried(query)?;
        let refs: Vec<&SignedDecision> = approvals.iter().collect();
        let since = (!query.carried_out).then_some(query.approver_since);
        tally(query.base, since, &request, &refs, None)?.require()
    }
}
