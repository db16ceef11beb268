#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod access;
pub mod audit;
mod encoding;
pub mod error;
pub mod identity;
pub mod keys;
pub mod labels;
pub mod ring;
#[cfg(feature = "std")]
pub mod rng;
pub mod sealed;
pub mod secret;
#[cfg(all(test, feature = "std"))]
mod testvectors;
pub mod tree;
pub mod xaes;

pub use access::{
    EvidenceQuorum, GrantId, GrantSession, RequestId, RequestLog, Scope, SignedDecision,
    SignedGrant, SignedRequest, Verdict,
};
pub use audit::{AuditLog, AuditRecord, AuditSink, audit_verify, audit_verify_tail};
pub use error::{Error, ErrorKind, Result};
pub use identity::{Identity, IdentityId, PublicIdentity, SigDomain};
pub use keys::{EpochKeys, IntervalKeys, KeyId, RingId, SealOnlyKey};
pub use ring::{
    Event, KeyHolder, KeyListing, Maintenance, NoApprovals, Pin, Policy, QuorumCheck, QuorumQuery,
    Ring, RingPublic, Role,
};
pub use sealed::{GcmParts, Opened, SealedSecret, Suite, armor, dearmor, decode_any};
pub use secret::Secret32;
pub use tree::{Node, NodePos, NodeSet, Schedule, cover};

/// The `rand_core` version dkm's RNG arguments use.
pub use rand_core;
