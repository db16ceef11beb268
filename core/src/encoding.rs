//! Strict readers and writers for the canonical binary forms, and the base32 text alphabet.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, ErrorKind, Result};

/// Appends big-endian integers and length-prefixed fields to a buffer.
pub(crate) trait Writer {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    fn put(&mut self, bytes: &[u8]);
    /// A `u8` length and the bytes (callers keep them under 256 bytes).
    fn put_bytes8(&mut self, bytes: &[u8]);
    /// A `u32` length and the bytes.
    fn put_bytes32(&mut self, bytes: &[u8]);
    /// A `u16` count (callers keep lists under 65,536 elements).
    fn put_count16(&mut self, n: usize);
}

impl Writer for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn put_bytes8(&mut self, bytes: &[u8]) {
        self.push(u8::try_from(bytes.len()).unwrap_or(u8::MAX));
        self.extend_from_slice(bytes);
    }
    fn put_bytes32(&mut self, bytes: &[u8]) {
        self.put_u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        self.extend_from_slice(bytes);
    }
    fn put_count16(&mut self, n: usize) {
        self.put_u16(u16::try_from(n).unwrap_or(u16::MAX));
    }
}

/// A cursor over untrusted bytes: every read is bounds-checked and a parse must end with
/// [`Reader::finish`], which refuses trailing bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

const TRUNCATED: Error = Error::malformed("input is truncated: supply the complete value");

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(TRUNCATED);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.bytes(N)?;
        <[u8; N]>::try_from(b).map_err(|_| TRUNCATED)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array::<1>()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array::<2>()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array::<4>()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array::<8>()?))
    }

    /// A flag byte: 0 or 1, nothing else.
    pub(crate) fn flag(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::malformed("a flag byte must be 0 or 1")),
        }
    }

    /// A `u16` element count, refused above `max` before anything is allocated.
    pub(crate) fn count16(&mut self, max: usize) -> Result<usize> {
        let n = usize::from(self.u16()?);
        if n > max {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a list is longer than its documented limit",
            ));
        }
        Ok(n)
    }

    /// A `u8` length and that many bytes.
    pub(crate) fn bytes8(&mut self) -> Result<&'a [u8]> {
        let n = usize::from(self.u8()?);
        self.bytes(n)
    }

    /// A `u32` length (refused above `max`) and that many bytes.
    pub(crate) fn bytes32(&mut self, max: usize) -> Result<&'a [u8]> {
        let n = usize::try_from(self.u32()?).unwrap_or(usize::MAX);
        if n > max {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "a length field is past its documented limit",
            ));
        }
        self.bytes(n)
    }

    /// All remaining bytes.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Succeeds only when every byte was consumed.
    pub(crate) fn finish(self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::malformed(
                "trailing bytes after the end of the value: the input is not canonical",
            ))
        }
    }
}

/// Writes `bytes` as lower-case hex (how ids are printed).
pub(crate) fn write_hex(f: &mut core::fmt::Formatter<'_>, bytes: &[u8]) -> core::fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

/// Parses exactly `N` bytes of hex (either case, surrounding whitespace ignored); `None`
/// otherwise.
pub(crate) fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let t = text.trim().as_bytes();
    if t.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(t.chunks_exact(2)) {
        let (hi, lo) = (digit(*pair.first()?)?, digit(*pair.get(1)?)?);
        *o = (hi << 4) | lo;
    }
    Some(out)
}

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// RFC 4648 base32 with a lower-case alphabet and no padding.
pub(crate) fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5).saturating_mul(8));
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(b32_char(acc >> bits));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(b32_char(acc << (5 - bits)));
    }
    out
}

fn b32_char(v: u32) -> char {
    let i = (v & 31) as usize;
    B32.get(i).map_or('?', |&c| char::from(c))
}

fn b32_value(c: u8) -> Option<u32> {
    match c {
        b'a'..=b'z' => Some(u32::from(c - b'a')),
        b'2'..=b'7' => Some(u32::from(c - b'2') + 26),
        _ => None,
    }
}

/// Strict inverse of [`base32_encode`]: refuses upper case, padding, other characters,
/// impossible lengths and non-zero trailing bits, so each value has one text form.
pub(crate) fn base32_decode(text: &str) -> Result<Vec<u8>> {
    const BAD: Error = Error::malformed(
        "not canonical lower-case base32: check the text was copied completely and unchanged",
    );
    // Lengths mod 8 of 1, 3 and 6 cannot come from whole bytes.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err(BAD);
    }
    let mut out = Vec::with_capacity(text.len().saturating_mul(5) / 8);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    for &c in text.as_bytes() {
        let v = b32_value(c).ok_or(BAD)?;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if acc != 0 {
        return Err(BAD);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_rfc4648_vectors_lowercase() {
        let cases: [(&str, &str); 7] = [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ];
        for (plain, enc) in cases {
            assert_eq!(base32_encode(plain.as_bytes()), enc);
            assert_eq!(base32_decode(enc).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn base32_refuses_non_canonical() {
        for bad in ["MY", "m", "myy", "mz", "my=", "m1", "mzxw6yr", "mzxw6y "] {
            assert!(base32_decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reader_refuses_trailing_and_truncated() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert!(r.u16().is_err());
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert!(r.finish().is_err());
    }
}
