//! Inputs read whole, each kind with one limit (the format's own), the same for regular
//! files, stdin, pipes and devices: a reader never grows past the limit, and a kind with a
//! recognisable start (a sealed secret, a public part) stops at the first byte that cannot
//! belong to it. Buffers are zeroized when they grow and when they are dropped, so a
//! plaintext or an identity read leaves no copy behind.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use dkm_core::ErrorKind;
use dkm_core::sealed::{MAX_ARMOR_LEN, MAX_PLAINTEXT_LEN, MAX_SEALED_LEN};
use zeroize::Zeroizing;

use crate::error::{HostError, Result};

/// Longest ring blob (SPEC §11.1): header, 32 governance records of at most 256 KiB each
/// with their lengths, the key-state flag, length and record of at most 8 MiB.
pub const MAX_RING_BLOB: usize = 4
    + 1
    + 16
    + 1
    + dkm_core::ring::MAX_GOVERNANCE_HISTORY * (4 + dkm_core::ring::MAX_GOVERNANCE_LEN)
    + 1
    + 4
    + dkm_core::ring::MAX_KEY_STATE_LEN;

/// Longest pin (SPEC §11.3): version, ring id, 256 admins, both versions with their hashes.
pub const MAX_PIN_LEN: usize =
    1 + 16 + 2 + dkm_core::ring::MAX_PIN_ADMINS * 64 + (1 + 8 + 32) + (1 + 8 + 32 + 8);

/// Longest identity file: a comment line naming it, the secret text, and room for a few
/// comment lines of the owner's.
pub const MAX_IDENTITY_FILE: usize = 4096;

/// Longest pin file: the pin in hex and a line end.
pub const MAX_PIN_FILE: usize = 2 * MAX_PIN_LEN + 2;

/// Longest public part (SPEC §14): header, pin, ring blob.
pub const MAX_PUBLIC_FILE: usize = 9 + MAX_PIN_LEN + MAX_RING_BLOB;

/// Trailing whitespace (a line end) allowed after an armored sealed secret.
const ARMOR_SLACK: usize = 2;

/// A kind of input, with its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A plaintext to seal: at most 2^30 bytes.
    Plaintext,
    /// A sealed secret, binary (at most 2^30 + 128 bytes) or armored (at most its armor
    /// length and a line end).
    Sealed,
    /// A secret identity file.
    Identity,
    /// A pin file (hex).
    Pin,
    /// A ring's public part.
    Public,
    /// A grant (its signed binary form).
    Grant,
    /// A ring snapshot (its three streams): at most 1 GiB.
    Snapshot,
}

impl Input {
    /// The most bytes an input of this kind may have.
    pub const fn limit(self) -> usize {
        match self {
            Input::Plaintext => MAX_PLAINTEXT_LEN,
            Input::Sealed => MAX_ARMOR_LEN + ARMOR_SLACK,
            Input::Identity => MAX_IDENTITY_FILE,
            Input::Pin => MAX_PIN_FILE,
            Input::Public => MAX_PUBLIC_FILE,
            Input::Grant => dkm_core::ring::keystate::MAX_GRANT_LEN,
            Input::Snapshot => 1 << 30,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Input::Plaintext => "a plaintext",
            Input::Sealed => "a sealed secret",
            Input::Identity => "an identity file",
            Input::Pin => "a pin file",
            Input::Public => "a public ring file",
            Input::Grant => "a grant",
            Input::Snapshot => "a ring snapshot",
        }
    }

    fn limit_text(self) -> String {
        match self {
            Input::Plaintext | Input::Snapshot => "1 GiB".to_owned(),
            Input::Sealed => "1 GiB (and its armor)".to_owned(),
            k => format!("{} bytes", k.limit()),
        }
    }

    /// The limit of an input whose first bytes are `start` (binary sealed secrets are
    /// shorter than their armor).
    fn limit_for(self, start: &[u8]) -> usize {
        match self {
            Input::Sealed if start.first() == Some(&1) => MAX_SEALED_LEN,
            k => k.limit(),
        }
    }

    /// Refuses early an input whose bytes so far cannot start one of this kind (the error the
    /// whole input's parser would give). `from` is where the bytes not yet checked start.
    fn check_start(self, bytes: &[u8], from: usize) -> Result<()> {
        match self {
            Input::Sealed => check_sealed_start(bytes, from),
            Input::Public => {
                check_magic(bytes, crate::text::PUBLIC_MAGIC, "a dkm public ring file")
            }
            Input::Snapshot => check_magic(bytes, crate::snapshot::MAGIC, "a dkm ring snapshot"),
            _ => Ok(()),
        }
    }
}

/// The bytes so far are a prefix of `magic` or start with it.
fn check_magic(bytes: &[u8], magic: &[u8], what: &str) -> Result<()> {
    let n = bytes.len().min(magic.len());
    if bytes.get(..n) != magic.get(..n) {
        return Err(HostError::new(ErrorKind::Malformed, format!("not {what}")));
    }
    Ok(())
}

fn check_sealed_start(bytes: &[u8], from: usize) -> Result<()> {
    const PREFIX: &[u8] = b"dkm1:";
    let Some(&first) = bytes.first() else {
        return Ok(());
    };
    if first == b'd' {
        let n = bytes.len().min(PREFIX.len());
        if bytes.get(..n) != PREFIX.get(..n) {
            // Not armor, so the binary form, whose version byte is not 1.
            return Err(unknown_version());
        }
        // Armor: base64url characters, then at most trailing whitespace. Only the new bytes
        // are looked at; whitespace seen before means only whitespace may follow.
        let body = bytes.get(PREFIX.len()..).unwrap_or_default();
        let start = from.saturating_sub(PREFIX.len());
        let new = body.get(start..).unwrap_or_default();
        let after_text = start > 0 && body.get(start - 1).is_some_and(u8::is_ascii_whitespace);
        let text_end = if after_text {
            0
        } else {
            new.iter()
                .position(u8::is_ascii_whitespace)
                .unwrap_or(new.len())
        };
        let (text, tail) = new.split_at(text_end);
        let bad_char = text
            .iter()
            .any(|b| !(b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_'));
        if bad_char || !tail.iter().all(u8::is_ascii_whitespace) {
            return Err(HostError::new(
                ErrorKind::Malformed,
                "armor is not canonical base64url without padding: check it was copied completely and unchanged",
            ));
        }
        return Ok(());
    }
    if first != 1 {
        return Err(unknown_version());
    }
    match bytes.get(1) {
        None | Some(1 | 2) => Ok(()),
        Some(_) => Err(HostError::new(
            ErrorKind::Unsupported,
            "unknown sealed-secret suite: a newer dkm may have sealed it",
        )),
    }
}

fn unknown_version() -> HostError {
    HostError::new(
        ErrorKind::Unsupported,
        "unknown sealed-secret version: a newer dkm may have sealed it, or it is not a sealed secret",
    )
}

/// Reads all of `reader` as an input of `kind`, named `what` in errors (a path or "stdin"):
/// `TooLarge` past the kind's limit, the parser's error as soon as the start cannot be of
/// that kind. Stops reading at the first refusal, so an endless source (`/dev/zero`, a
/// pipe that never closes past the limit) cannot exhaust memory.
pub fn read_all(reader: &mut dyn Read, kind: Input, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    read_limited(reader, kind, what, |start| kind.limit_for(start))
}

/// [`read_all`] with the limit given by `limit_for(first bytes)`.
fn read_limited(
    reader: &mut dyn Read,
    kind: Input,
    what: &str,
    limit_for: impl Fn(&[u8]) -> usize,
) -> Result<Zeroizing<Vec<u8>>> {
    const CHUNK: usize = 64 * 1024;
    let mut buf = Zeroizing::new(Vec::with_capacity(CHUNK));
    let mut chunk = Zeroizing::new(vec![0u8; CHUNK]);
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(HostError::new(
                    ErrorKind::InvalidInput,
                    format!("cannot read {what}: {e}"),
                ));
            }
        };
        let from = buf.len();
        let new = chunk.get(..n).unwrap_or_default();
        let limit = limit_for(buf.get(..1).unwrap_or(new));
        if from.saturating_add(n) > limit {
            return Err(too_large(kind, what));
        }
        if buf.capacity() < from + n {
            // Grow by hand so the old buffer is zeroized, not left behind by a realloc; never
            // past the limit.
            let mut bigger = Zeroizing::new(Vec::with_capacity(
                (from + n).max(buf.capacity().saturating_mul(2).min(limit)),
            ));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        buf.extend_from_slice(new);
        kind.check_start(&buf, from)
            .map_err(|e| HostError::new(e.kind(), format!("{what}: {}", e.message())))?;
    }
    Ok(buf)
}

fn too_large(kind: Input, what: &str) -> HostError {
    HostError::new(
        ErrorKind::TooLarge,
        format!(
            "{what} is larger than {} may be ({})",
            kind.noun(),
            kind.limit_text()
        ),
    )
}

/// Reads the file at `path` (a regular file, a FIFO or a device) as an input of `kind`.
/// A file the user named that cannot be opened is `InvalidInput`.
pub fn read_path(path: &Path, kind: Input) -> Result<Zeroizing<Vec<u8>>> {
    let what = path.display().to_string();
    let mut f = File::open(path)
        .map_err(|e| HostError::new(ErrorKind::InvalidInput, format!("cannot read {what}: {e}")))?;
    if let Ok(m) = f.metadata()
        && m.is_file()
        && m.len() > kind.limit() as u64
    {
        return Err(too_large(kind, &what));
    }
    read_all(&mut f, kind, &what)
}

/// Reads standard input as an input of `kind`.
pub fn read_stdin(kind: Input) -> Result<Zeroizing<Vec<u8>>> {
    read_all(&mut std::io::stdin().lock(), kind, "stdin")
}

/// A sealed secret as read: an armored one may end with a line end, which is not part of it.
pub fn trim_armor(input: &[u8]) -> &[u8] {
    if input.starts_with(b"dkm1:") {
        input.trim_ascii_end()
    } else {
        input
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn kind_of(r: Result<Zeroizing<Vec<u8>>>) -> ErrorKind {
        r.err().map(|e| e.kind()).unwrap_or(ErrorKind::Internal)
    }

    #[test]
    fn endless_sources_stop_at_the_limit_or_the_first_bad_byte() {
        let zero = || std::io::repeat(0).take(u64::MAX);
        for kind in [Input::Identity, Input::Pin, Input::Grant] {
            assert_eq!(
                kind_of(read_all(&mut zero(), kind, "x")),
                ErrorKind::TooLarge
            );
        }
        assert_eq!(
            kind_of(read_all(&mut zero(), Input::Sealed, "x")),
            ErrorKind::Unsupported
        );
        assert_eq!(
            kind_of(read_all(&mut zero(), Input::Public, "x")),
            ErrorKind::Malformed
        );
        // Past the limit (a small one here: the real ones are a GiB) is TooLarge, for the
        // form the first byte names.
        let small = |start: &[u8]| if start.first() == Some(&1) { 100 } else { 200 };
        let mut armor = std::io::Read::chain(&b"dkm1:"[..], std::io::repeat(b'A'));
        let r = read_limited(&mut armor, Input::Sealed, "x", small);
        assert_eq!(kind_of(r), ErrorKind::TooLarge);
        let mut binary = std::io::Read::chain(&[1u8, 1][..], std::io::repeat(7));
        let r = read_limited(&mut binary, Input::Sealed, "x", small);
        assert_eq!(kind_of(r), ErrorKind::TooLarge);
        let exact = [b'A'; 195];
        let mut armor = std::io::Read::chain(&b"dkm1:"[..], &exact[..]);
        let r = read_limited(&mut armor, Input::Sealed, "x", small);
        assert_eq!(r.unwrap().len(), 200);
    }

    #[test]
    fn sealed_starts() {
        let ok = |b: &[u8]| read_all(&mut &b[..], Input::Sealed, "x").map(|v| v.len());
        assert_eq!(ok(b"dkm1:AbC-_9\n").unwrap(), 12);
        assert_eq!(ok(b"dkm1:AbC\r\n").unwrap(), 10);
        assert_eq!(ok(b"dkm").unwrap(), 3);
        assert_eq!(ok(&[1, 2, 3]).unwrap(), 3);
        assert_eq!(ok(b"").unwrap(), 0);
        for bad in [&b"dkm1:Ab=C"[..], b"dkm1:Ab\nC", b"dkm1:A b"] {
            assert_eq!(ok(bad).unwrap_err().kind(), ErrorKind::Malformed, "{bad:?}");
        }
        for bad in [&b"dkx"[..], &[0], &[1, 3], b"hello"] {
            assert_eq!(
                ok(bad).unwrap_err().kind(),
                ErrorKind::Unsupported,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_slow_reader_is_checked_across_chunks() {
        // One byte a read: the armor check must look at every new byte.
        struct Slow<'a>(&'a [u8]);
        impl Read for Slow<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let Some((b, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                out[0] = *b;
                self.0 = rest;
                Ok(1)
            }
        }
        let r = read_all(&mut Slow(b"dkm1:AAAA*AAAA"), Input::Sealed, "x");
        assert_eq!(kind_of(r), ErrorKind::Malformed);
        let r = read_all(&mut Slow(b"dkm1:AAAA\nA"), Input::Sealed, "x");
        assert_eq!(kind_of(r), ErrorKind::Malformed);
        let r = read_all(&mut Slow(b"dkm1:AAAA\n"), Input::Sealed, "x");
        assert_eq!(r.unwrap().len(), 10);
    }

    #[test]
    fn limits_follow_the_formats() {
        assert_eq!(MAX_PIN_LEN, 16_493);
        assert_eq!(MAX_RING_BLOB, 16 * 1024 * 1024 + 22 + 32 * 4 + 5);
        assert_eq!(Input::Sealed.limit_for(&[1]), MAX_SEALED_LEN);
    }
}
