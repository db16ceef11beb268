//! What every function shares: status codes, the thread's last error message, the panic
//! boundary, reading the caller's pointers, and owned byte buffers.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use dkm_core::ErrorKind;
use dkm_host::HostError;
use zeroize::Zeroize;

/// The result of every function: `DKM_OK` (0) or one of the error kinds' stable codes
/// (`DKM_MALFORMED` .. `DKM_INTERNAL`, 1-18, never renumbered). A plain `int32_t`, not an
/// enum, so a value a newer library returns is never undefined behaviour in an older caller.
pub type dkm_status = i32;

/// Success.
pub const DKM_OK: dkm_status = 0;
/// Bytes that do not parse as what they claim to be.
pub const DKM_MALFORMED: dkm_status = 1;
/// A format version or suite this library does not know.
pub const DKM_UNSUPPORTED: dkm_status = 2;
/// An input past its kind's size limit.
pub const DKM_TOO_LARGE: dkm_status = 3;
/// A text form whose checksum does not match (a typo).
pub const DKM_BAD_CHECKSUM: dkm_status = 4;
/// Authentication failed: a tampered secret, ring, log or audit chain, or the wrong context.
pub const DKM_TAMPERED: dkm_status = 5;
/// No key of the ring opens this secret (another ring, or outside a grant's bounds).
pub const DKM_UNKNOWN_KEY: dkm_status = 6;
/// The secret's epoch was revoked.
pub const DKM_KEY_REVOKED: dkm_status = 7;
/// The secret's interval was shredded.
pub const DKM_KEY_DESTROYED: dkm_status = 8;
/// A time or number outside what the format allows.
pub const DKM_OUT_OF_RANGE: dkm_status = 9;
/// An argument that is not valid here: a NULL pointer where data is required, text that is
/// not UTF-8, a name taken, an unknown role.
pub const DKM_INVALID_INPUT: dkm_status = 10;
/// The identity is not a member of the ring in the role this needs.
pub const DKM_NOT_A_MEMBER: dkm_status = 11;
/// The grant is outside its window or revoked.
pub const DKM_GRANT_EXPIRED: dkm_status = 12;
/// The change or grant lacks the approvals its policy needs.
pub const DKM_POLICY_UNSATISFIED: dkm_status = 13;
/// Another writer changed the ring first (after the host's retries).
pub const DKM_CONFLICT: dkm_status = 14;
/// The store could not be read or written.
pub const DKM_STORE_UNAVAILABLE: dkm_status = 15;
/// The ring needs a key holder's maintenance before it can seal.
pub const DKM_STALE: dkm_status = 16;
/// The store holds an older ring than this host has seen.
pub const DKM_ROLLBACK: dkm_status = 17;
/// A bug in dkm (including a Rust panic caught at this boundary).
pub const DKM_INTERNAL: dkm_status = 18;

/// The library's version, the same as `Cargo.toml`'s (checked by a test).
pub const DKM_VERSION_MAJOR: u32 = 0;
/// See `DKM_VERSION_MAJOR`.
pub const DKM_VERSION_MINOR: u32 = 1;
/// See `DKM_VERSION_MAJOR`.
pub const DKM_VERSION_PATCH: u32 = 0;

/// The library's version as text, such as `"0.1.0"`: static, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn dkm_version() -> *const c_char {
    static VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

/// The name of a status code (`"Ok"`, `"Tampered"`, ...; `"Unknown"` for a code this library
/// does not define): static, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn dkm_status_name(status: dkm_status) -> *const c_char {
    if status == DKM_OK {
        return c"Ok".as_ptr();
    }
    let name = u32::try_from(status)
        .ok()
        .and_then(ErrorKind::from_code)
        .map_or(c"Unknown", kind_name);
    name.as_ptr()
}

fn kind_name(kind: ErrorKind) -> &'static CStr {
    match kind {
        ErrorKind::Malformed => c"Malformed",
        ErrorKind::Unsupported => c"Unsupported",
        ErrorKind::TooLarge => c"TooLarge",
        ErrorKind::BadChecksum => c"BadChecksum",
        ErrorKind::Tampered => c"Tampered",
        ErrorKind::UnknownKey => c"UnknownKey",
        ErrorKind::KeyRevoked => c"KeyRevoked",
        ErrorKind::KeyDestroyed => c"KeyDestroyed",
        ErrorKind::OutOfRange => c"OutOfRange",
        ErrorKind::InvalidInput => c"InvalidInput",
        ErrorKind::NotAMember => c"NotAMember",
        ErrorKind::GrantExpired => c"GrantExpired",
        ErrorKind::PolicyUnsatisfied => c"PolicyUnsatisfied",
        ErrorKind::Conflict => c"Conflict",
        ErrorKind::StoreUnavailable => c"StoreUnavailable",
        ErrorKind::Stale => c"Stale",
        ErrorKind::Rollback => c"Rollback",
        ErrorKind::Internal => c"Internal",
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// The message of the last failed call on this thread (`""` after a call that succeeded):
/// never a secret. Owned by the library and valid until the next dkm call on this thread;
/// copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn dkm_last_error_message() -> *const c_char {
    // `try_with`: during thread teardown (a pthread key's or a C++ thread_local's destructor
    // calling dkm) the slot may be gone; a panic here would cross into C.
    LAST_ERROR
        .try_with(|m| m.borrow().as_ref().map_or(c"".as_ptr(), |c| c.as_ptr()))
        .unwrap_or(c"".as_ptr())
}

fn set_last_error(message: &str) {
    let text = (!message.is_empty())
        .then(|| CString::new(message.replace('\0', " ")).ok())
        .flatten();
    // As in `dkm_last_error_message`: no message is kept once the thread's slot is gone.
    let _ = LAST_ERROR.try_with(|m| *m.borrow_mut() = text);
}

/// A failed call's error: a kind and a message.
pub(crate) type Result<T> = std::result::Result<T, HostError>;

/// `InvalidInput` with `message`.
pub(crate) fn invalid(message: impl Into<String>) -> HostError {
    HostError::new(ErrorKind::InvalidInput, message)
}

/// Runs one function's body: its error becomes the status and the thread's message; a panic
/// is caught here (it never unwinds into C) and becomes `DKM_INTERNAL`.
pub(crate) fn guard(body: impl FnOnce() -> Result<()>) -> dkm_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            set_last_error("");
            DKM_OK
        }
        Ok(Err(e)) => {
            set_last_error(e.message());
            i32::try_from(e.kind().code()).unwrap_or(DKM_INTERNAL)
        }
        Err(_) => {
            set_last_error("internal error: dkm panicked (a bug; nothing was written half-way)");
            DKM_INTERNAL
        }
    }
}

/// The caller's bytes: `ptr` may be NULL only when `len` is 0 (an empty input).
///
/// # Safety
/// When `len > 0`, `ptr` must point to `len` readable bytes that stay unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(invalid(format!("{what} is NULL with a length of {len}")));
    }
    if isize::try_from(len).is_err() {
        return Err(invalid(format!("{what} has an impossible length")));
    }
    // SAFETY: non-NULL, the length fits an allocation, and the caller promises `len`
    // readable bytes that outlive `'a` (the function's documented contract).
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The caller's NUL-terminated UTF-8 text.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that stays unchanged for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(invalid(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map_err(|_| invalid(format!("{what} is not valid UTF-8")))
}

/// The caller's optional NUL-terminated UTF-8 text (NULL: none).
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn opt_text<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the same contract as ours.
    unsafe { text(ptr, what) }.map(Some)
}

/// A handle the caller passes in.
///
/// # Safety
/// `ptr` must be NULL or a live handle of type `T` made by this library.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: NULL is refused by `as_ref`; otherwise a live handle, per the contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| invalid(format!("{what} is NULL")))
}

/// An out-parameter: it must not be NULL.
///
/// # Safety
/// `ptr` must be NULL or point to writable memory for a `T`.
pub(crate) unsafe fn out<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T> {
    // SAFETY: NULL is refused by `as_mut`; otherwise writable, per the contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| invalid(format!("{what} (an out-parameter) is NULL")))
}

/// Bytes owned by the library, handed to the caller: read `ptr[0..len]`, then give it back to
/// `dkm_buffer_free`, which zeroizes and frees it. After a success `ptr` is never NULL, and
/// `ptr[len]` is a NUL byte that `len` does not count, so a text result is also a C string.
/// A failed call leaves `{NULL, 0, 0}` in its buffer out-parameters; `dkm_buffer b = {0};`
/// is an empty buffer.
#[repr(C)]
#[derive(Debug)]
pub struct dkm_buffer {
    /// The bytes (library-owned).
    pub ptr: *mut u8,
    /// How many bytes, not counting the trailing NUL.
    pub len: usize,
    /// The size of the allocation behind `ptr` (at least `len + 1`), for `dkm_buffer_free`:
    /// read-only for the caller.
    pub capacity: usize,
}

impl dkm_buffer {
    pub(crate) const EMPTY: dkm_buffer = dkm_buffer {
        ptr: std::ptr::null_mut(),
        len: 0,
        capacity: 0,
    };
}

fn layout(len: usize) -> Result<std::alloc::Layout> {
    len.checked_add(1)
        .and_then(|n| std::alloc::Layout::array::<u8>(n).ok())
        .ok_or_else(|| HostError::new(ErrorKind::TooLarge, "a result too large to hand out"))
}

/// Copies `data` into a new library-owned buffer (one exact allocation: no reallocation ever
/// leaves a copy of a secret behind).
pub(crate) fn new_buffer(data: &[u8]) -> Result<dkm_buffer> {
    let layout = layout(data.len())?;
    // SAFETY: the layout's size is at least 1 (len + 1), as `alloc` requires.
    let ptr = unsafe { std::alloc::alloc(layout) };
    if ptr.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `ptr` holds `data.len() + 1` fresh bytes that cannot overlap `data`.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
    // SAFETY: `data.len()` is within the allocation of `data.len() + 1` bytes.
    let end = unsafe { ptr.add(data.len()) };
    // SAFETY: `end` is the allocation's last byte, writable.
    unsafe { end.write(0) };
    Ok(dkm_buffer {
        ptr,
        len: data.len(),
        capacity: data.len() + 1,
    })
}

/// Puts `data` into the caller's buffer out-parameter.
pub(crate) fn put(slot: &mut dkm_buffer, data: &[u8]) -> Result<()> {
    *slot = new_buffer(data)?;
    Ok(())
}

/// Hands a vector of public bytes (a sealed secret, a public part, a snapshot) to the caller
/// without copying when it has room for the NUL byte; else copies it.
pub(crate) fn put_vec(slot: &mut dkm_buffer, data: Vec<u8>) -> Result<()> {
    if data.capacity() == data.len() {
        return put(slot, &data);
    }
    *slot = hand_over(data);
    Ok(())
}

/// Hands a secret (an unsealed plaintext) to the caller in the vector it was opened in when
/// that has room for the NUL byte (the core leaves one), else copies it into an exact buffer;
/// either way the source is zeroized or moved, never left behind.
pub(crate) fn put_secret(
    slot: &mut dkm_buffer,
    mut data: zeroize::Zeroizing<Vec<u8>>,
) -> Result<()> {
    if data.capacity() == data.len() {
        return put(slot, &data);
    }
    *slot = hand_over(std::mem::take(&mut *data));
    Ok(())
}

/// The vector as a buffer: a NUL byte after its bytes (in its spare room: no reallocation),
/// the rest of the spare room set to zero, so every byte of the allocation is initialized.
fn hand_over(mut data: Vec<u8>) -> dkm_buffer {
    data.push(0);
    for b in data.spare_capacity_mut() {
        b.write(0);
    }
    let mut data = std::mem::ManuallyDrop::new(data);
    dkm_buffer {
        ptr: data.as_mut_ptr(),
        len: data.len() - 1,
        capacity: data.capacity(),
    }
}

/// Zeroizes `bytes` with volatile writes a word at a time (the `zeroize` crate's guarantee,
/// eight times fewer writes than byte by byte: a 1 MiB buffer is wiped at memory speed).
fn wipe(bytes: &mut [u8]) {
    // SAFETY: every bit pattern is a valid u64, and `align_to_mut` gives the aligned middle.
    let (head, words, tail) = unsafe { bytes.align_to_mut::<u64>() };
    head.zeroize();
    words.zeroize();
    tail.zeroize();
}

/// Zeroizes and frees a buffer a function handed out, then sets it to `{NULL, 0, 0}`. NULL,
/// or a buffer whose `ptr` is NULL, is a no-op; freeing the same buffer twice is safe because
/// the first call clears it (a copy of the struct must not be freed again).
///
/// # Safety
/// `buf` must be NULL or point to a `dkm_buffer` that is empty or exactly as a dkm function
/// filled it in.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_buffer_free(buf: *mut dkm_buffer) {
    // SAFETY: NULL or a valid buffer struct, per the contract.
    let Some(b) = (unsafe { buf.as_mut() }) else {
        return;
    };
    if b.ptr.is_null() {
        return;
    }
    if b.capacity > b.len && layout(b.capacity.saturating_sub(1)).is_ok() {
        // SAFETY: `ptr` came from a `Vec<u8>` (`hand_over`) or from the global allocator with
        // the layout of a `[u8; capacity]` (`new_buffer`), which is the same allocation a
        // `Vec<u8>` of that capacity owns; all `capacity` bytes are initialized (`new_buffer`
        // writes `len + 1 == capacity` bytes, `hand_over` zeroes the spare room).
        let mut v = unsafe { Vec::from_raw_parts(b.ptr, b.capacity, b.capacity) };
        // Every byte of the allocation, then the block is freed.
        wipe(&mut v);
        drop(v);
    }
    *b = dkm_buffer::EMPTY;
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODES: [(dkm_status, ErrorKind); 18] = [
        (DKM_MALFORMED, ErrorKind::Malformed),
        (DKM_UNSUPPORTED, ErrorKind::Unsupported),
        (DKM_TOO_LARGE, ErrorKind::TooLarge),
        (DKM_BAD_CHECKSUM, ErrorKind::BadChecksum),
        (DKM_TAMPERED, ErrorKind::Tampered),
        (DKM_UNKNOWN_KEY, ErrorKind::UnknownKey),
        (DKM_KEY_REVOKED, ErrorKind::KeyRevoked),
        (DKM_KEY_DESTROYED, ErrorKind::KeyDestroyed),
        (DKM_OUT_OF_RANGE, ErrorKind::OutOfRange),
        (DKM_INVALID_INPUT, ErrorKind::InvalidInput),
        (DKM_NOT_A_MEMBER, ErrorKind::NotAMember),
        (DKM_GRANT_EXPIRED, ErrorKind::GrantExpired),
        (DKM_POLICY_UNSATISFIED, ErrorKind::PolicyUnsatisfied),
        (DKM_CONFLICT, ErrorKind::Conflict),
        (DKM_STORE_UNAVAILABLE, ErrorKind::StoreUnavailable),
        (DKM_STALE, ErrorKind::Stale),
        (DKM_ROLLBACK, ErrorKind::Rollback),
        (DKM_INTERNAL, ErrorKind::Internal),
    ];

    #[test]
    fn every_kind_has_its_core_code_and_name() {
        assert_eq!(CODES.len(), ErrorKind::ALL.len());
        for ((code, kind), all) in CODES.iter().zip(ErrorKind::ALL) {
            assert_eq!(*kind, all);
            assert_eq!(i64::from(*code), i64::from(kind.code()));
            // SAFETY: dkm_status_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(dkm_status_name(*code)) };
            assert_eq!(name.to_str().unwrap(), kind.name());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(dkm_status_name(19)) };
        assert_eq!(unknown.to_str().unwrap(), "Unknown");
        // SAFETY: as above.
        let ok = unsafe { CStr::from_ptr(dkm_status_name(DKM_OK)) };
        assert_eq!(ok.to_str().unwrap(), "Ok");
    }

    #[test]
    fn version_matches_cargo_and_the_header() {
        assert_eq!(
            DKM_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            DKM_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            DKM_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
        // SAFETY: dkm_version returns a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(dkm_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        let header = include_str!("../../../c-header/include/dkm.h");
        let line = format!(
            "#define DKM_VERSION_STRING \"{}\"",
            env!("CARGO_PKG_VERSION")
        );
        assert!(header.contains(&line), "dkm.h lacks {line}");
        let config = include_str!("../cbindgen.toml");
        assert!(config.contains(&line), "cbindgen.toml lacks {line}");
    }

    #[test]
    fn a_panic_becomes_internal_and_errors_set_the_message() {
        let status = guard(|| -> Result<()> {
            let v: Vec<u8> = Vec::new();
            // An out-of-bounds index: a deliberate panic caught at the boundary.
            #[allow(clippy::indexing_slicing)]
            let _ = v[1];
            Ok(())
        });
        assert_eq!(status, DKM_INTERNAL);
        assert_eq!(guard(|| Err(invalid("bad thing"))), DKM_INVALID_INPUT);
        // SAFETY: the thread's message, valid until the next call on this thread.
        let m = unsafe { CStr::from_ptr(dkm_last_error_message()) };
        assert_eq!(m.to_str().unwrap(), "bad thing");
        assert_eq!(guard(|| Ok(())), DKM_OK);
        // SAFETY: as above.
        let m = unsafe { CStr::from_ptr(dkm_last_error_message()) };
        assert_eq!(m.to_str().unwrap(), "");
    }

    #[test]
    fn buffers_end_with_nul_and_free_clears_them() {
        let mut b = new_buffer(b"secret").unwrap();
        // SAFETY: a buffer of 6 bytes plus the NUL.
        let all = unsafe { std::slice::from_raw_parts(b.ptr, b.len + 1) };
        assert_eq!(all, b"secret\0");
        assert_eq!(b.capacity, 7);
        // A vector with room is handed over as it is; one without is copied.
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(b"sealed");
        let at = v.as_ptr();
        let mut h = dkm_buffer::EMPTY;
        put_vec(&mut h, v).unwrap();
        assert_eq!((h.ptr.cast_const(), h.len, h.capacity), (at, 6, 64));
        // SAFETY: a buffer of 6 bytes plus the NUL.
        let all = unsafe { std::slice::from_raw_parts(h.ptr, h.len + 1) };
        assert_eq!(all, b"sealed\0");
        // SAFETY: a buffer this library made.
        unsafe { dkm_buffer_free(&mut h) };
        let full = b"exact".to_vec().into_boxed_slice().into_vec();
        put_vec(&mut h, full).unwrap();
        assert_eq!((h.len, h.capacity), (5, 6));
        // SAFETY: a buffer this library made.
        unsafe { dkm_buffer_free(&mut h) };
        // SAFETY: a buffer this library made.
        unsafe { dkm_buffer_free(&mut b) };
        assert!(b.ptr.is_null() && b.len == 0);
        // SAFETY: freeing a cleared buffer and NULL are no-ops.
        unsafe { dkm_buffer_free(&mut b) };
        // SAFETY: as above.
        unsafe { dkm_buffer_free(std::ptr::null_mut()) };
        let mut e = new_buffer(b"").unwrap();
        assert!(!e.ptr.is_null() && e.len == 0);
        // SAFETY: a buffer this library made.
        unsafe { dkm_buffer_free(&mut e) };
    }
}
