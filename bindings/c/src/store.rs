//! Stores: the embedded file store, the memory store, the etcd store, and a store given as a
//! table of C callbacks over the host's foreign-store primitives.

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use dkm_core::ErrorKind;
use dkm_host::foreign::{Commit, ForeignAdapter, ForeignStore, Stream};
use dkm_host::{EtcdStore, FileStore, HostError, MemoryStore, Store};

use crate::boundary::{
    DKM_OK, Result, bytes, dkm_status, guard, handle, invalid, opt_text, out, text,
};
use crate::handles::{clear, free, give};

/// A store of rings, request logs and audit chains. Several hosts may share one (the store is
/// kept alive until the last host using it is freed). Thread safe.
pub struct dkm_store {
    pub(crate) inner: Arc<dyn Store + Send + Sync>,
}

/// Opens the embedded file store in directory `dir` (created on first write) into `*out`.
///
/// # Safety
/// `dir` a NUL-terminated string; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_store_file_new(
    dir: *const c_char,
    out: *mut *mut dkm_store,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let d = unsafe { text(dir, "dir") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        if d.is_empty() {
            return Err(invalid("dir is empty"));
        }
        give(
            slot,
            dkm_store {
                inner: Arc::new(FileStore::new(d)),
            },
        );
        Ok(())
    })
}

/// Connects to the etcd store `url` names into `*out`: the rings, request logs and audit chains
/// of a fleet in etcd, shared by every host of every process that opens the same URL.
/// `url` is `etcd://HOST:PORT[,HOST:PORT...]/PREFIX[?timeout=5s&watch=off]`, or `etcds://`
/// for TLS with `ca=FILE`, `cert=FILE&key=FILE` (read now) and `user=NAME`; `password` is
/// that user's etcd password (NULL: none), never part of the URL. A URL that is not one, has
/// no prefix or holds a password: `DKM_INVALID_INPUT`, with the reason in
/// `dkm_last_error_message()`.
///
/// Blocking: it connects and reads from etcd before it returns, waiting up to the URL's
/// timeout (5 s unless `timeout=` says otherwise) before `DKM_STORE_UNAVAILABLE` when no
/// member answers; later, each request a host call makes to etcd may wait as long. The store
/// runs a small client runtime (threads of its own) until the store and every host made from
/// it are freed (freeing never waits for those threads: they end shortly after).
/// Thread safe like every store. Not usable in a child after `fork()` (there, every call that
/// reaches etcd through it or its hosts fails with `DKM_STORE_UNAVAILABLE`): open a new one
/// in the child.
///
/// # Safety
/// `url` a NUL-terminated string; `password` NULL or a NUL-terminated string; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_store_etcd_new(
    url: *const c_char,
    password: *const c_char,
    out: *mut *mut dkm_store,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let u = unsafe { text(url, "url") }?;
        // SAFETY: per this function's contract.
        let p = unsafe { opt_text(password, "password") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        give(
            slot,
            dkm_store {
                inner: Arc::new(EtcdStore::open_url(u, p)?),
            },
        );
        Ok(())
    })
}

/// A new, empty memory store into `*out`: everything is lost when it is freed (rings move in
/// and out with `dkm_host_export_snapshot` / `dkm_host_import_snapshot`).
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_store_memory_new(out: *mut *mut dkm_store) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        give(
            slot,
            dkm_store {
                inner: Arc::new(MemoryStore::new()),
            },
        );
        Ok(())
    })
}

/// Frees a store handle. Hosts made from it keep the store alive until they are freed.
/// NULL is a no-op.
///
/// # Safety
/// NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_store_free(store: *mut dkm_store) {
    // SAFETY: per this function's contract.
    unsafe { free(store) }
}

/// A line stream of a ring in a callback store: the audit chain.
pub const DKM_STREAM_AUDIT: i32 = 1;
/// A line stream of a ring in a callback store: the request log.
pub const DKM_STREAM_REQUESTS: i32 = 2;

fn stream_code(s: Stream) -> i32 {
    match s {
        Stream::Audit => DKM_STREAM_AUDIT,
        Stream::Requests => DKM_STREAM_REQUESTS,
    }
}

/// Bytes the library lends to a callback, valid only during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dkm_slice {
    /// The bytes (never NULL, even when `len` is 0).
    pub ptr: *const u8,
    /// Their length.
    pub len: usize,
}

impl dkm_slice {
    fn of(b: &[u8]) -> dkm_slice {
        dkm_slice {
            ptr: b.as_ptr(),
            len: b.len(),
        }
    }
}

/// Lines to append to one stream of a commit.
#[repr(C)]
#[derive(Debug)]
pub struct dkm_commit_append {
    /// `DKM_STREAM_AUDIT` or `DKM_STREAM_REQUESTS`.
    pub stream: i32,
    /// How many lines the stream must hold now (else the commit is a conflict).
    pub expected_count: u64,
    /// The lines to append, in order (UTF-8 JSON, no line end).
    pub lines: *const dkm_slice,
    /// How many.
    pub lines_len: usize,
}

/// One atomic write the `commit` callback carries out: check every expectation, then apply
/// every change, or apply nothing and return `DKM_CONFLICT`. Lent for the call only.
#[repr(C)]
#[derive(Debug)]
pub struct dkm_commit {
    /// 1: write `ring` as the ring's new bytes (with a new change token); 0: the ring's bytes
    /// are unchanged.
    pub writes_ring: i32,
    /// When `writes_ring`: 1 when the ring's current token must equal `expected_token`; 0
    /// when the ring must not exist yet (a create).
    pub has_expected_token: i32,
    /// The token the ring must still have.
    pub expected_token: dkm_slice,
    /// The ring's new bytes.
    pub ring: dkm_slice,
    /// The streams to append to, each with its expected line count.
    pub appends: *const dkm_commit_append,
    /// How many.
    pub appends_len: usize,
    /// NULL, or a new name: after the write the ring and both its streams move to it (a
    /// rename; the new name must hold no ring, else `DKM_CONFLICT`).
    pub move_to: *const c_char,
}

/// Where a callback puts what it read; valid only during the call.
pub struct dkm_store_reply {
    ring: Option<(Vec<u8>, String)>,
    lines: Vec<String>,
    error: Option<HostError>,
}

/// The callbacks of a store a C program keeps in its own database. Each returns `DKM_OK`, or
/// `DKM_STORE_UNAVAILABLE` (any other code is taken as that too, except `DKM_CONFLICT` from
/// `commit`: an expectation did not hold, and the host retries). Every callback must be safe
/// to call from several threads at once (a host serves many threads); the library never holds
/// a lock of its own while it calls one, so a callback may call dkm. A callback must return:
/// never throw a C++ exception or `longjmp` out of it (catch everything and return
/// `DKM_STORE_UNAVAILABLE`). `name` is the ring's name (NUL-terminated UTF-8), lent for the
/// call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dkm_store_vtable {
    /// Reads ring `name`: when it exists, call `dkm_store_reply_ring(reply, bytes, len,
    /// token, token_len)` once with its bytes and change token (any text that changes whenever
    /// the bytes change: a version column, an etag); when it does not, do nothing.
    pub ring: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            name: *const c_char,
            reply: *mut dkm_store_reply,
        ) -> dkm_status,
    >,
    /// How many lines `stream` of ring `name` holds (0 when none).
    pub line_count: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            name: *const c_char,
            stream: i32,
            count: *mut u64,
        ) -> dkm_status,
    >,
    /// The lines of `stream` of ring `name` from index `from` (0-based) to the end: call
    /// `dkm_store_reply_line` once per line, in order.
    pub lines_from: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            name: *const c_char,
            stream: i32,
            from: u64,
            reply: *mut dkm_store_reply,
        ) -> dkm_status,
    >,
    /// Carries out `commit` for ring `name` atomically (see `dkm_commit`).
    pub commit: Option<
        unsafe extern "C" fn(
            user: *mut c_void,
            name: *const c_char,
            commit: *const dkm_commit,
        ) -> dkm_status,
    >,
    /// The names of the rings it holds: `dkm_store_reply_line` once per name.
    pub names:
        Option<unsafe extern "C" fn(user: *mut c_void, reply: *mut dkm_store_reply) -> dkm_status>,
    /// Called once when the store is dropped (the last host and handle using it freed), to
    /// release `user`; may be NULL.
    pub free_user: Option<unsafe extern "C" fn(user: *mut c_void)>,
}

/// The reply of a `ring` callback: the ring's bytes and change token (copied). A refused
/// reply (NULL bytes with a length, a token that is not UTF-8) fails the read with
/// `DKM_STORE_UNAVAILABLE` even if the callback then returns `DKM_OK`.
///
/// # Safety
/// `reply` the pointer the callback was given; `bytes` `len` readable bytes; `token`
/// `token_len` readable bytes (UTF-8).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_store_reply_ring(
    reply: *mut dkm_store_reply,
    bytes: *const u8,
    len: usize,
    token: *const u8,
    token_len: usize,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let r = unsafe { out(reply, "reply") }?;
        // SAFETY: per this function's contract.
        let b = unsafe { crate::boundary::bytes(bytes, len, "bytes") }.map_err(|e| keep(r, e))?;
        // SAFETY: per this function's contract.
        let t =
            unsafe { crate::boundary::bytes(token, token_len, "token") }.map_err(|e| keep(r, e))?;
        match std::str::from_utf8(t) {
            Ok(t) => r.ring = Some((b.to_vec(), t.to_owned())),
            Err(_) => return Err(refuse(r, "the ring's change token is not valid UTF-8")),
        }
        Ok(())
    })
}

/// One line of a `lines_from` or `names` reply (copied; UTF-8, without its line end). A
/// refused line fails the read as for `dkm_store_reply_ring`.
///
/// # Safety
/// `reply` the pointer the callback was given; `line` `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_store_reply_line(
    reply: *mut dkm_store_reply,
    line: *const u8,
    len: usize,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let r = unsafe { out(reply, "reply") }?;
        // SAFETY: per this function's contract.
        let b = unsafe { bytes(line, len, "line") }.map_err(|e| keep(r, e))?;
        match std::str::from_utf8(b) {
            Ok(t) => r.lines.push(t.to_owned()),
            Err(_) => return Err(refuse(r, "a line the store gave is not valid UTF-8")),
        }
        Ok(())
    })
}

/// Records a refused reply in the reply itself, so the read fails (`DKM_STORE_UNAVAILABLE`)
/// even when the callback ignores the status and returns `DKM_OK`.
fn keep(r: &mut dkm_store_reply, e: HostError) -> HostError {
    r.error.get_or_insert(e.clone());
    e
}

fn refuse(r: &mut dkm_store_reply, message: &str) -> HostError {
    keep(r, invalid(message))
}

/// A store over a vtable and the caller's `user` pointer.
struct CStore {
    vt: dkm_store_vtable,
    user: *mut c_void,
    location: String,
}

// SAFETY: `dkm_store_callbacks_new` documents that the callbacks must be safe to call from
// any thread, concurrently, with `user`: the caller promises it.
unsafe impl Send for CStore {}
// SAFETY: as for `Send`: shared calls are the caller's documented promise.
unsafe impl Sync for CStore {}

impl Drop for CStore {
    fn drop(&mut self) {
        if let Some(f) = self.vt.free_user {
            // SAFETY: the caller's function, called once with its own pointer, as documented.
            unsafe { f(self.user) }
        }
    }
}

/// A callback's failure: `DKM_CONFLICT` from `commit` is a conflict (the host retries);
/// anything else from any callback is `DKM_STORE_UNAVAILABLE`.
fn failed(callback: &str, status: dkm_status) -> HostError {
    let kind = if callback == "commit" && status == crate::boundary::DKM_CONFLICT {
        ErrorKind::Conflict
    } else {
        ErrorKind::StoreUnavailable
    };
    HostError::new(
        kind,
        format!(
            "the store's `{callback}` callback returned {status} ({})",
            kind.name()
        ),
    )
}

fn cname(name: &str) -> Result<CString> {
    CString::new(name).map_err(|_| invalid("a ring name holds a NUL byte"))
}

impl CStore {
    fn reply() -> dkm_store_reply {
        dkm_store_reply {
            ring: None,
            lines: Vec::new(),
            error: None,
        }
    }

    fn check(callback: &str, status: dkm_status, reply: &mut dkm_store_reply) -> Result<()> {
        if status != DKM_OK {
            return Err(failed(callback, status));
        }
        match reply.error.take() {
            Some(e) => Err(HostError::new(ErrorKind::StoreUnavailable, e.message())),
            None => Ok(()),
        }
    }

    fn lines(&self, name: &str, stream: Stream, from: u64) -> Result<Vec<String>> {
        let f = self.vt.lines_from.ok_or_else(|| missing("lines_from"))?;
        let n = cname(name)?;
        let mut r = Self::reply();
        // SAFETY: the caller's callback with its `user`, a NUL-terminated name and a reply
        // that live across the call, as `dkm_store_vtable` documents.
        let status = unsafe { f(self.user, n.as_ptr(), stream_code(stream), from, &mut r) };
        Self::check("lines_from", status, &mut r)?;
        Ok(r.lines)
    }
}

fn missing(callback: &str) -> HostError {
    HostError::new(
        ErrorKind::StoreUnavailable,
        format!("the store's vtable has no `{callback}` callback"),
    )
}

impl ForeignStore for CStore {
    fn ring(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        let f = self.vt.ring.ok_or_else(|| missing("ring"))?;
        let n = cname(name)?;
        let mut r = Self::reply();
        // SAFETY: as in `lines`.
        let status = unsafe { f(self.user, n.as_ptr(), &mut r) };
        Self::check("ring", status, &mut r)?;
        Ok(r.ring)
    }

    fn line_count(&self, name: &str, stream: Stream) -> Result<u64> {
        let f = self.vt.line_count.ok_or_else(|| missing("line_count"))?;
        let n = cname(name)?;
        let mut count = 0u64;
        // SAFETY: as in `lines`; `count` is a live u64 for the call.
        let status = unsafe { f(self.user, n.as_ptr(), stream_code(stream), &mut count) };
        Self::check("line_count", status, &mut Self::reply())?;
        Ok(count)
    }

    fn last_line(&self, name: &str, stream: Stream) -> Result<Option<String>> {
        let count = self.line_count(name, stream)?;
        if count == 0 {
            return Ok(None);
        }
        Ok(self.lines(name, stream, count - 1)?.pop())
    }

    fn lines_from(&self, name: &str, stream: Stream, from: u64) -> Result<Vec<String>> {
        self.lines(name, stream, from)
    }

    fn commit(&self, name: &str, commit: &Commit) -> Result<()> {
        let f = self.vt.commit.ok_or_else(|| missing("commit"))?;
        let n = cname(name)?;
        let move_to = commit.move_to.as_deref().map(cname).transpose()?;
        let lines: Vec<Vec<dkm_slice>> = commit
            .appends
            .iter()
            .map(|(_, _, ls)| ls.iter().map(|l| dkm_slice::of(l.as_bytes())).collect())
            .collect();
        let appends: Vec<dkm_commit_append> = commit
            .appends
            .iter()
            .zip(&lines)
            .map(|((s, expected, _), ls)| dkm_commit_append {
                stream: stream_code(*s),
                expected_count: *expected,
                lines: ls.as_ptr(),
                lines_len: ls.len(),
            })
            .collect();
        let (ring, token) = match &commit.ring {
            Some(w) => (
                Some(dkm_slice::of(&w.bytes)),
                w.expected_token
                    .as_deref()
                    .map(|t| dkm_slice::of(t.as_bytes())),
            ),
            None => (None, None),
        };
        let view = dkm_commit {
            writes_ring: i32::from(ring.is_some()),
            has_expected_token: i32::from(token.is_some()),
            expected_token: token.unwrap_or(dkm_slice::of(&[])),
            ring: ring.unwrap_or(dkm_slice::of(&[])),
            appends: appends.as_ptr(),
            appends_len: appends.len(),
            move_to: move_to.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
        };
        // SAFETY: as in `lines`; every pointer in `view` points into `commit`, `lines`,
        // `appends` or `move_to`, all alive until after the call.
        let status = unsafe { f(self.user, n.as_ptr(), &view) };
        Self::check("commit", status, &mut Self::reply())
    }

    fn names(&self) -> Result<Vec<String>> {
        let f = self.vt.names.ok_or_else(|| missing("names"))?;
        let mut r = Self::reply();
        // SAFETY: as in `lines`.
        let status = unsafe { f(self.user, &mut r) };
        Self::check("names", status, &mut r)?;
        Ok(r.lines)
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

/// A store whose rings live in the caller's own storage, reached through `vtable` (copied)
/// with `user` passed to every callback, into `*out`. `location` names the storage stably
/// across processes (a database and table: the pin book records which ring each name held
/// there). Every callback but `free_user` must be given (else `DKM_INVALID_INPUT`); they must
/// be safe to call from any thread at once. On failure `free_user` is not called: `user`
/// stays the caller's.
///
/// # Safety
/// `vtable` must point to a `dkm_store_vtable` whose functions stay callable, and `user` must
/// stay valid for them, until `free_user` is called (or, without it, until the store and every
/// host made from it are freed); `location` a NUL-terminated string; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_store_callbacks_new(
    vtable: *const dkm_store_vtable,
    user: *mut c_void,
    location: *const c_char,
    out: *mut *mut dkm_store,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let vt = *unsafe { handle(vtable, "vtable") }?;
        // SAFETY: per this function's contract.
        let loc = unsafe { opt_text(location, "location") }?
            .ok_or_else(|| invalid("location is NULL"))?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        let absent = [
            ("ring", vt.ring.is_none()),
            ("line_count", vt.line_count.is_none()),
            ("lines_from", vt.lines_from.is_none()),
            ("commit", vt.commit.is_none()),
            ("names", vt.names.is_none()),
        ];
        if let Some((name, _)) = absent.iter().find(|(_, a)| *a) {
            return Err(invalid(format!("the vtable's `{name}` callback is NULL")));
        }
        if loc.is_empty() {
            return Err(invalid("location is empty"));
        }
        let store = CStore {
            vt,
            user,
            location: loc.to_owned(),
        };
        give(
            slot,
            dkm_store {
                inner: Arc::new(ForeignAdapter::new(store)),
            },
        );
        Ok(())
    })
}
