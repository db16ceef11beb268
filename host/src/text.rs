//! Text forms a host reads and writes, with no file system: times and durations as people
//! type them, an identity file's text, public identities, pins in hex, a ring's public part.
//! Everything here builds on every target.

use std::path::Path;

use dkm_core::{ErrorKind, Identity, Pin, PublicIdentity};
use zeroize::Zeroizing;

use crate::error::{HostError, Result};

/// A secret identity file: a comment line naming it, then the secret text. The name is 1 to
/// 64 characters without control characters.
pub fn identity_file_text(name: &str, id: &Identity) -> Result<Zeroizing<String>> {
    if crate::error::looks_secret(name) {
        return Err(HostError::new(
            ErrorKind::InvalidInput,
            "an identity name may not look like a secret identity (dkmsec...)",
        ));
    }
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(HostError::new(
            ErrorKind::InvalidInput,
            "an identity name is 1 to 64 characters without control characters",
        ));
    }
    // Built in one buffer reserved up front: a growing String would leave copies of the
    // secret in the blocks it frees.
    let secret = id.to_secret_text();
    const HEAD: &str = "# dkm identity ";
    const MID: &str = ": keep this file secret\n";
    let mut text = Zeroizing::new(String::with_capacity(
        HEAD.len() + name.len() + MID.len() + secret.len() + 1,
    ));
    text.push_str(HEAD);
    text.push_str(name);
    text.push_str(MID);
    text.push_str(&secret);
    text.push('\n');
    Ok(text)
}

pub(crate) fn secret_given(what: &str) -> HostError {
    HostError::new(
        ErrorKind::InvalidInput,
        format!(
            "a secret identity was given where {what} was expected (keep it out of command lines: they show in process lists and shell history)"
        ),
    )
}

/// Parses the text of an identity file (`what` names it in errors): blank lines, comment
/// lines (`#`) and exactly one secret identity. Trailing content or a second secret is
/// refused (`Malformed`); a public identity in its place is `InvalidInput`.
pub fn identity_from_file_text(bytes: &[u8], what: &str) -> Result<Identity> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        HostError::new(
            ErrorKind::Malformed,
            format!("{what} is not a dkm identity file"),
        )
    })?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines
        .next()
        .ok_or_else(|| HostError::new(ErrorKind::Malformed, format!("{what} holds no identity")))?;
    if lines.next().is_some() {
        return Err(HostError::new(
            ErrorKind::Malformed,
            format!(
                "{what} holds more than one secret identity line (trailing content or a second secret): an identity file is comment lines and one secret identity"
            ),
        ));
    }
    if line.starts_with(dkm_core::labels::PUBLIC_PREFIX) {
        return Err(HostError::new(
            ErrorKind::InvalidInput,
            format!(
                "{what} holds a public identity where a secret one belongs (a public identity opens nothing: use the identity file `dkm identity new` wrote)"
            ),
        ));
    }
    Identity::from_secret_text(line)
        .map_err(|e| HostError::new(e.kind(), format!("{what}: {}", e.message())))
}

/// Parses a public identity as printed (`dkmpub1...`). A secret identity given by mistake
/// is refused without being echoed.
pub fn parse_public_identity(text: &str) -> Result<PublicIdentity> {
    if crate::error::looks_secret(text) {
        return Err(secret_given(
            "a public one (the last line of `dkm identity show FILE`)",
        ));
    }
    PublicIdentity::from_text(text.trim()).map_err(|e| {
        HostError::new(
            e.kind(),
            format!("{text:?} is not a public identity: {}", e.message()),
        )
    })
}

/// Parses a pin in hex.
pub fn parse_pin_text(text: &str, path: &Path) -> Result<Pin> {
    let bytes = hex::decode(text.trim()).map_err(|_| {
        HostError::new(
            ErrorKind::Malformed,
            format!("{} is not a dkm pin (hex)", path.display()),
        )
    })?;
    Ok(Pin::from_bytes(&bytes)?)
}

pub(crate) const PUBLIC_MAGIC: &[u8; 4] = b"DKMP";

/// A ring's public part for seal-only parties: `"DKMP" ‖ 0x01 ‖ u32 pin length ‖ pin ‖ ring
/// blob`.
pub fn public_file(pin: &Pin, blob: &[u8]) -> Vec<u8> {
    let pin = pin.to_bytes();
    let mut out = Vec::with_capacity(9 + pin.len() + blob.len());
    out.extend_from_slice(PUBLIC_MAGIC);
    out.push(1);
    out.extend_from_slice(&u32::try_from(pin.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&pin);
    out.extend_from_slice(blob);
    out
}

/// Parses [`public_file`]: the pin and the blob.
pub fn parse_public_file(bytes: &[u8]) -> Result<(Pin, Vec<u8>)> {
    let bad = || HostError::new(ErrorKind::Malformed, "not a dkm public ring file");
    let rest = bytes.strip_prefix(PUBLIC_MAGIC).ok_or_else(bad)?;
    let (version, rest) = rest.split_first().ok_or_else(bad)?;
    if *version != 1 {
        return Err(HostError::new(
            ErrorKind::Unsupported,
            "unknown public ring file version: upgrade dkm",
        ));
    }
    let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
    let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| bad())?;
    let (pin, blob) = rest.split_at_checked(len).ok_or_else(bad)?;
    Ok((Pin::from_bytes(pin)?, blob.to_vec()))
}

/// Parses an RFC 3339 time (`Z` or a `±HH:MM` offset) into Unix seconds.
pub fn parse_time(text: &str) -> Result<u64> {
    let bad = || {
        HostError::new(
            ErrorKind::InvalidInput,
            format!("{text:?} is not an RFC 3339 time (like 2026-01-01T00:00:00Z)"),
        )
    };
    let t = text.trim();
    if let Some(secs) = parse_utc_exact(t) {
        return Ok(secs);
    }
    // A numeric offset: parse the local time and move it to UTC.
    let (local, offset) = match t.len().checked_sub(6).and_then(|i| t.split_at_checked(i)) {
        Some((base, off))
            if matches!(off.as_bytes(), [b'+' | b'-', h1, h2, b':', m1, m2]
                if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())) =>
        {
            let sign: i64 = if off.starts_with('-') { -1 } else { 1 };
            let hh: i64 = off.get(1..3).and_then(|x| x.parse().ok()).ok_or_else(bad)?;
            let mm: i64 = off.get(4..6).and_then(|x| x.parse().ok()).ok_or_else(bad)?;
            if hh > 23 || mm > 59 {
                return Err(bad());
            }
            (format!("{base}Z"), sign * (hh * 3600 + mm * 60))
        }
        _ => (t.to_owned(), 0),
    };
    let parsed = humantime::parse_rfc3339_weak(&local).map_err(|_| bad())?;
    let secs = parsed
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| {
            HostError::new(
                ErrorKind::InvalidInput,
                "times before 1970 are not supported",
            )
        })?
        .as_secs();
    let secs = i64::try_from(secs).map_err(|_| bad())?;
    u64::try_from(secs - offset).map_err(|_| {
        HostError::new(
            ErrorKind::InvalidInput,
            "times before 1970 are not supported",
        )
    })
}

/// Formats Unix seconds as RFC 3339 (`YYYY-MM-DDTHH:MM:SSZ`). Any `u64` formats: a year past
/// 9999 (an epoch's end under a long interval) is written with as many digits as it needs,
/// and [`parse_time`] reads it back.
pub fn format_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm,
/// for days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year ≥ 1970), or `None` when it is
/// not a date.
fn days_from_civil(y: u64, m: u64, d: u64) -> Option<u64> {
    let leap = y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let max = *month_days.get(usize::try_from(m.checked_sub(1)?).ok()?)?;
    if y < 1970 || d == 0 || d > max {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

/// The exact form [`format_time`] writes (any number of year digits), parsed.
fn parse_utc_exact(t: &str) -> Option<u64> {
    let (date, time) = t.strip_suffix('Z')?.split_once('T')?;
    let mut dp = date.rsplitn(3, '-');
    let (d, m, y) = (dp.next()?, dp.next()?, dp.next()?);
    let num = |s: &str, len: Option<usize>| -> Option<u64> {
        if s.is_empty()
            || !s.bytes().all(|b| b.is_ascii_digit())
            || len.is_some_and(|l| s.len() != l)
        {
            return None;
        }
        s.parse().ok()
    };
    let (y, m, d) = (num(y, None)?, num(m, Some(2))?, num(d, Some(2))?);
    if y < 1000 {
        return None;
    }
    let mut tp = time.split(':');
    let (hh, mm, ss) = (
        num(tp.next()?, Some(2))?,
        num(tp.next()?, Some(2))?,
        num(tp.next()?, Some(2))?,
    );
    if tp.next().is_some() || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    days_from_civil(y, m, d)?
        .checked_mul(86_400)?
        .checked_add(hh * 3_600 + mm * 60 + ss)
}

/// Parses a duration like `1d`, `8h`, `30d`, `90m` into seconds.
pub fn parse_duration(text: &str) -> Result<u64> {
    humantime::parse_duration(text)
        .map(|d| d.as_secs())
        .map_err(|_| {
            HostError::new(
                ErrorKind::InvalidInput,
                format!("{text:?} is not a duration (like 1d, 8h, 30m)"),
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_time_formats_and_parses_back() {
        for secs in [
            0,
            1,
            86_399,
            951_782_400,
            1_893_456_000,
            253_402_300_799,
            253_402_300_800,
            4_000_000_000_000,
            1 << 62,
            u64::MAX / 2,
        ] {
            let text = format_time(secs);
            assert_eq!(parse_time(&text).unwrap(), secs, "{text}");
        }
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_time(253_402_300_800), "10000-01-01T00:00:00Z");
        for bad in [
            "2001-02-29T00:00:00Z",
            "2030-13-01T00:00:00Z",
            "2030-01-01T24:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_time("2030-01-01T01:00:00+01:00").unwrap(),
            1_893_456_000
        );
    }
}
