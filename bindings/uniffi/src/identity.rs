//! Identities, public identities, pin books and a ring's public part.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use dkm_core::ring::Pin;
use dkm_host::{HostError, files, text};

use crate::error::DkmError;
use crate::host::{unix, unix_now};

/// A secret identity: what a key holder, admin, approver or requester acts as. Keep it
/// secret; its memory is wiped when the object is dropped (the text of `to_text` is a string
/// of the foreign language, which dkm cannot wipe: prefer `save`).
#[derive(uniffi::Object)]
pub struct Identity {
    pub(crate) inner: dkm_core::Identity,
}

#[uniffi::export]
impl Identity {
    /// A new identity from the operating system's randomness.
    #[uniffi::constructor]
    pub fn generate() -> Result<Arc<Identity>, DkmError> {
        Ok(Arc::new(Identity {
            inner: files::generate_identity()?,
        }))
    }

    /// The identity in `text`: the text of an identity file (comment lines and one secret
    /// identity `dkmsec1...`). A public identity in its place is `InvalidInput`; anything else
    /// that is not exactly one secret identity is `Malformed`.
    #[uniffi::constructor]
    pub fn from_text(text: String) -> Result<Arc<Identity>, DkmError> {
        let bytes = zeroize::Zeroizing::new(text.into_bytes());
        Ok(Arc::new(Identity {
            inner: text::identity_from_file_text(&bytes, "the identity text")?,
        }))
    }

    /// Reads an identity file (as the `dkm` command writes it). Refused when group or others
    /// may write the file.
    #[uniffi::constructor]
    pub fn load(path: String) -> Result<Arc<Identity>, DkmError> {
        Ok(Arc::new(Identity {
            inner: files::read_identity(Path::new(&path))?.identity,
        }))
    }

    /// Writes this identity to a new file at `path` (mode 0600; an existing file is never
    /// replaced), with `name` in its comment line (1 to 64 characters).
    pub fn save(&self, path: String, name: String) -> Result<(), DkmError> {
        Ok(files::write_identity(Path::new(&path), &name, &self.inner)?)
    }

    /// The text of an identity file for this identity, named `name`: a secret.
    pub fn to_text(&self, name: String) -> Result<String, DkmError> {
        Ok(text::identity_file_text(&name, &self.inner)?
            .as_str()
            .to_owned())
    }

    /// The public identity (what an admin adds to a ring). Not `public`: a keyword in Java
    /// and Swift.
    pub fn public_identity(&self) -> Arc<PublicIdentity> {
        Arc::new(PublicIdentity {
            inner: self.inner.public().clone(),
        })
    }

    /// The identity's id (hex of its public keys' hash).
    pub fn id(&self) -> String {
        self.inner.id().to_string()
    }
}

/// A public identity (`dkmpub1...`): whom a ring names as a member or approver.
#[derive(uniffi::Object, PartialEq, Eq)]
#[uniffi::export(Display, Eq, Hash)]
pub struct PublicIdentity {
    pub(crate) inner: dkm_core::PublicIdentity,
}

#[uniffi::export]
impl PublicIdentity {
    /// The public identity in `text` (`dkmpub1...`, surrounding whitespace allowed).
    #[uniffi::constructor]
    pub fn from_text(text: String) -> Result<Arc<PublicIdentity>, DkmError> {
        Ok(Arc::new(PublicIdentity {
            inner: text::parse_public_identity(&text)?,
        }))
    }

    /// Its text (`dkmpub1...`).
    pub fn to_text(&self) -> String {
        self.inner.to_text()
    }

    /// Its id (hex).
    pub fn id(&self) -> String {
        self.inner.id().to_string()
    }
}

impl std::hash::Hash for PublicIdentity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.id().to_string().hash(state);
    }
}

impl std::fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicIdentity({})", self.inner.id())
    }
}

impl std::fmt::Display for PublicIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.inner.to_text())
    }
}

/// Where a host keeps the rings' pins (what it trusts of each ring it has seen: first-use
/// admins, then versions and hashes, so a rolled-back or swapped ring is refused).
#[derive(uniffi::Object)]
pub struct Pins {
    pub(crate) kind: PinsKind,
}

pub(crate) enum PinsKind {
    /// A pin directory (the `dkm` command's pin book is `$DKM_HOME/pins`).
    Directory(std::path::PathBuf),
    /// Pins kept in memory.
    Memory(Arc<dkm_host::MemoryPins>),
}

#[uniffi::export]
impl Pins {
    /// The `dkm` command's pin book: `$DKM_HOME/pins` (`~/.dkm/pins` by default).
    #[uniffi::constructor]
    pub fn home() -> Arc<Pins> {
        Pins::directory(
            files::dkm_home()
                .join("pins")
                .to_string_lossy()
                .into_owned(),
        )
    }

    /// A pin book in directory `path` (created on first use).
    #[uniffi::constructor]
    pub fn directory(path: String) -> Arc<Pins> {
        Arc::new(Pins {
            kind: PinsKind::Directory(path.into()),
        })
    }

    /// A pin book kept in memory (tests, and services that keep no pin files): pins last as
    /// long as the object. Give it to several hosts to share it.
    #[uniffi::constructor]
    pub fn memory() -> Arc<Pins> {
        Arc::new(Pins {
            kind: PinsKind::Memory(Arc::new(dkm_host::MemoryPins::new())),
        })
    }

    /// The pins a memory pin book holds, as hex text (what `RingPublic(part, pin)` takes);
    /// empty for a directory.
    pub fn pins(&self) -> Vec<String> {
        match &self.kind {
            PinsKind::Memory(m) => m.pins().iter().map(|p| hex::encode(p.to_bytes())).collect(),
            PinsKind::Directory(_) => Vec::new(),
        }
    }
}

/// A pin as `dkm ring pin` prints it (hex).
pub(crate) fn pin_arg(pin: &str) -> Result<Pin, DkmError> {
    Ok(text::parse_pin_text(pin, Path::new("the pin"))?)
}

/// A ring's public part, verified: what a browser, partner or any seal-only party needs to
/// seal secrets to a ring without being able to read them back (`Host.export_public` makes
/// the bytes).
#[derive(uniffi::Object)]
pub struct RingPublic {
    inner: dkm_core::RingPublic,
}

#[uniffi::export]
impl RingPublic {
    /// Loads a ring's public part, verified through `pin` when given (hex, as `dkm ring pin`
    /// prints it), else through the pin the part carries (which trusts whoever made it).
    #[uniffi::constructor(default(pin = None))]
    pub fn new(part: Vec<u8>, pin: Option<String>) -> Result<Arc<RingPublic>, DkmError> {
        let pin = pin.as_deref().map(pin_arg).transpose()?;
        Ok(Arc::new(RingPublic {
            inner: dkm_host::load_public(&part, pin.as_ref())?,
        }))
    }

    /// Seals `plaintext` under `context` to the ring (seal-only: only key holders can open
    /// it, and their unseal reports its origin as `SealOnly`), at `now` (the system clock when
    /// absent). `Stale` when the ring's published keys do not cover the time.
    #[uniffi::method(default(now = None))]
    pub fn seal(
        &self,
        plaintext: Vec<u8>,
        context: Vec<u8>,
        now: Option<SystemTime>,
    ) -> Result<Vec<u8>, DkmError> {
        let pt = zeroize::Zeroizing::new(plaintext);
        let now = match now {
            Some(t) => unix(t, "now")?,
            None => unix_now()?,
        };
        let mut rng = dkm_core::rng::SystemRng::new().map_err(HostError::from)?;
        Ok(self.inner.seal(now, &pt, &context, &mut rng)?)
    }

    /// `seal`, as the text armor (`dkm1:...`).
    #[uniffi::method(default(now = None))]
    pub fn seal_armored(
        &self,
        plaintext: Vec<u8>,
        context: Vec<u8>,
        now: Option<SystemTime>,
    ) -> Result<String, DkmError> {
        Ok(dkm_core::armor(&self.seal(plaintext, context, now)?))
    }

    /// The ring's name.
    pub fn name(&self) -> String {
        self.inner.ring().governance().name.clone()
    }

    /// The ring's id (hex).
    pub fn ring_id(&self) -> String {
        self.inner.ring().id().to_string()
    }
}
