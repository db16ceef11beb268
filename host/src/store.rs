//! The `Store` trait (three streams per ring) and the embedded file store.
//!
//! ```text
//! <root>/<ring>/ring            "DKMS" ‖ version (u64 BE) ‖ ring blob   (replaced atomically)
//! <root>/<ring>/audit.jsonl     one audit record a line (its JSON form)
//! <root>/<ring>/requests.jsonl  one request-log frame a line
//! <root>/<ring>/lock            the advisory lock (flock) of the ring
//! ```
//!
//! A ring write goes to a temporary file that is fsynced, renamed over `ring`, and the
//! directory fsynced; the lock is held across the compare-and-swap and the audit append that
//! goes with it (one lock per ring, so the order is fixed). A crash leaves the old or the new
//! ring, never a torn one; a torn last line of a `.jsonl` file is an append that did not
//! happen: readers skip it and the next append cuts it off.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

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

    /// The audit chain's lines (JSON form), oldest first.
    fn read_audit(&self, ring: &str) -> Result<Vec<String>>;

    /// Appends `records` if the audit head is still `expected` (else `Conflict`).
    fn append_audit(&self, ring: &str, expected: Anchor, records: &[AuditRecord]) -> Result<()>;

    /// The request log's frames, oldest first.
    fn read_requests(&self, ring: &str) -> Result<Vec<Vec<u8>>>;

    /// Appends `frame` if the request log's head is still the one it follows (else
    /// `Conflict`), then the audit records `audit` builds, under one lock.
    fn append_request(&self, ring: &str, frame: &LogEntry, audit: AuditBuilder<'_>) -> Result<()>;

    /// The rings in the store.
    fn rings(&self) -> Result<Vec<String>>;

    /// Where the store is (for the pin book's record of which ring a name held).
    fn location(&self) -> String;
}

/// Aborts the process at a named point when `DKM_FAILPOINT` names it (crash-safety tests).
pub fn failpoint(name: &str) {
    if std::env::var("DKM_FAILPOINT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// Every failpoint, in the order a ring write, audit append and request append hit them.
pub const FAILPOINTS: &[&str] = &[
    "ring-temp-written",
    "ring-renamed",
    "ring-committed",
    "audit-line-torn",
    "audit-appended",
    "request-line-torn",
    "request-appended",
];

const RING_MAGIC: &[u8; 4] = b"DKMS";
/// Longest ring file the store reads.
const MAX_RING_FILE: u64 = 16 * 1024 * 1024;

/// A ring name: 1 to 64 of `A-Z a-z 0-9 - _ .`, not starting with `.`.
pub fn check_ring_name(name: &str) -> Result<()> {
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

/// The embedded file store.
#[derive(Clone, Debug)]
pub struct FileStore {
    root: PathBuf,
}

struct Locked {
    _file: File,
}

impl FileStore {
    /// A store rooted at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> FileStore {
        FileStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, ring: &str) -> Result<PathBuf> {
        check_ring_name(ring)?;
        Ok(self.root.join(ring))
    }

    fn lock(&self, dir: &Path) -> Result<Locked> {
        fs::create_dir_all(dir).map_err(|e| HostError::io("cannot create", dir, &e))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| HostError::io("cannot open", &path, &e))?;
        file.lock()
            .map_err(|e| HostError::io("cannot lock", &path, &e))?;
        Ok(Locked { _file: file })
    }

    fn read_ring_file(path: &Path) -> Result<Option<(Vec<u8>, u64)>> {
        let mut f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(HostError::io("cannot read", path, &e)),
        };
        let mut bytes = Vec::new();
        Read::by_ref(&mut f)
            .take(MAX_RING_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| HostError::io("cannot read", path, &e))?;
        if bytes.len() as u64 > MAX_RING_FILE {
            return Err(HostError::new(
                ErrorKind::TooLarge,
                format!("{} is larger than 16 MiB", path.display()),
            ));
        }
        let bad = || {
            HostError::new(
                ErrorKind::Malformed,
                format!("{} is not a dkm store ring file", path.display()),
            )
        };
        let (magic, rest) = bytes.split_first_chunk::<4>().ok_or_else(bad)?;
        if magic != RING_MAGIC {
            return Err(bad());
        }
        let (version, blob) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        Ok(Some((blob.to_vec(), u64::from_be_bytes(*version))))
    }

    fn sync_dir(dir: &Path) -> Result<()> {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| HostError::io("cannot sync", dir, &e))
    }

    /// Complete lines of a `.jsonl` file (a torn last line is skipped).
    fn read_lines(path: &Path) -> Result<Vec<String>> {
        let text = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(HostError::io("cannot read", path, &e)),
        };
        let complete = match text.iter().rposition(|b| *b == b'\n') {
            Some(i) => text.get(..=i).unwrap_or_default(),
            None => &[],
        };
        let text = std::str::from_utf8(complete).map_err(|_| {
            HostError::new(
                ErrorKind::Malformed,
                format!("{} is not UTF-8", path.display()),
            )
        })?;
        Ok(text.lines().map(str::to_owned).collect())
    }

    /// Appends `lines` (each without newline) to a `.jsonl` file, cutting off a torn last
    /// line first, and syncs it. `torn` is the failpoint hit after half of the first line.
    fn append_lines(path: &Path, lines: &[String], torn: &str) -> Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| HostError::io("cannot open", path, &e))?;
        let mut existing = Vec::new();
        f.read_to_end(&mut existing)
            .map_err(|e| HostError::io("cannot read", path, &e))?;
        let keep = existing
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        if keep != existing.len() {
            f.set_len(keep as u64)
                .map_err(|e| HostError::io("cannot repair", path, &e))?;
        }
        f.seek(SeekFrom::Start(keep as u64))
            .map_err(|e| HostError::io("cannot seek", path, &e))?;
        let mut out = String::new();
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        if std::env::var("DKM_FAILPOINT").is_ok_and(|v| v == torn) {
            let half = out.len() / 2;
            let _ = f.write_all(out.as_bytes().get(..half).unwrap_or_default());
            let _ = f.sync_data();
            std::process::abort();
        }
        f.write_all(out.as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(|e| HostError::io("cannot write", path, &e))
    }

    fn audit_head(path: &Path) -> Result<Anchor> {
        match Self::read_lines(path)?.last() {
            None => Ok(Anchor::EMPTY),
            Some(l) => Ok(AuditRecord::from_json(l)?.head()),
        }
    }

    fn request_head(path: &Path) -> Result<Anchor> {
        match Self::read_lines(path)?.last() {
            None => Ok(Anchor::EMPTY),
            Some(l) => {
                let frame = frame_of_line(l)?;
                let ring = dkm_core::RingId(
                    frame
                        .get(1..17)
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| {
                            HostError::new(ErrorKind::Malformed, "a request-log frame is truncated")
                        })?,
                );
                Ok(LogEntry::parse(ring, &frame)?.head())
            }
        }
    }

    fn append_audit_locked(dir: &Path, expected: Anchor, records: &[AuditRecord]) -> Result<()> {
        let path = dir.join("audit.jsonl");
        if records.is_empty() {
            return Ok(());
        }
        let head = Self::audit_head(&path)?;
        let first = records.first().map(|r| (r.seq, r.prev));
        if head != expected || first != Some((head.seq.saturating_add(1), head.hash)) {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "the audit chain moved: rebuild the records and retry",
            ));
        }
        let lines: Vec<String> = records.iter().map(AuditRecord::to_json).collect();
        Self::append_lines(&path, &lines, "audit-line-torn")?;
        failpoint("audit-appended");
        Ok(())
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

/// The frame bytes of a request-log line.
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

impl Store for FileStore {
    fn load(&self, ring: &str) -> Result<Option<(Vec<u8>, u64)>> {
        Self::read_ring_file(&self.dir(ring)?.join("ring"))
    }

    fn compare_and_swap(
        &self,
        ring: &str,
        expected: Option<u64>,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
    ) -> Result<u64> {
        let dir = self.dir(ring)?;
        let _lock = self.lock(&dir)?;
        let path = dir.join("ring");
        let current = Self::read_ring_file(&path)?.map(|(_, v)| v);
        if current != expected {
            return Err(HostError::new(
                ErrorKind::Conflict,
                match expected {
                    None => "a ring of that name already exists".to_owned(),
                    Some(_) => "another writer changed the ring: reload and retry".to_owned(),
                },
            ));
        }
        let version = expected
            .map_or(Some(1), |v| v.checked_add(1))
            .ok_or_else(|| {
                HostError::new(
                    ErrorKind::OutOfRange,
                    "the ring's store version is exhausted",
                )
            })?;
        // Build the audit records before anything is written: a builder error writes nothing.
        let audit_path = dir.join("audit.jsonl");
        let head = Self::audit_head(&audit_path)?;
        let records = audit(head)?;
        let tmp = dir.join(format!("ring.tmp.{}", std::process::id()));
        {
            let mut f = File::create(&tmp).map_err(|e| HostError::io("cannot create", &tmp, &e))?;
            f.write_all(RING_MAGIC)
                .and_then(|()| f.write_all(&version.to_be_bytes()))
                .and_then(|()| f.write_all(bytes))
                .and_then(|()| f.sync_all())
                .map_err(|e| HostError::io("cannot write", &tmp, &e))?;
        }
        failpoint("ring-temp-written");
        fs::rename(&tmp, &path).map_err(|e| HostError::io("cannot rename onto", &path, &e))?;
        failpoint("ring-renamed");
        Self::sync_dir(&dir)?;
        failpoint("ring-committed");
        Self::append_audit_locked(&dir, head, &records)?;
        Ok(version)
    }

    fn read_audit(&self, ring: &str) -> Result<Vec<String>> {
        Self::read_lines(&self.dir(ring)?.join("audit.jsonl"))
    }

    fn append_audit(&self, ring: &str, expected: Anchor, records: &[AuditRecord]) -> Result<()> {
        let dir = self.dir(ring)?;
        if !dir.join("ring").exists() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("no ring named {ring:?} in the store"),
            ));
        }
        let _lock = self.lock(&dir)?;
        Self::append_audit_locked(&dir, expected, records)
    }

    fn read_requests(&self, ring: &str) -> Result<Vec<Vec<u8>>> {
        Self::read_lines(&self.dir(ring)?.join("requests.jsonl"))?
            .iter()
            .map(|l| frame_of_line(l))
            .collect()
    }

    fn append_request(&self, ring: &str, frame: &LogEntry, audit: AuditBuilder<'_>) -> Result<()> {
        let dir = self.dir(ring)?;
        if !dir.join("ring").exists() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("no ring named {ring:?} in the store"),
            ));
        }
        let _lock = self.lock(&dir)?;
        let path = dir.join("requests.jsonl");
        let head = Self::request_head(&path)?;
        if frame.seq() != head.seq.saturating_add(1) || frame.prev() != head.hash {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "the request log moved: reload and retry",
            ));
        }
        let audit_path = dir.join("audit.jsonl");
        let audit_head = Self::audit_head(&audit_path)?;
        let records = audit(audit_head)?;
        Self::append_lines(&path, &[request_line(frame)], "request-line-torn")?;
        failpoint("request-appended");
        Self::append_audit_locked(&dir, audit_head, &records)
    }

    fn location(&self) -> String {
        let p = std::path::absolute(&self.root).unwrap_or_else(|_| self.root.clone());
        format!("file:{}", p.display())
    }

    fn rings(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(HostError::io("cannot list", &self.root, &e)),
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            if let Some(name) = e.file_name().to_str()
                && check_ring_name(name).is_ok()
                && e.path().join("ring").exists()
            {
                out.push(name.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }
}
