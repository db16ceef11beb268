//! Files a host keeps (the `file-store` feature, Unix): secret identity files with their
//! permissions, the pin book, pin and grant files, outputs. The text forms they hold are in
//! [`crate::text`], re-exported here.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use dkm_core::{ErrorKind, Identity, Pin, RingId};

use crate::error::{HostError, Result};
use crate::input::Input;
use crate::pins::PinStore;
use crate::text::secret_given;
pub use crate::text::*;

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

/// Where a host keeps its files (the pin book is its `pins` directory): `$DKM_HOME`, else
/// `$HOME/.config/dkm`, else `./.config/dkm`.
pub fn dkm_home() -> PathBuf {
    if let Some(h) = std::env::var_os("DKM_HOME") {
        return PathBuf::from(h);
    }
    let base = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    base.join(".config").join("dkm")
}

/// Checks that a file can be written at `path` (creating it empty if it is missing, never
/// truncating it): for outputs that must not be lost after an irreversible step.
pub fn check_writable(path: &Path) -> Result<()> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map(drop)
        .map_err(|e| user_io("cannot write", path, &e))
}

/// A new identity from the operating system's randomness.
#[cfg(feature = "system-rng")]
pub fn generate_identity() -> Result<Identity> {
    let mut rng = dkm_core::rng::SystemRng::new()?;
    Ok(Identity::generate(&mut rng))
}

/// Writes `identity` to a new identity file at `path` named `name` (mode 0600; an existing
/// file is never replaced).
pub fn write_identity(path: &Path, name: &str, identity: &Identity) -> Result<()> {
    let text = identity_file_text(name, identity)?;
    write_file(path, text.as_bytes(), true, true)
}

/// A secret identity read from a file, with a warning about the file's permissions when
/// group or others can read it (show it to the user, as ssh does).
pub struct IdentityFile {
    /// The identity.
    pub identity: Identity,
    /// What is wrong with the file's permissions (readable by group or others), with the fix.
    pub warning: Option<String>,
}

/// Reads a secret identity file: refused when group or others may write it (they could swap
/// in an identity of their own), a warning when they may read it. At most 4 KiB, read with
/// that bound from a regular file, a FIFO or a device alike.
pub fn read_identity(path: &Path) -> Result<IdentityFile> {
    let shown = path.to_string_lossy();
    if crate::error::looks_secret(&shown) {
        return Err(secret_given(
            "the path of an identity file (the secret text belongs in the file)",
        ));
    }
    let shown = path.display().to_string();
    let mut f = fs::File::open(path).map_err(|e| user_io("cannot read", path, &e))?;
    let meta = f.metadata().map_err(|e| user_io("cannot read", path, &e))?;
    let mut warning = None;
    if meta.is_file() {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(HostError::new(
                ErrorKind::InvalidInput,
                format!(
                    "{shown} is writable by group or others (mode {mode:03o}): anyone who can write it can swap in an identity of their own; fix it with `chmod 600 {shown}`"
                ),
            ));
        }
        if mode & 0o044 != 0 {
            warning = Some(format!(
                "{shown} is readable by group or others (mode {mode:03o}): anyone who can read it holds this identity; fix it with `chmod 600 {shown}`"
            ));
        }
    }
    let bytes = crate::input::read_all(&mut f, Input::Identity, &shown)?;
    let identity = identity_from_file_text(&bytes, &shown)?;
    Ok(IdentityFile { identity, warning })
}

/// Reads a pin file (the pin in hex, at most 32,988 bytes).
pub fn read_pin_file(path: &Path) -> Result<Pin> {
    let bytes = crate::input::read_path(path, Input::Pin)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        HostError::new(
            ErrorKind::Malformed,
            format!("{} is not a pin file", path.display()),
        )
    })?;
    parse_pin_text(text, path)
}

/// A grant named on the command line: its id (32 hex digits), or the path of a grant file.
pub fn grant_id_arg(value: &str) -> Result<dkm_core::GrantId> {
    let p = Path::new(value);
    // A path that exists is a grant file (a FIFO or a device too: read with the bound).
    if p.exists() {
        let g = dkm_core::SignedGrant::parse(&crate::input::read_path(p, Input::Grant)?)?;
        Ok(g.grant().id)
    } else {
        dkm_core::GrantId::from_hex(value).map_err(|_| {
            HostError::new(
                ErrorKind::InvalidInput,
                "that is not a grant id (32 hex digits) or a grant file",
            )
        })
    }
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
        let read = crate::file_store::open_regular(&path, OpenOptions::new().read(true)).and_then(
            |mut f| {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut f, &mut text).map(|_| text)
            },
        );
        match read {
            Ok(text) => Ok(Some(parse_pin_text(text.trim(), &path)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::io("cannot read", &path, &e)),
        }
    }

    /// Saves `pin` (replacing the previous one by rename) unless the saved one is newer:
    /// pins only move forward, also when processes race (a lock orders the savers).
    pub fn save(&self, pin: &Pin) -> Result<()> {
        let _lock = self.lock()?;
        if let Ok(Some(old)) = self.get(pin.ring)
            && crate::pins::is_newer(&old, pin)
        {
            return Ok(());
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
            Ok(_) => Err(crate::pins::substituted(name, ring)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // First sight: record it under the pin book's lock, reading again under it, so
                // two threads or processes seeing the name at once never record two rings.
                let _lock = self.lock()?;
                match fs::read_to_string(&path) {
                    Ok(_) => return self.check_name(store, name, ring),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(HostError::io("cannot read", &path, &e)),
                }
                let dir = self.dir.join("names");
                fs::create_dir_all(&dir).map_err(|e| HostError::io("cannot create", &dir, &e))?;
                let tmp = dir.join(format!("tmp.{}", std::process::id()));
                write_file(&tmp, format!("{ring}\n").as_bytes(), false, false)?;
                fs::rename(&tmp, &path).map_err(|e| HostError::io("cannot write", &path, &e))
            }
            Err(e) => Err(HostError::io("cannot read", &path, &e)),
        }
    }

    /// The pin book's lock (`<dir>/.lock`): orders every write of pins and name records,
    /// between threads (each holds its own open file) and processes alike.
    fn lock(&self) -> Result<fs::File> {
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
        Ok(lock)
    }
}

impl PinBook {
    /// Forgets that ring `name` of the store at `store` held `ring` (after the ring moved to
    /// another name), so the name can hold a new ring; a record of another ring stays.
    pub fn forget_name(&self, store: &str, name: &str, ring: RingId) -> Result<()> {
        let _lock = self.lock()?;
        let path = self.name_path(store, name);
        match fs::read_to_string(&path) {
            Ok(text) if text.trim() == ring.to_string() => {
                fs::remove_file(&path).map_err(|e| HostError::io("cannot remove", &path, &e))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(HostError::io("cannot read", &path, &e)),
        }
    }
}

impl PinStore for PinBook {
    fn get(&self, ring: RingId) -> Result<Option<Pin>> {
        PinBook::get(self, ring)
    }
    fn save(&self, pin: &Pin) -> Result<()> {
        PinBook::save(self, pin)
    }
    fn check_name(&self, store: &str, name: &str, ring: RingId) -> Result<()> {
        PinBook::check_name(self, store, name, ring)
    }
    fn forget_name(&self, store: &str, name: &str, ring: RingId) -> Result<()> {
        PinBook::forget_name(self, store, name, ring)
    }
    fn held(&self, store: &str, name: &str) -> Result<Option<RingId>> {
        let path = self.name_path(store, name);
        match fs::read_to_string(&path) {
            Ok(text) => hex::decode(text.trim())
                .ok()
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(|b| Some(RingId(b)))
                .ok_or_else(|| {
                    HostError::new(
                        ErrorKind::Malformed,
                        format!("{} is not a ring id", path.display()),
                    )
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HostError::io("cannot read", &path, &e)),
        }
    }
}
