//! The embedded file store (the `file-store` feature, Unix).
//!
//! ```text
//! <root>/<ring>/ring            "DKMS" ‖ version (u64 BE) ‖ ring blob   (replaced atomically)
//! <root>/<ring>/audit.jsonl     one audit record a line (its JSON form)
//! <root>/<ring>/requests.jsonl  one request-log frame a line
//! <root>/<ring>/lock            the advisory lock (flock) of the ring
//! <root>/<ring>/pending         the journal of a write in progress (see below)
//! ```
//!
//! A ring write goes to a temporary file that is fsynced, renamed over `ring`, and the
//! directory fsynced; the lock is held across the compare-and-swap and the audit append that
//! goes with it (one lock per ring, so the order is fixed). Before the rename, the write's
//! audit records (and for a request, its log line) are journaled in `pending` and fsynced;
//! whoever next takes the lock finishes what the journal says was committed (the ring has the
//! journal's version, or the request line is there) and drops the rest. So a crash leaves the
//! old or the new ring, never a torn one, and never a committed write without its audit
//! records. A torn last line of a `.jsonl` file is an append that did not happen: readers skip
//! it and the next append cuts it off. Every file is opened without following symbolic links
//! and must be a regular file (a store writer cannot redirect writes or hang readers).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use dkm_core::ErrorKind;
use dkm_core::access::LogEntry;
use dkm_core::audit::AuditRecord;
use dkm_core::ring::Anchor;

use crate::error::{HostError, Result};

use crate::store::{
    AuditBuilder, MOVE_FAILPOINT, Store, check_ring_name, entry_of_line, failpoint, request_line,
};

/// Opens `path` without following a symbolic link, without blocking on a FIFO, and checks it
/// is a regular file.
pub(crate) fn open_regular(path: &Path, opts: &mut OpenOptions) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    let f = opts.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

/// Creates `dir` (and its parent store) if needed and checks it is a real directory.
fn ensure_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(HostError::new(
            ErrorKind::StoreUnavailable,
            format!("{} is not a directory (a symbolic link?)", dir.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| HostError::io("cannot create", dir, &e))?;
            if let Some(parent) = dir.parent() {
                FileStore::sync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) => Err(HostError::io("cannot read", dir, &e)),
    }
}

/// The last complete line of a `.jsonl` file, read from its end.
fn last_line(path: &Path) -> Result<Option<String>> {
    let mut f = match open_regular(path, OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(HostError::io("cannot read", path, &e)),
    };
    let len = f
        .metadata()
        .map_err(|e| HostError::io("cannot read", path, &e))?
        .len();
    let mut window: u64 = 4096;
    loop {
        let start = len.saturating_sub(window);
        f.seek(SeekFrom::Start(start))
            .map_err(|e| HostError::io("cannot seek", path, &e))?;
        let mut buf = Vec::new();
        Read::by_ref(&mut f)
            .take(len - start)
            .read_to_end(&mut buf)
            .map_err(|e| HostError::io("cannot read", path, &e))?;
        // Complete lines end with '\n'; a torn tail after the last one is ignored.
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
            if start == 0 {
                return Ok(None);
            }
            window = window.saturating_mul(4);
            continue;
        };
        let body = buf.get(..end).unwrap_or_default();
        match body.iter().rposition(|b| *b == b'\n') {
            Some(i) => {
                let line = body.get(i + 1..).unwrap_or_default();
                return utf8_line(line, path).map(Some);
            }
            None if start == 0 => return utf8_line(body, path).map(Some),
            None => window = window.saturating_mul(4),
        }
        if window > MAX_JSONL_LINE * 2 {
            return Err(HostError::new(
                ErrorKind::TooLarge,
                format!("{} has a line longer than 1 MiB", path.display()),
            ));
        }
    }
}

fn utf8_line(bytes: &[u8], path: &Path) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        HostError::new(
            ErrorKind::Malformed,
            format!("{} is not UTF-8", path.display()),
        )
    })
}

/// Longest `.jsonl` line the store reads from the end.
const MAX_JSONL_LINE: u64 = 1024 * 1024;

const RING_MAGIC: &[u8; 4] = b"DKMS";
/// Longest ring file the store reads: the header and the longest ring blob.
const MAX_RING_FILE: u64 = 12 + crate::input::MAX_RING_BLOB as u64;

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

    /// Takes the ring's lock, then finishes or drops a journaled write a crash interrupted
    /// and removes stale temporary files.
    fn lock(&self, dir: &Path) -> Result<Locked> {
        self.lock_with(dir, false)
    }

    /// The store-wide lock of names, held while a ring is created, imported or renamed, so
    /// that two of them never claim one name. Taken before any ring's lock; `wait: false`
    /// gives `Conflict` at once when it is held (for crash recovery, which runs under a
    /// ring's lock).
    fn names_lock(root: &Path, wait: bool) -> Result<Locked> {
        ensure_dir(root)?;
        let path = root.join(".names.lock");
        let file = open_regular(
            &path,
            OpenOptions::new().create(true).truncate(false).write(true),
        )
        .map_err(|e| HostError::io("cannot open", &path, &e))?;
        if wait {
            file.lock()
                .map_err(|e| HostError::io("cannot lock", &path, &e))?;
        } else if file.try_lock().is_err() {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "a ring of the store is being created or renamed: retry",
            ));
        }
        Ok(Locked { _file: file })
    }

    /// The directory and lock of an existing ring: "no ring" when there is none, `Conflict`
    /// when it moved or went away while the lock was awaited.
    fn lock_ring(&self, ring: &str) -> Result<(PathBuf, Locked)> {
        let dir = self.dir(ring)?;
        if !dir.join("ring").exists() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("no ring named {ring:?} in the store"),
            ));
        }
        let lock = self.lock(&dir)?;
        if !dir.join("ring").exists() {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "the ring moved or was removed: reload and retry",
            ));
        }
        Ok((dir, lock))
    }

    /// [`FileStore::lock`] for a caller that already holds the names lock (`names_held`).
    fn lock_with(&self, dir: &Path, names_held: bool) -> Result<Locked> {
        ensure_dir(&self.root)?;
        if names_held {
            // Only a write that claims the name creates its directory.
            ensure_dir(dir)?;
        } else if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "the ring moved or was removed: reload and retry",
            ));
        }
        let path = dir.join("lock");
        let file = open_regular(
            &path,
            OpenOptions::new().create(true).truncate(false).write(true),
        )
        .map_err(|e| HostError::io("cannot open", &path, &e))?;
        file.lock()
            .map_err(|e| HostError::io("cannot lock", &path, &e))?;
        let locked = Locked { _file: file };
        Self::recover(dir, names_held)?;
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                if e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with("ring.tmp."))
                {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(locked)
    }

    /// Writes the journal of a write: a header line naming what commits it, then the audit
    /// lines.
    fn write_journal(dir: &Path, header: &str, lines: &[String]) -> Result<()> {
        let path = dir.join("pending");
        let _ = fs::remove_file(&path);
        let mut f = open_regular(&path, OpenOptions::new().write(true).create_new(true))
            .map_err(|e| HostError::io("cannot create", &path, &e))?;
        let mut out = String::from(header);
        out.push('\n');
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        f.write_all(out.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| HostError::io("cannot write", &path, &e))?;
        Self::sync_dir(dir)
    }

    fn drop_journal(dir: &Path) -> Result<()> {
        let path = dir.join("pending");
        match fs::remove_file(&path) {
            Ok(()) => Self::sync_dir(dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(HostError::io("cannot remove", &path, &e)),
        }
    }

    /// Finishes a journaled write whose commit point was reached (the ring has the journal's
    /// version, or the request line is in the log): appends the audit records not yet there.
    /// Drops the journal of one that never committed. Called with the lock held.
    fn recover(dir: &Path, names_held: bool) -> Result<()> {
        let path = dir.join("pending");
        let text = match open_regular(&path, OpenOptions::new().read(true)) {
            Ok(mut f) => {
                let mut t = String::new();
                f.read_to_string(&mut t)
                    .map_err(|e| HostError::io("cannot read", &path, &e))?;
                t
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(HostError::io("cannot read", &path, &e)),
        };
        // A journal without its final newline was itself torn: nothing was committed.
        if !text.ends_with('\n') {
            return Self::drop_journal(dir);
        }
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        let damaged =
            || HostError::new(ErrorKind::Malformed, "the store's write journal is damaged");
        // "ring-version N" or "ring-version N move TO" (a write that renames the ring).
        let (header, move_to) = match header.split_once(" move ") {
            Some((h, to)) => {
                check_ring_name(to).map_err(|_| damaged())?;
                (h, Some(to))
            }
            None => (header, None),
        };
        let committed = if let Some(v) = header.strip_prefix("ring-version ") {
            let want: u64 = v.trim().parse().map_err(|_| {
                HostError::new(ErrorKind::Malformed, "the store's write journal is damaged")
            })?;
            Self::read_ring_file(&dir.join("ring"))?.map(|(_, v)| v) == Some(want)
        } else if let Some(seq) = header.strip_prefix("request-seq ") {
            let want: u64 = seq.trim().parse().map_err(|_| {
                HostError::new(ErrorKind::Malformed, "the store's write journal is damaged")
            })?;
            Self::request_head(&dir.join("requests.jsonl"))?.seq >= want
        } else {
            false
        };
        if committed {
            let audit_path = dir.join("audit.jsonl");
            let head = Self::audit_head(&audit_path)?;
            let mut missing = Vec::new();
            for l in lines {
                let r = AuditRecord::from_json(l)?;
                if r.seq > head.seq {
                    missing.push(l.to_owned());
                }
            }
            if !missing.is_empty() {
                Self::append_lines(&audit_path, &missing, "audit-line-torn")?;
            }
            if let Some(to) = move_to {
                return Self::move_dir(dir, to, names_held);
            }
        }
        Self::drop_journal(dir)
    }

    /// The last step of a write that renamed the ring (its journal still in `dir`): moves the
    /// ring's directory to `to` beside it, then drops the journal there.
    fn move_dir(dir: &Path, to: &str, names_held: bool) -> Result<()> {
        let parent = dir.parent().ok_or_else(|| {
            HostError::new(
                ErrorKind::StoreUnavailable,
                "a ring directory has no parent",
            )
        })?;
        let _names = if names_held {
            None
        } else {
            Some(Self::names_lock(parent, false)?)
        };
        let target = parent.join(to);
        if dir.file_name().is_some_and(|n| n == to) {
            // A crash after the move: only the journal is left to drop.
            return Self::drop_journal(dir);
        }
        if fs::symlink_metadata(&target).is_ok() {
            return Err(HostError::new(
                ErrorKind::Conflict,
                format!(
                    "the ring was renamed to {to:?}, but {} exists: move it away, then run any command on the old name to finish the rename",
                    target.display()
                ),
            ));
        }
        fs::rename(dir, &target).map_err(|e| HostError::io("cannot rename onto", &target, &e))?;
        Self::sync_dir(parent)?;
        failpoint(MOVE_FAILPOINT);
        Self::drop_journal(&target)
    }

    fn read_ring_file(path: &Path) -> Result<Option<(Vec<u8>, u64)>> {
        let mut f = match open_regular(path, OpenOptions::new().read(true)) {
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
                format!(
                    "{} is larger than the longest ring ({MAX_RING_FILE} bytes)",
                    path.display()
                ),
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
        // A bare relative name's parent is "": the working directory.
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| HostError::io("cannot sync", dir, &e))
    }

    /// Complete lines of a `.jsonl` file (a torn last line is skipped).
    fn read_lines(path: &Path) -> Result<Vec<String>> {
        let text = match open_regular(path, OpenOptions::new().read(true)) {
            Ok(mut f) => {
                let mut b = Vec::new();
                f.read_to_end(&mut b)
                    .map_err(|e| HostError::io("cannot read", path, &e))?;
                b
            }
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
        // Lines end with '\n' alone: a '\r' stays in the line (and fails its exact check).
        Ok(text.split_terminator('\n').map(str::to_owned).collect())
    }

    /// Appends `lines` (each without newline) to a `.jsonl` file, cutting off a torn last
    /// line first, and syncs it. `torn` is the failpoint hit after half of the first line.
    fn append_lines(path: &Path, lines: &[String], torn: &str) -> Result<()> {
        let mut f = open_regular(
            path,
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true),
        )
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
        match last_line(path)? {
            None => Ok(Anchor::EMPTY),
            Some(l) => Ok(AuditRecord::from_json(&l)?.head()),
        }
    }

    fn request_head(path: &Path) -> Result<Anchor> {
        match last_line(path)? {
            None => Ok(Anchor::EMPTY),
            Some(l) => Ok(entry_of_line(&l)?.head()),
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

impl FileStore {
    /// A compare-and-swap of the ring with its audit records, under the ring's lock, journaled
    /// (see the module doc); with `move_to`, the directory then moves to that name.
    fn write_ring(
        &self,
        ring: &str,
        expected: Option<u64>,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
        move_to: Option<&str>,
    ) -> Result<u64> {
        let dir = self.dir(ring)?;
        // A write that claims a name (a create, a rename) holds the names lock first.
        let claims = expected.is_none() || move_to.is_some();
        let _names = if claims {
            Some(Self::names_lock(&self.root, true)?)
        } else {
            None
        };
        let _lock = self.lock_with(&dir, claims)?;
        if let Some(to) = move_to
            && fs::symlink_metadata(self.dir(to)?).is_ok()
        {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("a ring (or a directory) named {to:?} already exists in the store"),
            ));
        }
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
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = dir.join(format!("ring.tmp.{}.{nanos}", std::process::id()));
        {
            let mut f = open_regular(&tmp, OpenOptions::new().write(true).create_new(true))
                .map_err(|e| HostError::io("cannot create", &tmp, &e))?;
            f.write_all(RING_MAGIC)
                .and_then(|()| f.write_all(&version.to_be_bytes()))
                .and_then(|()| f.write_all(bytes))
                .and_then(|()| f.sync_all())
                .map_err(|e| HostError::io("cannot write", &tmp, &e))?;
        }
        let lines: Vec<String> = records.iter().map(AuditRecord::to_json).collect();
        let header = match move_to {
            None => format!("ring-version {version}"),
            Some(to) => format!("ring-version {version} move {to}"),
        };
        Self::write_journal(&dir, &header, &lines)?;
        failpoint("ring-temp-written");
        fs::rename(&tmp, &path).map_err(|e| HostError::io("cannot rename onto", &path, &e))?;
        failpoint("ring-renamed");
        Self::sync_dir(&dir)?;
        failpoint("ring-committed");
        Self::append_audit_locked(&dir, head, &records)?;
        match move_to {
            None => Self::drop_journal(&dir)?,
            Some(to) => Self::move_dir(&dir, to, true)?,
        }
        Ok(version)
    }
}

impl Store for FileStore {
    fn load(&self, ring: &str) -> Result<Option<(Vec<u8>, u64)>> {
        let dir = self.dir(ring)?;
        if fs::symlink_metadata(dir.join("pending")).is_ok() {
            // A write was interrupted (or is in progress): finish it under the lock before
            // reading, when this process may (a rename it finishes moves the ring away from
            // this name). A reader that cannot take the lock (read-only access, a rename in
            // progress) takes the ring file as it is.
            let _ = self.lock(&dir);
        }
        Self::read_ring_file(&dir.join("ring"))
    }

    fn compare_and_swap(
        &self,
        ring: &str,
        expected: Option<u64>,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
    ) -> Result<u64> {
        self.write_ring(ring, expected, bytes, audit, None)
    }

    fn compare_and_swap_moving(
        &self,
        ring: &str,
        to: &str,
        expected: u64,
        bytes: &[u8],
        audit: AuditBuilder<'_>,
    ) -> Result<u64> {
        check_ring_name(to)?;
        if to == ring {
            return self.write_ring(ring, Some(expected), bytes, audit, None);
        }
        self.write_ring(ring, Some(expected), bytes, audit, Some(to))
    }

    fn create_with_streams(
        &self,
        ring: &str,
        bytes: &[u8],
        audit: &[AuditRecord],
        requests: &[LogEntry],
    ) -> Result<u64> {
        let dir = self.dir(ring)?;
        let _names = Self::names_lock(&self.root, true)?;
        if fs::symlink_metadata(&dir).is_ok() {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!("a ring (or a directory) named {ring:?} already exists in the store"),
            ));
        }
        // Everything is written into a fresh directory whose name is no ring name (it starts
        // with '.'), then renamed into place: a crash leaves no ring or the whole one.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let tmp = self
            .root
            .join(format!(".import.{}.{nanos}", std::process::id()));
        fs::create_dir(&tmp).map_err(|e| HostError::io("cannot create", &tmp, &e))?;
        let written = (|| {
            let write = |name: &str, content: &[u8]| {
                let path = tmp.join(name);
                let mut f = open_regular(&path, OpenOptions::new().write(true).create_new(true))
                    .map_err(|e| HostError::io("cannot create", &path, &e))?;
                f.write_all(content)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| HostError::io("cannot write", &path, &e))
            };
            let mut ring_file = RING_MAGIC.to_vec();
            ring_file.extend_from_slice(&1u64.to_be_bytes());
            ring_file.extend_from_slice(bytes);
            write("ring", &ring_file)?;
            let mut lines = String::new();
            for r in audit {
                lines.push_str(&r.to_json());
                lines.push('\n');
            }
            write("audit.jsonl", lines.as_bytes())?;
            let mut lines = String::new();
            for e in requests {
                lines.push_str(&request_line(e));
                lines.push('\n');
            }
            write("requests.jsonl", lines.as_bytes())?;
            Self::sync_dir(&tmp)?;
            if fs::symlink_metadata(&dir).is_ok() {
                return Err(HostError::new(
                    ErrorKind::InvalidInput,
                    format!("a ring (or a directory) named {ring:?} already exists in the store"),
                ));
            }
            fs::rename(&tmp, &dir).map_err(|e| HostError::io("cannot rename onto", &dir, &e))?;
            Self::sync_dir(&self.root)
        })();
        if written.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        written.map(|()| 1)
    }

    fn read_audit(&self, ring: &str) -> Result<Vec<String>> {
        let dir = self.dir(ring)?;
        if fs::symlink_metadata(dir.join("pending")).is_ok() {
            // A write was interrupted: finish it (under the lock) before reading.
            drop(self.lock(&dir)?);
        }
        Self::read_lines(&dir.join("audit.jsonl"))
    }

    fn append_audit(&self, ring: &str, expected: Anchor, records: &[AuditRecord]) -> Result<()> {
        let (dir, _lock) = self.lock_ring(ring)?;
        Self::append_audit_locked(&dir, expected, records)
    }

    fn read_requests(&self, ring: &str) -> Result<Vec<Vec<u8>>> {
        Self::read_lines(&self.dir(ring)?.join("requests.jsonl"))?
            .iter()
            .map(|l| Ok(entry_of_line(l)?.as_bytes().to_vec()))
            .collect()
    }

    fn append_request(&self, ring: &str, frame: &LogEntry, audit: AuditBuilder<'_>) -> Result<()> {
        let (dir, _lock) = self.lock_ring(ring)?;
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
        let lines: Vec<String> = records.iter().map(AuditRecord::to_json).collect();
        Self::write_journal(&dir, &format!("request-seq {}", frame.seq()), &lines)?;
        Self::append_lines(&path, &[request_line(frame)], "request-line-torn")?;
        failpoint("request-appended");
        Self::append_audit_locked(&dir, audit_head, &records)?;
        Self::drop_journal(&dir)
    }

    fn location(&self) -> String {
        let p = fs::canonicalize(&self.root)
            .or_else(|_| std::path::absolute(&self.root))
            .unwrap_or_else(|_| self.root.clone());
        format!("file:{}", p.display())
    }

    fn stamp(&self, ring: &str) -> Result<Option<Vec<u8>>> {
        use std::os::unix::fs::MetadataExt;
        // A write in progress (a journal) needs no look: it changes the ring file by a rename
        // (a new inode) or appends to the request log, and either changes the fingerprint.
        let dir = self.dir(ring)?;
        let mut out = Vec::with_capacity(2 * 7 * 8);
        for (file, required) in [("ring", true), ("requests.jsonl", false)] {
            let path = dir.join(file);
            match fs::symlink_metadata(&path) {
                Ok(m) => {
                    // The change time cannot be set by a writer (unlike the modification
                    // time); a ring write is a rename, so the inode changes too.
                    for v in [
                        m.dev(),
                        m.ino(),
                        m.size(),
                        m.mtime().cast_unsigned(),
                        m.mtime_nsec().cast_unsigned(),
                        m.ctime().cast_unsigned(),
                        m.ctime_nsec().cast_unsigned(),
                    ] {
                        out.extend_from_slice(&v.to_be_bytes());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                    out.push(0);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(HostError::io("cannot read", &path, &e)),
            }
        }
        Ok(Some(out))
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
