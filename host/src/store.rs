//! The `Store` trait: per ring, three streams (the ring itself, compare-and-swap by version;
//! its audit chain; its request log), each write with its audit records landing together or
//! not at all; and the line forms every store keeps (request-log lines, ring names). The
//! stores: [`crate::FileStore`] (embedded default), [`crate::MemoryStore`],
//! [`crate::ForeignAdapter`] over a binding's store.

use base64ct::{Base64UrlUnpadded, Encoding};
use dkm_core::ErrorKind;
use dkm_core::access::LogEntry;
use dkm_core::audit::AuditRecord;
use dkm_core::ring::Anchor;

use crate::error::{HostError, Result};

/// Builds the audit records of a write once the store knows the audit head.
pub type AuditBuilder<'a> = &'a dyn Fn(Anchor) -> dkm_core::Result<Vec<AuditRecord>>;

/// Where rings live: per ring, the ring itself (compare-and-swap by version), its audit chain
/// (append only at the expected head) and its request log (append only at the expected
/// head).
pub trait Store {
    /// The ring's bytes and version, if it exists.
    fn load(&self, ring: &str) -> Result<Option<(Vec<u8>, u64)>>;

    /// Writes the ring if its version is still `expected` (`None`: it must not exist yet),
    /// then appends the audit records `audit` builds at the audit head, under one lock: a
    /// lost race ([`ErrorKind::Conflict`]) writes and appends nothing. Returns the new
    /// version.
    fn compare_and_swap(
        &self,
        ring: &str,
        expected: Option<u64>,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
    ) -> Result<u64>;

    /// Like [`Store::compare_and_swap`] for a write that renames the ring: the ring, its
    /// audit chain and its request log move from `ring` to `to` (which must not exist) in the
    /// same write, so the ring is found under the name it is signed with. Returns the new
    /// version.
    fn compare_and_swap_moving(
        &self,
        ring: &str,
        to: &str,
        expected: u64,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
    ) -> Result<u64>;

    /// Creates ring `ring`, which must not exist (`InvalidInput`), with its audit chain and
    /// request log at once (an import): all three streams land, or nothing does. Returns
    /// the new version.
    fn create_with_streams(
        &self,
        ring: &str,
        bytes: &[u8],
        audit: &[AuditRecord],
        requests: &[LogEntry],
    ) -> Result<u64>;

    /// The audit chain's lines (JSON form), oldest first.
    fn read_audit(&self, ring: &str) -> Result<Vec<String>>;

    /// Appends `records` if the audit head is still `expected` (else `Conflict`).
    fn append_audit(&self, ring: &str, expected: Anchor, records: &[AuditRecord]) -> Result<()>;

    /// The request log's frames, oldest first.
    fn read_requests(&self, ring: &str) -> Result<Vec<Vec<u8>>>;

    /// Appends `frame` if the request log's head is still the one it follows (else
    /// `Conflict`), then the audit records `audit` builds, under one lock.
    fn append_request(&self, ring: &str, frame: &LogEntry, audit: AuditBuilder<'_>) -> Result<()>;

    /// A cheap fingerprint of ring `ring` and its request log that changes whenever either
    /// does, built only from what the store's writer cannot forge (for files: identity, size,
    /// modification and change times; never a number inside a file). `None`: unknown or a
    /// write in progress (the host then loads and verifies the ring in full). The host keeps
    /// verified rings while their fingerprint stays the same.
    fn stamp(&self, ring: &str) -> Result<Option<Vec<u8>>> {
        let _ = ring;
        Ok(None)
    }

    /// The rings in the store.
    fn rings(&self) -> Result<Vec<String>>;

    /// Where the store is (for the pin book's record of which ring a name held).
    fn location(&self) -> String;

    /// Where the store announces rings other writers changed (the etcd store's watch), so a
    /// host can reload them before its next operation needs them ([`crate::Host::spawn_refresher`]).
    /// `None` (the default): the store does not know.
    fn change_feed(&self) -> Option<ChangeFeed> {
        None
    }
}

/// Names of rings a store saw change, for a host's refresher to collect.
#[derive(Clone, Default)]
pub struct ChangeFeed {
    inner: std::sync::Arc<(
        std::sync::Mutex<std::collections::BTreeSet<String>>,
        std::sync::Condvar,
    )>,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangeFeed")
    }
}

impl ChangeFeed {
    fn names(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        // A set of names: a panic cannot leave it half-changed in a way that matters.
        self.inner
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Announces that ring `name` changed.
    pub fn notify(&self, name: &str) {
        self.names().insert(name.to_owned());
        self.inner.1.notify_all();
    }

    /// The rings announced since the last call, waiting up to `timeout` for one.
    pub fn wait(&self, timeout: std::time::Duration) -> Vec<String> {
        let mut names = self.names();
        if names.is_empty() {
            names = match self.inner.1.wait_timeout(names, timeout) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        std::mem::take(&mut *names).into_iter().collect()
    }
}

/// A shared store is a store (several hosts over one memory store, a binding's handle).
/// Any store behind one pointer: what a binding's hosts run on when they take stores of
/// several kinds (and what a [`crate::SnapshotHost`] operation runs on).
pub type SharedStore = std::sync::Arc<dyn Store + Send + Sync>;

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn load(&self, ring: &str) -> Result<Option<(Vec<u8>, u64)>> {
        (**self).load(ring)
    }
    fn compare_and_swap(
        &self,
        ring: &str,
        expected: Option<u64>,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
    ) -> Result<u64> {
        (**self).compare_and_swap(ring, expected, bytes, audit)
    }
    fn compare_and_swap_moving(
        &self,
        ring: &str,
        to: &str,
        expected: u64,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
    ) -> Result<u64> {
        (**self).compare_and_swap_moving(ring, to, expected, bytes, audit)
    }
    fn create_with_streams(
        &self,
        ring: &str,
        bytes: &[u8],
        audit: &[AuditRecord],
        requests: &[LogEntry],
    ) -> Result<u64> {
        (**self).create_with_streams(ring, bytes, audit, requests)
    }
    fn read_audit(&self, ring: &str) -> Result<Vec<String>> {
        (**self).read_audit(ring)
    }
    fn append_audit(&self, ring: &str, expected: Anchor, records: &[AuditRecord]) -> Result<()> {
        (**self).append_audit(ring, expected, records)
    }
    fn read_requests(&self, ring: &str) -> Result<Vec<Vec<u8>>> {
        (**self).read_requests(ring)
    }
    fn append_request(&self, ring: &str, frame: &LogEntry, audit: AuditBuilder<'_>) -> Result<()> {
        (**self).append_request(ring, frame, audit)
    }
    fn stamp(&self, ring: &str) -> Result<Option<Vec<u8>>> {
        (**self).stamp(ring)
    }
    fn rings(&self) -> Result<Vec<String>> {
        (**self).rings()
    }
    fn location(&self) -> String {
        (**self).location()
    }
    fn change_feed(&self) -> Option<ChangeFeed> {
        (**self).change_feed()
    }
}

/// The store a location names, as the `dkm` command's `--store` takes it: `etcd://` or
/// `etcds://` (the `etcd` feature; `etcd_password` for a URL with `user=`), `file://PATH`, or a
/// plain path (the file store; the `file-store` feature). Any other `SCHEME://` is an error,
/// never a directory named after it.
pub fn open(location: &str, etcd_password: Option<&str>) -> Result<SharedStore> {
    let unknown = |what: &str| {
        HostError::new(
            ErrorKind::InvalidInput,
            format!("{what}: use a directory, file://PATH, etcd://HOST:PORT/PREFIX or etcds://"),
        )
    };
    if location.is_empty() {
        return Err(unknown("an empty store location"));
    }
    if location.starts_with("etcd://") || location.starts_with("etcds://") {
        #[cfg(feature = "etcd")]
        return Ok(std::sync::Arc::new(crate::etcd::EtcdStore::open_url(
            location,
            etcd_password,
        )?));
        #[cfg(not(feature = "etcd"))]
        return Err(HostError::new(
            ErrorKind::Unsupported,
            "this build of dkm has no etcd store (the dkm-host `etcd` feature)",
        ));
    }
    let _ = etcd_password;
    // `SCHEME:` (two or more letters, digits, `+ . -`, starting with a letter) reads as a
    // URL: refused unless it is file://, so a mistyped URL never becomes a directory (a
    // directory whose name has a colon is spelled ./NAME).
    let scheme = location.split_once(':').map(|(s, _)| s).filter(|s| {
        s.len() >= 2
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
    });
    let path = match (location.strip_prefix("file://"), scheme) {
        (Some(p), _) => p,
        (None, Some(s)) => {
            return Err(unknown(&format!(
                "unknown store scheme {s:?} in {location:?} (a directory with a colon in its name: ./{location})"
            )));
        }
        (None, None) => location,
    };
    if path.is_empty() {
        return Err(unknown("file:// without a path"));
    }
    #[cfg(all(feature = "file-store", unix))]
    return Ok(std::sync::Arc::new(crate::FileStore::new(path)));
    #[cfg(not(all(feature = "file-store", unix)))]
    return Err(HostError::new(
        ErrorKind::Unsupported,
        "this build of dkm has no file store (the dkm-host `file-store` feature, Unix)",
    ));
}

/// Aborts the process at a named point when `DKM_FAILPOINT` names it (crash-safety tests).
pub fn failpoint(name: &str) {
    if std::env::var("DKM_FAILPOINT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// Every failpoint of the writes every ring sees, in the order a ring write, audit append
/// and request append hit them (a rename adds [`MOVE_FAILPOINT`]).
pub const FAILPOINTS: &[&str] = &[
    "ring-temp-written",
    "ring-renamed",
    "ring-committed",
    "audit-line-torn",
    "audit-appended",
    "request-line-torn",
    "request-appended",
];

/// The failpoint of a write that renames the ring, after its directory moved and before its
/// journal is dropped (after `audit-appended`).
pub const MOVE_FAILPOINT: &str = "ring-moved";

/// A ring name: 1 to 64 of `A-Z a-z 0-9 - _ .`, not starting with `.`.
pub fn check_ring_name(name: &str) -> Result<()> {
    if crate::error::looks_secret(name) {
        return Err(HostError::new(
            ErrorKind::InvalidInput,
            "a ring name may not look like a secret identity (dkmsec...)",
        ));
    }
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(HostError::new(
            ErrorKind::InvalidInput,
            format!(
                "invalid ring name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'"
            ),
        ))
    }
}

/// The JSON line of a request-log frame.
pub fn request_line(e: &LogEntry) -> String {
    let (kind, record) = match e.record() {
        dkm_core::access::LogRecord::Request { request, .. } => ("request", request.hash()),
        dkm_core::access::LogRecord::Decision(d) => ("decision", d.hash()),
    };
    format!(
        "{{\"seq\":{},\"kind\":\"{kind}\",\"record\":\"{}\",\"hash\":\"{}\",\"frame\":\"{}\"}}",
        e.seq(),
        hex::encode(record),
        hex::encode(e.hash()),
        Base64UrlUnpadded::encode_string(e.as_bytes())
    )
}

/// The request-log frame of a line, which must be exactly [`request_line`] of it: the
/// readable fields (`seq`, `kind`, `record`, `hash`) cannot say anything the frame does not
/// (`Tampered`), and a line ends with `\n` alone.
pub fn entry_of_line(line: &str) -> Result<LogEntry> {
    let frame = frame_of_line(line)?;
    let ring = dkm_core::RingId(
        frame
            .get(1..17)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                HostError::new(ErrorKind::Malformed, "a request-log frame is truncated")
            })?,
    );
    let entry = LogEntry::parse(ring, &frame)?;
    if request_line(&entry) != line {
        return Err(HostError::new(
            ErrorKind::Tampered,
            format!(
                "request-log line {} differs from its frame (edited readable fields or line end)",
                entry.seq()
            ),
        ));
    }
    Ok(entry)
}

/// The frame bytes of a request-log line (its `frame` field; see [`entry_of_line`] for the
/// checked form).
pub fn frame_of_line(line: &str) -> Result<Vec<u8>> {
    let bad = || {
        HostError::new(
            ErrorKind::Malformed,
            "a requests.jsonl line is not a dkm request-log frame",
        )
    };
    let v: serde_json::Value = serde_json::from_str(line).map_err(|_| bad())?;
    let frame = v.get("frame").and_then(|f| f.as_str()).ok_or_else(bad)?;
    Base64UrlUnpadded::decode_vec(frame).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_location_that_is_not_a_store_is_refused() {
        for bad in [
            "",
            "foo://x",
            "s3://b/p",
            "etcd:/x",
            "etcd:x",
            "file://",
            "HTTP://h/p",
        ] {
            let e = open(bad, None).err().unwrap();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
        }
        // Paths: plain, relative, ./a:b, a Windows-like drive letter is one letter.
        for good in ["store", "./a:b", "/tmp/x", "file:///tmp/x"] {
            let _ = open(good, None).unwrap();
        }
    }
}
