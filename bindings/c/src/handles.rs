//! Identities, public identities and a ring's public part: immutable handles, safe to share
//! between threads once made.

use std::ffi::c_char;
use std::path::Path;

use dkm_core::ring::RingPublic;
use dkm_core::{Identity, Pin, PublicIdentity};
use dkm_host::files;

use crate::boundary::{Result, bytes, dkm_buffer, dkm_status, guard, handle, invalid, put, text};

/// A secret identity (a person's or a service account's signing and opening keys). Zeroized
/// when freed. Immutable: one may be used by several threads at once.
pub struct dkm_identity {
    pub(crate) inner: Identity,
}

/// A public identity: what others put in a ring to name a member. Immutable.
pub struct dkm_public_identity {
    pub(crate) inner: PublicIdentity,
}

/// A ring's public part, loaded and verified once (through a pin): what a seal-only party (a
/// partner, a browser) seals to with `dkm_host_seal_to_public`; it cannot open anything.
/// Immutable.
pub struct dkm_ring_public {
    pub(crate) inner: RingPublic,
}

/// Hands out a new handle through `slot`.
pub(crate) fn give<T>(slot: &mut *mut T, value: T) {
    *slot = Box::into_raw(Box::new(value));
}

/// Clears a handle out-parameter so a failed call leaves NULL in it.
///
/// # Safety
/// `slot` must be NULL or writable.
pub(crate) unsafe fn clear<T>(slot: *mut *mut T) {
    // SAFETY: NULL or writable, per the contract.
    if let Some(s) = unsafe { slot.as_mut() } {
        *s = std::ptr::null_mut();
    }
}

/// Clears a buffer out-parameter so a failed call leaves `{NULL, 0, 0}` in it.
///
/// # Safety
/// `slot` must be NULL or writable.
pub(crate) unsafe fn clear_buffer(slot: *mut dkm_buffer) {
    // SAFETY: NULL or writable, per the contract.
    if let Some(s) = unsafe { slot.as_mut() } {
        *s = dkm_buffer::EMPTY;
    }
}

/// Frees a handle (NULL: nothing).
///
/// # Safety
/// `ptr` must be NULL or a live handle of type `T` made by this library, not used after.
pub(crate) unsafe fn free<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: made by `Box::into_raw` in `give`, and the caller gives up its use.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Generates a new identity from the operating system's randomness into `*out` (free it with
/// `dkm_identity_free`).
///
/// # Safety
/// `out` must be NULL (refused: `DKM_INVALID_INPUT`) or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_identity_generate(out: *mut *mut dkm_identity) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        give(
            slot,
            dkm_identity {
                inner: files::generate_identity()?,
            },
        );
        Ok(())
    })
}

/// Reads an identity from its secret text (`dkmsec1...`) or an identity file's contents
/// (`len` bytes, no NUL needed) into `*out`. `DKM_MALFORMED` / `DKM_BAD_CHECKSUM` when it is
/// not one; a public identity given here is `DKM_INVALID_INPUT`.
///
/// # Safety
/// `text` must point to `len` readable bytes (or be NULL with `len` 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_identity_from_text(
    text: *const u8,
    len: usize,
    out: *mut *mut dkm_identity,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let t = unsafe { bytes(text, len, "text") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        let inner = files::identity_from_file_text(t, "the identity text")?;
        give(slot, dkm_identity { inner });
        Ok(())
    })
}

/// Reads an identity file (as `dkm identity new` writes it) into `*out`. Refused
/// (`DKM_INVALID_INPUT`) when group or others may write it (they could swap in an identity of
/// their own); when they may read it, the identity is read and `*warning` (may be NULL) gets
/// what is wrong and the fix, as text (show it to the user, as ssh does); otherwise
/// `*warning` is `{NULL, 0, 0}`.
///
/// # Safety
/// `path` must be a NUL-terminated string; `out` writable; `warning` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_identity_read_file(
    path: *const c_char,
    out: *mut *mut dkm_identity,
    warning: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(warning) };
    guard(|| {
        // SAFETY: per this function's contract.
        let p = unsafe { text(path, "path") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        let f = files::read_identity(Path::new(p))?;
        // SAFETY: NULL or writable per this function's contract.
        if let (Some(w), Some(text)) = (unsafe { warning.as_mut() }, &f.warning) {
            put(w, text.as_bytes())?;
        }
        give(slot, dkm_identity { inner: f.identity });
        Ok(())
    })
}

/// Writes `identity` to a new file at `path` (mode 0600; an existing file is never replaced:
/// `DKM_INVALID_INPUT`), under the label `name`.
///
/// # Safety
/// `identity` a live handle; `path` and `name` NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_identity_write_file(
    identity: *const dkm_identity,
    path: *const c_char,
    name: *const c_char,
) -> dkm_status {
    guard(|| {
        // SAFETY: per this function's contract.
        let id = unsafe { handle(identity, "identity") }?;
        // SAFETY: per this function's contract.
        let p = unsafe { text(path, "path") }?;
        // SAFETY: per this function's contract.
        let n = unsafe { text(name, "name") }?;
        files::write_identity(Path::new(p), n, &id.inner)
    })
}

/// The identity's secret text (`dkmsec1...`) into `*out`: a secret; `dkm_buffer_free`
/// zeroizes it.
///
/// # Safety
/// `identity` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_identity_to_text(
    identity: *const dkm_identity,
    out: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let id = unsafe { handle(identity, "identity") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        put(slot, id.inner.to_secret_text().as_bytes())
    })
}

/// The identity's public identity into `*out` (free it with `dkm_public_identity_free`).
///
/// # Safety
/// `identity` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_identity_public(
    identity: *const dkm_identity,
    out: *mut *mut dkm_public_identity,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let id = unsafe { handle(identity, "identity") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        give(
            slot,
            dkm_public_identity {
                inner: id.inner.public().clone(),
            },
        );
        Ok(())
    })
}

/// The identity's id (hex text) into `*out`.
///
/// # Safety
/// `identity` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_identity_id(
    identity: *const dkm_identity,
    out: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let id = unsafe { handle(identity, "identity") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        put(slot, id.inner.id().to_string().as_bytes())
    })
}

/// Frees an identity, zeroizing its keys. NULL is a no-op.
///
/// # Safety
/// `identity` must be NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_identity_free(identity: *mut dkm_identity) {
    // SAFETY: per this function's contract.
    unsafe { free(identity) }
}

/// Reads a public identity from its text (`dkmpub1...`, NUL-terminated) into `*out`. A
/// secret identity given here is `DKM_INVALID_INPUT` (and never echoed).
///
/// # Safety
/// `text` a NUL-terminated string; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_public_identity_from_text(
    text: *const c_char,
    out: *mut *mut dkm_public_identity,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let t = unsafe { crate::boundary::text(text, "text") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        let inner = files::parse_public_identity(t)?;
        give(slot, dkm_public_identity { inner });
        Ok(())
    })
}

/// The public identity's text (`dkmpub1...`) into `*out`.
///
/// # Safety
/// `public_identity` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_public_identity_to_text(
    public_identity: *const dkm_public_identity,
    out: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let p = unsafe { handle(public_identity, "public_identity") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        put(slot, p.inner.to_text().as_bytes())
    })
}

/// The public identity's id (hex text) into `*out`: the same as its secret identity's.
///
/// # Safety
/// `public_identity` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_public_identity_id(
    public_identity: *const dkm_public_identity,
    out: *mut dkm_buffer,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear_buffer(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let p = unsafe { handle(public_identity, "public_identity") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        put(slot, p.inner.id().to_string().as_bytes())
    })
}

/// Frees a public identity. NULL is a no-op.
///
/// # Safety
/// NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_public_identity_free(public_identity: *mut dkm_public_identity) {
    // SAFETY: per this function's contract.
    unsafe { free(public_identity) }
}

/// Parses a pin (the hex text of a pin file, or its raw bytes).
pub(crate) fn parse_pin(b: &[u8]) -> Result<Pin> {
    match std::str::from_utf8(b) {
        Ok(t) if !t.trim().is_empty() && t.trim().bytes().all(|c| c.is_ascii_hexdigit()) => {
            files::parse_pin_text(t, Path::new("the pin"))
        }
        _ => Ok(Pin::from_bytes(b)?),
    }
}

/// Loads a ring's public part (`dkm ring export-public`'s file, or
/// `dkm_host_export_public`'s bytes) into `*out`, verified through `pin` (`pin_len` bytes: a
/// pin file's hex text or the pin's bytes) when it is not NULL (an empty pin is
/// `DKM_INVALID_INPUT`), else through the pin the part carries, which trusts whoever made the
/// file. `DKM_TAMPERED` when it does not verify.
///
/// # Safety
/// `public_part` must point to `public_len` bytes; `pin` to `pin_len` bytes or be NULL with
/// `pin_len` 0; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_ring_public_new(
    public_part: *const u8,
    public_len: usize,
    pin: *const u8,
    pin_len: usize,
    out: *mut *mut dkm_ring_public,
) -> dkm_status {
    // SAFETY: per this function's contract.
    unsafe { clear(out) };
    guard(|| {
        // SAFETY: per this function's contract.
        let p = unsafe { bytes(public_part, public_len, "public_part") }?;
        let pin_given = !pin.is_null();
        // SAFETY: per this function's contract.
        let pin = unsafe { bytes(pin, pin_len, "pin") }?;
        // SAFETY: per this function's contract.
        let slot = unsafe { crate::boundary::out(out, "out") }?;
        if p.is_empty() {
            return Err(invalid("public_part is empty"));
        }
        // Only NULL means "no pin": an empty pin (a truncated pin file) must not quietly
        // become trust in whoever made the public part.
        let pin = match (pin_given, pin.is_empty()) {
            (false, _) => None,
            (true, true) => return Err(invalid("pin is empty: give NULL for no pin")),
            (true, false) => Some(parse_pin(pin)?),
        };
        let inner = dkm_host::load_public(p, pin.as_ref())?;
        give(slot, dkm_ring_public { inner });
        Ok(())
    })
}

/// Frees a ring's public part. NULL is a no-op.
///
/// # Safety
/// NULL or a live handle, not used after.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dkm_ring_public_free(ring_public: *mut dkm_ring_public) {
    // SAFETY: per this function's contract.
    unsafe { free(ring_public) }
}
