//! Files a host keeps: secret identities, the pin book, a ring's public part, times and
//! durations as people type them.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use dkm_core::{ErrorKind, Identity, Pin, RingId};

use crate::error::{HostError, Result};

/// Longest file the host reads whole (identity, pin, public part, grant).
const MAX_SMALL_FILE: u64 = 16 * 1024 * 1024;

/// Reads a whole file (at most 16 MiB).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let meta = fs::metadata(path).map_err(|e| user_io("cannot read", path, &e))?;
    if meta.len() > MAX_SMALL_FILE {
        return Err(HostError::new(
            ErrorKind::TooLarge,
            format!("{} is larger than 16 MiB", path.display()),
        ));
    }
    fs::read(path).map_err(|e| user_io("cannot read", path, &e))
}

/// A file the user named could not be read or written.
fn user_io(what: &str, path: &Path, e: &std::io::Error) -> HostError {
    HostError::new(
        ErrorKind::InvalidInput,
        format!("{what} {}: {e}", path.display()),
    )
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
        .map_err(|e| user_io("cannot write", path, &e))?;
    if secret {
        // An existing file keeps its mode on open: make it private before writing.
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| user_io("cannot make private", path, &e))?;
    }
    f.write_all(bytes)
        .map_err(|e| user_io("cannot write", path, &e))?;
    // Only regular files are synced (an output may be /dev/null or a pipe).
    if f.metadata().is_ok_and(|m| m.is_file()) {
        f.sync_all()
            .map_err(|e| user_io("cannot write", path, &e))?;
    }
    Ok(())
}

/// A secret identity file: a comment line naming it, then the secret text. The name is 1 to
/// 64 characters without control characters.
pub fn identity_file_text(name: &str, id: &Identity) -> Result<String> {
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(HostError::new(
            ErrorKind::InvalidInput,
            "an identity name is 1 to 64 characters without control characters",
        ));
    }
    Ok(format!(
        "# dkm identity {name}: keep this file secret\n{}\n",
        id.to_secret_text().as_str()
    ))
}

/// Reads a secret identity file.
pub fn read_identity(path: &Path) -> Result<Identity> {
    let bytes = zeroize::Zeroizing::new(read_file(path)?);
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
        let read =
            crate::store::open_regular(&path, OpenOptions::new().read(true)).and_then(|mut f| {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut f, &mut text).map(|_| text)
            });
        match read {
            Ok(text) => Ok(Some(parse_pin_text(text.trim(), &path)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::io("cannot read", &path, &e)),
        }
    }

    /// Saves `pin` (replacing the previous one by rename) unless the saved one is newer:
    /// pins only move forward, also when processes race (a lock orders the savers).
    pub fn save(&self, pin: &Pin) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| HostError::io("cannot create", &self.dir, &e))?;
        let lock_path = self.dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| HostError::io("cannot open", &lock_path, &e))?;
        lock.lock()
            .map_err(|e| HostError::io("cannot lock", &lock_path, &e))?;
        if let Ok(Some(old)) = self.get(pin.ring) {
            let gov = |p: &Pin| p.governance.map_or(0, |g| g.version);
            let ks = |p: &Pin| p.key_state.map_or(0, |k| k.version);
            if gov(&old) > gov(pin) || ks(&old) > ks(pin) {
                return Ok(());
            }
        }
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

impl PinBook {
    fn name_path(&self, store: &str, name: &str) -> PathBuf {
        use sha2::{Digest, Sha256};
        let h = Sha256::new()
            .chain_update(b"dkm1/pin-book-name\0")
            .chain_update(store.as_bytes())
            .chain_update([0u8])
            .chain_update(name.as_bytes())
            .finalize();
        self.dir
            .join("names")
            .join(hex::encode(h.get(..16).unwrap_or_default()))
    }

    /// Checks that ring `name` of the store at `store` is the ring this host saw under that
    /// name before (a store writer could otherwise swap in another ring of the same name,
    /// which a first-use pin would trust); records it on first sight.
    pub fn check_name(&self, store: &str, name: &str, ring: RingId) -> Result<()> {
        let path = self.name_path(store, name);
        match fs::read_to_string(&path) {
            Ok(text) if text.trim() == ring.to_string() => Ok(()),
            Ok(_) => Err(HostError::new(
                ErrorKind::Tampered,
                format!(
                    "the ring named {name:?} in this store is not the ring this host pinned under that name (ring id {ring} differs): refusing a substituted ring"
                ),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = self.dir.join("names");
                fs::create_dir_all(&dir).map_err(|e| HostError::io("cannot create", &dir, &e))?;
                let tmp = dir.join(format!("tmp.{}", std::process::id()));
                write_file(&tmp, format!("{ring}\n").as_bytes(), false, false)?;
                fs::rename(&tmp, &path).map_err(|e| HostError::io("cannot write", &path, &e))
            }
            Err(e) => Err(HostError::io("cannot read", &path, &e)),
        }
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

/// Parses an RFC 3339 time (`Z` or a `±HH:MM` offset) into Unix seconds.
pub fn parse_time(text: &str) -> Result<u64> {
    let bad = || {
        HostError::new(
            ErrorKind::InvalidInput,
            format!("{text:?} is not an RFC 3339 time (like 2026-01-01T00:00:00Z)"),
        )
    };
    let t = text.trim();
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
