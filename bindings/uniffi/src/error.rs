//! [`DkmError`]: what every verb fails with, one variant per error kind of the core; and
//! [`ForeignError`], what a foreign store reports.

use dkm_core::ErrorKind;
use dkm_host::HostError;

macro_rules! kinds {
    ($($kind:ident: $doc:literal),* $(,)?) => {
        /// A dkm operation failed: the variant is the error kind (`docs/SPEC.md` §9, stable
        /// codes from [`crate::error_code`]), the message says what went wrong and never
        /// carries a secret. Kotlin `DkmException.Tampered`, Swift `DkmError.Tampered`, Ruby
        /// `Dkm::DkmError::Tampered`.
        #[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
        #[uniffi(flat_error)]
        pub enum DkmError {
            $(
                #[doc = $doc]
                $kind(String),
            )*
        }

        impl DkmError {
            /// The error of `kind` with `message`.
            pub fn new(kind: ErrorKind, message: String) -> DkmError {
                match kind {
                    $(ErrorKind::$kind => DkmError::$kind(message),)*
                }
            }

            /// The error's kind.
            pub fn kind(&self) -> ErrorKind {
                match self {
                    $(DkmError::$kind(_) => ErrorKind::$kind,)*
                }
            }

            /// The error's message.
            pub fn message(&self) -> &str {
                match self {
                    $(DkmError::$kind(m) => m,)*
                }
            }
        }
    };
}

kinds!(
    Malformed: "Bytes or text that do not follow the documented format (truncated, trailing bytes, a wrong length).",
    Unsupported: "A format version or algorithm suite this build does not know.",
    TooLarge: "A length past a documented limit (plaintext, sealed secret, ring).",
    BadChecksum: "A printed identity whose checksum does not match: most likely a typo or a truncated copy.",
    Tampered: "Authentication failed: a sealed secret, signature or ring was modified, or opened with the wrong key or context.",
    UnknownKey: "The key a sealed secret names is not derivable from the key material at hand.",
    KeyRevoked: "The key exists but its epoch was revoked.",
    KeyDestroyed: "The key was destroyed by an approved shredding instruction.",
    OutOfRange: "A time outside the range a key schedule covers.",
    InvalidInput: "An argument that is well formed but not acceptable.",
    NotAMember: "The caller is not a member of the ring with the role the operation needs.",
    GrantExpired: "A grant used outside its validity window, or after it was revoked.",
    PolicyUnsatisfied: "An approval policy is not met: quorum short, a denial, a missing level.",
    Conflict: "A compare-and-swap lost a race with another writer (the host retries; this is left after its retries).",
    StoreUnavailable: "The store could not be reached or read (a foreign store's failure becomes this, its message included).",
    Stale: "The ring's freshness deadline has passed: a key holder must run maintain.",
    Rollback: "A version lower than, or different from, what the pin has already seen.",
    Internal: "An internal invariant failed. Never expected; report it as a bug.",
);

impl std::fmt::Display for DkmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for DkmError {}

impl From<HostError> for DkmError {
    fn from(e: HostError) -> DkmError {
        DkmError::new(e.kind(), e.message().to_owned())
    }
}

impl From<dkm_core::Error> for DkmError {
    fn from(e: dkm_core::Error) -> DkmError {
        HostError::from(e).into()
    }
}

/// An `InvalidInput` error.
pub(crate) fn invalid(message: impl Into<String>) -> DkmError {
    DkmError::InvalidInput(message.into())
}

/// What a [`crate::ForeignStore`] method reports when it fails. Kotlin
/// `ForeignException.Conflict(reason)`, Swift `ForeignError.Conflict(reason:)`, Ruby
/// `Dkm::ForeignError::Conflict.new(reason)`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Error)]
pub enum ForeignError {
    /// `commit` only: an expectation did not hold (another writer was first) and nothing was
    /// written. The host reloads and retries.
    Conflict {
        /// What happened.
        reason: String,
    },
    /// The storage could not be reached or read, or refused the write.
    Unavailable {
        /// What happened.
        reason: String,
    },
}

impl std::fmt::Display for ForeignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForeignError::Conflict { reason } => write!(f, "conflict: {reason}"),
            ForeignError::Unavailable { reason } => write!(f, "unavailable: {reason}"),
        }
    }
}

impl std::error::Error for ForeignError {}

/// An exception of another type thrown by a foreign store's method (a bug of that store, or
/// a failure of its storage client): the store is unavailable.
impl From<uniffi::UnexpectedUniFFICallbackError> for ForeignError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> ForeignError {
        ForeignError::Unavailable {
            reason: format!("the store threw an unexpected exception: {}", e.reason),
        }
    }
}
