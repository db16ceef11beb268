//! dkm for browsers, Node and edge runtimes: the host's verbs through wasm-bindgen.
//!
//! Conversion only: every rule of the ring lives in `dkm-core`, and every verb, the memory
//! store, the foreign-store primitives and the snapshot host for asynchronous storage in
//! `dkm-host` (built without default features: no file store, no OS randomness). This crate
//! turns JS values into the host's arguments and its results and errors back into JS values.
//! Randomness comes from `crypto.getRandomValues`; there is no clock inside: JS passes the
//! time (`Date.now()` unless a host is given a clock). The npm package (`wasm/js`) wraps
//! these exports in its `Host` and `AsyncHost` classes.

mod convert;
mod entropy;
mod host;
mod identity;
mod store;
mod testing;

pub use convert::{error_kinds, set_error_class};
pub use host::{NativeHost, NativeSnapshotHost, PendingResult};
pub use identity::{Identity, MemoryPins, PublicIdentity, RingPublic, Unsealed};
pub use store::MemoryStore;
