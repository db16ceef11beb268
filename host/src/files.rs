//! Files a host keeps: secret identities, the pin book, a ring's public part, times and
//! durations as people type them.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use dkm_core::{ErrorKind, Identity, Pin, RingId};

use crate::error::{HostError, Result};

/// Longest file the host reads whole (identity, pin, public part, grant).
const MAX_SMALL_FILE: u64 = 16 * 1024 * 1024;

/// Reads a whole file (at most 16 MiB).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let meta = fs::metadata(path).map_err(|e| HostError::io("cannot read", path, &e))?;
    if meta.len() > MAX_SMALL_FILE {
        return Err(HostError::new(
            ErrorKind::TooLarge,
            format!("{} is larger than 16 MiB", path.display()),
        ));
    }
    fs::read(path).map_err(|e| HostError::io("cannot read", path, &e))
}

/// Writes a file (mode 0600 when `secret`), refusing to replace an existing one when
/// `exclusive`.
pub fn write_file(path: &Path, bytes: &[u8], secret: bool, exclusive: bool) -> Result<()> {
    let mut o = OpenOptions::new();
    o.write(true);
    if exclusive {
        o.create_new(true);
    } else {
        o.create(true).truncate(true);
    }
    if secret {
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .map_err(|e| HostError::io("cannot write", path, &e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| HostError::io("cannot write", path, &e))
}

/// A secret identity file: a comment line naming it, then the secret text.
pub fn identity_file_text(name: &str, id: &Identity) -> String {
    format!(
        "# dkm identity {name}: keep this file secret\n{}\n",
        id.to_secret_text().as_str()
    )
}

/// Reads a secret identity file.
pub fn read_identity(path: &Path) -> Result<Identity> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        HostError::new(
            ErrorKind::Malformed,
            format!("{} is not a dkm identity file", path.display()),
        )
    })?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| {
            HostError::new(
                ErrorKind::Malformed,
                format!("{} holds no identity", path.display()),
            )
        })?;
    Identity::from_secret_text(line)
        .map_err(|e| HostError::new(e.kind(), format!("{}: {}", path.display(), e.message())))
}

/// The pins a host has seen, one file per ring (`<dir>/<ring id>.pin`, hex), like SSH's
/// `known_hosts`.
#[derive(Clone, Debug)]
pub struct PinBook {
    dir: PathBuf,
}

impl PinBook {
    /// The pin book in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> PinBook {
        PinBook { dir: dir.into() }
    }

    fn path(&self, ring: RingId) -> PathBuf {
        self.dir.join(format!("{ring}.pin"))
    }

    /// The saved pin of `ring`.
    pub fn get(&self, ring: RingId) -> Result<Option<Pin>> {
        let path = self.path(ring);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(parse_pin_text(text.trim(), &path)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::io("cannot read", &path, &e)),
        }
    }

    /// Saves `pin` (replacing the previous one by rename).
    pub fn save(&self, pin: &Pin) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| HostError::io("cannot create", &self.dir, &e))?;
        let path = self.path(pin.ring);
        let tmp = self
            .dir
            .join(format!("{}.pin.tmp.{}", pin.ring, std::process::id()));
        write_file(
            &tmp,
            format!("{}\n", hex::encode(pin.to_bytes())).as_bytes(),
            false,
            false,
        )?;
        fs::rename(&tmp, &path).map_err(|e| HostError::io("cannot write", &path, &e))
    }
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

const PUBLIC_MAGIC: &[u8; 4] = b"DKMP";

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

/// Parses an RFC 3339 time into Unix seconds.
pub fn parse_time(text: &str) -> Result<u64> {
    let t = humantime::parse_rfc3339_weak(text).map_err(|_| {
        HostError::new(
            ErrorKind::InvalidInput,
            format!("{text:?} is not an RFC 3339 time (like 2026-01-01T00:00:00Z)"),
        )
    })?;
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| {
            HostError::new(
                ErrorKind::InvalidInput,
                "times before 1970 are not supported",
            )
        })
}

/// Formats Unix seconds as RFC 3339.
pub fn format_time(secs: u64) -> String {
    std::time::UNIX_EPOCH
        .checked_add(std::time::Duration::from_secs(secs))
        .map_or_else(
            || secs.to_string(),
            |t| humantime::format_rfc3339_seconds(t).to_string(),
        )
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
