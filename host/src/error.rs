//! Host errors: a core [`ErrorKind`] and a message that may name a path or a value the user
//! gave (never a secret).

use std::fmt;

use dkm_core::ErrorKind;

/// An error of the host layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostError {
    kind: ErrorKind,
    message: String,
}

impl HostError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> HostError {
        HostError {
            kind,
            message: message.into(),
        }
    }

    /// The store could not be read or written.
    pub fn io(what: &str, path: &std::path::Path, e: &std::io::Error) -> HostError {
        HostError::new(
            ErrorKind::StoreUnavailable,
            format!("{what} {}: {e}", path.display()),
        )
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<dkm_core::Error> for HostError {
    fn from(e: dkm_core::Error) -> HostError {
        HostError::new(e.kind(), e.message())
    }
}

impl From<dkm_core::audit::AuditProblem> for HostError {
    fn from(p: dkm_core::audit::AuditProblem) -> HostError {
        HostError::new(ErrorKind::Tampered, p.to_string())
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for HostError {}

/// Result of the host layer.
pub type Result<T, E = HostError> = std::result::Result<T, E>;
