//! Elevated access: requests, approvals and denials in the ring's request log, grants that
//! key holders issue into the key state, and the requester's session that unseals inside a
//! grant's bounds and window, auditing each unseal first.
//!
//! The same approval objects approve the governance changes that need a quorum:
//! [`EvidenceQuorum`] checks what a governance record carries (every reader), and
//! [`RequestLog::quorum_check`] also reads the log for denials (key holders, the admin's
//! tool).

mod grant;
mod log;
mod quorum;
mod request;
mod session;

pub use grant::{Grant, GrantId, GrantPart, MAX_GRANT_PARTS, SignedGrant};
pub use log::{LogEntry, LogRecord, QuorumCheckLog, RequestLog, RequestState, RequestStatus};
pub use quorum::{EvidenceQuorum, LevelTally, Tally, tally};
pub use request::{
    Decision, MAX_DURATION_SECS, MAX_REASON_LEN, MAX_SCOPE_EPOCHS, MAX_SKEW_SECS, Request,
    RequestId, RequestKind, Scope, SignedDecision, SignedRequest, Verdict,
};
pub use session::GrantSession;

pub(crate) use grant::{readable_within, scope_ranges, window_in};
pub(crate) use log::check_request_time;
