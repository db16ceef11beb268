//! One closed set of error kinds, shared by every surface of dkm.
//!
//! An [`Error`] carries a [`ErrorKind`] (stable, with a fixed numeric code that bindings expose)
//! and a fixed message that says what to do. Messages are `&'static str`: they can never
//! contain a plaintext, a context, a key or any other runtime value.

use core::fmt;

/// The kind of an error. Closed: bindings map every kind, and codes are never renumbered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ErrorKind {
    /// Bytes or text that do not follow the documented format (truncated, trailing bytes,
    /// non-canonical encoding, wrong length, a key that is not a valid point).
    Malformed = 1,
    /// A format version or algorithm suite this build does not know.
    Unsupported = 2,
    /// A length past a documented limit (plaintext, sealed secret, armor, node set).
    TooLarge = 3,
    /// A printed identity or secret whose checksum does not match: most likely a typo or a
    /// truncated copy.
    BadChecksum = 4,
    /// Authentication failed: a sealed secret, signature or wrapped key was modified, or was
    /// opened with the wrong key or context. Deliberately says nothing about which part.
    Tampered = 5,
    /// The key a sealed secret names is not derivable from the key material at hand.
    UnknownKey = 6,
    /// The key exists but its epoch was revoked.
    KeyRevoked = 7,
    /// The key was destroyed by an approved shredding instruction.
    KeyDestroyed = 8,
    /// A time outside the range a key schedule covers (before its start, after its last
    /// interval), or an interval or node position outside the tree.
    OutOfRange = 9,
    /// An argument that is well-formed but not acceptable (for example an empty range).
    InvalidInput = 10,
    /// The caller is not a member of the ring with the role the operation needs.
    NotAMember = 11,
    /// A grant used outside its validity window, or after it was revoked.
    GrantExpired = 12,
    /// An approval policy is not met: quorum short, a denial, a missing level.
    PolicyUnsatisfied = 13,
    /// A compare-and-swap lost a race with another writer: reload and retry.
    Conflict = 14,
    /// The store could not be reached or read.
    StoreUnavailable = 15,
    /// The ring's freshness deadline has passed: a key holder must run `maintain`.
    Stale = 16,
    /// A version lower than, or different from, what the pin has already seen.
    Rollback = 17,
    /// An internal invariant failed. Never expected; report it as a bug.
    Internal = 18,
}

impl ErrorKind {
    /// Every kind, in code order (for bindings and their exhaustiveness tests).
    pub const ALL: [ErrorKind; 18] = [
        ErrorKind::Malformed,
        ErrorKind::Unsupported,
        ErrorKind::TooLarge,
        ErrorKind::BadChecksum,
        ErrorKind::Tampered,
        ErrorKind::UnknownKey,
        ErrorKind::KeyRevoked,
        ErrorKind::KeyDestroyed,
        ErrorKind::OutOfRange,
        ErrorKind::InvalidInput,
        ErrorKind::NotAMember,
        ErrorKind::GrantExpired,
        ErrorKind::PolicyUnsatisfied,
        ErrorKind::Conflict,
        ErrorKind::StoreUnavailable,
        ErrorKind::Stale,
        ErrorKind::Rollback,
        ErrorKind::Internal,
    ];

    /// The stable numeric code of this kind.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The stable name of this kind, as bindings print it.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::Malformed => "Malformed",
            ErrorKind::Unsupported => "Unsupported",
            ErrorKind::TooLarge => "TooLarge",
            ErrorKind::BadChecksum => "BadChecksum",
            ErrorKind::Tampered => "Tampered",
            ErrorKind::UnknownKey => "UnknownKey",
            ErrorKind::KeyRevoked => "KeyRevoked",
            ErrorKind::KeyDestroyed => "KeyDestroyed",
            ErrorKind::OutOfRange => "OutOfRange",
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::NotAMember => "NotAMember",
            ErrorKind::GrantExpired => "GrantExpired",
            ErrorKind::PolicyUnsatisfied => "PolicyUnsatisfied",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::StoreUnavailable => "StoreUnavailable",
            ErrorKind::Stale => "Stale",
            ErrorKind::Rollback => "Rollback",
            ErrorKind::Internal => "Internal",
        }
    }

    /// The kind with this code, if any.
    pub fn from_code(code: u32) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.code() == code)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An error: a kind and a fixed message that says what went wrong and what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: &'static str,
}

impl Error {
    /// An error of `kind` with a fixed `message`.
    pub const fn new(kind: ErrorKind, message: &'static str) -> Self {
        Error { kind, message }
    }

    /// The kind, for matching.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message (never contains runtime data, so never a secret).
    pub const fn message(&self) -> &'static str {
        self.message
    }

    pub(crate) const fn malformed(message: &'static str) -> Self {
        Error::new(ErrorKind::Malformed, message)
    }

    pub(crate) const fn tampered() -> Self {
        Error::new(
            ErrorKind::Tampered,
            "authentication failed: the data was modified, or the key or context is not the one it was sealed with",
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// Result with a dkm [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_unique() {
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(k.code() as usize, i + 1);
            assert_eq!(ErrorKind::from_code(k.code()), Some(*k));
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(19), None);
    }
}
