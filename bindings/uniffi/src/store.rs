//! Stores: the embedded file store, a memory store, and stores written in the foreign
//! language ([`ForeignStore`], over the host's foreign-store primitives).

use std::sync::Arc;

use dkm_core::ErrorKind;
use dkm_host::{ForeignAdapter, HostError, SharedStore};

use crate::error::{DkmError, ForeignError};

/// Where a host keeps its rings, their audit chains and request logs. One store may serve
/// several hosts.
#[derive(uniffi::Object)]
pub struct Store {
    pub(crate) inner: SharedStore,
}

#[uniffi::export]
impl Store {
    /// The file store in directory `path` (the `dkm` command's store: SPEC §14), created on
    /// first use.
    #[uniffi::constructor]
    pub fn file(path: String) -> Arc<Store> {
        Arc::new(Store {
            inner: Arc::new(dkm_host::FileStore::new(path)),
        })
    }

    /// A store in memory: every write atomic, gone with the object (rings move in and out by
    /// snapshot).
    #[uniffi::constructor]
    pub fn memory() -> Arc<Store> {
        Arc::new(Store {
            inner: Arc::new(dkm_host::MemoryStore::new()),
        })
    }

    /// The store a `dkm --store` location names: a directory path, `file://PATH`,
    /// `etcd://HOST:PORT[,HOST:PORT...]/PREFIX` or `etcds://...` (docs/etcd.md; `password` is
    /// the etcd user's, never part of the URL). Connecting to etcd waits at most the URL's
    /// timeout (5 s by default) and fails `StoreUnavailable`; another `SCHEME:` is
    /// `InvalidInput`.
    #[uniffi::constructor(default(password = None))]
    pub fn open(location: String, password: Option<String>) -> Result<Arc<Store>, DkmError> {
        let password = password.map(zeroize::Zeroizing::new);
        Ok(Arc::new(Store {
            inner: dkm_host::store::open(&location, password.as_ref().map(|p| p.as_str()))?,
        }))
    }

    /// A store written in the foreign language: `store` gives the primitives (a ring's bytes
    /// with a change token, two append-only line streams, one atomic commit); heads, audit
    /// records and every check stay in dkm. Its methods may be called from several threads
    /// at once, and no lock of the host is held while they run (a method may itself call the
    /// host). Its `location()` is read once, here (a failure is `StoreUnavailable`).
    #[uniffi::constructor]
    pub fn foreign(store: Arc<dyn ForeignStore>) -> Result<Arc<Store>, DkmError> {
        let location = store.location().map_err(|e| failed("location", e, false))?;
        Ok(Arc::new(Store {
            inner: Arc::new(ForeignAdapter::new(Foreign { store, location })),
        }))
    }

    /// The names of the rings it holds.
    pub fn names(&self) -> Result<Vec<String>, DkmError> {
        Ok(self.inner.rings()?)
    }

    /// Where it is, as the pin book records it (`file:/abs/dir`, `memory:...`,
    /// `foreign:LOCATION`).
    pub fn location(&self) -> String {
        self.inner.location()
    }
}

/// One of a ring's two line streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Stream {
    /// The audit chain: one audit record's JSON form a line (SPEC §13).
    Audit,
    /// The request log: one frame's JSON line a line (SPEC §14).
    Requests,
}

impl From<dkm_host::Stream> for Stream {
    fn from(s: dkm_host::Stream) -> Stream {
        match s {
            dkm_host::Stream::Audit => Stream::Audit,
            dkm_host::Stream::Requests => Stream::Requests,
        }
    }
}

/// A ring as a foreign store holds it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StoredRing {
    /// The ring's bytes.
    pub bytes: Vec<u8>,
    /// Its change token: any string that changes whenever the bytes change (a version
    /// column, an etag, a revision).
    pub token: String,
}

/// The ring bytes of a [`Commit`].
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct RingWrite {
    /// The token the ring must still have; absent: the ring must not exist (a create).
    pub expected_token: Option<String>,
    /// The new ring bytes (the store makes a new token for them).
    pub bytes: Vec<u8>,
}

/// Lines to append to one stream of a [`Commit`].
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Append {
    /// The stream.
    pub stream: Stream,
    /// The line count the write was computed from: the stream must still hold exactly this
    /// many lines.
    pub expected_count: i64,
    /// The lines, in order (JSON, no newline).
    pub lines: Vec<String>,
}

/// One atomic write of a ring: check every expectation, then apply every change, or apply
/// nothing and throw `ForeignError.Conflict`.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Commit {
    /// The ring written, if any.
    pub ring: Option<RingWrite>,
    /// Lines appended to the streams.
    pub appends: Vec<Append>,
    /// After the write, the ring and both streams move to this name (a rename); the name
    /// must hold no ring (else `Conflict`).
    pub move_to: Option<String>,
}

/// What a store written in the foreign language gives: primitives only. Every method may
/// throw `ForeignError.Unavailable`; `commit` also `ForeignError.Conflict`. Any other
/// exception the generated code catches (Kotlin `Exception`, Ruby `StandardError`) counts as
/// `Unavailable`. Counts and indexes are `i64` (Java can call them; a negative count is
/// refused as `StoreUnavailable`).
#[uniffi::export(with_foreign)]
pub trait ForeignStore: Send + Sync {
    /// Ring `name`'s bytes and change token, or nothing when it does not exist.
    fn ring(&self, name: String) -> Result<Option<StoredRing>, ForeignError>;
    /// How many lines `stream` of ring `name` holds (0 when none).
    fn line_count(&self, name: String, stream: Stream) -> Result<i64, ForeignError>;
    /// The last line of `stream`, if any.
    fn last_line(&self, name: String, stream: Stream) -> Result<Option<String>, ForeignError>;
    /// The lines of `stream` from index `from` (0-based) to the end.
    fn lines_from(
        &self,
        name: String,
        stream: Stream,
        from: i64,
    ) -> Result<Vec<String>, ForeignError>;
    /// Carries out `commit` atomically for ring `name`, then returns `true`. Anything else is
    /// taken as nothing written (`StoreUnavailable`): a method that died without returning
    /// (a JVM `Error`, a Ruby `Interrupt`, which the generated code does not catch) leaves
    /// the default `false`, so it is never mistaken for a write.
    fn commit(&self, name: String, commit: Commit) -> Result<bool, ForeignError>;
    /// The names of the rings it holds.
    fn names(&self) -> Result<Vec<String>, ForeignError>;
    /// Where it is, stable across processes (a database and table, a bucket and prefix):
    /// read once, when the store is made.
    fn location(&self) -> Result<String, ForeignError>;
}

/// A foreign store as the host's [`dkm_host::ForeignStore`].
struct Foreign {
    store: Arc<dyn ForeignStore>,
    location: String,
}

/// A foreign store's failure as the host's error: only a commit may lose a race.
fn failed(method: &str, e: ForeignError, may_conflict: bool) -> HostError {
    match e {
        ForeignError::Conflict { reason } if may_conflict => {
            HostError::new(ErrorKind::Conflict, format!("the store's commit: {reason}"))
        }
        ForeignError::Conflict { reason } => HostError::new(
            ErrorKind::StoreUnavailable,
            format!("the store's {method} reported a conflict, which only commit may: {reason}"),
        ),
        ForeignError::Unavailable { reason } => HostError::new(
            ErrorKind::StoreUnavailable,
            format!("the store's {method}: {reason}"),
        ),
    }
}

impl dkm_host::ForeignStore for Foreign {
    fn ring(&self, name: &str) -> dkm_host::Result<Option<(Vec<u8>, String)>> {
        let r = self
            .store
            .ring(name.to_owned())
            .map_err(|e| failed("ring", e, false))?;
        Ok(r.map(|r| (r.bytes, r.token)))
    }

    fn line_count(&self, name: &str, stream: dkm_host::Stream) -> dkm_host::Result<u64> {
        let n = self
            .store
            .line_count(name.to_owned(), stream.into())
            .map_err(|e| failed("line_count", e, false))?;
        u64::try_from(n).map_err(|_| {
            HostError::new(
                ErrorKind::StoreUnavailable,
                format!("the store's line_count returned {n}, a negative count"),
            )
        })
    }

    fn last_line(&self, name: &str, stream: dkm_host::Stream) -> dkm_host::Result<Option<String>> {
        self.store
            .last_line(name.to_owned(), stream.into())
            .map_err(|e| failed("last_line", e, false))
    }

    fn lines_from(
        &self,
        name: &str,
        stream: dkm_host::Stream,
        from: u64,
    ) -> dkm_host::Result<Vec<String>> {
        let from = i64::try_from(from)
            .map_err(|_| HostError::new(ErrorKind::StoreUnavailable, "a stream index past 2^63"))?;
        self.store
            .lines_from(name.to_owned(), stream.into(), from)
            .map_err(|e| failed("lines_from", e, false))
    }

    fn commit(&self, name: &str, commit: &dkm_host::Commit) -> dkm_host::Result<()> {
        let c = Commit {
            ring: commit.ring.as_ref().map(|w| RingWrite {
                expected_token: w.expected_token.clone(),
                bytes: w.bytes.clone(),
            }),
            appends: commit
                .appends
                .iter()
                .map(|(stream, expected, lines)| {
                    Ok(Append {
                        stream: (*stream).into(),
                        expected_count: i64::try_from(*expected).map_err(|_| {
                            HostError::new(ErrorKind::StoreUnavailable, "a stream past 2^63 lines")
                        })?,
                        lines: lines.clone(),
                    })
                })
                .collect::<dkm_host::Result<_>>()?,
            move_to: commit.move_to.clone(),
        };
        let written = self
            .store
            .commit(name.to_owned(), c)
            .map_err(|e| failed("commit", e, true))?;
        if !written {
            return Err(HostError::new(
                ErrorKind::StoreUnavailable,
                "the store's commit did not return true: nothing is taken as written",
            ));
        }
        Ok(())
    }

    fn names(&self) -> dkm_host::Result<Vec<String>> {
        self.store.names().map_err(|e| failed("names", e, false))
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}
